//! Issue 9: the incremental reconcile is a full reconcile, read cheaper.
//!
//! A property test drives the charm under the simulator (hooks in process, in Juju's order)
//! through arbitrary sequences of model events: provider units and relations added and removed,
//! provider data changed (valid and invalid), leadership moved, the store changed, config
//! changed, hooks that fail and are retried, the cache deleted or corrupted between hooks. After
//! every event, for every broker unit, a full reconcile of the same model (`config-changed`,
//! which reads everything, planned but not carried out) must find nothing to do: the same
//! parca.yaml bytes, flag files, state file and cache, the same databags, the same status.
//!
//! Also: exact tool-call counts per hook (P1, P3), deterministic, asserted here; timing is in
//! the benchmark (`scripts/bench`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

mod common;

use parca_broker::model::Databag;
use parca_broker::simulator::{HookRun, Model};
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

const BROKER: &str = "parca-broker";
const CACHE: &str = "var/lib/parca-broker/remote-cache.json";

fn model(name: &str) -> Model {
    let dir = std::env::temp_dir().join(format!(
        "parca-broker-incremental-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let mut m = common::charm_model(&dir);
    m.in_process(true);
    m
}

fn provider_app_bag(app: &str, port: u16) -> Databag {
    let jobs =
        json!([{"job_name": "pprof", "static_configs": [{"targets": [format!("*:{port}")]}]}]);
    common::provider_app_bag(app, &jobs)
}

fn unit_bag(unit: &str, address: &str) -> Databag {
    [
        ("parca_scrape_unit_address".to_owned(), address.to_owned()),
        ("parca_scrape_unit_name".to_owned(), unit.to_owned()),
    ]
    .into()
}

fn store_bag(address: &str) -> Databag {
    [
        ("remote-store-address".to_owned(), address.to_owned()),
        ("remote-store-insecure".to_owned(), "false".to_owned()),
        ("remote-store-bearer-token".to_owned(), "t0k3n".to_owned()),
    ]
    .into()
}

/// Provider data a test can send: valid, or broken in a way the consumer must report.
#[derive(Debug, Clone, Copy)]
enum Data {
    Valid(u16),
    InvalidJson,
    Empty,
}

#[derive(Debug, Clone)]
enum Op {
    AddProvider {
        units: u32,
    },
    AddUnit(usize),
    RemoveUnit(usize),
    RemoveRelation(usize),
    SetAppData(usize, Data),
    SetUnitData(usize, usize, Data),
    MoveLeader,
    ChangeStore(u8),
    ToggleDiscovery,
    UpdateStatus,
    DeleteCache(usize),
    CorruptCache(usize),
    /// The op's hooks fail (a tool error), then Juju retries them.
    Failing(Box<Op>),
}

fn data() -> impl Strategy<Value = Data> {
    prop_oneof![
        4 => (7000u16..7004).prop_map(Data::Valid),
        1 => Just(Data::InvalidJson),
        1 => Just(Data::Empty),
    ]
}

fn plain_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (1u32..4).prop_map(|units| Op::AddProvider { units }),
        3 => (0usize..4).prop_map(Op::AddUnit),
        2 => (0usize..4).prop_map(Op::RemoveUnit),
        1 => (0usize..4).prop_map(Op::RemoveRelation),
        2 => ((0usize..4), data()).prop_map(|(a, d)| Op::SetAppData(a, d)),
        3 => ((0usize..4), (0usize..4), data()).prop_map(|(a, u, d)| Op::SetUnitData(a, u, d)),
        1 => Just(Op::MoveLeader),
        1 => (0u8..3).prop_map(Op::ChangeStore),
        1 => Just(Op::ToggleDiscovery),
        2 => Just(Op::UpdateStatus),
        1 => (0usize..2).prop_map(Op::DeleteCache),
        1 => (0usize..2).prop_map(Op::CorruptCache),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => plain_op(),
        1 => plain_op().prop_map(|op| Op::Failing(Box::new(op))),
    ]
}

/// The model under test and what the test knows of it.
struct World {
    model: Model,
    /// Provider app → relation id, in creation order (removed ones dropped).
    providers: Vec<(String, u64)>,
    next_provider: usize,
    upstream: u64,
    http_sd: bool,
    /// Units whose cache the test damaged and that have run no hook since: a full reconcile
    /// rewrites their cache (the damage), which is expected.
    damaged: Vec<String>,
}

