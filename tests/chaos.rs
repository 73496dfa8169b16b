//! Issue 11, chaos under the simulator: a seeded random sequence of model operations (provider
//! and broker units and relations added and removed, leadership moved, config changed, provider
//! and store data changed, valid and hostile, hook tools failing and the hooks retried,
//! upgrades, the broker service dying, the remote-data cache damaged). After every operation:
//! no hook failed unless a tool was made to fail (and then its retry succeeds), only the leader
//! wrote application data, every unit's parca.yaml loads in `check-config`, and a unit whose
//! service died has it running again after its next hook. Every 100 operations and at the end,
//! once settled, every unit equals a fresh full reconcile of the model (nothing to write, the
//! same status).
//!
//! `PARCA_BROKER_CHAOS_OPS` (default 2,000) and `PARCA_BROKER_CHAOS_SEED` (default a fixed
//! seed; failures print the seed) choose the run. Hooks run in process (`Model::in_process`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

mod common;

use parca_broker::model::Databag;
use parca_broker::simulator::{HookRun, Model};
use serde_json::{Map, Value, json};

const BROKER: &str = "parca-broker";
const SERVICE: &str = "parca-broker.service";
const CACHE: &str = "var/lib/parca-broker/remote-cache.json";

/// SplitMix64: small, seeded, the same sequence on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        (!items.is_empty()).then(|| &items[self.below(items.len())])
    }
}

/// Provider app bags: valid ones and a sample of the hostile classes (docs/hostile-inputs.md).
fn provider_bag(app: &str, variant: usize) -> Databag {
    let jobs = |value: Value| common::provider_app_bag(app, &value);
    match variant % 10 {
        0..=3 => jobs(
            json!([{"job_name": "pprof", "static_configs": [{"targets": [format!("*:{}", 7000 + variant % 4)]}]}]),
        ),
        4 => common::bag(&[("scrape_jobs", "[{not json"), ("scrape_metadata", "{}")]),
        5 => jobs(json!([{"static_configs": [{"targets": ["*:0", "h.example:80/debug"]}]}])),
        6 => jobs(
            json!([{"job_name": "l", "static_configs": [{"targets": ["*:7000"], "labels": {"": "x"}}]}]),
        ),
        7 => jobs(
            json!([{"job_name": "t", "scrape_interval": "15s", "scrape_timeout": "10s", "static_configs": [{"targets": ["*:7000"]}]}]),
        ),
        8 => {
            let mut bag = jobs(json!([{"static_configs": [{"targets": ["*:7001"]}]}]));
            bag.insert("scrape_metadata".into(), json!({"model": "cos", "model_uuid": "8d5d1f3b-3d4a-1c8e-9a52-6b1f2e7c9d10", "application": app, "unit": format!("{app}/0"), "charm_name": "c"}).to_string());
            bag
        }
        _ => Databag::new(),
    }
}

fn unit_bag(unit: &str, address: &str) -> Databag {
    common::bag(&[
        ("parca_scrape_unit_address", address),
        ("parca_scrape_unit_name", unit),
    ])
}

fn store_bag(variant: usize) -> Databag {
    match variant % 6 {
        0 => Databag::new(),
        1 | 2 => common::bag(&[
            (
                "remote-store-address",
                &format!("store-{variant}.example:7070"),
            ),
            ("remote-store-bearer-token", "t0k3n"),
            ("remote-store-insecure", "false"),
        ]),
        3 => common::bag(&[(
            "remote-store-address",
            "parca.example:7070\n--insecure-skip-verify",
        )]),
        4 => common::bag(&[
            ("remote-store-address", "store.example:7070"),
            ("remote-store-bearer-token", "t0k3n"),
            ("remote-store-insecure", "true"),
        ]),
        _ => common::bag(&[
            ("remote-store-address", "store.example:7070"),
            ("remote-store-insecure", "maybe"),
        ]),
    }
}

/// Tools a fault can hit, with Juju's messages.
const FAULTS: [(&str, &str); 6] = [
    ("status-set", "connection to the controller lost"),
    ("relation-get", "connection is shut down"),
    ("relation-set", "cannot write relation settings"),
    ("relation-list", "connection is shut down"),
    ("config-get", "connection is shut down"),
    (
        "systemctl",
        "Failed to connect to bus: No such file or directory",
    ),
];

