//! The `parca_scrape` consumer: every related provider's jobs → scrape jobs with one target
//! per unit and Juju topology labels (protocol.md §3).
//!
//! Pure: relation snapshots in, jobs and rejections out. With all fixes on (the default) no
//! input can make it fail: a bad job drops that job, bad relation data drops that relation,
//! each with a [`Rejection`] naming relation, app and key (F6). With fixes turned off it
//! reproduces the Python library, which the conformance runner uses to prove each fix.

use super::wire;
use crate::fixes::{Fix, FixSet};
use crate::interfaces::topology::{self, ModelUuid};
use crate::model::limits;
use crate::model::{
    Host, Labels, Rejection, RejectionKind, RelationId, RelationSnapshot, Scope, Target,
    unit_number,
};
use crate::pyjson;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// One static_config of a rendered job.
#[derive(Debug, Clone, PartialEq)]
pub struct StaticConfig {
    /// `host:port` targets, shared with the typed parca.yaml and the service's view built
    /// from them (three copies per unit otherwise; issue 9).
    pub targets: Arc<[String]>,
    /// Provider labels merged with the topology labels (values as the provider sent them),
    /// shared by every entry of one provider static_config. A unit entry's full label set adds
    /// `juju_unit`; see [`StaticConfig::labels`].
    pub common_labels: Arc<Map<String, Value>>,
    /// The unit these targets belong to; `None` for the provider's fixed targets.
    pub unit: Option<Arc<str>>,
}

/// A Prometheus relabel rule. The consumer only ever emits the `instance` rule, in one of two
/// shapes, so it is static data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelabelConfig {
    /// Labels whose values are joined.
    pub source_labels: &'static [&'static str],
    /// Joiner.
    pub separator: &'static str,
    /// Label written.
    pub target_label: &'static str,
    /// Regex applied to the joined value.
    pub regex: &'static str,
}

impl RelabelConfig {
    /// `instance` = `<model>_<uuid>_<app>`, for jobs without unit entries.
    pub const INSTANCE: RelabelConfig = RelabelConfig {
        source_labels: &["juju_model", "juju_model_uuid", "juju_application"],
        separator: "_",
        target_label: "instance",
        regex: "(.*)",
    };

    /// `instance` = `<model>_<uuid>_<app>_<unit>`, for jobs with unit entries.
    pub const INSTANCE_WITH_UNIT: RelabelConfig = RelabelConfig {
        source_labels: &[
            "juju_model",
            "juju_model_uuid",
            "juju_application",
            "juju_unit",
        ],
        ..RelabelConfig::INSTANCE
    };

    fn to_python_json(self) -> Value {
        json!({"source_labels": self.source_labels, "separator": self.separator,
               "target_label": self.target_label, "regex": self.regex})
    }
}

/// One rendered scrape job.
#[derive(Debug, Clone, PartialEq)]
pub struct ScrapeJob {
    /// The final, unique job name.
    pub job_name: String,
    /// The relation it came from.
    pub relation: RelationId,
    /// The remote application.
    pub app: String,
    /// The provider's own job name (before prefixing), if it gave one.
    pub provider_job_name: Option<String>,
    /// Fixed targets first, then one entry per unit, per provider static_config.
    pub static_configs: Vec<StaticConfig>,
    /// The sanitised provider job (allowed keys, provider order); its `static_configs` and
    /// `job_name` are superseded by the fields above. Holds `scheme`, `scrape_interval`,
    /// `scrape_timeout`, `profiling_config`, `tls_config` as the provider sent them.
    pub settings: Map<String, Value>,
    /// The `instance` relabel rule.
    pub relabel_configs: Vec<RelabelConfig>,
}

impl ScrapeJob {
    /// The job as the Python library returns it from `jobs()`, key order included.
    pub fn to_python_json(&self) -> Value {
        let mut out = Map::new();
        for (key, value) in &self.settings {
            let value = match key.as_str() {
                "static_configs" => Value::Array(
                    self.static_configs
                        .iter()
                        .map(StaticConfig::to_python_json)
                        .collect(),
                ),
                "job_name" => Value::String(self.job_name.clone()),
                _ => value.clone(),
            };
            out.insert(key.clone(), value);
        }
        out.insert("job_name".into(), Value::String(self.job_name.clone()));
        out.insert(
            "relabel_configs".into(),
            self.relabel_configs
                .iter()
                .map(|r| r.to_python_json())
                .collect(),
        );
        Value::Object(out)
    }

