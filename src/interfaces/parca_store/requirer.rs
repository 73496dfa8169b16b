//! The `parca_store` requirer side: read where to push profiles from the store's app databag.
//!
//! Pure. [`select`] picks the store to use from all relations of the endpoint (F10: the Python
//! library raises `TooManyRelatedAppsError` on every hook once a second relation exists);
//! [`events_for`] tells an event-driven charm what the Python library would emit.

use super::wire;
use crate::fixes::{Fix, FixSet};
use crate::interfaces::RelationEvent;
use crate::model::{RelationId, RelationSnapshot};
use std::fmt;

/// A bearer token. Its `Debug` and `Display` never show the secret.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Token(String);

impl Token {
    /// Wraps a token.
    pub fn new(token: impl Into<String>) -> Self {
        Token(token.into())
    }

    /// The secret itself, for the one place that must write it (a 0600 file, a databag).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether there is no token.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "" } else { "<redacted>" })
    }
}

/// The store settings as the requirer reads them: the three keys, `""` where absent (the
/// Python library's `config`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoreConfig {
    /// `remote-store-address`.
    pub address: String,
    /// `remote-store-bearer-token`.
    pub token: Token,
    /// `remote-store-insecure`, verbatim.
    pub insecure: String,
}

impl StoreConfig {
    /// Reads a store's app databag; missing keys are `""`, extra keys are ignored.
    pub fn from_databag(relation: &RelationSnapshot) -> Self {
        let get = |key| relation.app.get(key).cloned().unwrap_or_default();
        StoreConfig {
            address: get(wire::ADDRESS),
            token: Token::new(get(wire::BEARER_TOKEN)),
            insecure: get(wire::INSECURE),
        }
    }

    /// Whether the store has published an address yet (until then there is nothing to use:
    /// the Python config is a truthy dict of empty strings, Q-S7).
    pub fn is_ready(&self) -> bool {
        !self.address.is_empty()
    }

    /// `insecure` as Go's `strconv.ParseBool` reads it (what parca and parca-agent do with the
    /// flag); `None` when it is empty or not a boolean there.
    pub fn insecure_bool(&self) -> Option<bool> {
        match self.insecure.as_str() {
            "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
            "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
            _ => None,
        }
    }
}

/// A store setting that must not be relayed to agents or written into a flag file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreProblem {
    /// The databag key (`remote-store-address`, …).
    pub key: &'static str,
    /// Why, quoting the value (escaped, shortened) except for the token.
    pub reason: String,
}

impl fmt::Display for StoreProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.reason)
    }
}

/// The longest token relayed (a bearer token is a few hundred bytes; this bounds a databag
/// written by another app).
pub const MAX_TOKEN_BYTES: usize = 8192;

impl StoreConfig {
    /// Everything that makes these settings unsafe to relay or to put on a command line: an
    /// address that is not `host:port` (a path, a scheme, no port, port 0, a bare IPv6 address,
    /// whitespace or control characters: a newline would add a flag line), an `insecure` Go's
    /// `strconv.ParseBool` would refuse, a token with control characters or over
    /// [`MAX_TOKEN_BYTES`]. Empty values are absent, not wrong.
    pub fn problems(&self) -> Vec<StoreProblem> {
        let mut problems = Vec::new();
        let shown = |value: &str| {
            let short: String = value.chars().take(64).collect();
            let more = if short.len() < value.len() { "…" } else { "" };
            format!("{short:?}{more}")
        };
        if !self.address.is_empty() {
            let reason = match self.address.parse::<crate::model::HostPort>() {
                // The parse error quotes the value.
                Err(err) => Some(format!("not host:port: {err}")),
                Ok(hp) if hp.port.is_none() => Some(format!(
                    "{} has no port (expected host:port)",
                    shown(&self.address)
                )),
                Ok(hp) if hp.port == Some(0) => {
                    Some(format!("{} has port 0", shown(&self.address)))
                }
                Ok(_) => None,
            };
            if let Some(reason) = reason {
                problems.push(StoreProblem {
                    key: wire::ADDRESS,
                    reason,
                });
            }
        }
        if !self.insecure.is_empty() && self.insecure_bool().is_none() {
            problems.push(StoreProblem {
                key: wire::INSECURE,
                reason: format!("{} is not a boolean (true/false)", shown(&self.insecure)),
            });
        }
        let token = self.token.expose();
        if token.chars().any(char::is_control) {
            problems.push(StoreProblem {
                key: wire::BEARER_TOKEN,
                reason: "contains control characters (a newline, …)".to_owned(),
            });
        } else if token.len() > MAX_TOKEN_BYTES {
            problems.push(StoreProblem {
                key: wire::BEARER_TOKEN,
                reason: format!(
                    "{} bytes, over the {MAX_TOKEN_BYTES}-byte limit",
                    token.len()
                ),
            });
        }
        problems
    }
}

/// Which store relation is in use.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoreSelection {
    /// The chosen relation and its settings; `None` when the endpoint has no relation.
    pub chosen: Option<(RelationId, StoreConfig)>,
    /// With several relations: a message naming them and the one chosen (F10).
    pub conflict: Option<String>,
}

/// F10 off: the Python library's error for two or more relations.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Too many remote applications on {endpoint} ({count} > 1)")]
pub struct TooManyRelations {
    /// The endpoint.
    pub endpoint: String,
    /// How many relations it has.
    pub count: usize,
}

