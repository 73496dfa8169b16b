//! The `parca_scrape` provider side: what an app that wants to be profiled publishes.
//!
//! Pure: [`ScrapeProvider`] turns jobs into databags; the caller writes them (app data only
//! when leader). [`publish_scope`] tells an event-driven charm which databags the Python
//! library would write on a given event (protocol.md §2.1.1); a holistic charm writes both
//! on every hook and lets the diff skip unchanged values.

use super::wire::{self, JobNotAnObject};
use crate::interfaces::Trigger;
use crate::interfaces::topology::JujuTopology;
use crate::model::Databag;
use crate::pyjson;
use serde_json::{Map, Value};

/// The provider's sanitised jobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScrapeProvider {
    jobs: Vec<Map<String, Value>>,
}

/// A job given to the provider could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("scrape job {index}: {source}")]
pub struct ProviderError {
    /// Position of the job in the list given.
    pub index: usize,
    /// What is wrong with it.
    #[source]
    pub source: JobNotAnObject,
}

impl ScrapeProvider {
    /// Sanitises `jobs`; an empty list means the default `*:80` job. A job that is not an
    /// object is an error (the Python library crashes in its constructor).
    pub fn new(jobs: &[Value]) -> Result<Self, ProviderError> {
        let mut sanitized = jobs
            .iter()
            .enumerate()
            .map(|(index, job)| {
                wire::sanitize_job(job).map_err(|source| ProviderError { index, source })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if sanitized.is_empty() {
            sanitized.push(wire::default_job());
        }
        Ok(ScrapeProvider { jobs: sanitized })
    }

    /// The sanitised jobs, in the order given.
    pub fn jobs(&self) -> &[Map<String, Value>] {
        &self.jobs
    }

    /// The app databag (leader only): `scrape_metadata` and `scrape_jobs`, byte-identical to the
    /// Python library's `json.dumps` output.
    pub fn app_databag(&self, topology: &JujuTopology) -> Databag {
        let jobs = Value::Array(self.jobs.iter().cloned().map(Value::Object).collect());
        Databag::from([
            (
                wire::SCRAPE_METADATA.to_owned(),
                pyjson::dumps(&Value::Object(topology.as_map())),
            ),
            (wire::SCRAPE_JOBS.to_owned(), pyjson::dumps(&jobs)),
        ])
    }

    /// The unit databag (every unit): its address and name, plain strings.
    pub fn unit_databag(unit_name: &str, address: &str) -> Databag {
        Databag::from([
            (wire::UNIT_ADDRESS.to_owned(), address.to_owned()),
            (wire::UNIT_NAME.to_owned(), unit_name.to_owned()),
        ])
    }
}

/// What the charm looks like, which decides the provider's "refresh" event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CharmShape {
    /// Number of containers in metadata.
    pub containers: usize,
    /// `series` in metadata contains `kubernetes` (a podspec charm).
    pub podspec: bool,
}

/// Which databags a publish writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishScope {
    /// Nothing.
    Nothing,
    /// Only this unit's address and name.
    UnitOnly,
    /// Unit data, and app data if leader.
    All,
}

/// What the Python provider writes on `trigger` (protocol.md §2.1.1): joined, changed, upgrade
/// and leader-elected publish everything; the refresh event (the single container's
/// pebble-ready, else update-status) writes only unit data.
pub fn publish_scope(trigger: Trigger, shape: CharmShape) -> PublishScope {
    let refresh_is_pebble_ready = shape.containers == 1 && !shape.podspec;
    match trigger {
        Trigger::RelationJoined
        | Trigger::RelationChanged
        | Trigger::UpgradeCharm
        | Trigger::LeaderElected => PublishScope::All,
        Trigger::PebbleReady if refresh_is_pebble_ready => PublishScope::UnitOnly,
        Trigger::UpdateStatus if !refresh_is_pebble_ready => PublishScope::UnitOnly,
        _ => PublishScope::Nothing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interfaces::topology::ModelUuid;
    use serde_json::json;

    fn topology() -> JujuTopology {
        JujuTopology {
            model: "test-model".into(),
            model_uuid: ModelUuid::parse("3cdca972-b819-4f03-8d90-9c7a36d234c9").unwrap(),
            application: "prov".into(),
            unit: "prov/0".into(),
            charm_name: "prov-charm".into(),
        }
    }

    #[test]
    fn no_jobs_publishes_the_default_job() {
        let bag = ScrapeProvider::new(&[]).unwrap().app_databag(&topology());
        assert_eq!(
            bag[wire::SCRAPE_JOBS],
            r#"[{"static_configs": [{"targets": ["*:80"]}]}]"#
        );
        assert!(
            bag[wire::SCRAPE_METADATA].starts_with(r#"{"model": "test-model", "model_uuid": "#)
        );
    }

    #[test]
    fn a_non_object_job_is_a_typed_error_naming_its_position() {
        let err = ScrapeProvider::new(&[json!({}), json!("*:80")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "scrape job 1: a job must be an object, not string"
        );
    }

    #[test]
    fn refresh_event_depends_on_containers() {
        let one = CharmShape {
            containers: 1,
            podspec: false,
        };
        assert_eq!(
            publish_scope(Trigger::PebbleReady, one),
            PublishScope::UnitOnly
        );
        assert_eq!(
            publish_scope(Trigger::UpdateStatus, one),
            PublishScope::Nothing
        );
        assert_eq!(
            publish_scope(Trigger::UpdateStatus, CharmShape::default()),
            PublishScope::UnitOnly
        );
        let podspec = CharmShape {
            containers: 1,
            podspec: true,
        };
        assert_eq!(
            publish_scope(Trigger::UpdateStatus, podspec),
            PublishScope::UnitOnly
        );
        assert_eq!(
            publish_scope(Trigger::LeaderElected, one),
            PublishScope::All
        );
    }
}
