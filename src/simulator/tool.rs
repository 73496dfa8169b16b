//! The fake hook tools: one multi-call implementation, chosen by the program name, following
//! juju.md §3 and Appendix A (argv grammar, JSON output, exit codes 0/1/2 with `ERROR …`,
//! leader rules, buffered writes). It reads and updates the hook's context file, whose path is
//! in `JUJU_AGENT_SOCKET_ADDRESS` (the simulated agent).

use super::context::{Fault, HookContext, LogEntry, StatusEntry};
use crate::model::Databag;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// What a tool run produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolOutput {
    /// stdout.
    pub stdout: String,
    /// stderr.
    pub stderr: String,
    /// Exit code.
    pub code: i32,
}

/// A tool failure: rc 1 (runtime) or 2 (arguments), message printed after `ERROR `.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Failure {
    code: i32,
    message: String,
}

fn usage(message: impl Into<String>) -> Failure {
    Failure {
        code: 2,
        message: message.into(),
    }
}

fn runtime(message: impl Into<String>) -> Failure {
    Failure {
        code: 1,
        message: message.into(),
    }
}

/// The tool names this implementation answers to (the driver links each to the binary).
pub const TOOLS: [&str; 25] = [
    "relation-ids",
    "relation-list",
    "relation-get",
    "relation-set",
    "is-leader",
    "config-get",
    "network-get",
    "status-set",
    "status-get",
    "juju-log",
    "application-version-set",
    "action-get",
    "action-set",
    "action-fail",
    "action-log",
    "state-get",
    "state-set",
    "state-delete",
    "secret-get",
    "secret-add",
    "secret-set",
    "secret-info-get",
    "secret-grant",
    "systemctl",
    "resource-get",
];

/// The process entry point when the binary is invoked under a hook tool's name: loads the
/// context named by `JUJU_AGENT_SOCKET_ADDRESS`, runs the tool, saves the context, prints the
/// output; returns the exit code.
pub fn main_as_tool(name: &str, args: &[String]) -> i32 {
    use std::io::{Read, Write};
    let Some(path) = std::env::var_os("JUJU_AGENT_SOCKET_ADDRESS").map(std::path::PathBuf::from)
    else {
        eprintln!("ERROR JUJU_AGENT_SOCKET_ADDRESS is not set: not running inside a hook");
        return 1;
    };
    let mut ctx = match HookContext::load(&path) {
        Ok(ctx) => ctx,
        Err(err) => {
            eprintln!(
                "ERROR cannot reach the unit agent ({}): {err}",
                path.display()
            );
            return 1;
        }
    };
    // Only tools given `--file -` read stdin (others must not block on an inherited terminal).
    let reads_stdin = args.windows(2).any(|w| w[0] == "--file" && w[1] == "-")
        || args.iter().any(|a| a == "--file=-");
    let mut stdin = String::new();
    if reads_stdin && std::io::stdin().read_to_string(&mut stdin).is_err() {
        eprintln!("ERROR cannot read stdin");
        return 1;
    }
    let out = run(&mut ctx, name, args, &stdin);
    ctx.hook_peak_rss_kib = ctx.hook_peak_rss_kib.max(parent_peak_rss_kib());
    if let Err(err) = ctx.save(&path) {
        eprintln!(
            "ERROR cannot update the unit agent ({}): {err}",
            path.display()
        );
        return 1;
    }
    let _ = std::io::stdout().write_all(out.stdout.as_bytes());
    let _ = std::io::stderr().write_all(out.stderr.as_bytes());
    out.code
}

/// Runs `tool` with `args` and `stdin` against `ctx`.
pub fn run(ctx: &mut HookContext, tool: &str, args: &[String], stdin: &str) -> ToolOutput {
    let mut call = vec![tool.to_owned()];
    call.extend(args.iter().cloned());
    ctx.calls.push(call);
    let result = match ctx.faults.get(tool) {
        Some(Fault {
            code,
            message,
            when_arg,
        }) if when_arg.as_ref().is_none_or(|arg| args.contains(arg)) => Err(Failure {
            code: *code,
            message: message.clone(),
        }),
        _ => dispatch(ctx, tool, args, stdin),
    };
    match result {
        Ok(stdout) => ToolOutput {
            stdout,
            stderr: String::new(),
            code: 0,
        },
        Err(Failure { code, message }) => ToolOutput {
            stdout: String::new(),
            stderr: format!("ERROR {message}\n"),
            code,
        },
    }
}

