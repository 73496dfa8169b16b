//! Plan: `Observed` → [`Plan`], pure. Decides every write, the service commands, the status and
//! the action result; apply only carries them out. Nothing here touches Juju or the disk.

use super::config::{CharmConfig, ConfigProblem, TargetDiscovery};
use super::files::{PARCA_UNIT, STATE_FILE, STORE_TOKEN, SYSTEMD_UNIT};
use super::observe::{LocalRelation, Observed};
use super::snapshot::{
    BrokerSnapshot, DroppedView, JobView, RelationView, ShardMember, ShardView, StatusView,
    StoreView, TargetGroup,
};
use crate::fixes::FixSet;
use crate::interfaces::parca_scrape::consumer::make_job_names_unique;
use crate::interfaces::parca_scrape::{
    ScrapeJob, ScrapeProvider, render_jobs, wire as scrape_wire,
};
use crate::interfaces::parca_store::StoreProvider;
use crate::interfaces::topology::{JujuTopology, ModelUuid};
use crate::juju::Dispatch;
use crate::juju::tools::{LogLevel, StatusKind};
use crate::model::{Databag, Rejection, RelationId};
use crate::render::validate::check_yaml;
use crate::render::{Discovery, ObjectStorage, ParcaConfig, render_config};
use serde::Serialize;
use serde_json::json;

pub mod cos;
mod service;
pub mod shard;
mod store;
mod workload;

pub use service::{SERVICE_BINARY, SERVICE_UNIT};
pub use store::{PENDING_SECRET_URI, SecretChange, StoreSource, TokenSecret};
pub use workload::{PARCA_RESOURCE, PARCA_SERVICE, ParcaBinary, binary as parca_binary};

/// The key of the peer unit bag holding the unit's address.
pub const PEER_ADDRESS: &str = "address";

/// The job the broker publishes for its own pprof endpoint.
pub const SELF_JOB_NAME: &str = "parca-broker";

/// A file to write (its content differs from what is on disk).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileWrite {
    /// Logical absolute path.
    pub path: String,
    /// New content.
    pub content: Vec<u8>,
    /// Unix mode.
    pub mode: u32,
}

/// Changes to one of our databags: only keys whose value differs; `""` deletes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationWrite {
    /// The relation.
    pub relation: RelationId,
    /// The app bag (leader only) or our unit bag.
    pub app: bool,
    /// Key → new value.
    pub changes: Databag,
}

/// The outcome of an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionOutcome {
    /// `action-set` key → value.
    pub results: Vec<(String, String)>,
    /// `action-fail` message, if it failed.
    pub failure: Option<String>,
}

/// What the hook will do.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Files whose content changes.
    pub files: Vec<FileWrite>,
    /// Databag changes.
    pub relation_writes: Vec<RelationWrite>,
    /// The token secret toward the agents: made or updated, and granted, before the databag
    /// writes (which may carry its URI).
    pub token_secret: Option<TokenSecret>,
    /// Files to remove (logical paths).
    pub removals: Vec<String>,
    /// Files outside the root to make executable (a Juju resource).
    pub make_executable: Vec<String>,
    /// `systemctl` argument lists, in order.
    pub service_commands: Vec<Vec<String>>,
    /// Status to set last.
    pub status: (StatusKind, String),
    /// `juju-log` lines.
    pub logs: Vec<(LogLevel, String)>,
    /// Action result, when an action runs.
    pub action: Option<ActionOutcome>,
    /// The rendered jobs (what parca.yaml holds).
    pub jobs: Vec<ScrapeJob>,
    /// Everything dropped, with reasons.
    pub rejections: Vec<Rejection>,
    /// The store relayed to agents.
    pub store: StoreSource,
    /// What the service shows.
    pub snapshot: BrokerSnapshot,
    /// The service's address, to tell it a hook ran.
    pub listen_address: String,
}

