//! The remote-data cache: what this unit last read from the other side of its relations, so a
//! hook about one remote unit reads that unit and not all of them (issue 9).
//!
//! Only data read from peers (and the unit's own network address, which cannot change without
//! `config-changed`) is cached: remote apps, their app bags, remote unit bags, and the ids and
//! remote apps of the relations where we write. Never our own bags: Juju discards a failed
//! hook's writes, so what we last *wrote* is no evidence of what Juju holds. The file lives in
//! `/var/lib/parca-broker/` (never in the charm directory, which an upgrade replaces), is written
//! atomically like every other file, and only when its content changes.

use super::files::CACHE_FILE;
use super::observe::Observed;
use super::plan::FileWrite;
use crate::model::{RelationId, RelationSnapshot};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The cache file's format; a file of any other schema is ignored (full read).
pub const SCHEMA: u32 = 4;

/// The binary that wrote a cache; a cache from any other build version is ignored.
pub const BINARY_VERSION: &str = env!("CARGO_PKG_VERSION");

/// `update-status` does a full read when the last one is older than this (seconds). At Juju's
/// default `update-status` interval of 5 minutes that is every 12th `update-status`.
pub const MAX_AGE_SECONDS: u64 = 3600;

/// A relation where we write: its id and remote application (our bags are never cached).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteEnd {
    /// The relation.
    pub id: RelationId,
    /// The remote application.
    pub remote_app: String,
}

/// What the cache file holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteCache {
    /// [`SCHEMA`] of the writer.
    pub schema: u32,
    /// [`BINARY_VERSION`] of the writer.
    pub binary: String,
    /// The unit that wrote it (a copied root directory must not pass for this unit's cache).
    pub unit: String,
    /// Unix time of the last full read (every relation, every unit).
    pub full_read_at: u64,
    /// profiling-endpoint: every relation as last read.
    pub scrape: Vec<RelationSnapshot>,
    /// external-parca-store-endpoint: every relation as last read.
    pub upstream: Vec<RelationSnapshot>,
    /// parca-store-endpoint relations.
    pub agents: Vec<RemoteEnd>,
    /// self-profiling-endpoint relations.
    pub self_profiling: Vec<RemoteEnd>,
    /// Our ingress (else bind) address on self-profiling-endpoint.
    pub network_address: Option<String>,
    /// metrics-endpoint relations.
    #[serde(default)]
    pub metrics_endpoint: Vec<RemoteEnd>,
    /// grafana-dashboard relations.
    #[serde(default)]
    pub grafana_dashboard: Vec<RemoteEnd>,
    /// Our bind address on metrics-endpoint and the host's FQDN, as last read.
    #[serde(default)]
    pub metrics_address: Option<super::observe::MetricsAddress>,
    /// `resource-get parca` as of the last full read (attaching a resource fires
    /// `upgrade-charm`, which reads it again).
    #[serde(default)]
    pub parca_resource: Option<Result<String, String>>,
    /// The peer relation as last read.
    #[serde(default)]
    pub peers: Option<super::observe::Peers>,
    /// What the managed Parca last said (read on update-status and full reads only: its
    /// targets list is large at fleet scale), kept for the hooks in between.
    #[serde(default)]
    pub parca_seen: Option<ParcaSeen>,
}

/// [`RemoteCache`] as written, borrowing every field: a hook encodes its relations where they
/// are instead of copying all of them first (~0.7 MB at K = 1,000; issue 9, P5). The one
/// definition of the file's layout: same fields, same order, as [`RemoteCache`] reads them.
#[derive(Serialize)]
struct CacheFile<'a> {
    schema: u32,
    binary: &'a str,
    unit: &'a str,
    full_read_at: u64,
    scrape: &'a [RelationSnapshot],
    upstream: &'a [RelationSnapshot],
    agents: &'a [RemoteEnd],
    self_profiling: &'a [RemoteEnd],
    network_address: &'a Option<String>,
    metrics_endpoint: &'a [RemoteEnd],
    grafana_dashboard: &'a [RemoteEnd],
    metrics_address: &'a Option<super::observe::MetricsAddress>,
    parca_resource: &'a Option<Result<String, String>>,
    peers: &'a Option<super::observe::Peers>,
    parca_seen: Option<&'a ParcaSeen>,
}

