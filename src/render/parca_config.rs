//! A typed model of `parca.yaml` (parca.md A.2–A.6) and its rendering from scrape jobs.
//!
//! Keys Parca does not know cannot be represented, so they cannot be emitted (Parca decodes
//! strictly and rejects the whole file for one unknown key). Provider-supplied blocks
//! (`tls_config`, `profiling_config`) are decoded into these types with unknown fields refused;
//! a job that does not fit is dropped with the reason, and the rest of the file still renders.

use crate::interfaces::parca_scrape::{RelabelConfig, ScrapeJob};
use crate::model::{Labels, Rejection, RejectionKind, Scope};
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
    /// The jobs. A null item loads in Parca but crashes it; it is kept here to be reported.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
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

/// One `scrape_configs` entry: every key of parca.md A.3 and A.5, nothing else.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScrapeConfig {
    /// Unique job name (Parca: `job_name is empty` when missing).
    #[serde(default)]
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
    /// Samples are already address-normalised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normalized_addresses: Option<bool>,
    /// Which profiles to scrape.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profiling_config: Option<ProfilingConfig>,
    /// Relabel rules (a null item is an error in Parca, kept to be reported).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relabel_configs: Vec<Option<RelabelRule>>,
    /// Fixed targets (a null item is an error in Parca, kept to be reported).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub static_configs: Vec<Option<StaticConfig>>,
    /// Targets discovered over HTTP (the broker's `/sd/v1/<job>`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub http_sd_configs: Vec<HttpSdConfig>,
    /// Kubernetes discovery.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kubernetes_sd_configs: Vec<KubernetesSdConfig>,
    /// File discovery.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub file_sd_configs: Vec<FileSdConfig>,
    /// DNS discovery.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_sd_configs: Vec<DnsSdConfig>,
    /// The other Prometheus discovery mechanisms Parca registers, kept as free-form objects.
    #[serde(flatten)]
    pub other_sd_configs: OtherSdConfigs,
    /// HTTP client settings (inlined, Parca's defaults: no redirects, no HTTP/2).
    #[serde(flatten)]
    pub http_client: HttpClientConfig,
}

/// The HTTP client block of prometheus/common, inlined into a scrape config (parca.md A.5).
/// `*_ref` fields are left out on purpose: Parca has no secret manager and silently scrapes
/// without authentication when they are used.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct HttpClientConfig {
    /// Basic authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
    /// `Authorization` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<Authorization>,
    /// OAuth 2.0 client credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth2: Option<OAuth2>,
    /// Bearer token (prefer `authorization`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token: Option<String>,
    /// Bearer token file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token_file: Option<String>,
    /// TLS client settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_config: Option<TlsConfig>,
    /// Follow redirects (Parca's default: false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_redirects: Option<bool>,
    /// Use HTTP/2 (Parca's default: false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_http2: Option<bool>,
    /// Proxy URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_url: Option<String>,
    /// Hosts not proxied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_proxy: Option<String>,
    /// Take the proxy from the environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_from_environment: Option<bool>,
    /// Headers for proxy CONNECT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_connect_header: Option<BTreeMap<String, Vec<String>>>,
    /// Extra request headers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_headers: Option<BTreeMap<String, HttpHeader>>,
}

/// `basic_auth`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    /// User name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// User name file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username_file: Option<String>,
    /// Password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Password file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<String>,
}

/// `authorization`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Authorization {
    /// Scheme, default `Bearer`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<String>,
    /// Credentials file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_file: Option<String>,
}

/// `oauth2`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuth2 {
    /// Client id (required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Client secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// Client secret file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_file: Option<String>,
    /// Scopes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// Token URL (required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_url: Option<String>,
    /// Extra token request parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_params: Option<BTreeMap<String, String>>,
    /// `client_credentials` or the JWT bearer grant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_type: Option<String>,
}

/// One `http_headers` entry.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpHeader {
    /// Plain values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<String>>,
    /// Secret values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets: Option<Vec<String>>,
    /// Values read from files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<Vec<String>>,
}

