//! Apply: carry out a [`Plan`]: databag changes, file writes, service commands, action results,
//! logs, and the status last. Only what the plan says; the plan already left out everything that
//! is unchanged, so a second run of an unchanged model writes nothing.

use super::files;
use super::plan::Plan;
use super::plan::{PENDING_SECRET_URI, SecretChange};
use crate::interfaces::parca_store::wire::SECRET_TOKEN_KEY;
use crate::juju::tools::{LogLevel, StatusKind};
use crate::juju::{ToolError, ToolRunner, Tools};
use std::path::Path;

/// An unexpected failure: the hook exits non-zero and Juju retries it.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// A hook tool failed.
    #[error(transparent)]
    Tool(#[from] ToolError),
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The logical path.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// What apply did, for tests and the summary log.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Applied {
    /// Databag writes made.
    pub relation_writes: usize,
    /// Files written.
    pub files_written: Vec<String>,
    /// Service commands that failed, with the error.
    pub service_failures: Vec<String>,
}

/// Carries out `plan`. `runner` also runs `systemctl`.
pub fn apply(plan: &Plan, runner: &dyn ToolRunner, root: &Path) -> Result<Applied, ApplyError> {
    let tools = Tools::new(runner);
    let mut applied = Applied::default();
    // The token secret first: a new one's URI goes into the databag writes below.
    let mut secret_uri = None;
    if let Some(secret) = &plan.token_secret {
        let uri = match &secret.change {
            Some(SecretChange::Create { label, token }) => {
                tools.secret_add(label, SECRET_TOKEN_KEY, token.expose())?
            }
            Some(SecretChange::Update { token }) => {
                tools.secret_set(&secret.uri, SECRET_TOKEN_KEY, token.expose())?;
                secret.uri.clone()
            }
            None => secret.uri.clone(),
        };
        for relation in &secret.grants {
            tools.secret_grant(&uri, relation)?;
        }
        secret_uri = Some(uri);
    }
    for write in &plan.relation_writes {
        let mut changes = write.changes.clone();
        if let Some(uri) = &secret_uri {
            for value in changes.values_mut().filter(|v| *v == PENDING_SECRET_URI) {
                value.clone_from(uri);
            }
        }
        tools.relation_set(&write.relation, write.app, &changes)?;
        applied.relation_writes += 1;
    }
    for file in &plan.files {
        files::write_atomic(root, &file.path, &file.content, file.mode).map_err(|source| {
            ApplyError::Write {
                path: file.path.clone(),
                source,
            }
        })?;
        applied.files_written.push(file.path.clone());
    }
    for path in &plan.removals {
        files::remove(root, path).map_err(|source| ApplyError::Write {
            path: path.clone(),
            source,
        })?;
    }
    for path in &plan.make_executable {
        files::make_executable(Path::new(path)).map_err(|source| ApplyError::Write {
            path: path.clone(),
            source,
        })?;
    }
    for command in &plan.service_commands {
        // A service that will not start must not wedge the unit in error: report it instead.
        if let Err(err) = runner.run("systemctl", command, None) {
            applied
                .service_failures
                .push(format!("systemctl {}: {err}", command.join(" ")));
        }
    }
    if let Some(action) = &plan.action {
        let results: Vec<(&str, String)> = action
            .results
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        if !results.is_empty() {
            tools.action_set(&results)?;
        }
        if let Some(message) = &action.failure {
            tools.action_fail(message)?;
        }
    }
    for (level, message) in &plan.logs {
        tools.juju_log(*level, message)?;
    }
    for failure in &applied.service_failures {
        tools.juju_log(LogLevel::Error, failure)?;
    }
    let (kind, message) = match applied.service_failures.first() {
        Some(failure) => (StatusKind::Blocked, format!("service: {failure}")),
        None => plan.status.clone(),
    };
    tools.status_set(kind, &message)?;
    Ok(applied)
}