impl CacheFile<'_> {
    fn encode(&self) -> Vec<u8> {
        // Serialising plain strings, maps and vectors cannot fail.
        let mut bytes = serde_json::to_vec(self).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }
}

/// The managed Parca's view as a hook last summarised it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ParcaSeen {
    /// Appended to the status (`; parca scraping 3/4 targets`).
    pub note: String,
    /// For the service page.
    pub summary: String,
    /// A problem it showed (a rejected parca.yaml), blocking.
    pub problem: Option<String>,
}

/// Why a cache cannot be used: the hook reads everything instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheMiss {
    /// No cache file.
    Missing,
    /// Not JSON of the expected shape.
    Unreadable(String),
    /// Written with another schema.
    Schema(u32),
    /// Written by another build.
    Binary(String),
    /// Written by another unit.
    Unit(String),
}

impl fmt::Display for CacheMiss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CacheMiss::Missing => f.write_str("no cache"),
            CacheMiss::Unreadable(why) => write!(f, "cache unreadable ({why})"),
            CacheMiss::Schema(found) => write!(f, "cache schema {found}, expected {SCHEMA}"),
            CacheMiss::Binary(found) => {
                write!(
                    f,
                    "cache written by version {found}, this is {BINARY_VERSION}"
                )
            }
            CacheMiss::Unit(found) => write!(f, "cache written by unit {found}"),
        }
    }
}

impl RemoteCache {
    /// Decodes and checks a cache file's content for `unit`.
    pub fn load(content: Option<&[u8]>, unit: &str) -> Result<RemoteCache, CacheMiss> {
        let content = content.ok_or(CacheMiss::Missing)?;
        // The version fields first, so a future schema is reported as such, not as garbage.
        #[derive(Deserialize)]
        struct Header {
            schema: u32,
            binary: String,
        }
        let header: Header =
            serde_json::from_slice(content).map_err(|e| CacheMiss::Unreadable(e.to_string()))?;
        if header.schema != SCHEMA {
            return Err(CacheMiss::Schema(header.schema));
        }
        if header.binary != BINARY_VERSION {
            return Err(CacheMiss::Binary(header.binary));
        }
        let cache: RemoteCache =
            serde_json::from_slice(content).map_err(|e| CacheMiss::Unreadable(e.to_string()))?;
        if cache.unit != unit {
            return Err(CacheMiss::Unit(cache.unit));
        }
        Ok(cache)
    }

    /// The file content: compact JSON, deterministic (sorted maps, relations in id order).
    pub fn encode(&self) -> Vec<u8> {
        CacheFile {
            schema: self.schema,
            binary: &self.binary,
            unit: &self.unit,
            full_read_at: self.full_read_at,
            scrape: &self.scrape,
            upstream: &self.upstream,
            agents: &self.agents,
            self_profiling: &self.self_profiling,
            network_address: &self.network_address,
            metrics_endpoint: &self.metrics_endpoint,
            grafana_dashboard: &self.grafana_dashboard,
            metrics_address: &self.metrics_address,
            parca_resource: &self.parca_resource,
            peers: &self.peers,
            parca_seen: self.parca_seen.as_ref(),
        }
        .encode()
    }

    /// Is the last full read older than [`MAX_AGE_SECONDS`] (or in the future: a clock that
    /// jumped back)?
    pub fn is_stale(&self, now_unix: u64) -> bool {
        now_unix < self.full_read_at || now_unix - self.full_read_at >= MAX_AGE_SECONDS
    }
}

