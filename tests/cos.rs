//! The charm's COS relations under the simulator: metrics-endpoint (prometheus_scrape) and
//! grafana-dashboard (grafana_dashboard), with two broker units, a leader change, an upgrade and
//! a config change; what Prometheus renders from the published data (the consumer side of
//! the recorded algorithm).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

mod common;

use parca_broker::interfaces::grafana_dashboard::wire::decode_content;
use parca_broker::interfaces::prometheus_scrape::consumer::{self, ConsumerRelation};
use parca_broker::simulator::Model;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

const BROKER: &str = "parca-broker";

fn config(listen: &str) -> Map<String, Value> {
    json!({"listen-address": listen, "store-address": "store.example:7070"})
        .as_object()
        .unwrap()
        .clone()
}

/// Two broker units (unit 0 leads), Prometheus and Grafana related.
fn cos_model(dir: &std::path::Path) -> (Model, u64, u64) {
    let mut m = common::charm_model(dir);
    m.deploy_charm(BROKER, 2, config("0.0.0.0:7075")).unwrap();
    m.add_remote_app("prometheus", 1).unwrap();
    let metrics = m
        .relate(BROKER, "metrics-endpoint", "prometheus", "metrics-endpoint")
        .unwrap();
    m.add_remote_app("grafana", 1).unwrap();
    let grafana = m
        .relate(BROKER, "grafana-dashboard", "grafana", "grafana-dashboard")
        .unwrap();
    (m, metrics, grafana)
}

/// App bags written by `unit` in the hooks recorded from `from` on (relation → keys).
fn app_writes(m: &Model, from: usize, unit: &str) -> Vec<(u64, Vec<String>)> {
    m.runs()[from..]
        .iter()
        .filter(|r| r.unit == unit)
        .flat_map(|r| {
            r.context
                .pending_app
                .iter()
                .map(|(id, changes)| (*id, changes.keys().cloned().collect()))
        })
        .collect()
}

