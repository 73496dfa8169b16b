//! Hook tools (juju.md §3) behind one trait, [`ToolRunner`], passed in explicitly.
//!
//! [`ProcessRunner`] runs the real executables found on `PATH`; tests can pass anything else.
//! [`Tools`] builds the exact argv for each tool: always `--format=json` where the tool has it,
//! argv as a vector (never a shell string), relation and state data through `--file -` so values
//! of any size survive. Exit codes 1/2 with `ERROR …` become [`ToolError`]; a relation that is
//! gone (`permission denied`, `relation not found`) reads as "no data".

mod wrappers;

pub use wrappers::{LogLevel, NetworkInfo, StatusKind, Tools};

use std::io::Write;
use std::process::{Command, Stdio};

/// Runs one hook tool.
pub trait ToolRunner {
    /// Runs `tool` with `args`, feeding `stdin` if given; returns stdout when it exits 0.
    fn run(&self, tool: &str, args: &[String], stdin: Option<&[u8]>) -> Result<String, ToolError>;
}

/// Runs the hook tools as processes from `PATH`, as the Juju agent provides them.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessRunner;

impl ToolRunner for ProcessRunner {
    fn run(&self, tool: &str, args: &[String], stdin: Option<&[u8]>) -> Result<String, ToolError> {
        let spawn_error = |source| ToolError::Spawn {
            tool: tool.to_owned(),
            source,
        };
        let mut child = Command::new(tool)
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(spawn_error)?;
        if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
            // Tools read all of stdin before answering, so writing first cannot deadlock.
            pipe.write_all(input).map_err(spawn_error)?;
        }
        let output = child.wait_with_output().map_err(spawn_error)?;
        if output.status.success() {
            return String::from_utf8(output.stdout).map_err(|_| ToolError::BadOutput {
                tool: tool.to_owned(),
                reason: "stdout is not UTF-8".into(),
            });
        }
        let message = error_message(&String::from_utf8_lossy(&output.stderr));
        Err(ToolError::Failed {
            tool: tool.to_owned(),
            args: args.to_vec(),
            code: output.status.code(),
            message,
        })
    }
}

/// What a failed hook tool said: the text after the last `ERROR `, else all of stderr.
pub fn error_message(stderr: &str) -> String {
    stderr
        .lines()
        .rev()
        .find_map(|line| line.strip_prefix("ERROR "))
        .unwrap_or(stderr.trim())
        .to_owned()
}

/// A hook tool that could not be run or reported an error.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// The executable could not be started: not running under Juju, or a broken PATH.
    #[error("cannot run hook tool {tool}: {source} (is this running under Juju?)")]
    Spawn {
        /// The tool.
        tool: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The tool exited non-zero (1: runtime error, 2: bad arguments).
    #[error("{tool} {} failed (exit {}): {message}", args.join(" "), code.map_or("signal".into(), |c| c.to_string()))]
    Failed {
        /// The tool.
        tool: String,
        /// Its arguments.
        args: Vec<String>,
        /// Exit code; `None` if killed by a signal.
        code: Option<i32>,
        /// The message after `ERROR `.
        message: String,
    },
    /// The tool's output is not what Juju prints.
    #[error("{tool}: unexpected output: {reason}")]
    BadOutput {
        /// The tool.
        tool: String,
        /// What was wrong.
        reason: String,
    },
}

impl ToolError {
    /// The relation is gone from the controller (forced removal, teardown): treat as no data.
    pub fn is_relation_gone(&self) -> bool {
        matches!(self, ToolError::Failed { message, .. }
            if message.contains("permission denied") || message.contains("relation not found"))
    }

    /// A short label for metrics and logs.
    pub fn metric_label(&self) -> &'static str {
        match self {
            ToolError::Spawn { .. } => "spawn",
            ToolError::Failed { .. } => "failed",
            ToolError::BadOutput { .. } => "bad_output",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gone_relations_are_recognised_by_message() {
        let failed = |message: &str| ToolError::Failed {
            tool: "relation-get".into(),
            args: vec![],
            code: Some(1),
            message: message.into(),
        };
        assert!(failed("permission denied").is_relation_gone());
        assert!(
            failed("invalid value \"db:9\" for option -r: relation not found").is_relation_gone()
        );
        assert!(!failed("leadership status unknown: x").is_relation_gone());
    }

    #[test]
    fn a_missing_tool_is_a_spawn_error_naming_it() {
        let err = ProcessRunner
            .run("parca-broker-no-such-tool", &[], None)
            .unwrap_err();
        assert!(matches!(err, ToolError::Spawn { .. }));
        assert!(err.to_string().contains("parca-broker-no-such-tool"));
    }

    #[test]
    fn failure_message_is_taken_after_error() {
        let err = ProcessRunner
            .run(
                "sh",
                &[
                    "-c".into(),
                    "echo 'ERROR no relation id specified' >&2; exit 2".into(),
                ],
                None,
            )
            .unwrap_err();
        let ToolError::Failed { code, message, .. } = err else {
            panic!("failed")
        };
        assert_eq!(
            (code, message.as_str()),
            (Some(2), "no relation id specified")
        );
    }
}