fn dispatch(
    ctx: &mut HookContext,
    tool: &str,
    args: &[String],
    stdin: &str,
) -> Result<String, Failure> {
    match tool {
        "relation-ids" => relation_ids(ctx, args),
        "relation-list" => relation_list(ctx, args),
        "relation-get" => relation_get(ctx, args),
        "relation-set" => relation_set(ctx, args, stdin),
        "is-leader" => {
            Flags::parse(args, &["format"], &[])?.no_positionals()?;
            Ok(json_line(&json!(ctx.leader)))
        }
        "config-get" => config_get(ctx, args),
        "network-get" => network_get(ctx, args),
        "status-set" => status_set(ctx, args),
        "status-get" => {
            Flags::parse(args, &["format"], &["include-data", "application"])?;
            let last = ctx.statuses.last().cloned().unwrap_or(StatusEntry {
                status: "unknown".into(),
                message: String::new(),
            });
            Ok(json_line(
                &json!({"status": last.status, "message": last.message, "status-data": {}}),
            ))
        }
        "juju-log" => juju_log(ctx, args),
        "application-version-set" => {
            let flags = Flags::parse(args, &[], &[])?;
            match flags.positional.as_slice() {
                [version] => {
                    ctx.app_version = Some(version.clone());
                    Ok(String::new())
                }
                [] => Err(usage("no version specified")),
                extra => Err(usage(format!("unrecognized args: {:?}", &extra[1..]))),
            }
        }
        "action-get" | "action-set" | "action-fail" | "action-log" => action_tool(ctx, tool, args),
        "state-get" => state_get(ctx, args),
        "state-set" => state_set(ctx, args, stdin),
        "state-delete" => {
            let flags = Flags::parse(args, &[], &[])?;
            let [key] = flags.positional.as_slice() else {
                return Err(usage("no key specified"));
            };
            ctx.pending_state.insert(key.clone(), None);
            Ok(String::new())
        }
        "secret-get" | "secret-add" | "secret-set" | "secret-info-get" | "secret-grant" => {
            super::secrets::run(ctx, tool, args)
                .map_err(|(code, message)| Failure { code, message })
        }
        "systemctl" => systemctl(ctx, args),
        "resource-get" => resource_get(ctx, args),
        other => Err(runtime(format!("unknown hook tool {other}"))),
    }
}

/// `resource-get <name>`: the attached file's path. The messages for a missing resource follow
/// Juju's wording as far as juju.md gives it (rc 1 runtime errors; rc 2 for a bad call).
fn resource_get(ctx: &HookContext, args: &[String]) -> Result<String, Failure> {
    let flags = Flags::parse(args, &[], &[])?;
    let [name] = flags.positional.as_slice() else {
        return Err(usage("resource-get expects exactly one resource name"));
    };
    match ctx.resources.get(name) {
        None => Err(runtime(format!("resource {name:?} not found"))),
        Some(None) => Err(runtime(format!(
            "could not download resource: resource#{}/{name} not found",
            ctx.app
        ))),
        Some(Some(path)) => Ok(format!("{path}\n")),
    }
}

