//! Conformance of the `prometheus_scrape` provider with the 35 recorded cases
//! (`tests/vectors/cos/prometheus_scrape_provider.json`, from `../shared/spec/cos`), and of
//! what it publishes with the consumer examples: what Prometheus renders from it.
//!
//! Every case is run. Outputs must be byte-identical; the two fixed cases (F11, F12) must
//! match the recording with their fix turned off. `alt_outputs` (LIBPATCH 56) are not ours:
//! we follow LIBPATCH 61.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

use parca_broker::fixes::{Fix, FixSet};
use parca_broker::interfaces::parca_scrape::PublishScope;
use parca_broker::interfaces::prometheus_scrape::alert_rules::ExprTransform;
use parca_broker::interfaces::prometheus_scrape::consumer::{self, ConsumerRelation};
use parca_broker::interfaces::prometheus_scrape::provider::{
    ProviderEvent, default_refresh_is_update_status,
};
use parca_broker::interfaces::prometheus_scrape::{
    MetricsEndpointProvider, RuleFile, UnitEndpoint, alert_rules, publish_scope,
};
use parca_broker::interfaces::topology::{JujuTopology, ModelUuid};
use parca_broker::model::Databag;
use serde_json::{Value, json};
use std::cell::RefCell;
use std::collections::BTreeMap;

