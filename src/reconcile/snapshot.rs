//! What the broker knows, as the service shows it: computed by plan (pure, deterministic, no
//! time in it), written by apply to the state file only when it changes, read by the service.
//! The token is never in it.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

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
    /// `host:port` targets.
    pub targets: Vec<String>,
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

/// A target group's labels, by name: a map in the state file, held compactly by the service.
/// 5,000 targets carry a handful of distinct label strings many times over; as a map of owned
/// strings they were ~2 MB of the service's idle RSS (issue 9, P5). Here each is one sorted
/// list, and names and values read within [`with_shared_label_text`] are shared.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Labels(Vec<(Arc<str>, Arc<str>)>);

impl Labels {
    /// `(name, value)` in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (&**k, &**v))
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .binary_search_by(|(k, _)| (**k).cmp(name))
            .ok()
            .map(|i| &*self.0[i].1)
    }

    fn from_pairs(mut pairs: Vec<(Arc<str>, Arc<str>)>) -> Self {
        // Stable sort, then the last of equal names wins: a map's meaning.
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        let mut labels: Vec<(Arc<str>, Arc<str>)> = Vec::with_capacity(pairs.len());
        for pair in pairs {
            match labels.last_mut() {
                Some(last) if last.0 == pair.0 => *last = pair,
                _ => labels.push(pair),
            }
        }
        Labels(labels)
    }
}

impl<K: AsRef<str>, V: AsRef<str>> FromIterator<(K, V)> for Labels {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Labels::from_pairs(
            iter.into_iter()
                .map(|(k, v)| (shared_text(k.as_ref()), shared_text(v.as_ref())))
                .collect(),
        )
    }
}

impl From<BTreeMap<String, String>> for Labels {
    fn from(map: BTreeMap<String, String>) -> Self {
        map.into_iter().collect()
    }
}

impl Serialize for Labels {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for Labels {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct LabelsVisitor;
        impl<'de> serde::de::Visitor<'de> for LabelsVisitor {
            type Value = Labels;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map of label names to text")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Labels, A::Error> {
                let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(0).min(64));
                while let Some((k, v)) =
                    map.next_entry::<std::borrow::Cow<'de, str>, std::borrow::Cow<'de, str>>()?
                {
                    pairs.push((shared_text(&k), shared_text(&v)));
                }
                Ok(Labels::from_pairs(pairs))
            }
        }
        deserializer.deserialize_map(LabelsVisitor)
    }
}

thread_local! {
    /// The label text read so far in [`with_shared_label_text`] on this thread.
    static SHARED_TEXT: std::cell::RefCell<Option<std::collections::HashSet<Arc<str>>>> =
        const { std::cell::RefCell::new(None) };
}

/// `text` as an `Arc<str>`, the same allocation as an equal text read before within
/// [`with_shared_label_text`].
fn shared_text(text: &str) -> Arc<str> {
    SHARED_TEXT.with(|shared| match shared.borrow_mut().as_mut() {
        Some(set) => match set.get(text) {
            Some(existing) => Arc::clone(existing),
            None => {
                let new: Arc<str> = Arc::from(text);
                set.insert(Arc::clone(&new));
                new
            }
        },
        None => Arc::from(text),
    })
}

/// Runs `read` (a state file being parsed) with equal label names and values sharing one
/// allocation. The sharing ends with `read`: nothing is kept for the next file.
pub fn with_shared_label_text<T>(read: impl FnOnce() -> T) -> T {
    SHARED_TEXT.with(|shared| *shared.borrow_mut() = Some(Default::default()));
    let out = read();
    SHARED_TEXT.with(|shared| *shared.borrow_mut() = None);
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_a_map_in_the_state_file() {
        let map = BTreeMap::from([
            ("juju_unit".to_owned(), "a/0".to_owned()),
            ("juju_application".to_owned(), "a".to_owned()),
        ]);
        let labels = Labels::from(map.clone());
        assert_eq!(
            serde_json::to_string(&labels).unwrap(),
            serde_json::to_string(&map).unwrap()
        );
        let back: Labels = serde_json::from_str(r#"{"b": "1", "a": "2", "b": "3"}"#).unwrap();
        assert_eq!(back.iter().collect::<Vec<_>>(), [("a", "2"), ("b", "3")]);
        assert_eq!(back.get("b"), Some("3"));
        assert_eq!(back.get("c"), None);
    }

    #[test]
    fn label_text_read_in_one_file_is_shared_and_only_there() {
        let text = r#"[{"juju_model": "m"}, {"juju_model": "m"}]"#;
        let shared: Vec<Labels> = with_shared_label_text(|| serde_json::from_str(text)).unwrap();
        assert!(Arc::ptr_eq(&shared[0].0[0].1, &shared[1].0[0].1));
        assert!(Arc::ptr_eq(&shared[0].0[0].0, &shared[1].0[0].0));
        let separate: Vec<Labels> = serde_json::from_str(text).unwrap();
        assert!(!Arc::ptr_eq(&separate[0].0[0].1, &separate[1].0[0].1));
        assert_eq!(shared, separate);
    }
}
