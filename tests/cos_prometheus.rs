//! A real Prometheus (Debian's `prometheus` package, 2.42) fed with what the charm publishes
//! over metrics-endpoint: the scrape jobs and rule file the Prometheus charm would render from
//! our databags (the recorded consumer algorithm), scraping the broker service the charm runs
//! for real under the simulator. Prometheus must scrape it with the Juju topology labels, load
//! every alert rule, and answer every query of the shipped dashboard.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

mod common;

use parca_broker::interfaces::prometheus_scrape::consumer::{self, ConsumerRelation};
use parca_broker::parca::api::fetch;
use parca_broker::simulator::Model;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn prometheus_binary() -> PathBuf {
    std::env::var_os("PARCA_BROKER_PROMETHEUS")
        .map_or_else(|| PathBuf::from("prometheus"), PathBuf::from)
}

/// `GET /api/v1/<path>` of Prometheus, its `data`.
fn api(address: &str, path: &str) -> Option<Value> {
    let body = fetch(address, &format!("/api/v1/{path}"), Duration::from_secs(5)).ok()?;
    let reply: Value = serde_json::from_str(&body).ok()?;
    (reply["status"] == "success").then(|| reply["data"].clone())
}

fn query(address: &str, promql: &str) -> Result<Value, String> {
    let encoded: String = url::form_urlencoded::byte_serialize(promql.as_bytes()).collect();
    let body = fetch(
        address,
        &format!("/api/v1/query?query={encoded}"),
        Duration::from_secs(5),
    )
    .map_err(|e| format!("{promql}: {e}"))?;
    let reply: Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
    if reply["status"] == "success" {
        Ok(reply["data"]["result"].clone())
    } else {
        Err(format!("{promql}: {}", reply["error"]))
    }
}

