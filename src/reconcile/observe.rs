//! Observe: one pass of reads through the hook tools and the files we own → [`Observed`].
//! No writes here. A relation being broken is left out, as Juju's `relation-ids` does.

use super::{AGENTS, PROFILING, SELF_PROFILING, UPSTREAM, files};
use crate::juju::{Dispatch, JujuContext, ToolError, Tools};
use crate::model::{Databag, RelationId, RelationSnapshot};
use serde_json::{Map, Value};
use std::path::Path;

/// A relation where we are the writer: our own bags as they are now.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LocalRelation {
    /// The relation.
    pub id: RelationId,
    /// The remote application.
    pub remote_app: String,
    /// Our app bag (read only as leader; empty otherwise).
    pub app_bag: Databag,
    /// Our unit bag.
    pub unit_bag: Databag,
}

/// Everything a hook knows, read once.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    /// The hook's context.
    pub ctx: JujuContext,
    /// `is-leader`.
    pub leader: bool,
    /// `config-get`.
    pub config: Map<String, Value>,
    /// profiling-endpoint: the providers' data.
    pub scrape: Vec<RelationSnapshot>,
    /// external-parca-store-endpoint: the upstream store's app bag.
    pub upstream: Vec<RelationSnapshot>,
    /// parca-store-endpoint: our bags toward the agents.
    pub agents: Vec<LocalRelation>,
    /// self-profiling-endpoint: our bags toward another Parca.
    pub self_profiling: Vec<LocalRelation>,
    /// Our address on self-profiling-endpoint (ingress, else bind address).
    pub network_address: Option<String>,
    /// This machine's host name, the last-resort address.
    pub hostname: String,
    /// Current content of the files we manage, by logical path (absent: `None`).
    pub files: Vec<(String, Option<Vec<u8>>)>,
    /// Action parameters, when an action runs.
    pub action_params: Option<Map<String, Value>>,
}

impl Observed {
    /// Current content of a managed file.
    pub fn file(&self, path: &str) -> Option<&[u8]> {
        self.files
            .iter()
            .find(|(p, _)| p == path)
            .and_then(|(_, content)| content.as_deref())
    }
}

/// Reads everything. `root` prefixes every file path (`/` under Juju).
pub fn observe(
    ctx: JujuContext,
    tools: Tools<'_>,
    root: &Path,
    hostname: String,
) -> Result<Observed, ToolError> {
    let leader = tools.is_leader()?;
    let config = tools.config_get()?;
    let broken = match &ctx.dispatch {
        Dispatch::Hook(event) => event.broken_relation().cloned(),
        Dispatch::Action(_) => None,
    };
    let live = |endpoint: &str| -> Result<Vec<RelationId>, ToolError> {
        let mut ids = tools.relation_ids(endpoint)?;
        ids.retain(|id| Some(id) != broken.as_ref());
        Ok(ids)
    };

    // The remote application of a relation and its app bag (empty until it has one).
    let remote = |id: &RelationId| -> Result<(String, Databag), ToolError> {
        let remote_app = tools.relation_remote_app(id)?.unwrap_or_default();
        let app = if remote_app.is_empty() {
            Databag::new()
        } else {
            tools.relation_get_app(id, &remote_app)?
        };
        Ok((remote_app, app))
    };

    let mut scrape = Vec::new();
    for id in live(PROFILING)? {
        let (remote_app, app) = remote(&id)?;
        let mut units = std::collections::BTreeMap::new();
        for unit in tools.relation_list(&id)? {
            let bag = tools.relation_get_unit(&id, &unit)?;
            units.insert(unit, bag);
        }
        scrape.push(RelationSnapshot {
            id,
            remote_app,
            app,
            units,
        });
    }

    let mut upstream = Vec::new();
    for id in live(UPSTREAM)? {
        let (remote_app, app) = remote(&id)?;
        upstream.push(RelationSnapshot {
            id,
            remote_app,
            app,
            units: Default::default(),
        });
    }

    let local = |endpoint: &str| -> Result<Vec<LocalRelation>, ToolError> {
        live(endpoint)?
            .into_iter()
            .map(|id| {
                let remote_app = tools.relation_remote_app(&id)?.unwrap_or_default();
                // A non-leader may not read its own app bag (permission denied): leave it empty.
                let app_bag = if leader {
                    tools.relation_get_app(&id, &ctx.app)?
                } else {
                    Databag::new()
                };
                let unit_bag = tools.relation_get_unit(&id, &ctx.unit)?;
                Ok(LocalRelation {
                    id,
                    remote_app,
                    app_bag,
                    unit_bag,
                })
            })
            .collect()
    };
    let agents = local(AGENTS)?;
    let self_profiling = local(SELF_PROFILING)?;

    // Our address on the network (for self-profiling and http_sd URLs); the binding exists
    // whether or not the endpoint is related.
    let info = tools.network_get(SELF_PROFILING, None)?;
    let network_address = info.ingress_address.or(info.bind_address);
    let action_params = match &ctx.dispatch {
        Dispatch::Action(_) => Some(tools.action_get()?),
        Dispatch::Hook(_) => None,
    };
    let (charm_config, _) = super::config::CharmConfig::decode(&config);
    let files = [
        charm_config.config_file.clone(),
        files::SYSTEMD_UNIT.to_owned(),
        charm_config.base_config_file.clone(),
        files::SCRAPER_ARGS.to_owned(),
        files::AGENT_ARGS.to_owned(),
        files::STORE_TOKEN.to_owned(),
        files::STATE_FILE.to_owned(),
    ]
    .into_iter()
    .filter(|path| !path.is_empty())
    .map(|path| {
        let content = files::read(root, &path);
        (path, content)
    })
    .collect();
    Ok(Observed {
        ctx,
        leader,
        config,
        scrape,
        upstream,
        agents,
        self_profiling,
        network_address,
        hostname,
        files,
        action_params,
    })
}
