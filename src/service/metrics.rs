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
    }

    /// A hook finished; `config_file` is parca.yaml's path (from the current snapshot).
    pub fn observe_note(&self, note: &ReconcileNote, config_file: Option<&str>) {
        self.reconciles.inc();
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
