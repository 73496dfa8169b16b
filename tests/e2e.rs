//! End to end with real Parca on both sides: a real Parca as the upstream store
//! (`parca::ParcaStore`: mode all, in-memory), the broker charm under the simulator with its
//! services run for real (the charm's parca.service is the real Parca in
//! `--mode=scraper-only`, forwarding to the store; parca-broker.service is the real broker service), and provider units whose targets are real
//! Go programs with net/http/pprof on loopback addresses (127.0.0.x: every 127/8 address is
//! loopback on Linux, so each unit has its own). Asserted through the store's own query API.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

mod common;

use parca_broker::parca::ParcaStore;
use parca_broker::simulator::Model;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A process killed when the test ends, pass or fail.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The Go pprof target (tests/e2e/pprof-target, standard library only), built once.
fn pprof_target_binary() -> PathBuf {
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("pprof-target");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/pprof-target");
    let status = Command::new("go")
        .args(["build", "-o"])
        .arg(&out)
        .arg(".")
        .current_dir(&source)
        .env("GOFLAGS", "-mod=mod")
        .status()
        .expect("go is needed to build the pprof target");
    assert!(status.success(), "go build of {}", source.display());
    out
}

fn pprof_target(binary: &Path, address: &str) -> Proc {
    let child = Command::new(binary)
        .arg(address)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    common::wait_for(
        &format!("pprof target {address}"),
        Duration::from_secs(10),
        || {
            parca_broker::parca::api::fetch(address, "/debug/pprof/", Duration::from_secs(1))
                .is_ok()
                .then_some(())
        },
    );
    Proc(child)
}