/// The cache this hook leaves behind, as a file write when it differs from the file on disk.
///
/// A full read refreshes `full_read_at` only when the recorded one is older than half of
/// [`MAX_AGE_SECONDS`]: so `config-changed` or `leader-elected` that change nothing write
/// nothing, while `update-status` still does a full read at least once per [`MAX_AGE_SECONDS`].
pub fn cache_write(observed: &Observed, parca_seen: Option<&ParcaSeen>) -> Option<FileWrite> {
    let read = &observed.read;
    let previous = read.previous_full_read_at;
    let full_read_at = match (read.full_reason.is_some(), previous) {
        (true, Some(at))
            if at <= observed.now_unix && observed.now_unix - at < MAX_AGE_SECONDS / 2 =>
        {
            at
        }
        (true, _) => observed.now_unix,
        (false, at) => at.unwrap_or(observed.now_unix),
    };
    let ends = |relations: &[super::observe::LocalRelation]| -> Vec<RemoteEnd> {
        relations
            .iter()
            .map(|r| RemoteEnd {
                id: r.id.clone(),
                remote_app: r.remote_app.clone(),
            })
            .collect()
    };
    let content = CacheFile {
        schema: SCHEMA,
        binary: BINARY_VERSION,
        unit: &observed.ctx.unit,
        full_read_at,
        scrape: &observed.scrape,
        upstream: &observed.upstream,
        agents: &ends(&observed.agents),
        self_profiling: &ends(&observed.self_profiling),
        network_address: &observed.network_address,
        metrics_endpoint: &ends(&observed.metrics_endpoint),
        grafana_dashboard: &ends(&observed.grafana_dashboard),
        metrics_address: &observed.metrics_address,
        parca_resource: &observed.parca.resource,
        peers: &observed.peers,
        parca_seen,
    }
    .encode();
    observed
        .file_differs(CACHE_FILE, &content)
        .then(|| FileWrite {
            path: CACHE_FILE.to_owned(),
            content,
            mode: 0o600,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache() -> RemoteCache {
        RemoteCache {
            schema: SCHEMA,
            binary: BINARY_VERSION.into(),
            unit: "parca-broker/0".into(),
            full_read_at: 1_000,
            scrape: vec![RelationSnapshot {
                id: RelationId::new("profiling-endpoint", 3),
                remote_app: "zinc".into(),
                app: [("k".to_owned(), "v".to_owned())].into(),
                units: [("zinc/0".to_owned(), Default::default())].into(),
            }],
            upstream: Vec::new(),
            agents: vec![RemoteEnd {
                id: RelationId::new("parca-store-endpoint", 4),
                remote_app: "agent".into(),
            }],
            self_profiling: Vec::new(),
            network_address: Some("10.0.0.5".into()),
            metrics_endpoint: Vec::new(),
            grafana_dashboard: Vec::new(),
            metrics_address: None,
            parca_resource: None,
            peers: None,
            parca_seen: None,
        }
    }

    #[test]
    fn round_trips_and_checks_its_writer() {
        let bytes = cache().encode();
        assert_eq!(
            RemoteCache::load(Some(&bytes), "parca-broker/0"),
            Ok(cache())
        );
        assert_eq!(
            RemoteCache::load(Some(&bytes), "parca-broker/1"),
            Err(CacheMiss::Unit("parca-broker/0".into()))
        );
        assert_eq!(
            RemoteCache::load(None, "parca-broker/0"),
            Err(CacheMiss::Missing)
        );
    }

    #[test]
    fn other_versions_and_garbage_are_misses() {
        let mut other = cache();
        other.schema = 99;
        assert_eq!(
            RemoteCache::load(Some(&other.encode()), "parca-broker/0"),
            Err(CacheMiss::Schema(99))
        );
        let mut other = cache();
        other.binary = "0.0.1-old".into();
        assert!(matches!(
            RemoteCache::load(Some(&other.encode()), "parca-broker/0"),
            Err(CacheMiss::Binary(_))
        ));
        for garbage in [&b""[..], b"{", b"null", b"{\"schema\":1}", &[0xff, 0xfe]] {
            assert!(
                matches!(
                    RemoteCache::load(Some(garbage), "parca-broker/0"),
                    Err(CacheMiss::Unreadable(_))
                ),
                "{garbage:?}"
            );
        }
        let mut truncated = cache().encode();
        truncated.truncate(truncated.len() / 2);
        assert!(matches!(
            RemoteCache::load(Some(&truncated), "parca-broker/0"),
            Err(CacheMiss::Unreadable(_))
        ));
    }

    #[test]
    fn staleness_is_age_or_a_clock_that_went_back() {
        let c = cache();
        assert!(!c.is_stale(1_000));
        assert!(!c.is_stale(1_000 + MAX_AGE_SECONDS - 1));
        assert!(c.is_stale(1_000 + MAX_AGE_SECONDS));
        assert!(c.is_stale(999));
    }
}