/// Computes the plan.
pub fn plan(observed: &Observed) -> Plan {
    let fixes = FixSet::ALL;
    let (config, config_problems) = CharmConfig::decode(&observed.config);
    let mut problems: Vec<String> = config_problems
        .iter()
        .map(ConfigProblem::to_string)
        .collect();

    // Our address: published for self-profiling, and the host of http_sd URLs.
    let unit_address = [
        Some(config.unit_address.clone()),
        observed.network_address.clone(),
        Some(observed.hostname.clone()),
    ]
    .into_iter()
    .flatten()
    .find(|a| !a.is_empty())
    .unwrap_or_default();
    // network-get failed: the address fell back. That blocks only where the address is used
    // (self-profiling related, or http_sd URLs on an unspecified listen address) and no
    // unit-address option gives it; elsewhere it is a warning.
    let mut network_warning = None;
    if let Some(err) = &observed.network_error {
        let fallback = if config.unit_address.is_empty() {
            format!("the host name {unit_address:?}")
        } else {
            "config unit-address".to_owned()
        };
        let message =
            format!("network-get self-profiling-endpoint failed ({err}); using {fallback}");
        let address_used = !observed.self_profiling.is_empty()
            || (config.discovery == TargetDiscovery::HttpSd && !config.listens_on_specific_ip());
        if address_used && config.unit_address.is_empty() {
            problems.push(message);
        } else {
            network_warning = Some(message);
        }
    }

    // Scrape jobs → parca.yaml, on top of the base config.
    let base = base_config(observed, &config, &mut problems);
    let discovery = match config.discovery {
        TargetDiscovery::Static => Discovery::Static,
        TargetDiscovery::HttpSd => Discovery::HttpSd {
            base_url: service_url(&config, &unit_address),
        },
    };
    let mut consumer = render_jobs(&observed.scrape, fixes);
    // Relation jobs never take a base job's name (F4's rule), so every name is final here:
    // parca.yaml, http_sd URLs and the service all use the same one.
    let base_names = base
        .scrape_configs
        .iter()
        .map(|j| j.job_name.clone())
        .collect();
    make_job_names_unique(&mut consumer.jobs, &base_names);
    // Several broker units: this one renders only the targets it owns (shard.rs).
    let peer_units: Vec<String> = observed
        .peers
        .as_ref()
        .map(|p| p.members.keys().cloned().collect())
        .unwrap_or_default();
    let members = shard::membership(&observed.ctx.unit, &peer_units);
    let my_jobs = shard::my_share(&consumer.jobs, &members, &observed.ctx.unit);
    // The typed config has done its work once checked and written as text: it is dropped here,
    // before the state is built, which a hook at K = 1,000 would otherwise hold beside it (P5).
    let crate::render::RenderedConfig {
        yaml: parca_yaml,
        dropped: dropped_jobs,
        problems: file_problems,
        ..
    } = render_config(&base, &my_jobs, &discovery);
    drop(my_jobs);
    let ignored: Vec<String> = consumer.ignored.iter().map(ToString::to_string).collect();
    let mut rejections = consumer.rejections;
    rejections.extend(dropped_jobs.iter().cloned());
    let jobs: Vec<ScrapeJob> = consumer
        .jobs
        .into_iter()
        .filter(|job| {
            !dropped_jobs
                .iter()
                .any(|r| r.job.as_deref() == Some(&job.job_name))
        })
        .collect();
    let mut files = Vec::new();
    let size_problem = config_size_problem(&parca_yaml);
    if file_problems.is_empty() && size_problem.is_none() {
        // Copied only to be written: an unchanged parca.yaml is compared where it is.
        if observed.file_differs(&config.config_file, parca_yaml.as_bytes()) {
            files.push(FileWrite {
                path: config.config_file.clone(),
                content: parca_yaml.clone().into_bytes(),
                mode: 0o640,
            });
        }
    } else if let Some(problem) = size_problem {
        problems.push(format!("parca.yaml not written: {problem}"));
    } else {
        // Parca would refuse the whole file: keep the one it has.
        problems.extend(
            file_problems
                .iter()
                .map(|p| format!("parca.yaml not written: {p}")),
        );
    }

    let mut desire_file = |path: &str, content: Vec<u8>, mode: u32| {
        if observed.file_differs(path, &content) {
            files.push(FileWrite {
                path: path.to_owned(),
                content,
                mode,
            });
        }
    };

    // The upstream store, relayed to every agent (store.rs).
    let relay = store::relay(observed, &config, fixes);
    problems.extend(relay.problems.iter().cloned());
    // Parca reads the token file once, at start: a new token means a restart (workload.rs).
    let token_changes = relay
        .files
        .iter()
        .any(|(path, content, _)| *path == STORE_TOKEN && observed.file_differs(path, content));
    for (path, content, mode) in relay.files {
        desire_file(path, content, mode);
    }
    let mut relation_writes = relay.writes;
    let token_secret = relay.token_secret;
    let relay_problems = relay.relay_problems;
    let store = relay.source;

    // Our own pprof endpoint, for another Parca.
    if !observed.self_profiling.is_empty() {
        if config.listens_on_loopback() {
            problems.push(format!(
                "self-profiling-endpoint is related but listen-address {} is loopback; set listen-address to a reachable address",
                config.listen_address
            ));
        }
        let unit_bag = ScrapeProvider::unit_databag(&observed.ctx.unit, &unit_address);
        let app_bag = self_profiling_app_bag(observed, &config, &mut problems);
        for relation in &observed.self_profiling {
            push_diff(
                &mut relation_writes,
                relation,
                false,
                &unit_bag,
                &[scrape_wire::UNIT_ADDRESS, scrape_wire::UNIT_NAME],
            );
            if let (true, Some(bag)) = (observed.leader, &app_bag) {
                push_diff(
                    &mut relation_writes,
                    relation,
                    true,
                    bag,
                    &[scrape_wire::SCRAPE_JOBS, scrape_wire::SCRAPE_METADATA],
                );
            }
        }
    }

    // COS: Prometheus scrapes our /metrics, Grafana loads our dashboard (cos.rs).
    let cos = cos::cos(observed, &config, &unit_address);
    problems.extend(cos.problems.iter().cloned());
    relation_writes.extend(cos.writes.iter().cloned());

    // Our address for the other broker units (they show it; shard.rs needs only the names).
    if let Some(peers) = &observed.peers {
        let relation = LocalRelation {
            id: peers.id.clone(),
            remote_app: observed.ctx.app.clone(),
            bags: peers.own.clone().map(|unit| super::observe::OwnBags {
                app: Databag::new(),
                unit,
            }),
        };
        let bag = Databag::from([(PEER_ADDRESS.to_owned(), unit_address.clone())]);
        push_diff(
            &mut relation_writes,
            &relation,
            false,
            &bag,
            &[PEER_ADDRESS],
        );
    }

    // The service: a systemd unit, (re)started when it or the binary changes (service.rs).
    let service = service::service(observed, &config);
    if let Some(unit_file) = service.unit_file {
        desire_file(SYSTEMD_UNIT, unit_file.into_bytes(), 0o644);
    }
    let mut service_commands = service.commands;
    let service_revived = service.revived;

    // The managed Parca: its unit, restarts, and what it says (workload.rs).
    let workload = workload::workload(
        observed,
        &config,
        relay.scraper_flags.as_deref(),
        token_changes,
    );
    problems.extend(workload.problems.iter().cloned());
    if let Some(unit_file) = &workload.unit_file {
        desire_file(PARCA_UNIT, unit_file.clone().into_bytes(), 0o644);
    }
    service_commands.extend(workload.commands.iter().cloned());

    let targets: usize = jobs.iter().map(|j| j.targets().count()).sum();
    let apps: std::collections::BTreeSet<&str> = jobs
        .iter()
        .filter(|j| j.targets().next().is_some())
        .map(|j| j.app.as_str())
        .collect();
    let mut status = status(targets, apps.len(), &problems, &rejections, &store);
    if service_revived {
        // Said in this hook's status and log; if the restart fails, apply reports that instead.
        status
            .1
            .push_str("; parca-broker.service was not running: restarted");
    }
    status.1.push_str(&workload.status_note);
    status.1.push_str(&cos.status_note);
    let shard_view = shard_view(observed, &jobs, &members);
    if members.len() > 1 {
        let mine = shard_view
            .units
            .iter()
            .find(|u| u.unit == observed.ctx.unit)
            .map_or(0, |u| u.targets);
        status.1.push_str(&format!(
            "; shard: {mine} of {} targets, {} units",
            shard_view.total,
            members.len()
        ));
    }

    // What the service shows: written only when it changes, like every other file.
    let mut snapshot = snapshot(
        observed,
        &config,
        &status,
        &jobs,
        &rejections,
        &store,
        parca_yaml,
    );
    snapshot.parca = workload.view.clone();
    snapshot.shard = shard_view;
    snapshot.cos = cos.view.clone();
    snapshot.ignored = ignored.clone();
    for (job, view) in jobs.iter().zip(snapshot.jobs.iter_mut()) {
        shard_groups(job, view, &members);
    }
    if let Some(problem) = relay_problems.first() {
        // Show what was refused, not the refused address as if it were in use.
        snapshot.store.address = String::new();
        snapshot.store.source = format!("{} ({problem})", snapshot.store.source);
    }
    // Compact: read by the service only (`jq` shows it to a person); 30 % smaller than pretty
    // JSON, which every hook at K = 1,000 would build and hold (issue 9, P5).
    let mut state = serde_json::to_vec(&snapshot).unwrap_or_default();
    state.push(b'\n');
    if observed.file_differs(STATE_FILE, &state) {
        files.push(FileWrite {
            path: STATE_FILE.to_owned(),
            content: state,
            mode: 0o640,
        });
    }

    files.extend(super::cache::cache_write(observed, workload.seen.as_ref()));

    let mut logs: Vec<(LogLevel, String)> = problems
        .iter()
        .map(|p| (LogLevel::Warning, p.clone()))
        .chain(rejections.iter().map(|r| {
            (
                LogLevel::Warning,
                format!("dropped {}: {r}", r.scope.as_str()),
            )
        }))
        .collect();
    logs.extend(network_warning.map(|w| (LogLevel::Warning, w)));
    logs.extend(cos.warnings.iter().map(|w| (LogLevel::Warning, w.clone())));
    logs.extend(ignored.iter().map(|i| (LogLevel::Debug, i.clone())));
    logs.extend(
        workload
            .warnings
            .iter()
            .map(|w| (LogLevel::Warning, w.clone())),
    );
    if service_revived {
        logs.push((
            LogLevel::Warning,
            "parca-broker.service was not running; restarting it".to_owned(),
        ));
    }
    logs.push((
        LogLevel::Info,
        format!(
            "reconciled {} ({}): {targets} targets from {} apps in {} jobs, {} dropped, {} relation writes, {} files written, parca.yaml {}",
            observed.ctx.dispatch,
            match &observed.read.full_reason {
                Some(reason) => format!("full read: {reason}"),
                None => "incremental read".to_owned(),
            },
            apps.len(),
            jobs.len(),
            rejections.len(),
            relation_writes.len(),
            files.len(),
            if files.iter().any(|f| f.path == config.config_file) { "written" } else { "unchanged" },
        ),
    ));

    let action = match &observed.ctx.dispatch {
        Dispatch::Action(name) => {
            Some(action_outcome(name, &config, &jobs, &rejections, &snapshot))
        }
        Dispatch::Hook(_) => None,
    };
    Plan {
        files,
        relation_writes,
        token_secret,
        removals: workload.removals,
        make_executable: workload.make_executable,
        service_commands,
        status,
        logs,
        action,
        jobs,
        rejections,
        store,
        snapshot,
        listen_address: config.listen_address.clone(),
    }
}

