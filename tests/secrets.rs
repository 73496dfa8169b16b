//! Issue 11, secrets: the store's bearer token (from the upstream relation, or the store-token
//! option) reaches only where it must (the token file Parca reads, the agents' databag as the
//! parca_store protocol has it, the remote-data cache) and never logs, juju-log, status, action
//! output, any process's argv (hook tools and services), the service's API, or any other file.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

mod common;

use parca_broker::simulator::Model;
use serde_json::{Map, Value, json};
use std::path::Path;

const RELATION_TOKEN: &str = "tok-SECRET-7f3a9c";
const CONFIG_TOKEN: &str = "cfg-SECRET-51b2de";

/// Every place a token must not be, as one text per place.
fn haystack(m: &Model, unit: &str, port: u16, actions: &[String]) -> Vec<(String, String)> {
    let mut places = Vec::new();
    for run in m.runs() {
        places.push((
            format!("{} {} stdout/stderr", run.unit, run.hook),
            format!("{}{}", run.stdout, run.stderr),
        ));
        for call in &run.context.calls {
            places.push((format!("{} {} argv", run.unit, run.hook), call.join(" ")));
        }
    }
    let record = m.unit(unit).unwrap();
    for log in &record.logs {
        places.push(("juju-log".into(), log.message.clone()));
    }
    for status in &record.statuses {
        places.push(("status".into(), status.message.clone()));
    }
    for (n, text) in actions.iter().enumerate() {
        places.push((format!("action output {n}"), text.clone()));
    }
    // Files: all but the token file (its purpose) and the cache (remote bags as read, 0600).
    let root = m.unit_root(unit);
    for entry in walk(&root) {
        let name = entry.display().to_string();
        if name.ends_with("store-token") || name.ends_with("remote-cache.json") {
            continue;
        }
        if let Ok(text) = std::fs::read(&entry) {
            places.push((name, String::from_utf8_lossy(&text).into_owned()));
        }
    }
    // The service's API.
    for path in [
        "/",
        "/api/v1/store",
        "/api/v1/status",
        "/api/v1/config",
        "/api/v1/targets",
        "/api/v1/jobs",
        "/metrics",
    ] {
        let body = parca_broker::parca::api::fetch(
            &format!("127.0.0.1:{port}"),
            path,
            std::time::Duration::from_secs(5),
        )
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        places.push((format!("GET {path}"), body));
    }
    // Every running service's argv.
    for pid in record.pids.values() {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        places.push((
            format!("argv of pid {pid}"),
            String::from_utf8_lossy(&cmdline).replace('\0', " "),
        ));
    }
    places
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else if path.is_file() {
            out.push(path);
        }
    }
    out
}

fn assert_absent(places: &[(String, String)], token: &str) {
    let leaks: Vec<&String> = places
        .iter()
        .filter(|(_, text)| text.contains(token))
        .map(|(place, _)| place)
        .collect();
    assert!(leaks.is_empty(), "{token} leaked into: {leaks:?}");
}

#[test]
fn the_bearer_token_goes_only_where_it_must() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("secrets");
    let _ = std::fs::remove_dir_all(&dir);
    let mut m = common::charm_model(&dir);
    m.run_only_services(&["parca-broker.service"]);
    let port = common::free_port();
    let config: Map<String, Value> = json!({
        "listen-address": format!("127.0.0.1:{port}"),
        "parca-binary": "/bin/true",
        "store-address": "store.example:443",
        "store-token": CONFIG_TOKEN,
    })
    .as_object()
    .unwrap()
    .clone();
    m.deploy_charm("parca-broker", 1, config).unwrap();
    let unit = "parca-broker/0";
    let agents = common::relate_agent(&mut m, "agent");
    // The config token is relayed first; then the relation's, which wins.
    assert_eq!(
        m.app_bag(agents, "parca-broker")["remote-store-bearer-token"],
        CONFIG_TOKEN
    );
    let upstream = common::relate_store(&mut m, "store.example:7070", RELATION_TOKEN);
    assert_eq!(
        m.app_bag(agents, "parca-broker")["remote-store-bearer-token"],
        RELATION_TOKEN,
        "relayed to agents, as the protocol has it"
    );
    let token_file =
        std::fs::read_to_string(m.unit_root(unit).join("etc/parca-broker/store-token")).unwrap();
    assert_eq!(
        token_file.trim(),
        RELATION_TOKEN,
        "Parca reads it from its file"
    );
    let mut actions = Vec::new();
    for action in ["list-targets", "show-config", "show-store"] {
        let run = m.run_action(unit, action, Map::new()).unwrap();
        actions.push(format!("{:?} {:?}", run.results, run.failed));
    }
    m.update_status("parca-broker").unwrap();
    // The service reloads its state file on a timer: wait until it shows the relation's store.
    let service = format!("127.0.0.1:{port}");
    common::wait_for(
        "the service to load the relayed store",
        std::time::Duration::from_secs(30),
        || {
            let body = parca_broker::parca::api::fetch(
                &service,
                "/api/v1/store",
                std::time::Duration::from_secs(5),
            )
            .ok()?;
            (body.contains("store.example:7070") && body.contains("<redacted>")).then_some(())
        },
    );
    let places = haystack(&m, unit, port, &actions);
    assert!(
        places.iter().any(|(p, _)| p.starts_with("argv of pid")),
        "the service runs"
    );
    assert_absent(&places, RELATION_TOKEN);
    assert_absent(&places, CONFIG_TOKEN);
    // The search finds it where it is: the cache holds the upstream app bag as read.
    let cache = std::fs::read_to_string(
        m.unit_root(unit)
            .join("var/lib/parca-broker/remote-cache.json"),
    )
    .unwrap();
    assert!(cache.contains(RELATION_TOKEN));

    // Back to the config token: again only where it must be.
    m.remove_relation(upstream).unwrap();
    assert_eq!(
        m.app_bag(agents, "parca-broker")["remote-store-bearer-token"],
        CONFIG_TOKEN
    );
    let places = haystack(&m, unit, port, &actions);
    assert_absent(&places, RELATION_TOKEN);
    assert_absent(&places, CONFIG_TOKEN);
}
