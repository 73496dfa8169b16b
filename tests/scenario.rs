//! Scenario tests: the real `dispatch` binary (src/bin/dispatch.rs, as the charm ships it) run
//! under the Juju simulator, with the full `parca-broker` binary as the hook tools and service
//! (real hook-tool executables on PATH, cleared environment, Juju's hook order).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

use parca_broker::model::Databag;
use parca_broker::simulator::Model;
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};

fn sandbox(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "parca-broker-scenario-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn model(name: &str) -> Model {
    Model::new(
        &sandbox(name),
        Path::new(env!("CARGO_BIN_EXE_dispatch")),
        Path::new(env!("CARGO_BIN_EXE_parca-broker")),
        Path::new(env!("CARGO_MANIFEST_DIR")),
    )
    .unwrap()
}

fn config(value: Value) -> Map<String, Value> {
    value.as_object().unwrap().clone()
}

fn bag(pairs: &[(&str, &str)]) -> Databag {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn deploy_alone_runs_setup_hooks_and_blocks_on_missing_store() {
    let mut m = model("deploy");
    m.deploy_charm("parca-broker", 1, Map::new()).unwrap();
    let hooks: Vec<&str> = m.runs().iter().map(|r| r.hook.as_str()).collect();
    assert_eq!(
        hooks,
        [
            "install",
            "parca-broker-peers-relation-created",
            "leader-elected",
            "config-changed",
            "start"
        ]
    );
    for run in m.runs() {
        assert_eq!(run.code, 0, "{}: {}", run.hook, run.stderr);
    }
    let status = m.status("parca-broker/0").unwrap();
    assert_eq!(status.status, "blocked");
    assert_eq!(
        status.message,
        "no upstream store: relate external-parca-store-endpoint or set store-address; 0 targets from 0 apps; parca not run (attach resource parca or set parca-binary)"
    );
    let parca_yaml = m.file("parca-broker/0", "/etc/parca/parca.yaml").unwrap();
    assert!(parca_yaml.starts_with("object_storage:"), "{parca_yaml}");
    let unit = m.unit("parca-broker/0").unwrap();
    assert_eq!(unit.systemctl[0], ["daemon-reload"]);
    let _ = bag(&[]);
    let _ = config(json!({}));
}

/// The Python provider's exact databags, from vector `p_custom_job_labels_key_reorder`.
fn python_provider_bags() -> (Databag, Databag) {
    let vectors: Vec<Value> =
        serde_json::from_str(include_str!("vectors/scrape_vectors.json")).unwrap();
    let vector = vectors
        .iter()
        .find(|v| v["name"] == "p_custom_job_labels_key_reorder")
        .unwrap();
    let relation = &vector["output"]["relations"][0];
    let to_bag = |v: &Value| -> Databag { serde_json::from_value(v.clone()).unwrap() };
    (
        to_bag(&relation["app_data"]),
        to_bag(&relation["unit_data"]),
    )
}

/// Databags our own provider writes for `app` with `jobs`.
fn rust_provider_app_bag(app: &str, jobs: Value) -> Databag {
    use parca_broker::interfaces::parca_scrape::ScrapeProvider;
    use parca_broker::interfaces::topology::{JujuTopology, ModelUuid};
    let provider = ScrapeProvider::new(jobs.as_array().unwrap()).unwrap();
    provider.app_databag(&JujuTopology {
        model: "cos".into(),
        model_uuid: ModelUuid::parse("8d5d1f3b-3d4a-4c8e-9a52-6b1f2e7c9d10").unwrap(),
        application: app.into(),
        unit: format!("{app}/0"),
        charm_name: format!("{app}-k8s"),
    })
}

struct World {
    model: Model,
    zinc: u64,
    prov: u64,
    grafana: u64,
    agents: [u64; 2],
    upstream: u64,
}

/// The issue's model: three providers (one writing the Python provider's exact bytes), two
/// agents, an upstream store, and the broker with `broker_units` units. 7 targets: zinc 3 units,
/// prov 2 units, grafana 1 unit plus one fixed address.
fn world(name: &str, broker_units: u32) -> World {
    let mut m = model(name);
    m.deploy_charm("parca-broker", broker_units, Map::new())
        .unwrap();
    for (app, units) in [
        ("zinc", 3),
        ("prov", 2),
        ("grafana", 1),
        ("agent-a", 2),
        ("agent-b", 1),
        ("parca", 1),
    ] {
        m.add_remote_app(app, units).unwrap();
    }
    let zinc = m
        .relate(
            "parca-broker",
            "profiling-endpoint",
            "zinc",
            "profiling-endpoint",
        )
        .unwrap();
    m.set_app_data(zinc, "zinc", rust_provider_app_bag("zinc", json!([
        {"job_name": "zinc", "static_configs": [{"targets": ["*:4080"], "labels": {"team": "search"}}]}
    ]))).unwrap();
    for n in 0..3 {
        let unit = format!("zinc/{n}");
        let address = format!("zinc-{n}.zinc-endpoints.cos.svc.cluster.local");
        m.set_unit_data(
            zinc,
            &unit,
            bag(&[
                ("parca_scrape_unit_address", &address),
                ("parca_scrape_unit_name", &unit),
            ]),
        )
        .unwrap();
    }

    let prov = m
        .relate(
            "parca-broker",
            "profiling-endpoint",
            "prov",
            "profiling-endpoint",
        )
        .unwrap();
    let (python_app, python_unit) = python_provider_bags();
    m.set_app_data(prov, "prov", python_app).unwrap();
    m.set_unit_data(prov, "prov/0", python_unit).unwrap();
    m.set_unit_data(
        prov,
        "prov/1",
        bag(&[
            (
                "parca_scrape_unit_address",
                "prov-1.prov-endpoints.test-model.svc.cluster.local",
            ),
            ("parca_scrape_unit_name", "prov/1"),
        ]),
    )
    .unwrap();

    let grafana = m
        .relate(
            "parca-broker",
            "profiling-endpoint",
            "grafana",
            "profiling-endpoint",
        )
        .unwrap();
    m.set_app_data(grafana, "grafana", rust_provider_app_bag("grafana", json!([
        {"job_name": "grafana", "scheme": "https", "tls_config": {"insecure_skip_verify": true},
         "profiling_config": {"path_prefix": "/grafana"},
         "static_configs": [{"targets": ["*:3000", "grafana.example.com:443"]}]}
    ]))).unwrap();
    m.set_unit_data(
        grafana,
        "grafana/0",
        bag(&[
            ("parca_scrape_unit_address", "fd00::30"),
            ("parca_scrape_unit_name", "grafana/0"),
        ]),
    )
    .unwrap();

    let agents = [
        m.relate(
            "parca-broker",
            "parca-store-endpoint",
            "agent-a",
            "parca-store-endpoint",
        )
        .unwrap(),
        m.relate(
            "parca-broker",
            "parca-store-endpoint",
            "agent-b",
            "parca-store-endpoint",
        )
        .unwrap(),
    ];
    let upstream = m
        .relate(
            "parca-broker",
            "external-parca-store-endpoint",
            "parca",
            "parca-store-endpoint",
        )
        .unwrap();
    m.set_app_data(
        upstream,
        "parca",
        bag(&[
            (
                "remote-store-address",
                "parca-0.parca-endpoints.cos.svc.cluster.local:7993",
            ),
            ("remote-store-bearer-token", "s3cr3t"),
            ("remote-store-insecure", "false"),
        ]),
    )
    .unwrap();
    World {
        model: m,
        zinc,
        prov,
        grafana,
        agents,
        upstream,
    }
}

fn all_ok(m: &Model) {
    for run in m.runs() {
        assert_eq!(run.code, 0, "{} on {}: {}", run.hook, run.unit, run.stderr);
    }
}

#[test]
fn full_model_renders_relays_and_settles() {
    let mut w = world("full", 1);
    all_ok(&w.model);
    let m = &mut w.model;
    let status = m.status("parca-broker/0").unwrap();
    assert_eq!(
        (status.status.as_str(), status.message.as_str()),
        (
            "active",
            "7 targets from 3 apps; parca not run (attach resource parca or set parca-binary)"
        )
    );

    let parca_yaml = m.file("parca-broker/0", "/etc/parca/parca.yaml").unwrap();
    insta::assert_snapshot!("full_model_parca_yaml", parca_yaml);

    // Every databag the broker owns, and the agents' view of the store.
    let mut bags = serde_json::Map::new();
    for (name, id) in [("agent-a", w.agents[0]), ("agent-b", w.agents[1])] {
        bags.insert(
            format!("{name}: broker app bag"),
            json!(m.app_bag(id, "parca-broker")),
        );
        bags.insert(
            format!("{name}: broker unit bag"),
            json!(m.unit_bag(id, "parca-broker/0")),
        );
    }
    for (name, id) in [
        ("zinc", w.zinc),
        ("prov", w.prov),
        ("grafana", w.grafana),
        ("parca", w.upstream),
    ] {
        bags.insert(
            format!("{name}: broker app bag"),
            json!(m.app_bag(id, "parca-broker")),
        );
    }
    insta::assert_snapshot!(
        "full_model_databags",
        serde_json::to_string_pretty(&bags).unwrap()
    );

    // Settled: two more update-status hooks write nothing at all.
    m.update_status("parca-broker").unwrap();
    let before = std::fs::metadata(m.unit_root("parca-broker/0").join("etc/parca/parca.yaml"))
        .unwrap()
        .modified()
        .unwrap();
    let runs = m.update_status("parca-broker").unwrap();
    let calls: Vec<&Vec<String>> = runs[0].context.calls.iter().collect();
    assert!(
        calls.iter().all(|c| c[0] != "relation-set"
            && (c[0] != "systemctl" || c[1..] == ["is-active", "parca-broker.service"])),
        "{calls:?}"
    );
    assert!(
        runs[0].context.systemctl.is_empty(),
        "only asked, nothing changed"
    );
    assert!(runs[0].context.pending_app.is_empty() && runs[0].context.pending_unit.is_empty());
    let after = std::fs::metadata(m.unit_root("parca-broker/0").join("etc/parca/parca.yaml"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(before, after, "parca.yaml not rewritten");
    assert!(
        runs[0].context.logs.iter().any(|l| l
            .message
            .ends_with("0 relation writes, 0 files written, parca.yaml unchanged")),
        "{:?}",
        runs[0].context.logs
    );
}

#[test]
fn agents_receive_the_upstream_store_and_follow_its_changes() {
    let mut w = world("relay", 1);
    let m = &mut w.model;
    let expected = bag(&[
        (
            "remote-store-address",
            "parca-0.parca-endpoints.cos.svc.cluster.local:7993",
        ),
        ("remote-store-bearer-token", "s3cr3t"),
        ("remote-store-insecure", "false"),
    ]);
    for id in w.agents {
        assert_eq!(m.app_bag(id, "parca-broker"), expected);
    }
    m.set_app_data(
        w.upstream,
        "parca",
        bag(&[
            ("remote-store-address", "https://parca.example.com/"),
            ("remote-store-insecure", "false"),
        ]),
    )
    .unwrap();
    let relayed = m.app_bag(w.agents[0], "parca-broker");
    assert_eq!(
        relayed,
        bag(&[
            ("remote-store-address", "parca.example.com:443"),
            ("remote-store-insecure", "false")
        ])
    );
    let store = m
        .run_action("parca-broker/0", "show-store", Map::new())
        .unwrap();
    assert_eq!(store.results["address"], "parca.example.com:443");
    assert_eq!(store.results["token"], "(none)");
    assert!(store.results["source"].starts_with("relation external-parca-store-endpoint:"));

    // Without the upstream relation the agents' data is withdrawn and the unit asks for a store.
    m.remove_relation(w.upstream).unwrap();
    assert!(m.app_bag(w.agents[0], "parca-broker").is_empty());
    assert_eq!(m.status("parca-broker/0").unwrap().status, "blocked");
    // The config fallback takes over.
    m.set_config(
        "parca-broker",
        config(json!({"store-address": "grpc.polarsignals.com:443", "store-token": "tok"})),
    )
    .unwrap();
    assert_eq!(
        m.app_bag(w.agents[1], "parca-broker"),
        bag(&[
            ("remote-store-address", "grpc.polarsignals.com:443"),
            ("remote-store-bearer-token", "tok"),
            ("remote-store-insecure", "false")
        ])
    );
    all_ok(m);
}

#[test]
fn removing_a_unit_or_a_relation_removes_its_targets() {
    let mut w = world("removal", 1);
    let m = &mut w.model;
    m.remove_unit("zinc/2").unwrap();
    let yaml = m.file("parca-broker/0", "/etc/parca/parca.yaml").unwrap();
    assert!(yaml.contains("zinc-1.zinc-endpoints") && !yaml.contains("zinc-2.zinc-endpoints"));
    assert_eq!(
        m.status("parca-broker/0").unwrap().message,
        "6 targets from 3 apps; parca not run (attach resource parca or set parca-binary)"
    );
    m.remove_relation(w.zinc).unwrap();
    let yaml = m.file("parca-broker/0", "/etc/parca/parca.yaml").unwrap();
    assert!(!yaml.contains("zinc"), "{yaml}");
    assert_eq!(
        m.status("parca-broker/0").unwrap().message,
        "4 targets from 2 apps; parca not run (attach resource parca or set parca-binary)"
    );
    all_ok(m);
}

#[test]
fn an_invalid_provider_is_named_in_status_and_others_keep_working() {
    let mut w = world("invalid", 1);
    let m = &mut w.model;
    m.add_remote_app("legacy", 1).unwrap();
    let bad = m
        .relate(
            "parca-broker",
            "profiling-endpoint",
            "legacy",
            "profiling-endpoint",
        )
        .unwrap();
    m.set_app_data(
        bad,
        "legacy",
        bag(&[("scrape_jobs", "not json"), ("scrape_metadata", "{}")]),
    )
    .unwrap();
    all_ok(m);
    let status = m.status("parca-broker/0").unwrap();
    assert_eq!(status.status, "blocked");
    assert!(
        status.message.starts_with(&format!(
            "profiling-endpoint:{bad} (app legacy): scrape_jobs: invalid JSON"
        )),
        "{}",
        status.message
    );
    assert!(
        status.message.ends_with(
            "; 7 targets from 3 apps; parca not run (attach resource parca or set parca-binary)"
        ),
        "{}",
        status.message
    );
    let yaml = m.file("parca-broker/0", "/etc/parca/parca.yaml").unwrap();
    assert!(yaml.contains("zinc-0.zinc-endpoints") && !yaml.contains("legacy"));
    let shown = m
        .run_action("parca-broker/0", "show-config", Map::new())
        .unwrap();
    assert!(shown.results["dropped"].contains("(app legacy)"));
    assert_eq!(shown.results["config"], yaml);
}

#[test]
fn a_failing_hook_discards_its_writes() {
    let mut w = world("failing", 1);
    let m = &mut w.model;
    m.inject_fault(
        "parca-broker/0",
        "status-set",
        1,
        "connection to the controller lost",
    );
    m.set_app_data(
        w.upstream,
        "parca",
        bag(&[
            ("remote-store-address", "new-store:7993"),
            ("remote-store-insecure", "false"),
        ]),
    )
    .unwrap();
    let failed = m.runs().last().unwrap().clone();
    assert_eq!(failed.code, 1);
    assert!(
        failed.stderr.contains("connection to the controller lost"),
        "{}",
        failed.stderr
    );
    assert!(
        !failed.context.pending_app.is_empty(),
        "the hook did try to write"
    );
    assert_eq!(
        m.app_bag(w.agents[0], "parca-broker")["remote-store-address"],
        "parca-0.parca-endpoints.cos.svc.cluster.local:7993",
        "the failed hook's writes were discarded"
    );
    // Juju retries the failed hook before any other (juju.md §5.5).
    m.clear_faults();
    assert_eq!(m.failed_units(), ["parca-broker/0"]);
    let retried = m.retry_failed().unwrap();
    assert_eq!(retried[0].code, 0, "{}", retried[0].stderr);
    assert!(m.failed_units().is_empty());
    assert_eq!(
        m.app_bag(w.agents[0], "parca-broker")["remote-store-address"],
        "new-store:7993"
    );
}

#[test]
fn only_the_leader_writes_app_data_and_a_new_leader_takes_over() {
    let mut w = world("leader", 2);
    all_ok(&w.model);
    let m = &mut w.model;
    let app_writes_by = |m: &Model, unit: &str| {
        m.runs()
            .iter()
            .filter(|r| r.unit == unit)
            .flat_map(|r| r.context.calls.iter())
            .filter(|c| c[0] == "relation-set" && c.iter().any(|a| a == "--app"))
            .count()
    };
    assert!(app_writes_by(m, "parca-broker/0") > 0);
    assert_eq!(
        app_writes_by(m, "parca-broker/1"),
        0,
        "a non-leader never writes app data"
    );
    m.set_leader("parca-broker/1").unwrap();
    m.set_app_data(
        w.upstream,
        "parca",
        bag(&[
            ("remote-store-address", "next:7993"),
            ("remote-store-insecure", "false"),
        ]),
    )
    .unwrap();
    assert_eq!(
        m.app_bag(w.agents[0], "parca-broker")["remote-store-address"],
        "next:7993"
    );
    let old_leader_runs = m
        .runs()
        .iter()
        .rev()
        .take(2)
        .find(|r| r.unit == "parca-broker/0")
        .unwrap();
    assert!(
        old_leader_runs.context.pending_app.is_empty(),
        "the old leader no longer writes app data"
    );
    all_ok(m);
}

#[test]
fn actions_list_targets_with_units_and_labels() {
    let mut w = world("actions", 1);
    let m = &mut w.model;
    let run = m
        .run_action("parca-broker/0", "list-targets", Map::new())
        .unwrap();
    assert_eq!(run.code, 0);
    assert_eq!(run.results["count"], "7");
    let targets = &run.results["targets"];
    assert!(targets.contains("target: \"[fd00::30]:3000\""), "{targets}");
    assert!(targets.contains("unit: zinc/2"), "{targets}");
    assert!(targets.contains("some-key: some-value"), "{targets}");
    let unknown = m
        .run_action("parca-broker/0", "no-such-action", Map::new())
        .unwrap();
    assert_eq!(
        unknown.failed.as_deref(),
        Some("unknown action \"no-such-action\"")
    );
}

#[test]
fn self_profiling_publishes_our_pprof_job_and_warns_on_loopback() {
    let mut m = model("selfprof");
    m.deploy_charm(
        "parca-broker",
        1,
        config(json!({"store-address": "store:7993"})),
    )
    .unwrap();
    m.add_remote_app("parca-k8s", 1).unwrap();
    let id = m
        .relate(
            "parca-broker",
            "self-profiling-endpoint",
            "parca-k8s",
            "profiling-endpoint",
        )
        .unwrap();
    let status = m.status("parca-broker/0").unwrap();
    assert_eq!(status.status, "blocked");
    assert!(
        status
            .message
            .contains("listen-address 127.0.0.1:7075 is loopback"),
        "{}",
        status.message
    );
    m.set_config(
        "parca-broker",
        config(json!({"listen-address": "0.0.0.0:7075"})),
    )
    .unwrap();
    assert_eq!(m.status("parca-broker/0").unwrap().status, "active");
    let app = m.app_bag(id, "parca-broker");
    assert_eq!(
        app["scrape_jobs"],
        r#"[{"static_configs": [{"targets": ["*:7075"]}], "job_name": "parca-broker"}]"#
    );
    assert!(app["scrape_metadata"].starts_with(r#"{"model": "cos", "model_uuid": "8d5d1f3b-"#));
    let unit = m.unit_bag(id, "parca-broker/0");
    assert_eq!(
        unit["parca_scrape_unit_address"], "10.0.0.11",
        "the binding's ingress address"
    );
    assert_eq!(unit["parca_scrape_unit_name"], "parca-broker/0");
    // The listen address is part of the service unit: config-changed restarts the service.
    let calls = &m.unit("parca-broker/0").unwrap().systemctl;
    assert_eq!(
        calls[calls.len() - 3..],
        [
            vec!["daemon-reload".to_owned()],
            vec!["enable".into(), "parca-broker.service".into()],
            vec!["restart".into(), "parca-broker.service".into()]
        ]
    );
    let unit_file = m
        .file("parca-broker/0", "/etc/systemd/system/parca-broker.service")
        .unwrap();
    assert!(
        unit_file.contains("serve --listen 0.0.0.0:7075"),
        "{unit_file}"
    );
    all_ok(&m);
}

#[test]
fn a_prometheus_style_job_is_dropped_with_parcas_reason_and_the_rest_is_written() {
    let mut w = world("parca-rule", 1);
    let m = &mut w.model;
    m.add_remote_app("promstyle", 1).unwrap();
    let id = m
        .relate(
            "parca-broker",
            "profiling-endpoint",
            "promstyle",
            "profiling-endpoint",
        )
        .unwrap();
    m.set_app_data(id, "promstyle", rust_provider_app_bag("promstyle", json!([
        {"job_name": "habit", "scrape_interval": "15s", "scrape_timeout": "10s", "static_configs": [{"targets": ["*:6060"]}]}
    ]))).unwrap();
    let status = m.status("parca-broker/0").unwrap();
    assert_eq!(status.status, "blocked");
    assert!(
        status.message.contains(
            "scrape timeout must be greater than the interval: cos_8d5d1f3b_promstyle_habit"
        ),
        "{}",
        status.message
    );
    let yaml = m.file("parca-broker/0", "/etc/parca/parca.yaml").unwrap();
    assert!(!yaml.contains("promstyle") && yaml.contains("zinc-0.zinc-endpoints"));
    let checked = parca_broker::render::validate::check_yaml(&yaml);
    assert!(checked.is_ok(), "{checked:?}");
    all_ok(m);
}

#[test]
fn base_config_jobs_are_kept_and_http_sd_mode_survives_unit_churn() {
    let mut w = world("base-sd", 1);
    let m = &mut w.model;
    let base = "object_storage:\n  bucket:\n    type: S3\n    config: {bucket: parca, endpoint: 's3:9000'}\nscrape_configs:\n- job_name: cos_8d5d1f3b_zinc_zinc\n  static_configs:\n  - targets: ['legacy:6060']\n";
    let base_path = m
        .unit_root("parca-broker/0")
        .join("etc/parca-broker/base.yaml");
    std::fs::create_dir_all(base_path.parent().unwrap()).unwrap();
    std::fs::write(&base_path, base).unwrap();
    m.set_config(
        "parca-broker",
        config(json!({
            "base-config-file": "/etc/parca-broker/base.yaml",
            "target-discovery": "http-sd",
            "listen-address": "0.0.0.0:7075",
        })),
    )
    .unwrap();
    all_ok(m);
    let yaml = m.file("parca-broker/0", "/etc/parca/parca.yaml").unwrap();
    let status = m.status("parca-broker/0").unwrap();
    assert!(
        yaml.contains("type: S3") && yaml.contains("legacy:6060"),
        "{status:?}\n{yaml}"
    );
    // The base job keeps its name; the relation job with the same name is renamed.
    assert!(
        yaml.contains("- job_name: cos_8d5d1f3b_zinc_zinc\n"),
        "{yaml}"
    );
    assert!(
        yaml.contains("url: http://10.0.0.11:7075/sd/v1/cos_8d5d1f3b_zinc_zinc_"),
        "{yaml}"
    );
    assert!(
        !yaml.contains("zinc-0.zinc-endpoints"),
        "targets are served, not written"
    );
    // Every http_sd URL names a job the service serves (the state file has the same names).
    let state = m
        .file("parca-broker/0", "/var/lib/parca-broker/state.json")
        .unwrap();
    let snapshot: parca_broker::reconcile::snapshot::BrokerSnapshot =
        serde_json::from_str(&state).unwrap();
    let served: Vec<&str> = snapshot.jobs.iter().map(|j| j.name.as_str()).collect();
    let urls: Vec<&str> = yaml
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- url: "))
        .collect();
    assert_eq!(urls.len(), 3, "{yaml}");
    for url in urls {
        let job = url.rsplit("/sd/v1/").next().unwrap();
        assert!(served.contains(&job), "{job} not in {served:?}");
    }
    let before = yaml.clone();
    m.remove_unit("zinc/1").unwrap();
    assert_eq!(
        m.file("parca-broker/0", "/etc/parca/parca.yaml").unwrap(),
        before,
        "unit churn does not rewrite parca.yaml"
    );
}

#[test]
fn store_flags_and_token_file_are_written_for_parca_and_the_agent() {
    let mut w = world("flags", 1);
    let m = &mut w.model;
    let scraper = m
        .file("parca-broker/0", "/etc/parca-broker/parca-scraper.args")
        .unwrap();
    let agent = m
        .file("parca-broker/0", "/etc/parca-broker/parca-agent.args")
        .unwrap();
    insta::assert_snapshot!(
        "store_flags",
        format!("# parca-scraper.args\n{scraper}# parca-agent.args\n{agent}")
    );
    assert_eq!(
        m.file("parca-broker/0", "/etc/parca-broker/store-token")
            .unwrap(),
        "s3cr3t"
    );
    let token = m
        .unit_root("parca-broker/0")
        .join("etc/parca-broker/store-token");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(token).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(!scraper.contains("s3cr3t") && !agent.contains("s3cr3t"));
}

#[test]
fn a_service_that_never_answers_does_not_fail_or_stall_hooks() {
    // Accepts the hooks' notes and never replies.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for socket in listener.incoming() {
            held.push(socket);
        }
    });
    let mut m = model("stuck-service");
    let settings = json!({"listen-address": format!("127.0.0.1:{port}"), "store-address": "s:1"});
    m.deploy_charm("parca-broker", 1, config(settings)).unwrap();
    let started = std::time::Instant::now();
    let runs = m.update_status("parca-broker").unwrap();
    assert_eq!(runs[0].code, 0, "{}", runs[0].stderr);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "bounded by the note's timeouts"
    );
    all_ok(&m);
}

#[test]
fn unsafe_store_settings_are_reported_and_never_relayed_or_written_into_flags() {
    let mut w = world("unsafe-store", 1);
    let m = &mut w.model;
    let unit = "parca-broker/0";
    let good_store = m.app_bag(w.upstream, "parca");
    let relayed = m.app_bag(w.agents[0], "parca-broker");
    assert!(!relayed.is_empty());
    let flag_files = |m: &Model| {
        [
            "/etc/parca-broker/parca-scraper.args",
            "/etc/parca-broker/parca-agent.args",
            "/etc/parca-broker/store-token",
        ]
        .map(|path| m.file(unit, path))
    };
    let files_before = flag_files(m);
    for (key, value) in [
        (
            "remote-store-address",
            "parca.example:7070\n--insecure-skip-verify",
        ),
        ("remote-store-address", "parca.example:7070/api"),
        ("remote-store-address", "parca.example"),
        ("remote-store-address", "parca.example:0"),
        ("remote-store-address", "parca.example:99999"),
        ("remote-store-address", "fd00::1"),
        ("remote-store-address", "{\"address\": \"x\"}"),
        ("remote-store-address", "garbage with spaces"),
        ("remote-store-insecure", "yes"),
        ("remote-store-insecure", "maybe"),
        ("remote-store-bearer-token", "t0k3n\n--insecure"),
    ] {
        let mut bag = good_store.clone();
        bag.insert(key.to_owned(), value.to_owned());
        m.set_app_data(w.upstream, "parca", bag).unwrap();
        let run = m.runs().last().unwrap();
        assert_eq!(run.code, 0, "{key}={value:?}: {}", run.stderr);
        let status = m.status(unit).unwrap();
        assert_eq!(status.status, "blocked", "{key}={value:?}");
        assert!(
            status.message.starts_with(&format!(
                "store from parca (external-parca-store-endpoint:{}) not relayed: {key}",
                w.upstream
            )),
            "{key}={value:?}: {}",
            status.message
        );
        assert_eq!(
            m.app_bag(w.agents[0], "parca-broker"),
            relayed,
            "{key}={value:?}: the agents keep the last good store"
        );
        assert_eq!(flag_files(m), files_before, "{key}={value:?}");
        for file in flag_files(m).into_iter().flatten() {
            assert!(!file.contains("insecure-skip-verify"), "{file}");
        }
        let shown = m
            .run_action(unit, "show-store", Map::new())
            .unwrap()
            .results;
        assert!(!shown.values().any(|v| v.contains("t0k3n")), "{shown:?}");
    }
    // A good store again: relayed and written.
    let mut bag = good_store.clone();
    bag.insert(
        "remote-store-address".to_owned(),
        "store-2.example:7070".to_owned(),
    );
    m.set_app_data(w.upstream, "parca", bag).unwrap();
    assert_eq!(
        m.app_bag(w.agents[0], "parca-broker")["remote-store-address"],
        "store-2.example:7070"
    );
    assert!(
        m.file(unit, "/etc/parca-broker/parca-agent.args")
            .unwrap()
            .contains("--remote-store-address=store-2.example:7070\n")
    );
}

#[test]
fn a_token_over_plaintext_to_a_remote_store_is_refused_unless_allowed() {
    let mut w = world("plaintext-token", 1);
    let m = &mut w.model;
    let unit = "parca-broker/0";
    let relayed = m.app_bag(w.agents[0], "parca-broker");
    let token_file = m.file(unit, "/etc/parca-broker/store-token");
    let mut bag = m.app_bag(w.upstream, "parca");
    bag.insert("remote-store-insecure".to_owned(), "true".to_owned());
    m.set_app_data(w.upstream, "parca", bag.clone()).unwrap();
    let status = m.status(unit).unwrap();
    assert_eq!(status.status, "blocked");
    assert!(
        status.message.contains("not relayed: the bearer token would be sent without TLS to parca-0.parca-endpoints.cos.svc.cluster.local:7993"),
        "{}",
        status.message
    );
    assert!(
        status.message.contains("allow-plaintext-token"),
        "{}",
        status.message
    );
    assert_eq!(m.app_bag(w.agents[0], "parca-broker"), relayed);
    assert_eq!(m.file(unit, "/etc/parca-broker/store-token"), token_file);
    // The same store on loopback, or without a token, is no risk: relayed.
    for (key, value) in [
        ("remote-store-address", Some("127.0.0.1:7070")),
        ("remote-store-bearer-token", None),
    ] {
        let mut safe = bag.clone();
        match value {
            Some(value) => safe.insert(key.to_owned(), value.to_owned()),
            None => safe.remove(key),
        };
        m.set_app_data(w.upstream, "parca", safe.clone()).unwrap();
        assert_eq!(
            m.app_bag(w.agents[0], "parca-broker"),
            safe,
            "{key}={value:?}"
        );
        assert_eq!(m.status(unit).unwrap().status, "active", "{key}={value:?}");
        all_ok(m);
    }
    // The operator allows it: relayed as given.
    m.set_app_data(w.upstream, "parca", bag.clone()).unwrap();
    assert_eq!(m.status(unit).unwrap().status, "blocked");
    m.set_config(
        "parca-broker",
        config(json!({"allow-plaintext-token": true})),
    )
    .unwrap();
    assert_eq!(m.app_bag(w.agents[0], "parca-broker"), bag);
    assert_eq!(m.status(unit).unwrap().status, "active");
    all_ok(m);
}

#[test]
fn a_failing_network_get_falls_back_instead_of_failing_every_hook() {
    let mut w = world("network-get", 1);
    let m = &mut w.model;
    let unit = "parca-broker/0";
    m.inject_fault(
        unit,
        "network-get",
        1,
        "no network config for self-profiling-endpoint",
    );
    // A hook that reads everything (config-changed) with no self-profiling relation: a warning.
    m.set_config("parca-broker", Map::new()).unwrap();
    let run = m.runs().last().unwrap().clone();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.context.logs.iter().any(|l| l.level == "WARNING"
            && l.message
                .contains("network-get self-profiling-endpoint failed")),
        "{:?}",
        run.context.logs
    );
    assert_eq!(m.status(unit).unwrap().status, "active");
    // Related to another Parca: the published address falls back to unit-address.
    m.add_remote_app("parca2", 1).unwrap();
    m.set_config(
        "parca-broker",
        config(json!({"unit-address": "10.9.9.9", "listen-address": "0.0.0.0:7075"})),
    )
    .unwrap();
    let id = m
        .relate(
            "parca-broker",
            "self-profiling-endpoint",
            "parca2",
            "profiling-endpoint",
        )
        .unwrap();
    for run in m.runs().iter().rev().take(2) {
        assert_eq!(run.code, 0, "{}: {}", run.hook, run.stderr);
    }
    assert_eq!(
        m.unit_bag(id, unit)["parca_scrape_unit_address"],
        "10.9.9.9"
    );
    assert_eq!(m.status(unit).unwrap().status, "active");
    // Without unit-address the host name is used, and the unit says why (blocked).
    m.set_config("parca-broker", config(json!({"unit-address": null})))
        .unwrap();
    let status = m.status(unit).unwrap();
    assert_eq!(status.status, "blocked", "{}", status.message);
    assert!(
        status
            .message
            .starts_with("network-get self-profiling-endpoint failed"),
        "{}",
        status.message
    );
}

