//! Command line: one binary, several modes. No logic here beyond parsing and printing.

use crate::conformance::{self, Verdict};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// The vectors bundled with the crate (copied from the shared spec), used when no file is given.
pub const BUNDLED_VECTORS: [(&str, &str); 2] = [
    (
        "tests/vectors/scrape_vectors.json",
        include_str!("../tests/vectors/scrape_vectors.json"),
    ),
    (
        "tests/vectors/store_vectors.json",
        include_str!("../tests/vectors/store_vectors.json"),
    ),
];

/// parca-broker: Parca's parca_scrape / parca_store interfaces for Juju, in Rust.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The modes of the binary.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run conformance vectors (recorded from the Python libraries) against this implementation.
    Vectors {
        /// Vector files (a JSON list of {name, input, output}); the bundled ones if none given.
        files: Vec<PathBuf>,
        /// Print our actual outputs as JSON instead of verdicts.
        #[arg(long)]
        emit: bool,
    },
    /// Check a parca.yaml as Parca loads it; print every problem; exit 0 only if Parca accepts it.
    CheckConfig {
        /// The file (YAML, or JSON).
        file: PathBuf,
        /// Also load it in this real Parca binary (in a network namespace: nothing is scraped);
        /// where the two disagree, Parca is right.
        #[arg(long, value_name = "PATH")]
        with_parca: Option<PathBuf>,
    },
    /// Run the real pipeline on a built-in example model and serve it (the README's first command).
    Demo {
        /// Output folder for parca.yaml, the agent flags and the simulator's sandbox.
        #[arg(long, default_value = "demo-output")]
        out: PathBuf,
        /// Where the service listens.
        #[arg(long, default_value = "127.0.0.1:7075")]
        listen: std::net::SocketAddr,
        /// Stop after this many seconds (default: until Ctrl-C).
        #[arg(long)]
        exit_after: Option<u64>,
        /// A real Parca binary for the charm to run (default: `parca` on PATH, if any).
        #[arg(long, value_name = "PATH")]
        parca: Option<PathBuf>,
    },
    /// Measure the hook, fan-in, render and footprint figures (issue 9) and print one table.
    Bench {
        /// Skip K = 1,000 (about a minute less).
        #[arg(long)]
        quick: bool,
        /// Also write `performance.md` (the table) and `hook-cost.svg` (the plot) here.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Folder with metadata.yaml and charm/config.yaml (the charm the simulator deploys).
        #[arg(long, default_value = env!("CARGO_MANIFEST_DIR"))]
        source: PathBuf,
    },
    /// Load-test the service from this process: one route at a time at a fixed concurrency,
    /// p50/p99 latency, errors and the service's memory (issue 11). Exit 1 on any error.
    Loadtest {
        /// Seconds per route.
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=600))]
        seconds: u64,
        /// Requests in flight at once.
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        /// Provider apps (5 units × 2 targets each; 500: 5,000 targets).
        #[arg(long, default_value_t = 500)]
        apps: u64,
    },
    /// Run the broker service: status page, JSON API, http_sd discovery, metrics, target health.
    Serve {
        /// Listen address.
        #[arg(long, default_value = "127.0.0.1:7075")]
        listen: std::net::SocketAddr,
        /// The state file written by the charm.
        #[arg(long, default_value = "/var/lib/parca-broker/state.json")]
        state: PathBuf,
        /// parca.yaml's path (informational; the state file carries its content).
        #[arg(long)]
        config_file: Option<PathBuf>,
        /// Seconds between target probe rounds (±20% jitter), 1 to 86400.
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=86_400))]
        probe_interval: u64,
        /// Seconds in-flight requests may take after SIGTERM before the service exits anyway.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=300))]
        shutdown_deadline: u64,
        /// Seconds before a target probe times out, 1 to 86400.
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=86_400))]
        probe_timeout: u64,
    },
}

