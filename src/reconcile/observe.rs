//! Observe: the reads through the hook tools and the files we own → [`Observed`]. No writes
//! here. A relation being broken is left out, as Juju's `relation-ids` does.
//!
//! Which reads a hook makes is decided here, and only here (issue 9):
//!
//! * **Full read** (every relation, every remote unit, our own bags, `network-get`) on
//!   `install`, `start`, `config-changed`, `upgrade-charm`, `leader-elected`; when the
//!   [`cache`](super::cache) is missing, unreadable, of another schema, build or unit; when it
//!   disagrees with `relation-ids`/`relation-list` as read now; and on `update-status` when the
//!   last full read is older than [`MAX_AGE_SECONDS`](super::cache::MAX_AGE_SECONDS).
//! * **Incremental** otherwise. A `profiling-endpoint` hook reads that endpoint's
//!   `relation-ids`, the relation's `relation-list`, the remote unit's bag (joined/changed) and
//!   the remote app bag; every other relation comes from the cache. An upstream-store hook reads
//!   the store relations and our bags toward the agents (the relay may change). An agents or
//!   self-profiling hook reads that endpoint's relations and our bags there. Every other hook
//!   (`update-status`, `leader-settings-changed`, `stop`, actions, …) reads only the four
//!   endpoints' `relation-ids`, as a consistency check. Our own bags are read only where the hook
//!   may need to write them; elsewhere they are `None` and plan writes nothing there, and
//!   `is-leader` is asked only by those reads (nothing else depends on leadership).
//! * Every hook but `install`, `stop`, `remove` and actions also asks `systemctl is-active`
//!   once the service unit is installed, so a service that died is restarted by the next hook.

use super::cache::{CacheMiss, RemoteCache, RemoteEnd};
use super::{AGENTS, DASHBOARDS, METRICS, PEERS, PROFILING, SELF_PROFILING, UPSTREAM, files};
use crate::interfaces::RelationEvent;
use crate::interfaces::parca_store::{Token, wire as store_wire};
use crate::juju::{Dispatch, Event, JujuContext, ToolError, Tools};
use crate::model::{Databag, RelationId, RelationSnapshot};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Our own bags on a relation where we write, as read in this hook.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OwnBags {
    /// Our app bag (read only as leader; empty otherwise).
    pub app: Databag,
    /// Our unit bag.
    pub unit: Databag,
}

/// A relation where we are the writer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LocalRelation {
    /// The relation.
    pub id: RelationId,
    /// The remote application.
    pub remote_app: String,
    /// Our bags as read in this hook; `None` when this hook has no reason to write them (nothing
    /// they depend on can have changed), so they were not read and plan writes nothing here.
    pub bags: Option<OwnBags>,
}

/// How much this hook read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReadScope {
    /// `Some(why)` for a full read; `None` for an incremental one.
    pub full_reason: Option<String>,
    /// When the cache this hook found was last fully refreshed (`None`: no usable cache).
    pub previous_full_read_at: Option<u64>,
}

/// The peer relation: the other broker units and what they publish.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Peers {
    /// The relation.
    pub id: RelationId,
    /// The other units (`relation-list`) → their unit bags.
    pub members: BTreeMap<String, Databag>,
    /// Our own unit bag there, when read in this hook (`None`: nothing to write).
    #[serde(skip)]
    pub own: Option<Databag>,
}

/// Where Prometheus reaches this unit over metrics-endpoint (read only while it is related).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MetricsAddress {
    /// `network-get metrics-endpoint -r <id>`: the bind address (`Err`: why it failed).
    pub bind: Result<String, String>,
    /// The host's FQDN (Python's `socket.getfqdn()`).
    pub fqdn: String,
}

/// Whether a binary can be run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryState {
    /// A regular file with an execute bit.
    Executable,
    /// A regular file without one.
    NotExecutable,
    /// Nothing there.
    Missing,
    /// Something else (a directory, …).
    NotAFile,
}

