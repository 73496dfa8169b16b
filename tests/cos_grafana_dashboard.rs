//! Conformance of the `grafana_dashboard` provider with the 23 recorded cases
//! (`tests/vectors/cos/grafana_dashboard_provider.json`, from `../shared/spec/cos`): the
//! `dashboards` value byte for byte (with the recorder's counter for `uuid`), each template's
//! decoded text, both LZMA presets (6: cosl ≤ 1.11.2, the default; 3: the `latest-cosl`
//! variant), and the change detection. `grafana_dashboard-LIBPATCH-48` variants are not ours.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

use parca_broker::fixes::{Fix, FixSet};
use parca_broker::interfaces::grafana_dashboard::provider::Source;
use parca_broker::interfaces::grafana_dashboard::wire::{self, decode_content};
use parca_broker::interfaces::grafana_dashboard::{DashboardFile, Dashboards, publish};
use parca_broker::interfaces::topology::{JujuTopology, ModelUuid};
use serde_json::Value;
use std::collections::BTreeMap;

fn cases() -> Vec<Value> {
    let path = format!(
        "{}/tests/vectors/cos/grafana_dashboard_provider.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Relation id → our app bag's `dashboards` value, after each event.
type Steps = Vec<(String, BTreeMap<u64, Option<String>>)>;

fn run(case: &Value, preset: u32, fixes: FixSet) -> Result<Steps, String> {
    let input = &case["input"];
    let s = |v: &Value| v.as_str().unwrap().to_owned();
    parca_broker::interfaces::check_provides_endpoint(
        input["relation_name"].as_str().unwrap(),
        "provides",
        input["declared_interface"]
            .as_str()
            .unwrap_or("grafana_dashboard"),
        "grafana_dashboard",
    )
    .map_err(|e| e.to_string())?;
    let charm = s(&input["charm_name"]);
    let app = s(&input["app_name"]);
    let topology = JujuTopology {
        model: s(&input["model"]["name"]),
        model_uuid: ModelUuid::parse(input["model"]["uuid"].as_str().unwrap()).unwrap(),
        application: app.clone(),
        unit: format!("{app}/{}", input["unit_id"]),
        charm_name: charm.clone(),
    };
    let dir = input["provider_kwargs"]["dashboards_path"]
        .as_str()
        .unwrap_or("src/grafana_dashboards")
        .to_owned();
    let all: BTreeMap<String, String> = input["files"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(path, _)| !path.ends_with('/'))
        .filter_map(|(path, text)| {
            Some((path.strip_prefix(&format!("{dir}/"))?.to_owned(), s(text)))
        })
        .collect();
    // The directory order Python saw (recorded), else any: it only orders the keys.
    let order: Vec<String> = match case["glob_order"].as_array() {
        Some(order) => order.iter().map(s).collect(),
        None => all.keys().cloned().collect(),
    };
    let files: Vec<DashboardFile> = order
        .iter()
        .filter_map(|rel| {
            Some(DashboardFile {
                path: format!("{dir}/{rel}"),
                bytes: all.get(rel)?.clone().into_bytes(),
            })
        })
        .collect();
    let leader = input["leader"].as_bool().unwrap();
    let mut bags: BTreeMap<u64, Option<String>> = input["relations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let current = r["local_app_data"]["dashboards"].as_str().map(String::from);
            (r["id"].as_u64().unwrap(), current)
        })
        .collect();
    let mut dashboards = Dashboards::new();
    let mut writes = 0;
    let mut publish_all = |dashboards: &Dashboards, bags: &mut BTreeMap<u64, Option<String>>| {
        for current in bags.values_mut() {
            let uuid = format!("00000000-0000-4000-8000-{:012}", writes + 1);
            if let Some(new) = publish(current.as_deref(), dashboards.templates(), &uuid) {
                writes += 1;
                *current = Some(new);
            }
        }
    };
    let mut steps = Vec::new();
    for event in input["events"].as_array().unwrap() {
        let kind = s(&event["kind"]);
        let hook = if kind == "relation_created" {
            "grafana-dashboard-relation-created".to_owned()
        } else {
            kind.replace('_', "-")
        };
        let source = |inject| Source {
            charm: &charm,
            topology: &topology,
            inject_dropdowns: inject,
            preset,
        };
        if leader
            && parca_broker::interfaces::grafana_dashboard::publishes_on(&hook, "grafana-dashboard")
        {
            dashboards
                .load_files(&files, source(true), fixes)
                .map_err(|e| e.to_string())?;
            publish_all(&dashboards, &mut bags);
        }
        for action in input["charm_actions"].as_array().into_iter().flatten() {
            if action["on"].as_str() != Some(kind.as_str()) || !leader {
                continue;
            }
            let inject = action["inject_dropdowns"].as_bool().unwrap_or(true);
            match action["call"].as_str().unwrap() {
                "add_dashboard" => {
                    dashboards
                        .add_programmatic(action["content"].as_str().unwrap(), source(inject))
                        .unwrap();
                }
                "reload_dashboards" => dashboards
                    .load_files(&files, source(inject), fixes)
                    .map_err(|e| e.to_string())?,
                other => panic!("unknown charm action {other}"),
            }
            publish_all(&dashboards, &mut bags);
        }
        steps.push((kind, bags.clone()));
    }
    Ok(steps)
}

/// The recorded app bag of each relation: the first relation's `output.app_data`, then
/// `other_relations`.
fn recorded(output: &Value, first: u64) -> BTreeMap<u64, Option<String>> {
    let mut bags = BTreeMap::from([(
        first,
        output["app_data"]["dashboards"].as_str().map(String::from),
    )]);
    for other in output["other_relations"].as_array().into_iter().flatten() {
        bags.insert(
            other["relation_id"].as_u64().unwrap(),
            other["app_data"]["dashboards"].as_str().map(String::from),
        );
    }
    bags
}

fn compare(case: &Value, output: &Value, preset: u32, fixes: FixSet) -> Result<(), String> {
    let first = case["input"]["relations"][0]["id"].as_u64().unwrap();
    let steps = run(case, preset, fixes)?;
    let (_, ours) = steps.last().unwrap();
    let theirs = recorded(output, first);
    for (id, value) in &theirs {
        if ours.get(id) != Some(value) {
            return Err(format!(
                "relation {id}:\n ours {:?}\n them {value:?}",
                ours.get(id)
            ));
        }
    }
    for (index, step) in output["steps"].as_array().into_iter().flatten().enumerate() {
        let step_bags = recorded(&step["relations"][0], first);
        if steps[index].1.get(&first) != step_bags.get(&first) {
            return Err(format!("step {index} differs"));
        }
    }
    Ok(())
}

#[test]
fn all_23_cases_pass_byte_for_byte_at_both_presets() {
    let cases = cases();
    assert_eq!(cases.len(), 23);
    let mut failures = Vec::new();
    let mut compared_presets = 0;
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        if let Some(error) = case.get("error") {
            let fixes = if name == "error_top_level_json_list" {
                FixSet::ALL.without(Fix::F13)
            } else {
                FixSet::ALL
            };
            match run(case, wire::PRESET, fixes) {
                Err(ours) if error["type"] == "AttributeError" || ours == error["message"] => {}
                other => failures.push(format!("{name}: {other:?}, recorded {error}")),
            }
            continue;
        }
        if let Err(diff) = compare(case, &case["output"], wire::PRESET, FixSet::ALL) {
            failures.push(format!("{name} (preset 6): {diff}"));
        }
        for alt in case["alt_outputs"].as_array().into_iter().flatten() {
            if alt["variant"] == "latest-cosl" {
                compared_presets += 1;
                if let Err(diff) = compare(case, &alt["output"], 3, FixSet::ALL) {
                    failures.push(format!("{name} (preset 3): {diff}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(
        compared_presets >= 10,
        "{compared_presets} latest-cosl variants"
    );
    // The comparison sees the bytes: the other preset's output is not the recorded one.
    let small = cases
        .iter()
        .find(|c| c["name"] == "single_small_dashboard")
        .unwrap();
    assert!(compare(small, &small["output"], 3, FixSet::ALL).is_err());
}

#[test]
fn every_recorded_template_decodes_to_the_recorded_text() {
    let mut checked = 0;
    for case in cases() {
        let Some(decoded) = case["decoded"].as_object() else {
            continue;
        };
        let document: Value =
            serde_json::from_str(case["output"]["app_data"]["dashboards"].as_str().unwrap())
                .unwrap();
        for (key, expected) in decoded {
            let content = document["templates"][key]["content"].as_str().unwrap();
            assert_eq!(
                decode_content(content).unwrap(),
                expected["json_text"].as_str().unwrap(),
                "{} {key}",
                case["name"]
            );
            checked += 1;
        }
    }
    assert!(checked >= 21, "{checked} templates");
}

#[test]
fn f13_skips_a_dashboard_that_is_not_an_object_and_reports_it() {
    let case = cases()
        .into_iter()
        .find(|c| c["name"] == "error_top_level_json_list")
        .unwrap();
    let steps = run(&case, wire::PRESET, FixSet::ALL).unwrap();
    assert_eq!(
        steps[0].1[&11], None,
        "nothing else to publish: nothing written"
    );
}