/// Every member with its address and how many targets it owns.
fn shard_view(observed: &Observed, jobs: &[ScrapeJob], members: &[String]) -> ShardView {
    let mut units: Vec<ShardMember> = members
        .iter()
        .map(|unit| ShardMember {
            unit: unit.clone(),
            address: observed
                .peers
                .as_ref()
                .and_then(|p| p.members.get(unit))
                .and_then(|bag| bag.get(PEER_ADDRESS))
                .cloned()
                .unwrap_or_default(),
            targets: 0,
        })
        .collect();
    let mut total = 0;
    for job in jobs {
        for (target, _) in job.targets() {
            total += 1;
            if let Some(owner) = shard::owner(members, &job.job_name, target)
                && let Some(member) = units.iter_mut().find(|u| u.unit == owner)
            {
                member.targets += 1;
            }
        }
    }
    ShardView { units, total }
}

/// With several members, splits a job view's groups so each has one owner, and names it.
fn shard_groups(job: &ScrapeJob, view: &mut JobView, members: &[String]) {
    if members.len() <= 1 {
        return;
    }
    let mut groups = Vec::new();
    for group in std::mem::take(&mut view.groups) {
        let mut by_owner: Vec<(String, Vec<String>)> = Vec::new();
        for target in group.targets.iter() {
            let owner = shard::owner(members, &job.job_name, target)
                .unwrap_or_default()
                .to_owned();
            match by_owner.iter_mut().find(|(o, _)| *o == owner) {
                Some((_, targets)) => targets.push(target.clone()),
                None => by_owner.push((owner, vec![target.clone()])),
            }
        }
        for (owner, targets) in by_owner {
            groups.push(TargetGroup {
                targets: targets.into(),
                labels: group.labels.clone(),
                unit: group.unit.clone(),
                owner: Some(owner),
            });
        }
    }
    view.groups = groups;
}

