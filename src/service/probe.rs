//! Target health: every expanded target's pprof index (`<scheme>://<target><path_prefix>/debug/pprof/`)
//! is fetched with bounded concurrency, a per-target timeout and a jittered interval; the result
//! (up/down, last error, last success, latency) is shown on the page and in the API.

use super::{Shared, target_key};
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// How probing runs.
#[derive(Debug, Clone)]
pub struct ProbeOptions {
    /// Time between rounds (±20% jitter).
    pub interval: Duration,
    /// Timeout per target.
    pub timeout: Duration,
    /// Probes in flight at once.
    pub concurrency: usize,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        ProbeOptions {
            interval: Duration::from_secs(30),
            timeout: Duration::from_secs(5),
            concurrency: 16,
        }
    }
}

/// One target's health.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Health {
    /// The last probe succeeded (HTTP 2xx).
    pub up: bool,
    /// The last probe's error, if it failed.
    pub last_error: Option<String>,
    /// Unix seconds of the last success.
    pub last_success_unix: Option<u64>,
    /// Latency of the last probe, milliseconds.
    pub latency_ms: u64,
    /// The URL probed.
    pub url: String,
}

/// The pprof index URL of a target.
pub fn probe_url(scheme: &str, target: &str, path_prefix: &str) -> String {
    format!(
        "{scheme}://{target}{}/debug/pprof/",
        path_prefix.trim_end_matches('/')
    )
}

/// The longest probe interval and timeout accepted (one day).
pub const MAX_INTERVAL_SECONDS: u64 = 86_400;

/// Probes every target of the current snapshot, forever.
pub async fn run(shared: Arc<Shared>, options: ProbeOptions) {
    super::install_tls_provider();
    let client = match reqwest::Client::builder()
        .timeout(options.timeout)
        .connect_timeout(options.timeout)
        .redirect(reqwest::redirect::Policy::none())
        // No idle connections kept between rounds: with thousands of targets a pool would hold
        // one descriptor per target between probes (5,000 targets, 5,010 descriptors).
        .pool_max_idle_per_host(0)
        .build()
    {
        Ok(client) => client,
        Err(err) => {
            tracing::error!(error = %err, "cannot build the HTTP client; target health disabled");
            return;
        }
    };
    loop {
        probe_round(&shared, &client, options.concurrency.max(1)).await;
        parca_round(&shared, &client).await;
        // A round's thousands of request futures are freed now; give the memory back.
        super::release_freed_memory();
        tokio::time::sleep(jittered(options.interval)).await;
    }
}

/// Reads the managed Parca's targets API (when the charm runs one): Parca's own view of each
/// target, shown beside the broker's probe.
pub async fn parca_round(shared: &Arc<Shared>, client: &reqwest::Client) {
    let Some(snapshot) = shared.snapshot() else {
        return;
    };
    if snapshot.parca.managed {
        // Parca's own reload gauge, for the "config reload failed" alert.
        let url = format!("http://{}/metrics", snapshot.parca.http_address);
        let reload = match client.get(&url).send().await {
            Ok(response) if response.status().is_success() => response
                .text()
                .await
                .ok()
                .map(|text| crate::parca::api::ReloadState::from_metrics(&text)),
            _ => None,
        };
        // Parca sets the gauge only on a reload: it refused the file on disk if the last reload
        // failed and nothing was loaded since the file was written (ReloadState::rejected).
        let written = std::fs::metadata(&snapshot.config_file)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_secs_f64());
        if let (Some(reload), Some(written)) = (reload, written) {
            shared
                .metrics
                .parca_config_rejected
                .set(i64::from(reload.rejected(written)));
        }
    }
    let view = if snapshot.parca.managed {
        let url = format!("http://{}/api/targets", snapshot.parca.http_address);
        match client.get(&url).send().await {
            Ok(response) if response.status().is_success() => match response.text().await {
                Ok(body) => crate::parca::api::parse_targets(&body)
                    .map(|targets| {
                        targets
                            .into_iter()
                            .map(|t| (target_key(&t.job, &t.address), t))
                            .collect()
                    })
                    .map_err(|e| format!("{url}: {e}")),
                Err(err) => Err(format!("{url}: {}", root_cause(&err))),
            },
            Ok(response) => Err(format!("{url}: HTTP {}", response.status())),
            Err(err) => Err(format!("{url}: {}", root_cause(&err))),
        }
    } else {
        Ok(std::collections::BTreeMap::new())
    };
    shared
        .metrics
        .parca_up
        .set(i64::from(snapshot.parca.managed && view.is_ok()));
    if let Ok(mut slot) = shared.parca.write() {
        *slot = view;
    }
    shared.live_changed();
}

