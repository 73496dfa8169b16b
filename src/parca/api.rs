//! Parca's own view, read from the running server: its `/metrics` (did the last reload of
//! parca.yaml succeed, parca.md A.8) and its targets API (ScrapeService `Targets`, served by
//! grpc-gateway at `GET /api/targets`). Parsing is pure; [`fetch`] is the one blocking HTTP GET
//! a hook makes (loopback, short timeout).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Parca's config reload metrics. Parca sets them only on a reload (not at startup): a running
/// Parca with `successful == Some(false)` and a file newer than its last success rejected it.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct ReloadState {
    /// `parca_config_last_reload_successful`.
    pub successful: Option<bool>,
    /// `parca_config_last_reload_success_timestamp_seconds` (0 before the first reload).
    pub success_unix: Option<f64>,
    /// `process_start_time_seconds`.
    pub started_unix: Option<f64>,
}

impl ReloadState {
    /// Reads the three gauges from Prometheus text exposition.
    pub fn from_metrics(text: &str) -> Self {
        let mut state = Self::default();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let mut parts = line.split_whitespace();
            let (Some(name), Some(value)) = (parts.next(), parts.next()) else {
                continue;
            };
            let Ok(value) = value.parse::<f64>() else {
                continue;
            };
            match name {
                "parca_config_last_reload_successful" => state.successful = Some(value == 1.0),
                "parca_config_last_reload_success_timestamp_seconds" => {
                    state.success_unix = Some(value);
                }
                "process_start_time_seconds" => state.started_unix = Some(value),
                _ => {}
            }
        }
        state
    }

    /// Did Parca refuse the file last written at `written_unix`? True when a reload failed and
    /// nothing was loaded since the file was written (a file older than the process was loaded
    /// at startup, which a running Parca passed).
    pub fn rejected(&self, written_unix: f64) -> bool {
        let loaded_since = [self.success_unix, self.started_unix]
            .into_iter()
            .flatten()
            .any(|t| t >= written_unix);
        self.successful == Some(false) && !loaded_since
    }
}

/// One target as Parca reports it, per profile type merged into one address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParcaTarget {
    /// The job.
    pub job: String,
    /// The scraped address (`__address__` of its discovered labels).
    pub address: String,
    /// `good` when every profile type's last scrape succeeded, `bad` when one failed,
    /// `unknown` before the first scrape.
    pub health: String,
    /// The latest scrape of any profile type (RFC 3339), empty before the first.
    pub last_scrape: String,
    /// The first non-empty error of its profile types.
    pub last_error: String,
    /// Its labels (without `__name__`, which names the profile type).
    pub labels: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct TargetsResponse {
    #[serde(default)]
    targets: BTreeMap<String, TargetList>,
}

#[derive(Deserialize)]
struct TargetList {
    #[serde(default)]
    targets: Vec<WireTarget>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireTarget {
    #[serde(default)]
    discovered_labels: LabelSet,
    #[serde(default)]
    labels: LabelSet,
    #[serde(default)]
    last_error: String,
    #[serde(default)]
    last_scrape: String,
    #[serde(default)]
    health: String,
}

#[derive(Deserialize, Default)]
struct LabelSet {
    #[serde(default)]
    labels: Vec<Label>,
}

#[derive(Deserialize)]
struct Label {
    name: String,
    value: String,
}

/// The scrape timestamp Parca reports for "never" (Go's zero time).
const NEVER: &str = "0001-01-01T00:00:00Z";

/// Parses `GET /api/targets` (grpc-gateway JSON of `TargetsResponse`), merging the profile
/// types of one address; sorted by job then address.
pub fn parse_targets(json: &str) -> Result<Vec<ParcaTarget>, serde_json::Error> {
    let response: TargetsResponse = serde_json::from_str(json)?;
    let mut merged: BTreeMap<(String, String), ParcaTarget> = BTreeMap::new();
    for (job, list) in response.targets {
        for target in list.targets {
            let labels: BTreeMap<String, String> = target
                .labels
                .labels
                .into_iter()
                .filter(|l| l.name != "__name__")
                .map(|l| (l.name, l.value))
                .collect();
            // Not `instance`: relation jobs set it to the unit's topology identifier.
            let address = target
                .discovered_labels
                .labels
                .iter()
                .find(|l| l.name == "__address__")
                .map(|l| l.value.clone())
                .unwrap_or_default();
            let health = match target.health.as_str() {
                "HEALTH_GOOD" => "good",
                "HEALTH_BAD" => "bad",
                _ => "unknown",
            };
            let scrape = if target.last_scrape == NEVER {
                String::new()
            } else {
                target.last_scrape
            };
            let entry = merged
                .entry((job.clone(), address.clone()))
                .or_insert_with(|| ParcaTarget {
                    job: job.clone(),
                    address,
                    health: health.to_owned(),
                    last_scrape: String::new(),
                    last_error: String::new(),
                    labels,
                });
            entry.health = worse(&entry.health, health).to_owned();
            // RFC 3339 in UTC from one clock: the text order is the time order.
            if scrape > entry.last_scrape {
                entry.last_scrape = scrape;
            }
            if entry.last_error.is_empty() {
                entry.last_error = target.last_error;
            }
        }
    }
    Ok(merged.into_values().collect())
}

fn worse<'a>(a: &'a str, b: &'a str) -> &'a str {
    let rank = |h: &str| match h {
        "bad" => 2,
        "unknown" => 1,
        _ => 0,
    };
    if rank(b) > rank(a) { b } else { a }
}

/// A failed fetch.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Not an address.
    #[error("{0:?} is not host:port")]
    Address(String),
    /// Connect, send or receive failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// Not HTTP 200.
    #[error("HTTP {0}")]
    Status(String),
}

