//! The alert rules the charm publishes over metrics-endpoint, exactly as published (topology
//! labels added, `%%juju_topology%%` removed), checked and unit-tested by Prometheus' own
//! `promtool` (Debian's `prometheus` package; scripts/test installs it) on synthetic series.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

use parca_broker::interfaces::topology::{JujuTopology, ModelUuid};
use parca_broker::reconcile::plan::cos;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Command;

fn promtool() -> PathBuf {
    std::env::var_os("PARCA_BROKER_PROMTOOL")
        .map_or_else(|| PathBuf::from("promtool"), PathBuf::from)
}

fn run_promtool(args: &[&str], dir: &std::path::Path) -> String {
    let out = Command::new(promtool())
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "promtool is needed (Debian package prometheus; ./scripts/test installs it): {e}"
            )
        });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool {args:?}:\n{text}");
    text
}

const UUID: &str = "8d5d1f3b-3d4a-4c8e-9a52-6b1f2e7c9d10";

fn published_rules() -> Value {
    let topology = JujuTopology {
        model: "cos".into(),
        model_uuid: ModelUuid::parse(UUID).unwrap(),
        application: "parca-broker".into(),
        unit: "parca-broker/0".into(),
        charm_name: "parca-broker".into(),
    };
    cos::alert_rules(&topology).document
}

/// Labels of a series scraped from unit `n` (what the Prometheus charm attaches).
fn series(name: &str, n: u32, extra: &str) -> String {
    let mut labels = format!(
        "juju_model=\"cos\",juju_model_uuid=\"{UUID}\",juju_application=\"parca-broker\",juju_unit=\"parca-broker/{n}\",instance=\"cos_{UUID}_parca-broker_parca-broker/{n}\",job=\"broker\""
    );
    if !extra.is_empty() {
        labels.push(',');
        labels.push_str(extra);
    }
    format!("{name}{{{labels}}}")
}

/// The labels an alert on unit `n` carries: the series' and the rule's.
fn alert_labels(n: u32, severity: &str, extra: &[(&str, &str)], from_series: bool) -> Value {
    let mut labels = json!({
        "severity": severity,
        "juju_model": "cos",
        "juju_model_uuid": UUID,
        "juju_application": "parca-broker",
        "juju_charm": "parca-broker",
        "juju_unit": format!("parca-broker/{n}"),
    });
    if from_series {
        labels["instance"] = json!(format!("cos_{UUID}_parca-broker_parca-broker/{n}"));
        labels["job"] = json!("broker");
    }
    for (k, v) in extra {
        labels[*k] = json!(v);
    }
    labels
}

