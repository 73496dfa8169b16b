//! Runs every recorded Python vector (tests/vectors/*.json) against the library.
//!
//! A vector passes when our output equals Python's, or differs exactly as a named fix predicts
//! (turning the fix off reproduces Python), or, for a Python crash, when we report a typed error
//! or drop just the offending data. Every vector that is not a plain match is listed in
//! `fixed_expectations.json` with its fix id, the reason, and our own expected output.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

use parca_broker::conformance::{self, Vector, Verdict};
use parca_broker::fixes::FixSet;
use parca_broker::pyjson;
use serde_json::Value;
use std::collections::BTreeSet;

/// Vectors whose recorder says the Python output is random (unit order, duplicate survivor).
fn is_random(vector: &Vector) -> bool {
    vector
        .note
        .as_deref()
        .is_some_and(|n| n.to_lowercase().contains("not deterministic"))
}

fn vectors() -> Vec<Vector> {
    parca_broker::cli::BUNDLED_VECTORS
        .iter()
        .flat_map(|(_, text)| conformance::parse_file(text).unwrap())
        .collect()
}

fn expectations() -> serde_json::Map<String, Value> {
    let text = include_str!("vectors/fixed_expectations.json");
    serde_json::from_str(text).unwrap()
}

#[test]
fn all_107_vectors_are_run_and_none_fails() {
    let vectors = vectors();
    assert_eq!(vectors.len(), 107, "79 scrape + 28 store vectors");
    let names: BTreeSet<_> = vectors.iter().map(|v| v.name.clone()).collect();
    assert_eq!(names.len(), vectors.len(), "vector names are unique");
    let failures: Vec<String> = vectors
        .iter()
        .map(|v| conformance::run(v).unwrap())
        .filter_map(|r| match r.verdict {
            Verdict::Fail(diff) => Some(format!("{}: {diff}", r.name)),
            _ => None,
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_difference_from_python_is_marked_with_its_fix_and_our_output() {
    let expected = expectations();
    let mut unmarked = Vec::new();
    for vector in vectors() {
        let result = conformance::run(&vector).unwrap();
        let crash =
            vector.output.get("error").is_some() || vector.output.get("config_error").is_some();
        let plain_match =
            result.verdict == Verdict::Pass && !crash && result.ours.reports.is_empty();
        let Some(mark) = expected.get(&vector.name) else {
            if !plain_match {
                unmarked.push(vector.name.clone());
            }
            continue;
        };
        assert_eq!(
            mark["verdict"],
            result.verdict.to_string(),
            "{}",
            vector.name
        );
        if let Verdict::Fixed(fixes) = &result.verdict {
            let ids: Vec<String> = fixes.iter().map(ToString::to_string).collect();
            assert_eq!(mark["fix"], ids.join(","), "{}: fix id", vector.name);
        }
        assert_eq!(
            pyjson::dumps(&mark["output"]),
            pyjson::dumps(&result.ours.output),
            "{}: our output",
            vector.name
        );
        let reports: Vec<String> = serde_json::from_value(mark["reports"].clone()).unwrap();
        assert_eq!(reports, result.ours.reports, "{}: reports", vector.name);
        assert!(!mark["why"].as_str().unwrap().is_empty());
    }
    assert!(
        unmarked.is_empty(),
        "differences without a mark: {unmarked:?}"
    );
}

#[test]
fn with_every_fix_off_we_reproduce_each_non_crash_python_output() {
    for vector in vectors() {
        let crash =
            vector.output.get("error").is_some() || vector.output.get("config_error").is_some();
        if crash {
            continue;
        }
        let python = conformance::evaluate(&vector.name, &vector.input, FixSet::NONE).unwrap();
        let unordered = is_random(&vector);
        for (key, want) in vector.output.as_object().unwrap() {
            if key.starts_with("parca_") || unordered {
                continue; // charm-level fields; random unit order is covered by the multiset check
            }
            let got = &python.output[key];
            if key == "relations" || key == "app_data" {
                // Databags are unordered maps: compare as such.
                assert_eq!(want, got, "{}: {key}", vector.name);
            } else {
                assert_eq!(
                    pyjson::dumps(want),
                    pyjson::dumps(got),
                    "{}: {key}",
                    vector.name
                );
            }
        }
    }
}

#[test]
fn per_unit_entries_come_out_in_unit_number_order_f1() {
    let mut multi_unit_jobs = 0;
    for vector in vectors() {
        if !is_random(&vector) {
            continue;
        }
        let ours = conformance::evaluate(&vector.name, &vector.input, FixSet::ALL).unwrap();
        for job in ours.output["jobs"].as_array().unwrap() {
            let units: Vec<&str> = job["static_configs"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|sc| sc["labels"]["juju_unit"].as_str())
                .collect();
            let mut sorted = units.clone();
            sorted.sort_by_key(|u| parca_broker::model::unit_number(u));
            assert_eq!(units, sorted, "{}", vector.name);
            multi_unit_jobs += usize::from(units.len() >= 2);
        }
    }
    assert!(
        multi_unit_jobs >= 2,
        "the random-order vectors include multi-unit jobs"
    );
}

#[test]
fn one_bad_relation_does_not_hide_the_good_one_f6() {
    let vector = vectors()
        .into_iter()
        .find(|v| v.name == "x_one_bad_relation_breaks_all")
        .unwrap();
    let ours = conformance::evaluate(&vector.name, &vector.input, FixSet::ALL).unwrap();
    let jobs = ours.output["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0]["job_name"], "prov-model_3cdca972_good");
    assert_eq!(ours.reports.len(), 1);
    assert!(
        ours.reports[0].starts_with("profiling-endpoint:101 (app bad): scrape_jobs: invalid JSON")
    );
}