struct Chaos {
    model: Model,
    rng: Rng,
    providers: Vec<(String, u64)>,
    next_provider: usize,
    upstream: u64,
    /// Units whose service died and that have run no hook since.
    killed: Vec<String>,
    /// Units whose cache the test damaged and that have run no hook since.
    damaged: Vec<String>,
    log: Vec<String>,
}

impl Chaos {
    fn new(seed: u64) -> Chaos {
        let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("chaos");
        let _ = std::fs::remove_dir_all(&dir);
        let mut m = common::charm_model(&dir);
        m.in_process(true);
        m.deploy_charm(BROKER, 2, Map::new()).unwrap();
        let upstream = common::relate_store(&mut m, "store-1.example:7070", "t0k3n");
        common::relate_agent(&mut m, "agent");
        Chaos {
            model: m,
            rng: Rng(seed),
            providers: Vec::new(),
            next_provider: 0,
            upstream,
            killed: Vec::new(),
            damaged: Vec::new(),
            log: Vec::new(),
        }
    }

    fn provider(&mut self) -> Option<(String, u64)> {
        self.rng.pick(&self.providers).cloned()
    }

    /// An operation on the provider `app` (relation `id`), by `roll` (10 to 55).
    fn provider_op(&mut self, roll: usize, app: &str, id: u64) -> String {
        let units = self.model.units(app);
        match roll {
            10..=19 if units.len() >= 4 => format!("{app} has 4 units"),
            10..=19 => {
                let m = &mut self.model;
                let unit = m.add_unit(app).unwrap();
                let address = m.unit(&unit).unwrap().address.clone();
                m.set_unit_data(id, &unit, unit_bag(&unit, &address))
                    .unwrap();
                format!("add unit {unit}")
            }
            20..=26 if units.len() > 1 => {
                let unit = &units[units.len() - 1];
                self.model.remove_unit(unit).unwrap();
                format!("remove unit {unit}")
            }
            20..=26 => "keep the last unit".into(),
            27..=30 => {
                self.model.remove_relation(id).unwrap();
                self.providers.retain(|(a, _)| a != app);
                format!("remove relation {id} ({app})")
            }
            31..=45 => {
                let variant = self.rng.below(10);
                self.model
                    .set_app_data(id, app, provider_bag(app, variant))
                    .unwrap();
                format!("app data {app} variant {variant}")
            }
            _ => {
                let unit = self.rng.pick(&units).unwrap().clone();
                let address = self.model.unit(&unit).unwrap().address.clone();
                // Another related provider, whose unit name variant 3 claims (F14).
                let other = self
                    .providers
                    .iter()
                    .map(|(a, _)| a.as_str())
                    .find(|a| *a != app)
                    .unwrap_or("store");
                let variant = self.rng.below(5);
                let bag = match variant {
                    0 | 1 => unit_bag(&unit, &address),
                    2 => unit_bag(&unit, "not an address:"),
                    3 => unit_bag(&format!("{other}/0"), &address),
                    _ => Databag::new(),
                };
                self.model.set_unit_data(id, &unit, bag).unwrap();
                format!("unit data {unit} variant {variant}")
            }
        }
    }

    /// One random operation; returns its name and whether tools were made to fail.
    fn step(&mut self) -> (String, bool) {
        let roll = self.rng.below(100);
        if roll < 8 {
            // A fault on one broker unit's tool for the next operation, then Juju's retry.
            let units = self.model.units(BROKER);
            let unit = self.rng.pick(&units).unwrap().clone();
            let (tool, message) = *self.rng.pick(&FAULTS).unwrap();
            self.model.inject_fault(&unit, tool, 1, message);
            let (inner, _) = self.plain();
            self.model.clear_faults();
            let retried = self.model.retry_failed().unwrap();
            for run in &retried {
                assert_eq!(
                    run.code, 0,
                    "retry of {} on {}: {}",
                    run.hook, run.unit, run.stderr
                );
            }
            return (format!("fault {tool} on {unit} during {inner}"), true);
        }
        self.plain()
    }

