//! Hooks run inside the simulator's process: the charm's [`crate::reconcile::run`] with a
//! [`ToolRunner`] that answers from the hook context in memory, through the same tool code
//! ([`super::tool::run`]) the tool executables use. What changes is only the cost of the process
//! starts; what a hook reads, writes and reports is the same.

use super::context::HookContext;
use super::tool;
use crate::juju::{JujuContext, ToolError, ToolRunner};
use std::cell::RefCell;
use std::path::Path;

/// Answers hook tools from a context held in memory.
pub struct MemoryRunner {
    /// The hook's context; tool calls update it.
    pub context: RefCell<HookContext>,
}

impl ToolRunner for MemoryRunner {
    fn run(&self, tool: &str, args: &[String], stdin: Option<&[u8]>) -> Result<String, ToolError> {
        let stdin = String::from_utf8_lossy(stdin.unwrap_or_default());
        let out = tool::run(&mut self.context.borrow_mut(), tool, args, &stdin);
        if out.code == 0 {
            return Ok(out.stdout);
        }
        Err(ToolError::Failed {
            tool: tool.to_owned(),
            args: args.to_vec(),
            code: Some(out.code),
            message: crate::juju::tools::error_message(&out.stderr),
        })
    }
}

/// The hook context `dispatch` would read from `env` (the last value of a key wins).
fn juju_context(env: &[(&str, String)]) -> Result<JujuContext, crate::juju::ContextError> {
    JujuContext::from_env(|key| {
        env.iter()
            .rev()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.clone())
    })
}

/// Runs one hook as `dispatch` would, with `env` as its whole environment. Returns the exit
/// code `dispatch` would have, its stdout and stderr, and the context afterwards.
pub fn run_hook(
    env: &[(&str, String)],
    context: HookContext,
    root: &Path,
) -> (i32, String, String, HookContext) {
    let runner = MemoryRunner {
        context: RefCell::new(context),
    };
    let (code, stderr) = match juju_context(env) {
        Err(err) => (1, format!("parca-broker: {err}\n")),
        Ok(ctx) => match crate::reconcile::run(ctx, &runner, root) {
            Ok(()) => (0, String::new()),
            Err(err) => (1, format!("parca-broker: hook failed: {err}\n")),
        },
    };
    (code, String::new(), stderr, runner.context.into_inner())
}

/// Observes and plans one hook with `env`, carrying nothing out.
pub fn plan_only(
    env: &[(&str, String)],
    context: HookContext,
    root: &Path,
) -> Result<crate::reconcile::plan::Plan, String> {
    let ctx = juju_context(env).map_err(|e| e.to_string())?;
    let runner = MemoryRunner {
        context: RefCell::new(context),
    };
    let observed = crate::reconcile::observe::observe(
        ctx,
        crate::juju::Tools::new(&runner),
        root,
        crate::reconcile::hostname(),
        crate::reconcile::now_unix(),
    )
    .map_err(|e| e.to_string())?;
    Ok(crate::reconcile::plan::plan(&observed))
}