/// The subset of systemd the charm uses: `daemon-reload`, `enable`, `disable [--now]`,
/// `start`, `stop`, `restart`, and the query `is-active` (prints the state; exit 3 unless
/// active, as systemctl does). As state only, unless the model runs services for real
/// (`services.rs`): then start runs `ExecStart` and is-active looks at the process.
fn systemctl(ctx: &mut HookContext, args: &[String]) -> Result<String, Failure> {
    let verb = args.first().map(String::as_str).unwrap_or_default();
    let units: Vec<&String> = args
        .iter()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if verb == "is-active" {
        let unit = units.first().map(|u| u.as_str()).unwrap_or_default();
        if let Some(pid) = ctx.pids.get(unit)
            && !super::services::is_running(*pid)
        {
            ctx.services.insert(unit.to_owned(), "failed".to_owned());
            ctx.pids.remove(unit);
        }
        let state = ctx
            .services
            .get(unit)
            .cloned()
            .unwrap_or_else(|| "inactive".to_owned());
        return if state == "active" {
            Ok(format!("{state}\n"))
        } else {
            Err(Failure {
                code: 3,
                message: state,
            })
        };
    }
    ctx.systemctl.push(args.to_vec());
    let now = args.iter().any(|a| a == "--now");
    let (stops, starts) = match verb {
        "start" => (false, true),
        "restart" => (true, true),
        "stop" => (true, false),
        "disable" if now => (true, false),
        "daemon-reload" | "enable" | "disable" => (false, false),
        other => return Err(usage(format!("unknown command {other:?}"))),
    };
    for unit in units {
        if stops {
            if let Some(pid) = ctx.pids.remove(unit.as_str()) {
                super::services::stop(pid);
            }
            ctx.services.insert(unit.clone(), "inactive".to_owned());
        }
        if starts {
            let real = ctx
                .real_services
                .as_ref()
                .is_none_or(|names| names.contains(unit));
            if let (Some(root), true) = (&ctx.service_root, real) {
                if verb == "start"
                    && ctx
                        .pids
                        .get(unit.as_str())
                        .is_some_and(|p| super::services::is_running(*p))
                {
                    continue;
                }
                match super::services::start(std::path::Path::new(root), unit) {
                    Ok(pid) => {
                        ctx.pids.insert(unit.clone(), pid);
                    }
                    Err(message) => {
                        ctx.services.insert(unit.clone(), "failed".to_owned());
                        return Err(Failure { code: 1, message });
                    }
                }
            }
            ctx.services.insert(unit.clone(), "active".to_owned());
        }
    }
    Ok(String::new())
}

/// Go's `encoding/json` line: compact, then a newline.
fn json_line(value: &Value) -> String {
    format!("{value}\n")
}

/// Parsed arguments, gnuflag style: interspersed flags, `--x=y`, `-r v`, `--` ends flags.
struct Flags {
    values: BTreeMap<String, String>,
    bools: BTreeMap<String, bool>,
    positional: Vec<String>,
}

/// Short flag spellings → long names.
fn long_name(name: &str) -> &str {
    match name {
        "r" => "relation",
        "a" => "all",
        "l" => "log-level",
        "o" => "output",
        other => other,
    }
}

/// Go's `strconv.ParseBool`.
fn parse_go_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

impl Flags {
    /// `valued` flags take a value; `boolean` flags take none or `=<bool>`.
    fn parse(args: &[String], valued: &[&str], boolean: &[&str]) -> Result<Flags, Failure> {
        let mut flags = Flags {
            values: BTreeMap::new(),
            bools: BTreeMap::new(),
            positional: Vec::new(),
        };
        let mut rest = args.iter();
        while let Some(arg) = rest.next() {
            if arg == "--" {
                flags.positional.extend(rest.by_ref().cloned());
                break;
            }
            let Some(body) = arg
                .strip_prefix("--")
                .or_else(|| arg.strip_prefix('-'))
                .filter(|b| !b.is_empty())
            else {
                flags.positional.push(arg.clone());
                continue;
            };
            let (name, inline) = match body.split_once('=') {
                Some((name, value)) => (long_name(name), Some(value.to_owned())),
                None => (long_name(body), None),
            };
            if valued.contains(&name) {
                let value = match inline {
                    Some(value) => value,
                    None => rest
                        .next()
                        .cloned()
                        .ok_or_else(|| usage(format!("flag needs an argument: {arg}")))?,
                };
                flags.values.insert(name.to_owned(), value);
            } else if boolean.contains(&name) {
                let value = match inline {
                    None => true,
                    Some(text) => parse_go_bool(&text).ok_or_else(|| {
                        usage(format!(
                            "invalid value {text:?} for flag {arg}: parse error"
                        ))
                    })?,
                };
                flags.bools.insert(name.to_owned(), value);
            } else {
                return Err(usage(format!("option provided but not defined: {arg}")));
            }
        }
        if let Some(format) = flags.values.get("format")
            && !["json", "yaml", "smart"].contains(&format.as_str())
        {
            return Err(usage(format!(
                "invalid value {format:?} for option --format: unknown format"
            )));
        }
        Ok(flags)
    }