/// The service's view of the rendered jobs.
pub fn job_views(jobs: &[ScrapeJob]) -> Vec<JobView> {
    let text = |v: &serde_json::Value| v.as_str().map_or_else(|| v.to_string(), str::to_owned);
    jobs.iter()
        .map(|job| JobView {
            name: job.job_name.clone(),
            app: job.app.clone(),
            relation: job.relation.to_string(),
            scheme: job
                .settings
                .get("scheme")
                .and_then(|v| v.as_str())
                .unwrap_or("http")
                .to_owned(),
            path_prefix: job
                .settings
                .get("profiling_config")
                .and_then(|p| p.get("path_prefix"))
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_owned(),
            groups: job
                .static_configs
                .iter()
                .zip(job.label_sets(text))
                .map(|(sc, labels)| TargetGroup {
                    targets: sc.targets.clone(),
                    labels,
                    unit: sc.unit.as_deref().map(str::to_owned),
                    owner: None,
                })
                .collect(),
        })
        .collect()
}

/// The service's view of this plan.
fn snapshot(
    observed: &Observed,
    config: &CharmConfig,
    status: &(StatusKind, String),
    jobs: &[ScrapeJob],
    rejections: &[Rejection],
    store: &StoreSource,
    parca_yaml: String,
) -> BrokerSnapshot {
    let jobs = job_views(jobs);
    let dropped = rejections
        .iter()
        .map(|r| DroppedView {
            scope: r.scope.as_str().to_owned(),
            kind: r.kind.as_str().to_owned(),
            relation: r.relation.to_string(),
            app: r.app.clone(),
            key: r.key.clone(),
            reason: r.reason.clone(),
            message: r.to_string(),
        })
        .collect();
    let store_view = match store {
        StoreSource::Relation {
            relation,
            app,
            store,
        } => store_view(store, format!("relation {relation} ({app})")),
        StoreSource::Config { store } => store_view(store, "config store-address".into()),
        StoreSource::Waiting { relation, app } => StoreView {
            source: format!("relation {relation} ({app}), no data yet"),
            ..Default::default()
        },
        StoreSource::None => StoreView {
            source: "none".into(),
            ..Default::default()
        },
    };
    let mut relations: Vec<RelationView> = observed
        .scrape
        .iter()
        .chain(observed.upstream.iter())
        .map(|r| RelationView {
            relation: r.id.to_string(),
            app: r.remote_app.clone(),
            units: r.units.keys().cloned().collect(),
        })
        .chain(
            observed
                .agents
                .iter()
                .chain(observed.self_profiling.iter())
                .map(|r| RelationView {
                    relation: r.id.to_string(),
                    app: r.remote_app.clone(),
                    units: Vec::new(),
                }),
        )
        .collect();
    relations.sort_by(|a, b| a.relation.cmp(&b.relation));
    BrokerSnapshot {
        unit: observed.ctx.unit.clone(),
        model: observed.ctx.model.clone(),
        status: StatusView {
            status: status.0.as_str().to_owned(),
            message: status.1.clone(),
        },
        jobs,
        dropped,
        store: store_view,
        relations,
        config_file: config.config_file.clone(),
        parca_yaml,
        discovery: match config.discovery {
            TargetDiscovery::Static => "static".into(),
            TargetDiscovery::HttpSd => "http-sd".into(),
        },
        parca: Default::default(),
        shard: Default::default(),
        cos: Default::default(),
        ignored: Vec::new(),
    }
}