    /// Each static_config's full label set (as [`StaticConfig::labels`]), in order, values as
    /// `text` writes them. A provider map shared by many unit entries is converted once, and
    /// each unit entry only adds its `juju_unit`, sharing the text: 5,000 units cost 5,000
    /// small lists, not 70,000 strings (issue 9, P2).
    pub fn label_sets<'a>(
        &'a self,
        text: impl Fn(&Value) -> String + 'a,
    ) -> impl Iterator<Item = Labels> + 'a {
        let juju_unit: Arc<str> = Arc::from("juju_unit");
        let mut converted: Vec<(&Arc<Map<String, Value>>, Labels)> = Vec::new();
        self.static_configs.iter().map(move |sc| {
            let known = converted
                .iter()
                .position(|(map, _)| Arc::ptr_eq(map, &sc.common_labels));
            let index = known.unwrap_or_else(|| {
                let labels = sc
                    .common_labels
                    .iter()
                    .map(|(k, v)| (k.as_str(), text(v)))
                    .collect();
                converted.push((&sc.common_labels, labels));
                converted.len() - 1
            });
            let common = &converted[index].1;
            match &sc.unit {
                Some(unit) => common.with(&juju_unit, unit),
                None => common.clone(),
            }
        })
    }

    /// Every target of the job with its labels, unit entries included.
    pub fn targets(&self) -> impl Iterator<Item = (&str, &StaticConfig)> {
        self.static_configs
            .iter()
            .flat_map(|sc| sc.targets.iter().map(move |t| (t.as_str(), sc)))
    }
}

impl StaticConfig {
    /// The entry's full label set in order: the common labels, plus `juju_unit` for a unit
    /// entry (set in place if the provider sent its own `juju_unit`, as Python's `dict.update`
    /// does, Q-C8). Built on demand, so rendering shares one label map per provider
    /// static_config instead of copying it for every unit.
    pub fn labels(&self) -> Map<String, Value> {
        let mut labels = (*self.common_labels).clone();
        if let Some(unit) = &self.unit {
            labels.insert("juju_unit".into(), Value::String(unit.to_string()));
        }
        labels
    }

    fn to_python_json(&self) -> Value {
        let mut out = Map::new();
        // Python builds unit entries as {labels, targets} and fixed ones as {targets, labels}.
        if self.unit.is_some() {
            out.insert("labels".into(), Value::Object(self.labels()));
            out.insert("targets".into(), json!(self.targets));
        } else {
            out.insert("targets".into(), json!(self.targets));
            out.insert("labels".into(), Value::Object(self.labels()));
        }
        Value::Object(out)
    }
}

/// Everything the consumer made of the relations.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConsumerOutput {
    /// Rendered jobs, relation by relation (ordered by relation id), each relation's in order.
    pub jobs: Vec<ScrapeJob>,
    /// What was dropped and why, in the order found.
    pub rejections: Vec<Rejection>,
    /// Only with F5 off: raw jobs passed through unchanged, with the index in `jobs` they come
    /// before (the Python library's behaviour without metadata).
    pub passthrough: Vec<(usize, Value)>,
    /// The identity each rendered relation claims in `scrape_metadata` (for F14).
    pub claims: Vec<Claim>,
    /// Job keys the protocol drops (sanitising), once per relation and key: they have no
    /// effect, as with the Python library, but a provider's author can see why.
    pub ignored: Vec<IgnoredKey>,
}

/// A job key dropped by sanitising (not one of the parca_scrape keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoredKey {
    /// The relation.
    pub relation: RelationId,
    /// The remote application.
    pub app: String,
    /// The key, e.g. `relabel_configs`.
    pub key: String,
    /// The first job (index in `scrape_jobs`) that had it.
    pub first_job: usize,
}

impl std::fmt::Display for IgnoredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} (app {}): scrape_jobs[{}].{}: ignored, not a parca_scrape job key (kept: {})",
            self.relation,
            self.app,
            self.first_job,
            self.key,
            wire::ALLOWED_KEYS.join(", ")
        )
    }
}

/// The application a relation's `scrape_metadata` says it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The relation.
    pub relation: RelationId,
    /// The remote application as Juju names it here (an alias across models).
    pub remote_app: String,
    /// The claimed model UUID.
    pub model_uuid: String,
    /// The claimed application.
    pub application: String,
}

impl ConsumerOutput {
    /// The job list as the Python library's `jobs()` returns it.
    pub fn to_python_jobs(&self) -> Vec<Value> {
        let mut out = Vec::with_capacity(self.jobs.len() + self.passthrough.len());
        let mut raw = self.passthrough.iter().peekable();
        for (i, job) in self.jobs.iter().enumerate() {
            while let Some((_, value)) = raw.next_if(|(at, _)| *at == i) {
                out.push(value.clone());
            }
            out.push(job.to_python_json());
        }
        out.extend(raw.map(|(_, value)| value.clone()));
        out
    }

    /// The first rejection the Python library would have raised on (F6 off means "crash").
    pub fn python_exception(&self) -> Option<(&'static str, &Rejection)> {
        self.rejections
            .iter()
            .find_map(|r| r.kind.python_exception().map(|exc| (exc, r)))
    }
}

/// Below this many relations, rendering stays on the calling thread (threads cost more than
/// they save).
const PARALLEL_MIN_RELATIONS: usize = 256;

/// Renders the jobs of all `relations` (in any order; the output is ordered by relation id).
/// Large inputs are split across the available cores; the output is the same either way.
pub fn render_jobs(relations: &[RelationSnapshot], fixes: FixSet) -> ConsumerOutput {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    render_jobs_with(relations, fixes, workers)
}