#[test]
fn a_service_that_died_is_restarted_by_the_next_hook_and_the_status_says_so() {
    let mut w = world("service-died", 1);
    let m = &mut w.model;
    let unit = "parca-broker/0";
    let service = "parca-broker.service";
    assert_eq!(m.unit(unit).unwrap().services[service], "active");
    // Nothing wrong: a hook asks, and changes nothing.
    let run = m.update_status("parca-broker").unwrap().remove(0);
    assert!(
        run.context.systemctl.is_empty(),
        "{:?}",
        run.context.systemctl
    );
    assert!(
        run.context
            .calls
            .iter()
            .any(|c| c[..] == ["systemctl", "is-active", service])
    );

    m.fail_service(unit, service).unwrap();
    let run = m.update_status("parca-broker").unwrap().remove(0);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.context.systemctl, [["restart", service]]);
    assert_eq!(m.unit(unit).unwrap().services[service], "active");
    let status = m.status(unit).unwrap();
    assert_eq!(status.status, "active");
    assert!(
        status
            .message
            .ends_with("parca-broker.service was not running: restarted; parca not run (attach resource parca or set parca-binary)"),
        "{}",
        status.message
    );

    // The restart itself fails: blocked, and the hook after that tries again.
    m.fail_service(unit, service).unwrap();
    m.inject_fault(unit, "systemctl", 1, "Job for parca-broker.service failed");
    m.update_status("parca-broker").unwrap();
    let status = m.status(unit).unwrap().clone();
    assert_eq!(status.status, "blocked");
    assert!(
        status
            .message
            .starts_with("service: systemctl restart parca-broker.service"),
        "{}",
        status.message
    );
    m.clear_faults();
    m.update_status("parca-broker").unwrap();
    assert_eq!(m.unit(unit).unwrap().services[service], "active");
    assert_eq!(m.status(unit).unwrap().status, "active");
    // And a healthy unit settles: no restart, plain status.
    let run = m.update_status("parca-broker").unwrap().remove(0);
    assert!(run.context.systemctl.is_empty());
    assert!(!m.status(unit).unwrap().message.contains("restarted"));
}

