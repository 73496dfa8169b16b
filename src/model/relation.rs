//! A read-only snapshot of one relation as a hook sees it: the remote app's databag and each
//! remote unit's databag. Built by the charm's observe step or by tests; interfaces only read it.

use std::collections::BTreeMap;
use std::fmt;

/// A Juju databag: string keys to string values (an empty value is an absent key on the wire).
pub type Databag = BTreeMap<String, String>;

/// `<endpoint>:<id>` — how Juju names a relation.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct RelationId {
    /// The local endpoint name, e.g. `profiling-endpoint`.
    pub endpoint: String,
    /// The model-wide numeric id.
    pub id: u64,
}

impl RelationId {
    /// A relation id from its parts.
    pub fn new(endpoint: impl Into<String>, id: u64) -> Self {
        RelationId {
            endpoint: endpoint.into(),
            id,
        }
    }
}

impl fmt::Display for RelationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.endpoint, self.id)
    }
}

/// Everything one relation shows the local unit.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct RelationSnapshot {
    /// Which relation.
    pub id: RelationId,
    /// The remote application's name.
    pub remote_app: String,
    /// The remote application's databag.
    pub app: Databag,
    /// Remote unit name (e.g. `zinc/3`) → that unit's databag. Only units that have joined.
    pub units: BTreeMap<String, Databag>,
}

impl Default for RelationId {
    fn default() -> Self {
        RelationId::new("", 0)
    }
}

impl RelationSnapshot {
    /// A value of the remote app's databag (see [`bag_value`]).
    pub fn app_value(&self, key: &str) -> Option<&str> {
        bag_value(&self.app, key)
    }
}

/// A databag value, treating an empty string as absent (Juju deletes empty values).
pub fn bag_value<'a>(bag: &'a Databag, key: &str) -> Option<&'a str> {
    bag.get(key).map(String::as_str).filter(|v| !v.is_empty())
}

/// The number of a unit name (`zinc/12` → 12); names without one sort after all numbered ones.
pub fn unit_number(unit: &str) -> u64 {
    unit.rsplit_once('/')
        .and_then(|(_, n)| n.parse().ok())
        .unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_numbers_sort_numerically() {
        assert_eq!(unit_number("a/10"), 10);
        assert!(unit_number("a/9") < unit_number("a/10"));
        assert_eq!(unit_number("weird"), u64::MAX);
    }

    #[test]
    fn empty_app_values_read_as_absent() {
        let mut rel = RelationSnapshot::default();
        rel.app.insert("k".into(), String::new());
        assert_eq!(rel.app_value("k"), None);
        assert_eq!(rel.id.to_string(), ":0");
    }
}