#[test]
fn metrics_endpoint_publishes_the_job_topology_rules_and_every_units_address() {
    let dir = tempfile_dir("metrics");
    let (mut m, metrics, _) = cos_model(&dir);
    let app = m.app_bag(metrics, BROKER);
    assert_eq!(
        app["scrape_jobs"],
        r#"[{"metrics_path": "/metrics", "static_configs": [{"targets": ["*:7075"]}], "job_name": "parca-broker"}]"#
    );
    let metadata: Value = serde_json::from_str(&app["scrape_metadata"]).unwrap();
    assert_eq!(metadata["unit"], "parca-broker/0");
    assert_eq!(metadata["charm_name"], "parca-broker");
    let rules: Value = serde_json::from_str(&app["alert_rules"]).unwrap();
    let groups = rules["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2, "ours and the generic HostHealth");
    assert!(
        groups[0]["name"]
            .as_str()
            .unwrap()
            .ends_with("_parca_broker_parca_broker_rules"),
        "{}",
        groups[0]["name"]
    );
    for rule in groups.iter().flat_map(|g| g["rules"].as_array().unwrap()) {
        assert!(!rule["expr"].as_str().unwrap().contains("%%juju_topology%%"));
        assert_eq!(rule["labels"]["juju_application"], BROKER);
        assert_eq!(rule["labels"]["juju_charm"], "parca-broker");
    }

    // Every unit publishes its own address (the relation's bind address) and name.
    let mut units = BTreeMap::new();
    for unit in ["parca-broker/0", "parca-broker/1"] {
        let bag = m.unit_bag(metrics, unit);
        let address = m.unit(unit).unwrap().address.clone();
        assert_eq!(bag["prometheus_scrape_unit_address"], address, "{unit}");
        assert_eq!(bag["prometheus_scrape_unit_name"], unit);
        assert!(!bag.contains_key("prometheus_scrape_unit_path"));
        units.insert(unit.to_owned(), bag);
    }
    // What Prometheus makes of it: one job per broker unit, its address, the topology labels.
    let rendered = consumer::render(
        &[ConsumerRelation {
            name: "metrics-endpoint",
            id: metrics,
            app: &app,
            units: &units,
        }],
        None,
    )
    .unwrap();
    let targets: Vec<(String, String, String)> = rendered
        .jobs
        .iter()
        .map(|job| {
            let config = &job["static_configs"][0];
            (
                job["job_name"].as_str().unwrap().to_owned(),
                config["targets"][0].as_str().unwrap().to_owned(),
                config["labels"]["juju_unit"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let address = |u: &str| m.unit(u).unwrap().address.clone();
    // The simulator's model: cos, 8d5d1f3b-….
    let prefix = "juju_cos_8d5d1f3b_parca-broker_prometheus_scrape_parca-broker";
    assert_eq!(
        targets,
        [
            (
                format!("{prefix}-0"),
                format!("{}:7075", address("parca-broker/0")),
                "parca-broker/0".to_owned()
            ),
            (
                format!("{prefix}-1"),
                format!("{}:7075", address("parca-broker/1")),
                "parca-broker/1".to_owned()
            ),
        ]
    );
    assert_eq!(rendered.alerts.len(), 1);

    // Status and show-config name the relation.
    let status = m.status("parca-broker/1").unwrap().message.clone();
    assert!(status.contains("metrics-endpoint: prometheus"), "{status}");
    let out = m
        .run_action("parca-broker/0", "show-config", Map::new())
        .unwrap();
    assert!(
        out.results["cos"].contains("scraped at"),
        "{:?}",
        out.results
    );

    // A loopback listen-address cannot be scraped: the status says so.
    m.set_config(BROKER, config("127.0.0.1:7075")).unwrap();
    let status = m.status("parca-broker/0").unwrap();
    assert_eq!(status.status, "blocked");
    assert!(
        status
            .message
            .contains("metrics-endpoint is related but listen-address 127.0.0.1:7075 is loopback"),
        "{}",
        status.message
    );
}

#[test]
fn the_leader_publishes_the_dashboard_once_and_rewrites_it_only_when_it_changes() {
    let dir = tempfile_dir("grafana");
    let (mut m, metrics, grafana) = cos_model(&dir);
    let value = m.app_bag(grafana, BROKER)["dashboards"].clone();
    let document: Value = serde_json::from_str(&value).unwrap();
    let template = &document["templates"]["file:parca-broker"];
    assert_eq!(template["charm"], "parca-broker");
    assert_eq!(template["juju_topology"]["unit"], "parca-broker/0");
    let dashboard: Value =
        serde_json::from_str(&decode_content(template["content"].as_str().unwrap()).unwrap())
            .unwrap();
    assert_eq!(dashboard["title"], "Parca broker");
    assert_eq!(dashboard["uid"].as_str().unwrap().len(), 40);
    assert!(
        dashboard["tags"]
            .as_array()
            .unwrap()
            .contains(&json!("charm: parca-broker"))
    );
    // Non-leaders never write app data.
    assert!(app_writes(&m, 0, "parca-broker/1").is_empty());

    // config-changed and an upgrade: same dashboards, nothing rewritten, the uuid kept.
    let from = m.runs().len();
    m.set_config(BROKER, config("0.0.0.0:7076")).unwrap();
    m.upgrade(BROKER).unwrap();
    let writes = app_writes(&m, from, "parca-broker/0");
    assert!(
        writes.iter().all(|(id, _)| *id != grafana),
        "dashboards rewritten: {writes:?}"
    );
    assert!(
        writes
            .iter()
            .any(|(id, keys)| *id == metrics && keys.contains(&"scrape_jobs".to_owned())),
        "the job follows the new port: {writes:?}"
    );
    assert_eq!(m.app_bag(grafana, BROKER)["dashboards"], value);

    // A new leader: the templates name the unit that loaded them, so they differ and the new
    // leader republishes them; the scrape metadata names it too.
    let from = m.runs().len();
    m.set_leader("parca-broker/1").unwrap();
    let metadata: Value =
        serde_json::from_str(&m.app_bag(metrics, BROKER)["scrape_metadata"]).unwrap();
    assert_eq!(metadata["unit"], "parca-broker/1");
    let document: Value = serde_json::from_str(&m.app_bag(grafana, BROKER)["dashboards"]).unwrap();
    assert_eq!(
        document["templates"]["file:parca-broker"]["juju_topology"]["unit"],
        "parca-broker/1"
    );
    assert!(
        app_writes(&m, from, "parca-broker/0").is_empty(),
        "the old leader writes nothing"
    );

    // Status names the relation.
    let status = m.status("parca-broker/0").unwrap().message.clone();
    assert!(status.contains("grafana-dashboard: grafana"), "{status}");
}

fn tempfile_dir(name: &str) -> std::path::PathBuf {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("cos-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