/// [`render_jobs`] with at most `workers` threads (1 = on the calling thread).
pub fn render_jobs_with(
    relations: &[RelationSnapshot],
    fixes: FixSet,
    workers: usize,
) -> ConsumerOutput {
    let mut ordered: Vec<&RelationSnapshot> = relations.iter().collect();
    ordered.sort_by(|a, b| a.id.cmp(&b.id));
    // Python mode (F6 off) stops at the first error, which needs one sequential pass.
    let parallel = workers > 1 && ordered.len() >= PARALLEL_MIN_RELATIONS && fixes.has(Fix::F6);
    let mut out = if parallel {
        let chunk = ordered.len().div_ceil(workers);
        let mut chunks = ordered.chunks(chunk);
        let first = chunks.next().unwrap_or_default();
        let parts: Vec<ConsumerOutput> = std::thread::scope(|scope| {
            // The calling thread renders the first chunk while the others run.
            let handles: Vec<_> = chunks
                .map(|part| scope.spawn(move || render_in_order(part, fixes)))
                .collect();
            let mut parts = vec![render_in_order(first, fixes)];
            parts.extend(handles.into_iter().map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            }));
            parts
        });
        let mut merged = ConsumerOutput::default();
        for part in parts {
            let offset = merged.jobs.len();
            merged.jobs.extend(part.jobs);
            merged.rejections.extend(part.rejections);
            merged.claims.extend(part.claims);
            merged.ignored.extend(part.ignored);
            merged.passthrough.extend(
                part.passthrough
                    .into_iter()
                    .map(|(at, job)| (at + offset, job)),
            );
        }
        merged
    } else {
        render_in_order(&ordered, fixes)
    };
    if fixes.has(Fix::F14) {
        drop_impersonators(&mut out);
    }
    if fixes.has(Fix::F4) {
        make_job_names_unique(&mut out.jobs, &std::collections::BTreeSet::new());
    }
    out
}

/// F14: of the relations claiming one application (model UUID and name), one keeps it: the
/// relation whose remote application has that very name (the app itself; across models Juju
/// may show an alias, so a different name alone proves nothing), else the lowest relation id.
/// The others are dropped with a report naming the relation that has the identity, so no
/// relation can take over another's job names or `juju_application` labels.
fn drop_impersonators(out: &mut ConsumerOutput) {
    let mut by_identity: BTreeMap<(&str, &str), Vec<&Claim>> = BTreeMap::new();
    for claim in &out.claims {
        by_identity
            .entry((claim.model_uuid.as_str(), claim.application.as_str()))
            .or_default()
            .push(claim);
    }
    let mut losers: Vec<(RelationId, Rejection)> = Vec::new();
    for ((_, application), claims) in by_identity {
        if claims.len() < 2 {
            continue;
        }
        let owner = claims
            .iter()
            .find(|c| c.remote_app == application)
            .or_else(|| claims.iter().min_by(|a, b| a.relation.cmp(&b.relation)))
            .map(|c| (*c).clone());
        let Some(owner) = owner else { continue };
        for claim in claims.into_iter().filter(|c| c.relation != owner.relation) {
            losers.push((
                claim.relation.clone(),
                Rejection {
                    relation: claim.relation.clone(),
                    app: claim.remote_app.clone(),
                    job: None,
                    unit: None,
                    key: format!("{}.application", wire::SCRAPE_METADATA),
                    scope: Scope::Relation,
                    kind: RejectionKind::Conflict,
                    reason: format!(
                        "claims application {application:?}, which {} (app {}) is; only one relation may be an application",
                        owner.relation, owner.remote_app
                    ),
                },
            ));
        }
    }
    for (relation, rejection) in losers {
        out.jobs.retain(|job| job.relation != relation);
        out.claims.retain(|claim| claim.relation != relation);
        out.rejections.push(rejection);
    }
    // A unit may not name itself as a unit of another related application: its `juju_unit`
    // label would put its profiles under that application's unit.
    let claimed: BTreeMap<&RelationId, &str> = out
        .claims
        .iter()
        .map(|c| (&c.relation, c.application.as_str()))
        .collect();
    let others: BTreeMap<&str, &RelationId> = out
        .claims
        .iter()
        .map(|c| (c.application.as_str(), &c.relation))
        .collect();
    let mut reported: std::collections::BTreeSet<(RelationId, String)> = Default::default();
    let mut rejections = Vec::new();
    for job in &mut out.jobs {
        let own = claimed.get(&job.relation).copied().unwrap_or_default();
        job.static_configs.retain(|sc| {
            let Some(unit) = sc.unit.as_deref() else {
                return true;
            };
            let app = unit.rsplit_once('/').map_or(unit, |(app, _)| app);
            let Some(owner) = others.get(app).filter(|_| app != own) else {
                return true;
            };
            if reported.insert((job.relation.clone(), unit.to_owned())) {
                rejections.push(Rejection {
                    relation: job.relation.clone(),
                    app: job.app.clone(),
                    job: None,
                    unit: Some(unit.to_owned()),
                    key: wire::UNIT_NAME.into(),
                    scope: Scope::Unit,
                    kind: RejectionKind::Conflict,
                    reason: format!(
                        "{unit:?} is a unit name of application {app:?}, which {owner} is; left out"
                    ),
                });
            }
            false
        });
    }
    out.rejections.extend(rejections);
}

