//! The charm's options (charm/config.yaml), decoded from `config-get` output. Pure.
//! Bad values are problems in the plan (blocked status naming the option), never a crash.

use crate::render::ObjectStorage;
use serde_json::{Map, Value};

/// Where parca.yaml goes unless configured.
pub const DEFAULT_CONFIG_FILE: &str = "/etc/parca/parca.yaml";
/// The service's default listen address (loopback: nothing is exposed unless asked).
pub const DEFAULT_LISTEN_ADDRESS: &str = "127.0.0.1:7075";
/// The managed Parca's default `--http-address`.
pub const DEFAULT_PARCA_LISTEN_ADDRESS: &str = "127.0.0.1:7070";
/// The managed standalone Parca's default `--storage-active-memory` (Parca's own default).
pub const DEFAULT_PARCA_STORAGE_MEMORY: u64 = 512 << 20;

/// Decoded options.
#[derive(Debug, Clone, PartialEq)]
pub struct CharmConfig {
    /// Upstream store `host:port` (or URL) used when no upstream relation exists.
    pub store_address: String,
    /// Bearer token for that store.
    pub store_token: String,
    /// Connect to that store without TLS.
    pub store_insecure: bool,
    /// Relay a bearer token to a non-loopback store without TLS anyway.
    pub allow_plaintext_token: bool,
    /// How the agents get the token.
    pub token_relay: TokenRelay,
    /// parca.yaml's object storage from the `object-storage` option (wins over the base file).
    pub object_storage: Option<ObjectStorage>,
    /// A parca.yaml whose object storage and static jobs are kept (empty: none).
    pub base_config_file: String,
    /// How relation jobs list targets in parca.yaml.
    pub discovery: TargetDiscovery,
    /// Absolute path of parca.yaml.
    pub config_file: String,
    /// The service's `host:port`.
    pub listen_address: String,
    /// Address published for this unit (self-profiling); empty: from the network binding.
    pub unit_address: String,
    /// A Parca binary on the machine to run (empty: the `parca` resource, if attached).
    pub parca_binary: String,
    /// The managed Parca's `--http-address`.
    pub parca_listen_address: String,
    /// The managed standalone Parca's in-memory storage, bytes.
    pub parca_storage_memory: u64,
}

/// `store-token-relay`: how the agents get the store's bearer token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenRelay {
    /// `plain`: the legacy databag key (Python requirers read it).
    #[default]
    Plain,
    /// `secret`: a Juju secret granted to each agent relation, its URI in the databag.
    Secret,
    /// `both`: the key and the secret.
    Both,
}

impl TokenRelay {
    /// Whether the token goes in the legacy key.
    pub fn plain(self) -> bool {
        matches!(self, TokenRelay::Plain | TokenRelay::Both)
    }

    /// Whether the token goes in a Juju secret.
    pub fn secret(self) -> bool {
        matches!(self, TokenRelay::Secret | TokenRelay::Both)
    }
}

/// `target-discovery`: targets written into parca.yaml, or served by the broker over http_sd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetDiscovery {
    /// `static`
    Static,
    /// `http-sd`
    HttpSd,
}

/// A config option with a value we cannot use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The option.
    pub option: &'static str,
    /// What is wrong.
    pub reason: String,
}

impl std::fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "config {}: {}", self.option, self.reason)
    }
}