#[test]
fn a_relation_or_unit_gone_mid_hook_is_left_out_and_other_read_failures_are_retried() {
    let mut w = world("gone-mid-hook", 1);
    let m = &mut w.model;
    let unit = "parca-broker/0";
    assert_eq!(
        m.status(unit).unwrap().message,
        "7 targets from 3 apps; parca not run (attach resource parca or set parca-binary)"
    );
    let yaml = m.file(unit, "/etc/parca/parca.yaml").unwrap();

    // Juju says a listed unit is gone (it is leaving mid-hook): left out, no report, exit 0.
    m.inject_fault_for(unit, "relation-get", "zinc/1", 1, "permission denied");
    m.set_config("parca-broker", Map::new()).unwrap(); // config-changed reads everything
    let run = m.runs().last().unwrap().clone();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        m.status(unit).unwrap().message,
        "6 targets from 3 apps; parca not run (attach resource parca or set parca-binary)"
    );
    assert!(
        !m.file(unit, "/etc/parca/parca.yaml")
            .unwrap()
            .contains("zinc/1")
    );

    // Any other failure: the hook fails, Juju retries; status and files are untouched.
    m.clear_faults();
    let statuses_before = m.unit(unit).unwrap().statuses.len();
    let yaml_before = m.file(unit, "/etc/parca/parca.yaml").unwrap();
    m.inject_fault_for(unit, "relation-get", "zinc/1", 1, "connection is shut down");
    m.set_config("parca-broker", Map::new()).unwrap();
    let run = m.runs().last().unwrap().clone();
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("connection is shut down"),
        "{}",
        run.stderr
    );
    assert_eq!(m.unit(unit).unwrap().statuses.len(), statuses_before);
    assert_eq!(m.file(unit, "/etc/parca/parca.yaml").unwrap(), yaml_before);
    m.clear_faults();
    for run in m.retry_failed().unwrap() {
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    assert_eq!(
        m.status(unit).unwrap().message,
        "7 targets from 3 apps; parca not run (attach resource parca or set parca-binary)"
    );
    assert_eq!(m.file(unit, "/etc/parca/parca.yaml").unwrap(), yaml);

    // The app bag read says the relation is gone: the whole relation is left out, the others
    // still render.
    m.inject_fault_for(unit, "relation-get", "zinc", 1, "relation not found");
    m.set_config("parca-broker", Map::new()).unwrap();
    let run = m.runs().last().unwrap().clone();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        m.status(unit).unwrap().message,
        "4 targets from 2 apps; parca not run (attach resource parca or set parca-binary)"
    );
    m.clear_faults();
}

#[test]
fn the_service_unit_file_is_as_recorded() {
    let w = world("unit-file", 1);
    let unit = "parca-broker/0";
    let text = w
        .model
        .file(unit, "/etc/systemd/system/parca-broker.service")
        .unwrap();
    let charm_dir = w.model.unit_root(unit).parent().unwrap().join("charm");
    let text = text.replace(&charm_dir.display().to_string(), "<charm-dir>");
    insta::assert_snapshot!("service_unit_file", text);
}
