//! A faithful Juju simulator for tests and the demo (juju.md Appendix A).
//!
//! [`Model`] models applications, units, relations and leadership. Applications deployed with
//! [`Model::deploy_charm`] run the real charm binary as `dispatch` for every hook, in the order
//! Juju would (juju.md §5), with a cleared environment holding only Juju's variables. The hook
//! tools are real executables on `PATH` (the broker binary under each tool's name, see [`tool`]) that read and
//! update a per-hook context file; buffered writes are committed only when the hook exits 0.
//! Other applications are "remote" apps whose databags tests set directly.

pub mod context;
mod in_process;
pub mod secrets;
pub mod services;
pub mod tool;

use crate::model::Databag;
use context::{CtxAction, CtxRelation, Fault, HookContext, LogEntry, StatusEntry};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The Juju version the simulator claims to be.
pub const JUJU_VERSION: &str = "3.6.8";
/// The keys Juju puts into every unit's own bag when it enters a relation.
pub const AUTO_KEYS: [&str; 3] = ["egress-subnets", "ingress-address", "private-address"];

/// A simulator setup or usage error (a bug in the test, not in the charm).
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// File system trouble in the sandbox.
    #[error("simulator I/O: {0}")]
    Io(#[from] std::io::Error),
    /// Bad metadata or config files.
    #[error("simulator: {0}")]
    Setup(String),
    /// A call that does not fit the model (unknown app, undeclared endpoint or option).
    #[error("simulator: {0}")]
    Usage(String),
}

type Result<T> = std::result::Result<T, SimError>;

#[derive(Debug, Clone, Deserialize, Default)]
struct EndpointMeta {
    interface: String,
    #[serde(default)]
    limit: Option<u32>,
}

#[derive(Debug, Clone, Deserialize, Default)]
struct CharmMeta {
    name: String,
    #[serde(default)]
    requires: BTreeMap<String, EndpointMeta>,
    #[serde(default)]
    provides: BTreeMap<String, EndpointMeta>,
    #[serde(default)]
    resources: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    peers: BTreeMap<String, EndpointMeta>,
}

#[derive(Debug, Clone, Deserialize)]
struct OptionMeta {
    #[serde(default)]
    default: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize, Default)]
struct ConfigMeta {
    #[serde(default)]
    options: BTreeMap<String, OptionMeta>,
}

/// One unit's record.
#[derive(Debug, Clone, Default)]
pub struct UnitRecord {
    /// Its address (auto keys, network-get).
    pub address: String,
    /// Status history.
    pub statuses: Vec<StatusEntry>,
    /// `juju-log` lines.
    pub logs: Vec<LogEntry>,
    /// Server-side state.
    pub state: Databag,
    /// `systemctl` calls.
    pub systemctl: Vec<Vec<String>>,
    /// systemd units → state (`active`, `inactive`, `failed`).
    pub services: BTreeMap<String, String>,
    /// Services run for real → their process ids.
    pub pids: BTreeMap<String, u32>,
}

#[derive(Debug, Clone)]
struct App {
    charm: Option<CharmMeta>,
    config_defaults: Map<String, Value>,
    config: Map<String, Value>,
    units: BTreeMap<u32, UnitRecord>,
    next_unit: u32,
    leader: Option<u32>,
    /// Attached resources: name → file.
    resources: BTreeMap<String, PathBuf>,
}

#[derive(Debug, Clone)]
struct End {
    app: String,
    endpoint: String,
}

#[derive(Debug, Clone)]
struct Relation {
    ends: [End; 2],
    /// A peer relation: both ends are the same application's endpoint.
    peer: bool,
    app_bags: BTreeMap<String, Databag>,
    unit_bags: BTreeMap<String, Databag>,
    /// Per local unit: the remote units it has seen join (and not depart).
    seen: BTreeMap<String, BTreeSet<String>>,
}

impl Relation {
    fn end_of(&self, app: &str) -> Option<(&End, &End)> {
        match &self.ends {
            [a, b] if a.app == app => Some((a, b)),
            [a, b] if b.app == app => Some((b, a)),
            _ => None,
        }
    }
}

/// One hook or action run.
#[derive(Debug, Clone)]
pub struct HookRun {
    /// The unit.
    pub unit: String,
    /// `install`, `profiling-endpoint-relation-changed`, `actions/list-targets`, …
    pub hook: String,
    /// Exit code (-1 if killed by a signal).
    pub code: i32,
    /// stdout of `dispatch`.
    pub stdout: String,
    /// stderr of `dispatch`.
    pub stderr: String,
    /// The context after the hook (tool calls, pending writes, logs).
    pub context: HookContext,
    /// Wall time of the hook, tool calls included.
    pub elapsed: std::time::Duration,
}

/// The outcome of an action.
#[derive(Debug, Clone)]
pub struct ActionRun {
    /// `action-set` results.
    pub results: BTreeMap<String, String>,
    /// `action-fail` message.
    pub failed: Option<String>,
    /// Exit code of `dispatch`.
    pub code: i32,
}

#[derive(Debug, Clone)]
struct HookSpec {
    name: String,
    relation: Option<u64>,
    /// Our endpoint and the remote app of `relation`, fixed at the first run so that a retried
    /// hook of a relation removed since (broken) still gets its environment.
    relation_env: Option<(String, String)>,
    remote_unit: Option<String>,
    departing: Option<String>,
    broken: bool,
    action: Option<CtxAction>,
    /// `secret-changed`: the secret's URI (`JUJU_SECRET_ID`).
    secret: Option<String>,
}

impl HookSpec {
    fn plain(name: &str) -> Self {
        HookSpec {
            name: name.to_owned(),
            relation: None,
            relation_env: None,
            remote_unit: None,
            departing: None,
            broken: false,
            action: None,
            secret: None,
        }
    }
}

