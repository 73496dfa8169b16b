//! The 20 Parca config vectors (tests/vectors/parca_configs.json): every valid one passes
//! `check_yaml`, every invalid one fails for its labelled reason. Run on the JSON text (YAML is
//! a superset of JSON, so that is exactly what a parca.yaml in flow style looks like).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

use parca_broker::render::validate::check_yaml;
use serde_json::Value;

/// The part of Parca's error we must reproduce for each invalid vector.
fn expected_reason(name: &str) -> &'static str {
    match name {
        "unknown_top_level_key" => "field debug_info not found",
        "missing_object_storage" => "ObjectStorage: cannot be blank.",
        "missing_job_name" => "job_name is empty",
        "duplicate_job_name" => "ScrapeConfigs: duplicate job_name found in scrape configs: parca.",
        "timeout_equal_to_interval_prometheus_habit" => {
            "scrape timeout must be greater than the interval: default"
        }
        "bad_duration_unit" => "unknown unit \"sec\" in duration \"10sec\"",
        "tls_config_insecure_typo" => "field insecure not found",
        "replace_without_target_label" => {
            "relabel configuration for replace action requires 'target_label' value"
        }
        "basic_auth_with_bearer_token" => {
            "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured"
        }
        "url_as_static_target" => "\"http://localhost:8080/debug/pprof\" is not a valid hostname",
        other => panic!("no expected reason for {other}"),
    }
}

#[test]
fn all_twenty_config_vectors_come_out_as_labelled() {
    let file: Value = serde_json::from_str(include_str!("vectors/parca_configs.json")).unwrap();
    let vectors = file["vectors"].as_array().unwrap();
    assert_eq!(vectors.len(), 20);
    for vector in vectors {
        let name = vector["name"].as_str().unwrap();
        let text = serde_json::to_string_pretty(&vector["config"]).unwrap();
        let result = check_yaml(&text);
        if vector["valid"].as_bool().unwrap() {
            assert!(result.is_ok(), "{name} should load: {:?}", result.err());
        } else {
            let problems = result.expect_err(name);
            let want = expected_reason(name);
            assert!(
                problems.iter().any(|p| p.message.contains(want)),
                "{name}: expected {want:?} (Parca: {}), got {problems:?}",
                vector["parca_error"]
            );
        }
    }
}
