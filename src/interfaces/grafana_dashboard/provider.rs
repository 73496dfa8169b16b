//! The `grafana_dashboard` provider: dashboard files → template objects → the `dashboards`
//! document, and the change detection that leaves an unchanged value (and its `uuid`) alone
//! (`grafana_dashboard.md` §3–8, LIBPATCH 50). Pure.

use super::wire;
use crate::fixes::{Fix, FixSet};
use crate::interfaces::topology::JujuTopology;
use crate::pyjson;
use serde_json::{Map, Value, json};

/// One dashboard file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DashboardFile {
    /// Path from the charm root, `/`-separated, e.g. `src/grafana_dashboards/overview.json`
    /// (it seeds the uid).
    pub path: String,
    /// The file's bytes.
    pub bytes: Vec<u8>,
}

/// A dashboard file left out, with the reason (the library only logs these).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedDashboard {
    /// Path from the charm root.
    pub path: String,
    /// Why.
    pub reason: String,
}

/// A dashboard the library would crash on (F13 off).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct DashboardError {
    /// Path from the charm root.
    pub path: String,
    /// What is wrong.
    pub reason: String,
}

/// The templates a provider publishes, keyed `file:<stem>` or `prog:<8 chars>`, in the order
/// learnt.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Dashboards {
    templates: Map<String, Value>,
    /// Files left out by the last load.
    pub skipped: Vec<SkippedDashboard>,
}

/// Who the templates are from.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    /// `metadata.yaml`'s name.
    pub charm: &'a str,
    /// Model, application and the unit that loads them.
    pub topology: &'a JujuTopology,
    /// Ask Grafana to add the `juju_*` dropdowns (the `juju_topology` object is empty when not).
    pub inject_dropdowns: bool,
    /// LZMA preset ([`wire::PRESET`]).
    pub preset: u32,
}

impl Dashboards {
    /// No templates.
    pub fn new() -> Dashboards {
        Dashboards::default()
    }

    /// The templates.
    pub fn templates(&self) -> &Map<String, Value> {
        &self.templates
    }

    /// Replaces every `file:` template by those of `files` (in the order given; of two files
    /// with one stem the later wins, Q1). Files without a dashboard suffix are ignored; invalid
    /// JSON is skipped. A file whose JSON is not an object is skipped and reported (F13); the
    /// library crashes the hook on it.
    pub fn load_files(
        &mut self,
        files: &[DashboardFile],
        source: Source<'_>,
        fixes: FixSet,
    ) -> Result<(), DashboardError> {
        self.templates.retain(|key, _| !key.starts_with("file:"));
        self.skipped.clear();
        for file in files {
            let name = file.path.rsplit('/').next().unwrap_or("");
            if ![".json", ".tmpl"].iter().any(|s| name.ends_with(s)) {
                continue;
            }
            let skip = |reason: String| SkippedDashboard {
                path: file.path.clone(),
                reason,
            };
            let dashboard = match parse_json(&file.bytes) {
                Ok(Value::Object(dashboard)) => dashboard,
                Ok(other) => {
                    let reason = format!(
                        "the JSON document is {}, not an object",
                        pyjson::type_name(&other)
                    );
                    if !fixes.has(Fix::F13) {
                        return Err(DashboardError {
                            path: file.path.clone(),
                            reason,
                        });
                    }
                    self.skipped.push(skip(reason));
                    continue;
                }
                Err(reason) => {
                    self.skipped.push(skip(reason));
                    continue;
                }
            };
            let stem = name.rsplit_once('.').map_or(name, |(stem, _)| stem);
            let key = format!("file:{stem}");
            let dashboard = with_uid_and_tags(dashboard, source.charm, &file.path);
            let content =
                wire::encode_content(&pyjson::dumps(&Value::Object(dashboard)), source.preset)
                    .map_err(|e| DashboardError {
                        path: file.path.clone(),
                        reason: e.to_string(),
                    })?;
            let template = template(source, &key, content);
            self.templates.insert(key, template);
        }
        Ok(())
    }

    /// `add_dashboard(content)`: `content` compressed as given (no parsing, uid or tags),
    /// keyed `prog:` + characters `[-24:-16]` of the encoded content. Returns the key.
    pub fn add_programmatic(
        &mut self,
        content: &str,
        source: Source<'_>,
    ) -> Result<String, wire::ContentError> {
        let encoded = wire::encode_content(content, source.preset)?;
        let tail: Vec<char> = encoded.chars().collect();
        let from = tail.len().saturating_sub(24);
        let to = tail.len().saturating_sub(16);
        let key = format!("prog:{}", tail[from..to].iter().collect::<String>());
        let template = template(source, &key, encoded);
        self.templates.insert(key.clone(), template);
        Ok(key)
    }
}