/// `kubernetes_sd_configs` entry.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesSdConfig {
    /// pod, service, endpoints, endpointslice, node, ingress.
    #[serde(default)]
    pub role: String,
    /// API server URL (default: in-cluster).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_server: Option<String>,
    /// kubeconfig file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubeconfig_file: Option<String>,
    /// Namespaces to watch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<KubernetesNamespaces>,
    /// Label / field selectors per role.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub selectors: Vec<KubernetesSelector>,
    /// Extra metadata (e.g. `{node: true}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attach_metadata: Option<BTreeMap<String, bool>>,
    /// HTTP client settings for the API server.
    #[serde(flatten)]
    pub http_client: HttpClientConfig,
}

/// `namespaces` of a Kubernetes SD config.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesNamespaces {
    /// Names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
    /// Watch the pod's own namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub own_namespace: Option<bool>,
}

/// A Kubernetes selector.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesSelector {
    /// Role it applies to.
    #[serde(default)]
    pub role: String,
    /// Label selector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Field selector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// `file_sd_configs` entry.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSdConfig {
    /// File patterns (`*.json`, `*.yml`, `*.yaml`).
    #[serde(default)]
    pub files: Vec<String>,
    /// Re-read interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_interval: Option<String>,
}

/// `dns_sd_configs` entry.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsSdConfig {
    /// Names to resolve.
    #[serde(default)]
    pub names: Vec<String>,
    /// SRV (default), A, AAAA, MX, NS.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Port (required except for SRV).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Re-resolve interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_interval: Option<String>,
}

impl OtherSdConfigs {
    /// The mechanisms that are set, by key name.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &Vec<BTreeMap<String, PlainValue>>)> {
        [
            ("azure_sd_configs", &self.azure_sd_configs),
            ("consul_sd_configs", &self.consul_sd_configs),
            ("digitalocean_sd_configs", &self.digitalocean_sd_configs),
            ("docker_sd_configs", &self.docker_sd_configs),
            ("dockerswarm_sd_configs", &self.dockerswarm_sd_configs),
            ("ec2_sd_configs", &self.ec2_sd_configs),
            ("eureka_sd_configs", &self.eureka_sd_configs),
            ("gce_sd_configs", &self.gce_sd_configs),
            ("hetzner_sd_configs", &self.hetzner_sd_configs),
            ("ionos_sd_configs", &self.ionos_sd_configs),
            ("kuma_sd_configs", &self.kuma_sd_configs),
            ("lightsail_sd_configs", &self.lightsail_sd_configs),
            ("linode_sd_configs", &self.linode_sd_configs),
            ("marathon_sd_configs", &self.marathon_sd_configs),
            ("nerve_sd_configs", &self.nerve_sd_configs),
            ("nomad_sd_configs", &self.nomad_sd_configs),
            ("openstack_sd_configs", &self.openstack_sd_configs),
            ("ovhcloud_sd_configs", &self.ovhcloud_sd_configs),
            ("puppetdb_sd_configs", &self.puppetdb_sd_configs),
            ("scaleway_sd_configs", &self.scaleway_sd_configs),
            ("serverset_sd_configs", &self.serverset_sd_configs),
            ("stackit_sd_configs", &self.stackit_sd_configs),
            ("triton_sd_configs", &self.triton_sd_configs),
            ("uyuni_sd_configs", &self.uyuni_sd_configs),
            ("vultr_sd_configs", &self.vultr_sd_configs),
        ]
        .into_iter()
        .filter_map(|(name, list)| list.as_ref().map(|l| (name, l)))
    }
}

