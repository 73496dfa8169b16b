//! The `prometheus_scrape` provider side (`MetricsEndpointProvider`): what a charm publishes so
//! Prometheus scrapes it. Pure: jobs, topology and rules in, databags out; the caller writes
//! them (app data only as leader) and decides when ([`publish_scope`]).

use super::wire::{self, JobNotAnObject};
use crate::fixes::{Fix, FixSet};
use crate::interfaces::parca_scrape::PublishScope;
use crate::interfaces::topology::JujuTopology;
use crate::model::Databag;
use crate::pyjson;
use serde_json::{Map, Value};
use std::net::IpAddr;

/// The provider's sanitised jobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsEndpointProvider {
    jobs: Vec<Map<String, Value>>,
    lookaside: Vec<Map<String, Value>>,
}

impl MetricsEndpointProvider {
    /// Sanitises `jobs` (§5.2) and the "lookaside" jobs appended after them. No jobs at all
    /// means the default `*:80` job; lookaside jobs alone do not add it.
    pub fn new(jobs: &[Value], lookaside: &[Value]) -> Result<Self, JobNotAnObject> {
        let sanitize = |jobs: &[Value]| -> Result<Vec<_>, JobNotAnObject> {
            jobs.iter()
                .enumerate()
                .map(|(i, job)| wire::sanitize_job(i, job))
                .collect()
        };
        Ok(MetricsEndpointProvider {
            jobs: sanitize(jobs)?,
            lookaside: sanitize(lookaside)?,
        })
    }

    /// The published job list. `written_before` is how many relations this publish has
    /// already written: without F11 the Python library appends the lookaside jobs once more
    /// for each (B1).
    pub fn scrape_jobs(&self, written_before: usize, fixes: FixSet) -> Vec<Value> {
        let repeats = if fixes.has(Fix::F11) || self.jobs.is_empty() {
            1
        } else {
            written_before + 1
        };
        let mut jobs: Vec<Value> = self.jobs.iter().cloned().map(Value::Object).collect();
        for _ in 0..repeats {
            jobs.extend(self.lookaside.iter().cloned().map(Value::Object));
        }
        if jobs.is_empty() {
            jobs.push(Value::Object(wire::default_job()));
        }
        jobs
    }

    /// The app databag (leader only): `scrape_metadata`, `scrape_jobs` and `alert_rules`
    /// (`None`: forwarding off, published as `{}`), byte-identical to the library's.
    pub fn app_databag(
        &self,
        topology: &JujuTopology,
        alert_rules: Option<&Value>,
        written_before: usize,
        fixes: FixSet,
    ) -> Databag {
        Databag::from([
            (
                wire::SCRAPE_METADATA.to_owned(),
                pyjson::dumps(&Value::Object(topology.as_map())),
            ),
            (
                wire::SCRAPE_JOBS.to_owned(),
                pyjson::dumps(&Value::Array(self.scrape_jobs(written_before, fixes))),
            ),
            (
                wire::ALERT_RULES.to_owned(),
                alert_rules.map_or_else(|| "{}".to_owned(), pyjson::dumps),
            ),
        ])
    }
}

/// Where Prometheus reaches this unit (§7).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UnitEndpoint {
    /// Put in place of `*` in targets.
    pub address: String,
    /// URL path prefix (may be empty).
    pub path: String,
    /// Host FQDN (empty with an external URL).
    pub fqdn: String,
}

/// An `external_url` the provider cannot publish.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("external_url {url:?}: {reason}")]
pub struct ExternalUrlError {
    /// The URL given.
    pub url: String,
    /// What is wrong.
    pub reason: String,
}

impl UnitEndpoint {
    /// From the relation's bind address: an IP literal is used as is (IPv6 unbracketed) with
    /// `fqdn`; anything else is replaced by `fqdn` (Q2).
    pub fn from_bind_address(bind: &str, fqdn: &str) -> UnitEndpoint {
        let address = match bind.trim_matches(['[', ']']).parse::<IpAddr>() {
            Ok(ip) => ip.to_string(),
            Err(_) => fqdn.to_owned(),
        };
        UnitEndpoint {
            address,
            path: String::new(),
            fqdn: fqdn.to_owned(),
        }
    }