/// `GET http://<address><path>` with one timeout for connect, write and each read. HTTP/1.0,
/// so the reply is never chunked and ends when the server closes. At most 64 MiB are read
/// (Parca's targets list for 5,000 targets, five profile types each, is about 15 MB).
pub fn fetch(address: &str, path: &str, timeout: Duration) -> Result<String, FetchError> {
    let socket: SocketAddr = address
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| FetchError::Address(address.to_owned()))?;
    let mut stream = TcpStream::connect_timeout(&socket, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: {address}\r\nAccept: */*\r\n\r\n"
    )?;
    let mut body = Vec::new();
    stream.take(64 << 20).read_to_end(&mut body)?;
    let text = String::from_utf8_lossy(&body);
    let (head, content) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1) != Some("200") {
        return Err(FetchError::Status(status.to_owned()));
    }
    Ok(content.to_owned())
}

/// What a running Parca says about itself.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ParcaView {
    /// Its reload gauges.
    pub reload: ReloadState,
    /// Its targets.
    pub targets: Vec<ParcaTarget>,
}

/// Reads `/metrics` and `/api/targets` of the Parca at `address`.
pub fn read_view(address: &str, timeout: Duration) -> Result<ParcaView, String> {
    let metrics = fetch(address, "/metrics", timeout).map_err(|e| format!("/metrics: {e}"))?;
    let targets = fetch(address, "/api/targets", timeout)
        .map_err(|e| format!("/api/targets: {e}"))
        .and_then(|json| parse_targets(&json).map_err(|e| format!("/api/targets: {e}")))?;
    Ok(ParcaView {
        reload: ReloadState::from_metrics(&metrics),
        targets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reload_gauges_are_read_and_a_rejected_file_is_told_apart() {
        let text = "# HELP x\nparca_config_last_reload_successful 0\n\
                    parca_config_last_reload_success_timestamp_seconds 0\n\
                    process_start_time_seconds 1000.5\n";
        let state = ReloadState::from_metrics(text);
        assert_eq!(state.successful, Some(false));
        assert_eq!(state.started_unix, Some(1000.5));
        // Loaded at startup (file older than the process): not rejected.
        assert!(!state.rejected(900.0));
        // Written after the start, no successful reload since: rejected.
        assert!(state.rejected(1100.0));
        let ok = ReloadState {
            successful: Some(true),
            success_unix: Some(1200.0),
            started_unix: Some(1000.0),
        };
        assert!(!ok.rejected(1100.0));
        let failed_later = ReloadState {
            successful: Some(false),
            success_unix: Some(1200.0),
            started_unix: Some(1000.0),
        };
        assert!(failed_later.rejected(1300.0));
        assert!(!failed_later.rejected(1150.0));
    }

    #[test]
    fn targets_merge_profile_types_and_take_the_worst_health() {
        let json = r#"{"targets":{"app":{"targets":[
          {"discoveredLabels":{"labels":[{"name":"__address__","value":"10.0.0.1:6060"}]},
           "labels":{"labels":[{"name":"__name__","value":"memory"},{"name":"instance","value":"m_u_app_app/0"},{"name":"job","value":"app"}]},
           "lastError":"","lastScrape":"2026-12-01T05:00:02Z","health":"HEALTH_GOOD"},
          {"discoveredLabels":{"labels":[{"name":"__address__","value":"10.0.0.1:6060"}]},
           "labels":{"labels":[{"name":"__name__","value":"block"},{"name":"instance","value":"m_u_app_app/0"},{"name":"job","value":"app"}]},
           "lastError":"connection refused","lastScrape":"2026-12-01T05:00:01Z","health":"HEALTH_BAD"},
          {"discoveredLabels":{"labels":[{"name":"__address__","value":"10.0.0.2:6060"}]},
           "labels":{"labels":[{"name":"instance","value":"10.0.0.2:6060"}]},
           "lastScrape":"0001-01-01T00:00:00Z","health":"HEALTH_UNKNOWN_UNSPECIFIED"}]}}}"#;
        let targets = parse_targets(json).unwrap();
        assert_eq!(targets.len(), 2);
        assert_eq!(targets[0].address, "10.0.0.1:6060");
        assert_eq!(targets[0].labels["instance"], "m_u_app_app/0");
        assert_eq!(targets[0].health, "bad");
        assert_eq!(targets[0].last_error, "connection refused");
        assert_eq!(targets[0].last_scrape, "2026-12-01T05:00:02Z");
        assert!(!targets[0].labels.contains_key("__name__"));
        assert_eq!(targets[1].health, "unknown");
        assert_eq!(targets[1].last_scrape, "");
        assert!(parse_targets("{").is_err());
    }
}