/// Renders relations already in order, one after the other.
fn render_in_order(ordered: &[&RelationSnapshot], fixes: FixSet) -> ConsumerOutput {
    let mut out = ConsumerOutput::default();
    for relation in ordered {
        let mut ctx = RelationCtx {
            relation,
            fixes,
            rejections: &mut out.rejections,
            claims: &mut out.claims,
            ignored: &mut out.ignored,
        };
        match ctx.render() {
            Rendered::Jobs(jobs) => out.jobs.extend(jobs),
            Rendered::Passthrough(raw) => out
                .passthrough
                .extend(raw.into_iter().map(|job| (out.jobs.len(), job))),
            Rendered::Dropped => {}
        }
        if !fixes.has(Fix::F6) && out.python_exception().is_some() {
            // The Python library raises out of jobs(): nothing renders at all.
            out.jobs.clear();
            out.passthrough.clear();
            return out;
        }
    }
    out
}

enum Rendered {
    Jobs(Vec<ScrapeJob>),
    Passthrough(Vec<Value>),
    Dropped,
}

/// The remote topology as decoded from `scrape_metadata`.
struct RemoteTopology {
    /// The claimed model UUID and application (F14).
    model_uuid: String,
    application: String,
    identifier: String,
    labels: Vec<(&'static str, Value)>,
}

/// A unit that can be scraped: the name used in `juju_unit` and its address.
struct UnitHost {
    name: Arc<str>,
    address: String,
}

struct RelationCtx<'a> {
    relation: &'a RelationSnapshot,
    fixes: FixSet,
    rejections: &'a mut Vec<Rejection>,
    claims: &'a mut Vec<Claim>,
    ignored: &'a mut Vec<IgnoredKey>,
}