/// The other discovery mechanisms: lists of free-form objects (checked only to be non-empty).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct OtherSdConfigs {
    /// Azure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure_sd_configs: Option<Vec<BTreeMap<String, PlainValue>>>,
    /// Consul.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consul_sd_configs: Option<Vec<BTreeMap<String, PlainValue>>>,
    /// DigitalOcean.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digitalocean_sd_configs: Option<Vec<BTreeMap<String, PlainValue>>>,
    /// Docker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker_sd_configs: Option<Vec<BTreeMap<String, PlainValue>>>,
    /// Docker Swarm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dockerswarm_sd_configs: Option<Vec<BTreeMap<String, PlainValue>>>,
    /// EC2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ec2_sd_configs: Option<Vec<BTreeMap<String, PlainValue>>>,
    /// Eureka.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eureka_sd_configs: Option<Vec<BTreeMap<String, PlainValue>>>,
    /// GCE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gce_sd_configs: Option<Vec<BTreeMap<String, PlainValue>>>,
    /// Hetzner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hetzner_sd_configs: Option<Vec<BTreeMap<String, PlainValue>>>,
    /// IONOS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ionos_sd_configs: Option<Vec<BTreeMap<String, PlainValue>>>,
    /// Kuma.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kuma_sd_configs: Option<Vec<BTreeMap<String, PlainValue>>>,
    /// Lightsail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lightsail_sd_configs: Option<Vec<BTreeMap<String, PlainValue>>>,
    /// Linode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linode_sd_configs: Option<Vec<BTreeMap<String, PlainValue>>>,
    /// Marathon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marathon_sd_configs: Option<Vec<BTreeMap<String, PlainValue>>>,
    /// Nerve.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nerve_sd_configs: Option<Vec<BTreeMap<String, PlainValue>>>,
    /// Nomad.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nomad_sd_configs: Option<Vec<BTreeMap<String, PlainValue>>>,
    /// OpenStack.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub openstack_sd_configs: Option<Vec<BTreeMap<String, PlainValue>>>,
    /// OVHcloud.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ovhcloud_sd_configs: Option<Vec<BTreeMap<String, PlainValue>>>,
    /// PuppetDB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub puppetdb_sd_configs: Option<Vec<BTreeMap<String, PlainValue>>>,
    /// Scaleway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scaleway_sd_configs: Option<Vec<BTreeMap<String, PlainValue>>>,
    /// Serverset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serverset_sd_configs: Option<Vec<BTreeMap<String, PlainValue>>>,
    /// STACKIT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stackit_sd_configs: Option<Vec<BTreeMap<String, PlainValue>>>,
    /// Triton.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub triton_sd_configs: Option<Vec<BTreeMap<String, PlainValue>>>,
    /// Uyuni.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uyuni_sd_configs: Option<Vec<BTreeMap<String, PlainValue>>>,
    /// Vultr.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vultr_sd_configs: Option<Vec<BTreeMap<String, PlainValue>>>,
}

/// `profiling_config`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfilingConfig {
    /// Prepended to every profile path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_prefix: Option<String>,
    /// Profile name → settings (a null entry crashes Parca; kept to be reported).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pprof_config: Option<BTreeMap<String, Option<PprofProfile>>>,
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
    /// N for delta profiles (Parca truncates floats).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<PlainValue>,
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
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelabelRule {
    /// Labels joined (an explicit empty list matters for labeldrop/labelkeep).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_labels: Option<Vec<String>>,
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
    /// For hashmod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modulus: Option<u64>,
    /// Action (default `replace`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
}

impl From<RelabelConfig> for RelabelRule {
    fn from(rule: RelabelConfig) -> Self {
        RelabelRule {
            source_labels: Some(rule.source_labels.iter().map(|s| (*s).to_owned()).collect()),
            separator: Some(rule.separator.to_owned()),
            regex: Some(rule.regex.to_owned()),
            target_label: Some(rule.target_label.to_owned()),
            replacement: None,
            modulus: None,
            action: None,
        }
    }
}

/// A static target group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticConfig {
    /// `host:port` targets (shared with the rendered job they come from).
    pub targets: std::sync::Arc<[String]>,
    /// Labels (values are text in Parca).
    #[serde(default, skip_serializing_if = "Labels::is_empty")]
    pub labels: Labels,
}

/// An `http_sd_configs` entry.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct HttpSdConfig {
    /// The discovery URL (http or https).
    pub url: String,
    /// How often to refresh (default 60s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_interval: Option<String>,
    /// HTTP client settings for the discovery request.
    #[serde(flatten)]
    pub http_client: HttpClientConfig,
}

/// The rendered file and what was left out of it.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedConfig {
    /// The typed config.
    pub config: ParcaConfig,
    /// The YAML text (deterministic: same input, same bytes).
    pub yaml: String,
    /// Jobs left out (unrepresentable, or rejected by Parca's rules: F8), with the reason.
    pub dropped: Vec<Rejection>,
    /// Problems with the file as a whole (the base config); when any, it must not be written.
    pub problems: Vec<super::validate::Problem>,
}

/// How relation jobs list their targets.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Discovery {
    /// `static_configs` in the file: unit churn rewrites parca.yaml.
    #[default]
    Static,
    /// `http_sd_configs` pointing at the broker's `/sd/v1/<job>`: unit churn changes only what
    /// the broker serves, and parca.yaml stays the same.
    HttpSd {
        /// The broker's base URL, e.g. `http://10.0.0.5:7075`.
        base_url: String,
    },
}

