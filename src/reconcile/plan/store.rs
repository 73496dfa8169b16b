//! The store relay: which upstream store the agents get (the external-parca-store-endpoint
//! relation, else the `store-*` options), as our app bag toward every agent and as flag files
//! for a local Parca scraper and parca-agent. What would be relayed is checked first: a store's
//! databag is written by another application. Pure.

use super::{RelationWrite, push_diff, remote_app};
use crate::fixes::FixSet;
use crate::interfaces::parca_store::{Insecure, StoreProvider, requirer, wire as store_wire};
use crate::model::{Databag, RelationId};
use crate::reconcile::config::CharmConfig;
use crate::reconcile::files::{AGENT_ARGS, SCRAPER_ARGS, STORE_TOKEN};
use crate::reconcile::observe::Observed;
use crate::render::flags::{agent_flags, parca_scraper_flags};

/// Where the agents' store comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSource {
    /// Nothing configured or related.
    None,
    /// Related, but the store has not published an address yet.
    Waiting {
        /// The relation.
        relation: RelationId,
        /// The store application.
        app: String,
    },
    /// From the upstream relation.
    Relation {
        /// The relation.
        relation: RelationId,
        /// The store application.
        app: String,
        /// What is relayed.
        store: StoreProvider,
    },
    /// From the charm's `store-*` options.
    Config {
        /// What is relayed.
        store: StoreProvider,
    },
}

/// What the relay decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreRelay {
    /// Where the store comes from.
    pub source: StoreSource,
    /// Everything to report, in order: relation conflicts, unusable settings, unsafe settings.
    pub problems: Vec<String>,
    /// The unsafe settings alone: when any, nothing is relayed or written.
    pub relay_problems: Vec<String>,
    /// The flag files and the token file: path, content, mode.
    pub files: Vec<(&'static str, Vec<u8>, u32)>,
    /// The managed Parca's store flags: empty without a store, `None` when the store was
    /// refused (then the running Parca is left as it is).
    pub scraper_flags: Option<Vec<String>>,
    /// Our app-bag changes toward the agents (leader only).
    pub writes: Vec<RelationWrite>,
}