impl RelationCtx<'_> {
    fn reject(&mut self, scope: Scope, kind: RejectionKind, key: String, reason: String) {
        self.reject_in(scope, kind, None, None, key, reason);
    }

    fn reject_in(
        &mut self,
        scope: Scope,
        kind: RejectionKind,
        job: Option<&str>,
        unit: Option<&str>,
        key: String,
        reason: String,
    ) {
        self.rejections.push(Rejection {
            relation: self.relation.id.clone(),
            app: self.relation.remote_app.clone(),
            job: job.map(str::to_owned),
            unit: unit.map(str::to_owned),
            key,
            scope,
            kind,
            reason,
        });
    }

    /// Decodes a JSON app-databag value; a missing key reads as `default` (as in Python).
    fn decode_app_json(&mut self, key: &str, default: &str) -> Option<Value> {
        let text = self.relation.app_value(key).unwrap_or(default);
        match pyjson::loads(text) {
            Ok(value) => Some(value),
            Err(err) => {
                self.reject(
                    Scope::Relation,
                    RejectionKind::InvalidJson,
                    key.to_owned(),
                    format!("invalid JSON: {err}"),
                );
                None
            }
        }
    }

    fn render(&mut self) -> Rendered {
        // No remote units yet: nothing to scrape, even fixed targets (Q-C9, kept).
        if self.relation.units.is_empty() {
            return Rendered::Dropped;
        }
        let app_bytes = limits::bag_bytes(&self.relation.app);
        if app_bytes > limits::MAX_APP_BAG_BYTES && self.fixes.has(Fix::F6) {
            self.reject(
                Scope::Relation,
                RejectionKind::OverLimit,
                "app databag".into(),
                format!(
                    "{app_bytes} bytes, over the limit of {} bytes",
                    limits::MAX_APP_BAG_BYTES
                ),
            );
            return Rendered::Dropped;
        }
        let Some(jobs) = self.decode_app_json(wire::SCRAPE_JOBS, "[]") else {
            return Rendered::Dropped;
        };
        if jobs.is_null() && self.fixes.has(Fix::F6) {
            // `"null"` is not "no jobs": the provider published something that is not a list.
            self.reject_not_a_list(&jobs);
            return Rendered::Dropped;
        }
        if !pyjson::is_truthy(&jobs) {
            return Rendered::Dropped;
        }
        let metadata_text = self
            .relation
            .app_value(wire::SCRAPE_METADATA)
            .unwrap_or("{}");
        let metadata = match wire::decode_metadata(metadata_text) {
            Ok(metadata) => metadata,
            Err(err) => {
                self.reject(
                    Scope::Relation,
                    RejectionKind::InvalidJson,
                    wire::SCRAPE_METADATA.into(),
                    format!("invalid JSON: {err}"),
                );
                return Rendered::Dropped;
            }
        };
        if !metadata.is_truthy() {
            if self.fixes.has(Fix::F5) {
                self.reject(
                    Scope::Relation,
                    RejectionKind::MissingMetadata,
                    wire::SCRAPE_METADATA.into(),
                    "missing; scrape_jobs cannot be labelled or expanded without it".into(),
                );
                return Rendered::Dropped;
            }
            return match jobs {
                Value::Array(raw) => Rendered::Passthrough(raw),
                other => {
                    self.reject_not_a_list(&other);
                    Rendered::Dropped
                }
            };
        }
        let Some(topology) = self.decode_topology(&metadata) else {
            return Rendered::Dropped;
        };
        self.claims.push(Claim {
            relation: self.relation.id.clone(),
            remote_app: self.relation.remote_app.clone(),
            model_uuid: topology.model_uuid.clone(),
            application: topology.application.clone(),
        });
        let hosts = self.hosts();
        let Value::Array(mut jobs) = jobs else {
            self.reject_not_a_list(&jobs);
            return Rendered::Dropped;
        };
        if jobs.len() > limits::MAX_JOBS_PER_RELATION && self.fixes.has(Fix::F6) {
            self.reject(
                Scope::Job,
                RejectionKind::OverLimit,
                format!(
                    "{}[{}..{}]",
                    wire::SCRAPE_JOBS,
                    limits::MAX_JOBS_PER_RELATION,
                    jobs.len()
                ),
                format!(
                    "{} jobs, over the limit of {} per relation; the jobs after it are dropped",
                    jobs.len(),
                    limits::MAX_JOBS_PER_RELATION
                ),
            );
            jobs.truncate(limits::MAX_JOBS_PER_RELATION);
        }
        let rendered = jobs
            .into_iter()
            .enumerate()
            .filter_map(|(index, job)| self.render_job(index, job, &topology, &hosts))
            .collect();
        Rendered::Jobs(rendered)
    }

    fn reject_not_a_list(&mut self, jobs: &Value) {
        // Python iterates the value: a string or object yields strings (then `.items()` fails),
        // a number or `true` is not iterable.
        let kind = match jobs {
            Value::String(_) | Value::Object(_) => RejectionKind::NotAnObject,
            _ => RejectionKind::NotIterable,
        };
        self.reject(
            Scope::Relation,
            kind,
            wire::SCRAPE_JOBS.into(),
            format!("must be a list of jobs, not {}", pyjson::type_name(jobs)),
        );
    }

    fn decode_topology(&mut self, metadata: &wire::Metadata) -> Option<RemoteTopology> {
        let key = wire::SCRAPE_METADATA;
        let fields = match metadata {
            wire::Metadata::Object(fields) => fields,
            wire::Metadata::Other(other) => {
                self.reject(
                    Scope::Relation,
                    RejectionKind::WrongType,
                    key.into(),
                    format!("must be an object, not {}", pyjson::type_name(other)),
                );
                return None;
            }
        };
        let mut required = |name: &str, value: &Option<Value>| {
            let value = value.clone();
            if value.is_none() {
                self.reject(
                    Scope::Relation,
                    RejectionKind::MissingKey,
                    format!("{key}.{name}"),
                    "missing".into(),
                );
            }
            value
        };
        let (model, uuid, application) = (
            required("model", &fields.model)?,
            required("model_uuid", &fields.model_uuid)?,
            required("application", &fields.application)?,
        );
        let Value::String(uuid_text) = &uuid else {
            self.reject(
                Scope::Relation,
                RejectionKind::NotAString,
                format!("{key}.model_uuid"),
                format!("must be a string, not {}", pyjson::type_name(&uuid)),
            );
            return None;
        };
        let uuid = match ModelUuid::parse(uuid_text) {
            Ok(uuid) => uuid,
            Err(err) => {
                self.reject(
                    Scope::Relation,
                    RejectionKind::InvalidUuid,
                    format!("{key}.model_uuid"),
                    format!("{err} (a canonical lower-case v4 UUID is required)"),
                );
                return None;
            }
        };
        for (name, value) in [("model", &model), ("application", &application)] {
            // A number or null would be printed into job names (`123_…`, `None_…`) and leave
            // the label out (F6): only a string names a model or an application.
            let wrong = if self.fixes.has(Fix::F6) {
                !matches!(value, Value::String(_))
            } else {
                matches!(value, Value::Array(_) | Value::Object(_))
            };
            if wrong {
                self.reject(
                    Scope::Relation,
                    RejectionKind::WrongType,
                    format!("{key}.{name}"),
                    format!("must be a string, not {}", pyjson::type_name(value)),
                );
                return None;
            }
        }
        let charm = fields.charm_name.clone().unwrap_or(Value::from(""));
        Some(RemoteTopology {
            model_uuid: uuid.as_str().to_owned(),
            application: pyjson::py_str(&application).unwrap_or_default(),
            identifier: topology::identifier(&model, &uuid, &application),
            labels: topology::label_matcher_pairs(&model, &uuid, &application, &charm),
        })
    }

    /// The scrapeable units: name → address, in unit-number order (F1). Units without an
    /// address have not published yet and are skipped silently, as in Python.
    fn hosts(&mut self) -> Vec<UnitHost> {
        let relation = self.relation;
        let mut units: Vec<(&String, &crate::model::Databag)> = relation.units.iter().collect();
        if self.fixes.has(Fix::F1) {
            // F1: unit-number order here gives every static_config its unit entries in that order.
            units.sort_by_cached_key(|(name, _)| (unit_number(name), name.as_str()));
        }
        let mut hosts: Vec<UnitHost> = Vec::with_capacity(units.len());
        let mut seen: HashMap<&str, usize> = HashMap::with_capacity(units.len());
        for (juju_name, bag) in units {
            let bytes = limits::bag_bytes(bag);
            if bytes > limits::MAX_UNIT_BAG_BYTES && self.fixes.has(Fix::F6) {
                self.reject_in(
                    Scope::Unit,
                    RejectionKind::OverLimit,
                    None,
                    Some(juju_name),
                    "unit databag".into(),
                    format!(
                        "{bytes} bytes, over the limit of {} bytes",
                        limits::MAX_UNIT_BAG_BYTES
                    ),
                );
                continue;
            }
            let name = crate::model::bag_value(bag, wire::UNIT_NAME).unwrap_or(juju_name);
            let Some(raw) = crate::model::bag_value(bag, wire::UNIT_ADDRESS)
                .or_else(|| crate::model::bag_value(bag, wire::LEGACY_UNIT_HOST))
            else {
                continue;
            };
            let address = if self.fixes.has(Fix::F3) {
                match Host::classify(raw) {
                    // Only IPv6 needs re-printing (brackets); names and IPv4 are kept as sent.
                    Ok(Some(ip @ std::net::IpAddr::V6(_))) => Host::Ip(ip).to_string(),
                    Ok(_) => raw.to_owned(),
                    Err(err) => {
                        self.reject_in(
                            Scope::Unit,
                            RejectionKind::BadAddress,
                            None,
                            Some(juju_name),
                            wire::UNIT_ADDRESS.into(),
                            format!("{} (an address without a port is expected)", err),
                        );
                        continue;
                    }
                }
            } else {
                raw.to_owned()
            };
            // By name: a linear search here made a relation of K units cost O(K²).
            match seen.get(name).map(|&i| &mut hosts[i]) {
                Some(existing) if self.fixes.has(Fix::F1) => {
                    let kept = existing.address.clone();
                    self.reject_in(
                        Scope::Unit,
                        RejectionKind::DuplicateUnit,
                        None,
                        Some(juju_name),
                        wire::UNIT_NAME.into(),
                        format!("name {name:?} is already used by a lower-numbered unit ({kept}); left out"),
                    );
                }
                // Python's dict keyed by name: the last unit wins, at the first one's position.
                Some(existing) => existing.address = address,
                None => {
                    seen.insert(name, hosts.len());
                    hosts.push(UnitHost {
                        name: Arc::from(name),
                        address,
                    });
                }
            }
        }
        hosts
    }

    fn render_job(
        &mut self,
        index: usize,
        job: Value,
        topology: &RemoteTopology,
        hosts: &[UnitHost],
    ) -> Option<ScrapeJob> {
        // Keys name the place in the data; built only when something is reported.
        let key = || format!("{}[{index}]", wire::SCRAPE_JOBS);
        if let Value::Object(fields) = &job {
            for name in fields.keys() {
                let already = self
                    .ignored
                    .iter()
                    .any(|i| i.relation == self.relation.id && &i.key == name);
                if !wire::ALLOWED_KEYS.contains(&name.as_str()) && !already {
                    self.ignored.push(IgnoredKey {
                        relation: self.relation.id.clone(),
                        app: self.relation.remote_app.clone(),
                        key: name.clone(),
                        first_job: index,
                    });
                }
            }
        }
        let settings = match wire::sanitize_owned_job(job) {
            Ok(settings) => settings,
            Err(err) => {
                self.reject(
                    Scope::Job,
                    RejectionKind::NotAnObject,
                    key(),
                    err.to_string(),
                );
                return None;
            }
        };
        let provider_name = match settings.get("job_name") {
            Some(name) if pyjson::is_truthy(name) => match pyjson::py_str(name) {
                Some(text) => Some(text),
                None => {
                    self.reject(
                        Scope::Job,
                        RejectionKind::WrongType,
                        format!("{}.job_name", key()),
                        format!("must be a string, not {}", pyjson::type_name(name)),
                    );
                    return None;
                }
            },
            _ => None,
        };
        let job_name = match &provider_name {
            Some(name) => format!("{}_{}", topology.identifier, name),
            None => topology.identifier.clone(),
        };
        let job_label = provider_name.as_deref().unwrap_or(&topology.identifier);
        let static_configs: &[Value] = match settings.get("static_configs") {
            Some(Value::Array(list)) => list,
            Some(other) => {
                let kind = match other {
                    Value::String(_) | Value::Object(_) => RejectionKind::NotAnObject,
                    _ => RejectionKind::NotIterable,
                };
                self.reject_in(
                    Scope::Job,
                    kind,
                    Some(job_label),
                    None,
                    format!("{}.static_configs", key()),
                    format!("must be a list, not {}", pyjson::type_name(other)),
                );
                return None;
            }
            None => &[], // unreachable: sanitising always sets static_configs
        };
        let mut rendered = Vec::new();
        let mut any_unit_config = false;
        for (sc_index, sc) in static_configs.iter().enumerate() {
            let sc_key = || format!("{}.static_configs[{sc_index}]", key());
            let SplitConfig {
                fixed,
                wildcards,
                labels,
            } = self.split_static_config(sc, &sc_key, job_label)?;
            let mut common = labels;
            for (k, v) in &topology.labels {
                common.insert((*k).to_owned(), v.clone());
            }
            let common = Arc::new(common);
            if !fixed.is_empty() {
                rendered.push(StaticConfig {
                    targets: fixed.into(),
                    common_labels: Arc::clone(&common),
                    unit: None,
                });
            }
            // Without a wildcard there is nothing per unit to scrape (F2; Python emits the bare
            // unit address, Q-C2).
            if wildcards.is_empty() && self.fixes.has(Fix::F2) {
                continue;
            }
            for host in hosts {
                let targets: Arc<[String]> = if wildcards.is_empty() {
                    Arc::from([host.address.clone()])
                } else {
                    wildcards
                        .iter()
                        .map(|w| unit_target(&host.address, w))
                        .collect()
                };
                rendered.push(StaticConfig {
                    targets,
                    common_labels: Arc::clone(&common),
                    unit: Some(Arc::clone(&host.name)),
                });
                any_unit_config = true;
            }
        }
        let targets: usize = rendered.iter().map(|sc| sc.targets.len()).sum();
        if targets > limits::MAX_TARGETS_PER_JOB && self.fixes.has(Fix::F6) {
            self.reject_in(
                Scope::Job,
                RejectionKind::OverLimit,
                Some(job_label),
                None,
                key(),
                format!(
                    "{targets} targets, over the limit of {} per job",
                    limits::MAX_TARGETS_PER_JOB
                ),
            );
            return None;
        }
        Some(ScrapeJob {
            job_name,
            relation: self.relation.id.clone(),
            app: self.relation.remote_app.clone(),
            provider_job_name: provider_name,
            static_configs: rendered,
            settings,
            relabel_configs: vec![if any_unit_config {
                RelabelConfig::INSTANCE_WITH_UNIT
            } else {
                RelabelConfig::INSTANCE
            }],
        })
    }

    /// Splits one static_config into fixed targets, wildcard ports and its labels. `None` drops
    /// the job (the static_config has the wrong shape); a bad target drops only that target.
    fn split_static_config(
        &mut self,
        sc: &Value,
        sc_key: &dyn Fn() -> String,
        job: &str,
    ) -> Option<SplitConfig> {
        let Value::Object(sc) = sc else {
            self.reject_in(
                Scope::Job,
                RejectionKind::NotAnObject,
                Some(job),
                None,
                sc_key(),
                format!("must be an object, not {}", pyjson::type_name(sc)),
            );
            return None;
        };
        let labels = match sc.get("labels") {
            None => Map::new(),
            Some(Value::Object(labels)) if self.fixes.has(Fix::F6) => {
                let oversized = labels.iter().find(|(name, value)| {
                    name.len() > limits::MAX_LABEL_BYTES
                        || value.as_str().map_or(0, str::len) > limits::MAX_LABEL_BYTES
                });
                if let Some((name, value)) = oversized {
                    let size = name.len().max(value.as_str().map_or(0, str::len));
                    let shown: String = name.chars().take(40).collect();
                    self.reject_in(
                        Scope::Job,
                        RejectionKind::OverLimit,
                        Some(job),
                        None,
                        format!("{}.labels", sc_key()),
                        format!(
                            "label {shown:?}: {size} bytes, over the limit of {} bytes for a label name or value",
                            limits::MAX_LABEL_BYTES
                        ),
                    );
                    return None;
                }
                labels.clone()
            }
            Some(Value::Object(labels)) => labels.clone(),
            Some(other) => {
                self.reject_in(
                    Scope::Job,
                    RejectionKind::NotAnObject,
                    Some(job),
                    None,
                    format!("{}.labels", sc_key()),
                    format!("must be an object, not {}", pyjson::type_name(other)),
                );
                return None;
            }
        };
        let targets: &[Value] = match sc.get("targets") {
            None => &[],
            Some(Value::Array(targets)) => targets,
            Some(other) => {
                self.reject_in(
                    Scope::Job,
                    RejectionKind::NotIterable,
                    Some(job),
                    None,
                    format!("{}.targets", sc_key()),
                    format!("must be a list, not {}", pyjson::type_name(other)),
                );
                return None;
            }
        };
        let mut fixed = Vec::new();
        let mut wildcards = Vec::new();
        for (t_index, target) in targets.iter().enumerate() {
            let t_key = || format!("{}.targets[{t_index}]", sc_key());
            let Value::String(text) = target else {
                self.reject_in(
                    Scope::Target,
                    RejectionKind::NotAString,
                    Some(job),
                    None,
                    t_key(),
                    format!("must be a string, not {}", pyjson::type_name(target)),
                );
                continue;
            };
            if !self.fixes.has(Fix::F3) {
                // Python: `host, port = target.split(":")`.
                match text.split(':').collect::<Vec<_>>()[..] {
                    [host, port] if host.trim() == "*" => {
                        wildcards.push(format!(":{}", port.trim()))
                    }
                    [_, _] => fixed.push(text.clone()),
                    _ => self.reject_in(
                        Scope::Target,
                        RejectionKind::BadTarget,
                        Some(job),
                        None,
                        t_key(),
                        format!("{text:?} is not host:port"),
                    ),
                }
                continue;
            }
            match Target::parse(text) {
                // F15: Parca's scrape loop refuses an address with a `/` ("is not a valid
                // hostname"), so the target would silently never be scraped.
                Ok(Target::Fixed { path, .. } | Target::Wildcard { path, .. })
                    if self.fixes.has(Fix::F15) && !path.is_empty() =>
                {
                    self.reject_in(
                        Scope::Target,
                        RejectionKind::BadTarget,
                        Some(job),
                        None,
                        t_key(),
                        format!(
                            "{text:?} has a path ({path}); Parca cannot scrape an address with a path: use the job's profiling_config.path_prefix"
                        ),
                    )
                }
                Ok(Target::Fixed { addr, path }) => fixed.push(format!("{addr}{path}")),
                Ok(wildcard) => wildcards.extend(wildcard.unit_suffix()),
                Err(err) => self.reject_in(
                    Scope::Target,
                    RejectionKind::BadTarget,
                    Some(job),
                    None,
                    t_key(),
                    err.to_string(),
                ),
            }
        }
        Some(SplitConfig {
            fixed,
            wildcards,
            labels,
        })
    }
}

