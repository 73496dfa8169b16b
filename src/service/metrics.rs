//! The service's own metrics (Prometheus text via prometheus-client). Low-cardinality labels
//! only: never a target address.

use crate::reconcile::snapshot::{BrokerSnapshot, ReconcileNote};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::Mutex;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ResultLabel {
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ScopeLabel {
    pub scope: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct AppLabel {
    pub app: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct RejectionLabels {
    pub app: String,
    pub scope: String,
    pub kind: String,
}

#[derive(Debug)]
pub(super) struct Metrics {
    registry: Mutex<Registry>,
    pub reconciles: Counter,
    pub state_reloads: Counter,
    pub config_writes: Counter,
    pub render_seconds: Histogram,
    pub targets: Gauge,
    pub jobs: Gauge,
    pub dropped: Family<ScopeLabel, Gauge>,
    pub probes: Family<ResultLabel, Counter>,
    pub probe_seconds: Histogram,
    pub targets_up: Gauge,
    pub app_targets: Family<AppLabel, Gauge>,
    pub app_targets_up: Family<AppLabel, Gauge>,
    pub rejections: Family<RejectionLabels, Gauge>,
    pub hooks_with_invalid_data: Counter,
    pub parca_managed: Gauge,
    pub parca_up: Gauge,
    pub parca_config_rejected: Gauge,
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("parca_broker");
        let metrics = Metrics {
            registry: Mutex::new(Registry::default()),
            reconciles: Counter::default(),
            state_reloads: Counter::default(),
            config_writes: Counter::default(),
            render_seconds: Histogram::new(exponential_buckets(0.0001, 4.0, 8)),
            targets: Gauge::default(),
            jobs: Gauge::default(),
            dropped: Family::default(),
            probes: Family::default(),
            probe_seconds: Histogram::new(exponential_buckets(0.001, 4.0, 8)),
            targets_up: Gauge::default(),
            app_targets: Family::default(),
            app_targets_up: Family::default(),
            rejections: Family::default(),
            hooks_with_invalid_data: Counter::default(),
            parca_managed: Gauge::default(),
            parca_up: Gauge::default(),
            parca_config_rejected: Gauge::default(),
        };
        registry.register(
            "reconciles",
            "Hooks that reconciled (as told by the charm)",
            metrics.reconciles.clone(),
        );
        registry.register(
            "state_reloads",
            "Times the state file was loaded",
            metrics.state_reloads.clone(),
        );
        registry.register(
            "config_writes",
            "parca.yaml writes by the charm",
            metrics.config_writes.clone(),
        );
        registry.register(
            "render_duration_seconds",
            "Time the charm spent planning and rendering",
            metrics.render_seconds.clone(),
        );
        registry.register(
            "targets",
            "Scrape targets in parca.yaml",
            metrics.targets.clone(),
        );
        registry.register("jobs", "Scrape jobs in parca.yaml", metrics.jobs.clone());
        registry.register(
            "dropped",
            "Dropped relations, jobs, targets and units",
            metrics.dropped.clone(),
        );
        registry.register(
            "probes",
            "Target health probes by result",
            metrics.probes.clone(),
        );
        registry.register(
            "probe_duration_seconds",
            "Target health probe latency",
            metrics.probe_seconds.clone(),
        );
        registry.register(
            "targets_up",
            "Targets whose last probe succeeded",
            metrics.targets_up.clone(),
        );
        registry.register(
            "app_targets",
            "Targets this unit probes, by remote application",
            metrics.app_targets.clone(),
        );
        registry.register(
            "app_targets_up",
            "Targets this unit probes whose last probe succeeded, by remote application",
            metrics.app_targets_up.clone(),
        );
        registry.register(
            "rejections",
            "Dropped relations, jobs, targets and units now, by remote application, scope and kind",
            metrics.rejections.clone(),
        );
        registry.register(
            "hooks_with_invalid_data",
            "Hooks that found invalid relation data (as told by the charm)",
            metrics.hooks_with_invalid_data.clone(),
        );
        registry.register(
            "parca_managed",
            "1 when the charm runs Parca (parca.service)",
            metrics.parca_managed.clone(),
        );
        registry.register(
            "parca_up",
            "1 when the managed Parca answered its last poll",
            metrics.parca_up.clone(),
        );
        registry.register(
            "parca_config_rejected",
            "1 when the managed Parca refused the parca.yaml on disk (its last reload failed)",
            metrics.parca_config_rejected.clone(),
        );
        if let Ok(mut slot) = metrics.registry.lock() {
            *slot = registry;
        }
        metrics
    }

    pub fn observe_snapshot(&self, snapshot: &BrokerSnapshot) {
        let targets: usize = snapshot
            .jobs
            .iter()
            .flat_map(|j| &j.groups)
            .map(|g| g.targets.len())
            .sum();
        self.targets.set(i64::try_from(targets).unwrap_or(i64::MAX));
        self.jobs
            .set(i64::try_from(snapshot.jobs.len()).unwrap_or(i64::MAX));
        for scope in ["relation", "job", "target", "unit"] {
            let count = snapshot.dropped.iter().filter(|d| d.scope == scope).count();
            self.dropped
                .get_or_create(&ScopeLabel {
                    scope: scope.to_owned(),
                })
                .set(i64::try_from(count).unwrap_or(i64::MAX));
        }
        let mut by_labels: std::collections::BTreeMap<(String, String, String), i64> =
            std::collections::BTreeMap::new();
        for dropped in &snapshot.dropped {
            *by_labels
                .entry((
                    dropped.app.clone(),
                    dropped.scope.clone(),
                    dropped.kind.clone(),
                ))
                .or_default() += 1;
        }
        // Gone rejections disappear rather than stay at their last value.
        self.rejections.clear();
        for ((app, scope, kind), count) in by_labels {
            self.rejections
                .get_or_create(&RejectionLabels { app, scope, kind })
                .set(count);
        }
        self.parca_managed.set(i64::from(snapshot.parca.managed));
    }

    /// Per-application counts of the targets this unit probes: `(app, targets, up)`.
    pub fn observe_app_targets(&self, counts: &[(String, usize, usize)]) {
        self.app_targets.clear();
        self.app_targets_up.clear();
        for (app, targets, up) in counts {
            let label = AppLabel { app: app.clone() };
            self.app_targets
                .get_or_create(&label)
                .set(i64::try_from(*targets).unwrap_or(i64::MAX));
            self.app_targets_up
                .get_or_create(&label)
                .set(i64::try_from(*up).unwrap_or(i64::MAX));
        }
    }

    /// A hook finished; `config_file` is parca.yaml's path (from the current snapshot).
    pub fn observe_note(&self, note: &ReconcileNote, config_file: Option<&str>) {
        self.reconciles.inc();
        if note.rejections > 0 {
            self.hooks_with_invalid_data.inc();
        }
        self.render_seconds.observe(note.render_seconds);
        if config_file.is_some_and(|path| note.files_written.iter().any(|f| f == path)) {
            self.config_writes.inc();
        }
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Ok(registry) = self.registry.lock() {
            let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
        }
        out
    }
}
