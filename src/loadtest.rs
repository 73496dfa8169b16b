//! `parca-broker loadtest`: a bounded load test of the service from a second process on
//! loopback (issue 11). The service (`serve`, this binary) runs as a child on a state of
//! 5,000 targets (500 apps × 5 units × 2 ports, on closed loopback ports so that probes fail at
//! once, with the default 30 s probe rounds running); this process sends requests at a fixed
//! concurrency to one route at a time for a fixed time, and reports per route the request
//! count, errors, p50 / p99 / max latency, and the service's resident memory (peak sampled
//! during the route, and `VmHWM` at the end).

use std::path::Path;
use std::time::{Duration, Instant};

/// What to run.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Seconds per route.
    pub seconds: u64,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Provider apps of 5 units with 2 targets per unit (500: 5,000 targets).
    pub apps: u64,
}

/// One route's figures.
#[derive(Debug, Clone)]
pub struct RouteFigures {
    /// The path requested.
    pub route: String,
    /// Answered requests.
    pub requests: usize,
    /// Transport errors and non-200 answers.
    pub errors: usize,
    /// Median latency.
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
    /// Slowest request.
    pub max: Duration,
    /// Bytes of one answer.
    pub body_bytes: usize,
    /// The service's highest `VmRSS` seen while this route ran (KiB).
    pub peak_rss_kib: u64,
}

/// The whole run.
#[derive(Debug, Clone)]
pub struct LoadReport {
    /// Per route.
    pub routes: Vec<RouteFigures>,
    /// `VmRSS` of the idle service before the first route (KiB).
    pub idle_rss_kib: u64,
    /// `VmHWM` of the service at the end (KiB).
    pub peak_rss_kib: u64,
    /// Targets in the state.
    pub targets: usize,
}

/// The load test could not run.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file or process could not be made.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The service did not answer.
    #[error("the service did not become ready on {0}")]
    NotReady(String),
}

fn io(what: &'static str) -> impl FnOnce(std::io::Error) -> LoadError {
    move |source| LoadError::Io { what, source }
}

/// Runs the load test against `binary serve`.
pub fn run(binary: &Path, work: &Path, options: &LoadOptions) -> Result<LoadReport, LoadError> {
    let state = work.join("loadtest-state.json");
    let jobs = crate::bench::write_service_state(options.apps, "loadtest", &state)
        .map_err(io("write the state"))?;
    let targets = jobs
        .iter()
        .flat_map(|j| j.groups.iter().map(|g| g.targets.len()))
        .sum();
    let sd_job = jobs.first().map(|j| j.name.clone()).unwrap_or_default();
    let (mut child, address) =
        crate::bench::spawn_service(binary, &state, &[]).map_err(io("start the service"))?;
    let result = drive(child.id(), &address, &sd_job, targets, options);
    let _ = child.kill();
    let _ = child.wait();
    result
}