impl World {
    fn new(name: &str) -> World {
        let mut m = model(name);
        m.deploy_charm(BROKER, 2, Map::new()).unwrap();
        m.add_remote_app("parca", 1).unwrap();
        m.add_remote_app("agent", 2).unwrap();
        let upstream = m
            .relate(
                BROKER,
                "external-parca-store-endpoint",
                "parca",
                "parca-store-endpoint",
            )
            .unwrap();
        m.set_app_data(upstream, "parca", store_bag("store-0:7070"))
            .unwrap();
        m.relate(
            BROKER,
            "parca-store-endpoint",
            "agent",
            "parca-store-endpoint",
        )
        .unwrap();
        World {
            model: m,
            providers: Vec::new(),
            next_provider: 0,
            upstream,
            http_sd: false,
            damaged: Vec::new(),
        }
    }

    fn provider(&self, index: usize) -> Option<(String, u64)> {
        (!self.providers.is_empty()).then(|| self.providers[index % self.providers.len()].clone())
    }

    fn units_of(&self, app: &str) -> Vec<String> {
        self.model.units(app)
    }

    fn apply(&mut self, op: &Op) {
        let m = &mut self.model;
        match op {
            Op::AddProvider { units } => {
                let app = format!("prov{}", self.next_provider);
                self.next_provider += 1;
                m.add_remote_app(&app, *units).unwrap();
                let id = m
                    .relate(BROKER, "profiling-endpoint", &app, "profiling-endpoint")
                    .unwrap();
                m.set_app_data(id, &app, provider_app_bag(&app, 7000))
                    .unwrap();
                for unit in m.units(&app) {
                    let address = m.unit(&unit).unwrap().address.clone();
                    m.set_unit_data(id, &unit, unit_bag(&unit, &address))
                        .unwrap();
                }
                self.providers.push((app, id));
            }
            Op::AddUnit(index) => {
                if let Some((app, id)) = self.provider(*index) {
                    let m = &mut self.model;
                    let unit = m.add_unit(&app).unwrap();
                    let address = m.unit(&unit).unwrap().address.clone();
                    m.set_unit_data(id, &unit, unit_bag(&unit, &address))
                        .unwrap();
                }
            }
            Op::RemoveUnit(index) => {
                if let Some((app, _)) = self.provider(*index) {
                    let units = self.units_of(&app);
                    if units.len() > 1 {
                        self.model.remove_unit(&units[units.len() - 1]).unwrap();
                    }
                }
            }
            Op::RemoveRelation(index) => {
                if let Some((app, id)) = self.provider(*index) {
                    self.model.remove_relation(id).unwrap();
                    self.providers.retain(|(a, _)| a != &app);
                }
            }
            Op::SetAppData(index, data) => {
                if let Some((app, id)) = self.provider(*index) {
                    let bag = match data {
                        Data::Valid(port) => provider_app_bag(&app, *port),
                        Data::InvalidJson => [
                            ("scrape_jobs".to_owned(), "[{not json".to_owned()),
                            ("scrape_metadata".to_owned(), "{}".to_owned()),
                        ]
                        .into(),
                        Data::Empty => Databag::new(),
                    };
                    self.model.set_app_data(id, &app, bag).unwrap();
                }
            }
            Op::SetUnitData(index, unit_index, data) => {
                if let Some((app, id)) = self.provider(*index) {
                    let units = self.units_of(&app);
                    let unit = &units[unit_index % units.len()];
                    let address = self.model.unit(unit).unwrap().address.clone();
                    let bag = match data {
                        // 7000: a valid unit address; any other port: an address with a port,
                        // which the consumer reports.
                        Data::Valid(7000) => unit_bag(unit, &address),
                        Data::Valid(port) => unit_bag(unit, &format!("{address}:{port}")),
                        Data::InvalidJson => unit_bag(unit, "not an address:"),
                        Data::Empty => Databag::new(),
                    };
                    self.model.set_unit_data(id, unit, bag).unwrap();
                }
            }
            Op::MoveLeader => {
                let units = self.units_of(BROKER);
                let leader = units
                    .iter()
                    .find(|u| !self.model.is_leader(u))
                    .cloned()
                    .unwrap();
                self.model.set_leader(&leader).unwrap();
            }
            Op::ChangeStore(n) => {
                let bag = match n {
                    0 => Databag::new(),
                    n => store_bag(&format!("store-{n}:7070")),
                };
                self.model
                    .set_app_data(self.upstream, "parca", bag)
                    .unwrap();
            }
            Op::ToggleDiscovery => {
                self.http_sd = !self.http_sd;
                let mode = if self.http_sd { "http-sd" } else { "static" };
                let mut changes = Map::new();
                changes.insert("target-discovery".into(), Value::from(mode));
                self.model.set_config(BROKER, changes).unwrap();
            }
            Op::UpdateStatus => {
                self.model.update_status(BROKER).unwrap();
            }
            Op::DeleteCache(unit) => {
                let unit = &self.units_of(BROKER)[unit % 2];
                let _ = std::fs::remove_file(self.model.unit_root(unit).join(CACHE));
                self.damaged.push(unit.clone());
            }
            Op::CorruptCache(unit) => {
                let unit = &self.units_of(BROKER)[unit % 2];
                let path = self.model.unit_root(unit).join(CACHE);
                if let Ok(mut bytes) = std::fs::read(&path) {
                    bytes.truncate(bytes.len() / 2);
                    std::fs::write(&path, bytes).unwrap();
                }
                self.damaged.push(unit.clone());
            }
            Op::Failing(inner) => {
                for unit in self.units_of(BROKER) {
                    self.model.inject_fault(
                        &unit,
                        "status-set",
                        1,
                        "connection to the controller lost",
                    );
                }
                self.apply(inner);
                self.model.clear_faults();
                let retried = self.model.retry_failed().unwrap();
                for run in retried {
                    assert_eq!(run.code, 0, "retry of {}: {}", run.hook, run.stderr);
                }
            }
        }
    }

