//! The exact databag keys and job sanitising of `parca_scrape` (protocol.md §2.1), shared by
//! both sides so they cannot drift apart.

use serde_json::{Map, Value, json};

/// Provider app databag: the JSON list of sanitised jobs.
pub const SCRAPE_JOBS: &str = "scrape_jobs";
/// Provider app databag: the JSON topology of the provider.
pub const SCRAPE_METADATA: &str = "scrape_metadata";
/// Provider unit databag: the unit's address (plain string).
pub const UNIT_ADDRESS: &str = "parca_scrape_unit_address";
/// Provider unit databag: the unit's name (plain string).
pub const UNIT_NAME: &str = "parca_scrape_unit_name";
/// Legacy unit address key, read as a fallback only (inherited from prometheus_scrape).
pub const LEGACY_UNIT_HOST: &str = "parca_scrape_host";

/// The job keys that survive sanitising; everything else is dropped silently (Q-P3).
pub const ALLOWED_KEYS: [&str; 7] = [
    "job_name",
    "static_configs",
    "scrape_interval",
    "scrape_timeout",
    "scheme",
    "profiling_config",
    "tls_config",
];

/// The job used when a provider gives none, and the base every job is overlaid on.
pub fn default_job() -> Map<String, Value> {
    let mut job = Map::new();
    job.insert("static_configs".into(), json!([{"targets": ["*:80"]}]));
    job
}

/// A job that is not a JSON object; the Python library raises `AttributeError` here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a job must be an object, not {found}")]
pub struct JobNotAnObject {
    /// The JSON type found instead.
    pub found: &'static str,
}

/// Sanitises one job as both Python sides do: start from the default job, overlay the allowed
/// keys in the job's own order. So `static_configs` always comes first.
pub fn sanitize_job(job: &Value) -> Result<Map<String, Value>, JobNotAnObject> {
    sanitize_owned_job(job.clone())
}

/// [`sanitize_job`] for a job we own: moves the kept values instead of copying them.
pub fn sanitize_owned_job(job: Value) -> Result<Map<String, Value>, JobNotAnObject> {
    let Value::Object(fields) = job else {
        return Err(JobNotAnObject {
            found: crate::pyjson::type_name(&job),
        });
    };
    let already_sanitized = fields.keys().next().is_some_and(|k| k == "static_configs")
        && fields.keys().all(|k| ALLOWED_KEYS.contains(&k.as_str()));
    if already_sanitized {
        return Ok(fields); // what every conforming provider publishes
    }
    // `static_configs` first (the default job's position), the provider's value if it has one.
    let mut sanitized = Map::new();
    let mut fields = fields;
    match fields.shift_remove("static_configs") {
        Some(own) => sanitized.insert("static_configs".into(), own),
        None => sanitized.insert("static_configs".into(), json!([{"targets": ["*:80"]}])),
    };
    for (key, value) in fields {
        if ALLOWED_KEYS.contains(&key.as_str()) {
            sanitized.insert(key, value);
        }
    }
    Ok(sanitized)
}

/// `scrape_metadata` as the consumer reads it: the four fields it uses, decoded straight from
/// the text without building a map (one per relation on every hook). Duplicate keys resolve
/// as in Python's `json.loads`: the last value wins.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetadataFields {
    /// `model`, any JSON value.
    pub model: Option<Value>,
    /// `model_uuid`, any JSON value (checked later).
    pub model_uuid: Option<Value>,
    /// `application`, any JSON value.
    pub application: Option<Value>,
    /// `charm_name`, any JSON value.
    pub charm_name: Option<Value>,
    /// How many keys the object had (an empty object is "no metadata").
    pub entries: usize,
}

/// A decoded `scrape_metadata` value.
#[derive(Debug, Clone, PartialEq)]
// Short-lived, one per relation on the stack; boxing would cost an allocation per relation.
#[allow(clippy::large_enum_variant)]
pub enum Metadata {
    /// A JSON object.
    Object(MetadataFields),
    /// Any other JSON value (`null`, a list, …), kept for truthiness and error messages.
    Other(Value),
}

impl Metadata {
    /// Python truthiness: an empty object or a falsy value means "no metadata".
    pub fn is_truthy(&self) -> bool {
        match self {
            Metadata::Object(fields) => fields.entries > 0,
            Metadata::Other(value) => crate::pyjson::is_truthy(value),
        }
    }
}

/// Decodes a `scrape_metadata` databag value.
pub fn decode_metadata(text: &str) -> Result<Metadata, serde_json::Error> {
    if text.trim_start().starts_with('{') {
        serde_json::from_str(text).map(Metadata::Object)
    } else {
        crate::pyjson::loads(text).map(Metadata::Other)
    }
}

impl<'de> serde::Deserialize<'de> for MetadataFields {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldsVisitor;

        impl<'de> serde::de::Visitor<'de> for FieldsVisitor {
            type Value = MetadataFields;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<MetadataFields, A::Error> {
                let mut fields = MetadataFields::default();
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    fields.entries += 1;
                    let slot = match key.as_ref() {
                        "model" => &mut fields.model,
                        "model_uuid" => &mut fields.model_uuid,
                        "application" => &mut fields.application,
                        "charm_name" => &mut fields.charm_name,
                        _ => {
                            map.next_value::<serde::de::IgnoredAny>()?;
                            continue;
                        }
                    };
                    *slot = Some(map.next_value()?);
                }
                Ok(fields)
            }
        }

        deserializer.deserialize_map(FieldsVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pyjson::dumps;

    #[test]
    fn sanitize_keeps_allowed_keys_with_static_configs_first() {
        let job = json!({"scheme": "https", "metrics_path": "/x", "job_name": "j",
                         "static_configs": [{"targets": ["*:1"]}]});
        assert_eq!(
            dumps(&Value::Object(sanitize_job(&job).unwrap())),
            r#"{"static_configs": [{"targets": ["*:1"]}], "scheme": "https", "job_name": "j"}"#
        );
    }

    #[test]
    fn metadata_decodes_used_fields_last_key_wins_and_keeps_types() {
        let Metadata::Object(fields) =
            decode_metadata(r#" {"model": "a", "unit": "x/0", "model": 7, "charm_name": true}"#)
                .unwrap()
        else {
            panic!("an object")
        };
        assert_eq!(fields.model, Some(json!(7)));
        assert_eq!(fields.charm_name, Some(json!(true)));
        assert_eq!((fields.application, fields.entries), (None, 4));
        assert!(!decode_metadata("{}").unwrap().is_truthy());
        assert!(!decode_metadata("null").unwrap().is_truthy());
        assert!(decode_metadata("[1]").unwrap().is_truthy());
        assert!(decode_metadata("{bad").is_err());
    }

    #[test]
    fn empty_job_becomes_the_default_and_non_objects_are_errors() {
        assert_eq!(sanitize_job(&json!({})).unwrap(), default_job());
        assert_eq!(sanitize_job(&json!("*:80")).unwrap_err().found, "string");
    }
}