/// Picks the store from the endpoint's relations (a relation being broken must already be left
/// out, as Juju's `relation-ids` does): the lowest relation id that has an address, else the
/// lowest id. Several relations are reported, not fatal (F10).
pub fn select(
    relations: &[RelationSnapshot],
    fixes: FixSet,
) -> Result<StoreSelection, TooManyRelations> {
    let mut ordered: Vec<&RelationSnapshot> = relations.iter().collect();
    ordered.sort_by(|a, b| a.id.cmp(&b.id));
    if ordered.len() > 1 && !fixes.has(Fix::F10) {
        return Err(TooManyRelations {
            endpoint: ordered[0].id.endpoint.clone(),
            count: ordered.len(),
        });
    }
    let configs: Vec<(RelationId, StoreConfig)> = ordered
        .iter()
        .map(|r| (r.id.clone(), StoreConfig::from_databag(r)))
        .collect();
    let chosen = configs
        .iter()
        .find(|(_, config)| config.is_ready())
        .or(configs.first())
        .cloned();
    let conflict = match &chosen {
        Some((id, _)) if configs.len() > 1 => {
            let others: Vec<String> = ordered
                .iter()
                .filter(|r| &r.id != id)
                .map(|r| format!("{} ({})", r.id, r.remote_app))
                .collect();
            Some(format!(
                "{} relations to a store; using {id}, ignoring {}",
                configs.len(),
                others.join(", ")
            ))
        }
        _ => None,
    };
    Ok(StoreSelection { chosen, conflict })
}

/// What the Python requirer emits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreEvent {
    /// `endpoints_changed`, on every relation-changed, with the relation's settings.
    EndpointsChanged {
        /// The relation.
        relation: RelationId,
        /// Its settings.
        config: StoreConfig,
    },
    /// `remove_store`, on every relation-departed (once per departing unit, Q-S5).
    RemoveStore {
        /// The relation.
        relation: RelationId,
    },
}

/// The events the Python requirer emits for `event` on `relation`.
pub fn events_for(event: RelationEvent, relation: &RelationSnapshot) -> Vec<StoreEvent> {
    match event {
        RelationEvent::Changed => vec![StoreEvent::EndpointsChanged {
            relation: relation.id.clone(),
            config: StoreConfig::from_databag(relation),
        }],
        RelationEvent::Departed => vec![StoreEvent::RemoveStore {
            relation: relation.id.clone(),
        }],
        RelationEvent::Created | RelationEvent::Joined | RelationEvent::Broken => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(id: u64, app: &str, address: &str) -> RelationSnapshot {
        let mut rel = RelationSnapshot {
            id: RelationId::new("external-parca-store-endpoint", id),
            remote_app: app.into(),
            ..Default::default()
        };
        if !address.is_empty() {
            rel.app.insert(wire::ADDRESS.into(), address.into());
        }
        rel
    }

    #[test]
    fn two_relations_pick_lowest_id_with_address_and_report() {
        let rels = [
            store(9, "b", "b:1"),
            store(3, "a", ""),
            store(12, "c", "c:1"),
        ];
        let sel = select(&rels, FixSet::ALL).unwrap();
        let (id, config) = sel.chosen.unwrap();
        assert_eq!((id.id, config.address.as_str()), (9, "b:1"));
        assert_eq!(
            sel.conflict.unwrap(),
            "3 relations to a store; using external-parca-store-endpoint:9, ignoring \
             external-parca-store-endpoint:3 (a), external-parca-store-endpoint:12 (c)"
        );
        let err = select(&rels, FixSet::NONE).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Too many remote applications on external-parca-store-endpoint (3 > 1)"
        );
    }

    #[test]
    fn token_is_redacted_in_debug_output() {
        let config = StoreConfig {
            token: Token::new("s3cr3t"),
            ..Default::default()
        };
        assert!(!format!("{config:?}").contains("s3cr3t"));
        assert_eq!(config.token.expose(), "s3cr3t");
    }

    #[test]
    fn insecure_parses_like_go() {
        let mut config = StoreConfig {
            insecure: "True".into(),
            ..Default::default()
        };
        assert_eq!(config.insecure_bool(), Some(true));
        config.insecure = "yes".into();
        assert_eq!(config.insecure_bool(), None);
    }

    #[test]
    fn unsafe_settings_are_problems_named_by_key() {
        let store = |address: &str, token: &str, insecure: &str| StoreConfig {
            address: address.into(),
            token: Token::new(token),
            insecure: insecure.into(),
        };
        for good in ["parca.example:7070", "10.0.0.1:443", "[fd00::1]:7070", ""] {
            assert_eq!(store(good, "t0k", "true").problems(), [], "{good}");
        }
        for (address, needle) in [
            (
                "parca.example:7070\n--insecure-skip-verify",
                "\"parca.example:7070\\n--insecure-skip-verify\"",
            ),
            ("parca.example:7070/api", "not host:port"),
            ("https://parca.example:443", "not host:port"),
            ("parca.example", "no port"),
            ("parca.example:0", "port 0"),
            ("parca.example:70000", "not host:port"),
            ("fd00::1", "no port"),
            ("{\"a\": 1}", "not host:port"),
            ("two words:80", "not host:port"),
        ] {
            let problems = store(address, "", "").problems();
            assert_eq!(problems.len(), 1, "{address:?}");
            assert_eq!(problems[0].key, "remote-store-address");
            assert!(
                problems[0].reason.contains(needle),
                "{address:?}: {}",
                problems[0]
            );
        }
        for insecure in ["yes", "maybe", "Yes", " true"] {
            let problems = store("a:1", "", insecure).problems();
            assert_eq!(problems[0].key, "remote-store-insecure", "{insecure}");
        }
        let problems = store("a:1", "secret\nmore", "").problems();
        assert_eq!(problems[0].key, "remote-store-bearer-token");
        assert!(
            !problems[0].to_string().contains("secret"),
            "the token is never shown"
        );
        let problems = store("a:1", &"x".repeat(MAX_TOKEN_BYTES + 1), "").problems();
        assert_eq!(problems[0].key, "remote-store-bearer-token");
    }
}