impl BinaryState {
    /// For a status message: `<path> <describe()>`.
    pub fn describe(self) -> &'static str {
        match self {
            BinaryState::Executable => "is executable",
            BinaryState::NotExecutable => "is not executable",
            BinaryState::Missing => "does not exist",
            BinaryState::NotAFile => "is not a regular file",
        }
    }

    fn of(path: &Path) -> BinaryState {
        use std::os::unix::fs::PermissionsExt;
        match std::fs::metadata(path) {
            Err(_) => BinaryState::Missing,
            Ok(m) if !m.is_file() => BinaryState::NotAFile,
            Ok(m) if m.permissions().mode() & 0o111 == 0 => BinaryState::NotExecutable,
            Ok(_) => BinaryState::Executable,
        }
    }
}

/// What the hook knows of the managed Parca.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ParcaObserved {
    /// `resource-get parca`: the file or Juju's reason there is none. Asked on full reads (a
    /// new resource fires `upgrade-charm`, a full read), cached in between.
    pub resource: Option<Result<String, String>>,
    /// The chosen binary's state (`None`: no binary chosen). A binary is run from where it is
    /// (not under the root prefix).
    pub binary_state: Option<BinaryState>,
    /// `systemctl is-active parca.service`, when its unit file is installed.
    pub active: Option<bool>,
    /// Parca's own metrics and targets, when it is active (or why they could not be read).
    pub view: Option<Result<crate::parca::ParcaView, String>>,
    /// parca.yaml's modification time (Unix seconds).
    pub config_written_unix: Option<f64>,
    /// What it said when last read (from the cache), for hooks that do not read it.
    pub last_seen: Option<super::cache::ParcaSeen>,
}

/// Everything a hook knows, read once.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    /// The hook's context.
    pub ctx: JujuContext,
    /// `is-leader`, asked only in hooks that may write an app bag (where our own bags are
    /// read); `false` elsewhere, where nothing depends on it.
    pub leader: bool,
    /// `config-get`.
    pub config: Map<String, Value>,
    /// profiling-endpoint: the providers' data.
    pub scrape: Vec<RelationSnapshot>,
    /// external-parca-store-endpoint: the upstream store's app bag.
    pub upstream: Vec<RelationSnapshot>,
    /// parca-store-endpoint: our bags toward the agents.
    pub agents: Vec<LocalRelation>,
    /// The bearer token of each upstream relation whose store gives it as a Juju secret
    /// (`remote-store-bearer-token-secret`), or why the secret could not be read.
    pub upstream_tokens: BTreeMap<RelationId, Result<Token, String>>,
    /// Our token secret toward the agents (`store-token-relay` secret or both; leader, in hooks
    /// that read the agents' bags): its URI and token, `Ok(None)` if not made yet.
    pub token_secret: Option<Result<Option<(String, Token)>, String>>,
    /// self-profiling-endpoint: our bags toward another Parca.
    pub self_profiling: Vec<LocalRelation>,
    /// metrics-endpoint: our bags toward Prometheus (COS).
    pub metrics_endpoint: Vec<LocalRelation>,
    /// grafana-dashboard: our bags toward Grafana (COS).
    pub grafana_dashboard: Vec<LocalRelation>,
    /// Our address on metrics-endpoint, while it is related.
    pub metrics_address: Option<MetricsAddress>,
    /// Our address on self-profiling-endpoint (ingress, else bind address).
    pub network_address: Option<String>,
    /// Why `network-get` failed in this hook, if it did (the address then falls back).
    pub network_error: Option<String>,
    /// The peer relation (`None` before Juju has created it).
    pub peers: Option<Peers>,
    /// This machine's host name, the last-resort address.
    pub hostname: String,
    /// Current content of the managed files a hook reads, by logical path (absent: `None`).
    pub files: Vec<(String, Option<Vec<u8>>)>,
    /// The managed files a hook only ever writes whole (parca.yaml, the state file, and the
    /// cache once decoded): their digest, not their text, so a hook at K = 1,000 does not hold
    /// ~1 MB of old files only to compare them (issue 9, P5). Absent: `None`.
    pub digests: Vec<(String, Option<files::FileDigest>)>,
    /// Action parameters, when an action runs.
    pub action_params: Option<Map<String, Value>>,
    /// `systemctl is-active parca-broker.service`, when the unit file is installed (`None`: not
    /// installed, not asked in this hook, or systemctl unavailable).
    pub service_active: Option<bool>,
    /// The managed Parca (plan/workload.rs).
    pub parca: ParcaObserved,
    /// Full or incremental read.
    pub read: ReadScope,
    /// Unix time at the start of the hook (for the cache's age only; nothing rendered uses it).
    pub now_unix: u64,
}