/// One provider static_config, split: fixed targets, wildcard targets, and its labels.
struct SplitConfig {
    fixed: Vec<String>,
    /// Each wildcard target's suffix after the unit address.
    wildcards: Vec<String>,
    labels: Map<String, Value>,
}

/// A unit's target: its address followed by a wildcard's suffix (`:port[/path]`).
fn unit_target(address: &str, suffix: &str) -> String {
    let mut target = String::with_capacity(address.len() + suffix.len());
    target.push_str(address);
    target.push_str(suffix);
    target
}

/// F4: jobs whose names collide, with each other or with a `reserved` name (jobs of a base
/// config), all get `_<hash>` of their provider-side content, which is the same on every unit
/// and every run and independent of the order relations are seen in.
pub fn make_job_names_unique(
    jobs: &mut [ScrapeJob],
    reserved: &std::collections::BTreeSet<String>,
) {
    let mut seen = std::collections::HashSet::with_capacity(jobs.len());
    let clash = |name: &str| reserved.contains(name);
    if jobs
        .iter()
        .all(|job| !clash(&job.job_name) && seen.insert(job.job_name.as_str()))
    {
        return; // the usual case: nothing collides
    }
    let mut order: Vec<usize> = (0..jobs.len()).collect();
    order.sort_by(|a, b| jobs[*a].job_name.cmp(&jobs[*b].job_name));
    let colliding: Vec<Vec<usize>> = order
        .chunk_by(|a, b| jobs[*a].job_name == jobs[*b].job_name)
        .filter(|group| group.len() > 1 || clash(&jobs[group[0]].job_name))
        .map(<[usize]>::to_vec)
        .collect();
    let mut taken: std::collections::BTreeSet<String> = jobs
        .iter()
        .map(|j| j.job_name.clone())
        .chain(reserved.iter().cloned())
        .collect();
    for group in colliding {
        for i in group {
            let content = format!(
                "{}\n{}",
                jobs[i].app,
                pyjson::dumps(&Value::Object(jobs[i].settings.clone()))
            );
            let renamed = unique_name(&jobs[i].job_name, &content, &taken);
            taken.insert(renamed.clone());
            jobs[i].job_name = renamed;
        }
    }
}

