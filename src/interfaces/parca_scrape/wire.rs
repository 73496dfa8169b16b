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
    fn empty_job_becomes_the_default_and_non_objects_are_errors() {
        assert_eq!(sanitize_job(&json!({})).unwrap(), default_job());
        assert_eq!(sanitize_job(&json!("*:80")).unwrap_err().found, "string");
    }
}
