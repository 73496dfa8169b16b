//! Typed wrappers: one method per hook tool use, argv exactly as juju.md §3 and ops' hookcmds.

use super::{ToolError, ToolRunner};
use crate::model::{Databag, RelationId};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Workload status a charm may set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatusKind {
    /// Doing something.
    Maintenance,
    /// Needs a human.
    Blocked,
    /// Waiting for something else.
    Waiting,
    /// Working.
    Active,
}

impl StatusKind {
    /// The word `status-set` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            StatusKind::Maintenance => "maintenance",
            StatusKind::Blocked => "blocked",
            StatusKind::Waiting => "waiting",
            StatusKind::Active => "active",
        }
    }
}

/// `juju-log` levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// DEBUG
    Debug,
    /// INFO
    Info,
    /// WARNING
    Warning,
    /// ERROR
    Error,
}

impl LogLevel {
    fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "DEBUG",
            LogLevel::Info => "INFO",
            LogLevel::Warning => "WARNING",
            LogLevel::Error => "ERROR",
        }
    }
}

/// The addresses `network-get` reports for a binding.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetworkInfo {
    /// First bind address of the first interface.
    pub bind_address: Option<String>,
    /// First ingress address.
    pub ingress_address: Option<String>,
}

/// Longest message `juju-log` gets in one call (ops' argv-length safety limit).
const MAX_LOG_CHUNK: usize = 131_071;

/// The hook tools, typed.
#[derive(Clone, Copy)]
pub struct Tools<'a> {
    runner: &'a dyn ToolRunner,
}

/// Runs `work` with the path of a fresh 0600 file holding `value`, removed afterwards: how a
/// secret's content reaches `secret-add`/`secret-set` without appearing on any argv.
fn with_value_file<T>(
    tool: &str,
    value: &str,
    work: impl FnOnce(&str) -> Result<T, ToolError>,
) -> Result<T, ToolError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("parca-broker-secret-{}-{n}", std::process::id()));
    let spawn = |source| ToolError::Spawn {
        tool: tool.to_owned(),
        source,
    };
    let _ = std::fs::remove_file(&path);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(spawn)?;
    let written = file
        .write_all(value.as_bytes())
        .and_then(|()| file.sync_all());
    drop(file);
    let result = match written {
        Ok(()) => work(&path.display().to_string()),
        Err(err) => Err(spawn(err)),
    };
    let _ = std::fs::remove_file(&path);
    result
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

impl<'a> Tools<'a> {
    /// Wraps a runner.
    pub fn new(runner: &'a dyn ToolRunner) -> Self {
        Tools { runner }
    }

    fn json<T: DeserializeOwned>(&self, tool: &str, argv: Vec<String>) -> Result<T, ToolError> {
        let out = self.runner.run(tool, &argv, None)?;
        serde_json::from_str(out.trim()).map_err(|e| ToolError::BadOutput {
            tool: tool.to_owned(),
            reason: format!("not the JSON expected: {e}"),
        })
    }

