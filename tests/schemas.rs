//! Validates the databags of every recorded vector, and everything our own providers publish,
//! against the interface JSON Schemas in interfaces/*/v0/schemas. Values that are JSON text are
//! decoded and checked against their `contentSchema`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

use parca_broker::conformance::{self, Vector};
use parca_broker::fixes::FixSet;
use serde_json::{Value, json};
use std::collections::BTreeMap;

fn schema(path: &str) -> Value {
    let full = format!("{}/interfaces/{path}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(full).unwrap()).unwrap()
}

/// Every problem with `instance` ({"app": …, "unit": …}) under `root`, content included.
fn problems(root: &Value, instance: &Value) -> Vec<String> {
    let validator = jsonschema::validator_for(root).unwrap();
    let mut found: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    for part in ["app", "unit"] {
        let Some(Value::Object(props)) = root["properties"][part].get("properties") else {
            continue;
        };
        for (key, prop) in props {
            let (Some(content), Some(Value::String(text))) =
                (prop.get("contentSchema"), instance[part].get(key))
            else {
                continue;
            };
            let Ok(decoded) = serde_json::from_str::<Value>(text) else {
                found.push(format!("/{part}/{key}: not JSON"));
                continue;
            };
            let mut sub = content.as_object().unwrap().clone();
            sub.insert("$defs".into(), root["$defs"].clone());
            let validator = jsonschema::validator_for(&Value::Object(sub)).unwrap();
            found.extend(
                validator
                    .iter_errors(&decoded)
                    .map(|e| format!("/{part}/{key} (decoded){}: {e}", e.instance_path())),
            );
        }
    }
    found
}

fn vectors() -> Vec<Vector> {
    parca_broker::cli::BUNDLED_VECTORS
        .iter()
        .flat_map(|(_, text)| conformance::parse_file(text).unwrap())
        .collect()
}

/// The provider databags a vector shows: (schema file, {"app", "unit"}) pairs, from the recorded
/// Python output (`ours == false`) or from our own output.
fn databags(vector: &Vector, ours: bool) -> Vec<(&'static str, Value)> {
    let side = vector.input["side"].as_str().unwrap();
    let output = if ours {
        conformance::evaluate(&vector.name, &vector.input, FixSet::ALL)
            .unwrap()
            .output
    } else {
        vector.output.clone()
    };
    let mut out = Vec::new();
    match side {
        "consumer" => {
            for rel in vector.input["relations"].as_array().unwrap() {
                let units = rel["units"].as_object().cloned().unwrap_or_default();
                let unit_bags: Vec<Value> = if units.is_empty() {
                    vec![json!({})]
                } else {
                    units.values().cloned().collect()
                };
                for unit in unit_bags {
                    out.push((
                        "parca_scrape/v0/schemas/provider.json",
                        json!({"app": rel["app_data"], "unit": unit}),
                    ));
                }
            }
        }
        "provider" if vector.input.get("port").is_some() => {
            if output.get("app_data").is_some() {
                out.push((
                    "parca_store/v0/schemas/provider.json",
                    json!({"app": output["app_data"], "unit": output["unit_data"]}),
                ));
            }
        }
        "provider" => {
            for rel in output["relations"].as_array().into_iter().flatten() {
                out.push((
                    "parca_scrape/v0/schemas/provider.json",
                    json!({"app": rel["app_data"], "unit": rel["unit_data"]}),
                ));
            }
        }
        "requirer" => {
            for bag in vector.input["relations"].as_array().unwrap() {
                out.push((
                    "parca_store/v0/schemas/provider.json",
                    json!({"app": bag, "unit": {}}),
                ));
            }
        }
        other => panic!("unknown side {other}"),
    }
    out
}

/// Vectors whose recorded (Python) databags break the contract, and the part that breaks it.
fn python_invalid() -> BTreeMap<&'static str, &'static str> {
    BTreeMap::from([
        (
            "c_missing_scrape_metadata_raw_passthrough",
            "scrape_metadata",
        ),
        ("c_empty_metadata_object_raw_passthrough", "scrape_metadata"),
        ("c_allowed_and_disallowed_keys", "scrape_jobs"),
        ("c_metadata_non_string_values", "scrape_metadata"),
        ("c_null_scrape_jobs", "scrape_jobs"),
        ("x_target_with_scheme", "scrape_jobs"),
        ("x_non_json_scrape_jobs", "scrape_jobs"),
        ("x_scrape_jobs_is_object", "scrape_jobs"),
        ("x_invalid_model_uuid", "scrape_metadata"),
        ("x_v1_model_uuid", "scrape_metadata"),
        ("x_uppercase_model_uuid", "scrape_metadata"),
        ("x_metadata_missing_application", "scrape_metadata"),
        ("x_non_json_metadata", "scrape_metadata"),
        ("x_static_configs_null", "scrape_jobs"),
        ("x_one_bad_relation_breaks_all", "scrape_jobs"),
        ("p_static_configs_null_published_verbatim", "scrape_jobs"),
        (
            "sp_external_url_with_scheme_verbatim",
            "remote-store-address",
        ),
        ("sp_ipv6_bind_address_unbracketed", "remote-store-address"),
        ("sp_insecure_non_bool", "remote-store-insecure"),
    ])
}

#[test]
fn recorded_databags_validate_unless_they_break_the_contract() {
    let expected_invalid = python_invalid();
    let mut report = Vec::new();
    for vector in vectors() {
        let found: Vec<String> = databags(&vector, false)
            .iter()
            .flat_map(|(file, instance)| problems(&schema(file), instance))
            .collect();
        match expected_invalid.get(vector.name.as_str()) {
            None if !found.is_empty() => {
                report.push(format!("{}: unexpected {found:?}", vector.name))
            }
            Some(part) if !found.iter().any(|p| p.contains(part)) => report.push(format!(
                "{}: expected a problem in {part}, found {found:?}",
                vector.name
            )),
            _ => {}
        }
    }
    assert!(report.is_empty(), "{}", report.join("\n"));
}

/// Vectors where our provider publishes what the Python one does although it breaks the
/// contract (wire compatibility wins; the consumer side drops it).
const OURS_INVALID: [&str; 2] = [
    "p_static_configs_null_published_verbatim",
    "sp_insecure_non_bool",
];

#[test]
fn everything_our_providers_publish_validates() {
    let mut report = Vec::new();
    let mut checked = 0;
    for vector in vectors() {
        if vector.input["side"] != "provider" {
            continue;
        }
        let found: Vec<String> = databags(&vector, true)
            .iter()
            .inspect(|_| checked += 1)
            .flat_map(|(file, instance)| problems(&schema(file), instance))
            .collect();
        let expected = OURS_INVALID.contains(&vector.name.as_str());
        if found.is_empty() == expected {
            report.push(format!(
                "{}: expected invalid: {expected}, found {found:?}",
                vector.name
            ));
        }
    }
    assert!(checked >= 35, "provider databags checked: {checked}");
    assert!(report.is_empty(), "{}", report.join("\n"));
}

#[test]
fn requirers_write_nothing_but_what_juju_adds() {
    for file in [
        "parca_scrape/v0/schemas/requirer.json",
        "parca_store/v0/schemas/requirer.json",
    ] {
        let root = schema(file);
        let juju_only = json!({"app": {}, "unit": {"private-address": "10.0.0.1", "egress-subnets": "10.0.0.1/32"}});
        assert!(problems(&root, &juju_only).is_empty(), "{file}");
        assert!(
            !problems(&root, &json!({"app": {"k": "v"}, "unit": {}})).is_empty(),
            "{file}"
        );
        assert!(
            !problems(&root, &json!({"app": {}, "unit": {"k": "v"}})).is_empty(),
            "{file}"
        );
    }
}

/// The COS provider databags: every recorded output and what the charm publishes.
#[test]
fn cos_provider_databags_match_their_schemas() {
    use parca_broker::interfaces::grafana_dashboard::{self, provider::content_uuid};
    use parca_broker::interfaces::prometheus_scrape::{MetricsEndpointProvider, UnitEndpoint};
    use parca_broker::interfaces::topology::{JujuTopology, ModelUuid};
    use parca_broker::reconcile::plan::cos;

    let cases = |file: &str| -> Vec<Value> {
        let path = format!("{}/tests/vectors/cos/{file}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    let mut report = Vec::new();
    let mut checked = 0;
    for (schema_file, vectors) in [
        (
            "prometheus_scrape/v0/schemas/provider.json",
            "prometheus_scrape_provider.json",
        ),
        (
            "grafana_dashboard/v0/schemas/provider.json",
            "grafana_dashboard_provider.json",
        ),
    ] {
        let root = schema(schema_file);
        for case in cases(vectors) {
            let Some(output) = case.get("output") else {
                continue;
            };
            let instance = json!({"app": output["app_data"], "unit": output["unit_data"]});
            let found = problems(&root, &instance);
            if !found.is_empty() {
                report.push(format!("{}: {found:?}", case["name"]));
            }
            checked += 1;
        }
    }

    // Ours, built as plan/cos.rs builds them.
    let topology = JujuTopology {
        model: "cos".into(),
        model_uuid: ModelUuid::parse("8d5d1f3b-3d4a-4c8e-9a52-6b1f2e7c9d10").unwrap(),
        application: "parca-broker".into(),
        unit: "parca-broker/0".into(),
        charm_name: cos::CHARM_NAME.into(),
    };
    let rules = cos::alert_rules(&topology);
    let job =
        json!({"job_name": cos::METRICS_JOB_NAME, "static_configs": [{"targets": ["*:7075"]}]});
    let app = MetricsEndpointProvider::new(&[job], &[])
        .unwrap()
        .app_databag(&topology, Some(&rules.document), 0, FixSet::ALL);
    let unit =
        UnitEndpoint::from_bind_address("10.0.0.5", "host.example").unit_databag("parca-broker/0");
    let found = problems(
        &schema("prometheus_scrape/v0/schemas/provider.json"),
        &json!({"app": app, "unit": unit}),
    );
    assert!(found.is_empty(), "ours, metrics-endpoint: {found:?}");
    let dashboards = cos::dashboards(&topology).unwrap();
    let value = grafana_dashboard::publish(
        None,
        dashboards.templates(),
        &content_uuid(dashboards.templates()),
    )
    .unwrap();
    let found = problems(
        &schema("grafana_dashboard/v0/schemas/provider.json"),
        &json!({"app": {"dashboards": value}, "unit": {}}),
    );
    assert!(found.is_empty(), "ours, grafana-dashboard: {found:?}");
    // The schemas can fail: a job key the provider drops, a bad uid.
    assert!(!problems(
        &schema("prometheus_scrape/v0/schemas/provider.json"),
        &json!({"app": {"scrape_metadata": app["scrape_metadata"], "alert_rules": "{}", "scrape_jobs": "[{\"metrics_path\": \"/m\", \"static_configs\": [], \"honor_labels\": true}]"}, "unit": {}})
    )
    .is_empty());

    assert!(checked >= 50, "{checked} recorded outputs");
    assert!(report.is_empty(), "{}", report.join("\n"));
}