/// One round over all targets.
pub async fn probe_round(shared: &Arc<Shared>, client: &reqwest::Client, concurrency: usize) {
    let Some(snapshot) = shared.snapshot() else {
        return;
    };
    let work: Vec<(String, String)> = snapshot
        .jobs
        .iter()
        .flat_map(|job| {
            // Each broker unit probes its own share; the others' health is on their pages.
            let snapshot = &snapshot;
            job.groups
                .iter()
                .filter(move |group| super::owned_here(snapshot, group))
                .flat_map(move |group| {
                    group.targets.iter().map(move |t| {
                        (
                            target_key(&job.name, t),
                            probe_url(&job.scheme, t, &job.path_prefix),
                        )
                    })
                })
        })
        .collect();
    let limit = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let mut tasks = tokio::task::JoinSet::new();
    for (key, url) in work {
        let client = client.clone();
        let limit = Arc::clone(&limit);
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let started = Instant::now();
            let result = match client.get(&url).send().await {
                Ok(response) if response.status().is_success() => Ok(()),
                Ok(response) => Err(format!("HTTP {}", response.status())),
                Err(err) if err.is_timeout() => Err("timed out".to_owned()),
                Err(err) if err.is_connect() => {
                    Err(format!("connection failed: {}", root_cause(&err)))
                }
                Err(err) => Err(root_cause(&err)),
            };
            (key, url, result, started.elapsed())
        });
    }
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut fresh = std::collections::BTreeMap::new();
    while let Some(Ok((key, url, result, latency))) = tasks.join_next().await {
        let previous = shared.health.read().ok().and_then(|h| h.get(&key).cloned());
        let up = result.is_ok();
        shared
            .metrics
            .probes
            .get_or_create(&super::metrics::ResultLabel {
                result: if up { "up" } else { "down" }.into(),
            })
            .inc();
        shared.metrics.probe_seconds.observe(latency.as_secs_f64());
        let health = Health {
            up,
            last_error: result.err(),
            last_success_unix: if up {
                Some(now)
            } else {
                previous.and_then(|p| p.last_success_unix)
            },
            latency_ms: u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
            url,
        };
        // Published as it comes: a target that never answers does not hold back the others
        // until the end of the round (5,000 targets at the default timeout took 26 minutes).
        if let Ok(mut published) = shared.health.write() {
            published.insert(key.clone(), health.clone());
        }
        shared.live_changed();
        fresh.insert(key, health);
    }
    shared
        .metrics
        .targets_up
        .set(i64::try_from(fresh.values().filter(|h| h.up).count()).unwrap_or(0));
    let mut by_app: std::collections::BTreeMap<&str, (usize, usize)> =
        std::collections::BTreeMap::new();
    for job in &snapshot.jobs {
        for group in job
            .groups
            .iter()
            .filter(|g| super::owned_here(&snapshot, g))
        {
            for target in group.targets.iter() {
                let counts = by_app.entry(job.app.as_str()).or_default();
                counts.0 += 1;
                counts.1 += usize::from(
                    fresh
                        .get(&target_key(&job.name, target))
                        .is_some_and(|h| h.up),
                );
            }
        }
    }
    let counts: Vec<(String, usize, usize)> = by_app
        .into_iter()
        .map(|(app, (targets, up))| (app.to_owned(), targets, up))
        .collect();
    shared.metrics.observe_app_targets(&counts);
    // Targets no longer in the snapshot disappear with the round.
    if let Ok(mut health) = shared.health.write() {
        *health = fresh;
    }
    shared.live_changed();
}

fn root_cause(err: &dyn std::error::Error) -> String {
    let mut cause = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// `base` ± 20%, from the clock's sub-second noise (no RNG crate needed for jitter).
fn jittered(base: Duration) -> Duration {
    // Bounded first: a huge interval times 1.2 would overflow Duration and panic the prober.
    let base = base.min(Duration::from_secs(MAX_INTERVAL_SECONDS));
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let factor = 0.8 + 0.4 * (f64::from(nanos % 1000) / 1000.0);
    base.mul_f64(factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_jitter() {
        assert_eq!(
            probe_url("http", "[fd00::1]:6060", ""),
            "http://[fd00::1]:6060/debug/pprof/"
        );
        assert_eq!(
            probe_url("https", "h:1", "/grafana/"),
            "https://h:1/grafana/debug/pprof/"
        );
        for _ in 0..100 {
            let j = jittered(Duration::from_secs(10));
            assert!(j >= Duration::from_secs(8) && j <= Duration::from_secs(12));
        }
    }
}
