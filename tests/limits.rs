//! Issue 11, item 4: bounds on what one provider can make the broker render
//! (`src/model/limits.rs`). Over a bound, that relation, unit or job is dropped with a report
//! naming relation, app and key; the others render; what the charm writes loads in
//! `check-config`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

mod common;

use parca_broker::fixes::FixSet;
use parca_broker::interfaces::parca_scrape::render_jobs;
use parca_broker::model::limits;
use parca_broker::model::{RejectionKind, RelationId, RelationSnapshot};
use serde_json::{Value, json};

fn relation(id: u64, app: &str, jobs: &Value, units: usize) -> RelationSnapshot {
    RelationSnapshot {
        id: RelationId::new("profiling-endpoint", id),
        remote_app: app.into(),
        app: common::provider_app_bag(app, jobs),
        units: (0..units)
            .map(|n| {
                (
                    format!("{app}/{n}"),
                    common::bag(&[
                        (
                            "parca_scrape_unit_address",
                            &format!("10.1.{}.{}", n / 250, n % 250 + 1),
                        ),
                        ("parca_scrape_unit_name", &format!("{app}/{n}")),
                    ]),
                )
            })
            .collect(),
    }
}

fn good() -> RelationSnapshot {
    relation(
        1,
        "good",
        &json!([{"static_configs": [{"targets": ["*:6060"]}]}]),
        2,
    )
}

#[test]
fn each_bound_drops_only_what_is_over_it_and_says_so() {
    // Too many jobs: the first 100 render, one report for the rest.
    let many: Vec<Value> = (0..150)
        .map(|i| json!({"job_name": format!("j{i}"), "static_configs": [{"targets": [format!("*:{}", 7000 + i)]}]}))
        .collect();
    // A label value of 5 KiB: that job only.
    let fat_label = json!([
        {"job_name": "fat", "static_configs": [{"targets": ["*:1"], "labels": {"note": "x".repeat(5 * 1024)}}]},
        {"job_name": "thin", "static_configs": [{"targets": ["*:2"]}]}
    ]);
    // 10,001 fixed targets in one job.
    let targets: Vec<String> = (0..10_001)
        .map(|i| format!("10.9.{}.{}:80", i / 250, i % 250 + 1))
        .collect();
    let wide = json!([{"job_name": "wide", "static_configs": [{"targets": targets}]}]);
    // A 600 KiB app bag.
    let mut huge = relation(
        6,
        "huge",
        &json!([{"static_configs": [{"targets": ["*:3"]}]}]),
        1,
    );
    huge.app.insert("padding".into(), "p".repeat(600 * 1024));
    // A unit whose bag is 20 KiB.
    let mut fat_unit = relation(
        7,
        "fatunit",
        &json!([{"static_configs": [{"targets": ["*:4"]}]}]),
        2,
    );
    fat_unit
        .units
        .get_mut("fatunit/1")
        .unwrap()
        .insert("padding".into(), "u".repeat(20 * 1024));
    let relations = vec![
        good(),
        relation(2, "many", &Value::Array(many), 1),
        relation(3, "fatlabel", &fat_label, 1),
        relation(4, "wide", &wide, 1),
        huge,
        fat_unit,
    ];
    let out = render_jobs(&relations, FixSet::ALL);
    let over: Vec<String> = out
        .rejections
        .iter()
        .filter(|r| r.kind == RejectionKind::OverLimit)
        .map(ToString::to_string)
        .collect();
    assert_eq!(over.len(), 5, "{over:#?}");
    let has = |needle: &str| over.iter().any(|m| m.contains(needle));
    assert!(
        has(
            "profiling-endpoint:2 (app many): scrape_jobs[100..150]: 150 jobs, over the limit of 100"
        ),
        "{over:#?}"
    );
    assert!(
        has(
            "profiling-endpoint:3 (app fatlabel, job fat): scrape_jobs[0].static_configs[0].labels: label \"note\": 5120 bytes"
        ),
        "{over:#?}"
    );
    assert!(
        has(
            "profiling-endpoint:4 (app wide, job wide): scrape_jobs[0]: 10001 targets, over the limit of 10000 per job"
        ),
        "{over:#?}"
    );
    assert!(
        has("profiling-endpoint:6 (app huge): app databag: "),
        "{over:#?}"
    );
    assert!(
        has("profiling-endpoint:7 (app fatunit, unit fatunit/1): unit databag: "),
        "{over:#?}"
    );

    let count = |app: &str| out.jobs.iter().filter(|j| j.app == app).count();
    assert_eq!(count("good"), 1);
    assert_eq!(count("many"), limits::MAX_JOBS_PER_RELATION);
    assert_eq!(count("fatlabel"), 1, "thin stays");
    assert_eq!(count("wide"), 0);
    assert_eq!(count("huge"), 0);
    let fat_unit_targets: Vec<_> = out
        .jobs
        .iter()
        .filter(|j| j.app == "fatunit")
        .flat_map(|j| j.targets().map(|(t, _)| t.to_owned()).collect::<Vec<_>>())
        .collect();
    assert_eq!(fat_unit_targets, ["10.1.0.1:4"], "fatunit/0 only");
}