fn store_view(store: &StoreProvider, source: String) -> StoreView {
    StoreView {
        source,
        address: store.address(None, "", FixSet::ALL).unwrap_or_default(),
        insecure: store.insecure.wire_value(),
        token: if store.token.is_empty() {
            "(none)".into()
        } else {
            "<redacted>".into()
        },
    }
}

/// The base config: the `base-config-file` if set and valid (else reported and left out), with
/// the `object-storage` option winning over its object storage.
fn base_config(
    observed: &Observed,
    config: &CharmConfig,
    problems: &mut Vec<String>,
) -> ParcaConfig {
    let mut base = ParcaConfig {
        object_storage: ObjectStorage::default(),
        scrape_configs: Vec::new(),
    };
    let path = &config.base_config_file;
    if !path.is_empty() {
        match observed.file(path).map(String::from_utf8_lossy) {
            None => problems.push(format!("config base-config-file: {path} cannot be read")),
            Some(text) => match check_yaml(&text) {
                Ok(loaded) => base = loaded,
                Err(found) => problems.extend(
                    found
                        .iter()
                        .map(|p| format!("config base-config-file: {path}: {p}")),
                ),
            },
        }
    }
    if let Some(storage) = &config.object_storage {
        base.object_storage = storage.clone();
    }
    base
}