/// Every series of goroutine profiles the store holds (one per scraped target): its labels and
/// how many samples it has.
fn store_series(port: u16) -> Vec<(BTreeMap<String, String>, usize)> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let query = format!(
        "/api/profiles/query_range?query=goroutine%3Agoroutine%3Acount%3Agoroutine%3Acount%7B%7D&start={}&end={}&step=10s",
        parca_broker::service::page::rfc3339(now - 600),
        parca_broker::service::page::rfc3339(now + 60)
    );
    let Ok(body) = parca_broker::parca::api::fetch(
        &format!("127.0.0.1:{port}"),
        &query,
        Duration::from_secs(5),
    ) else {
        return Vec::new();
    };
    let value: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    value["series"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|series| {
            let labels = series["labelset"]["labels"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|l| {
                    (
                        l["name"].as_str().unwrap_or_default().to_owned(),
                        l["value"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect();
            let samples = series["samples"].as_array().map_or(0, Vec::len);
            (labels, samples)
        })
        .collect()
}

/// The units the store has profiles from, with their Juju labels.
fn units_in_store(port: u16) -> BTreeMap<String, (String, String)> {
    store_series(port)
        .into_iter()
        .filter_map(|(labels, _)| {
            Some((
                labels.get("juju_unit")?.clone(),
                (
                    labels.get("juju_model").cloned().unwrap_or_default(),
                    labels.get("juju_application").cloned().unwrap_or_default(),
                ),
            ))
        })
        .collect()
}

fn relate_provider(m: &mut Model, app: &str, port: u16, units: &[(&str, &str)]) -> u64 {
    let id = m
        .relate(
            "parca-broker",
            "profiling-endpoint",
            app,
            "profiling-endpoint",
        )
        .unwrap();
    let jobs =
        json!([{"static_configs": [{"targets": [format!("*:{port}")]}], "scrape_interval": "2s"}]);
    m.set_app_data(id, app, common::provider_app_bag(app, &jobs))
        .unwrap();
    for (unit, address) in units {
        m.set_unit_data(
            id,
            unit,
            common::bag(&[
                ("parca_scrape_unit_address", address),
                ("parca_scrape_unit_name", unit),
            ]),
        )
        .unwrap();
    }
    id
}

/// Runs update-status until the unit's status message contains `needle` (Parca's view is read
/// by the hook, and Parca scrapes on its own schedule).
fn wait_for_status(m: &mut Model, unit: &str, needle: &str) -> String {
    common::wait_for(
        &format!("{needle:?} in the status"),
        Duration::from_secs(30),
        || {
            m.update_status("parca-broker").unwrap();
            let message = m.status(unit).unwrap().message.clone();
            message.contains(needle).then_some(message)
        },
    )
}

#[test]
fn profiles_flow_from_real_targets_through_the_charms_parca_to_a_real_store() {
    let dir = std::env::temp_dir().join(format!("parca-broker-e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = ParcaStore::start(&common::parca_binary(), &dir.join("store")).unwrap();
    let store_port = store.address.port();
    let target = pprof_target_binary();
    let target_port = common::free_port();
    let _api0 = pprof_target(&target, &format!("127.0.0.2:{target_port}"));
    let api1 = pprof_target(&target, &format!("127.0.0.3:{target_port}"));
    let _worker0 = pprof_target(&target, &format!("127.0.0.4:{target_port}"));
    // api/2 at 127.0.0.5 runs nothing: a dead target.

    let mut m = Model::new(
        &dir.join("model"),
        Path::new(env!("CARGO_BIN_EXE_dispatch")),
        Path::new(env!("CARGO_BIN_EXE_parca-broker")),
        Path::new(env!("CARGO_MANIFEST_DIR")),
    )
    .unwrap();
    m.run_services(true);
    let parca_port = common::free_port();
    let broker_port = common::free_port();
    let config: Map<String, Value> = json!({
        "parca-binary": common::parca_binary().display().to_string(),
        "parca-listen-address": format!("127.0.0.1:{parca_port}"),
        "listen-address": format!("127.0.0.1:{broker_port}"),
    })
    .as_object()
    .unwrap()
    .clone();
    m.deploy_charm("parca-broker", 1, config).unwrap();
    let unit = "parca-broker/0";
    let broker_pid = m.service_pid(unit, "parca-broker.service");
    assert!(broker_pid.is_some(), "the broker service runs for real");

    m.add_remote_app("api", 3).unwrap();
    relate_provider(
        &mut m,
        "api",
        target_port,
        &[
            ("api/0", "127.0.0.2"),
            ("api/1", "127.0.0.3"),
            ("api/2", "127.0.0.5"),
        ],
    );
    let store_address = format!("127.0.0.1:{store_port}");
    let upstream = common::relate_store(&mut m, &store_address, "first-token");

    let unit_file = m.file(unit, "/etc/systemd/system/parca.service").unwrap();
    assert!(
        unit_file.contains(&format!(
            "--mode=scraper-only --store-address=127.0.0.1:{store_port} --bearer-token-file=/etc/parca-broker/store-token --insecure"
        )),
        "{unit_file}"
    );
    let scraper_pid = m.service_pid(unit, "parca.service").expect("parca runs");

    // Profiles of every live target arrive in the store with the Juju labels; none of api/2.
    let found = common::wait_for(
        "api/0 and api/1 in the store",
        Duration::from_secs(60),
        || {
            let units = units_in_store(store_port);
            (units.contains_key("api/0") && units.contains_key("api/1")).then_some(units)
        },
    );
    assert_eq!(found["api/0"], ("cos".to_owned(), "api".to_owned()));
    // Each profile names the broker unit whose Parca scraped it.
    assert!(
        store_series(store_port)
            .iter()
            .all(|(labels, _)| labels.get("parca_scraper").map(String::as_str) == Some(unit)),
        "{:?}",
        store_series(store_port)
    );
    assert_eq!(found["api/1"], ("cos".to_owned(), "api".to_owned()));
    assert!(!found.contains_key("api/2"), "{found:?}");

    // The hook reads Parca's own view: 2 of 3 targets healthy.
    let status = wait_for_status(&mut m, unit, "parca scraping 2/3 targets");
    // A hook that does not read Parca (an action) keeps what the last one saw (the cache).
    m.run_action(unit, "list-targets", Map::new()).unwrap();
    assert!(
        m.status(unit)
            .unwrap()
            .message
            .ends_with("; parca scraping 2/3 targets"),
        "{:?}",
        m.status(unit)
    );
    assert_eq!(m.status(unit).unwrap().status, "active", "{status}");
    let state: Value =
        serde_json::from_str(&m.file(unit, "/var/lib/parca-broker/state.json").unwrap()).unwrap();
    assert_eq!(state["parca"]["managed"], true);
    assert_eq!(state["parca"]["mode"], "scraper-only");

    // Model changes that only change parca.yaml: Parca reloads it, no restart.
    m.remove_unit("api/1").unwrap();
    drop(api1);
    m.add_remote_app("worker", 1).unwrap();
    relate_provider(&mut m, "worker", target_port, &[("worker/0", "127.0.0.4")]);
    assert_eq!(m.service_pid(unit, "parca.service"), Some(scraper_pid));
    let yaml = m.file(unit, "/etc/parca/parca.yaml").unwrap();
    assert!(
        yaml.contains("worker/0") && !yaml.contains("api/1"),
        "{yaml}"
    );
    let found = common::wait_for("worker/0 in the store", Duration::from_secs(60), || {
        let units = units_in_store(store_port);
        units.contains_key("worker/0").then_some(units)
    });
    assert_eq!(found["worker/0"], ("cos".to_owned(), "worker".to_owned()));
    let status = wait_for_status(&mut m, unit, "parca scraping 2/3 targets");
    assert!(status.starts_with("3 targets from 2 apps"), "{status}");

    // A new token: Parca reads the token file only at start, so it restarts, and forwards on.
    m.set_app_data(
        upstream,
        "store",
        common::store_bag(&store_address, "second-token"),
    )
    .unwrap();
    assert_eq!(
        m.file(unit, "/etc/parca-broker/store-token").unwrap(),
        "second-token"
    );
    let restarted = m.service_pid(unit, "parca.service").unwrap();
    assert_ne!(restarted, scraper_pid, "a new token restarts the scraper");
    // The old process is gone (restart waited for it): new samples come from the new one.
    let samples = |unit: &str| {
        store_series(store_port)
            .into_iter()
            .filter(|(labels, _)| labels.get("juju_unit").map(String::as_str) == Some(unit))
            .map(|(_, samples)| samples)
            .sum::<usize>()
    };
    let before = samples("worker/0");
    common::wait_for(
        "profiles after the restart",
        Duration::from_secs(60),
        || (samples("worker/0") > before).then_some(()),
    );

    // The broker service shows Parca's view of each target beside its own probe.
    let api = format!("127.0.0.1:{broker_port}");
    let target_view = common::wait_for(
        "parca's view on the service",
        Duration::from_secs(60),
        || {
            let body =
                parca_broker::parca::api::fetch(&api, "/api/v1/targets", Duration::from_secs(2))
                    .ok()?;
            let targets: Value = serde_json::from_str(&body).ok()?;
            let worker = targets
                .as_array()?
                .iter()
                .find(|t| t["unit"] == "worker/0")?
                .clone();
            (worker["parca"]["health"] == "good").then_some(worker)
        },
    );
    assert_eq!(target_view["parca"]["labels"]["juju_unit"], "worker/0");
    let page = parca_broker::parca::api::fetch(&api, "/", Duration::from_secs(2)).unwrap();
    assert!(
        page.contains("id=\"parca\"") && page.contains("scraper-only"),
        "{page}"
    );

    // The broker service never restarted through all this.
    assert_eq!(m.service_pid(unit, "parca-broker.service"), broker_pid);
    drop(m);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 12: two broker units, each with its own real Parca scraper (`--mode=scraper-only`,
/// `--external-label=parca_scraper=<unit>`), forwarding to one real store. The simulator gives
/// each unit its own loopback address (its stand-in for a machine), so both units' services
/// bind the configured ports. Every live target's profiles arrive exactly once: one scraper
/// label per target, the one rendezvous hashing names.
#[test]
fn two_broker_units_split_the_targets_and_every_target_is_scraped_once() {
    use parca_broker::reconcile::plan::shard;
    let dir = std::env::temp_dir().join(format!("parca-broker-e2e-two-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let store = ParcaStore::start(&common::parca_binary(), &dir.join("store")).unwrap();
    let store_port = store.address.port();
    let target = pprof_target_binary();
    let target_port = common::free_port();
    let units: Vec<(String, String)> = (0..6)
        .map(|n| (format!("api/{n}"), format!("127.0.0.{}", 2 + n)))
        .collect();
    let _targets: Vec<Proc> = units
        .iter()
        .map(|(_, address)| pprof_target(&target, &format!("{address}:{target_port}")))
        .collect();

    let mut m = Model::new(
        &dir.join("model"),
        Path::new(env!("CARGO_BIN_EXE_dispatch")),
        Path::new(env!("CARGO_BIN_EXE_parca-broker")),
        Path::new(env!("CARGO_MANIFEST_DIR")),
    )
    .unwrap();
    m.run_services(true);
    m.machine_loopback(true);
    let parca_port = common::free_port();
    let broker_port = common::free_port();
    let config: Map<String, Value> = json!({
        "parca-binary": common::parca_binary().display().to_string(),
        "parca-listen-address": format!("127.0.0.1:{parca_port}"),
        "listen-address": format!("127.0.0.1:{broker_port}"),
    })
    .as_object()
    .unwrap()
    .clone();
    m.deploy_charm("parca-broker", 2, config).unwrap();
    let brokers = ["parca-broker/0", "parca-broker/1"];
    for broker in brokers {
        let loopback = m.loopback_of(broker).unwrap();
        let unit_file = m.file(broker, "/etc/systemd/system/parca.service").unwrap();
        assert!(
            unit_file.contains(&format!("--http-address={loopback}:{parca_port}")),
            "{unit_file}"
        );
    }
    m.add_remote_app("api", 6).unwrap();
    let pairs: Vec<(&str, &str)> = units
        .iter()
        .map(|(u, a)| (u.as_str(), a.as_str()))
        .collect();
    relate_provider(&mut m, "api", target_port, &pairs);
    common::relate_store(&mut m, &format!("127.0.0.1:{store_port}"), "token");
    for broker in brokers {
        assert!(m.service_pid(broker, "parca.service").is_some(), "{broker}");
        assert!(
            m.service_pid(broker, "parca-broker.service").is_some(),
            "{broker}"
        );
    }

    // Who should scrape what: rendezvous over both units (shard.rs), per target.
    let parca_yaml = m.file(brokers[0], "/etc/parca/parca.yaml").unwrap();
    let job = parca_yaml
        .lines()
        .find_map(|l| l.trim().strip_prefix("- job_name: "))
        .unwrap()
        .trim_matches(['\'', '"'])
        .to_owned();
    let members: Vec<String> = brokers.iter().map(|b| (*b).to_owned()).collect();
    let expected: BTreeMap<String, String> = units
        .iter()
        .map(|(unit, address)| {
            let target = format!("{address}:{target_port}");
            let owner = shard::owner(&members, &job, &target).unwrap().to_owned();
            (unit.clone(), owner)
        })
        .collect();

    // Every target arrives in the store, scraped by exactly one broker unit: its owner.
    let scrapers = common::wait_for(
        "all six targets in the store",
        Duration::from_secs(90),
        || {
            let mut scrapers: BTreeMap<String, std::collections::BTreeSet<String>> =
                BTreeMap::new();
            for (labels, _) in store_series(store_port) {
                if let (Some(unit), Some(scraper)) =
                    (labels.get("juju_unit"), labels.get("parca_scraper"))
                {
                    scrapers
                        .entry(unit.clone())
                        .or_default()
                        .insert(scraper.clone());
                }
            }
            (scrapers.len() == units.len()).then_some(scrapers)
        },
    );
    for (unit, owner) in &expected {
        let seen: Vec<&String> = scrapers[unit].iter().collect();
        assert_eq!(seen, [owner], "{unit}: scraped by {seen:?}, owner {owner}");
    }
    let used: std::collections::BTreeSet<&String> = expected.values().collect();
    eprintln!(
        "two scrapers: {} targets, owners {:?}",
        expected.len(),
        expected
    );
    // Each unit's status says its share; the shares add up to all targets.
    let mut total = 0;
    for broker in brokers {
        m.update_status("parca-broker").unwrap();
        let message = m.status(broker).unwrap().message.clone();
        let share = message
            .split("; shard: ")
            .nth(1)
            .and_then(|s| s.split(' ').next())
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or_else(|| panic!("{broker}: {message}"));
        assert_eq!(
            share,
            expected.values().filter(|o| *o == broker).count(),
            "{message}"
        );
        total += share;
    }
    assert_eq!(total, units.len());
    assert!(!used.is_empty());
}