impl Observed {
    /// Current content of a managed file that the hook reads (see [`Observed::files`]).
    pub fn file(&self, path: &str) -> Option<&[u8]> {
        content_of(&self.files, path)
    }

    /// Would writing `content` to `path` change it (or create it)? By digest for the files kept
    /// as one, else by content.
    pub fn file_differs(&self, path: &str, content: &[u8]) -> bool {
        match self.digests.iter().find(|(p, _)| p == path) {
            Some((_, digest)) => !digest.is_some_and(|d| d.matches(content)),
            None => self.file(path) != Some(content),
        }
    }
}

/// The label of the Juju secret that holds the token relayed to the agents.
pub const TOKEN_SECRET_LABEL: &str = "parca-broker-store-token";

/// Reads the token secret of every upstream store that gives one. After `secret-changed` the
/// latest revision is read (`--refresh`); otherwise the tracked one. A failure (not granted,
/// removed) is kept as the reason, reported by the relay; it does not fail the hook.
fn read_upstream_tokens(
    tools: &Tools<'_>,
    ctx: &JujuContext,
    upstream: &[RelationSnapshot],
) -> BTreeMap<RelationId, Result<Token, String>> {
    let refresh = matches!(ctx.dispatch, Dispatch::Hook(Event::SecretChanged));
    upstream
        .iter()
        .filter_map(|relation| {
            let uri = relation
                .app
                .get(store_wire::BEARER_TOKEN_SECRET)
                .filter(|uri| !uri.is_empty())?;
            let token = match tools.secret_get(uri, refresh) {
                Ok(content) => content
                    .get(store_wire::SECRET_TOKEN_KEY)
                    .map(|token| Token::new(token.clone()))
                    .ok_or_else(|| {
                        format!("secret {uri} has no key {:?}", store_wire::SECRET_TOKEN_KEY)
                    }),
                Err(err) => Err(format!("cannot read secret {uri}: {}", tool_message(&err))),
            };
            Some((relation.id.clone(), token))
        })
        .collect()
}

