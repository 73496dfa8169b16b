//! The managed Parca under the simulator (services as state; tests/e2e.rs runs them for real):
//! where the binary comes from, the unit file, when Parca restarts and when it does not, what
//! the status says.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

mod common;

use parca_broker::simulator::Model;
use serde_json::{Map, Value, json};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

const UNIT: &str = "parca-broker/0";
const PARCA_UNIT: &str = "/etc/systemd/system/parca.service";

fn model(name: &str) -> (Model, PathBuf) {
    let dir = std::env::temp_dir().join(format!(
        "parca-broker-workload-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let m = Model::new(
        &dir.join("model"),
        Path::new(env!("CARGO_BIN_EXE_dispatch")),
        Path::new(env!("CARGO_BIN_EXE_parca-broker")),
        Path::new(env!("CARGO_MANIFEST_DIR")),
    )
    .unwrap();
    (m, dir)
}

fn config(value: Value) -> Map<String, Value> {
    value.as_object().unwrap().clone()
}

/// `systemctl` calls about parca.service since the `from`th call.
fn parca_calls(m: &Model, from: usize) -> Vec<String> {
    m.unit(UNIT).unwrap().systemctl[from..]
        .iter()
        .filter(|c| c.iter().any(|a| a == "parca.service"))
        .map(|c| c.join(" "))
        .collect()
}

fn calls_so_far(m: &Model) -> usize {
    m.unit(UNIT).unwrap().systemctl.len()
}

fn status(m: &Model) -> (String, String) {
    let s = m.status(UNIT).unwrap();
    (s.status.clone(), s.message.clone())
}

/// The parca.service calls the `stop` and `remove` hooks of `unit` made (each disables it, as
/// for parca-broker.service: idempotent, and `remove` does not rely on `stop` having worked).
fn calls_on_removal(m: &Model, unit: &str) -> Vec<String> {
    m.runs()
        .iter()
        .filter(|r| r.unit == unit && (r.hook == "stop" || r.hook == "remove"))
        .flat_map(|r| r.context.systemctl.iter())
        .filter(|c| c.iter().any(|a| a == "parca.service"))
        .map(|c| c.join(" "))
        .collect()
}

#[test]
fn without_a_binary_nothing_runs_and_the_status_says_how_to_enable_it() {
    let (mut m, dir) = model("none");
    m.deploy_charm("parca-broker", 1, Map::new()).unwrap();
    assert!(m.file(UNIT, PARCA_UNIT).is_none());
    assert!(parca_calls(&m, 0).is_empty());
    assert!(
        status(&m)
            .1
            .ends_with("; parca not run (attach resource parca or set parca-binary)"),
        "{:?}",
        status(&m)
    );
    let state: Value =
        serde_json::from_str(&m.file(UNIT, "/var/lib/parca-broker/state.json").unwrap()).unwrap();
    assert_eq!(state["parca"]["managed"], false);
    assert!(
        state["parca"]["binary"]
            .as_str()
            .unwrap()
            .contains("could not download resource: resource#parca-broker/parca not found"),
        "{state}"
    );
    drop(m);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_resource_or_the_option_runs_parca_restarting_only_when_its_command_line_changes() {
    let (mut m, dir) = model("resource");
    m.deploy_charm("parca-broker", 1, Map::new()).unwrap();
    let upstream = common::relate_store(&mut m, "store.example:7070", "tok");

    // A resource as Juju stores it: without the execute bit.
    let resource = dir.join("parca-resource");
    std::fs::write(&resource, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&resource, std::fs::Permissions::from_mode(0o644)).unwrap();
    let from = calls_so_far(&m);
    m.attach_resource("parca-broker", "parca", &resource)
        .unwrap();
    let unit_file = m.file(UNIT, PARCA_UNIT).unwrap();
    insta::assert_snapshot!(
        "parca_unit_file_with_store",
        unit_file.replace(&resource.display().to_string(), "<resource>")
    );
    assert_eq!(
        std::fs::metadata(&resource).unwrap().permissions().mode() & 0o777,
        0o755,
        "made executable"
    );
    assert_eq!(
        parca_calls(&m, from),
        ["enable parca.service", "restart parca.service"]
    );

    // Nothing changed: no restart, no rewrite.
    let from = calls_so_far(&m);
    m.set_config("parca-broker", config(json!({"store-token": "unused"})))
        .unwrap();
    m.update_status("parca-broker").unwrap();
    assert!(
        parca_calls(&m, from).is_empty(),
        "{:?}",
        parca_calls(&m, from)
    );

    // The option wins over the resource; a missing binary is named and nothing is started.
    let from = calls_so_far(&m);
    m.set_config(
        "parca-broker",
        config(json!({"parca-binary": "/nonexistent/parca"})),
    )
    .unwrap();
    assert_eq!(status(&m).0, "blocked");
    assert!(
        status(&m)
            .1
            .starts_with("parca: /nonexistent/parca does not exist"),
        "{:?}",
        status(&m)
    );
    assert!(parca_calls(&m, from).is_empty());
    let option_binary = dir.join("parca-option");
    std::fs::write(&option_binary, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&option_binary, std::fs::Permissions::from_mode(0o755)).unwrap();
    m.set_config(
        "parca-broker",
        config(json!({"parca-binary": option_binary.display().to_string(), "parca-listen-address": "127.0.0.1:7171"})),
    )
    .unwrap();
    let unit_file = m.file(UNIT, PARCA_UNIT).unwrap();
    assert!(
        unit_file.contains(&format!(
            "ExecStart={} --config-path=/etc/parca/parca.yaml --http-address=127.0.0.1:7171 --mode=scraper-only",
            option_binary.display()
        )),
        "{unit_file}"
    );
    assert_eq!(
        parca_calls(&m, from),
        ["enable parca.service", "restart parca.service"]
    );

    // A new token: Parca reads the file only at start.
    let from = calls_so_far(&m);
    m.set_app_data(
        upstream,
        "store",
        common::store_bag("store.example:7070", "tok2"),
    )
    .unwrap();
    assert_eq!(parca_calls(&m, from), ["restart parca.service"]);

    // It died: the next hook restarts it and says so.
    m.fail_service(UNIT, "parca.service").unwrap();
    let from = calls_so_far(&m);
    m.update_status("parca-broker").unwrap();
    assert_eq!(parca_calls(&m, from), ["restart parca.service"]);
    assert!(
        status(&m)
            .1
            .ends_with("; parca.service was not running: restarted"),
        "{:?}",
        status(&m)
    );

    // The option unset: back to the resource.
    m.set_config("parca-broker", config(json!({"parca-binary": null})))
        .unwrap();
    assert!(
        m.file(UNIT, PARCA_UNIT)
            .unwrap()
            .contains(&format!("ExecStart={} ", resource.display()))
    );

    // Removal stops it.
    m.remove_unit(UNIT).unwrap();
    assert_eq!(
        calls_on_removal(&m, UNIT),
        ["disable --now parca.service"; 2]
    );
    drop(m);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn standalone_without_a_store_and_stopped_on_remove() {
    let (mut m, dir) = model("standalone");
    let binary = dir.join("parca");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(&binary, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).unwrap();
    m.deploy_charm(
        "parca-broker",
        2,
        config(
            json!({"parca-binary": binary.display().to_string(), "parca-storage-memory": 67108864}),
        ),
    )
    .unwrap();
    let unit_file = m.file(UNIT, PARCA_UNIT).unwrap();
    assert!(
        unit_file.contains("--http-address=127.0.0.1:7070 --storage-active-memory=67108864\n"),
        "{unit_file}"
    );
    assert!(!unit_file.contains("--mode"), "{unit_file}");
    m.remove_unit("parca-broker/1").unwrap();
    assert_eq!(
        calls_on_removal(&m, "parca-broker/1"),
        ["disable --now parca.service"; 2]
    );
    drop(m);
    std::fs::remove_dir_all(&dir).unwrap();
}