#[test]
fn the_ten_thousand_job_provider_renders_a_file_check_config_loads() {
    // The case: 10,000 jobs made a 7.9 MB parca.yaml our own validator refused.
    let jobs: Vec<Value> = (0..10_000)
        .map(|i| json!({"job_name": format!("j{i}"), "static_configs": [{"targets": [format!("*:{}", 1024 + i % 60_000)]}]}))
        .collect();
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("limits-10k");
    let _ = std::fs::remove_dir_all(&dir);
    let mut m = common::charm_model(&dir);
    m.in_process(true);
    let config = json!({"store-address": "store.example:7070"})
        .as_object()
        .unwrap()
        .clone();
    m.deploy_charm("parca-broker", 1, config).unwrap();
    m.add_remote_app("flood", 3).unwrap();
    let id = m
        .relate(
            "parca-broker",
            "profiling-endpoint",
            "flood",
            "profiling-endpoint",
        )
        .unwrap();
    m.set_app_data(
        id,
        "flood",
        common::provider_app_bag("flood", &Value::Array(jobs)),
    )
    .unwrap();
    for n in 0..3 {
        let unit = format!("flood/{n}");
        m.set_unit_data(
            id,
            &unit,
            common::bag(&[
                ("parca_scrape_unit_address", &format!("10.2.0.{}", n + 1)),
                ("parca_scrape_unit_name", &unit),
            ]),
        )
        .unwrap();
    }
    let status = m.status("parca-broker/0").unwrap();
    // The app bag itself is over its bound (10,000 jobs are ~900 KB of JSON): dropped whole.
    assert_eq!(status.status, "blocked");
    assert!(status.message.contains("app databag"), "{}", status.message);
    let yaml = m.file("parca-broker/0", "/etc/parca/parca.yaml").unwrap();
    assert!(parca_broker::render::validate::check_yaml(&yaml).is_ok());
    assert!(m.runs().iter().all(|r| r.code == 0));
}

#[test]
fn a_file_over_the_validators_budget_is_not_written() {
    // Many providers each within every bound can still add up: the whole file is checked.
    let relations: Vec<RelationSnapshot> = (0..30)
        .map(|r| {
            let jobs: Vec<Value> = (0..100)
                .map(|i| json!({"job_name": format!("j{i}"), "static_configs": [{"targets": [format!("*:{}", 2000 + i)], "labels": {"a": "1", "b": "2", "c": "3"}}]}))
                .collect();
            relation(r + 10, &format!("app{r}"), &Value::Array(jobs), 30)
        })
        .collect();
    let out = render_jobs(&relations, FixSet::ALL);
    assert!(out.rejections.is_empty());
    let base = parca_broker::render::validate::check_yaml(
        "object_storage:\n  bucket:\n    type: FILESYSTEM\n    config: {directory: ./data}\nscrape_configs: []\n",
    )
    .unwrap();
    let rendered = parca_broker::render::render_config(
        &base,
        &out.jobs,
        &parca_broker::render::Discovery::Static,
    );
    assert!(rendered.yaml.len() > limits::VALIDATE_ABOVE_BYTES);
    // 3,000 jobs × 30 units: over the YAML budget, so the plan keeps the previous file.
    assert!(parca_broker::render::validate::check_yaml(&rendered.yaml).is_err());
    let problem = parca_broker::reconcile::plan::config_size_problem(&rendered.yaml).unwrap();
    assert!(problem.contains("check-config refuses"), "{problem}");
    assert_eq!(
        parca_broker::reconcile::plan::config_size_problem("scrape_configs: []\n"),
        None
    );
}