    /// Every broker unit is what a full reconcile would make it.
    fn assert_equals_full_reconcile(&self, after: &Op) {
        for unit in self.units_of(BROKER) {
            let differences = common::full_reconcile_differences(
                &self.model,
                &unit,
                self.damaged.contains(&unit),
            );
            assert!(
                differences.is_empty(),
                "{unit} after {after:?}:\n  {}",
                differences.join("\n  ")
            );
        }
    }
}

fn all_hooks_ok(runs: &[HookRun]) {
    for run in runs {
        assert_eq!(run.code, 0, "{} on {}: {}", run.hook, run.unit, run.stderr);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, max_shrink_iters: 64, ..ProptestConfig::default() })]

    #[test]
    fn incremental_equals_full_reconcile(ops in prop::collection::vec(op(), 1..14)) {
        let mut world = World::new("prop");
        world.assert_equals_full_reconcile(&Op::UpdateStatus);
        for op in &ops {
            let before = world.model.runs().len();
            world.apply(op);
            let ran: Vec<String> = world.model.runs()[before..].iter().map(|r| r.unit.clone()).collect();
            world.damaged.retain(|unit| !ran.contains(unit));
            if !matches!(op, Op::Failing(_)) {
                all_hooks_ok(&world.model.runs()[before..]);
            }
            world.assert_equals_full_reconcile(op);
        }
    }
}

/// Tool calls made by the last hook run matching `hook` on `unit`.
fn calls_of(runs: &[HookRun], unit: &str, hook: &str) -> Vec<Vec<String>> {
    runs.iter()
        .rev()
        .find(|r| r.unit == unit && r.hook == hook)
        .map(|r| r.context.calls.clone())
        .unwrap_or_default()
}

/// The hook's `reconciled …` summary log line.
fn summary_line(run: &HookRun) -> &str {
    run.context
        .logs
        .iter()
        .find(|l| l.message.contains("reconciled"))
        .map(|l| l.message.as_str())
        .unwrap()
}

fn tools_used(calls: &[Vec<String>]) -> BTreeMap<String, usize> {
    let mut count = BTreeMap::new();
    for call in calls {
        *count.entry(call[0].clone()).or_default() += 1;
    }
    count
}

/// A broker related to one provider of `k` units (all joined), a store and an agent.
fn fan_in(name: &str, k: u32) -> (Model, u64) {
    let mut world = World::new(name);
    world.apply(&Op::AddProvider { units: 1 });
    let (app, id) = world.providers[0].clone();
    for _ in 1..k {
        world.apply(&Op::AddUnit(0));
    }
    assert_eq!(world.model.units(&app).len(), k as usize);
    (world.model, id)
}

#[test]
fn p1_a_unit_hook_costs_the_same_calls_at_any_k() {
    let mut counts = Vec::new();
    for k in [1u32, 10, 100] {
        let (mut m, id) = fan_in(&format!("p1-{k}"), k);
        let unit = format!("prov0/{}", k / 2);
        let address = m.unit(&unit).unwrap().address.clone();
        m.set_unit_data(id, &unit, unit_bag(&unit, &format!("{address}:7001")))
            .unwrap();
        let calls = calls_of(
            m.runs(),
            "parca-broker/0",
            "profiling-endpoint-relation-changed",
        );
        let used = tools_used(&calls);
        assert!(calls.len() <= 12, "K={k}: {} calls: {used:?}", calls.len());
        assert_eq!(
            used.get("relation-get"),
            Some(&2),
            "the unit's bag and the app bag: {used:?}"
        );
        assert_eq!(used.get("relation-list"), Some(&1), "{used:?}");
        assert_eq!(used.get("network-get"), None, "{used:?}");
        counts.push(calls.len());
    }
    assert!(counts.windows(2).all(|w| w[0] == w[1]), "{counts:?}");
}