/// A simulated model.
#[derive(Debug)]
pub struct Model {
    /// Model name.
    pub name: String,
    /// Model UUID (canonical v4).
    pub uuid: String,
    dir: PathBuf,
    charm_binary: PathBuf,
    /// The full `parca-broker` binary: the hook tools, and the service beside `dispatch`.
    full_binary: PathBuf,
    charm_source: PathBuf,
    tools_dir: PathBuf,
    apps: BTreeMap<String, App>,
    relations: BTreeMap<u64, Relation>,
    next_relation_id: u64,
    next_address: u32,
    runs: Vec<HookRun>,
    faults: BTreeMap<(String, String), Fault>,
    /// Per unit: the hooks that failed, in order, to be retried (juju.md §5.5). Juju would not
    /// run later hooks of that unit until the retry succeeds; the simulator runs them (they see
    /// the same model) and queues each one that fails, so [`Model::retry_failed`] replays the
    /// failed ones in order.
    failed: BTreeMap<String, Vec<HookSpec>>,
    /// Run hooks in this process instead of as the `dispatch` binary (see [`Model::in_process`]).
    in_process: bool,
    /// Services whose `systemctl start` runs the unit's ExecStart (see [`Model::run_services`]):
    /// `None` none, `Some(empty)` all, else those named.
    real_services: Option<BTreeSet<String>>,
    /// Give every charm unit its own loopback address (see [`Model::machine_loopback`]).
    machine_loopback: bool,
    /// Juju secrets by xid (`secrets.rs`).
    secrets: BTreeMap<String, secrets::SimSecret>,
    /// Secrets made so far (new xids).
    next_secret: u64,
}

/// Services run for real end with the model (as a machine's processes end with the machine).
impl Drop for Model {
    fn drop(&mut self) {
        for app in self.apps.values() {
            for record in app.units.values() {
                for pid in record.pids.values() {
                    services::stop(*pid);
                }
            }
        }
    }
}

impl Model {
    /// A model in a fresh sandbox under `dir`. `charm_binary` becomes every charm unit's
    /// `dispatch` (the charm ships src/bin/dispatch.rs's binary; the full `parca-broker` runs
    /// hooks too); `tool_binary`, the full `parca-broker` binary, is linked under every hook
    /// tool name and, as in the charm, beside `dispatch` as the service's binary;
    /// `charm_source` holds `metadata.yaml` and `charm/config.yaml`.
    pub fn new(
        dir: &Path,
        charm_binary: &Path,
        tool_binary: &Path,
        charm_source: &Path,
    ) -> Result<Model> {
        std::fs::create_dir_all(dir)?;
        let tools_dir = dir.join("tools");
        std::fs::create_dir_all(&tools_dir)?;
        for tool in tool::TOOLS {
            let link = tools_dir.join(tool);
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink(tool_binary, &link)?;
        }
        Ok(Model {
            name: "cos".into(),
            uuid: "8d5d1f3b-3d4a-4c8e-9a52-6b1f2e7c9d10".into(),
            dir: dir.to_owned(),
            charm_binary: charm_binary.to_owned(),
            full_binary: tool_binary.to_owned(),
            charm_source: charm_source.to_owned(),
            tools_dir,
            apps: BTreeMap::new(),
            relations: BTreeMap::new(),
            next_relation_id: 3,
            next_address: 10,
            runs: Vec::new(),
            faults: BTreeMap::new(),
            failed: BTreeMap::new(),
            in_process: false,
            real_services: None,
            machine_loopback: false,
            secrets: BTreeMap::new(),
            next_secret: 0,
        })
    }

