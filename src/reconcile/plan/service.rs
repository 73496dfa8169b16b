//! The broker service: its systemd unit and the `systemctl` commands a hook runs. The unit is
//! rewritten (daemon-reload, enable, restart) only when its text changes; install and
//! upgrade-charm restart it (a new binary); stop and remove disable it; and a service that
//! should run and does not (`systemctl is-active`, read in observe) is restarted. Pure.

use crate::juju::{Dispatch, Event};
use crate::reconcile::config::CharmConfig;
use crate::reconcile::files::{STATE_FILE, SYSTEMD_UNIT};
use crate::reconcile::observe::Observed;

/// The broker service's systemd unit.
pub const SERVICE_UNIT: &str = "parca-broker.service";

/// The service's binary, shipped in the charm directory beside `dispatch` (the hooks' own,
/// smaller binary: src/bin/dispatch.rs).
pub const SERVICE_BINARY: &str = "parca-broker";

/// What the hook does to the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePlan {
    /// The unit file's new text, when it differs from the one installed.
    pub unit_file: Option<String>,
    /// `systemctl` argument lists, in order.
    pub commands: Vec<Vec<String>>,
    /// The service was found not running and is restarted (said in status and log).
    pub revived: bool,
}

/// Decides the service commands for this hook.
pub fn service(observed: &Observed, config: &CharmConfig) -> ServicePlan {
    let unit_file = systemd_unit(observed, config);
    let unit_changed = observed.file_differs(SYSTEMD_UNIT, unit_file.as_bytes());
    let event = match &observed.ctx.dispatch {
        Dispatch::Hook(event) => Some(event),
        Dispatch::Action(_) => None,
    };
    let systemctl = |args: &[&str]| args.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>();
    let mut plan = ServicePlan {
        unit_file: None,
        commands: Vec::new(),
        revived: false,
    };
    if matches!(event, Some(Event::Stop | Event::Remove)) {
        plan.commands
            .push(systemctl(&["disable", "--now", SERVICE_UNIT]));
        return plan;
    }
    if unit_changed {
        plan.unit_file = Some(unit_file);
        plan.commands.push(systemctl(&["daemon-reload"]));
    }
    if unit_changed || matches!(event, Some(Event::Install)) {
        plan.commands.push(systemctl(&["enable", SERVICE_UNIT]));
    }
    if unit_changed || matches!(event, Some(Event::Install | Event::UpgradeCharm)) {
        plan.commands.push(systemctl(&["restart", SERVICE_UNIT]));
    } else if observed.service_active == Some(false) {
        // It should run and does not (crashed, killed, stopped by hand): start it again.
        plan.commands.push(systemctl(&["restart", SERVICE_UNIT]));
        plan.revived = true;
    }
    plan
}

fn systemd_unit(observed: &Observed, config: &CharmConfig) -> String {
    format!(
        "# Written by the parca-broker charm; changes are overwritten.\n\
         [Unit]\n\
         Description=parca-broker: Parca scrape targets, status page and live discovery\n\
         After=network-online.target\n\
         \n\
         [Service]\n\
         ExecStart={}/{SERVICE_BINARY} serve --listen {} --state {STATE_FILE} --config-file {}\n\
         Restart=on-failure\n\
         RestartSec=5\n\
         # Above systemd's default of 1,024: every client and probe holds a descriptor.\n\
         LimitNOFILE=65536\n\
         \n\
         [Install]\n\
         WantedBy=multi-user.target\n",
        observed.ctx.charm_dir.display(),
        config.listen_address,
        config.config_file,
    )
}
