//! The `parca_store` provider side: the store publishes its address, token and TLS mode.
//!
//! Pure: [`StoreProvider::app_databag`] computes the app databag; the caller writes it, and
//! only as leader (F7: the Python library writes unconditionally and crashes on non-leaders).

use super::wire;
use crate::fixes::{Fix, FixSet};
use crate::model::{Databag, Host, HostPort};
use crate::pyjson;
use serde_json::Value;
use std::net::IpAddr;

/// The `remote-store-insecure` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Insecure {
    /// A real boolean: `"true"` / `"false"`.
    Bool(bool),
    /// A value relayed or configured as text; published lower-cased, as Python's
    /// `str(value).lower()` does.
    Verbatim(String),
}

impl Insecure {
    /// The databag value.
    pub fn wire_value(&self) -> String {
        match self {
            Insecure::Bool(b) => b.to_string(),
            Insecure::Verbatim(text) => text.to_lowercase(),
        }
    }
}

/// What a store publishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreProvider {
    /// The gRPC port, used unless `external_url` is set.
    pub port: u16,
    /// Whether senders connect without TLS.
    pub insecure: Insecure,
    /// An address to publish instead of our own (`host:port`, or a URL: F9).
    pub external_url: Option<String>,
    /// The bearer token senders must present; empty means none (the key is then absent).
    pub token: String,
}

/// Settings given as untyped JSON that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// A field has the wrong type.
    #[error("store setting {field}: must be {expected}, not {found}")]
    WrongType {
        /// The field.
        field: &'static str,
        /// What it must be.
        expected: &'static str,
        /// The JSON type found.
        found: &'static str,
    },
    /// `external_url` is a URL we cannot turn into `host:port`.
    #[error("store external_url {url:?}: {reason}")]
    BadExternalUrl {
        /// The value given.
        url: String,
        /// Why it is not usable.
        reason: String,
    },
    /// F7 off: the Python library's crash when a non-leader publishes.
    #[error("{unit} is not leader and cannot write application data.")]
    NotLeader {
        /// The unit that tried.
        unit: String,
    },
}

impl StoreProvider {
    /// Settings from untyped JSON (`port`, `insecure`, `external_url`, `token`), with the
    /// Python library's defaults: port 7070, secure, no external URL, no token.
    pub fn from_json(settings: &Value) -> Result<Self, SettingsError> {
        let field = |name: &str| settings.get(name).filter(|v| !v.is_null());
        let wrong =
            |field: &'static str, expected: &'static str, v: &Value| SettingsError::WrongType {
                field,
                expected,
                found: pyjson::type_name(v),
            };
        let port = match field("port") {
            None => 7070,
            Some(v) => v
                .as_u64()
                .and_then(|p| u16::try_from(p).ok())
                .ok_or_else(|| wrong("port", "a port number", v))?,
        };
        let insecure = match field("insecure") {
            None => Insecure::Bool(false),
            Some(Value::Bool(b)) => Insecure::Bool(*b),
            Some(v @ (Value::Array(_) | Value::Object(_))) => {
                return Err(wrong("insecure", "a boolean", v));
            }
            Some(v) => Insecure::Verbatim(pyjson::py_str(v).unwrap_or_default()),
        };
        let external_url = match field("external_url") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()).filter(|s| !s.is_empty()),
            Some(v) => return Err(wrong("external_url", "a string", v)),
        };
        // A missing token is "no token"; an explicit null is what crashes the Python library
        // (a token generator returning None), so it stays an error here too.
        let token = match settings.get("token") {
            None => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(v) => return Err(wrong("token", "a string", v)),
        };
        Ok(StoreProvider {
            port,
            insecure,
            external_url,
            token,
        })
    }

    /// The published address: `external_url` (normalised when it is a URL, F9), else the bind
    /// address if it is an IP (bracketed when IPv6, F3), else the FQDN, with our port.
    pub fn address(
        &self,
        bind_address: Option<&str>,
        fqdn: &str,
        fixes: FixSet,
    ) -> Result<String, SettingsError> {
        if let Some(url) = &self.external_url {
            return if fixes.has(Fix::F9) {
                normalize_external_url(url)
            } else {
                Ok(url.clone())
            };
        }
        match bind_address.and_then(|a| a.parse::<IpAddr>().ok()) {
            Some(ip) if fixes.has(Fix::F3) => {
                Ok(HostPort::new(Host::Ip(ip), self.port).to_string())
            }
            Some(ip) => Ok(format!("{ip}:{}", self.port)),
            None => Ok(format!("{fqdn}:{}", self.port)),
        }
    }

    /// The app databag to publish on every relation of the endpoint. `None` for a non-leader
    /// (F7); with F7 off a non-leader gets the Python library's error instead.
    pub fn app_databag(
        &self,
        leader: bool,
        unit: &str,
        bind_address: Option<&str>,
        fqdn: &str,
        fixes: FixSet,
    ) -> Result<Option<Databag>, SettingsError> {
        if !leader {
            return if fixes.has(Fix::F7) {
                Ok(None)
            } else {
                Err(SettingsError::NotLeader {
                    unit: unit.to_owned(),
                })
            };
        }
        let mut bag = Databag::new();
        bag.insert(
            wire::ADDRESS.into(),
            self.address(bind_address, fqdn, fixes)?,
        );
        if !self.token.is_empty() {
            bag.insert(wire::BEARER_TOKEN.into(), self.token.clone());
        }
        bag.insert(wire::INSECURE.into(), self.insecure.wire_value());
        Ok(Some(bag))
    }
}