/// The template object, keys in the library's order.
fn template(source: Source<'_>, key: &str, content: String) -> Value {
    let topology = if source.inject_dropdowns {
        json!({
            "model": source.topology.model,
            "model_uuid": source.topology.model_uuid.as_str(),
            "application": source.topology.application,
            "unit": source.topology.unit,
        })
    } else {
        json!({})
    };
    json!({
        "charm": source.charm,
        "content": content,
        "juju_topology": topology,
        "inject_dropdowns": source.inject_dropdowns,
        "dashboard_alt_uid": wire::alt_uid(source.charm, key),
    })
}

/// Python's `json.loads` of a file: a UTF-8 BOM is accepted; the last of duplicate keys wins
/// at the first one's position; numbers keep their text (re-printed with Python's rules).
fn parse_json(bytes: &[u8]) -> Result<Value, String> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"))?;
    pyjson::loads(text).map_err(|e| format!("not JSON: {e}"))
}

/// §5.4–5.5: a uid unless it has a 40-hex-character one; a `charm: <name>` tag unless one
/// exists. Existing keys keep their place; new ones are appended.
fn with_uid_and_tags(
    mut dashboard: Map<String, Value>,
    charm: &str,
    path: &str,
) -> Map<String, Value> {
    let valid_uid = dashboard
        .get("uid")
        .and_then(Value::as_str)
        .is_some_and(|uid| uid.len() == 40 && uid.chars().all(|c| c.is_ascii_hexdigit()));
    if !valid_uid {
        dashboard.insert("uid".into(), json!(wire::file_uid(charm, path)));
    }
    let mut tags = match dashboard.get("tags") {
        Some(Value::Array(tags)) => tags.clone(),
        _ => Vec::new(),
    };
    if !tags
        .iter()
        .any(|t| t.as_str().is_some_and(|t| t.starts_with("charm: ")))
    {
        tags.push(json!(format!("charm: {charm}")));
    }
    dashboard.insert("tags".into(), Value::Array(tags));
    dashboard
}

/// The value to write on one relation, or `None` to leave it: `current` (our app bag's
/// `dashboards`, missing or invalid counting as no templates) already holds equal templates
/// (compared as JSON values), so the key and its `uuid` stay as they are.
pub fn publish(
    current: Option<&str>,
    templates: &Map<String, Value>,
    uuid: &str,
) -> Option<String> {
    let current_templates = current
        .and_then(|text| pyjson::loads(text).ok())
        .and_then(|doc| doc.get("templates").cloned())
        .unwrap_or_else(|| json!({}));
    let new = Value::Object(templates.clone());
    if current_templates == new {
        return None;
    }
    Some(pyjson::dumps(&json!({"templates": new, "uuid": uuid})))
}

/// The events on which the library's leader (re)loads and publishes: `leader-elected`,
/// `upgrade-charm`, `config-changed` and the endpoint's `relation-created` (§8).
pub fn publishes_on(event: &str, endpoint: &str) -> bool {
    matches!(event, "leader-elected" | "upgrade-charm" | "config-changed")
        || event == format!("{endpoint}-relation-created")
}

/// A uuid4-shaped value derived from the templates: it changes whenever they do, and the
/// same templates always give the same bytes (the library draws a random one; its only use
/// is to make the value change).
pub fn content_uuid(templates: &Map<String, Value>) -> String {
    let hex = wire::shake256_hex(&pyjson::dumps(&Value::Object(templates.clone())), 16);
    format!(
        "{}-{}-4{}-{}{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        // The variant nibble: 8, 9, a or b.
        ["8", "9", "a", "b"][usize::from(hex.as_bytes()[16] % 4)],
        &hex[17..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interfaces::topology::ModelUuid;

    #[test]
    fn unchanged_templates_are_not_rewritten_and_uuids_are_v4_shaped() {
        let templates: Map<String, Value> =
            serde_json::from_str(r#"{"file:a": {"charm": "c"}}"#).unwrap();
        let uuid = content_uuid(&templates);
        assert!(ModelUuid::parse(&uuid).is_ok(), "{uuid}");
        let written = publish(None, &templates, &uuid).unwrap();
        assert_eq!(publish(Some(&written), &templates, "other"), None);
        assert_eq!(
            publish(None, &Map::new(), &uuid),
            None,
            "no templates: nothing written"
        );
        assert!(publish(Some("not json"), &templates, &uuid).is_some());
    }
}