#[test]
fn p3_fan_in_is_linear_in_calls() {
    let per_unit = |k: u32| {
        let (m, _) = fan_in(&format!("p3-{k}"), k);
        let calls: usize = m
            .runs()
            .iter()
            .filter(|r| {
                r.unit == "parca-broker/0" && r.hook.starts_with("profiling-endpoint-relation-")
            })
            .map(|r| r.context.calls.len())
            .sum();
        calls as f64 / f64::from(k)
    };
    let small = per_unit(10);
    let large = per_unit(100);
    assert!(large <= 25.0, "{large} calls per joining unit at K=100");
    assert!(
        (large - small).abs() <= 2.0,
        "{small} vs {large}: not linear"
    );
}

#[test]
fn update_status_reads_no_relation_data_until_the_cache_is_stale() {
    let (mut m, _) = fan_in("update-status", 20);
    let runs = m.update_status(BROKER).unwrap();
    all_hooks_ok(&runs);
    let used = tools_used(&runs[0].context.calls);
    assert_eq!(used.get("relation-get"), None, "{used:?}");
    assert_eq!(used.get("relation-list"), None, "{used:?}");
    // One per endpoint, the peer relation included: the cache's consistency check.
    assert_eq!(used.get("relation-ids"), Some(&7), "{used:?}");
    assert!(
        runs[0].context.pending_unit.is_empty() && runs[0].context.pending_app.is_empty(),
        "no writes"
    );

    // Age the cache past the bound: the next update-status reads everything once.
    let path = m.unit_root("parca-broker/0").join(CACHE);
    let mut cache: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    cache["full_read_at"] = json!(0);
    std::fs::write(&path, serde_json::to_vec(&cache).unwrap()).unwrap();
    let runs = m.update_status(BROKER).unwrap();
    let used = tools_used(&runs[0].context.calls);
    assert!(
        used.get("relation-get").copied().unwrap_or(0) >= 20,
        "{used:?}"
    );
    let log = runs[0]
        .context
        .logs
        .iter()
        .map(|l| l.message.as_str())
        .collect::<Vec<_>>();
    assert!(
        log.iter()
            .any(|l| l.contains("full read: last full read over")),
        "{log:?}"
    );
    // ... and then it is incremental again.
    let runs = m.update_status(BROKER).unwrap();
    assert_eq!(tools_used(&runs[0].context.calls).get("relation-get"), None);
}

#[test]
fn an_event_that_changes_nothing_writes_nothing() {
    let (mut m, id) = fan_in("p4", 5);
    let before = m.runs().len();
    // The same unit data again: Juju still fires relation-changed.
    let address = m.unit("prov0/2").unwrap().address.clone();
    m.set_unit_data(id, "prov0/2", unit_bag("prov0/2", &address))
        .unwrap();
    m.update_status(BROKER).unwrap();
    m.set_config(BROKER, Map::new()).unwrap();
    for run in &m.runs()[before..] {
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(
            run.context.pending_unit.is_empty(),
            "{}: {:?}",
            run.hook,
            run.context.pending_unit
        );
        assert!(
            run.context.pending_app.is_empty(),
            "{}: {:?}",
            run.hook,
            run.context.pending_app
        );
        assert!(
            run.context.systemctl.is_empty(),
            "{}: {:?}",
            run.hook,
            run.context.systemctl
        );
        let summary = summary_line(run);
        assert!(
            summary.contains("0 files written"),
            "{}: {summary}",
            run.hook
        );
    }
}

#[test]
fn http_sd_unit_churn_never_rewrites_parca_yaml() {
    let (mut m, id) = fan_in("p4-http-sd", 3);
    let mut changes = Map::new();
    changes.insert("target-discovery".into(), json!("http-sd"));
    m.set_config(BROKER, changes).unwrap();
    let yaml = m.file("parca-broker/0", "/etc/parca/parca.yaml").unwrap();
    let before = m.runs().len();
    m.add_unit("prov0").unwrap();
    let unit = m.units("prov0").last().unwrap().clone();
    let address = m.unit(&unit).unwrap().address.clone();
    m.set_unit_data(id, &unit, unit_bag(&unit, &address))
        .unwrap();
    m.remove_unit("prov0/0").unwrap();
    for run in &m.runs()[before..] {
        let summary = summary_line(run);
        assert!(
            summary.ends_with("parca.yaml unchanged"),
            "{}: {summary}",
            run.hook
        );
    }
    assert_eq!(
        m.file("parca-broker/0", "/etc/parca/parca.yaml").unwrap(),
        yaml
    );
}
