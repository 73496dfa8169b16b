//! Scenario tests: the real `parca-broker` binary run as `dispatch` under the Juju simulator
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
        Path::new(env!("CARGO_BIN_EXE_parca-broker")),
        Path::new(env!("CARGO_BIN_EXE_juju-sim-tool")),
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
        ["install", "leader-elected", "config-changed", "start"]
    );
    for run in m.runs() {
        assert_eq!(run.code, 0, "{}: {}", run.hook, run.stderr);
    }
    let status = m.status("parca-broker/0").unwrap();
    assert_eq!(status.status, "blocked");
    assert_eq!(
        status.message,
        "no upstream store: relate external-parca-store-endpoint or set store-address; 0 targets from 0 apps"
    );
    let parca_yaml = m.file("parca-broker/0", "/etc/parca/parca.yaml").unwrap();
    assert!(parca_yaml.starts_with("object_storage:"), "{parca_yaml}");
    let unit = m.unit("parca-broker/0").unwrap();
    assert_eq!(unit.systemctl[0], ["daemon-reload"]);
    let _ = bag(&[]);
    let _ = config(json!({}));
}