fn cases(file: &str) -> Vec<Value> {
    let path = format!("{}/tests/vectors/cos/{file}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// What one relation got.
#[derive(Debug, Default, PartialEq)]
struct Written {
    app: Databag,
    unit: Databag,
}

/// The outcome of a case: per relation id, or the error message.
type Outcome = Result<(BTreeMap<u64, Written>, Vec<Vec<String>>), String>;

fn run(case: &Value, fixes: FixSet) -> Outcome {
    let input = &case["input"];
    let s = |v: &Value| v.as_str().unwrap().to_owned();
    let endpoint = s(&input["relation_name"]);
    let role = input["relation_role"].as_str().unwrap_or("provides");
    let declared = input["declared_interface"]
        .as_str()
        .unwrap_or("prometheus_scrape");
    parca_broker::interfaces::check_provides_endpoint(
        &endpoint,
        role,
        declared,
        "prometheus_scrape",
    )
    .map_err(|e| e.to_string())?;
    let app = s(&input["app_name"]);
    let unit = format!("{app}/{}", input["unit_id"]);
    let topology = JujuTopology {
        model: s(&input["model"]["name"]),
        model_uuid: ModelUuid::parse(input["model"]["uuid"].as_str().unwrap())
            .map_err(|e| e.to_string())?,
        application: app.clone(),
        unit: unit.clone(),
        charm_name: s(&input["charm_name"]),
    };
    let kwargs = &input["provider_kwargs"];
    let list = |v: &Value| v.as_array().cloned().unwrap_or_default();
    let mut provider =
        MetricsEndpointProvider::new(&list(&kwargs["jobs"]), &list(&kwargs["lookaside_jobs"]))
            .unwrap();
    let endpoint_address = match kwargs["external_url"].as_str() {
        Some(url) => UnitEndpoint::from_external_url(url, fixes).map_err(|e| e.to_string())?,
        None => UnitEndpoint::from_bind_address(
            input["bind_address"].as_str().unwrap(),
            input["fqdn"].as_str().unwrap(),
        ),
    };
    let root = kwargs["alert_rules_path"]
        .as_str()
        .unwrap_or("src/prometheus_alert_rules")
        .trim_start_matches("./")
        .trim_end_matches('/')
        .to_owned();
    let files: Vec<RuleFile> = input["files"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(path, _)| !path.ends_with('/'))
        .filter_map(|(path, text)| {
            Some(RuleFile {
                path: path.strip_prefix(&format!("{root}/"))?.to_owned(),
                text: s(text),
            })
        })
        .collect();
    let calls = RefCell::new(Vec::new());
    let stub = |expr: &str, matchers: &[(String, String)]| {
        let mut call: Vec<String> = ["cos-tool-<arch>", "--format", "promql", "transform"]
            .map(String::from)
            .to_vec();
        call.extend(
            matchers
                .iter()
                .map(|(k, v)| format!("--label-matcher={k}={v}")),
        );
        call.extend(["--".to_owned(), expr.to_owned()]);
        calls.borrow_mut().push(call);
        Some(format!("STUB_INJECTED<{expr}>"))
    };
    let transform: Option<ExprTransform<'_>> = input["stub_cos_tool"]
        .as_bool()
        .unwrap_or(false)
        .then_some(&stub as _);
    let rules = alert_rules(&files, &topology, transform);
    let forward = kwargs["forward_alert_rules"].as_bool().unwrap_or(true);
    let containers = input["containers"].as_array().map_or(0, Vec::len);
    let refresh_kind = match kwargs["refresh_event"].as_str() {
        Some(kind) => kind.to_owned(),
        None if default_refresh_is_update_status(containers, false) => "update_status".into(),
        None => "pebble_ready".into(),
    };
    let leader = input["leader"].as_bool().unwrap();
    // The hook tool lists the relations newest first; the library writes in that order (B1).
    let mut relation_ids: Vec<u64> = input["relations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_u64().unwrap())
        .collect();
    relation_ids.reverse();
    let mut written: BTreeMap<u64, Written> = relation_ids
        .iter()
        .map(|id| (*id, Written::default()))
        .collect();
    for event in input["events"].as_array().unwrap() {
        let kind = s(&event["kind"]);
        let mut scope = publish_scope(
            match kind.as_str() {
                "relation_joined" => ProviderEvent::RelationJoined,
                "relation_changed" => ProviderEvent::RelationChanged,
                "update_status" => ProviderEvent::UpdateStatus,
                _ => ProviderEvent::Other,
            },
            kind == refresh_kind,
        );
        let update = &input["update_scrape_job_spec"];
        if update["on"].as_str() == Some(kind.as_str()) {
            provider = MetricsEndpointProvider::new(&list(&update["jobs"]), &[]).unwrap();
            scope = PublishScope::All;
        }
        for (position, id) in relation_ids.iter().enumerate() {
            let entry = written.get_mut(id).unwrap();
            if scope != PublishScope::Nothing {
                entry.unit = endpoint_address.unit_databag(&unit);
            }
            if scope == PublishScope::All && leader {
                entry.app = provider.app_databag(
                    &topology,
                    forward.then_some(&rules.document),
                    position,
                    fixes,
                );
            }
        }
    }
    Ok((written, calls.into_inner()))
}

fn bag(value: &Value) -> Databag {
    value
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect()
}

/// Whether `outcome` is what the case recorded.
fn matches(case: &Value, outcome: &Outcome) -> Result<(), String> {
    let first_id = case["input"]["relations"][0]["id"].as_u64().unwrap();
    match (outcome, case.get("error")) {
        (Err(ours), Some(error)) => {
            let message = error["message"].as_str().unwrap();
            // B2: Python fails later, writing a None host; we refuse the URL up front.
            if ours == message || error["type"] == "RelationDataTypeError" {
                Ok(())
            } else {
                Err(format!("error {ours:?}, recorded {message:?}"))
            }
        }
        (Err(ours), None) => Err(format!("error {ours}, recorded an output")),
        (Ok(_), Some(error)) => Err(format!("no error, recorded {error}")),
        (Ok((written, calls)), None) => {
            let output = &case["output"];
            let mut expected = vec![(first_id, &output["app_data"], &output["unit_data"])];
            for other in output["other_relations"].as_array().into_iter().flatten() {
                expected.push((
                    other["relation_id"].as_u64().unwrap(),
                    &other["app_data"],
                    &other["unit_data"],
                ));
            }
            for (id, app, unit) in expected {
                let ours = &written[&id];
                if ours.app != bag(app) {
                    return Err(format!(
                        "relation {id} app bag:\n ours {:?}\n them {app}",
                        ours.app
                    ));
                }
                if ours.unit != bag(unit) {
                    return Err(format!(
                        "relation {id} unit bag:\n ours {:?}\n them {unit}",
                        ours.unit
                    ));
                }
            }
            if let Some(recorded) = output.get("stub_cos_tool_calls") {
                let recorded: Vec<Vec<String>> = serde_json::from_value(recorded.clone()).unwrap();
                if *calls != recorded {
                    return Err(format!("cos-tool calls {calls:?}, recorded {recorded:?}"));
                }
            }
            Ok(())
        }
    }
}

/// The cases a fix changes: the fix, and what turning it off must reproduce.
const FIXED: [(&str, Fix); 2] = [
    ("two_relations_lookaside_duplication", Fix::F11),
    ("error_external_url_host_port_without_scheme", Fix::F12),
];

#[test]
fn all_35_provider_cases_pass_byte_for_byte_or_as_their_fix_predicts() {
    let cases = cases("prometheus_scrape_provider.json");
    assert_eq!(cases.len(), 35);
    let mut failures = Vec::new();
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let fixed = FIXED.iter().find(|(n, _)| *n == name);
        let fixes = fixed.map_or(FixSet::ALL, |(_, fix)| FixSet::ALL.without(*fix));
        if let Err(diff) = matches(case, &run(case, fixes)) {
            failures.push(format!("{name}: {diff}"));
        }
        if fixed.is_some() {
            // With the fix on the result must differ from Python's (else the fix is not needed).
            assert!(
                matches(case, &run(case, FixSet::ALL)).is_err() || name.starts_with("error_"),
                "{name}: the fix changes nothing"
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn fixed_cases_give_our_output() {
    let cases = cases("prometheus_scrape_provider.json");
    let find = |n: &str| cases.iter().find(|c| c["name"] == n).unwrap();
    // F11: the lookaside job once on every relation.
    let (written, _) = run(find("two_relations_lookaside_duplication"), FixSet::ALL).unwrap();
    for relation in written.values() {
        let jobs: Value = serde_json::from_str(&relation.app["scrape_jobs"]).unwrap();
        let names: Vec<&str> = jobs
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["job_name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["main", "extra"]);
    }
    // F12: host:port/path without a scheme is read as http://.
    let (written, _) = run(
        find("error_external_url_host_port_without_scheme"),
        FixSet::ALL,
    )
    .unwrap();
    let unit = &written[&7].unit;
    assert_eq!(unit["prometheus_scrape_unit_address"], "demo.example.com");
    assert_eq!(unit["prometheus_scrape_unit_path"], "/sub/path");
}

#[test]
fn the_consumer_renders_the_recorded_jobs_and_rules_from_the_recorded_provider_data() {
    let examples = cases("prometheus_scrape_consumer_examples.json");
    assert_eq!(examples.len(), 6);
    let mut failures = Vec::new();
    for example in &examples {
        let input = &example["input"];
        let app = bag(&input["remote_app_data"]);
        let units: BTreeMap<String, Databag> = input["remote_units_data"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(n, b)| (format!("demo-app/{n}"), bag(b)))
            .collect();
        let relation = ConsumerRelation {
            name: "metrics-endpoint",
            id: 7,
            app: &app,
            units: &units,
        };
        let rendered =
            consumer::render(&[relation], input["fallback_scrape_protocol"].as_str()).unwrap();
        let expected = &example["output"];
        if Value::Array(rendered.jobs.clone()) != expected["jobs"] {
            failures.push(format!(
                "{}: jobs\n ours {}\n them {}",
                example["name"],
                Value::Array(rendered.jobs),
                expected["jobs"]
            ));
        } else if Value::Object(rendered.alerts) != expected["alerts"] {
            failures.push(format!("{}: alerts differ", example["name"]));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn the_provider_cases_data_is_what_the_consumer_examples_start_from() {
    // The consumer examples were fed with recorded provider output: ours must be that data.
    let provider = cases("prometheus_scrape_provider.json");
    for example in cases("prometheus_scrape_consumer_examples.json") {
        let source = example["input"]["provider_case"].as_str().unwrap();
        let case = provider.iter().find(|c| c["name"] == source).unwrap();
        let fixes = FIXED
            .iter()
            .find(|(n, _)| *n == source)
            .map_or(FixSet::ALL, |(_, f)| FixSet::ALL.without(*f));
        let (written, _) = run(case, fixes).unwrap();
        let first = case["input"]["relations"][0]["id"].as_u64().unwrap();
        assert_eq!(
            written[&first].app,
            bag(&example["input"]["remote_app_data"]),
            "{source}"
        );
    }
    let _ = json!(null);
}
