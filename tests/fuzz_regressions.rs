//! Issue 11, fuzzing: every input saved under `fuzz/regressions/<target>/` (the crashes the
//! fuzzers found, kept after the fix) and the seed corpora built from the recorded vectors run
//! through the same checks as the fuzz targets (`src/fuzzing.rs`), on the stable toolchain.
//!
//! `PARCA_BROKER_WRITE_SEEDS=<dir> cargo test --test fuzz_regressions` also writes the seed
//! corpora to `<dir>/<target>/` (scripts/fuzz does this before fuzzing).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

use parca_broker::fuzzing::{FIELD_SEPARATOR, TARGETS, run};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

fn join(fields: &[&str]) -> Vec<u8> {
    fields
        .join(&char::from(FIELD_SEPARATOR).to_string())
        .into_bytes()
}

fn vectors(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Seed inputs per target, from the recorded vectors.
fn seeds() -> BTreeMap<&'static str, Vec<Vec<u8>>> {
    let mut seeds: BTreeMap<&'static str, Vec<Vec<u8>>> = BTreeMap::new();
    for vector in vectors("scrape_vectors.json").as_array().unwrap() {
        let mut relations = Vec::new();
        if let Some(list) = vector["input"]["relations"].as_array() {
            relations.extend(
                list.iter()
                    .map(|r| (r["app_data"].clone(), r["units"].clone())),
            );
        }
        if let Some(list) = vector["output"]["relations"].as_array() {
            relations.extend(list.iter().map(|r| (r["app_data"].clone(), Value::Null)));
        }
        for (app, units) in relations {
            let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
            let mut fields = vec![text(&app["scrape_jobs"]), text(&app["scrape_metadata"])];
            for unit in units.as_object().into_iter().flat_map(|u| u.values()) {
                fields.push(text(&unit["parca_scrape_unit_address"]));
                fields.push(text(&unit["parca_scrape_unit_name"]));
                seeds
                    .entry("host_port")
                    .or_default()
                    .push(format!("{}:80", text(&unit["parca_scrape_unit_address"])).into_bytes());
            }
            let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
            seeds.entry("consumer").or_default().push(join(&refs));
        }
    }
    for vector in vectors("store_vectors.json").as_array().unwrap() {
        let bags: Vec<Value> = match vector["input"]["relations"].as_array() {
            Some(list) => list.clone(),
            None => vec![vector["output"]["app_data"].clone()],
        };
        for bag in bags {
            let text = |key: &str| bag[key].as_str().unwrap_or_default().to_owned();
            let (address, token, insecure) = (
                text("remote-store-address"),
                text("remote-store-bearer-token"),
                text("remote-store-insecure"),
            );
            seeds
                .entry("store")
                .or_default()
                .push(join(&[&address, &token, &insecure]));
            seeds
                .entry("host_port")
                .or_default()
                .push(address.into_bytes());
        }
    }
    for vector in vectors("parca_configs.json")["vectors"].as_array().unwrap() {
        // JSON is YAML (flow style): the validator reads these as they are.
        let config = serde_json::to_string_pretty(&vector["config"]).unwrap();
        seeds.entry("config").or_default().push(config.into_bytes());
        for job in vector["config"]["scrape_configs"]
            .as_array()
            .into_iter()
            .flatten()
        {
            for key in ["scrape_interval", "scrape_timeout"] {
                if let Some(text) = job[key].as_str() {
                    seeds
                        .entry("duration")
                        .or_default()
                        .push(text.as_bytes().to_vec());
                }
            }
        }
    }
    for duration in [
        "15s",
        "1h30m",
        "0s",
        "-1s",
        "1y2w3d4h5m6s7ms",
        "9223372036854775807ms",
    ] {
        seeds
            .entry("duration")
            .or_default()
            .push(duration.as_bytes().to_vec());
    }
    for env in [
        "JUJU_UNIT_NAME=parca-broker/0\nJUJU_DISPATCH_PATH=hooks/install\nJUJU_MODEL_NAME=m\nJUJU_MODEL_UUID=8d5d1f3b-3d4a-4c8e-9a52-6b1f2e7c9d10\nJUJU_CHARM_DIR=/charm",
        "JUJU_UNIT_NAME=parca-broker/0\nJUJU_DISPATCH_PATH=hooks/profiling-endpoint-relation-changed\nJUJU_RELATION=profiling-endpoint\nJUJU_RELATION_ID=profiling-endpoint:4\nJUJU_REMOTE_UNIT=zinc/0\nJUJU_REMOTE_APP=zinc\nJUJU_MODEL_NAME=m\nJUJU_MODEL_UUID=8d5d1f3b-3d4a-4c8e-9a52-6b1f2e7c9d10\nJUJU_CHARM_DIR=/charm",
        "JUJU_UNIT_NAME=parca-broker/0\nJUJU_DISPATCH_PATH=actions/show-config\nJUJU_ACTION_NAME=show-config\nJUJU_MODEL_NAME=m\nJUJU_MODEL_UUID=8d5d1f3b-3d4a-4c8e-9a52-6b1f2e7c9d10\nJUJU_CHARM_DIR=/charm",
    ] {
        seeds
            .entry("hook_env")
            .or_default()
            .push(env.as_bytes().to_vec());
    }
    seeds
}

#[test]
fn seed_corpora_pass_every_check_and_are_written_on_request() {
    let seeds = seeds();
    for target in TARGETS {
        let inputs = seeds.get(target).map(Vec::as_slice).unwrap_or_default();
        assert!(inputs.len() >= 3, "{target}: {} seeds", inputs.len());
        for input in inputs {
            run(target, input);
        }
    }
    if let Some(dir) = std::env::var_os("PARCA_BROKER_WRITE_SEEDS") {
        for (target, inputs) in &seeds {
            let dir = PathBuf::from(&dir).join(target);
            std::fs::create_dir_all(&dir).unwrap();
            for (n, input) in inputs.iter().enumerate() {
                std::fs::write(dir.join(format!("seed-{n:04}")), input).unwrap();
            }
        }
    }
}

#[test]
fn saved_fuzz_findings_stay_fixed() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let mut replayed = 0;
    for target in TARGETS {
        let dir = root.join(target);
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "md") {
                continue;
            }
            let input = std::fs::read(&path).unwrap();
            let outcome = std::panic::catch_unwind(|| run(target, &input));
            assert!(outcome.is_ok(), "{target}: {} fails again", path.display());
            replayed += 1;
        }
    }
    // The directory exists and is read (an empty set is allowed: it lists what was found).
    assert!(root.is_dir(), "{} is missing", root.display());
    eprintln!("replayed {replayed} saved fuzz inputs");
}
