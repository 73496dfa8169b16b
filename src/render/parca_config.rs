//! A typed model of `parca.yaml` (parca.md A.2–A.6) and its rendering from scrape jobs.
//!
//! Keys Parca does not know cannot be represented, so they cannot be emitted (Parca decodes
//! strictly and rejects the whole file for one unknown key). Provider-supplied blocks
//! (`tls_config`, `profiling_config`) are decoded into these types with unknown fields refused;
//! a job that does not fit is dropped with the reason, and the rest of the file still renders.

use crate::interfaces::parca_scrape::{RelabelConfig, ScrapeJob};
use crate::model::{Rejection, RejectionKind, Scope};
use crate::pyjson;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// The whole file: exactly the two top-level keys Parca accepts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParcaConfig {
    /// Required in every mode, even scraper-only.
    pub object_storage: ObjectStorage,
    /// The jobs.
    #[serde(default)]
    pub scrape_configs: Vec<ScrapeConfig>,
}

/// `object_storage`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectStorage {
    /// The bucket.
    pub bucket: Bucket,
}

impl Default for ObjectStorage {
    /// A local FILESYSTEM bucket: enough for a scraper-only Parca that forwards to a store.
    fn default() -> Self {
        ObjectStorage {
            bucket: Bucket {
                kind: "FILESYSTEM".into(),
                config: BTreeMap::from([("directory".into(), PlainValue::Str("./data".into()))]),
                prefix: None,
            },
        }
    }
}

/// `object_storage.bucket` (thanos objstore).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bucket {
    /// FILESYSTEM, S3, GCS, AZURE, …
    #[serde(rename = "type")]
    pub kind: String,
    /// Provider-specific settings.
    pub config: BTreeMap<String, PlainValue>,
    /// Optional key prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
}

/// A YAML value for free-form maps (bucket config). Not `serde_json::Value`, whose numbers do
/// not serialise to YAML in this build (arbitrary precision).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PlainValue {
    /// `true` / `false`
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// Text.
    Str(String),
    /// A list.
    List(Vec<PlainValue>),
    /// A map.
    Map(BTreeMap<String, PlainValue>),
}

/// One `scrape_configs` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScrapeConfig {
    /// Unique job name.
    pub job_name: String,
    /// Query parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<BTreeMap<String, Vec<String>>>,
    /// Prometheus duration; Parca's default is 10s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrape_interval: Option<String>,
    /// Prometheus duration; Parca's default is interval + 3s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrape_timeout: Option<String>,
    /// `http` or `https`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    /// Which profiles to scrape.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profiling_config: Option<ProfilingConfig>,
    /// TLS client settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_config: Option<TlsConfig>,
    /// Relabel rules.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relabel_configs: Vec<RelabelRule>,
    /// Fixed targets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub static_configs: Vec<StaticConfig>,
    /// Targets discovered over HTTP (the broker's `/sd/v1/<job>`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub http_sd_configs: Vec<HttpSdConfig>,
}

/// `profiling_config`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfilingConfig {
    /// Prepended to every profile path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_prefix: Option<String>,
    /// Profile name → settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pprof_config: Option<BTreeMap<String, PprofProfile>>,
}

/// One `pprof_config` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PprofProfile {
    /// Whether to scrape it (built-ins default to true, custom ones to false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// URL path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Ask for `seconds=<N>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta: Option<bool>,
    /// N for delta profiles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<i64>,
    /// Sample types to keep.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_sample_type: Option<Vec<SampleType>>,
}

/// `keep_sample_type` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SampleType {
    /// Sample type, e.g. `alloc_space`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Unit, e.g. `bytes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

/// `tls_config` (prometheus/common).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// CA certificate (PEM text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<String>,
    /// CA certificate file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    /// Client certificate (PEM text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert: Option<String>,
    /// Client certificate file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_file: Option<String>,
    /// Client key (PEM text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Client key file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<String>,
    /// SNI name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// Skip verification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure_skip_verify: Option<bool>,
    /// TLS10 … TLS13.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_version: Option<String>,
    /// TLS10 … TLS13.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_version: Option<String>,
}

/// A relabel rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelabelRule {
    /// Labels joined.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source_labels: Vec<String>,
    /// Joiner (default `;`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub separator: Option<String>,
    /// Regex (default `(.*)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    /// Label written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_label: Option<String>,
    /// Replacement (default `$1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replacement: Option<String>,
    /// Action (default `replace`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
}

impl From<RelabelConfig> for RelabelRule {
    fn from(rule: RelabelConfig) -> Self {
        RelabelRule {
            source_labels: rule.source_labels.iter().map(|s| (*s).to_owned()).collect(),
            separator: Some(rule.separator.to_owned()),
            regex: Some(rule.regex.to_owned()),
            target_label: Some(rule.target_label.to_owned()),
            replacement: None,
            action: None,
        }
    }
}

/// A static target group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticConfig {
    /// `host:port` targets.
    pub targets: Vec<String>,
    /// Labels (values are text in Parca).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// An `http_sd_configs` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSdConfig {
    /// The discovery URL (http or https).
    pub url: String,
    /// How often to refresh (default 60s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_interval: Option<String>,
}

/// The rendered file and what was left out of it.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedConfig {
    /// The typed config.
    pub config: ParcaConfig,
    /// The YAML text (deterministic: same input, same bytes).
    pub yaml: String,
    /// Jobs that could not be represented, with the reason.
    pub dropped: Vec<Rejection>,
}