/// The broker service's URL as Parca reaches it (the unit address when listening on all
/// interfaces).
fn service_url(config: &CharmConfig, unit_address: &str) -> String {
    match config.listen_address.parse::<std::net::SocketAddr>() {
        Ok(addr) if addr.ip().is_unspecified() => {
            let host = crate::model::Host::parse(unit_address)
                .map_or_else(|_| unit_address.to_owned(), |h| h.to_string());
            format!("http://{host}:{}", addr.port())
        }
        Ok(addr) => format!("http://{addr}"),
        Err(_) => format!("http://{}", config.listen_address),
    }
}

fn remote_app(relations: &[crate::model::RelationSnapshot], id: &RelationId) -> String {
    relations
        .iter()
        .find(|r| &r.id == id)
        .map(|r| r.remote_app.clone())
        .unwrap_or_default()
}

/// Adds the changes that make our bag on `relation` hold `desired` for the `managed` keys.
fn push_diff(
    writes: &mut Vec<RelationWrite>,
    relation: &LocalRelation,
    app: bool,
    desired: &Databag,
    managed: &[&str],
) {
    // Not read in this hook: nothing it depends on changed, so there is nothing to write.
    let Some(bags) = &relation.bags else {
        return;
    };
    let current = if app { &bags.app } else { &bags.unit };
    let changes: Databag = managed
        .iter()
        .filter_map(|key| {
            let want = desired.get(*key).map(String::as_str).unwrap_or("");
            let have = current.get(*key).map(String::as_str).unwrap_or("");
            (want != have).then(|| ((*key).to_owned(), want.to_owned()))
        })
        .collect();
    if !changes.is_empty() {
        writes.push(RelationWrite {
            relation: relation.id.clone(),
            app,
            changes,
        });
    }
}

