//! Helpers shared by integration tests (each test file that uses them says `mod common;`).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // not every test uses every helper

pub mod generators;

use parca_broker::model::Databag;
use std::path::PathBuf;
use std::process::Command;

/// A simulated model in `dir` whose charm is this crate's binary (also the hook tools).
pub fn charm_model(dir: &std::path::Path) -> parca_broker::simulator::Model {
    parca_broker::simulator::Model::new(
        dir,
        std::path::Path::new(env!("CARGO_BIN_EXE_dispatch")),
        std::path::Path::new(env!("CARGO_BIN_EXE_parca-broker")),
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")),
    )
    .unwrap()
}

/// Polls `probe` every 250 ms until it gives a value; fails the test after `limit`.
pub fn wait_for<T>(
    what: &str,
    limit: std::time::Duration,
    mut probe: impl FnMut() -> Option<T>,
) -> T {
    let start = std::time::Instant::now();
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
}

/// A free TCP port on 127.0.0.1 (free when asked; tests bind it soon after).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A databag from pairs.
pub fn bag(pairs: &[(&str, &str)]) -> Databag {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A provider app bag for `jobs`, written by our own provider code in model `cos`.
pub fn provider_app_bag(app: &str, jobs: &serde_json::Value) -> Databag {
    use parca_broker::interfaces::parca_scrape::ScrapeProvider;
    use parca_broker::interfaces::topology::{JujuTopology, ModelUuid};
    ScrapeProvider::new(jobs.as_array().unwrap())
        .unwrap()
        .app_databag(&JujuTopology {
            model: "cos".into(),
            model_uuid: ModelUuid::parse("8d5d1f3b-3d4a-4c8e-9a52-6b1f2e7c9d10").unwrap(),
            application: app.into(),
            unit: format!("{app}/0"),
            charm_name: format!("{app}-k8s"),
        })
}

/// The real Parca binary: `$PARCA_BROKER_PARCA` (scripts/test sets it), else what
/// `scripts/install-parca` prints (it builds Parca once, about 10 minutes, then reuses it).
/// Tests that need Parca never skip: without it they fail and say how to get it.
pub fn parca_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("PARCA_BROKER_PARCA") {
        return PathBuf::from(path);
    }
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/install-parca");
            let out = Command::new(&script)
                .output()
                .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
            assert!(
                out.status.success(),
                "scripts/install-parca failed (the real Parca is needed; run ./scripts/test): {}",
                String::from_utf8_lossy(&out.stderr)
            );
            PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
        })
        .clone()
}

/// The parca_store provider's app bag: insecure (plaintext) for a loopback store, as the real
/// Parca stores of the tests need; TLS elsewhere (a token is never relayed in clear off-host).
pub fn store_bag(address: &str, token: &str) -> Databag {
    let insecure = if address.starts_with("127.") {
        "true"
    } else {
        "false"
    };
    bag(&[
        ("remote-store-address", address),
        ("remote-store-bearer-token", token),
        ("remote-store-insecure", insecure),
    ])
}

/// Adds a one-unit remote app `app` related on parca-store-endpoint (an agent); its relation id.
pub fn relate_agent(m: &mut parca_broker::simulator::Model, app: &str) -> u64 {
    m.add_remote_app(app, 1).unwrap();
    m.relate(
        "parca-broker",
        "parca-store-endpoint",
        app,
        "parca-store-endpoint",
    )
    .unwrap()
}

/// Adds a remote app `store` related on external-parca-store-endpoint with that bag.
pub fn relate_store(m: &mut parca_broker::simulator::Model, address: &str, token: &str) -> u64 {
    m.add_remote_app("store", 1).unwrap();
    let id = m
        .relate(
            "parca-broker",
            "external-parca-store-endpoint",
            "store",
            "parca-store-endpoint",
        )
        .unwrap();
    m.set_app_data(id, "store", store_bag(address, token))
        .unwrap();
    id
}

/// What a full reconcile of `unit` (planned, not carried out) would still do: files to write
/// (each with its first differing lines), databag writes, service commands, another status.
/// Empty: the unit is what a full reconcile would make it. With `cache_damaged` the remote-data
/// cache is left out (the test damaged it and a full reconcile rewrites it).
pub fn full_reconcile_differences(
    m: &parca_broker::simulator::Model,
    unit: &str,
    cache_damaged: bool,
) -> Vec<String> {
    let plan = m.probe_full_reconcile(unit).unwrap();
    let mut differences = Vec::new();
    for file in &plan.files {
        if cache_damaged && file.path.ends_with("remote-cache.json") {
            continue;
        }
        differences.push(format!("a full reconcile would write {}", file.path));
        let now = m.file(unit, &file.path).unwrap_or_default();
        let now_lines: Vec<&str> = now.lines().collect();
        let full = String::from_utf8_lossy(&file.content).into_owned();
        for (i, line) in full
            .lines()
            .enumerate()
            .filter(|(i, line)| now_lines.get(*i) != Some(line))
            .take(6)
        {
            differences.push(format!(
                "  {}:{i}: now {:?}, full {:?}",
                file.path,
                now_lines.get(i).copied().unwrap_or(""),
                line
            ));
        }
    }
    if !plan.relation_writes.is_empty() {
        differences.push(format!(
            "a full reconcile would write {:?}",
            plan.relation_writes
        ));
    }
    if !plan.service_commands.is_empty() {
        differences.push(format!(
            "a full reconcile would run {:?}",
            plan.service_commands
        ));
    }
    let status = m.status(unit).unwrap();
    if (plan.status.0.as_str(), plan.status.1.as_str())
        != (status.status.as_str(), status.message.as_str())
    {
        differences.push(format!(
            "status {:?} {:?}, a full reconcile says {:?} {:?}",
            status.status, status.message, plan.status.0, plan.status.1
        ));
    }
    differences
}