/// Builds `parca.yaml`: the base config (object storage and its own jobs, kept first), then the
/// relation jobs that Parca would accept (F8). Job names must already be unique, base names
/// included ([`crate::interfaces::parca_scrape::consumer::make_job_names_unique`]); a
/// duplicate left over is a whole-file problem.
pub fn render_config(
    base: &ParcaConfig,
    jobs: &[ScrapeJob],
    discovery: &Discovery,
) -> RenderedConfig {
    let mut dropped = Vec::new();
    let mut scrape_configs = base.scrape_configs.clone();
    for job in jobs {
        let reject = |reason: String, kind| Rejection {
            relation: job.relation.clone(),
            app: job.app.clone(),
            job: Some(job.job_name.clone()),
            unit: None,
            key: "scrape_jobs".into(),
            scope: Scope::Job,
            kind,
            reason,
        };
        let config = match scrape_config(job, discovery) {
            Ok(config) => config,
            Err(reason) => {
                dropped.push(reject(reason, RejectionKind::WrongType));
                continue;
            }
        };
        let problems = super::validate::job_problems(&config);
        if !problems.is_empty() {
            dropped.push(reject(problems.join("; "), RejectionKind::ParcaRule));
            continue;
        }
        scrape_configs.push(config);
    }
    let config = ParcaConfig {
        object_storage: base.object_storage.clone(),
        scrape_configs,
    };
    // Relation jobs were checked one by one above; the base jobs (first) and the whole-file
    // rules remain.
    let mut problems =
        super::validate::jobs_problems(&config.scrape_configs[..base.scrape_configs.len()]);
    problems.extend(super::validate::file_problems(&config));
    // Writing fails only for a map key over YAML's 1,024-character key limit (a bucket
    // setting or a header name of the base config); then nothing is written.
    let yaml = super::yaml::to_string(&config).unwrap_or_else(|err| {
        problems.push(super::validate::Problem {
            location: "parca.yaml".into(),
            message: format!("cannot be serialised: {err}"),
        });
        String::new()
    });
    RenderedConfig {
        config,
        yaml,
        dropped,
        problems,
    }
}

/// The broker's discovery URL for `job` (the name percent-encoded as one path segment).
pub fn sd_url(base_url: &str, job: &str) -> String {
    let encoded: String = job
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect();
    format!("{}/sd/v1/{encoded}", base_url.trim_end_matches('/'))
}

fn http_sd(base_url: &str, job: &str) -> HttpSdConfig {
    HttpSdConfig {
        url: sd_url(base_url, job),
        refresh_interval: Some("30s".into()),
        http_client: HttpClientConfig::default(),
    }
}

/// One job → its typed scrape config, or why it cannot be one.
fn scrape_config(job: &ScrapeJob, discovery: &Discovery) -> Result<ScrapeConfig, String> {
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
    // With http_sd the targets are the service's to serve: none are built here.
    let (static_configs, http_sd_configs) = match discovery {
        Discovery::Static => {
            let static_configs = job
                .static_configs
                .iter()
                .zip(job.label_sets(label_text))
                .map(|(sc, labels)| {
                    Some(StaticConfig {
                        targets: sc.targets.clone(),
                        labels,
                    })
                })
                .collect();
            (static_configs, Vec::new())
        }
        Discovery::HttpSd { base_url } => (Vec::new(), vec![http_sd(base_url, &job.job_name)]),
    };
    Ok(ScrapeConfig {
        job_name: job.job_name.clone(),
        http_sd_configs,
        scrape_interval: text("scrape_interval")?,
        scrape_timeout: text("scrape_timeout")?,
        scheme: text("scheme")?,
        profiling_config,
        relabel_configs: job
            .relabel_configs
            .iter()
            .map(|r| Some(RelabelRule::from(*r)))
            .collect(),
        static_configs,
        http_client: HttpClientConfig {
            tls_config,
            ..Default::default()
        },
        ..Default::default()
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
        let base = ParcaConfig {
            object_storage: ObjectStorage::default(),
            scrape_configs: Vec::new(),
        };
        let rendered = render_config(&base, &out.jobs, &Discovery::Static);
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
