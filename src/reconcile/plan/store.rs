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
    /// The Juju secret that carries the token to the agents (`store-token-relay`), when it
    /// must be made, given a new revision or granted (leader only).
    pub token_secret: Option<TokenSecret>,
}

/// Stands for the URI of a token secret that apply makes (`secret-add`) before the databag
/// writes, which then carry the real URI.
pub const PENDING_SECRET_URI: &str = "secret:<pending>";

/// What to do with the token secret toward the agents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSecret {
    /// Make it, or give it a new revision.
    pub change: Option<SecretChange>,
    /// Its URI ([`PENDING_SECRET_URI`] while it is being made).
    pub uri: String,
    /// Agent relations to grant it to (those whose databag gets its URI in this hook).
    pub grants: Vec<RelationId>,
}

/// A change to the token secret's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretChange {
    /// `secret-add --label <label>`.
    Create {
        /// The label.
        label: &'static str,
        /// The token.
        token: crate::interfaces::parca_store::Token,
    },
    /// `secret-set`: the token changed.
    Update {
        /// The token.
        token: crate::interfaces::parca_store::Token,
    },
}

/// Decides the relay for this hook.
pub fn relay(observed: &Observed, config: &CharmConfig, fixes: FixSet) -> StoreRelay {
    let mut problems = Vec::new();
    let selection = requirer::select(&observed.upstream, fixes).unwrap_or_default();
    problems.extend(selection.conflict.clone());
    // A store may give its token as a Juju secret (our extension; the legacy key is the
    // fallback): the secret wins, and a secret that cannot be read stops the relay.
    let mut secret_problem = None;
    let chosen = selection.chosen.map(|(relation, mut store)| {
        match observed.upstream_tokens.get(&relation) {
            Some(Ok(token)) => store.token = token.clone(),
            Some(Err(why)) => {
                secret_problem = Some(format!("{}: {why}", store_wire::BEARER_TOKEN_SECRET))
            }
            None => {}
        }
        (relation, store)
    });
    let store = match chosen {
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
    let mut agent_bag = match &store {
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
    if let Some(problem) = secret_problem {
        relay_problems.push(format!("{} not relayed: {problem}", store_origin(&store)));
    }
    // How the agents get the token: the legacy key, a Juju secret, or both.
    let token = agent_bag
        .get(store_wire::BEARER_TOKEN)
        .cloned()
        .unwrap_or_default();
    let mut token_secret = None;
    if config.token_relay.secret() && !token.is_empty() {
        match &observed.token_secret {
            Some(Ok(Some((uri, current)))) => {
                token_secret = Some(TokenSecret {
                    change: (current.expose() != token).then(|| SecretChange::Update {
                        token: crate::interfaces::parca_store::Token::new(token.clone()),
                    }),
                    uri: uri.clone(),
                    grants: Vec::new(),
                });
            }
            Some(Ok(None)) => {
                token_secret = Some(TokenSecret {
                    change: Some(SecretChange::Create {
                        label: crate::reconcile::observe::TOKEN_SECRET_LABEL,
                        token: crate::interfaces::parca_store::Token::new(token.clone()),
                    }),
                    uri: PENDING_SECRET_URI.to_owned(),
                    grants: Vec::new(),
                });
            }
            Some(Err(why)) => relay_problems.push(format!(
                "{} not relayed: the token secret {:?} cannot be read: {why}",
                store_origin(&store),
                crate::reconcile::observe::TOKEN_SECRET_LABEL
            )),
            // Not read in this hook: no agent bag is written either.
            None => {}
        }
    }
    if let Some(secret) = &token_secret {
        agent_bag.insert(
            store_wire::BEARER_TOKEN_SECRET.to_owned(),
            secret.uri.clone(),
        );
    }
    if !config.token_relay.plain() {
        agent_bag.remove(store_wire::BEARER_TOKEN);
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
        store_wire::BEARER_TOKEN_SECRET,
        store_wire::INSECURE,
    ];
    if observed.leader && relay_ok {
        for agent in &observed.agents {
            push_diff(&mut writes, agent, true, &agent_bag, &store_keys);
        }
    }
    // The secret is granted to each agent relation whose bag gets its URI now (a new relation,
    // or a new secret); a failed hook loses both the grant and the write, and redoes both.
    if let Some(secret) = &mut token_secret {
        secret.grants = writes
            .iter()
            .filter(|w| {
                w.changes
                    .get(store_wire::BEARER_TOKEN_SECRET)
                    .is_some_and(|uri| !uri.is_empty())
            })
            .map(|w| w.relation.clone())
            .collect();
    }
    let token_secret = token_secret
        .filter(|s| observed.leader && relay_ok && (s.change.is_some() || !s.grants.is_empty()));

    StoreRelay {
        source: store,
        problems,
        relay_problems,
        files,
        scraper_flags,
        writes,
        token_secret,
    }
}

/// A bearer token would travel in clear: a token, no TLS (`insecure`), and an address that is
/// not loopback. Refused unless the operator allows it (`allow-plaintext-token`).
fn plaintext_token(
    store: &crate::interfaces::parca_store::StoreConfig,
    allowed: bool,
) -> Option<String> {
    let token = !store.token.expose().is_empty();
    // As parca and parca-agent read the flag (Go's ParseBool: `1`, `t`, `TRUE`, … too).
    let insecure = store.insecure_bool() == Some(true);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interfaces::parca_store::{StoreConfig, Token};

    fn store(address: &str, insecure: &str) -> StoreConfig {
        StoreConfig {
            address: address.into(),
            token: Token::new("t0k3n"),
            insecure: insecure.into(),
        }
    }

    #[test]
    fn a_token_in_clear_off_the_machine_is_refused_whatever_spells_true() {
        for insecure in ["true", "True", "TRUE", "t", "T", "1"] {
            assert!(
                plaintext_token(&store("store.example:7070", insecure), false).is_some(),
                "{insecure}"
            );
        }
        assert!(plaintext_token(&store("store.example:7070", "true"), true).is_none());
        assert!(plaintext_token(&store("store.example:7070", "false"), false).is_none());
        for loopback in ["127.0.0.1:7070", "[::1]:7070", "localhost:7070"] {
            assert!(
                plaintext_token(&store(loopback, "true"), false).is_none(),
                "{loopback}"
            );
        }
        let mut no_token = store("store.example:7070", "true");
        no_token.token = Token::new("");
        assert!(plaintext_token(&no_token, false).is_none());
    }
}