    fn flag(&self, name: &str) -> bool {
        self.bools.get(name).copied().unwrap_or(false)
    }

    fn no_positionals(self) -> Result<Flags, Failure> {
        if self.positional.is_empty() {
            Ok(self)
        } else {
            Err(usage(format!("unrecognized args: {:?}", self.positional)))
        }
    }
}

/// The relation named by `-r` (either `7` or `ep:7`), else the hook's relation.
fn relation_id(ctx: &HookContext, flags: &Flags) -> Result<u64, Failure> {
    let Some(text) = flags.values.get("relation") else {
        return ctx
            .hook_relation
            .ok_or_else(|| usage("no relation id specified"));
    };
    let (endpoint, number) = match text.rsplit_once(':') {
        Some((endpoint, number)) => (Some(endpoint), number),
        None => (None, text.as_str()),
    };
    let id: u64 = number.parse().map_err(|_| {
        usage(format!(
            "invalid value {text:?} for option -r: invalid relation id"
        ))
    })?;
    match ctx.relations.get(&id) {
        // A mismatched endpoint prefix is "not found", as newer Juju treats it.
        Some(rel) if endpoint.is_none_or(|ep| ep == rel.endpoint) => Ok(id),
        _ => Err(usage(format!(
            "invalid value {text:?} for option -r: relation not found"
        ))),
    }
}

fn relation_ids(ctx: &HookContext, args: &[String]) -> Result<String, Failure> {
    let flags = Flags::parse(args, &["format"], &[])?;
    let endpoint = match flags.positional.as_slice() {
        [endpoint] => endpoint.clone(),
        [] => ctx
            .hook_relation
            .and_then(|id| ctx.relations.get(&id))
            .map(|r| r.endpoint.clone())
            .ok_or_else(|| usage("no endpoint name specified"))?,
        extra => return Err(usage(format!("unrecognized args: {:?}", &extra[1..]))),
    };
    // Sorted as strings, as Juju does ("ep:10" before "ep:9"); broken relations left out.
    let mut ids: Vec<String> = ctx
        .relations
        .iter()
        .filter(|(_, r)| r.endpoint == endpoint && !r.broken)
        .map(|(id, r)| format!("{}:{id}", r.endpoint))
        .collect();
    ids.sort();
    Ok(json_line(&json!(ids)))
}

fn relation_list(ctx: &HookContext, args: &[String]) -> Result<String, Failure> {
    let flags = Flags::parse(args, &["format", "relation"], &["app"])?.no_positionals()?;
    let id = relation_id(ctx, &flags)?;
    let rel = &ctx.relations[&id];
    if rel.gone {
        return Err(runtime("permission denied"));
    }
    if flags.flag("app") {
        return Ok(json_line(&json!(rel.remote_app)));
    }
    let members = if rel.broken {
        Vec::new()
    } else {
        rel.members.clone()
    };
    Ok(json_line(&json!(members)))
}

fn merged(base: &Databag, pending: Option<&Databag>) -> Databag {
    let mut bag = base.clone();
    for (key, value) in pending.into_iter().flatten() {
        if value.is_empty() {
            bag.remove(key);
        } else {
            bag.insert(key.clone(), value.clone());
        }
    }
    bag
}