/// A tool error's message without the argv (which may be long).
fn tool_message(err: &ToolError) -> String {
    match err {
        ToolError::Failed { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// A file's content in a list of read files.
fn content_of<'a>(files: &'a [(String, Option<Vec<u8>>)], path: &str) -> Option<&'a [u8]> {
    files
        .iter()
        .find(|(p, _)| p == path)
        .and_then(|(_, content)| content.as_deref())
}

/// The relation data a hook works from.
struct Relations {
    scrape: Vec<RelationSnapshot>,
    upstream: Vec<RelationSnapshot>,
    agents: Vec<LocalRelation>,
    self_profiling: Vec<LocalRelation>,
    metrics_endpoint: Vec<LocalRelation>,
    grafana_dashboard: Vec<LocalRelation>,
    metrics_address: Option<MetricsAddress>,
    network_address: Option<String>,
    network_error: Option<String>,
    peers: Option<Peers>,
}

/// Reads what this hook needs. `root` prefixes every file path (`/` under Juju).
pub fn observe(
    ctx: JujuContext,
    tools: Tools<'_>,
    root: &Path,
    hostname: String,
    now_unix: u64,
) -> Result<Observed, ToolError> {
    let mut config = tools.config_get()?;
    if let Some(loopback) = &ctx.machine_loopback {
        on_machine_loopback(&mut config, loopback);
    }
    let action_params = match &ctx.dispatch {
        Dispatch::Action(_) => Some(tools.action_get()?),
        Dispatch::Hook(_) => None,
    };
    let (charm_config, _) = super::config::CharmConfig::decode(&config);
    let files: Vec<(String, Option<Vec<u8>>)> = [
        files::SYSTEMD_UNIT.to_owned(),
        files::PARCA_UNIT.to_owned(),
        charm_config.base_config_file.clone(),
        files::SCRAPER_ARGS.to_owned(),
        files::AGENT_ARGS.to_owned(),
        files::STORE_TOKEN.to_owned(),
    ]
    .into_iter()
    .filter(|path| !path.is_empty())
    .map(|path| {
        let content = files::read(root, &path);
        (path, content)
    })
    .collect();
    // The cache is read whole once, to decode it; only its digest is kept.
    let cache_content = files::read(root, files::CACHE_FILE);
    let cache = RemoteCache::load(cache_content.as_deref(), &ctx.unit);
    let mut digests = vec![(
        files::CACHE_FILE.to_owned(),
        cache_content.as_deref().map(files::FileDigest::of),
    )];
    drop(cache_content);
    digests.extend(
        [
            charm_config.config_file.clone(),
            files::STATE_FILE.to_owned(),
        ]
        .into_iter()
        // A parca.yaml that is also the base config is read whole, as the base config.
        .filter(|path| !path.is_empty() && !files.iter().any(|(read, _)| read == path))
        .map(|path| {
            let digest = files::digest(root, &path);
            (path, digest)
        }),
    );
    // Is the service still running? Asked on every hook once it is installed, so a crashed
    // service is restarted by the next hook instead of being reported once and forgotten.
    let installed = content_of(&files, files::SYSTEMD_UNIT).is_some();
    let asks = !matches!(
        &ctx.dispatch,
        Dispatch::Hook(Event::Install | Event::Stop | Event::Remove) | Dispatch::Action(_)
    );
    let service_active = (installed && asks)
        .then(|| tools.service_active(super::plan::SERVICE_UNIT).ok())
        .flatten();
    let previous_full_read_at = cache.as_ref().ok().map(|c| c.full_read_at);
    let cached_resource = cache.as_ref().ok().and_then(|c| c.parca_resource.clone());
    let last_seen = cache.as_ref().ok().and_then(|c| c.parca_seen.clone());
    let reader = Reader {
        tools,
        ctx: &ctx,
        hostname: &hostname,
        root,
        leader: std::cell::Cell::new(None),
    };
    let reason = full_read_reason(&ctx.dispatch, &cache, now_unix);
    let (relations, full_reason) = match (reason, cache) {
        (Some(reason), _) => (reader.read_all()?, Some(reason)),
        (None, Ok(cache)) => match reader.read_incremental(cache)? {
            Ok(relations) => (relations, None),
            Err(inconsistency) => (reader.read_all()?, Some(inconsistency)),
        },
        // full_read_reason gives a reason for every unusable cache; kept total all the same.
        (None, Err(miss)) => (reader.read_all()?, Some(miss.to_string())),
    };
    let leader = reader.leader.get().unwrap_or(false);
    let upstream_tokens = read_upstream_tokens(&tools, &ctx, &relations.upstream);
    let token_secret = (leader
        && charm_config.token_relay.secret()
        && !relations.agents.is_empty())
    .then(|| match tools.own_secret(TOKEN_SECRET_LABEL) {
        Ok(found) => Ok(found.map(|(uri, content)| {
            let token = content
                .get(store_wire::SECRET_TOKEN_KEY)
                .cloned()
                .unwrap_or_default();
            (uri, Token::new(token))
        })),
        Err(err) => Err(err.to_string()),
    });
    let resource = match (&full_reason, cached_resource) {
        (None, Some(cached)) => Some(cached),
        _ => Some(tools.resource_get(super::plan::PARCA_RESOURCE)?),
    };
    // Parca's targets list grows with the fleet: read it on update-status and full reads only.
    let read_parca = asks
        && (full_reason.is_some() || matches!(ctx.dispatch, Dispatch::Hook(Event::UpdateStatus)));
    let mut parca = observe_parca(
        tools,
        root,
        &files,
        &charm_config,
        resource,
        asks,
        read_parca,
    );
    parca.last_seen = last_seen;
    Ok(Observed {
        ctx,
        leader,
        config,
        scrape: relations.scrape,
        upstream: relations.upstream,
        agents: relations.agents,
        upstream_tokens,
        token_secret,
        self_profiling: relations.self_profiling,
        metrics_endpoint: relations.metrics_endpoint,
        grafana_dashboard: relations.grafana_dashboard,
        metrics_address: relations.metrics_address,
        network_address: relations.network_address,
        network_error: relations.network_error,
        peers: relations.peers,
        hostname,
        files,
        digests,
        action_params,
        service_active,
        parca,
        read: ReadScope {
            full_reason,
            previous_full_read_at,
        },
        now_unix,
    })
}

/// The managed Parca: its binary, whether it runs, and (running) what it says about itself.
fn observe_parca(
    tools: Tools<'_>,
    root: &Path,
    files: &[(String, Option<Vec<u8>>)],
    config: &super::config::CharmConfig,
    resource: Option<Result<String, String>>,
    asks: bool,
    read_view: bool,
) -> ParcaObserved {
    let chosen = super::plan::parca_binary(config, resource.as_ref());
    let installed = content_of(files, files::PARCA_UNIT).is_some();
    let active = (installed && asks)
        .then(|| tools.service_active(super::plan::PARCA_SERVICE).ok())
        .flatten();
    // Loopback, one second per request: a Parca that hangs costs a hook two seconds, never more.
    let view = (active == Some(true) && read_view).then(|| {
        crate::parca::api::read_view(
            &config.parca_listen_address,
            std::time::Duration::from_secs(1),
        )
    });
    ParcaObserved {
        binary_state: chosen.map(|b| BinaryState::of(Path::new(b.path()))),
        resource,
        active,
        view,
        config_written_unix: files::modified_unix(root, &config.config_file),
        last_seen: None,
    }
}

/// Why this hook must read everything, or `None` if the cache may serve it.
fn full_read_reason(
    dispatch: &Dispatch,
    cache: &Result<RemoteCache, CacheMiss>,
    now_unix: u64,
) -> Option<String> {
    let cache = match cache {
        Ok(cache) => cache,
        Err(miss) => return Some(miss.to_string()),
    };
    match dispatch {
        Dispatch::Hook(
            event @ (Event::Install
            | Event::Start
            | Event::ConfigChanged
            | Event::UpgradeCharm
            | Event::LeaderElected
            // A rotated store token is relayed to every agent: rare, so simply a full read.
            | Event::SecretChanged),
        ) => Some(Dispatch::Hook(event.clone()).to_string()),
        Dispatch::Hook(Event::UpdateStatus) if cache.is_stale(now_unix) => Some(format!(
            "last full read over {} s ago",
            super::cache::MAX_AGE_SECONDS
        )),
        _ => None,
    }
}

struct Reader<'a> {
    tools: Tools<'a>,
    ctx: &'a JujuContext,
    hostname: &'a str,
    root: &'a Path,
    /// `is-leader`, once asked.
    leader: std::cell::Cell<Option<bool>>,
}