    /// From an external URL: its host (lower case, IPv6 unbracketed) and path; the port is
    /// dropped (Q1). Without F12, `host:port/path` (no scheme) is an error, as the library's
    /// crash (B2); with it, every scheme-less URL is read as `http://…`.
    pub fn from_external_url(url: &str, fixes: FixSet) -> Result<UnitEndpoint, ExternalUrlError> {
        let error = |reason: &str| ExternalUrlError {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let full = if url.contains("://") {
            url.to_owned()
        } else if !fixes.has(Fix::F12) && python_sees_a_scheme(url) {
            return Err(error(
                "read as scheme:path, it has no host name (give a scheme)",
            ));
        } else {
            format!("http://{url}")
        };
        let parsed = url::Url::parse(&full).map_err(|e| error(&e.to_string()))?;
        let address = match parsed.host() {
            Some(url::Host::Domain(d)) => d.to_lowercase(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            None => return Err(error("no host name")),
        };
        // Python's urlparse keeps an absent path empty; the url crate says "/".
        let after_scheme = &full[full.find("://").map_or(0, |i| i + 3)..];
        let path = match after_scheme.find(['/', '?', '#']) {
            Some(i) if after_scheme[i..].starts_with('/') => parsed.path().to_owned(),
            _ => String::new(),
        };
        Ok(UnitEndpoint {
            address,
            path,
            fqdn: String::new(),
        })
    }

    /// The unit databag (every unit), in the library's key order; empty values are left out
    /// (Juju deletes a key set to "", Q3).
    pub fn unit_databag(&self, unit_name: &str) -> Databag {
        [
            (wire::UNIT_ADDRESS, self.address.as_str()),
            (wire::UNIT_PATH, self.path.as_str()),
            (wire::UNIT_NAME, unit_name),
            (wire::UNIT_FQDN, self.fqdn.as_str()),
        ]
        .into_iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
    }
}

/// Python's `urlsplit` takes `host:port/path` as scheme `host`: the text before the first `:`
/// is a valid scheme (a letter, then letters, digits, `+-.`).
fn python_sees_a_scheme(url: &str) -> bool {
    url.split_once(':').is_some_and(|(scheme, _)| {
        scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    })
}

/// The provider's events, as far as publishing goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderEvent {
    /// `<endpoint>-relation-joined`.
    RelationJoined,
    /// `<endpoint>-relation-changed`.
    RelationChanged,
    /// `update-status`.
    UpdateStatus,
    /// Anything else (config-changed, pebble-ready, leader-elected, …).
    Other,
}

/// What LIBPATCH 61 writes on `event` (§8); `refresh` says whether the event is one of the
/// charm's refresh events (default: the single container's pebble-ready, else update-status;
/// see [`default_refresh_is_update_status`]).
pub fn publish_scope(event: ProviderEvent, refresh: bool) -> PublishScope {
    match event {
        ProviderEvent::RelationJoined => PublishScope::All,
        _ if refresh => PublishScope::All,
        ProviderEvent::UpdateStatus | ProviderEvent::RelationChanged => PublishScope::UnitOnly,
        ProviderEvent::Other => PublishScope::Nothing,
    }
}

/// Whether the default refresh event is `update-status` (zero or several containers, or a
/// podspec charm) rather than the single container's `pebble-ready`.
pub fn default_refresh_is_update_status(containers: usize, podspec: bool) -> bool {
    containers != 1 || podspec
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_urls_keep_host_and_path_and_drop_the_port() {
        let e =
            UnitEndpoint::from_external_url("https://Demo.Example.com:8443/sub/path", FixSet::ALL)
                .unwrap();
        assert_eq!(
            (e.address.as_str(), e.path.as_str(), e.fqdn.as_str()),
            ("demo.example.com", "/sub/path", "")
        );
        let e = UnitEndpoint::from_external_url("http://[fd00::1]:80", FixSet::ALL).unwrap();
        assert_eq!((e.address.as_str(), e.path.as_str()), ("fd00::1", ""));
        let fixed =
            UnitEndpoint::from_external_url("demo.example.com:8443/x", FixSet::ALL).unwrap();
        assert_eq!(fixed.address, "demo.example.com");
        assert!(
            UnitEndpoint::from_external_url(
                "demo.example.com:8443/x",
                FixSet::ALL.without(Fix::F12)
            )
            .is_err()
        );
    }

    #[test]
    fn bind_addresses_that_are_not_ips_become_the_fqdn() {
        let e = UnitEndpoint::from_bind_address("host.internal", "pod.example");
        assert_eq!(e.address, "pod.example");
        let bag = UnitEndpoint::from_bind_address("10.0.0.1", "").unit_databag("a/0");
        assert_eq!(
            bag.keys().collect::<Vec<_>>(),
            [wire::UNIT_ADDRESS, wire::UNIT_NAME]
        );
    }
}
