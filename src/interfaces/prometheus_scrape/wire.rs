//! The `prometheus_scrape` databag keys and the provider's job sanitising
//! (`../shared/spec/cos/prometheus_scrape.md` §2, §5). Pure.

use serde_json::{Map, Value, json};

/// App bag: the provider's Juju topology (JSON object).
pub const SCRAPE_METADATA: &str = "scrape_metadata";
/// App bag: the provider's jobs (JSON list).
pub const SCRAPE_JOBS: &str = "scrape_jobs";
/// App bag: alert rules (`{"groups": [...]}` or `{}`).
pub const ALERT_RULES: &str = "alert_rules";
/// Unit bag: the address Prometheus puts in place of `*`.
pub const UNIT_ADDRESS: &str = "prometheus_scrape_unit_address";
/// Unit bag: URL path prefix, only when non-empty.
pub const UNIT_PATH: &str = "prometheus_scrape_unit_path";
/// Unit bag: the unit's name.
pub const UNIT_NAME: &str = "prometheus_scrape_unit_name";
/// Unit bag: the host's FQDN, only when non-empty (LIBPATCH ≥ 57).
pub const UNIT_FQDN: &str = "prometheus_scrape_unit_fqdn";
/// Unit bag, legacy: read by consumers as the address fallback; never written.
pub const LEGACY_UNIT_HOST: &str = "prometheus_scrape_host";

/// The 17 job keys the provider keeps (§5.1); everything else is dropped.
pub const ALLOWED_KEYS: [&str; 17] = [
    "job_name",
    "metrics_path",
    "static_configs",
    "scrape_interval",
    "scrape_timeout",
    "proxy_url",
    "relabel_configs",
    "metric_relabel_configs",
    "sample_limit",
    "label_limit",
    "label_name_length_limit",
    "label_value_length_limit",
    "scheme",
    "basic_auth",
    "tls_config",
    "authorization",
    "params",
];

/// The job published when a provider has none, and the base every job is overlaid on.
pub fn default_job() -> Map<String, Value> {
    let mut job = Map::new();
    job.insert("metrics_path".into(), json!("/metrics"));
    job.insert("static_configs".into(), json!([{"targets": ["*:80"]}]));
    job
}

/// A job that is not a JSON object (the Python library raises on it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("scrape job {index}: a job must be an object, not {found}")]
pub struct JobNotAnObject {
    /// Position in the list given.
    pub index: usize,
    /// The JSON type found instead.
    pub found: &'static str,
}

/// §5.2 step 1: the default job with the allowed keys of `job` overlaid in the job's order, so
/// `metrics_path` and `static_configs` always come first; values are copied verbatim.
pub fn sanitize_job(index: usize, job: &Value) -> Result<Map<String, Value>, JobNotAnObject> {
    let Value::Object(fields) = job else {
        return Err(JobNotAnObject {
            index,
            found: crate::pyjson::type_name(job),
        });
    };
    let mut sanitized = default_job();
    for (key, value) in fields {
        if ALLOWED_KEYS.contains(&key.as_str()) {
            sanitized.insert(key.clone(), value.clone());
        }
    }
    Ok(sanitized)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitising_keeps_allowed_keys_after_metrics_path_and_static_configs() {
        let job =
            json!({"job_name": "a", "honor_labels": true, "static_configs": [], "scheme": "https"});
        let out = sanitize_job(0, &job).unwrap();
        let keys: Vec<&str> = out.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["metrics_path", "static_configs", "job_name", "scheme"]
        );
        assert_eq!(out["static_configs"], json!([]));
        assert_eq!(
            sanitize_job(3, &json!("x")).unwrap_err().to_string(),
            "scrape job 3: a job must be an object, not string"
        );
    }
}