impl Reader<'_> {
    /// `is-leader`, asked at most once per hook, and only by a read of our own bags.
    fn leader(&self) -> Result<bool, ToolError> {
        if let Some(leader) = self.leader.get() {
            return Ok(leader);
        }
        let leader = self.tools.is_leader()?;
        self.leader.set(Some(leader));
        Ok(leader)
    }

    /// The relation broken in this hook, which counts as gone.
    fn broken(&self) -> Option<&RelationId> {
        match &self.ctx.dispatch {
            Dispatch::Hook(event) => event.broken_relation(),
            Dispatch::Action(_) => None,
        }
    }

    /// `relation-ids` of an endpoint, without the relation being broken.
    fn live(&self, endpoint: &str) -> Result<Vec<RelationId>, ToolError> {
        let mut ids = self.tools.relation_ids(endpoint)?;
        ids.retain(|id| Some(id) != self.broken());
        Ok(ids)
    }

    /// A relation's remote application and its app bag (empty until it has one); `None` when
    /// Juju says the relation is gone (`permission denied`, `relation not found`): it is left
    /// out, as if broken. Any other failure fails the hook, and Juju retries it.
    fn remote(&self, id: &RelationId) -> Result<Option<(String, Databag)>, ToolError> {
        let Some(remote_app) = self.tools.relation_remote_app(id)? else {
            return Ok(None);
        };
        Ok(self
            .tools
            .remote_app_bag(id, &remote_app)?
            .map(|app| (remote_app, app)))
    }

    /// One profiling relation, every unit; `None` if it is gone. A unit whose bag Juju says is
    /// gone (leaving mid-hook) is left out, as if it had departed.
    fn scrape_relation(&self, id: RelationId) -> Result<Option<RelationSnapshot>, ToolError> {
        let Some((remote_app, app)) = self.remote(&id)? else {
            return Ok(None);
        };
        let mut units = BTreeMap::new();
        for unit in self.tools.relation_list(&id)? {
            if let Some(bag) = self.tools.remote_unit_bag(&id, &unit)? {
                units.insert(unit, bag);
            }
        }
        Ok(Some(RelationSnapshot {
            id,
            remote_app,
            app,
            units,
        }))
    }

    fn upstream(&self) -> Result<Vec<RelationSnapshot>, ToolError> {
        let mut relations = Vec::new();
        for id in self.live(UPSTREAM)? {
            if let Some((remote_app, app)) = self.remote(&id)? {
                relations.push(RelationSnapshot {
                    id,
                    remote_app,
                    app,
                    units: BTreeMap::new(),
                });
            }
        }
        Ok(relations)
    }

    /// The relations of an endpoint where we write, with our bags.
    fn local(&self, endpoint: &str) -> Result<Vec<LocalRelation>, ToolError> {
        self.live(endpoint)?
            .into_iter()
            .map(|id| {
                let remote_app = self.tools.relation_remote_app(&id)?.unwrap_or_default();
                // A non-leader may not read its own app bag (permission denied): leave it empty.
                let app = if self.leader()? {
                    self.tools.relation_get_app(&id, &self.ctx.app)?
                } else {
                    Databag::new()
                };
                let unit = self.tools.relation_get_unit(&id, &self.ctx.unit)?;
                Ok(LocalRelation {
                    id,
                    remote_app,
                    bags: Some(OwnBags { app, unit }),
                })
            })
            .collect()
    }

    /// Our address on the network (for self-profiling and http_sd URLs); the binding exists
    /// whether or not the endpoint is related.
    fn network_address(&self) -> (Option<String>, Option<String>) {
        // A failing network-get must not fail the hook: the address falls back to the
        // unit-address option, then the host name (plan), and the failure is reported.
        match self.tools.network_get(SELF_PROFILING, None) {
            Ok(info) => (info.ingress_address.or(info.bind_address), None),
            Err(err) => (None, Some(err.to_string())),
        }
    }

    /// Our bind address on metrics-endpoint and the FQDN, only while it is related (the
    /// provider library reads them per relation; one binding serves all of them).
    fn metrics_address(&self, relations: &[LocalRelation]) -> Option<MetricsAddress> {
        let first = relations.first()?;
        let bind = match self.tools.network_get(METRICS, Some(&first.id)) {
            Ok(info) => info
                .bind_address
                .or(info.ingress_address)
                .ok_or_else(|| "no address".to_owned()),
            Err(err) => Err(err.to_string()),
        };
        Some(MetricsAddress {
            bind,
            fqdn: fqdn(self.hostname, self.root),
        })
    }

    fn read_all(&self) -> Result<Relations, ToolError> {
        let (network_address, network_error) = self.network_address();
        let mut scrape = Vec::new();
        for id in self.live(PROFILING)? {
            scrape.extend(self.scrape_relation(id)?);
        }
        let metrics_endpoint = self.local(METRICS)?;
        Ok(Relations {
            scrape,
            upstream: self.upstream()?,
            agents: self.local(AGENTS)?,
            self_profiling: self.local(SELF_PROFILING)?,
            metrics_address: self.metrics_address(&metrics_endpoint),
            metrics_endpoint,
            grafana_dashboard: self.local(DASHBOARDS)?,
            network_address,
            network_error,
            peers: self.peers()?,
        })
    }

    /// The peer relation: membership, the others' bags, our own bag (to publish our address).
    fn peers(&self) -> Result<Option<Peers>, ToolError> {
        let Some(id) = self.live(PEERS)?.into_iter().next() else {
            return Ok(None);
        };
        let mut members = BTreeMap::new();
        for unit in self.tools.relation_list(&id)? {
            if let Some(bag) = self.tools.remote_unit_bag(&id, &unit)? {
                members.insert(unit, bag);
            }
        }
        let own = Some(self.tools.relation_get_unit(&id, &self.ctx.unit)?);
        Ok(Some(Peers { id, members, own }))
    }

    /// The cache updated with what this hook's event can have changed. `Ok(Err(why))` when the
    /// cache disagrees with what Juju says now: the caller reads everything.
    fn read_incremental(&self, cache: RemoteCache) -> Result<Result<Relations, String>, ToolError> {
        let cached_ends = |ends: &[RemoteEnd]| -> Vec<LocalRelation> {
            ends.iter()
                .map(|end| LocalRelation {
                    id: end.id.clone(),
                    remote_app: end.remote_app.clone(),
                    bags: None,
                })
                .collect()
        };
        let mut relations = Relations {
            agents: cached_ends(&cache.agents),
            self_profiling: cached_ends(&cache.self_profiling),
            metrics_endpoint: cached_ends(&cache.metrics_endpoint),
            grafana_dashboard: cached_ends(&cache.grafana_dashboard),
            metrics_address: cache.metrics_address,
            scrape: cache.scrape,
            upstream: cache.upstream,
            network_address: cache.network_address,
            network_error: None,
            peers: cache.peers,
        };
        let relation_event = match &self.ctx.dispatch {
            Dispatch::Hook(Event::Relation {
                relation,
                kind,
                remote_app,
                remote_unit,
                departing_unit,
            }) => Some((relation, *kind, remote_app, remote_unit, departing_unit)),
            _ => None,
        };
        let Some((relation, kind, remote_app, remote_unit, departing_unit)) = relation_event else {
            // Not a relation hook: check the cache against every endpoint's relation-ids.
            let checks: [(&str, Vec<&RelationId>); 7] = [
                (PROFILING, relations.scrape.iter().map(|r| &r.id).collect()),
                (UPSTREAM, relations.upstream.iter().map(|r| &r.id).collect()),
                (AGENTS, relations.agents.iter().map(|r| &r.id).collect()),
                (
                    SELF_PROFILING,
                    relations.self_profiling.iter().map(|r| &r.id).collect(),
                ),
                (PEERS, relations.peers.iter().map(|p| &p.id).collect()),
                (
                    METRICS,
                    relations.metrics_endpoint.iter().map(|r| &r.id).collect(),
                ),
                (
                    DASHBOARDS,
                    relations.grafana_dashboard.iter().map(|r| &r.id).collect(),
                ),
            ];
            for (endpoint, cached) in checks {
                if let Some(why) = self.ids_differ(endpoint, cached, None)? {
                    return Ok(Err(why));
                }
            }
            return Ok(Ok(relations));
        };
        match relation.endpoint.as_str() {
            PROFILING => {
                let cached = relations.scrape.iter().map(|r| &r.id).collect();
                let adding = (kind == RelationEvent::Created).then_some(relation);
                if let Some(why) = self.ids_differ(PROFILING, cached, adding)? {
                    return Ok(Err(why));
                }
                if kind == RelationEvent::Broken {
                    relations.scrape.retain(|r| &r.id != relation);
                    return Ok(Ok(relations));
                }
                // Relations are kept in id order, as relation-ids gives them.
                let position = match relations.scrape.binary_search_by(|r| r.id.cmp(relation)) {
                    Ok(position) => position,
                    Err(position) => {
                        relations.scrape.insert(
                            position,
                            RelationSnapshot {
                                id: relation.clone(),
                                ..Default::default()
                            },
                        );
                        position
                    }
                };
                if let Err(why) = self.update_scrape_relation(
                    &mut relations.scrape[position],
                    kind,
                    remote_app,
                    remote_unit.as_deref(),
                    departing_unit.as_deref(),
                )? {
                    return Ok(Err(why));
                }
            }
            // A store change is relayed to the agents: read our bags there too.
            UPSTREAM => {
                relations.upstream = self.upstream()?;
                relations.agents = self.local(AGENTS)?;
            }
            AGENTS => relations.agents = self.local(AGENTS)?,
            SELF_PROFILING => {
                relations.self_profiling = self.local(SELF_PROFILING)?;
                (relations.network_address, relations.network_error) = self.network_address();
            }
            // Membership (or a peer's data) changed: read the peer relation again.
            PEERS => relations.peers = self.peers()?,
            METRICS => {
                relations.metrics_endpoint = self.local(METRICS)?;
                relations.metrics_address = self.metrics_address(&relations.metrics_endpoint);
            }
            DASHBOARDS => relations.grafana_dashboard = self.local(DASHBOARDS)?,
            other => return Ok(Err(format!("a hook of unknown endpoint {other}"))),
        }
        // Every other endpoint's relations stay as cached: a relation created or broken there
        // runs its own hook, which reads that endpoint.
        Ok(Ok(relations))
    }

    /// `Some(why)` when `relation-ids` of `endpoint` (without a broken relation) is not the
    /// cached set plus `adding`.
    fn ids_differ(
        &self,
        endpoint: &str,
        cached: Vec<&RelationId>,
        adding: Option<&RelationId>,
    ) -> Result<Option<String>, ToolError> {
        let now: BTreeSet<RelationId> = self.live(endpoint)?.into_iter().collect();
        let mut expected: BTreeSet<RelationId> = cached.into_iter().cloned().collect();
        expected.extend(adding.cloned());
        if let Some(broken) = self.broken() {
            expected.remove(broken);
        }
        Ok((now != expected).then(|| format!("relation-ids of {endpoint} differ from the cache")))
    }

    /// Brings one cached profiling relation up to date for a relation event on it: membership,
    /// the remote unit's bag and the app bag. `Ok(Err(why))` when the cache disagrees.
    fn update_scrape_relation(
        &self,
        entry: &mut RelationSnapshot,
        kind: RelationEvent,
        remote_app: &str,
        remote_unit: Option<&str>,
        departing_unit: Option<&str>,
    ) -> Result<Result<(), String>, ToolError> {
        if !remote_app.is_empty() && remote_app != entry.remote_app {
            if !entry.remote_app.is_empty() {
                return Ok(Err(format!(
                    "{}: remote app {remote_app}, cached {}",
                    entry.id, entry.remote_app
                )));
            }
            entry.remote_app = remote_app.to_owned();
        }
        let members: BTreeSet<String> = self.tools.relation_list(&entry.id)?.into_iter().collect();
        let mut expected: BTreeSet<String> = entry.units.keys().cloned().collect();
        match kind {
            RelationEvent::Joined => expected.extend(remote_unit.map(str::to_owned)),
            RelationEvent::Departed => {
                if let Some(gone) = departing_unit.or(remote_unit) {
                    expected.remove(gone);
                    entry.units.remove(gone);
                }
            }
            RelationEvent::Created | RelationEvent::Changed | RelationEvent::Broken => {}
        }
        if members != expected {
            return Ok(Err(format!(
                "{}: relation-list differs from the cache",
                entry.id
            )));
        }
        if let (RelationEvent::Joined | RelationEvent::Changed, Some(unit)) = (kind, remote_unit) {
            match self.tools.remote_unit_bag(&entry.id, unit)? {
                Some(bag) => entry.units.insert(unit.to_owned(), bag),
                // Leaving mid-hook: left out, like a departed unit.
                None => entry.units.remove(unit),
            };
        }
        if entry.remote_app.is_empty() {
            return Ok(Err(format!("{}: no remote application", entry.id)));
        }
        match self.tools.remote_app_bag(&entry.id, &entry.remote_app)? {
            Some(app) => entry.app = app,
            // The relation went away under us: a full read leaves it out.
            None => return Ok(Err(format!("{}: relation gone while reading", entry.id))),
        }
        Ok(Ok(()))
    }
}