/// Builds `parca.yaml` from the base object storage and rendered scrape jobs.
pub fn render_config(object_storage: &ObjectStorage, jobs: &[ScrapeJob]) -> RenderedConfig {
    let mut dropped = Vec::new();
    let scrape_configs = jobs
        .iter()
        .filter_map(|job| match scrape_config(job) {
            Ok(config) => Some(config),
            Err(reason) => {
                dropped.push(Rejection {
                    relation: job.relation.clone(),
                    app: job.app.clone(),
                    job: Some(job.job_name.clone()),
                    unit: None,
                    key: "scrape_jobs".into(),
                    scope: Scope::Job,
                    kind: RejectionKind::WrongType,
                    reason,
                });
                None
            }
        })
        .collect();
    let config = ParcaConfig {
        object_storage: object_storage.clone(),
        scrape_configs,
    };
    let yaml = to_yaml(&config);
    RenderedConfig {
        config,
        yaml,
        dropped,
    }
}

/// YAML text of the config.
pub fn to_yaml(config: &ParcaConfig) -> String {
    // Serialising plain structs, maps of strings and finite numbers cannot fail; an error here
    // would be a bug in the model, which the golden tests catch.
    serde_saphyr::to_string(config).unwrap_or_else(|err| format!("# render error: {err}\n"))
}

/// One job → its typed scrape config, or why it cannot be one.
fn scrape_config(job: &ScrapeJob) -> Result<ScrapeConfig, String> {
    let text = |key: &str| -> Result<Option<String>, String> {
        match job.settings.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(format!(
                "{key} must be a string, not {}",
                pyjson::type_name(other)
            )),
        }
    };
    let block = |key: &str| -> Result<Option<Value>, String> {
        Ok(job.settings.get(key).filter(|v| !v.is_null()).cloned())
    };
    let profiling_config = block("profiling_config")?
        .map(|v| {
            serde_json::from_value::<ProfilingConfig>(v)
                .map_err(|e| format!("profiling_config: {e}"))
        })
        .transpose()?;
    let tls_config = block("tls_config")?
        .map(|v| serde_json::from_value::<TlsConfig>(v).map_err(|e| format!("tls_config: {e}")))
        .transpose()?;
    let static_configs = job
        .static_configs
        .iter()
        .map(|sc| StaticConfig {
            targets: sc.targets.clone(),
            labels: sc
                .labels()
                .iter()
                .map(|(k, v)| (k.clone(), label_text(v)))
                .collect(),
        })
        .collect();
    Ok(ScrapeConfig {
        job_name: job.job_name.clone(),
        params: None,
        scrape_interval: text("scrape_interval")?,
        scrape_timeout: text("scrape_timeout")?,
        scheme: text("scheme")?,
        profiling_config,
        tls_config,
        relabel_configs: job
            .relabel_configs
            .iter()
            .map(|r| RelabelRule::from(*r))
            .collect(),
        static_configs,
        http_sd_configs: Vec::new(),
    })
}

/// A label value as Parca reads it: text (numbers and booleans as written in YAML).
fn label_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => pyjson::dumps(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixes::FixSet;
    use crate::interfaces::parca_scrape::render_jobs;
    use crate::model::{RelationId, RelationSnapshot};

    fn relation(jobs: &str) -> RelationSnapshot {
        RelationSnapshot {
            id: RelationId::new("profiling-endpoint", 1),
            remote_app: "zinc".into(),
            app: [
                ("scrape_jobs".to_owned(), jobs.to_owned()),
                (
                    "scrape_metadata".to_owned(),
                    r#"{"model": "cos", "model_uuid": "3cdca972-b819-4f03-8d90-9c7a36d234c9", "application": "zinc", "charm_name": "zinc-k8s"}"#.to_owned(),
                ),
            ]
            .into(),
            units: [(
                "zinc/0".to_owned(),
                [("parca_scrape_unit_address".to_owned(), "10.0.0.1".to_owned())].into(),
            )]
            .into(),
        }
    }

    #[test]
    fn unknown_keys_in_provider_blocks_drop_only_that_job() {
        let jobs = r#"[{"static_configs": [{"targets": ["*:1"]}], "job_name": "a", "tls_config": {"ca": "PEM", "bogus": 1}},
                       {"static_configs": [{"targets": ["*:2"]}], "job_name": "b", "profiling_config": {"path_prefix": "/p"}}]"#;
        let out = render_jobs(&[relation(jobs)], FixSet::ALL);
        let rendered = render_config(&ObjectStorage::default(), &out.jobs);
        assert_eq!(rendered.config.scrape_configs.len(), 1);
        assert_eq!(
            rendered.config.scrape_configs[0].job_name,
            "cos_3cdca972_zinc_b"
        );
        assert_eq!(rendered.dropped.len(), 1);
        assert!(
            rendered.dropped[0].reason.contains("unknown field `bogus`"),
            "{}",
            rendered.dropped[0].reason
        );
        // The YAML reads back into the same typed config (it is what Parca will decode).
        let back: ParcaConfig = serde_saphyr::from_str(&rendered.yaml).unwrap();
        assert_eq!(back, rendered.config);
    }

    #[test]
    fn label_values_become_text() {
        assert_eq!(label_text(&serde_json::json!(3)), "3");
        assert_eq!(label_text(&serde_json::json!(true)), "true");
        assert_eq!(label_text(&serde_json::json!("café")), "café");
    }
}
