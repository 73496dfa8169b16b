//! Issue 11, item 3 (F14): a provider cannot take another related application's identity.
//! Juju's name for the remote application can be an alias across models, so equality with
//! `scrape_metadata.application` is not required; instead, of the relations claiming one
//! application, one keeps it (the one Juju names so, else the lowest relation id) and the
//! others are dropped with a report; a unit may not name itself as another related
//! application's unit.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

mod common;

use parca_broker::fixes::{Fix, FixSet};
use parca_broker::interfaces::parca_scrape::render_jobs;
use parca_broker::model::{RejectionKind, RelationId, RelationSnapshot};
use serde_json::json;

/// A relation with remote app `remote_app` whose metadata claims `claimed`, one job `profile`
/// on `*:port`, and units named as given.
fn relation(
    id: u64,
    remote_app: &str,
    claimed: &str,
    port: u16,
    units: &[(&str, &str)],
) -> RelationSnapshot {
    let jobs =
        json!([{"job_name": "profile", "static_configs": [{"targets": [format!("*:{port}")]}]}]);
    RelationSnapshot {
        id: RelationId::new("profiling-endpoint", id),
        remote_app: remote_app.into(),
        app: common::provider_app_bag(claimed, &jobs),
        units: units
            .iter()
            .enumerate()
            .map(|(n, (name, address))| {
                (
                    format!("{remote_app}/{n}"),
                    common::bag(&[
                        ("parca_scrape_unit_address", address),
                        ("parca_scrape_unit_name", name),
                    ]),
                )
            })
            .collect(),
    }
}

#[test]
fn a_relation_claiming_another_related_application_is_dropped_and_reported() {
    let zinc = relation(5, "zinc", "zinc", 6060, &[("zinc/0", "10.0.0.1")]);
    let evil = relation(3, "evil", "zinc", 6060, &[("evil/0", "10.0.0.66")]);
    let out = render_jobs(&[zinc.clone(), evil.clone()], FixSet::ALL);
    let names: Vec<&str> = out.jobs.iter().map(|j| j.job_name.as_str()).collect();
    assert_eq!(
        names,
        ["cos_8d5d1f3b_zinc_profile"],
        "the real job keeps its name"
    );
    assert_eq!(out.jobs[0].relation, zinc.id);
    let conflict: Vec<String> = out
        .rejections
        .iter()
        .filter(|r| r.kind == RejectionKind::Conflict)
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        conflict,
        [
            "profiling-endpoint:3 (app evil): scrape_metadata.application: claims application \"zinc\", which profiling-endpoint:5 (app zinc) is; only one relation may be an application"
        ]
    );
    // Without F14 (the Python behaviour) the impostor's job takes the same name: both get
    // renamed (F4), and its targets are labelled juju_application=zinc.
    let python = render_jobs(&[zinc, evil], FixSet::ALL.without(Fix::F14));
    assert_eq!(python.jobs.len(), 2);
    assert!(
        python
            .jobs
            .iter()
            .all(|j| j.job_name != "cos_8d5d1f3b_zinc_profile")
    );
}

#[test]
fn a_cross_model_alias_keeps_its_identity_and_two_aliases_resolve_by_relation_id() {
    // Across models Juju shows an alias: a different name alone proves nothing.
    let alias = relation(9, "remote-3f2a", "zinc", 6060, &[("zinc/0", "10.0.0.1")]);
    let out = render_jobs(std::slice::from_ref(&alias), FixSet::ALL);
    assert_eq!(out.jobs.len(), 1);
    assert!(out.rejections.is_empty());
    // Two aliases both claiming zinc: the lower relation id keeps it.
    let other = relation(4, "remote-77aa", "zinc", 7070, &[("zinc/0", "10.0.0.9")]);
    let out = render_jobs(&[alias, other], FixSet::ALL);
    assert_eq!(out.jobs.len(), 1);
    assert_eq!(
        out.jobs[0].relation,
        RelationId::new("profiling-endpoint", 4)
    );
    assert_eq!(out.rejections.len(), 1);
    assert!(
        out.rejections[0]
            .to_string()
            .contains("which profiling-endpoint:4 (app remote-77aa) is")
    );
}

#[test]
fn a_unit_naming_itself_as_another_applications_unit_is_left_out() {
    let zinc = relation(1, "zinc", "zinc", 6060, &[("zinc/0", "10.0.0.1")]);
    let evil = relation(
        2,
        "evil",
        "evil",
        6060,
        &[("evil/0", "10.0.0.66"), ("zinc/0", "10.0.0.67")],
    );
    let out = render_jobs(&[zinc, evil], FixSet::ALL);
    let units: Vec<(String, String)> = out
        .jobs
        .iter()
        .flat_map(|j| {
            j.targets()
                .map(|(t, sc)| {
                    (
                        j.app.clone(),
                        format!("{t} {}", sc.unit.as_deref().unwrap_or("-")),
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(
        units,
        [
            ("zinc".to_owned(), "10.0.0.1:6060 zinc/0".to_owned()),
            ("evil".to_owned(), "10.0.0.66:6060 evil/0".to_owned())
        ]
    );
    let conflict: Vec<String> = out.rejections.iter().map(ToString::to_string).collect();
    assert_eq!(
        conflict,
        [
            "profiling-endpoint:2 (app evil, unit zinc/0): parca_scrape_unit_name: \"zinc/0\" is a unit name of application \"zinc\", which profiling-endpoint:1 is; left out"
        ]
    );
}

/// Issue 11, item 6: job keys the protocol drops are reported once per relation and key.
#[test]
fn dropped_job_keys_are_reported_once_per_relation() {
    let jobs = json!([
        {"job_name": "a", "static_configs": [{"targets": ["*:1"]}], "relabel_configs": [], "params": {"x": ["1"]}},
        {"job_name": "b", "static_configs": [{"targets": ["*:2"]}], "relabel_configs": [], "honor_labels": true}
    ]);
    // A provider that does not sanitise (our provider would drop the keys before publishing).
    let mut app = common::provider_app_bag("zinc", &json!([]));
    app.insert("scrape_jobs".into(), jobs.to_string());
    let relation = RelationSnapshot {
        id: RelationId::new("profiling-endpoint", 8),
        remote_app: "zinc".into(),
        app,
        units: [(
            "zinc/0".to_owned(),
            common::bag(&[
                ("parca_scrape_unit_address", "10.0.0.1"),
                ("parca_scrape_unit_name", "zinc/0"),
            ]),
        )]
        .into(),
    };
    let out = render_jobs(&[relation], FixSet::ALL);
    assert_eq!(out.jobs.len(), 2, "the jobs still render");
    let ignored: Vec<String> = out
        .ignored
        .iter()
        .map(|i| format!("{}[{}]", i.key, i.first_job))
        .collect();
    assert_eq!(
        ignored,
        ["relabel_configs[0]", "params[0]", "honor_labels[1]"]
    );
    assert!(out.ignored[0].to_string().starts_with(
        "profiling-endpoint:8 (app zinc): scrape_jobs[0].relabel_configs: ignored, not a parca_scrape job key"
    ));
}