fn self_profiling_app_bag(
    observed: &Observed,
    config: &CharmConfig,
    problems: &mut Vec<String>,
) -> Option<Databag> {
    let uuid = match ModelUuid::parse(&observed.ctx.model_uuid) {
        Ok(uuid) => uuid,
        Err(err) => {
            problems.push(format!("JUJU_MODEL_UUID: {err}"));
            return None;
        }
    };
    let topology = JujuTopology {
        model: observed.ctx.model.clone(),
        model_uuid: uuid,
        application: observed.ctx.app.clone(),
        unit: observed.ctx.unit.clone(),
        charm_name: "parca-broker".into(),
    };
    let job = json!({"job_name": SELF_JOB_NAME,
        "static_configs": [{"targets": [format!("*:{}", config.listen_port())]}]});
    // The job is a literal object, so the provider cannot refuse it.
    ScrapeProvider::new(&[job])
        .ok()
        .map(|p| p.app_databag(&topology))
}

/// Blocked (a human must act) > waiting (another app must act) > active. A message never hides
/// that something was dropped.
fn status(
    targets: usize,
    apps: usize,
    problems: &[String],
    rejections: &[Rejection],
    store: &StoreSource,
) -> (StatusKind, String) {
    let dropped = match rejections.len() {
        0 => String::new(),
        n => format!("; {n} dropped (see show-config)"),
    };
    let summary = format!("{targets} targets from {apps} apps");
    if let Some(problem) = problems.first() {
        let more = match problems.len() {
            1 => String::new(),
            n => format!(" (+{} more problems)", n - 1),
        };
        return (
            StatusKind::Blocked,
            format!("{problem}{more}; {summary}{dropped}"),
        );
    }
    if let Some(first) = rejections.first() {
        let more = match rejections.len() {
            1 => String::new(),
            n => format!(" (+{} more dropped, see show-config)", n - 1),
        };
        return (StatusKind::Blocked, format!("{first}{more}; {summary}"));
    }
    match store {
        StoreSource::None => (
            StatusKind::Blocked,
            format!(
                "no upstream store: relate external-parca-store-endpoint or set store-address; {summary}"
            ),
        ),
        StoreSource::Waiting { relation, app } => (
            StatusKind::Waiting,
            format!("waiting for store data from {app} ({relation}); {summary}"),
        ),
        StoreSource::Relation { .. } | StoreSource::Config { .. } => (StatusKind::Active, summary),
    }
}

#[derive(Serialize)]
struct TargetRow<'a> {
    target: &'a str,
    job: &'a str,
    app: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    unit: Option<&'a str>,
    labels: std::collections::BTreeMap<String, String>,
}