    fn plain(&mut self) -> (String, bool) {
        let m = &mut self.model;
        let roll = self.rng.below(100);
        let name = match roll {
            // At most 8 providers of at most 4 units: hooks stay cheap for thousands of ops.
            0..=9 if self.providers.len() >= 8 => "eight providers".into(),
            0..=9 => {
                let app = format!("prov{}", self.next_provider);
                self.next_provider += 1;
                let units = 1 + self.rng.below(3) as u32;
                let m = &mut self.model;
                m.add_remote_app(&app, units).unwrap();
                let id = m
                    .relate(BROKER, "profiling-endpoint", &app, "profiling-endpoint")
                    .unwrap();
                m.set_app_data(id, &app, provider_bag(&app, 0)).unwrap();
                for unit in m.units(&app) {
                    let address = m.unit(&unit).unwrap().address.clone();
                    m.set_unit_data(id, &unit, unit_bag(&unit, &address))
                        .unwrap();
                }
                self.providers.push((app.clone(), id));
                format!("add provider {app}")
            }
            10..=55 => match self.provider() {
                Some((app, id)) => self.provider_op(roll, &app, id),
                None => "no provider".into(),
            },
            56..=60 => {
                let units = m.units(BROKER);
                let next = units.iter().find(|u| !m.is_leader(u)).cloned();
                match next {
                    Some(unit) => {
                        m.set_leader(&unit).unwrap();
                        format!("leader {unit}")
                    }
                    None => "one unit".into(),
                }
            }
            61..=64 => {
                if m.units(BROKER).len() < 4 {
                    let unit = m.add_unit(BROKER).unwrap();
                    format!("add broker {unit}")
                } else {
                    "four brokers".into()
                }
            }
            65..=67 => {
                let units = m.units(BROKER);
                if units.len() > 1 {
                    let unit = units[self.rng.below(units.len())].clone();
                    self.model.remove_unit(&unit).unwrap();
                    self.killed.retain(|u| u != &unit);
                    self.damaged.retain(|u| u != &unit);
                    format!("remove broker {unit}")
                } else {
                    "one broker".into()
                }
            }
            68..=73 => {
                let variant = self.rng.below(6);
                self.model
                    .set_app_data(self.upstream, "store", store_bag(variant))
                    .unwrap();
                format!("store variant {variant}")
            }
            74..=79 => {
                let (key, value) = match self.rng.below(5) {
                    0 => ("target-discovery", json!("http-sd")),
                    1 => ("target-discovery", json!("static")),
                    2 => ("allow-plaintext-token", json!(self.rng.below(2) == 0)),
                    3 => ("store-address", json!("config-store.example:443")),
                    _ => ("store-address", json!("")),
                };
                let mut changes = Map::new();
                changes.insert(key.into(), value.clone());
                self.model.set_config(BROKER, changes).unwrap();
                format!("config {key}={value}")
            }
            80..=84 => {
                self.model.upgrade(BROKER).unwrap();
                "upgrade".into()
            }
            85..=89 => {
                let units = m.units(BROKER);
                let unit = self.rng.pick(&units).unwrap().clone();
                self.model.fail_service(&unit, SERVICE).unwrap();
                self.killed.push(unit.clone());
                format!("kill the service on {unit}")
            }
            90..=92 => {
                let units = m.units(BROKER);
                let unit = self.rng.pick(&units).unwrap().clone();
                let path = self.model.unit_root(&unit).join(CACHE);
                if self.rng.below(2) == 0 {
                    let _ = std::fs::remove_file(&path);
                } else if let Ok(mut bytes) = std::fs::read(&path) {
                    bytes.truncate(bytes.len() / 2);
                    std::fs::write(&path, bytes).unwrap();
                }
                self.damaged.push(unit.clone());
                format!("damage the cache of {unit}")
            }
            _ => {
                self.model.update_status(BROKER).unwrap();
                "update-status".into()
            }
        };
        (name, false)
    }