    fn new_address(&mut self) -> String {
        self.next_address += 1;
        let n = self.next_address;
        format!("10.{}.{}.{}", (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff)
    }

    /// Runs every later hook inside this process (the charm's `reconcile::run` with the hook
    /// tools answered from memory) instead of executing `dispatch` and one process per tool
    /// call. Same environment, same tool semantics, same commit rule; for property tests and
    /// for measuring a hook without the cost of process starts. Off by default.
    pub fn in_process(&mut self, on: bool) {
        self.in_process = on;
    }

    /// From now on, `systemctl start`/`restart` in a charm unit runs the unit file's
    /// `ExecStart` as a real process (`services.rs` says which subset of systemd), `stop` and
    /// `disable --now` stop it, and `is-active` looks at it. Off by default: most scenarios
    /// only need the state, and real services would contend for ports.
    pub fn run_services(&mut self, on: bool) {
        self.real_services = on.then(BTreeSet::new);
    }

    /// Like [`Model::run_services`], for the named services only (the others stay state):
    /// the demo runs the charm's `parca.service` while serving the broker itself.
    pub fn run_only_services(&mut self, names: &[&str]) {
        self.real_services = Some(names.iter().map(|n| (*n).to_owned()).collect());
    }

    /// Several units of one application on one host stand in for several machines: each unit
    /// gets its own loopback address ([`Model::loopback_of`]), passed to its hooks as
    /// `PARCA_BROKER_LOOPBACK`; the charm then reads `127.0.0.1` in its listen addresses as that
    /// address, so each unit's real services bind their own ports (two Parca scrapers, two
    /// broker services), as on two machines.
    pub fn machine_loopback(&mut self, on: bool) {
        self.machine_loopback = on;
    }

    /// The loopback address standing in for `unit`'s machine: its address `10.a.b.c` as
    /// `127.a.b.c` (unique, like the addresses).
    pub fn loopback_of(&self, unit: &str) -> Option<String> {
        let address = &self.unit(unit)?.address;
        address
            .strip_prefix("10.")
            .map(|rest| format!("127.{rest}"))
    }

    /// `juju attach-resource APP NAME=PATH`: Juju then runs `upgrade-charm` on every unit.
    pub fn attach_resource(&mut self, app: &str, name: &str, path: &Path) -> Result<()> {
        let entry = self.app_mut(app)?;
        let declared = entry
            .charm
            .as_ref()
            .is_some_and(|c| c.resources.contains_key(name));
        if !declared {
            return Err(SimError::Usage(format!(
                "application {app} has no resource {name}"
            )));
        }
        entry.resources.insert(name.to_owned(), path.to_owned());
        for unit in self.units_of(app) {
            self.run_hook(&unit, HookSpec::plain("upgrade-charm"))?;
        }
        Ok(())
    }

    /// A service's process id on a unit, when the model runs services for real.
    pub fn service_pid(&self, unit: &str, service: &str) -> Option<u32> {
        self.unit(unit)?.pids.get(service).copied()
    }

    fn app(&self, name: &str) -> Result<&App> {
        self.apps
            .get(name)
            .ok_or_else(|| SimError::Usage(format!("no application {name}")))
    }

    fn app_mut(&mut self, name: &str) -> Result<&mut App> {
        self.apps
            .get_mut(name)
            .ok_or_else(|| SimError::Usage(format!("no application {name}")))
    }

    fn is_charm(&self, app: &str) -> bool {
        self.apps.get(app).is_some_and(|a| a.charm.is_some())
    }

    fn units_of(&self, app: &str) -> Vec<String> {
        self.apps
            .get(app)
            .map(|a| a.units.keys().map(|n| format!("{app}/{n}")).collect())
            .unwrap_or_default()
    }

    /// Deploys the charm as `app` with `units` units and `config`, running each unit's setup
    /// hooks: install, leader-elected / leader-settings-changed, config-changed, start.
    pub fn deploy_charm(
        &mut self,
        app: &str,
        units: u32,
        config: Map<String, Value>,
    ) -> Result<()> {
        let meta: CharmMeta = read_yaml(&self.charm_source.join("metadata.yaml"))?;
        if meta.name.is_empty() {
            return Err(SimError::Setup("metadata.yaml has no name".into()));
        }
        let config_meta: ConfigMeta = read_yaml(&self.charm_source.join("charm/config.yaml"))?;
        let defaults: Map<String, Value> = config_meta
            .options
            .iter()
            .filter_map(|(k, o)| o.default.clone().map(|d| (k.clone(), d)))
            .collect();
        check_config_keys(&config_meta, &config)?;
        // Juju creates the peer relations with the application; each unit's setup runs their
        // relation-created (juju.md §5.1), and units join each other as they come.
        for endpoint in meta.peers.keys() {
            let id = self.next_relation_id;
            self.next_relation_id += 1;
            let end = || End {
                app: app.to_owned(),
                endpoint: endpoint.clone(),
            };
            self.relations.insert(
                id,
                Relation {
                    ends: [end(), end()],
                    peer: true,
                    app_bags: BTreeMap::new(),
                    unit_bags: BTreeMap::new(),
                    seen: BTreeMap::new(),
                },
            );
        }
        self.apps.insert(
            app.to_owned(),
            App {
                charm: Some(meta),
                config_defaults: defaults,
                config,
                units: BTreeMap::new(),
                next_unit: 0,
                leader: None,
                resources: BTreeMap::new(),
            },
        );
        for _ in 0..units {
            self.add_unit(app)?;
        }
        Ok(())
    }

    /// Adds a remote application (no hooks run for it) with `units` units.
    pub fn add_remote_app(&mut self, app: &str, units: u32) -> Result<()> {
        self.apps.insert(
            app.to_owned(),
            App {
                charm: None,
                config_defaults: Map::new(),
                config: Map::new(),
                units: BTreeMap::new(),
                next_unit: 0,
                leader: Some(0),
                resources: BTreeMap::new(),
            },
        );
        for _ in 0..units {
            self.add_unit(app)?;
        }
        Ok(())
    }

    /// Relates `app_a:ep_a` with `app_b:ep_b`; charm units see created, then joined/changed per
    /// remote unit. Returns the relation id.
    pub fn relate(&mut self, app_a: &str, ep_a: &str, app_b: &str, ep_b: &str) -> Result<u64> {
        let mut interfaces = Vec::new();
        for (app, ep) in [(app_a, ep_a), (app_b, ep_b)] {
            if let Some(meta) = &self.app(app)?.charm {
                let declared = meta.requires.get(ep).or(meta.provides.get(ep));
                let Some(declared) = declared else {
                    return Err(SimError::Usage(format!("{app} has no endpoint {ep}")));
                };
                let existing = self
                    .relations
                    .values()
                    .filter(|r| r.end_of(app).is_some_and(|(l, _)| l.endpoint == ep))
                    .count();
                if declared.limit.is_some_and(|limit| existing as u32 >= limit) {
                    return Err(SimError::Usage(format!(
                        "cannot relate {app}:{ep}: limit {} reached",
                        declared.limit.unwrap_or_default()
                    )));
                }
                interfaces.push(declared.interface.clone());
            }
        }
        if let [a, b] = interfaces.as_slice()
            && a != b
        {
            return Err(SimError::Usage(format!(
                "cannot relate interface {a} with {b}"
            )));
        }
        let id = self.next_relation_id;
        self.next_relation_id += 1;
        let mut relation = Relation {
            ends: [
                End {
                    app: app_a.into(),
                    endpoint: ep_a.into(),
                },
                End {
                    app: app_b.into(),
                    endpoint: ep_b.into(),
                },
            ],
            peer: false,
            app_bags: BTreeMap::new(),
            unit_bags: BTreeMap::new(),
            seen: BTreeMap::new(),
        };
        for app in [app_a, app_b] {
            for unit in self.units_of(app) {
                let address = self.apps[app].units[&unit_number(&unit)].address.clone();
                relation.unit_bags.insert(unit, auto_keys(&address));
            }
        }
        self.relations.insert(id, relation);
        for (local, remote) in [(app_a, app_b), (app_b, app_a)] {
            if !self.is_charm(local) {
                continue;
            }
            for unit in self.units_of(local) {
                self.relation_hook(&unit, id, "created", None, None)?;
            }
            for unit in self.units_of(local) {
                for remote_unit in self.units_of(remote) {
                    self.join(&unit, id, &remote_unit)?;
                }
            }
        }
        Ok(id)
    }

    fn join(&mut self, unit: &str, id: u64, remote_unit: &str) -> Result<()> {
        if let Some(rel) = self.relations.get_mut(&id) {
            rel.seen
                .entry(unit.to_owned())
                .or_default()
                .insert(remote_unit.to_owned());
        }
        self.relation_hook(unit, id, "joined", Some(remote_unit), None)?;
        self.relation_hook(unit, id, "changed", Some(remote_unit), None)?;
        Ok(())
    }

    fn relation_hook(
        &mut self,
        unit: &str,
        id: u64,
        kind: &str,
        remote_unit: Option<&str>,
        departing: Option<&str>,
    ) -> Result<HookRun> {
        let app = app_of(unit);
        let endpoint = self.relations[&id]
            .end_of(&app)
            .map(|(local, _)| local.endpoint.clone())
            .unwrap_or_default();
        self.run_hook(
            unit,
            HookSpec {
                name: format!("{endpoint}-relation-{kind}"),
                relation: Some(id),
                remote_unit: remote_unit.map(str::to_owned),
                departing: departing.map(str::to_owned),
                broken: kind == "broken",
                action: None,
                relation_env: None,
                secret: None,
            },
        )
    }

    /// Sets a remote application's bag on a relation; charm units on the other side get
    /// relation-changed with an empty `JUJU_REMOTE_UNIT`.
    pub fn set_app_data(&mut self, id: u64, app: &str, data: Databag) -> Result<()> {
        let rel = self
            .relations
            .get_mut(&id)
            .ok_or_else(|| SimError::Usage(format!("no relation {id}")))?;
        let other = rel
            .end_of(app)
            .map(|(_, r)| r.app.clone())
            .ok_or_else(|| SimError::Usage(format!("{app} is not in relation {id}")))?;
        rel.app_bags.insert(app.to_owned(), data);
        if self.is_charm(&other) {
            for unit in self.units_of(&other) {
                self.relation_hook(&unit, id, "changed", None, None)?;
            }
        }
        Ok(())
    }

    /// Sets a remote unit's bag (Juju's auto keys are kept unless overwritten); charm units on
    /// the other side get relation-changed for that unit.
    pub fn set_unit_data(&mut self, id: u64, unit: &str, data: Databag) -> Result<()> {
        let app = app_of(unit);
        let rel = self
            .relations
            .get_mut(&id)
            .ok_or_else(|| SimError::Usage(format!("no relation {id}")))?;
        let other = rel
            .end_of(&app)
            .map(|(_, r)| r.app.clone())
            .ok_or_else(|| SimError::Usage(format!("{unit} is not in relation {id}")))?;
        let bag = rel.unit_bags.entry(unit.to_owned()).or_default();
        bag.retain(|k, _| AUTO_KEYS.contains(&k.as_str()));
        bag.extend(data);
        if self.is_charm(&other) {
            for local in self.units_of(&other) {
                if self.relations[&id]
                    .seen
                    .get(&local)
                    .is_some_and(|s| s.contains(unit))
                {
                    self.relation_hook(&local, id, "changed", Some(unit), None)?;
                }
            }
        }
        Ok(())
    }

    /// Adds a unit. A charm unit runs install, relation-created for each relation, the leader
    /// hook, config-changed, start, then joined/changed per remote unit; charm units related to
    /// a remote app see the new unit join.
    pub fn add_unit(&mut self, app: &str) -> Result<String> {
        let address = self.new_address();
        let entry = self.app_mut(app)?;
        let number = entry.next_unit;
        entry.next_unit += 1;
        entry.units.insert(
            number,
            UnitRecord {
                address: address.clone(),
                ..Default::default()
            },
        );
        let first = entry.leader.is_none();
        if first {
            entry.leader = Some(number);
        }
        let unit = format!("{app}/{number}");
        let ids: Vec<u64> = self
            .relations
            .iter()
            .filter(|(_, r)| r.end_of(app).is_some())
            .map(|(id, _)| *id)
            .collect();
        for id in &ids {
            if let Some(rel) = self.relations.get_mut(id) {
                rel.unit_bags.insert(unit.clone(), auto_keys(&address));
            }
        }
        if self.is_charm(app) {
            self.run_hook(&unit, HookSpec::plain("install"))?;
            for id in &ids {
                self.relation_hook(&unit, *id, "created", None, None)?;
            }
            self.run_hook(
                &unit,
                HookSpec::plain(if first {
                    "leader-elected"
                } else {
                    "leader-settings-changed"
                }),
            )?;
            self.run_hook(&unit, HookSpec::plain("config-changed"))?;
            self.run_hook(&unit, HookSpec::plain("start"))?;
            for id in &ids {
                let remote = self.relations[id]
                    .end_of(app)
                    .map(|(_, r)| r.app.clone())
                    .unwrap_or_default();
                // A unit is not its own peer.
                for remote_unit in self.units_of(&remote).into_iter().filter(|u| *u != unit) {
                    self.join(&unit, *id, &remote_unit)?;
                }
            }
        }
        for id in &ids {
            let remote = self.relations[id]
                .end_of(app)
                .map(|(_, r)| r.app.clone())
                .unwrap_or_default();
            if self.is_charm(&remote) {
                for local in self.units_of(&remote).into_iter().filter(|u| *u != unit) {
                    self.join(&local, *id, &unit)?;
                }
            }
        }
        Ok(unit)
    }

    /// Removes a unit. Related charm units see it depart; a dying charm unit sees departed for
    /// each remote unit, broken for each relation, stop, remove; a new leader is elected if
    /// needed.
    pub fn remove_unit(&mut self, unit: &str) -> Result<()> {
        let app = app_of(unit);
        let number = unit_number(unit);
        let ids: Vec<u64> = self
            .relations
            .iter()
            .filter(|(_, r)| r.end_of(&app).is_some())
            .map(|(id, _)| *id)
            .collect();
        if self.is_charm(&app) {
            for id in &ids {
                let seen: Vec<String> = self.relations[id]
                    .seen
                    .get(unit)
                    .into_iter()
                    .flatten()
                    .cloned()
                    .collect();
                for remote_unit in &seen {
                    self.relation_hook(unit, *id, "departed", Some(remote_unit), Some(unit))?;
                }
                // relation-broken never fires for a peer relation (juju.md §5.2).
                if !self.relations[id].peer {
                    self.relation_hook(unit, *id, "broken", None, None)?;
                }
            }
            self.run_hook(unit, HookSpec::plain("stop"))?;
            self.run_hook(unit, HookSpec::plain("remove"))?;
        }
        let entry = self.app_mut(&app)?;
        // The machine goes: whatever still runs on it stops.
        for pid in entry
            .units
            .remove(&number)
            .into_iter()
            .flat_map(|r| r.pids.into_values())
        {
            services::stop(pid);
        }
        let lost_leader = entry.leader == Some(number);
        if lost_leader {
            entry.leader = entry.units.keys().next().copied();
        }
        for id in &ids {
            let remote = self.relations[id]
                .end_of(&app)
                .map(|(_, r)| r.app.clone())
                .unwrap_or_default();
            if self.is_charm(&remote) {
                for local in self.units_of(&remote) {
                    let knew = self
                        .relations
                        .get_mut(id)
                        .is_some_and(|r| r.seen.get_mut(&local).is_some_and(|s| s.remove(unit)));
                    if knew {
                        self.relation_hook(&local, *id, "departed", Some(unit), Some(unit))?;
                    }
                }
            }
        }
        if lost_leader && self.is_charm(&app) {
            self.announce_leader(&app)?;
        }
        // A removed unit's failed hooks are never retried (its agent is gone).
        self.failed.remove(unit);
        Ok(())
    }

    /// Removes a relation: each charm unit sees departed per known remote unit, then broken.
    pub fn remove_relation(&mut self, id: u64) -> Result<()> {
        let rel = self
            .relations
            .get(&id)
            .cloned()
            .ok_or_else(|| SimError::Usage(format!("no relation {id}")))?;
        for end in &rel.ends {
            if !self.is_charm(&end.app) {
                continue;
            }
            for unit in self.units_of(&end.app) {
                let seen: Vec<String> =
                    rel.seen.get(&unit).into_iter().flatten().cloned().collect();
                for remote_unit in &seen {
                    if let Some(r) = self.relations.get_mut(&id)
                        && let Some(s) = r.seen.get_mut(&unit)
                    {
                        s.remove(remote_unit);
                    }
                    self.relation_hook(
                        &unit,
                        id,
                        "departed",
                        Some(remote_unit),
                        Some(remote_unit),
                    )?;
                }
                self.relation_hook(&unit, id, "broken", None, None)?;
            }
        }
        self.relations.remove(&id);
        Ok(())
    }

    /// Makes `unit` the leader: it gets leader-elected, the others leader-settings-changed.
    pub fn set_leader(&mut self, unit: &str) -> Result<()> {
        let app = app_of(unit);
        self.app_mut(&app)?.leader = Some(unit_number(unit));
        self.announce_leader(&app)
    }

    fn announce_leader(&mut self, app: &str) -> Result<()> {
        let leader = self.app(app)?.leader;
        for unit in self.units_of(app) {
            let hook = if Some(unit_number(&unit)) == leader {
                "leader-elected"
            } else {
                "leader-settings-changed"
            };
            self.run_hook(&unit, HookSpec::plain(hook))?;
        }
        Ok(())
    }

    /// Changes config options (declared ones only) and runs config-changed on every unit.
    pub fn set_config(&mut self, app: &str, changes: Map<String, Value>) -> Result<()> {
        let config_meta: ConfigMeta = read_yaml(&self.charm_source.join("charm/config.yaml"))?;
        check_config_keys(&config_meta, &changes)?;
        let entry = self.app_mut(app)?;
        for (key, value) in changes {
            if value.is_null() {
                entry.config.remove(&key);
            } else {
                entry.config.insert(key, value);
            }
        }
        for unit in self.units_of(app) {
            self.run_hook(&unit, HookSpec::plain("config-changed"))?;
        }
        Ok(())
    }

    /// `juju refresh` on machines: upgrade-charm, config-changed, leader-settings-changed on
    /// non-leaders, start.
    pub fn upgrade(&mut self, app: &str) -> Result<()> {
        let leader = self.app(app)?.leader;
        for unit in self.units_of(app) {
            self.run_hook(&unit, HookSpec::plain("upgrade-charm"))?;
            self.run_hook(&unit, HookSpec::plain("config-changed"))?;
            if Some(unit_number(&unit)) != leader {
                self.run_hook(&unit, HookSpec::plain("leader-settings-changed"))?;
            }
            self.run_hook(&unit, HookSpec::plain("start"))?;
        }
        Ok(())
    }

    /// update-status on every unit of `app`.
    pub fn update_status(&mut self, app: &str) -> Result<Vec<HookRun>> {
        let mut runs = Vec::new();
        for unit in self.units_of(app) {
            runs.push(self.run_hook(&unit, HookSpec::plain("update-status"))?);
        }
        Ok(runs)
    }

    /// Runs an action on a unit.
    pub fn run_action(
        &mut self,
        unit: &str,
        name: &str,
        params: Map<String, Value>,
    ) -> Result<ActionRun> {
        let spec = HookSpec {
            action: Some(CtxAction {
                name: name.to_owned(),
                params,
            }),
            ..HookSpec::plain(name)
        };
        let run = self.run_hook(unit, spec)?;
        Ok(ActionRun {
            results: run.context.action_results.clone(),
            failed: run.context.action_failed.clone(),
            code: run.code,
        })
    }

    /// Makes `tool` fail on `unit` (rc, message) until [`Model::clear_faults`].
    pub fn inject_fault(&mut self, unit: &str, tool: &str, code: i32, message: &str) {
        self.faults.insert(
            (unit.to_owned(), tool.to_owned()),
            Fault {
                code,
                message: message.to_owned(),
                when_arg: None,
            },
        );
    }

    /// Makes `tool` fail on `unit` only for calls with argument `arg` (say, one unit's name to
    /// `relation-get`), until [`Model::clear_faults`].
    pub fn inject_fault_for(
        &mut self,
        unit: &str,
        tool: &str,
        arg: &str,
        code: i32,
        message: &str,
    ) {
        self.faults.insert(
            (unit.to_owned(), tool.to_owned()),
            Fault {
                code,
                message: message.to_owned(),
                when_arg: Some(arg.to_owned()),
            },
        );
    }

    /// Retries every unit's failed hooks once, as Juju's automatic retry (or `juju resolve`)
    /// does; the hook runs again with the model as it is now. Returns the runs.
    pub fn retry_failed(&mut self) -> Result<Vec<HookRun>> {
        let failed = std::mem::take(&mut self.failed);
        let mut runs = Vec::new();
        for (unit, specs) in failed {
            for spec in specs {
                runs.push(self.run_hook(&unit, spec)?);
            }
        }
        Ok(runs)
    }

    /// Units whose last hook failed and waits for a retry.
    pub fn failed_units(&self) -> Vec<String> {
        self.failed.keys().cloned().collect()
    }

    /// A service on a unit's machine stops on its own (crashed, killed, OOM): systemd then
    /// reports it `failed`.
    pub fn fail_service(&mut self, unit: &str, service: &str) -> Result<()> {
        let app = app_of(unit);
        let record = self
            .app_mut(&app)?
            .units
            .get_mut(&unit_number(unit))
            .ok_or_else(|| SimError::Usage(format!("no unit {unit}")))?;
        record
            .services
            .insert(service.to_owned(), "failed".to_owned());
        Ok(())
    }

    /// A remote application (its leader) adds a secret with `content`; returns its URI.
    pub fn add_secret(&mut self, owner: &str, content: Databag) -> String {
        self.next_secret += 1;
        let xid = secrets::new_xid(self.next_secret);
        self.secrets.insert(
            xid.clone(),
            secrets::SimSecret {
                owner: owner.to_owned(),
                revisions: vec![content],
                ..Default::default()
            },
        );
        secrets::uri(&xid)
    }

    fn secret_mut(&mut self, uri: &str) -> Result<&mut secrets::SimSecret> {
        self.secrets
            .get_mut(secrets::xid_of(uri))
            .ok_or_else(|| SimError::Usage(format!("no secret {uri}")))
    }

    /// The owner grants a secret to a relation: the other side's units may read it.
    pub fn grant_secret(&mut self, uri: &str, relation: u64) -> Result<()> {
        self.secret_mut(uri)?.grants.insert(relation);
        Ok(())
    }

    /// The owner publishes a new revision: every charm unit tracking the secret gets
    /// `secret-changed` (juju.md §5.4).
    pub fn set_secret(&mut self, uri: &str, content: Databag) -> Result<()> {
        let secret = self.secret_mut(uri)?;
        secret.revisions.push(content);
        let consumers: Vec<String> = secret.tracked.keys().cloned().collect();
        for unit in consumers {
            if self.is_charm(&app_of(&unit)) && self.unit(&unit).is_some() {
                let spec = HookSpec {
                    secret: Some(uri.to_owned()),
                    ..HookSpec::plain("secret-changed")
                };
                self.run_hook(&unit, spec)?;
            }
        }
        Ok(())
    }

    /// A secret as the model holds it (owner, label, revisions, grants, tracked revisions).
    pub fn secret(&self, uri: &str) -> Option<&secrets::SimSecret> {
        self.secrets.get(secrets::xid_of(uri))
    }

    /// Every secret owned by `app`: URI → the secret.
    pub fn secrets_of(&self, app: &str) -> Vec<(String, &secrets::SimSecret)> {
        self.secrets
            .iter()
            .filter(|(_, s)| s.owner == app)
            .map(|(xid, s)| (secrets::uri(xid), s))
            .collect()
    }

    /// Removes all injected faults.
    pub fn clear_faults(&mut self) {
        self.faults.clear();
    }

    /// The units of an application, in unit-number order.
    pub fn units(&self, app: &str) -> Vec<String> {
        self.units_of(app)
    }

    /// Is `unit` its application's leader?
    pub fn is_leader(&self, unit: &str) -> bool {
        self.apps
            .get(&app_of(unit))
            .is_some_and(|a| a.leader == Some(unit_number(unit)))
    }

    /// Every hook run so far.
    pub fn runs(&self) -> &[HookRun] {
        &self.runs
    }

    /// A unit's record (status history, logs, systemctl calls).
    pub fn unit(&self, unit: &str) -> Option<&UnitRecord> {
        self.apps.get(&app_of(unit))?.units.get(&unit_number(unit))
    }

    /// The latest status of a unit.
    pub fn status(&self, unit: &str) -> Option<&StatusEntry> {
        self.unit(unit)?.statuses.last()
    }

    /// A unit's bag on a relation.
    pub fn unit_bag(&self, id: u64, unit: &str) -> Databag {
        self.relations
            .get(&id)
            .and_then(|r| r.unit_bags.get(unit))
            .cloned()
            .unwrap_or_default()
    }

    /// An application's bag on a relation.
    pub fn app_bag(&self, id: u64, app: &str) -> Databag {
        self.relations
            .get(&id)
            .and_then(|r| r.app_bags.get(app))
            .cloned()
            .unwrap_or_default()
    }

    /// The file system root a charm unit writes under (its `PARCA_BROKER_ROOT`).
    pub fn unit_root(&self, unit: &str) -> PathBuf {
        self.unit_dir(unit).join("root")
    }

    /// A charm unit's sandbox folder: its `charm/` (dispatch), `root/` and hook contexts.
    fn unit_dir(&self, unit: &str) -> PathBuf {
        self.dir.join("units").join(unit.replace('/', "-"))
    }

    /// A file a charm unit wrote, by its absolute logical path.
    pub fn file(&self, unit: &str, path: &str) -> Option<String> {
        std::fs::read_to_string(self.unit_root(unit).join(path.trim_start_matches('/'))).ok()
    }

    fn context_for(&self, unit: &str, spec: &HookSpec) -> Result<HookContext> {
        let app_name = app_of(unit);
        let app = self.app(&app_name)?;
        let record = app
            .units
            .get(&unit_number(unit))
            .ok_or_else(|| SimError::Usage(format!("no unit {unit}")))?;
        let mut config = app.config_defaults.clone();
        config.extend(app.config.clone());
        let mut relations = BTreeMap::new();
        for (id, rel) in &self.relations {
            let Some((local, remote)) = rel.end_of(&app_name) else {
                continue;
            };
            let mut members: Vec<String> =
                rel.seen.get(unit).into_iter().flatten().cloned().collect();
            members.sort();
            let remote_unit_bags = rel
                .unit_bags
                .iter()
                .filter(|(name, _)| app_of(name) == remote.app && name.as_str() != unit)
                .map(|(name, bag)| (name.clone(), bag.clone()))
                .collect();
            relations.insert(
                *id,
                CtxRelation {
                    endpoint: local.endpoint.clone(),
                    remote_app: remote.app.clone(),
                    members,
                    broken: spec.broken && spec.relation == Some(*id),
                    gone: false,
                    local_unit_bag: rel.unit_bags.get(unit).cloned().unwrap_or_default(),
                    local_app_bag: rel.app_bags.get(&app_name).cloned().unwrap_or_default(),
                    remote_app_bag: rel.app_bags.get(&remote.app).cloned().unwrap_or_default(),
                    remote_unit_bags,
                    peer: rel.peer,
                },
            );
        }
        let meta = app.charm.clone().unwrap_or_default();
        let network = meta
            .requires
            .keys()
            .chain(meta.provides.keys())
            .map(|ep| ep.as_str())
            .chain(["juju-info"])
            .map(|ep| {
                (ep.to_owned(), json!({
                    "bind-addresses": [{"mac-address": "", "interface-name": "eth0",
                        "addresses": [{"hostname": "", "value": record.address, "cidr": "10.0.0.0/24"}]}],
                    "egress-subnets": [format!("{}/32", record.address)],
                    "ingress-addresses": [record.address],
                }))
            })
            .collect();
        let remote_app = spec.relation.and_then(|id| {
            relations
                .get(&id)
                .map(|r: &CtxRelation| r.remote_app.clone())
        });
        Ok(HookContext {
            unit: unit.to_owned(),
            app: app_name.clone(),
            leader: app.leader == Some(unit_number(unit)),
            hook_relation: spec.relation,
            remote_unit: spec.remote_unit.clone(),
            remote_app,
            relations,
            config,
            network,
            action: spec.action.clone(),
            state: record.state.clone(),
            services: record.services.clone(),
            pids: record.pids.clone(),
            service_root: self
                .real_services
                .is_some()
                .then(|| self.unit_dir(unit).join("root").display().to_string()),
            real_services: self
                .real_services
                .as_ref()
                .filter(|names| !names.is_empty())
                .map(|names| names.iter().cloned().collect()),
            resources: meta
                .resources
                .keys()
                .map(|name| {
                    let attached = app.resources.get(name).map(|p| p.display().to_string());
                    (name.clone(), attached)
                })
                .collect(),
            faults: self
                .faults
                .iter()
                .filter(|((u, _), _)| u == unit)
                .map(|((_, tool), fault)| (tool.clone(), fault.clone()))
                .collect(),
            secrets: secrets::visible(
                &self.secrets,
                &app_name,
                unit,
                &self
                    .relations
                    .iter()
                    .filter(|(_, r)| r.end_of(&app_name).is_some())
                    .map(|(id, _)| *id)
                    .collect(),
            ),
            next_secret: self.next_secret,
            ..Default::default()
        })
    }

    /// The environment Juju gives `dispatch` for this hook (juju.md §2).
    fn hook_env(
        &self,
        unit: &str,
        spec: &HookSpec,
        context: &HookContext,
        context_path: &Path,
        dispatch_path: &str,
    ) -> Vec<(&'static str, String)> {
        let unit_dir = self.unit_dir(unit);
        let charm_dir = unit_dir.join("charm");
        let hook_name = if spec.action.is_some() {
            String::new()
        } else {
            spec.name.clone()
        };
        let mut env: Vec<(&'static str, String)> = vec![
            ("JUJU_DISPATCH_PATH", dispatch_path.to_owned()),
            ("JUJU_HOOK_NAME", hook_name),
            ("JUJU_UNIT_NAME", unit.to_owned()),
            ("JUJU_MODEL_NAME", self.name.clone()),
            ("JUJU_MODEL_UUID", self.uuid.clone()),
            ("JUJU_VERSION", JUJU_VERSION.to_owned()),
            ("JUJU_CHARM_DIR", charm_dir.display().to_string()),
            ("CHARM_DIR", charm_dir.display().to_string()),
            (
                "JUJU_CONTEXT_ID",
                format!("{unit}-{}-{}", spec.name, self.runs.len()),
            ),
            (
                "JUJU_AGENT_SOCKET_ADDRESS",
                context_path.display().to_string(),
            ),
            ("JUJU_AGENT_SOCKET_NETWORK", "unix".to_owned()),
            ("JUJU_API_ADDRESSES", "10.0.0.1:17070".to_owned()),
            ("JUJU_MACHINE_ID", unit_number(unit).to_string()),
            ("JUJU_PRINCIPAL_UNIT", String::new()),
            ("JUJU_AVAILABILITY_ZONE", String::new()),
            ("CLOUD_API_VERSION", String::new()),
            ("JUJU_CHARM_HTTP_PROXY", String::new()),
            ("JUJU_CHARM_HTTPS_PROXY", String::new()),
            ("JUJU_CHARM_FTP_PROXY", String::new()),
            ("JUJU_CHARM_NO_PROXY", String::new()),
            (
                "PATH",
                format!("{}:/usr/bin:/bin", self.tools_dir.display()),
            ),
            ("LANG", "C.UTF-8".to_owned()),
            ("TERM", "tmux-256color".to_owned()),
            ("DEBIAN_FRONTEND", "noninteractive".to_owned()),
            ("APT_LISTCHANGES_FRONTEND", "none".to_owned()),
            (
                "PARCA_BROKER_ROOT",
                unit_dir.join("root").display().to_string(),
            ),
        ];
        let relation = spec.relation.and_then(|id| {
            let (endpoint, remote_app) = match (&spec.relation_env, context.relations.get(&id)) {
                (Some(fixed), _) => fixed.clone(),
                (None, Some(rel)) => (rel.endpoint.clone(), rel.remote_app.clone()),
                (None, None) => return None,
            };
            Some((id, endpoint, remote_app))
        });
        if let Some((id, endpoint, remote_app)) = relation {
            env.push(("JUJU_RELATION", endpoint.clone()));
            env.push(("JUJU_RELATION_ID", format!("{endpoint}:{id}")));
            env.push(("JUJU_REMOTE_APP", remote_app));
            env.push((
                "JUJU_REMOTE_UNIT",
                spec.remote_unit.clone().unwrap_or_default(),
            ));
            if let Some(departing) = &spec.departing {
                env.push(("JUJU_DEPARTING_UNIT", departing.clone()));
            }
        }
        if self.machine_loopback
            && let Some(loopback) = self.loopback_of(unit)
        {
            env.push(("PARCA_BROKER_LOOPBACK", loopback));
        }
        if let Some(secret) = &spec.secret {
            env.push(("JUJU_SECRET_ID", secret.clone()));
            env.push(("JUJU_SECRET_LABEL", String::new()));
        }
        if let Some(action) = &spec.action {
            let n = self.runs.len();
            env.push(("JUJU_ACTION_NAME", action.name.clone()));
            env.push(("JUJU_ACTION_UUID", n.to_string()));
            env.push(("JUJU_ACTION_TAG", format!("action-{n}")));
        }
        env
    }

    /// What a full reconcile of `unit` would do now, without doing it: `config-changed` (which
    /// always reads everything) is observed and planned in this process against the unit's
    /// files and the model's data; nothing is written or committed. An incrementally
    /// maintained unit is correct when this plan writes nothing and sets the status it has.
    pub fn probe_full_reconcile(&self, unit: &str) -> Result<crate::reconcile::plan::Plan> {
        let spec = HookSpec::plain("config-changed");
        let context = self.context_for(unit, &spec)?;
        let unit_dir = self.unit_dir(unit);
        let env = self.hook_env(
            unit,
            &spec,
            &context,
            &unit_dir.join("probe-context.json"),
            "hooks/config-changed",
        );
        in_process::plan_only(&env, context, &unit_dir.join("root"))
            .map_err(|e| SimError::Usage(format!("full reconcile probe of {unit}: {e}")))
    }

    fn run_hook(&mut self, unit: &str, mut spec: HookSpec) -> Result<HookRun> {
        let context = self.context_for(unit, &spec)?;
        if let (Some(id), None) = (spec.relation, &spec.relation_env) {
            let rel = context
                .relations
                .get(&id)
                .ok_or_else(|| SimError::Usage(format!("no relation {id} for {unit}")))?;
            spec.relation_env = Some((rel.endpoint.clone(), rel.remote_app.clone()));
        }
        let unit_dir = self.unit_dir(unit);
        let charm_dir = unit_dir.join("charm");
        std::fs::create_dir_all(&charm_dir)?;
        let dispatch = charm_dir.join("dispatch");
        if !dispatch.exists() {
            std::os::unix::fs::symlink(&self.charm_binary, &dispatch)?;
        }
        let service_binary = charm_dir.join(crate::reconcile::plan::SERVICE_BINARY);
        if !service_binary.exists() {
            std::os::unix::fs::symlink(&self.full_binary, &service_binary)?;
        }
        let context_path = unit_dir.join(format!("context-{}.json", self.runs.len()));
        if !self.in_process {
            // The tool processes find the context through this file.
            context.save(&context_path)?;
        }

        let dispatch_path = match &spec.action {
            Some(action) => format!("actions/{}", action.name),
            None => format!("hooks/{}", spec.name),
        };
        let env = self.hook_env(unit, &spec, &context, &context_path, &dispatch_path);
        let started = std::time::Instant::now();
        let (code, stdout, stderr, after) = if self.in_process {
            in_process::run_hook(&env, context, &unit_dir.join("root"))
        } else {
            let output = Command::new(&dispatch)
                .env_clear()
                .current_dir(&charm_dir)
                .envs(env.iter().map(|(k, v)| (k, v)))
                .output()?;
            (
                output.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&output.stdout).into_owned(),
                String::from_utf8_lossy(&output.stderr).into_owned(),
                HookContext::load(&context_path)?,
            )
        };
        let elapsed = started.elapsed();
        let spec_for_retry = spec.clone();
        self.commit(unit, &after, code == 0);
        if spec_for_retry.action.is_none() && code != 0 {
            self.failed
                .entry(unit.to_owned())
                .or_default()
                .push(spec_for_retry);
        }
        let run = HookRun {
            unit: unit.to_owned(),
            hook: dispatch_path.trim_start_matches("hooks/").to_owned(),
            code,
            stdout,
            stderr,
            context: after,
            elapsed,
        };
        self.runs.push(run.clone());
        Ok(run)
    }