fn relation_get(ctx: &HookContext, args: &[String]) -> Result<String, Failure> {
    let flags = Flags::parse(args, &["format", "relation"], &["app"])?;
    let id = relation_id(ctx, &flags)?;
    let rel = &ctx.relations[&id];
    let mut app = flags.flag("app");
    let (key, target) = match flags.positional.as_slice() {
        [] => (None, None),
        [key] => (Some(key.clone()), None),
        [key, target] => (Some(key.clone()), Some(target.clone())),
        extra => return Err(usage(format!("unrecognized args: {:?}", &extra[2..]))),
    };
    let key = key.filter(|k| k != "-");
    let target = match target {
        Some(name) if app => name.split('/').next().unwrap_or_default().to_owned(),
        Some(name) if !name.contains('/') => {
            return Err(usage(format!(
                "expected unit name, got application name {name:?}"
            )));
        }
        Some(name) => {
            let valid = name
                .split_once('/')
                .is_some_and(|(a, n)| !a.is_empty() && n.parse::<u32>().is_ok());
            if !valid {
                return Err(usage(format!("invalid unit name {name:?}")));
            }
            name
        }
        None if app => ctx
            .remote_app
            .clone()
            .ok_or_else(|| usage("no unit or application specified"))?,
        None => match (&ctx.remote_unit, &ctx.remote_app) {
            (Some(unit), _) => unit.clone(),
            (None, Some(remote_app)) => {
                app = true;
                remote_app.clone()
            }
            (None, None) => return Err(usage("no unit or application specified")),
        },
    };
    if rel.gone {
        return Err(runtime("permission denied"));
    }
    let bag = if app && target == ctx.app {
        // Juju 3: every unit reads a peer relation's app bag; only the leader its own
        // elsewhere (juju.md §4).
        if !ctx.leader && !rel.peer {
            return Err(runtime("permission denied"));
        }
        merged(&rel.local_app_bag, ctx.pending_app.get(&id))
    } else if app && target == rel.remote_app {
        rel.remote_app_bag.clone()
    } else if app {
        return Err(runtime("permission denied"));
    } else if target == ctx.unit {
        merged(&rel.local_unit_bag, ctx.pending_unit.get(&id))
    } else if let Some(bag) = rel.remote_unit_bags.get(&target) {
        bag.clone()
    } else if target.starts_with(&format!("{}/", rel.remote_app)) {
        return Err(runtime(format!(
            "cannot read settings for unit {target:?} in relation \"{}:{} {}\": unit {target:?}: settings not found",
            ctx.app, rel.endpoint, rel.remote_app
        )));
    } else {
        return Err(runtime("permission denied"));
    };
    Ok(match key {
        Some(key) => json_line(&bag.get(&key).map_or(Value::Null, |v| json!(v))),
        None => json_line(&json!(bag)),
    })
}

fn relation_set(ctx: &mut HookContext, args: &[String], stdin: &str) -> Result<String, Failure> {
    let flags = Flags::parse(args, &["relation", "file", "format"], &["app"])?;
    let id = relation_id(ctx, &flags)?;
    let mut changes = Databag::new();
    if let Some(file) = flags.values.get("file") {
        let text = if file == "-" {
            stdin.to_owned()
        } else {
            std::fs::read_to_string(file)
                .map_err(|e| runtime(format!("cannot read {file}: {e}")))?
        };
        if !text.trim().is_empty() {
            let parsed: BTreeMap<String, String> = serde_saphyr::from_str(&text)
                .map_err(|e| runtime(format!("yaml: unmarshal errors: {e}")))?;
            changes.extend(parsed);
        }
    }
    for pair in &flags.positional {
        match pair.split_once('=') {
            Some((key, value)) if !key.is_empty() => {
                changes.insert(key.to_owned(), value.to_owned());
            }
            _ => return Err(usage(format!("expected \"key=value\", got {pair:?}"))),
        }
    }
    let rel = &ctx.relations[&id];
    if flags.flag("app") {
        if !ctx.leader {
            return Err(runtime("cannot write relation settings"));
        }
        if rel.broken || rel.gone {
            return Err(runtime(
                "cannot read relation application settings: permission denied",
            ));
        }
        ctx.pending_app.entry(id).or_default().extend(changes);
    } else {
        if rel.gone {
            return Err(runtime("cannot read relation settings: permission denied"));
        }
        ctx.pending_unit.entry(id).or_default().extend(changes);
    }
    Ok(String::new())
}

fn config_get(ctx: &HookContext, args: &[String]) -> Result<String, Failure> {
    let flags = Flags::parse(args, &["format"], &["all"])?;
    match flags.positional.as_slice() {
        [] => Ok(json_line(&Value::Object(ctx.config.clone()))),
        [key] if flags.flag("all") => Err(usage(format!(
            "cannot use argument --all together with key {key:?}"
        ))),
        [key] => Ok(json_line(ctx.config.get(key).unwrap_or(&Value::Null))),
        extra => Err(usage(format!("unrecognized args: {:?}", &extra[1..]))),
    }
}

