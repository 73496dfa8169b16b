//! Golden files (insta) of rendered jobs and databags for the README's examples. Review changes
//! with `cargo insta review`; CI fails on any unreviewed difference.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

use parca_broker::fixes::FixSet;
use parca_broker::interfaces::parca_scrape::{ScrapeProvider, render_jobs};
use parca_broker::interfaces::parca_store::StoreProvider;
use parca_broker::interfaces::topology::{JujuTopology, ModelUuid};
use parca_broker::model::{Databag, RelationId, RelationSnapshot};
use serde_json::{Value, json};

const UUID: &str = "3cdca972-b819-4f03-8d90-9c7a36d234c9";

fn topology(app: &str, charm: &str) -> JujuTopology {
    JujuTopology {
        model: "cos".into(),
        model_uuid: ModelUuid::parse(UUID).unwrap(),
        application: app.into(),
        unit: format!("{app}/0"),
        charm_name: charm.into(),
    }
}

/// A relation whose app databag our own provider wrote, with units `app/n` → address.
fn relation(
    id: u64,
    app: &str,
    charm: &str,
    jobs: Value,
    units: &[(u32, &str)],
) -> RelationSnapshot {
    let provider = ScrapeProvider::new(jobs.as_array().unwrap()).unwrap();
    RelationSnapshot {
        id: RelationId::new("profiling-endpoint", id),
        remote_app: app.into(),
        app: provider.app_databag(&topology(app, charm)),
        units: units
            .iter()
            .map(|(n, addr)| {
                let name = format!("{app}/{n}");
                (name.clone(), ScrapeProvider::unit_databag(&name, addr))
            })
            .collect(),
    }
}

fn pretty(value: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(value).unwrap()
}

#[test]
fn readme_example_zinc_with_fixed_and_wildcard_targets() {
    let jobs = json!([{"job_name": "zinc", "static_configs": [
        {"targets": ["10.1.32.215:7000", "*:4080"], "labels": {"team": "search"}}]}]);
    let rels = [relation(
        7,
        "zinc",
        "zinc-k8s",
        jobs,
        &[(10, "10.0.0.20"), (2, "10.0.0.12")],
    )];
    let out = render_jobs(&rels, FixSet::ALL);
    assert!(out.rejections.is_empty());
    insta::assert_snapshot!(pretty(&out.to_python_jobs()));
}

#[test]
fn readme_example_ipv6_units_and_two_unnamed_jobs() {
    let jobs = json!([
        {"static_configs": [{"targets": ["*:6060"]}]},
        {"static_configs": [{"targets": ["*:7070", "[fd00::99]:7070"]}], "scheme": "https"}
    ]);
    let rels = [relation(
        3,
        "api",
        "api-server",
        jobs,
        &[(0, "fd00::5"), (1, "fd00::6")],
    )];
    let out = render_jobs(&rels, FixSet::ALL);
    assert!(out.rejections.is_empty());
    insta::assert_snapshot!(pretty(&out.to_python_jobs()));
}

#[test]
fn readme_example_bad_relation_is_reported_and_others_render() {
    let good = relation(4, "zinc", "zinc-k8s", json!([]), &[(0, "10.0.0.20")]);
    let mut bad = relation(5, "legacy", "legacy", json!([]), &[(0, "10.0.0.30")]);
    bad.app.remove("scrape_metadata");
    let mut typo = relation(6, "typo", "typo", json!([]), &[(0, "10.0.0.40")]);
    typo.app.insert(
        "scrape_jobs".into(),
        r#"[{"static_configs": [{"targets": ["http://typo:80", "*:8080"]}]}]"#.into(),
    );
    let out = render_jobs(&[typo, bad, good], FixSet::ALL);
    let reasons: Vec<String> = out.rejections.iter().map(ToString::to_string).collect();
    insta::assert_snapshot!(format!(
        "{}\n\nrejections:\n{}",
        pretty(&out.to_python_jobs()),
        reasons.join("\n")
    ));
}

#[test]
fn readme_example_provider_databags() {
    let provider = ScrapeProvider::new(&[json!({"job_name": "zinc", "metrics_path": "/ignored",
        "static_configs": [{"targets": ["*:4080"], "labels": {"team": "café"}}]})])
    .unwrap();
    let bags: [(&str, Databag); 2] = [
        ("app", provider.app_databag(&topology("zinc", "zinc-k8s"))),
        (
            "unit",
            ScrapeProvider::unit_databag("zinc/0", "zinc-0.zinc-endpoints.cos.svc.cluster.local"),
        ),
    ];
    insta::assert_snapshot!(pretty(&bags));
}

#[test]
fn readme_example_store_provider_databag() {
    let store = StoreProvider::from_json(&json!({"port": 7070, "insecure": false,
        "external_url": "https://parca.example.com/", "token": "s3cr3t"}))
    .unwrap();
    let external = store
        .app_databag(true, "parca/0", None, "ignored", FixSet::ALL)
        .unwrap();
    let mut no_url = store.clone();
    no_url.external_url = None;
    let bind_v6 = no_url
        .app_databag(
            true,
            "parca/0",
            Some("fd00::1"),
            "parca-0.example",
            FixSet::ALL,
        )
        .unwrap();
    insta::assert_snapshot!(pretty(&[external, bind_v6]));
}