fn drive(
    pid: u32,
    address: &str,
    sd_job: &str,
    targets: usize,
    options: &LoadOptions,
) -> Result<LoadReport, LoadError> {
    let ready = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        crate::parca::api::fetch(address, "/readyz", Duration::from_secs(2)).is_ok()
    });
    if !ready {
        return Err(LoadError::NotReady(address.to_owned()));
    }
    // Let the first probe round (closed ports: quick) settle before measuring idle memory.
    std::thread::sleep(Duration::from_secs(3));
    let rss = || crate::simulator::tool::proc_status_kib(pid, "VmRSS").unwrap_or(0);
    let idle_rss_kib = rss();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(io("start the runtime"))?;
    crate::service::install_tls_provider();
    let sd = format!("/sd/v1/{}", percent_encode(sd_job));
    let mut routes = Vec::new();
    for route in [sd.as_str(), "/api/v1/targets", "/metrics", "/"] {
        let url = format!("http://{address}{route}");
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let sampler = {
            let done = std::sync::Arc::clone(&done);
            std::thread::spawn(move || {
                let mut peak = 0;
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    peak = peak
                        .max(crate::simulator::tool::proc_status_kib(pid, "VmRSS").unwrap_or(0));
                    std::thread::sleep(Duration::from_millis(100));
                }
                peak
            })
        };
        let (latencies, errors, body_bytes) =
            runtime.block_on(hammer(&url, options.concurrency, options.seconds));
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        let peak_rss_kib = sampler.join().unwrap_or(0);
        let mut sorted = latencies;
        sorted.sort();
        let at = |q: f64| {
            sorted
                .get(((sorted.len() as f64 - 1.0) * q).round() as usize)
                .copied()
                .unwrap_or_default()
        };
        routes.push(RouteFigures {
            route: route.to_owned(),
            requests: sorted.len(),
            errors,
            p50: at(0.5),
            p99: at(0.99),
            max: sorted.last().copied().unwrap_or_default(),
            body_bytes,
            peak_rss_kib,
        });
    }
    let peak_rss_kib = crate::simulator::tool::proc_status_kib(pid, "VmHWM").unwrap_or(0);
    Ok(LoadReport {
        routes,
        idle_rss_kib,
        peak_rss_kib,
        targets,
    })
}

/// `concurrency` clients requesting `url` back to back for `seconds`: latencies of the
/// answered requests, the error count, and the size of one answer.
async fn hammer(url: &str, concurrency: usize, seconds: u64) -> (Vec<Duration>, usize, usize) {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
    {
        Ok(client) => client,
        Err(_) => return (Vec::new(), 1, 0),
    };
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (client, url) = (client.clone(), url.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0;
            let mut size = 0;
            while Instant::now() < deadline {
                let start = Instant::now();
                let answer = match client.get(&url).send().await {
                    Ok(response) if response.status().is_success() => {
                        response.bytes().await.map(|b| b.len()).ok()
                    }
                    _ => None,
                };
                match answer {
                    Some(bytes) => {
                        latencies.push(start.elapsed());
                        size = bytes;
                    }
                    None => errors += 1,
                }
            }
            (latencies, errors, size)
        }));
    }
    let mut all = Vec::new();
    let (mut errors, mut size) = (0, 0);
    for task in tasks {
        match task.await {
            Ok((latencies, e, s)) => {
                all.extend(latencies);
                errors += e;
                size = size.max(s);
            }
            Err(_) => errors += 1,
        }
    }
    (all, errors, size)
}

/// Percent-encodes what a path segment cannot hold as is (job names hold `/`).
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

impl LoadReport {
    /// The figures as a Markdown table.
    pub fn table(&self, options: &LoadOptions) -> String {
        let mut out = format!(
            "{} targets; {} s per route at concurrency {}; service idle RSS {:.1} MiB, peak (VmHWM) {:.1} MiB\n\n| route | requests | errors | p50 | p99 | max | body | peak RSS |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n",
            self.targets,
            options.seconds,
            options.concurrency,
            self.idle_rss_kib as f64 / 1024.0,
            self.peak_rss_kib as f64 / 1024.0,
        );
        for r in &self.routes {
            out.push_str(&format!(
                "| `{}` | {} | {} | {:.2} ms | {:.2} ms | {:.2} ms | {:.1} KiB | {:.1} MiB |\n",
                r.route,
                r.requests,
                r.errors,
                r.p50.as_secs_f64() * 1e3,
                r.p99.as_secs_f64() * 1e3,
                r.max.as_secs_f64() * 1e3,
                r.body_bytes as f64 / 1024.0,
                r.peak_rss_kib as f64 / 1024.0,
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_names_are_encoded_for_a_path_segment() {
        assert_eq!(
            percent_encode("cos_8d5d1f3b_demo/pprof"),
            "cos_8d5d1f3b_demo%2Fpprof"
        );
    }
}