fn network_get(ctx: &HookContext, args: &[String]) -> Result<String, Failure> {
    let flags = Flags::parse(
        args,
        &["format", "relation"],
        &[
            "bind-address",
            "ingress-address",
            "egress-subnets",
            "primary-address",
        ],
    )?;
    if flags.values.contains_key("relation") {
        relation_id(ctx, &flags)?;
    }
    let binding = match flags.positional.as_slice() {
        [binding] => binding,
        [] => return Err(usage("no arguments specified")),
        extra => return Err(usage(format!("unrecognized args: {:?}", &extra[1..]))),
    };
    let info = ctx.network.get(binding).ok_or_else(|| {
        runtime(format!(
            "binding name {binding:?} not defined by the unit's charm"
        ))
    })?;
    Ok(json_line(info))
}

fn status_set(ctx: &mut HookContext, args: &[String]) -> Result<String, Failure> {
    let flags = Flags::parse(args, &[], &["application"])?;
    let (status, message) = match flags.positional.as_slice() {
        [] => return Err(usage("invalid args, require <status> [message]")),
        [status] => (status.clone(), String::new()),
        [status, message] => (status.clone(), message.clone()),
        extra => return Err(usage(format!("unrecognized args: {:?}", &extra[2..]))),
    };
    if !["maintenance", "blocked", "waiting", "active"].contains(&status.as_str()) {
        return Err(usage(format!(
            "invalid status {status:?}, expected one of [maintenance blocked waiting active]"
        )));
    }
    if flags.flag("application") && !ctx.leader {
        return Err(runtime("this unit is not the leader"));
    }
    ctx.statuses.push(StatusEntry { status, message });
    Ok(String::new())
}

fn juju_log(ctx: &mut HookContext, args: &[String]) -> Result<String, Failure> {
    let flags = Flags::parse(args, &["log-level"], &["debug"])?;
    if flags.positional.is_empty() {
        return Err(usage("no message specified"));
    }
    let level = if flags.flag("debug") {
        "DEBUG".to_owned()
    } else {
        let level = flags
            .values
            .get("log-level")
            .map_or("INFO".to_owned(), |l| l.to_uppercase());
        // An unknown level is logged at INFO (still rc 0).
        match level.as_str() {
            "TRACE" | "DEBUG" | "INFO" | "WARNING" | "ERROR" | "CRITICAL" => level,
            _ => "INFO".to_owned(),
        }
    };
    let prefix = ctx
        .hook_relation
        .and_then(|id| {
            ctx.relations
                .get(&id)
                .map(|r| format!("{}:{id}: ", r.endpoint))
        })
        .unwrap_or_default();
    ctx.logs.push(LogEntry {
        level,
        message: format!("{prefix}{}", flags.positional.join(" ")),
    });
    Ok(String::new())
}

fn action_tool(ctx: &mut HookContext, tool: &str, args: &[String]) -> Result<String, Failure> {
    let Some(action) = &ctx.action else {
        return Err(runtime("not running an action"));
    };
    match tool {
        "action-get" => {
            let flags = Flags::parse(args, &["format"], &[])?;
            match flags.positional.as_slice() {
                [] => Ok(json_line(&Value::Object(action.params.clone()))),
                [key] => {
                    // A dotted key walks into nested maps; anything missing is null.
                    let mut value = Value::Object(action.params.clone());
                    for segment in key.split('.') {
                        value = value.get(segment).cloned().unwrap_or(Value::Null);
                    }
                    Ok(json_line(&value))
                }
                extra => Err(usage(format!("unrecognized args: {:?}", &extra[1..]))),
            }
        }
        "action-set" => {
            let flags = Flags::parse(args, &[], &[])?;
            let mut results = Vec::new();
            for pair in &flags.positional {
                let Some((key, value)) = pair.split_once('=') else {
                    return Err(usage(format!(
                        "argument {pair:?} must be of the form key...=value"
                    )));
                };
                let valid_segment = |s: &str| {
                    !s.is_empty()
                        && s.chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                        && !s.starts_with('-')
                        && !s.ends_with('-')
                };
                if !key.split('.').all(valid_segment) {
                    return Err(usage(format!(
                        "argument {pair:?} must be of the form key...=value"
                    )));
                }
                if ["stdout", "stdout-encoding", "stderr", "stderr-encoding"].contains(&key) {
                    return Err(usage(format!("cannot set reserved action key {key:?}")));
                }
                results.push((key.to_owned(), value.to_owned()));
            }
            ctx.action_results.extend(results);
            Ok(String::new())
        }
        "action-fail" => {
            let flags = Flags::parse(args, &[], &[])?;
            ctx.action_failed = Some(if flags.positional.is_empty() {
                "action failed without reason given, check action for errors".into()
            } else {
                flags.positional.join(" ")
            });
            Ok(String::new())
        }
        _ => {
            let flags = Flags::parse(args, &[], &[])?;
            ctx.logs.push(LogEntry {
                level: "ACTION".into(),
                message: flags.positional.join(" "),
            });
            Ok(String::new())
        }
    }
}