    /// The invariants after one operation whose hooks are `runs`.
    fn check(&mut self, op: &str, runs: &[HookRun], faulted: bool) {
        for run in runs {
            assert!(
                !run.stderr.contains("panicked"),
                "{op}: {} on {} panicked: {}",
                run.hook,
                run.unit,
                run.stderr
            );
            if !faulted {
                assert_eq!(
                    run.code, 0,
                    "{op}: {} on {}: {}",
                    run.hook, run.unit, run.stderr
                );
            }
            // Application data is written by the leader only. (Leadership moves only between
            // hooks; the simulator refuses a non-leader's write, which would fail the hook.)
            let app_write = run
                .context
                .calls
                .iter()
                .any(|call| call[0] == "relation-set" && call.iter().any(|a| a == "--app"));
            if app_write && run.code == 0 {
                let leader_now = self.model.is_leader(&run.unit);
                let leader_change = op.starts_with("leader") || op.contains("broker");
                assert!(
                    leader_now || leader_change,
                    "{op}: {} on {} (not the leader) wrote app data",
                    run.hook,
                    run.unit
                );
            }
        }
        let ran: Vec<String> = runs.iter().map(|r| r.unit.clone()).collect();
        self.damaged.retain(|unit| !ran.contains(unit));
        for unit in self.model.units(BROKER) {
            if let Some(yaml) = self.model.file(&unit, "/etc/parca/parca.yaml")
                && let Err(problems) = parca_broker::render::validate::check_yaml(&yaml)
            {
                panic!("{op}: {unit}'s parca.yaml is refused: {problems:?}");
            }
            let restarted = runs.iter().any(|r| r.unit == unit && r.code == 0);
            if restarted {
                self.killed.retain(|u| u != &unit);
            }
            let state = self
                .model
                .unit(&unit)
                .unwrap()
                .services
                .get(SERVICE)
                .cloned();
            let ran_here = runs.iter().any(|r| r.unit == unit);
            if faulted && ran_here && state.as_deref() != Some("active") {
                // systemctl itself failed: the hook could not (re)start the service. The
                // status must say so, and the unit's next hook must start it.
                let status = self.model.status(&unit).unwrap();
                assert!(
                    status.message.contains(SERVICE),
                    "{op}: {unit}'s service is {state:?} and the status does not say so: {}",
                    status.message
                );
                if !self.killed.contains(&unit) {
                    self.killed.push(unit.clone());
                }
            }
            if !self.killed.contains(&unit) {
                let state = self
                    .model
                    .unit(&unit)
                    .unwrap()
                    .services
                    .get(SERVICE)
                    .cloned();
                assert_eq!(
                    state.as_deref(),
                    Some("active"),
                    "{op}: {unit}'s service after its hook"
                );
            }
        }
    }

    /// Settles (two update-status hooks on every unit: the first may restart a dead service
    /// and say so, once) and compares every unit with a full reconcile.
    fn assert_settled_equals_full_reconcile(&mut self, at: usize) {
        let before = self.model.runs().len();
        self.model.update_status(BROKER).unwrap();
        self.model.update_status(BROKER).unwrap();
        let runs = self.model.runs()[before..].to_vec();
        self.check("settle", &runs, false);
        for unit in self.model.units(BROKER) {
            let differences = common::full_reconcile_differences(
                &self.model,
                &unit,
                self.damaged.contains(&unit),
            );
            assert!(
                differences.is_empty(),
                "after op {at}, {unit}:\n  {}\nlast ops:\n  {}",
                differences.join("\n  "),
                self.log[self.log.len().saturating_sub(8)..].join("\n  ")
            );
        }
    }
}

#[test]
fn a_seeded_chaos_run_keeps_every_invariant_and_settles_to_a_full_reconcile() {
    let seed = std::env::var("PARCA_BROKER_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_cafe_u64);
    let ops: usize = std::env::var("PARCA_BROKER_CHAOS_OPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2_000);
    eprintln!("chaos: seed {seed}, {ops} operations");
    let mut chaos = Chaos::new(seed);
    let mut hooks = 0;
    let mut failed_hooks = 0;
    for n in 0..ops {
        let before = chaos.model.runs().len();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| chaos.step()));
        let (op, faulted) = match outcome {
            Ok(step) => step,
            Err(panic) => {
                eprintln!("chaos: seed {seed} failed at operation {n}");
                std::panic::resume_unwind(panic)
            }
        };
        let runs = chaos.model.runs()[before..].to_vec();
        hooks += runs.len();
        failed_hooks += runs.iter().filter(|r| r.code != 0).count();
        chaos.log.push(format!("{n}: {op}"));
        let checked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            chaos.check(&op, &runs, faulted);
            if n % 100 == 99 {
                chaos.assert_settled_equals_full_reconcile(n);
            }
        }));
        if let Err(panic) = checked {
            eprintln!("chaos: seed {seed} failed at operation {n} ({op})");
            std::panic::resume_unwind(panic);
        }
    }
    chaos.assert_settled_equals_full_reconcile(ops);
    eprintln!(
        "chaos: seed {seed}: {ops} operations, {hooks} hooks ({failed_hooks} failed on an injected fault and were retried), {} providers at the end, {} broker units",
        chaos.providers.len(),
        chaos.model.units(BROKER).len()
    );
    assert!(hooks > ops, "the operations ran hooks");
    assert!(
        ops < 100 || failed_hooks > 0,
        "no injected fault failed a hook: the retry path was not exercised"
    );
}