/// Errors the CLI reports before exiting non-zero.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A benchmark could not run (the simulator or the disk failed).
    #[error("bench: {0}")]
    Bench(String),
    /// The real Parca gave no verdict (not startable, no network namespace, timeout).
    #[error("parca: {0}")]
    Parca(String),
    /// A vector file is not a JSON list of vectors.
    #[error("{path} is not a vector file: {source}")]
    Parse {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// A vector could not be evaluated.
    #[error(transparent)]
    Vector(#[from] conformance::VectorError),
    /// The async runtime could not start.
    #[error("cannot start the runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// The service failed.
    #[error(transparent)]
    Service(#[from] crate::service::ServiceError),
    /// The demo failed.
    #[error(transparent)]
    Demo(#[from] crate::demo::DemoError),
}

/// Runs the vectors command; returns whether everything passed.
pub fn run_vectors(
    files: &[PathBuf],
    emit: bool,
    out: &mut impl std::io::Write,
) -> Result<bool, CliError> {
    let mut sources = Vec::new();
    if files.is_empty() {
        for (path, text) in BUNDLED_VECTORS {
            sources.push((path.to_owned(), text.to_owned()));
        }
    }
    for path in files {
        let text = std::fs::read_to_string(path).map_err(|source| CliError::Read {
            path: path.display().to_string(),
            source,
        })?;
        sources.push((path.display().to_string(), text));
    }
    let (mut passed, mut failed, mut fixed) = (0, 0, 0);
    let mut emitted = Vec::new();
    for (path, text) in &sources {
        let vectors = conformance::parse_file(text).map_err(|source| CliError::Parse {
            path: path.clone(),
            source,
        })?;
        for vector in &vectors {
            let result = conformance::run(vector)?;
            if emit {
                emitted.push(serde_json::json!({
                    "name": result.name,
                    "verdict": result.verdict.to_string(),
                    "output": result.ours.output,
                    "reports": result.ours.reports,
                }));
                continue;
            }
            let _ = writeln!(out, "{:<10} {}", result.verdict.to_string(), result.name);
            for report in &result.ours.reports {
                let _ = writeln!(out, "           reported: {report}");
            }
            match &result.verdict {
                Verdict::Pass => passed += 1,
                Verdict::Fixed(_) => {
                    passed += 1;
                    fixed += 1;
                }
                Verdict::Fail(diff) => {
                    failed += 1;
                    let _ = writeln!(out, "           {diff}");
                }
            }
        }
    }
    if emit {
        let text = serde_json::to_string_pretty(&emitted).unwrap_or_default();
        let _ = writeln!(out, "{text}");
        return Ok(true);
    }
    let _ = writeln!(
        out,
        "{fixed} of the passed differ from Python only as a documented fix predicts"
    );
    let _ = writeln!(out, "{passed} passed, {failed} failed");
    Ok(failed == 0)
}

/// Runs check-config; returns whether Parca would load the file (and, with `parca`, whether
/// the real Parca does).
pub fn run_check_config(
    file: &std::path::Path,
    parca: Option<&std::path::Path>,
    out: &mut impl std::io::Write,
) -> Result<bool, CliError> {
    let text = std::fs::read_to_string(file).map_err(|source| CliError::Read {
        path: file.display().to_string(),
        source,
    })?;
    let ours = match crate::render::validate::check_yaml(&text) {
        Ok(config) => {
            let _ = writeln!(
                out,
                "{}: ok ({} scrape configs, object storage {})",
                file.display(),
                config.scrape_configs.len(),
                config.object_storage.bucket.kind
            );
            true
        }
        Err(problems) => {
            for problem in &problems {
                let _ = writeln!(out, "{}: {problem}", file.display());
            }
            let _ = writeln!(
                out,
                "{}: {} problem(s); Parca would refuse this file",
                file.display(),
                problems.len()
            );
            false
        }
    };
    let Some(binary) = parca else {
        return Ok(ours);
    };
    let verdict = crate::parca::ParcaJudge::new(binary)
        .judge_file(file)
        .map_err(|e| CliError::Parca(e.to_string()))?;
    let theirs = match &verdict {
        crate::parca::ParcaVerdict::Accepted => {
            let _ = writeln!(out, "{}: {} loads it", file.display(), binary.display());
            true
        }
        crate::parca::ParcaVerdict::Rejected(err) => {
            let _ = writeln!(
                out,
                "{}: {} refuses it: {err}",
                file.display(),
                binary.display()
            );
            false
        }
    };
    if theirs != ours {
        let _ = writeln!(
            out,
            "{}: check-config and Parca disagree; Parca is right (please report this file)",
            file.display()
        );
    }
    Ok(ours && theirs)
}

/// Runs the load test and prints its table.
pub fn run_loadtest(
    options: crate::loadtest::LoadOptions,
    stdout: &mut dyn std::io::Write,
) -> Result<bool, CliError> {
    let binary = std::env::current_exe()
        .map_err(|e| CliError::Bench(format!("cannot find this executable: {e}")))?;
    let work = std::env::temp_dir().join(format!("parca-broker-load-{}", std::process::id()));
    let report = crate::loadtest::run(&binary, &work, &options)
        .map_err(|e| CliError::Bench(e.to_string()))?;
    let _ = std::fs::remove_dir_all(&work);
    let _ = writeln!(stdout, "{}", report.table(&options));
    Ok(report
        .routes
        .iter()
        .all(|r| r.errors == 0 && r.requests > 0))
}

/// Runs the service until SIGTERM / SIGINT.
pub fn run_serve(
    listen: std::net::SocketAddr,
    state: PathBuf,
    probe_interval: u64,
    probe_timeout: u64,
    shutdown_deadline: u64,
) -> Result<bool, CliError> {
    init_logging();
    let options = crate::service::ServeOptions {
        listen,
        state_file: state,
        probe: crate::service::ProbeOptions {
            interval: std::time::Duration::from_secs(probe_interval.max(1)),
            timeout: std::time::Duration::from_secs(probe_timeout.max(1)),
            ..Default::default()
        },
        shutdown_deadline: std::time::Duration::from_secs(shutdown_deadline),
        limits: Default::default(),
    };
    // One thread serves and probes: the work is small and I/O-bound, and every extra worker
    // costs a stack and a malloc arena (idle RSS is a target, issue 9 P5).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    runtime
        .block_on(crate::service::serve(options))
        .map_err(CliError::Service)?;
    Ok(true)
}

/// Structured logs on stderr (`RUST_LOG` filters; default info).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        // Never colour codes: journald and log files read them as text (and the binary is
        // built without them, P5).
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Runs the demo.
pub fn run_demo(
    out: PathBuf,
    listen: std::net::SocketAddr,
    exit_after: Option<u64>,
    parca: Option<PathBuf>,
) -> Result<bool, CliError> {
    init_logging();
    crate::demo::run(&crate::demo::DemoOptions {
        out,
        listen,
        exit_after: exit_after.map(std::time::Duration::from_secs),
        parca: parca.or_else(crate::demo::parca_on_path),
    })?;
    Ok(true)
}

/// `bench`: runs every measurement with this executable as the charm, prints the table; exit 1
/// if a target is missed.
pub fn run_bench(
    quick: bool,
    out: Option<PathBuf>,
    source: PathBuf,
    stdout: &mut dyn std::io::Write,
) -> Result<bool, CliError> {
    let io = |path: &std::path::Path| {
        let path = path.display().to_string();
        move |source| CliError::Read { path, source }
    };
    let full = std::env::current_exe()
        .map_err(|e| CliError::Bench(format!("cannot find this executable: {e}")))?;
    // The hooks are measured with the binary the charm ships as dispatch, built beside this one.
    let dispatch = full.with_file_name("dispatch");
    if !dispatch.is_file() {
        return Err(CliError::Bench(format!(
            "no dispatch binary at {}: build both binaries first (`cargo build --release`; scripts/bench does)",
            dispatch.display()
        )));
    }
    let binaries = crate::bench::Binaries { full, dispatch };
    let work = std::env::temp_dir().join(format!("parca-broker-bench-{}", std::process::id()));
    let report = crate::bench::run(&binaries, &source, &work, quick)
        .map_err(|e| CliError::Bench(e.to_string()))?;
    let _ = std::fs::remove_dir_all(&work);
    let table = report.table();
    let _ = writeln!(stdout, "{table}");
    if let Some(dir) = out {
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let md = dir.join("performance.md");
        std::fs::write(&md, &table).map_err(io(&md))?;
        let svg = dir.join("hook-cost.svg");
        std::fs::write(&svg, report.plot()).map_err(io(&svg))?;
    }
    Ok(report.rows.iter().all(|r| r.pass != Some(false)))
}