#[test]
fn a_real_prometheus_scrapes_the_broker_loads_its_rules_and_answers_the_dashboard() {
    let dir = std::env::temp_dir().join(format!("parca-broker-cos-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();

    // The charm, its broker service run for real on every interface; a provider whose
    // targets do not answer (so the per-app metrics have something to say).
    let mut m = Model::new(
        &dir.join("model"),
        Path::new(env!("CARGO_BIN_EXE_dispatch")),
        Path::new(env!("CARGO_BIN_EXE_parca-broker")),
        Path::new(env!("CARGO_MANIFEST_DIR")),
    )
    .unwrap();
    m.run_only_services(&["parca-broker.service"]);
    let port = common::free_port();
    let config: Map<String, Value> = json!({
        "listen-address": format!("0.0.0.0:{port}"),
        "unit-address": "127.0.0.1",
        "store-address": "store.example:7070",
    })
    .as_object()
    .unwrap()
    .clone();
    m.deploy_charm("parca-broker", 1, config).unwrap();
    m.add_remote_app("zinc", 1).unwrap();
    let zinc = m
        .relate(
            "parca-broker",
            "profiling-endpoint",
            "zinc",
            "profiling-endpoint",
        )
        .unwrap();
    // One job whose target nobody answers, one with a target the broker drops as invalid.
    let jobs = json!([
        {"static_configs": [{"targets": ["*:9"]}]},
        {"job_name": "bad", "static_configs": [{"targets": ["a:b:c"]}]}
    ]);
    m.set_app_data(zinc, "zinc", common::provider_app_bag("zinc", &jobs))
        .unwrap();
    m.set_unit_data(
        zinc,
        "zinc/0",
        common::bag(&[
            ("parca_scrape_unit_address", "127.0.0.9"),
            ("parca_scrape_unit_name", "zinc/0"),
        ]),
    )
    .unwrap();
    m.add_remote_app("prometheus", 1).unwrap();
    let metrics = m
        .relate(
            "parca-broker",
            "metrics-endpoint",
            "prometheus",
            "metrics-endpoint",
        )
        .unwrap();

    // What the Prometheus charm renders from our databags.
    let app = m.app_bag(metrics, "parca-broker");
    let units = BTreeMap::from([(
        "parca-broker/0".to_owned(),
        m.unit_bag(metrics, "parca-broker/0"),
    )]);
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
    assert_eq!(rendered.jobs.len(), 1);
    assert_eq!(
        rendered.jobs[0]["static_configs"][0]["targets"],
        json!([format!("127.0.0.1:{port}")])
    );
    let (rule_file, rules) = rendered.alerts.iter().next().unwrap();
    std::fs::write(dir.join("rules.json"), rules.to_string()).unwrap();
    let mut jobs = rendered.jobs.clone();
    for job in &mut jobs {
        job["scrape_interval"] = json!("1s");
    }
    let prometheus_config = json!({
        "global": {"evaluation_interval": "1s"},
        "rule_files": ["rules.json"],
        "scrape_configs": jobs,
    });
    std::fs::write(dir.join("prometheus.yml"), prometheus_config.to_string()).unwrap();

    let address = format!("127.0.0.1:{}", common::free_port());
    let child = Command::new(prometheus_binary())
        .arg("--config.file=prometheus.yml")
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address={address}"))
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("prometheus.log")).unwrap())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "prometheus is needed (Debian package prometheus; ./scripts/test installs it): {e}"
            )
        });
    let _prometheus = Proc(child);

    // Scraped, healthy, with the topology labels Prometheus' charm adds.
    let target = common::wait_for("the broker target up", Duration::from_secs(30), || {
        let targets = api(&address, "targets")?;
        targets["activeTargets"]
            .as_array()?
            .iter()
            .find(|t| t["health"] == "up")
            .cloned()
    });
    assert_eq!(target["labels"]["juju_unit"], "parca-broker/0");
    assert_eq!(target["labels"]["juju_charm"], "parca-broker");
    let series = common::wait_for(
        "parca_broker_reconciles_total",
        Duration::from_secs(30),
        || {
            let result = query(&address, "parca_broker_reconciles_total").ok()?;
            result.as_array()?.first().cloned()
        },
    );
    let labels = &series["metric"];
    assert_eq!(labels["juju_model"], "cos");
    assert_eq!(labels["juju_application"], "parca-broker");
    assert_eq!(
        labels["instance"],
        "cos_8d5d1f3b-3d4a-4c8e-9a52-6b1f2e7c9d10_parca-broker_parca-broker/0"
    );
    assert_eq!(
        *rule_file,
        format!("cos_8d5d1f3b_parca-broker_metrics-endpoint_{metrics}")
    );

    // Every alert rule loaded and evaluated without error.
    let rules = common::wait_for("rules evaluated", Duration::from_secs(30), || {
        let groups = api(&address, "rules")?;
        let rules: Vec<Value> = groups["groups"]
            .as_array()?
            .iter()
            .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
            .collect();
        rules
            .iter()
            .all(|r| r["lastEvaluation"] != "0001-01-01T00:00:00Z")
            .then_some(rules)
    });
    assert_eq!(rules.len(), 8, "6 of ours and HostHealth's 2");
    for rule in &rules {
        assert_eq!(rule["health"], "ok", "{rule}");
    }

    // Every query of the dashboard is valid PromQL for this Prometheus, and the panels about
    // this broker have data (the dropdowns at "All").
    let dashboard: Value = serde_json::from_str(include_str!(
        "../charm/grafana_dashboards/parca-broker.json"
    ))
    .unwrap();
    let panels_with_data = || -> Vec<String> {
        let mut with_data = Vec::new();
        for panel in dashboard["panels"].as_array().unwrap() {
            for target in panel["targets"].as_array().into_iter().flatten() {
                let mut expr = target["expr"].as_str().unwrap().to_owned();
                for var in [
                    "juju_model_uuid",
                    "juju_model",
                    "juju_application",
                    "juju_unit",
                ] {
                    expr = expr.replace(&format!("${var}"), ".*");
                }
                let result = query(&address, &expr).unwrap();
                if !result.as_array().unwrap().is_empty() {
                    with_data.push(panel["title"].as_str().unwrap().to_owned());
                }
            }
        }
        with_data
    };
    let wanted = [
        "Targets up by application",
        "Dropped relation data by reason",
        "Target probe latency",
        "Broker service up",
        "Targets and jobs in parca.yaml",
    ];
    // The service probes its targets on its own schedule: wait for the first round.
    let with_data = common::wait_for(
        "the dashboard's panels to have data",
        Duration::from_secs(60),
        || {
            let with_data = panels_with_data();
            wanted
                .iter()
                .all(|w| with_data.iter().any(|t| t == w))
                .then_some(with_data)
        },
    );
    for title in wanted {
        assert!(
            with_data.iter().any(|t| t == title),
            "{title}: no data; {with_data:?}"
        );
    }
}
