//! Proptest generators of provider jobs, shared by the property tests and the Parca judge.

use parca_broker::interfaces::parca_scrape::wire;
use parca_broker::model::{RelationId, RelationSnapshot};
use parca_broker::pyjson;
use proptest::prelude::*;
use serde_json::{Value, json};

const UUID: &str = "3cdca972-b819-4f03-8d90-9c7a36d234c9";

/// One profiling relation per list of jobs (app `app<i>`, one unit at 10.0.0.1), the jobs
/// published as a Python provider would (unsanitised).
pub fn provider_relations(jobs: Vec<Vec<Value>>) -> Vec<RelationSnapshot> {
    jobs.into_iter()
        .enumerate()
        .map(|(i, jobs)| RelationSnapshot {
            id: RelationId::new("profiling-endpoint", i as u64),
            remote_app: format!("app{i}"),
            app: [
                (
                    wire::SCRAPE_JOBS.to_owned(),
                    pyjson::dumps(&Value::Array(jobs)),
                ),
                (
                    wire::SCRAPE_METADATA.to_owned(),
                    format!(r#"{{"model": "m", "model_uuid": "{UUID}", "application": "app{i}"}}"#),
                ),
            ]
            .into(),
            units: [(
                format!("app{i}/0"),
                [(wire::UNIT_ADDRESS.to_owned(), "10.0.0.1".to_owned())].into(),
            )]
            .into(),
        })
        .collect()
}

/// A provider job as a charm might write it, valid or not.
pub fn job() -> impl Strategy<Value = Value> {
    let target = prop_oneof![
        (1u16..=65535).prop_map(|p| format!("*:{p}")),
        (1u16..=65535).prop_map(|p| format!("ext.example:{p}")),
        (1u16..=65535).prop_map(|p| format!("[fd00::1]:{p}")),
        Just("*".to_owned()),
        Just("http://bad:80".to_owned()),
        Just("a:b:c".to_owned()),
    ];
    let static_config = (
        proptest::collection::vec(target, 0..3),
        proptest::collection::btree_map("[a-z]{1,4}", "[a-z0-9]{0,4}", 0..3),
    )
        .prop_map(|(targets, labels)| json!({"targets": targets, "labels": labels}));
    prop_oneof![
        8 => (
            proptest::option::of("[a-z]{0,5}"),
            proptest::collection::vec(static_config, 0..3),
            proptest::option::of(Just("https")),
        )
            .prop_map(|(name, scs, scheme)| {
                let mut job = serde_json::Map::new();
                if let Some(name) = name {
                    job.insert("job_name".into(), name.into());
                }
                job.insert("static_configs".into(), scs.into());
                if let Some(scheme) = scheme {
                    job.insert("scheme".into(), scheme.into());
                }
                job.insert("metrics_path".into(), "/dropped".into());
                Value::Object(job)
            }),
        1 => Just(json!("not an object")),
        1 => Just(json!({"static_configs": null})),
    ]
}

/// Provider jobs with the settings Parca is strict about: timings (Prometheus habits included),
/// profiling_config and tls_config, valid or not.
pub fn job_with_settings() -> impl Strategy<Value = Value> {
    let duration = prop_oneof![
        Just(Value::Null),
        proptest::sample::select(vec![
            "1s", "5s", "10s", "15s", "30s", "1m", "0", "500ms", "10sec", "", "1m30s"
        ])
        .prop_map(Value::from),
    ];
    let profiling = prop_oneof![
        Just(Value::Null),
        Just(json!({"path_prefix": "/p"})),
        Just(json!({"pprof_config": {"fgprof": {"enabled": true, "path": "/debug/fgprof"}}})),
        Just(json!({"pprof_config": {"fgprof": null}})),
        Just(json!({"pprof_config": {"process_cpu": {"enabled": false}}})),
        Just(json!({"pprof_config": {"memory": {"path": "no-slash"}}})),
        Just(json!({"bogus": true})),
    ];
    let tls = prop_oneof![
        Just(Value::Null),
        Just(json!({"insecure_skip_verify": true})),
        Just(json!({"cert_file": "/c.pem"})),
        Just(json!({"insecure": true})),
        Just(json!({"min_version": "TLS12"})),
        Just(json!({"min_version": "SSL3"})),
    ];
    (job(), duration.clone(), duration, profiling, tls).prop_map(
        |(mut job, interval, timeout, profiling, tls)| {
            if let Value::Object(map) = &mut job {
                for (key, value) in [
                    ("scrape_interval", interval),
                    ("scrape_timeout", timeout),
                    ("profiling_config", profiling),
                    ("tls_config", tls),
                ] {
                    if !value.is_null() {
                        map.insert(key.into(), value);
                    }
                }
            }
            job
        },
    )
}