    /// Immediate effects always; buffered writes only when the hook succeeded.
    fn commit(&mut self, unit: &str, after: &HookContext, success: bool) {
        let app = app_of(unit);
        if let Some(record) = self
            .apps
            .get_mut(&app)
            .and_then(|a| a.units.get_mut(&unit_number(unit)))
        {
            record.statuses.extend(after.statuses.iter().cloned());
            record.logs.extend(after.logs.iter().cloned());
            record.systemctl.extend(after.systemctl.iter().cloned());
            record.services = after.services.clone();
            record.pids = after.pids.clone();
            if success {
                for (key, value) in &after.pending_state {
                    match value {
                        Some(v) => record.state.insert(key.clone(), v.clone()),
                        None => record.state.remove(key),
                    };
                }
            }
        }
        if !success {
            return;
        }
        for (id, changes) in &after.pending_unit {
            if let Some(rel) = self.relations.get_mut(id) {
                apply_changes(rel.unit_bags.entry(unit.to_owned()).or_default(), changes);
            }
        }
        for (id, changes) in &after.pending_app {
            if let Some(rel) = self.relations.get_mut(id) {
                apply_changes(rel.app_bags.entry(app.clone()).or_default(), changes);
            }
        }
        secrets::commit(&mut self.secrets, &app, unit, &after.secrets);
        self.next_secret = self.next_secret.max(after.next_secret);
    }
}

fn apply_changes(bag: &mut Databag, changes: &Databag) {
    for (key, value) in changes {
        if value.is_empty() {
            bag.remove(key);
        } else {
            bag.insert(key.clone(), value.clone());
        }
    }
}

fn auto_keys(address: &str) -> Databag {
    Databag::from([
        ("egress-subnets".to_owned(), format!("{address}/32")),
        ("ingress-address".to_owned(), address.to_owned()),
        ("private-address".to_owned(), address.to_owned()),
    ])
}

fn app_of(unit: &str) -> String {
    unit.split('/').next().unwrap_or_default().to_owned()
}

fn unit_number(unit: &str) -> u32 {
    unit.rsplit('/')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn read_yaml<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| SimError::Setup(format!("{}: {e}", path.display())))?;
    serde_saphyr::from_str(&text).map_err(|e| SimError::Setup(format!("{}: {e}", path.display())))
}

fn check_config_keys(meta: &ConfigMeta, config: &Map<String, Value>) -> Result<()> {
    match config.keys().find(|k| !meta.options.contains_key(*k)) {
        Some(key) => Err(SimError::Usage(format!(
            "config option {key} is not declared in charm/config.yaml"
        ))),
        None => Ok(()),
    }
}