fn state_get(ctx: &HookContext, args: &[String]) -> Result<String, Failure> {
    let flags = Flags::parse(args, &["format"], &["strict"])?;
    let mut state = ctx.state.clone();
    for (key, value) in &ctx.pending_state {
        match value {
            Some(v) => state.insert(key.clone(), v.clone()),
            None => state.remove(key),
        };
    }
    match flags.positional.as_slice() {
        [] => Ok(json_line(&json!(state))),
        [key] => match state.get(key) {
            Some(value) => Ok(json_line(&json!(value))),
            None if flags.flag("strict") => Err(runtime(format!("{key:?} not found"))),
            None => Ok(json_line(&json!(""))),
        },
        extra => Err(usage(format!("unrecognized args: {:?}", &extra[1..]))),
    }
}

fn state_set(ctx: &mut HookContext, args: &[String], stdin: &str) -> Result<String, Failure> {
    let flags = Flags::parse(args, &["file"], &[])?;
    let mut changes: BTreeMap<String, String> = BTreeMap::new();
    if flags.values.get("file").is_some_and(|f| f == "-") && !stdin.trim().is_empty() {
        changes = serde_saphyr::from_str(stdin)
            .map_err(|e| runtime(format!("yaml: unmarshal errors: {e}")))?;
    }
    for pair in &flags.positional {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| usage(format!("expected \"key=value\", got {pair:?}")))?;
        changes.insert(key.to_owned(), value.to_owned());
    }
    for (key, value) in changes {
        if key.len() > 256 || value.len() > 64 * 1024 {
            return Err(runtime(format!(
                "state key {key:?} or its value is too large"
            )));
        }
        ctx.pending_state.insert(key, Some(value));
    }
    Ok(String::new())
}

/// `VmHWM` (peak resident set, KiB) of this tool's parent process, the hook; 0 if unknown.
fn parent_peak_rss_kib() -> u64 {
    proc_status_kib(std::os::unix::process::parent_id(), "VmHWM").unwrap_or(0)
}