fn action_outcome(
    name: &str,
    config: &CharmConfig,
    jobs: &[ScrapeJob],
    rejections: &[Rejection],
    snapshot: &BrokerSnapshot,
) -> ActionOutcome {
    let (store, parca_yaml) = (&snapshot.store, snapshot.parca_yaml.as_str());
    let (cos, ignored) = (&snapshot.cos, snapshot.ignored.as_slice());
    let ok = |results: Vec<(&str, String)>| ActionOutcome {
        results: results
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
        failure: None,
    };
    match name {
        "list-targets" => {
            let rows: Vec<TargetRow<'_>> = jobs
                .iter()
                .flat_map(|job| {
                    job.targets().map(move |(target, sc)| TargetRow {
                        target,
                        job: &job.job_name,
                        app: &job.app,
                        unit: sc.unit.as_deref(),
                        labels: sc
                            .labels()
                            .iter()
                            .map(|(k, v)| {
                                (
                                    k.clone(),
                                    v.as_str().map_or_else(|| v.to_string(), str::to_owned),
                                )
                            })
                            .collect(),
                    })
                })
                .collect();
            let text = if rows.is_empty() {
                "[]".to_owned()
            } else {
                crate::render::yaml::to_string(&rows).unwrap_or_default()
            };
            ok(vec![("count", rows.len().to_string()), ("targets", text)])
        }
        "show-config" => {
            let dropped = if rejections.is_empty() {
                "none".to_owned()
            } else {
                rejections
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            ok(vec![
                ("path", config.config_file.clone()),
                ("config", parca_yaml.to_owned()),
                ("dropped", dropped),
                ("cos", cos_summary(cos)),
                (
                    "ignored",
                    if ignored.is_empty() {
                        "none".to_owned()
                    } else {
                        ignored.join("\n")
                    },
                ),
            ])
        }
        "show-store" => {
            // The same view the service shows: the published address, the token redacted.
            let fields = [
                ("source", &store.source),
                ("address", &store.address),
                ("insecure", &store.insecure),
                ("token", &store.token),
            ];
            ok(fields
                .into_iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| (k, v.clone()))
                .collect())
        }
        other => ActionOutcome {
            results: Vec::new(),
            failure: Some(format!("unknown action {other:?}")),
        },
    }
}

/// The COS relations in a few lines (show-config).
fn cos_summary(cos: &super::snapshot::CosView) -> String {
    let mut lines = Vec::new();
    if !cos.metrics_endpoint.is_empty() {
        lines.push(format!(
            "metrics-endpoint: {}; scraped at {}; alert rule groups: {}",
            cos.metrics_endpoint.join(", "),
            cos.metrics_address,
            cos.alert_rule_groups.join(", ")
        ));
    }
    if !cos.grafana_dashboard.is_empty() {
        lines.push(format!(
            "grafana-dashboard: {}; dashboards: {}",
            cos.grafana_dashboard.join(", "),
            cos.dashboards.join(", ")
        ));
    }
    if lines.is_empty() {
        "none".to_owned()
    } else {
        lines.join("\n")
    }
}

/// A rendered parca.yaml too large to write: over [`limits::MAX_CONFIG_BYTES`], or (past
/// [`limits::VALIDATE_ABOVE_BYTES`]) refused by our own validator, whose YAML budget is what
/// `check-config` applies. Small files skip the extra parse: the renderer's checks suffice.
pub fn config_size_problem(yaml: &str) -> Option<String> {
    use crate::model::limits;
    if yaml.len() > limits::MAX_CONFIG_BYTES {
        return Some(format!(
            "{} bytes, over the limit of {} bytes (the previous file stays)",
            yaml.len(),
            limits::MAX_CONFIG_BYTES
        ));
    }
    if yaml.len() > limits::VALIDATE_ABOVE_BYTES
        && let Err(problems) = check_yaml(yaml)
    {
        let first = problems
            .first()
            .map(ToString::to_string)
            .unwrap_or_default();
        return Some(format!(
            "{} bytes that check-config refuses ({first}); the previous file stays",
            yaml.len()
        ));
    }
    None
}