/// Decides the relay for this hook.
pub fn relay(observed: &Observed, config: &CharmConfig, fixes: FixSet) -> StoreRelay {
    let mut problems = Vec::new();
    let selection = requirer::select(&observed.upstream, fixes).unwrap_or_default();
    problems.extend(selection.conflict.clone());
    let store = match selection.chosen {
        Some((relation, store)) if store.is_ready() => {
            let app = remote_app(&observed.upstream, &relation);
            StoreSource::Relation {
                relation,
                app,
                store: StoreProvider {
                    port: 0,
                    insecure: Insecure::Verbatim(store.insecure.clone()),
                    external_url: Some(store.address.clone()),
                    token: store.token.expose().to_owned(),
                },
            }
        }
        Some((relation, _)) => {
            let app = remote_app(&observed.upstream, &relation);
            StoreSource::Waiting { relation, app }
        }
        None if !config.store_address.is_empty() => StoreSource::Config {
            store: StoreProvider {
                port: 0,
                insecure: Insecure::Bool(config.store_insecure),
                external_url: Some(config.store_address.clone()),
                token: config.store_token.clone(),
            },
        },
        None => StoreSource::None,
    };
    let agent_bag = match &store {
        StoreSource::Relation { store, .. } | StoreSource::Config { store } => {
            match store.app_databag(true, &observed.ctx.unit, None, "", fixes) {
                Ok(bag) => bag.unwrap_or_default(),
                Err(err) => {
                    problems.push(err.to_string());
                    Databag::new()
                }
            }
        }
        StoreSource::None | StoreSource::Waiting { .. } => Databag::new(),
    };
    // The same store as flags for a local Parca scraper and for parca-agent; the token in a file.
    let published = crate::interfaces::parca_store::StoreConfig {
        address: agent_bag
            .get(store_wire::ADDRESS)
            .cloned()
            .unwrap_or_default(),
        token: crate::interfaces::parca_store::Token::new(
            agent_bag
                .get(store_wire::BEARER_TOKEN)
                .cloned()
                .unwrap_or_default(),
        ),
        insecure: agent_bag
            .get(store_wire::INSECURE)
            .cloned()
            .unwrap_or_default(),
    };
    // What would be relayed to every agent and written into the flag files is checked first:
    // a store's databag is written by another application (a newline in the address would add
    // a flag line). Unsafe settings are reported and nothing is relayed or written: agents and
    // the flag files keep the last good store.
    let mut relay_problems: Vec<String> = published
        .problems()
        .iter()
        .map(|p| format!("{} not relayed: {p}", store_origin(&store)))
        .collect();
    if let Some(problem) = plaintext_token(&published, config.allow_plaintext_token) {
        relay_problems.push(format!("{} not relayed: {problem}", store_origin(&store)));
    }
    let relay_ok = relay_problems.is_empty();
    problems.extend(relay_problems.iter().cloned());
    let mut files = Vec::new();
    let mut scraper_flags = None;
    match (
        parca_scraper_flags(&published, STORE_TOKEN),
        agent_flags(&published, STORE_TOKEN),
    ) {
        _ if !relay_ok => {}
        (Ok(scraper), Ok(agent)) => {
            let lines = |flags: Vec<String>| {
                flags
                    .iter()
                    .map(|f| format!("{f}\n"))
                    .collect::<String>()
                    .into_bytes()
            };
            files.push((SCRAPER_ARGS, lines(scraper.clone()), 0o644));
            scraper_flags = Some(scraper);
            files.push((AGENT_ARGS, lines(agent), 0o644));
            files.push((
                STORE_TOKEN,
                published.token.expose().as_bytes().to_vec(),
                0o600,
            ));
        }
        (Err(err), _) | (_, Err(err)) => problems.push(err.to_string()),
    }
    let mut writes = Vec::new();
    let store_keys = [
        store_wire::ADDRESS,
        store_wire::BEARER_TOKEN,
        store_wire::INSECURE,
    ];
    if observed.leader && relay_ok {
        for agent in &observed.agents {
            push_diff(&mut writes, agent, true, &agent_bag, &store_keys);
        }
    }

    StoreRelay {
        source: store,
        problems,
        relay_problems,
        files,
        scraper_flags,
        writes,
    }
}

/// A bearer token would travel in clear: a token, no TLS (`insecure`), and an address that is
/// not loopback. Refused unless the operator allows it (`allow-plaintext-token`).
fn plaintext_token(
    store: &crate::interfaces::parca_store::StoreConfig,
    allowed: bool,
) -> Option<String> {
    let token = !store.token.expose().is_empty();
    let insecure = store.insecure.trim().eq_ignore_ascii_case("true");
    if allowed || !token || !insecure || store.address.is_empty() {
        return None;
    }
    let host = match store.address.parse::<crate::model::HostPort>() {
        Ok(hostport) => hostport.host,
        Err(_) => return None, // an unusable address is reported by the address checks
    };
    let loopback = match &host {
        crate::model::Host::Ip(ip) => ip.is_loopback(),
        crate::model::Host::Name(name) => name.eq_ignore_ascii_case("localhost"),
    };
    (!loopback).then(|| {
        format!(
            "the bearer token would be sent without TLS to {} (remote-store-insecure / store-insecure); use TLS, or set allow-plaintext-token=true",
            store.address
        )
    })
}

/// Where the relayed store comes from, for messages.
fn store_origin(store: &StoreSource) -> String {
    match store {
        StoreSource::Relation { relation, app, .. } | StoreSource::Waiting { relation, app } => {
            format!("store from {app} ({relation})")
        }
        StoreSource::Config { .. } => "store from config store-address".to_owned(),
        StoreSource::None => "store".to_owned(),
    }
}