/// Python's `socket.getfqdn()` as far as a charm needs it: the host name if it has a dot,
/// else the first name with a dot on an `/etc/hosts` line that names the host (where Juju
/// machines keep their FQDN), else the host name. `/etc/hosts` is read under `root`.
fn fqdn(hostname: &str, root: &Path) -> String {
    if hostname.contains('.') {
        return hostname.to_owned();
    }
    let hosts = std::fs::read_to_string(root.join("etc/hosts")).unwrap_or_default();
    hosts
        .lines()
        .map(|line| line.split('#').next().unwrap_or(""))
        .filter_map(|line| {
            let names: Vec<&str> = line.split_whitespace().skip(1).collect();
            names
                .contains(&hostname)
                .then(|| names.into_iter().find(|n| n.contains('.')))
                .flatten()
        })
        .next()
        .map_or_else(|| hostname.to_owned(), str::to_owned)
}

/// Under the simulator with one loopback address per unit (`PARCA_BROKER_LOOPBACK`), the
/// listen addresses on `127.0.0.1` mean that unit's loopback address: two units on one host
/// then bind their own, as on two machines.
fn on_machine_loopback(config: &mut Map<String, Value>, loopback: &str) {
    for key in ["listen-address", "parca-listen-address"] {
        if let Some(Value::String(address)) = config.get_mut(key)
            && let Some(port) = address.strip_prefix("127.0.0.1:")
        {
            *address = format!("{loopback}:{port}");
        }
    }
}