#[test]
fn the_published_rules_pass_promtool_check_and_fire_on_synthetic_series() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cos-rules");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // The databag value is JSON, which is YAML: Prometheus loads it as a rule file.
    std::fs::write(dir.join("rules.json"), published_rules().to_string()).unwrap();
    let checked = run_promtool(&["check", "rules", "rules.json"], &dir);
    assert!(checked.contains("SUCCESS: 8 rules found"), "{checked}");

    let rules = published_rules();
    // The expected annotations: the rule's templates rendered for those labels and `value`.
    let alert = |at: &str, name: &str, alerts: Vec<Value>, value: &str| {
        let rule = rules["groups"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|g| g["rules"].as_array().unwrap())
            .find(|r| r["alert"] == name)
            .unwrap();
        let expected: Vec<Value> = alerts
            .into_iter()
            .map(|labels| {
                let mut annotations = rule["annotations"].clone();
                for text in annotations.as_object_mut().unwrap().values_mut() {
                    let mut rendered = text.as_str().unwrap().to_owned();
                    for (key, v) in labels.as_object().unwrap() {
                        rendered = rendered
                            .replace(&format!("{{{{ $labels.{key} }}}}"), v.as_str().unwrap());
                    }
                    rendered = rendered
                        .replace("{{ $value | humanizePercentage }}", value)
                        .replace("{{ $value }}", value);
                    *text = json!(rendered);
                }
                json!({"exp_labels": labels, "exp_annotations": annotations})
            })
            .collect();
        json!({"eval_time": at, "alertname": name, "exp_alerts": expected})
    };
    let tests = json!({
        "rule_files": ["rules.json"],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": [
                // Unit 0: service down; Parca managed but not answering; config rejected.
                {"series": series("up", 0, ""), "values": "0x40"},
                {"series": series("up", 1, ""), "values": "1x40"},
                {"series": series("parca_broker_parca_managed", 0, ""), "values": "1x40"},
                {"series": series("parca_broker_parca_up", 0, ""), "values": "0x40"},
                // Unit 1 runs no Parca: not answering is not an alert.
                {"series": series("parca_broker_parca_managed", 1, ""), "values": "0x40"},
                {"series": series("parca_broker_parca_up", 1, ""), "values": "0x40"},
                {"series": series("parca_broker_parca_config_rejected", 0, ""), "values": "1x40"},
                {"series": series("parca_broker_parca_config_rejected", 1, ""), "values": "0x40"},
                // Dropped jobs from zinc; a dropped target alone is no dropped job.
                {"series": series("parca_broker_rejections", 0, "app=\"zinc\",scope=\"job\",kind=\"bad_target\""), "values": "2x40"},
                {"series": series("parca_broker_rejections", 0, "app=\"zinc\",scope=\"job\",kind=\"parca_rule\""), "values": "1x40"},
                {"series": series("parca_broker_rejections", 0, "app=\"api\",scope=\"target\",kind=\"bad_target\""), "values": "1x40"},
                // zinc: 3 of 4 targets down; api: all up.
                {"series": series("parca_broker_app_targets", 0, "app=\"zinc\""), "values": "4x40"},
                {"series": series("parca_broker_app_targets_up", 0, "app=\"zinc\""), "values": "1x40"},
                {"series": series("parca_broker_app_targets", 0, "app=\"api\""), "values": "4x40"},
                {"series": series("parca_broker_app_targets_up", 0, "app=\"api\""), "values": "4x40"},
                // Hooks with invalid data: unit 0 keeps finding some, unit 1 none.
                {"series": series("parca_broker_hooks_with_invalid_data_total", 0, ""), "values": "0+1x40"},
                {"series": series("parca_broker_hooks_with_invalid_data_total", 1, ""), "values": "5x40"},
            ],
            "alert_rule_test": [
                alert("4m", "ParcaBrokerServiceDown", vec![], ""),
                alert("6m", "ParcaBrokerServiceDown", vec![alert_labels(0, "critical", &[], true)], "0"),
                alert("6m", "ParcaScraperNotRunning", vec![alert_labels(0, "critical", &[], true)], "1"),
                alert("3m", "ParcaConfigRejected", vec![alert_labels(0, "critical", &[], true)], "1"),
                alert("10m", "ParcaBrokerDroppedJobs", vec![], ""),
                alert("16m", "ParcaBrokerDroppedJobs", vec![alert_labels(0, "warning", &[("app", "zinc")], false)], "3"),
                alert("20m", "ParcaBrokerTargetsDown", vec![], ""),
                alert("31m", "ParcaBrokerTargetsDown", vec![alert_labels(0, "warning", &[("app", "zinc")], true)], "75%"),
                alert("10m", "ParcaBrokerInvalidRelationData", vec![alert_labels(0, "info", &[], true)], "60"),
            ],
        }],
    });
    std::fs::write(dir.join("tests.json"), tests.to_string()).unwrap();
    let out = run_promtool(&["test", "rules", "tests.json"], &dir);
    assert!(out.contains("SUCCESS"), "{out}");
}

#[test]
fn promtool_catches_a_wrong_expectation() {
    // The harness can fail: an alert that does not fire makes promtool fail.
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cos-rules-negative");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("rules.json"), published_rules().to_string()).unwrap();
    let tests = json!({"rule_files": ["rules.json"], "evaluation_interval": "1m", "tests": [{
        "interval": "1m",
        "input_series": [{"series": series("up", 0, ""), "values": "1x10"}],
        "alert_rule_test": [{"eval_time": "6m", "alertname": "ParcaBrokerServiceDown",
            "exp_alerts": [{"exp_labels": alert_labels(0, "critical", &[], true)}]}]}]});
    std::fs::write(dir.join("tests.json"), tests.to_string()).unwrap();
    let status = Command::new(promtool())
        .args(["test", "rules", "tests.json"])
        .current_dir(&dir)
        .output()
        .unwrap()
        .status;
    assert!(!status.success());
}