impl CharmConfig {
    /// Decodes `config-get` output; unusable options keep their defaults and are reported.
    pub fn decode(raw: &Map<String, Value>) -> (CharmConfig, Vec<ConfigProblem>) {
        let mut problems = Vec::new();
        let mut text = |option: &'static str, default: &str| match raw.get(option) {
            None | Some(Value::Null) => default.to_owned(),
            Some(Value::String(s)) => s.trim().to_owned(),
            Some(other) => {
                problems.push(ConfigProblem {
                    option,
                    reason: format!("must be a string, not {}", crate::pyjson::type_name(other)),
                });
                default.to_owned()
            }
        };
        let store_address = text("store-address", "");
        let store_token = text("store-token", "");
        let object_storage_text = text("object-storage", "");
        let config_file = text("config-file", DEFAULT_CONFIG_FILE);
        let listen_address = text("listen-address", DEFAULT_LISTEN_ADDRESS);
        let unit_address = text("unit-address", "");
        let base_config_file = text("base-config-file", "");
        let parca_binary = text("parca-binary", "");
        let parca_listen_address = text("parca-listen-address", DEFAULT_PARCA_LISTEN_ADDRESS);
        let token_relay_option = text("store-token-relay", "plain");
        let discovery = match text("target-discovery", "static").as_str() {
            "static" => TargetDiscovery::Static,
            "http-sd" => TargetDiscovery::HttpSd,
            other => {
                problems.push(ConfigProblem {
                    option: "target-discovery",
                    reason: format!("{other:?} is not static or http-sd"),
                });
                TargetDiscovery::Static
            }
        };
        let token_relay = match token_relay_option.as_str() {
            "plain" => TokenRelay::Plain,
            "secret" => TokenRelay::Secret,
            "both" => TokenRelay::Both,
            other => {
                problems.push(ConfigProblem {
                    option: "store-token-relay",
                    reason: format!("{other:?} is not plain, secret or both"),
                });
                TokenRelay::Plain
            }
        };
        let mut flag = |option: &'static str| match raw.get(option) {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                problems.push(ConfigProblem {
                    option,
                    reason: format!("must be a boolean, not {}", crate::pyjson::type_name(other)),
                });
                false
            }
        };
        let store_insecure = flag("store-insecure");
        let allow_plaintext_token = flag("allow-plaintext-token");
        // 16 MiB: below that Parca cannot hold one scrape of a busy target.
        let parca_storage_memory = match raw.get("parca-storage-memory") {
            None | Some(Value::Null) => DEFAULT_PARCA_STORAGE_MEMORY,
            Some(Value::Number(n)) if n.as_u64().is_some_and(|n| n >= 16 << 20) => {
                n.as_u64().unwrap_or(DEFAULT_PARCA_STORAGE_MEMORY)
            }
            Some(other) => {
                problems.push(ConfigProblem {
                    option: "parca-storage-memory",
                    reason: format!("{other} is not a number of bytes of at least 16777216"),
                });
                DEFAULT_PARCA_STORAGE_MEMORY
            }
        };
        let object_storage = if object_storage_text.is_empty() {
            None
        } else {
            match serde_saphyr::from_str::<ObjectStorage>(&object_storage_text) {
                Ok(storage) => Some(storage),
                Err(err) => {
                    problems.push(ConfigProblem {
                        option: "object-storage",
                        reason: format!("not a Parca object_storage block ({err})"),
                    });
                    None
                }
            }
        };
        let base_config_file = if base_config_file.is_empty() || base_config_file.starts_with('/') {
            base_config_file
        } else {
            problems.push(ConfigProblem {
                option: "base-config-file",
                reason: format!("{base_config_file:?} must be an absolute path"),
            });
            String::new()
        };
        let config_file =
            if config_file.starts_with('/') && !config_file.split('/').any(|c| c == "..") {
                config_file
            } else {
                problems.push(ConfigProblem {
                    option: "config-file",
                    reason: format!("{config_file:?} must be an absolute path without '..'"),
                });
                DEFAULT_CONFIG_FILE.to_owned()
            };
        // It goes onto parca.service's command line: one absolute path, nothing systemd would
        // split or expand.
        let parca_binary = if parca_binary.is_empty()
            || (parca_binary.starts_with('/')
                && !parca_binary.split('/').any(|c| c == "..")
                && !parca_binary
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || "%$\\\"';".contains(c)))
        {
            parca_binary
        } else {
            problems.push(ConfigProblem {
                option: "parca-binary",
                reason: format!(
                    "{parca_binary:?} must be an absolute path without '..', spaces or any of %$\\\"';"
                ),
            });
            String::new()
        };
        let parca_listen_address = match parca_listen_address.parse::<std::net::SocketAddr>() {
            Ok(_) => parca_listen_address,
            Err(_) => {
                problems.push(ConfigProblem {
                    option: "parca-listen-address",
                    reason: format!(
                        "{parca_listen_address:?} is not an IP:port (IPv6 in brackets)"
                    ),
                });
                DEFAULT_PARCA_LISTEN_ADDRESS.to_owned()
            }
        };
        let listen_address = match listen_address.parse::<std::net::SocketAddr>() {
            Ok(_) => listen_address,
            Err(_) => {
                problems.push(ConfigProblem {
                    option: "listen-address",
                    reason: format!("{listen_address:?} is not an IP:port (IPv6 in brackets)"),
                });
                DEFAULT_LISTEN_ADDRESS.to_owned()
            }
        };
        (
            CharmConfig {
                store_address,
                store_token,
                store_insecure,
                allow_plaintext_token,
                token_relay,
                object_storage,
                base_config_file,
                discovery,
                config_file,
                listen_address,
                unit_address,
                parca_binary,
                parca_listen_address,
                parca_storage_memory,
            },
            problems,
        )
    }

    /// The service's port.
    pub fn listen_port(&self) -> u16 {
        self.listen_address
            .parse::<std::net::SocketAddr>()
            .map_or(7075, |addr| addr.port())
    }

    /// Whether the service listens on loopback only (then nothing remote can scrape it).
    pub fn listens_on_loopback(&self) -> bool {
        self.listen_address
            .parse::<std::net::SocketAddr>()
            .is_ok_and(|addr| addr.ip().is_loopback())
    }

    /// Whether the service listens on one specific IP (http_sd URLs then use it, not the unit
    /// address).
    pub fn listens_on_specific_ip(&self) -> bool {
        self.listen_address
            .parse::<std::net::SocketAddr>()
            .is_ok_and(|addr| !addr.ip().is_unspecified())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decode(value: Value) -> (CharmConfig, Vec<ConfigProblem>) {
        CharmConfig::decode(value.as_object().unwrap())
    }

    #[test]
    fn defaults_are_usable_with_no_config() {
        let (config, problems) = decode(json!({}));
        assert!(problems.is_empty());
        assert_eq!(config.config_file, DEFAULT_CONFIG_FILE);
        assert_eq!(config.listen_port(), 7075);
        assert!(config.listens_on_loopback());
        assert_eq!(config.object_storage, None);
        assert_eq!(config.discovery, TargetDiscovery::Static);
    }

    #[test]
    fn bad_values_are_reported_by_option_and_defaults_kept() {
        let (config, problems) = decode(json!({
            "object-storage": "bucket: {type: S3, config: {endpoint: s3}, colour: red}",
            "config-file": "relative/parca.yaml",
            "listen-address": "localhost",
        }));
        let options: Vec<_> = problems.iter().map(|p| p.option).collect();
        assert_eq!(options, ["object-storage", "config-file", "listen-address"]);
        assert!(
            problems[0].reason.contains("colour"),
            "{}",
            problems[0].reason
        );
        assert_eq!(config.config_file, DEFAULT_CONFIG_FILE);
    }

    #[test]
    fn parca_options_are_checked_before_they_reach_a_command_line() {
        let (config, problems) = decode(json!({}));
        assert!(problems.is_empty());
        assert_eq!(config.parca_binary, "");
        assert_eq!(config.parca_listen_address, DEFAULT_PARCA_LISTEN_ADDRESS);
        assert_eq!(config.parca_storage_memory, 512 << 20);
        let (config, problems) = decode(json!({"parca-binary": "/snap/parca/current/parca"}));
        assert!(problems.is_empty());
        assert_eq!(config.parca_binary, "/snap/parca/current/parca");
        for bad in [
            "parca",
            "/usr/bin/parca --insecure",
            "/a/../b",
            "/a\nb",
            "/a;b",
            "/$HOME/p",
        ] {
            let (config, problems) = decode(json!({"parca-binary": bad}));
            assert_eq!(problems.len(), 1, "{bad}");
            assert_eq!(problems[0].option, "parca-binary");
            assert_eq!(config.parca_binary, "", "{bad}");
        }
        let (_, problems) =
            decode(json!({"parca-listen-address": ":7070", "parca-storage-memory": 5}));
        let options: Vec<_> = problems.iter().map(|p| p.option).collect();
        assert_eq!(options, ["parca-storage-memory", "parca-listen-address"]);
    }

    #[test]
    fn object_storage_accepts_yaml_and_json() {
        let (config, problems) = decode(json!({
            "object-storage": r#"{"bucket": {"type": "S3", "config": {"bucket": "p", "endpoint": "s3:9000", "insecure": true}}}"#,
        }));
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(config.object_storage.unwrap().bucket.kind, "S3");
    }
}