    /// `relation-ids --format=json <endpoint>`, parsed; Juju sorts them as strings, we sort
    /// numerically.
    pub fn relation_ids(&self, endpoint: &str) -> Result<Vec<RelationId>, ToolError> {
        let ids: Vec<String> = self.json("relation-ids", args(&["--format=json", endpoint]))?;
        let mut parsed = ids
            .iter()
            .map(|text| {
                text.rsplit(':')
                    .next()
                    .and_then(|n| n.parse().ok())
                    .map(|id| RelationId::new(endpoint, id))
                    .ok_or_else(|| ToolError::BadOutput {
                        tool: "relation-ids".into(),
                        reason: format!("{text:?} is not <endpoint>:<id>"),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        parsed.sort();
        Ok(parsed)
    }

    /// `relation-list --format=json -r <id>`: the remote units; none if the relation is gone.
    pub fn relation_list(&self, relation: &RelationId) -> Result<Vec<String>, ToolError> {
        gone_as_default(self.json(
            "relation-list",
            args(&["--format=json", "-r", &relation.to_string()]),
        ))
    }

    /// `relation-list --format=json -r <id> --app`: the remote application.
    pub fn relation_remote_app(&self, relation: &RelationId) -> Result<Option<String>, ToolError> {
        let app: Option<String> = gone_as_default(self.json(
            "relation-list",
            args(&["--format=json", "-r", &relation.to_string(), "--app"]),
        ))?;
        Ok(app.filter(|a| !a.is_empty()))
    }

    /// `relation-get --format=json -r <id> - <unit>`: a unit's databag (empty if gone).
    pub fn relation_get_unit(
        &self,
        relation: &RelationId,
        unit: &str,
    ) -> Result<Databag, ToolError> {
        Ok(self.remote_unit_bag(relation, unit)?.unwrap_or_default())
    }

    /// `relation-get --format=json -r <id> --app - <app>`: an application's databag (empty if
    /// gone).
    pub fn relation_get_app(&self, relation: &RelationId, app: &str) -> Result<Databag, ToolError> {
        Ok(self.remote_app_bag(relation, app)?.unwrap_or_default())
    }

    /// `systemctl is-active <unit>`: `Ok(true)` when active, `Ok(false)` when systemd reports
    /// anything else (it exits non-zero for inactive, failed, activating, …); `Err` only when
    /// `systemctl` cannot be run at all.
    pub fn service_active(&self, unit: &str) -> Result<bool, ToolError> {
        match self
            .runner
            .run("systemctl", &args(&["is-active", unit]), None)
        {
            Ok(_) => Ok(true),
            Err(ToolError::Failed { .. }) => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// `resource-get <name>`: `Ok(Ok(path))` when a file is attached, `Ok(Err(message))` when
    /// Juju has none to give (not attached, not declared: exit 1); `Err` for anything else.
    pub fn resource_get(&self, name: &str) -> Result<Result<String, String>, ToolError> {
        match self.runner.run("resource-get", &args(&[name]), None) {
            Ok(out) => Ok(Ok(out.trim_end_matches('\n').to_owned())),
            Err(ToolError::Failed {
                code: Some(1),
                message,
                ..
            }) => Ok(Err(message)),
            Err(err) => Err(err),
        }
    }

    /// A remote unit's bag, or `None` when Juju says the relation or unit is gone
    /// (`permission denied`, `relation not found`: a unit leaving mid-hook). Any other failure
    /// is an error: the hook fails and Juju retries it.
    pub fn remote_unit_bag(
        &self,
        relation: &RelationId,
        unit: &str,
    ) -> Result<Option<Databag>, ToolError> {
        gone_as_none(self.json(
            "relation-get",
            args(&["--format=json", "-r", &relation.to_string(), "-", unit]),
        ))
        .map(|bag: Option<Option<Databag>>| bag.map(Option::unwrap_or_default))
    }

    /// A remote application's bag, or `None` when Juju says the relation is gone.
    pub fn remote_app_bag(
        &self,
        relation: &RelationId,
        app: &str,
    ) -> Result<Option<Databag>, ToolError> {
        gone_as_none(self.json(
            "relation-get",
            args(&[
                "--format=json",
                "-r",
                &relation.to_string(),
                "--app",
                "-",
                app,
            ]),
        ))
        .map(|bag: Option<Option<Databag>>| bag.map(Option::unwrap_or_default))
    }

    /// `relation-set -r <id> [--app] --file -` with a JSON object on stdin. `""` deletes a key.
    pub fn relation_set(
        &self,
        relation: &RelationId,
        app: bool,
        data: &Databag,
    ) -> Result<(), ToolError> {
        let mut argv = args(&["-r", &relation.to_string()]);
        if app {
            argv.push("--app".into());
        }
        argv.extend(args(&["--file", "-"]));
        let body = serde_json::to_vec(data).map_err(|e| ToolError::BadOutput {
            tool: "relation-set".into(),
            reason: e.to_string(),
        })?;
        self.runner
            .run("relation-set", &argv, Some(&body))
            .map(drop)
    }

    /// `is-leader --format=json`.
    pub fn is_leader(&self) -> Result<bool, ToolError> {
        self.json("is-leader", args(&["--format=json"]))
    }

    /// `config-get --format=json`: options with a value or default.
    pub fn config_get(&self) -> Result<Map<String, Value>, ToolError> {
        let config: Option<Map<String, Value>> =
            self.json("config-get", args(&["--format=json"]))?;
        Ok(config.unwrap_or_default())
    }

    /// `network-get --format=json [-r <id>] <binding>`.
    pub fn network_get(
        &self,
        binding: &str,
        relation: Option<&RelationId>,
    ) -> Result<NetworkInfo, ToolError> {
        let mut argv = args(&["--format=json"]);
        if let Some(relation) = relation {
            argv.extend(args(&["-r", &relation.to_string()]));
        }
        argv.push(binding.to_owned());
        let info: Value = self.json("network-get", argv)?;
        let first_str = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
        Ok(NetworkInfo {
            bind_address: first_str(info.pointer("/bind-addresses/0/addresses/0/value")),
            ingress_address: first_str(info.pointer("/ingress-addresses/0")),
        })
    }

    /// `status-set --application=False <status> -- <message>`.
    pub fn status_set(&self, status: StatusKind, message: &str) -> Result<(), ToolError> {
        let argv = args(&["--application=False", status.as_str(), "--", message]);
        self.runner.run("status-set", &argv, None).map(drop)
    }

    /// `juju-log --log-level <L> -- <message>`, split into chunks Juju accepts.
    pub fn juju_log(&self, level: LogLevel, message: &str) -> Result<(), ToolError> {
        let mut rest = message;
        loop {
            let mut cut = rest.len().min(MAX_LOG_CHUNK);
            while !rest.is_char_boundary(cut) {
                cut -= 1;
            }
            let (chunk, tail) = rest.split_at(cut);
            let argv = args(&["--log-level", level.as_str(), "--", chunk]);
            self.runner.run("juju-log", &argv, None)?;
            if tail.is_empty() {
                return Ok(());
            }
            rest = tail;
        }
    }

    /// `application-version-set -- <version>`.
    pub fn application_version_set(&self, version: &str) -> Result<(), ToolError> {
        self.runner
            .run("application-version-set", &args(&["--", version]), None)
            .map(drop)
    }

    /// `action-get --format=json`: the action's parameters.
    pub fn action_get(&self) -> Result<Map<String, Value>, ToolError> {
        let params: Option<Map<String, Value>> =
            self.json("action-get", args(&["--format=json"]))?;
        Ok(params.unwrap_or_default())
    }

    /// `action-set key=value …` (values are strings; keys lower-case with hyphens).
    pub fn action_set(&self, results: &[(&str, String)]) -> Result<(), ToolError> {
        let argv: Vec<String> = results.iter().map(|(k, v)| format!("{k}={v}")).collect();
        self.runner.run("action-set", &argv, None).map(drop)
    }

    /// `action-fail <message>`.
    pub fn action_fail(&self, message: &str) -> Result<(), ToolError> {
        self.runner
            .run("action-fail", &args(&[message]), None)
            .map(drop)
    }

    /// `secret-get --format=json <uri> [--refresh]`: the secret's content (the tracked
    /// revision; `refresh` moves to the latest, as after `secret-changed`).
    pub fn secret_get(&self, uri: &str, refresh: bool) -> Result<Databag, ToolError> {
        let mut argv = args(&["--format=json", uri]);
        if refresh {
            argv.push("--refresh".to_owned());
        }
        self.json("secret-get", argv)
    }

    /// Our application's secret labelled `label`: its URI and content, `None` if there is
    /// none (`secret-info-get`, then `secret-get` of the owner, which reads the latest).
    pub fn own_secret(&self, label: &str) -> Result<Option<(String, Databag)>, ToolError> {
        let info: Result<BTreeMap<String, Value>, ToolError> = self.json(
            "secret-info-get",
            args(&["--format=json", &format!("--label={label}")]),
        );
        let xid = match info {
            Ok(info) => match info.into_keys().next() {
                Some(xid) => xid,
                None => return Ok(None),
            },
            Err(ToolError::Failed { message, .. }) if message.contains("not found") => {
                return Ok(None);
            }
            Err(err) => return Err(err),
        };
        let uri = if xid.starts_with("secret:") {
            xid
        } else {
            format!("secret:{xid}")
        };
        let content = self.secret_get(&uri, false)?;
        Ok(Some((uri, content)))
    }

    /// `secret-add --label <label> <key>#file=<tmp>`: a new application secret holding
    /// `value` under `key`; its URI. The value goes through a 0600 file, never on argv.
    pub fn secret_add(&self, label: &str, key: &str, value: &str) -> Result<String, ToolError> {
        with_value_file("secret-add", value, |path| {
            let out = self.runner.run(
                "secret-add",
                &args(&[&format!("--label={label}"), &format!("{key}#file={path}")]),
                None,
            )?;
            Ok(out.trim().to_owned())
        })
    }

    /// `secret-set <uri> <key>#file=<tmp>`: a new revision with `value` under `key`.
    pub fn secret_set(&self, uri: &str, key: &str, value: &str) -> Result<(), ToolError> {
        with_value_file("secret-set", value, |path| {
            self.runner
                .run(
                    "secret-set",
                    &args(&[uri, &format!("{key}#file={path}")]),
                    None,
                )
                .map(drop)
        })
    }

    /// `secret-grant -r <relation> <uri>`.
    pub fn secret_grant(&self, uri: &str, relation: &RelationId) -> Result<(), ToolError> {
        self.runner
            .run(
                "secret-grant",
                &args(&["-r", &relation.to_string(), uri]),
                None,
            )
            .map(drop)
    }

    /// `state-get --format=json <key>`: server-side unit state; `None` if unset.
    pub fn state_get(&self, key: &str) -> Result<Option<String>, ToolError> {
        let value: Option<String> = self.json("state-get", args(&["--format=json", key]))?;
        Ok(value.filter(|v| !v.is_empty()))
    }

    /// `state-set --file -` with a JSON object on stdin.
    pub fn state_set(&self, data: &Databag) -> Result<(), ToolError> {
        let body = serde_json::to_vec(data).map_err(|e| ToolError::BadOutput {
            tool: "state-set".into(),
            reason: e.to_string(),
        })?;
        self.runner
            .run("state-set", &args(&["--file", "-"]), Some(&body))
            .map(drop)
    }
}

/// A read of a relation that is gone returns the empty default (juju.md §3.2, §5.3).
fn gone_as_none<T>(result: Result<T, ToolError>) -> Result<Option<T>, ToolError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(err) if err.is_relation_gone() => Ok(None),
        Err(err) => Err(err),
    }
}

fn gone_as_default<T: Default>(result: Result<T, ToolError>) -> Result<T, ToolError> {
    match result {
        Err(err) if err.is_relation_gone() => Ok(T::default()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    /// One recorded call: tool, argv, stdin.
    type Call = (String, Vec<String>, Option<String>);

    /// Records calls and answers from a script.
    struct Scripted {
        calls: RefCell<Vec<Call>>,
        answer: fn(&str, &[String]) -> Result<String, ToolError>,
    }

    impl ToolRunner for Scripted {
        fn run(
            &self,
            tool: &str,
            args: &[String],
            stdin: Option<&[u8]>,
        ) -> Result<String, ToolError> {
            let stdin = stdin.map(|s| String::from_utf8_lossy(s).into_owned());
            self.calls
                .borrow_mut()
                .push((tool.into(), args.to_vec(), stdin));
            (self.answer)(tool, args)
        }
    }

    fn scripted(answer: fn(&str, &[String]) -> Result<String, ToolError>) -> Scripted {
        Scripted {
            calls: RefCell::new(Vec::new()),
            answer,
        }
    }

    #[test]
    fn relation_set_sends_json_on_stdin_with_exact_argv() {
        let runner = scripted(|_, _| Ok(String::new()));
        let data = Databag::from([("k".to_owned(), "v w".to_owned())]);
        Tools::new(&runner)
            .relation_set(&RelationId::new("parca-store-endpoint", 4), true, &data)
            .unwrap();
        let calls = runner.calls.borrow();
        assert_eq!(calls[0].0, "relation-set");
        assert_eq!(
            calls[0].1,
            ["-r", "parca-store-endpoint:4", "--app", "--file", "-"]
        );
        assert_eq!(calls[0].2.as_deref(), Some(r#"{"k":"v w"}"#));
    }

    #[test]
    fn relation_ids_sort_numerically_and_gone_relations_read_empty() {
        let runner = scripted(|tool, _| match tool {
            "relation-ids" => Ok("[\"ep:10\",\"ep:9\"]\n".into()),
            _ => Err(ToolError::Failed {
                tool: tool.into(),
                args: vec![],
                code: Some(1),
                message: "permission denied".into(),
            }),
        });
        let tools = Tools::new(&runner);
        let ids = tools.relation_ids("ep").unwrap();
        assert_eq!(ids.iter().map(|r| r.id).collect::<Vec<_>>(), [9, 10]);
        assert!(tools.relation_get_app(&ids[0], "x").unwrap().is_empty());
        assert!(tools.relation_list(&ids[0]).unwrap().is_empty());
    }

    #[test]
    fn status_and_log_argv_protect_leading_dashes() {
        let runner = scripted(|_, _| Ok(String::new()));
        let tools = Tools::new(&runner);
        tools.status_set(StatusKind::Blocked, "-x").unwrap();
        tools.juju_log(LogLevel::Warning, "-y").unwrap();
        let calls = runner.calls.borrow();
        assert_eq!(calls[0].1, ["--application=False", "blocked", "--", "-x"]);
        assert_eq!(calls[1].1, ["--log-level", "WARNING", "--", "-y"]);
    }

    #[test]
    fn long_log_messages_are_split() {
        let runner = scripted(|_, _| Ok(String::new()));
        let tools = Tools::new(&runner);
        tools
            .juju_log(LogLevel::Info, &"x".repeat(MAX_LOG_CHUNK + 5))
            .unwrap();
        tools
            .juju_log(LogLevel::Info, &"é".repeat(MAX_LOG_CHUNK))
            .unwrap();
        let calls = runner.calls.borrow();
        let lengths: Vec<usize> = calls.iter().map(|c| c.1[3].len()).collect();
        // ASCII: one full chunk and the rest; 2-byte characters: cut at char boundaries.
        assert_eq!(
            lengths,
            [MAX_LOG_CHUNK, 5, MAX_LOG_CHUNK - 1, MAX_LOG_CHUNK - 1, 2]
        );
    }

    #[test]
    fn network_get_reads_bind_and_ingress_addresses() {
        let runner = scripted(|_, _| {
            Ok(r#"{"bind-addresses":[{"mac-address":"","interface-name":"eth0","addresses":[{"hostname":"","value":"10.1.2.3","cidr":"10.1.2.0/24"}]}],"ingress-addresses":["10.9.9.9"]}"#.into())
        });
        let info = Tools::new(&runner)
            .network_get("self-profiling-endpoint", None)
            .unwrap();
        assert_eq!(info.bind_address.as_deref(), Some("10.1.2.3"));
        assert_eq!(info.ingress_address.as_deref(), Some("10.9.9.9"));
    }
}