/// F9: `https://host/x` → `host:443`; `grpc://[fd00::1]:9000` → `[fd00::1]:9000`. A value
/// without `://` is taken as `host:port` and published unchanged.
pub fn normalize_external_url(text: &str) -> Result<String, SettingsError> {
    if !text.contains("://") {
        return Ok(text.to_owned());
    }
    let bad = |reason: &str| SettingsError::BadExternalUrl {
        url: text.to_owned(),
        reason: reason.to_owned(),
    };
    let url = url::Url::parse(text).map_err(|e| bad(&e.to_string()))?;
    let host = url.host_str().ok_or_else(|| bad("no host"))?;
    let port = match (url.port(), url.scheme()) {
        (Some(port), _) => port,
        (None, "https" | "grpcs") => 443,
        (None, "http" | "grpc") => 80,
        (None, scheme) => {
            return Err(bad(&format!(
                "no port and no default port for scheme {scheme:?}"
            )));
        }
    };
    Ok(format!("{host}:{port}"))
}

/// Whether the Python provider publishes on this event: joined, changed and upgrade-charm do;
/// leader-elected and update-status do not (charms call the publish method explicitly).
pub fn publishes_on(trigger: crate::interfaces::Trigger) -> bool {
    use crate::interfaces::Trigger;
    matches!(
        trigger,
        Trigger::RelationJoined | Trigger::RelationChanged | Trigger::UpgradeCharm
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn provider() -> StoreProvider {
        StoreProvider::from_json(&json!({})).unwrap()
    }

    #[test]
    fn ipv6_bind_address_is_bracketed() {
        assert_eq!(
            provider()
                .address(Some("fd00::1"), "f", FixSet::ALL)
                .unwrap(),
            "[fd00::1]:7070"
        );
        assert_eq!(
            provider()
                .address(Some("fd00::1"), "f", FixSet::NONE)
                .unwrap(),
            "fd00::1:7070"
        );
        assert_eq!(
            provider()
                .address(Some("not-ip"), "f.q.d.n", FixSet::ALL)
                .unwrap(),
            "f.q.d.n:7070"
        );
    }

    #[test]
    fn urls_normalise_to_host_port_and_host_port_stays() {
        for (url, want) in [
            ("https://parca.example.com/x", "parca.example.com:443"),
            ("http://parca.example.com", "parca.example.com:80"),
            ("grpcs://parca.example.com:8443/", "parca.example.com:8443"),
            ("https://[fd00::1]/", "[fd00::1]:443"),
            ("parca.example.com:443", "parca.example.com:443"),
        ] {
            assert_eq!(normalize_external_url(url).unwrap(), want, "{url}");
        }
        assert!(normalize_external_url("ftp://x/").is_err());
    }

    #[test]
    fn non_leader_is_a_no_op_and_token_absent_when_empty() {
        let p = provider();
        assert_eq!(
            p.app_databag(false, "s/1", None, "f", FixSet::ALL).unwrap(),
            None
        );
        let err = p
            .app_databag(false, "s/1", None, "f", FixSet::NONE)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "s/1 is not leader and cannot write application data."
        );
        let bag = p
            .app_databag(true, "s/0", Some("10.1.2.3"), "f", FixSet::ALL)
            .unwrap()
            .unwrap();
        assert!(!bag.contains_key(wire::BEARER_TOKEN));
        assert_eq!(bag[wire::INSECURE], "false");
    }

    #[test]
    fn settings_json_mirrors_python_stringification_and_rejects_null_token() {
        let p = StoreProvider::from_json(&json!({"insecure": "Yes"})).unwrap();
        assert_eq!(p.insecure.wire_value(), "yes");
        assert!(StoreProvider::from_json(&json!({"token": null})).is_err());
        assert!(StoreProvider::from_json(&json!({"port": 70000})).is_err());
    }
}
