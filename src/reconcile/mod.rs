//! The charm's pipeline, run on every hook from full state:
//! observe (reads only) → plan (pure) → apply (only the differences; status last).

pub mod apply;
pub mod cache;
pub mod config;
pub mod files;
pub mod observe;
pub mod plan;
pub mod snapshot;

use crate::juju::tools::LogLevel;
use crate::juju::{Dispatch, Event, JujuContext, ToolError, ToolRunner, Tools};
use std::path::Path;

/// Endpoint: providers of pprof targets (we consume parca_scrape).
pub const PROFILING: &str = "profiling-endpoint";
/// Endpoint: the upstream store (we require parca_store).
pub const UPSTREAM: &str = "external-parca-store-endpoint";
/// Endpoint: parca agents (we provide parca_store).
pub const AGENTS: &str = "parca-store-endpoint";
/// Endpoint: our own pprof endpoint (we provide parca_scrape).
pub const SELF_PROFILING: &str = "self-profiling-endpoint";
/// Peer endpoint: the broker's units, among which the targets are sharded.
pub const PEERS: &str = "parca-broker-peers";
/// Endpoint: Prometheus in COS scrapes the broker service (we provide prometheus_scrape).
pub const METRICS: &str = "metrics-endpoint";
/// Endpoint: Grafana in COS loads our dashboards (we provide grafana_dashboard).
pub const DASHBOARDS: &str = "grafana-dashboard";

/// A hook that must fail (Juju marks the unit in error and retries).
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    /// Reading state failed.
    #[error("observe: {0}")]
    Observe(#[from] ToolError),
    /// Carrying out the plan failed.
    #[error("apply: {0}")]
    Apply(#[from] apply::ApplyError),
}

/// Runs one hook or action. `root` prefixes every file path (`/` under Juju).
pub fn run(ctx: JujuContext, runner: &dyn ToolRunner, root: &Path) -> Result<(), HookError> {
    let tools = Tools::new(runner);
    if let Dispatch::Hook(Event::Other(name)) = &ctx.dispatch {
        // Forward compatibility: hooks we do not know change nothing.
        tools.juju_log(LogLevel::Debug, &format!("ignoring hook {name}"))?;
        return Ok(());
    }
    let event = ctx.dispatch.to_string();
    let now_unix = now_unix();
    let observed = observe::observe(ctx, tools, root, hostname(), now_unix)?;
    let started = std::time::Instant::now();
    let plan = plan::plan(&observed);
    let render_seconds = started.elapsed().as_secs_f64();
    let applied = apply::apply(&plan, runner, root)?;
    let note = snapshot::ReconcileNote {
        event,
        at_unix: now_unix,
        render_seconds,
        files_written: applied.files_written,
        rejections: plan.rejections.len(),
    };
    notify_service(&plan.listen_address, &note);
    Ok(())
}

/// The charm's `dispatch`: one hook or action, from Juju's environment. A non-zero exit puts
/// the unit in error, so only unexpected failures (a hook tool or the disk failing) get one;
/// bad remote data never does. Every file the charm writes lives under `PARCA_BROKER_ROOT`
/// (`/` under Juju; the simulator points it at a sandbox, the one variable Juju never sets).
pub fn hook_main() -> std::process::ExitCode {
    use std::process::ExitCode;
    let ctx = match JujuContext::from_env(|k| std::env::var(k).ok()) {
        Ok(ctx) => ctx,
        Err(err) => {
            eprintln!("parca-broker: {err}");
            return ExitCode::FAILURE;
        }
    };
    let root = std::env::var_os("PARCA_BROKER_ROOT")
        .map_or_else(|| std::path::PathBuf::from("/"), std::path::PathBuf::from);
    match run(ctx, &crate::juju::ProcessRunner, &root) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("parca-broker: hook failed: {err}");
            ExitCode::FAILURE
        }
    }
}

/// This machine's host name (the last-resort unit address).
pub fn hostname() -> String {
    hostname::get()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Tells a running service that a hook finished (best effort: a service that is down, slow or
/// not installed never fails the hook). The state itself travels through the state file.
fn notify_service(listen_address: &str, note: &snapshot::ReconcileNote) {
    use std::io::{Read, Write};
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
    use std::time::Duration;
    let Ok(mut addr) = listen_address.parse::<SocketAddr>() else {
        return;
    };
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        });
    }
    let Ok(body) = serde_json::to_string(note) else {
        return;
    };
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return;
    };
    let _ = stream.set_write_timeout(Some(Duration::from_millis(500)));
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let request = format!(
        "POST /internal/reconciled HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    if stream.write_all(request.as_bytes()).is_ok() {
        let mut reply = [0u8; 64];
        let _ = stream.read(&mut reply);
    }
}
