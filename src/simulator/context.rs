//! The hook context file: what the simulated unit agent knows during one hook, and what the
//! hook did. The driver writes it before running `dispatch`; every fake tool reads and updates
//! it; the driver reads it back and commits the buffered writes only if the hook exited 0.

use crate::model::Databag;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// One relation as the hook's unit sees it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CtxRelation {
    /// Our endpoint.
    pub endpoint: String,
    /// The remote application.
    pub remote_app: String,
    /// Remote units currently in the relation from this unit's view (sorted).
    pub members: Vec<String>,
    /// Broken in this hook: left out of `relation-ids`, app writes refused.
    pub broken: bool,
    /// Gone from the controller: reads fail with `permission denied`.
    pub gone: bool,
    /// Our unit's bag.
    pub local_unit_bag: Databag,
    /// Our application's bag.
    pub local_app_bag: Databag,
    /// The remote application's bag.
    pub remote_app_bag: Databag,
    /// Remote units' bags (departed units stay readable).
    pub remote_unit_bags: BTreeMap<String, Databag>,
    /// A peer relation (the remote app is our own; every unit may read the app bag).
    #[serde(default)]
    pub peer: bool,
}

/// A recorded status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusEntry {
    /// maintenance / blocked / waiting / active.
    pub status: String,
    /// The message.
    pub message: String,
}

/// A recorded `juju-log` line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    /// Level, upper case.
    pub level: String,
    /// The message (prefixed with `<ep>:<id>: ` in relation hooks, as Juju does).
    pub message: String,
}

/// The running action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CtxAction {
    /// Action name.
    pub name: String,
    /// Parameters (defaults filled in).
    pub params: Map<String, Value>,
}

/// A tool made to fail (fault injection).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// Exit code.
    pub code: i32,
    /// Message printed after `ERROR `.
    pub message: String,
    /// Only calls with this argument fail (`None`: every call of the tool).
    #[serde(default)]
    pub when_arg: Option<String>,
}

/// The whole context.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct HookContext {
    /// The unit running the hook.
    pub unit: String,
    /// Its application.
    pub app: String,
    /// Leadership.
    pub leader: bool,
    /// The hook's relation (default for `-r`), if a relation hook.
    pub hook_relation: Option<u64>,
    /// `JUJU_REMOTE_UNIT`.
    pub remote_unit: Option<String>,
    /// `JUJU_REMOTE_APP`.
    pub remote_app: Option<String>,
    /// Relations by id.
    pub relations: BTreeMap<u64, CtxRelation>,
    /// Options with a value or default.
    pub config: Map<String, Value>,
    /// Binding → `network-get` JSON.
    pub network: BTreeMap<String, Value>,
    /// The running action.
    pub action: Option<CtxAction>,
    /// Server-side unit state.
    pub state: Databag,
    /// Tools made to fail.
    pub faults: BTreeMap<String, Fault>,
    /// Buffered writes to our unit bags: relation → changes (`""` deletes).
    pub pending_unit: BTreeMap<u64, Databag>,
    /// Buffered writes to our app bags.
    pub pending_app: BTreeMap<u64, Databag>,
    /// Buffered state changes (`None` deletes).
    pub pending_state: BTreeMap<String, Option<String>>,
    /// Statuses set (immediate).
    pub statuses: Vec<StatusEntry>,
    /// Log lines (immediate).
    pub logs: Vec<LogEntry>,
    /// Workload version (immediate).
    pub app_version: Option<String>,
    /// Action results.
    pub action_results: BTreeMap<String, String>,
    /// Action failure message.
    pub action_failed: Option<String>,
    /// `systemctl` invocations that change something (queries such as `is-active` are only in
    /// `calls`).
    pub systemctl: Vec<Vec<String>>,
    /// systemd units on the unit's machine → `active`, `inactive` or `failed` (immediate, like
    /// systemd itself: kept even when the hook fails).
    #[serde(default)]
    pub services: BTreeMap<String, String>,
    /// Processes of the services run for real → their pids (`services.rs`).
    #[serde(default)]
    pub pids: BTreeMap<String, u32>,
    /// The unit's file system root when the model runs services for real (`None`: systemctl
    /// only keeps state).
    #[serde(default)]
    pub service_root: Option<String>,
    /// Which services run for real when `service_root` is set (`None`: all).
    #[serde(default)]
    pub real_services: Option<Vec<String>>,
    /// Resources the charm declares → the attached file's path (`None`: not attached).
    #[serde(default)]
    pub resources: BTreeMap<String, Option<String>>,
    /// The secrets this unit sees (its application's and those granted to it), with this
    /// hook's changes marked dirty (committed on success).
    #[serde(default)]
    pub secrets: BTreeMap<String, super::secrets::CtxSecret>,
    /// The model's secret counter (new xids), carried back on success.
    #[serde(default)]
    pub next_secret: u64,
    /// Every tool invocation: tool name then arguments.
    pub calls: Vec<Vec<String>>,
    /// The hook process's peak resident memory (KiB), as the tool processes saw it (`VmHWM` of
    /// their parent at each call; the last call is `status-set`, after all the work). 0 in
    /// process mode.
    #[serde(default)]
    pub hook_peak_rss_kib: u64,
}

impl HookContext {
    /// Reads a context file.
    pub fn load(path: &Path) -> std::io::Result<Self> {
        let text = std::fs::read(path)?;
        serde_json::from_slice(&text).map_err(std::io::Error::other)
    }

    /// Writes a context file (atomically: a crash never leaves half a context).
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let text = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        let temp = path.with_extension("tmp");
        std::fs::write(&temp, text)?;
        std::fs::rename(temp, path)
    }
}
