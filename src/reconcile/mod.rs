//! The charm's pipeline, run on every hook from full state:
//! observe (reads only) → plan (pure) → apply (only the differences; status last).

pub mod apply;
pub mod config;
pub mod files;
pub mod observe;
pub mod plan;

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
    let hostname = hostname::get()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default();
    let observed = observe::observe(ctx, tools, root, hostname)?;
    let plan = plan::plan(&observed);
    apply::apply(&plan, runner, root)?;
    Ok(())
}