/// A memory figure (KiB) of a process from `/proc/<pid>/status`: `VmRSS`, `VmHWM`, …
pub fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| {
        line.strip_prefix(field)?
            .strip_prefix(':')?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_status_fields_are_read_by_exact_name() {
        let pid = std::process::id();
        assert!(proc_status_kib(pid, "VmRSS").is_some_and(|kib| kib > 0));
        assert!(proc_status_kib(pid, "VmHWM").is_some_and(|kib| kib > 0));
        assert_eq!(
            proc_status_kib(pid, "VmRS"),
            None,
            "a prefix is not a field"
        );
        assert_eq!(proc_status_kib(u32::MAX, "VmRSS"), None);
    }
    use crate::simulator::context::CtxRelation;

    fn ctx() -> HookContext {
        let mut ctx = HookContext {
            unit: "b/0".into(),
            app: "b".into(),
            leader: false,
            ..Default::default()
        };
        for (id, ep) in [(9, "db"), (10, "db")] {
            ctx.relations.insert(
                id,
                CtxRelation {
                    endpoint: ep.into(),
                    remote_app: "mysql".into(),
                    members: vec!["mysql/0".into()],
                    remote_unit_bags: [(
                        "mysql/0".to_owned(),
                        [("k".to_owned(), "v".to_owned())].into(),
                    )]
                    .into(),
                    ..Default::default()
                },
            );
        }
        ctx
    }

    fn call(ctx: &mut HookContext, tool: &str, args: &[&str]) -> ToolOutput {
        let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        run(ctx, tool, &args, "")
    }

    #[test]
    fn relation_ids_sort_as_strings() {
        let out = call(&mut ctx(), "relation-ids", &["--format=json", "db"]);
        assert_eq!(out.stdout, "[\"db:10\",\"db:9\"]\n");
    }

    #[test]
    fn argv_grammar_interspersed_flags_and_errors() {
        let mut c = ctx();
        assert_eq!(
            call(
                &mut c,
                "relation-get",
                &["mysql/0", "-r", "db:9", "--format=json", "k"]
            )
            .code,
            2
        );
        let out = call(
            &mut c,
            "relation-get",
            &["-r", "db:9", "k", "mysql/0", "--format", "json"],
        );
        assert_eq!((out.code, out.stdout.as_str()), (0, "\"v\"\n"));
        assert_eq!(
            call(&mut c, "relation-get", &["-r=9", "missing", "mysql/0"]).stdout,
            "null\n"
        );
        let bad = call(&mut c, "relation-list", &["--bogus"]);
        assert_eq!(
            (bad.code, bad.stderr.as_str()),
            (2, "ERROR option provided but not defined: --bogus\n")
        );
        let nf = call(&mut c, "relation-list", &["-r", "other:9"]);
        assert_eq!(
            nf.stderr,
            "ERROR invalid value \"other:9\" for option -r: relation not found\n"
        );
        assert_eq!(
            call(&mut c, "relation-list", &[]).stderr,
            "ERROR no relation id specified\n"
        );
    }

    #[test]
    fn leader_rules_for_app_bags() {
        let mut c = ctx();
        let read = call(&mut c, "relation-get", &["-r", "db:9", "--app", "-", "b"]);
        assert_eq!(
            (read.code, read.stderr.as_str()),
            (1, "ERROR permission denied\n")
        );
        let write = call(&mut c, "relation-set", &["-r", "db:9", "--app=True", "x=1"]);
        assert_eq!(write.stderr, "ERROR cannot write relation settings\n");
        c.leader = true;
        assert_eq!(
            call(&mut c, "relation-set", &["-r", "db:9", "--app", "x=1"]).code,
            0
        );
        let back = call(&mut c, "relation-get", &["-r", "db:9", "--app", "-", "b"]);
        assert_eq!(
            back.stdout, "{\"x\":\"1\"}\n",
            "pending writes are visible to the same hook"
        );
    }

    #[test]
    fn relation_set_reads_json_from_stdin_and_empty_deletes() {
        let mut c = ctx();
        c.relations
            .get_mut(&9)
            .unwrap()
            .local_unit_bag
            .insert("old".into(), "1".into());
        let args: Vec<String> = ["-r", "db:9", "--file", "-"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        assert_eq!(
            run(&mut c, "relation-set", &args, r#"{"a": "x y", "old": ""}"#).code,
            0
        );
        let out = call(
            &mut c,
            "relation-get",
            &["--format=json", "-r", "db:9", "-", "b/0"],
        );
        assert_eq!(out.stdout, "{\"a\":\"x y\"}\n");
        assert_eq!(
            call(&mut c, "relation-set", &["-r", "db:9", "haha"]).code,
            2
        );
    }

    #[test]
    fn status_and_action_tools_validate() {
        let mut c = ctx();
        assert_eq!(
            call(
                &mut c,
                "status-set",
                &["--application=False", "active", "--", "-ok"]
            )
            .code,
            0
        );
        assert_eq!(c.statuses.last().unwrap().message, "-ok");
        assert_eq!(call(&mut c, "status-set", &["error"]).code, 2);
        assert_eq!(
            call(&mut c, "action-get", &[]).stderr,
            "ERROR not running an action\n"
        );
        assert_eq!(
            call(&mut c, "juju-log", &[]).stderr,
            "ERROR no message specified\n"
        );
    }
}
