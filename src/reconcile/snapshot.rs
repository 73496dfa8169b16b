//! What the broker knows, as the service shows it: computed by plan (pure, deterministic, no
//! time in it), written by apply to the state file only when it changes, read by the service.
//! The token is never in it.

pub use crate::model::labels::{Labels, with_shared_label_text};
use serde::{Deserialize, Serialize};

/// The state file's content.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BrokerSnapshot {
    /// The unit that wrote it.
    pub unit: String,
    /// Model name.
    pub model: String,
    /// The unit's status as set by the hook.
    pub status: StatusView,
    /// Scrape jobs in parca.yaml, with their targets.
    pub jobs: Vec<JobView>,
    /// Everything dropped, with reasons.
    pub dropped: Vec<DroppedView>,
    /// The upstream store relayed to agents (redacted).
    pub store: StoreView,
    /// Related applications and their units, per relation.
    pub relations: Vec<RelationView>,
    /// Where parca.yaml is.
    pub config_file: String,
    /// parca.yaml as rendered.
    pub parca_yaml: String,
    /// `static` or `http-sd`.
    pub discovery: String,
    /// The managed Parca (`managed: false` when the charm runs none).
    #[serde(default)]
    pub parca: ParcaStatusView,
    /// How the targets are shared among the broker's units.
    #[serde(default)]
    pub shard: ShardView,
    /// The COS relations.
    #[serde(default)]
    pub cos: CosView,
    /// Provider job keys the protocol ignores (no effect; shown so a provider author sees why).
    #[serde(default)]
    pub ignored: Vec<String>,
}

/// The COS relations (metrics-endpoint, grafana-dashboard).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CosView {
    /// metrics-endpoint relations: `prometheus (metrics-endpoint:9)`.
    pub metrics_endpoint: Vec<String>,
    /// The address Prometheus scrapes on this unit.
    pub metrics_address: String,
    /// The alert rule groups published.
    pub alert_rule_groups: Vec<String>,
    /// grafana-dashboard relations.
    pub grafana_dashboard: Vec<String>,
    /// The dashboards published (template keys).
    pub dashboards: Vec<String>,
}

/// The broker's units and their shares of the targets.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ShardView {
    /// Every member (this unit included), with its published address and target count.
    pub units: Vec<ShardMember>,
    /// All targets, every unit's together.
    pub total: usize,
}

/// One broker unit's share.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ShardMember {
    /// `parca-broker/1`.
    pub unit: String,
    /// Its address as it publishes it on the peer relation (empty until it has).
    pub address: String,
    /// The targets it owns.
    pub targets: usize,
}

/// What the service page shows of the managed Parca.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ParcaStatusView {
    /// Managed by the charm.
    pub managed: bool,
    /// `option <path>`, `resource <path>`, or how to enable it.
    pub binary: String,
    /// Its `--http-address`.
    pub http_address: String,
    /// `scraper-only` or `all`.
    pub mode: String,
    /// One line: running, scraping n/m targets, or what is wrong.
    pub summary: String,
}

/// A status.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StatusView {
    /// active / blocked / waiting / maintenance.
    pub status: String,
    /// The message.
    pub message: String,
}

/// One job.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct JobView {
    /// Job name in parca.yaml.
    pub name: String,
    /// Source application.
    pub app: String,
    /// Source relation (`profiling-endpoint:7`).
    pub relation: String,
    /// `http` or `https`.
    pub scheme: String,
    /// Profile path prefix (empty: none).
    pub path_prefix: String,
    /// Target groups, as in `static_configs`.
    pub groups: Vec<TargetGroup>,
}

/// One target group (a static_config).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TargetGroup {
    /// `host:port` targets (shared with the rendered job they come from).
    pub targets: std::sync::Arc<[String]>,
    /// Labels (text).
    pub labels: Labels,
    /// The Juju unit, for per-unit groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// The broker unit that scrapes these targets, when several share the work (`None`: one
    /// unit, which scrapes everything).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

/// One dropped relation, job, target or unit.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DroppedView {
    /// relation / job / target / unit.
    pub scope: String,
    /// Coarse reason (`invalid_json`, `bad_target`, `parca_rule`, …), for metrics.
    #[serde(default)]
    pub kind: String,
    /// `profiling-endpoint:7`.
    pub relation: String,
    /// Remote application.
    pub app: String,
    /// Where in the data.
    pub key: String,
    /// Why.
    pub reason: String,
    /// The full one-line message (as in status and logs).
    pub message: String,
}

/// The store relayed to agents.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StoreView {
    /// `relation external-parca-store-endpoint:5 (parca)`, `config`, or `none`.
    pub source: String,
    /// Published address.
    pub address: String,
    /// `true` / `false` / empty.
    pub insecure: String,
    /// `<redacted>` or `(none)`: never the token.
    pub token: String,
}

/// A related application.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RelationView {
    /// `profiling-endpoint:7`.
    pub relation: String,
    /// Remote application.
    pub app: String,
    /// Its units in the relation.
    pub units: Vec<String>,
}

/// What a hook tells the running service right after it finished (best effort, loopback).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ReconcileNote {
    /// The hook or action.
    pub event: String,
    /// Unix time (seconds) it finished.
    pub at_unix: u64,
    /// Time spent in plan (rendering), seconds.
    pub render_seconds: f64,
    /// Files written, by path.
    pub files_written: Vec<String>,
    /// Relation data the hook dropped as invalid (relations, jobs, targets, units).
    #[serde(default)]
    pub rejections: usize,
}