/// `<name>_<hash of content>` (FNV-1a, 8 hex digits), with `_2`, `_3`, … appended while the
/// result is in `taken`. The same content gives the same name on every run and unit.
pub(crate) fn unique_name(
    name: &str,
    content: &str,
    taken: &std::collections::BTreeSet<String>,
) -> String {
    let base = format!("{name}_{:08x}", fnv1a32(content.as_bytes()));
    let mut candidate = base.clone();
    let mut n = 2;
    while taken.contains(&candidate) {
        candidate = format!("{base}_{n}");
        n += 1;
    }
    candidate
}

/// FNV-1a (32-bit): a fixed, documented hash, so suffixes never change between releases.
fn fnv1a32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5_u32, |hash, b| {
        (hash ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relation(jobs: &str, units: &[&str]) -> RelationSnapshot {
        RelationSnapshot {
            id: RelationId::new("profiling-endpoint", 1),
            remote_app: "a".into(),
            app: [
                (wire::SCRAPE_JOBS.to_owned(), jobs.to_owned()),
                (
                    wire::SCRAPE_METADATA.to_owned(),
                    r#"{"model": "m", "model_uuid": "3cdca972-b819-4f03-8d90-9c7a36d234c9", "application": "a"}"#
                        .to_owned(),
                ),
            ]
            .into(),
            units: units
                .iter()
                .map(|u| ((*u).to_owned(), [(wire::UNIT_ADDRESS.to_owned(), u.replace('/', "-"))].into()))
                .collect(),
        }
    }

    #[test]
    fn unit_entries_follow_unit_numbers_within_each_static_config() {
        // Two adjacent wildcard static_configs: each keeps its own entries together, each in
        // unit-number order (a/2 before a/10, which string order would reverse).
        let jobs = r#"[{"static_configs": [{"targets": ["*:1"]}, {"targets": ["*:2"]}]}]"#;
        let out = render_jobs(&[relation(jobs, &["a/10", "a/2"])], FixSet::ALL);
        let order: Vec<String> = out.jobs[0]
            .static_configs
            .iter()
            .map(|sc| format!("{}@{}", sc.unit.as_deref().unwrap_or("-"), sc.targets[0]))
            .collect();
        assert!(out.rejections.is_empty(), "{:?}", out.rejections);
        assert_eq!(
            order,
            ["a/2@a-2:1", "a/10@a-10:1", "a/2@a-2:2", "a/10@a-10:2"]
        );
    }
}
