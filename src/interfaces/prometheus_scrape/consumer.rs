//! What Prometheus renders from a `prometheus_scrape` provider's data
//! (`MetricsEndpointConsumer`, `prometheus_scrape.md` §9). We are only a provider of this
//! interface; this side exists to check that what we publish becomes the jobs an operator
//! expects (conformance over the recorded consumer examples, and the real Prometheus test).
//! Pure.

use super::wire;
use crate::interfaces::topology::{ModelUuid, identifier, label_matchers};
use crate::model::Databag;
use crate::pyjson;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// One relation as the consumer sees it.
#[derive(Debug, Clone, Copy)]
pub struct ConsumerRelation<'a> {
    /// The consumer's endpoint name, e.g. `metrics-endpoint`.
    pub name: &'a str,
    /// The relation id.
    pub id: u64,
    /// The provider's app bag.
    pub app: &'a Databag,
    /// The provider's units → their bags.
    pub units: &'a BTreeMap<String, Databag>,
}

/// The scrape jobs and rule files Prometheus would load.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rendered {
    /// Jobs, sorted by name (as recorded).
    pub jobs: Vec<Value>,
    /// Rule file name (`<identifier>_<relation name>_<id>`) → `{"groups": [...]}`.
    pub alerts: Map<String, Value>,
}

/// A provider's data the consumer cannot use (the Python consumer raises).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("relation {relation}: {reason}")]
pub struct ConsumerError {
    /// The relation id.
    pub relation: u64,
    /// What is wrong.
    pub reason: String,
}

/// Renders every relation's jobs and rules. `fallback_scrape_protocol` is added to every job
/// when given (the Prometheus 3 charm does).
pub fn render(
    relations: &[ConsumerRelation<'_>],
    fallback_scrape_protocol: Option<&str>,
) -> Result<Rendered, ConsumerError> {
    let mut rendered = Rendered::default();
    for relation in relations {
        let error = |reason: String| ConsumerError {
            relation: relation.id,
            reason,
        };
        if relation.units.is_empty() {
            continue;
        }
        let decode = |key: &str, default: &str| -> Result<Value, ConsumerError> {
            let text = relation.app.get(key).map_or(default, String::as_str);
            pyjson::loads(text).map_err(|e| error(format!("{key}: {e}")))
        };
        let metadata = decode(wire::SCRAPE_METADATA, "{}")?;
        let topology = match &metadata {
            Value::Object(m) if !m.is_empty() => Some(Topology::from_metadata(m).map_err(error)?),
            _ => None,
        };
        if let Value::Object(groups) = decode(wire::ALERT_RULES, "{}")?
            && !groups.is_empty()
            && let Some(topology) = &topology
        {
            let name = format!("{}_{}_{}", topology.identifier, relation.name, relation.id);
            rendered.alerts.insert(name, Value::Object(groups));
        }
        let Value::Array(jobs) = decode(wire::SCRAPE_JOBS, "[]")? else {
            return Err(error("scrape_jobs is not a list".into()));
        };
        let Some(topology) = topology else {
            rendered.jobs.extend(jobs);
            continue;
        };
        let prefix = format!("juju_{}_prometheus_scrape", topology.identifier);
        let hosts = unit_hosts(relation.units);
        let mut jobs: Vec<Value> = jobs
            .into_iter()
            .enumerate()
            .map(|(i, job)| {
                let mut job = wire::sanitize_job(i, &job).map_err(|e| error(e.to_string()))?;
                let name = match job.get("job_name").and_then(pyjson::py_str) {
                    Some(name) => format!("{prefix}_{name}"),
                    None => prefix.clone(),
                };
                job.insert("job_name".into(), Value::String(name));
                Ok(expand(&job, &hosts, &topology))
            })
            .collect::<Result<Vec<Vec<Value>>, ConsumerError>>()?
            .into_iter()
            .flatten()
            .collect();
        dedupe_job_names(&mut jobs);
        rendered.jobs.extend(jobs);
    }
    dedupe_job_names(&mut rendered.jobs);
    if let Some(protocol) = fallback_scrape_protocol {
        for job in &mut rendered.jobs {
            if let Value::Object(job) = job {
                job.insert("fallback_scrape_protocol".into(), json!(protocol));
            }
        }
    }
    rendered.jobs.sort_by(|a, b| job_name(a).cmp(job_name(b)));
    Ok(rendered)
}

fn job_name(job: &Value) -> &str {
    job.get("job_name").and_then(Value::as_str).unwrap_or("")
}

struct Topology {
    identifier: String,
    labels: Map<String, Value>,
}

impl Topology {
    fn from_metadata(m: &Map<String, Value>) -> Result<Topology, String> {
        let get = |k: &str| m.get(k).cloned().unwrap_or(Value::Null);
        let uuid_text = pyjson::py_str(&get("model_uuid")).unwrap_or_default();
        let uuid = ModelUuid::parse(&uuid_text).map_err(|e| e.to_string())?;
        Ok(Topology {
            identifier: identifier(&get("model"), &uuid, &get("application")),
            labels: label_matchers(
                &get("model"),
                &uuid,
                &get("application"),
                &get("charm_name"),
            ),
        })
    }
}

struct UnitHost {
    name: String,
    address: String,
    path: String,
    fqdn: String,
}

/// Units with an address and a name (others are ignored), in relation-list order.
fn unit_hosts(units: &BTreeMap<String, Databag>) -> Vec<UnitHost> {
    units
        .iter()
        .filter_map(|(juju_name, bag)| {
            let address = bag
                .get(wire::UNIT_ADDRESS)
                .or_else(|| bag.get(wire::LEGACY_UNIT_HOST))?;
            let name = bag.get(wire::UNIT_NAME).unwrap_or(juju_name);
            Some(UnitHost {
                name: name.clone(),
                address: address.clone(),
                path: bag.get(wire::UNIT_PATH).cloned().unwrap_or_default(),
                fqdn: bag.get(wire::UNIT_FQDN).cloned().unwrap_or_default(),
            })
        })
        .collect()
}

/// The host part of a fully-qualified target, parsed like a URL authority.
fn target_host(target: &str) -> String {
    let authority = target.split_once("://").map_or(target, |(_, rest)| rest);
    let authority = authority.split(['/', '?', '#']).next().unwrap_or("");
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or("").to_lowercase();
    }
    authority
        .rsplit_once(':')
        .map_or(authority, |(h, _)| h)
        .to_lowercase()
}

fn is_wildcard(target: &str) -> bool {
    target.starts_with('*')
}

/// One job per unit for wildcard targets and for targets naming a unit (by address or FQDN);
/// the remaining targets in one application job.
fn expand(job: &Map<String, Value>, hosts: &[UnitHost], topology: &Topology) -> Vec<Value> {
    let Some(Value::Array(static_configs)) = job.get("static_configs") else {
        return Vec::new();
    };
    let mut per_unit = Vec::new();
    let mut app_configs = Vec::new();
    for config in static_configs {
        let Some(Value::Array(targets)) = config.get("targets") else {
            continue;
        };
        let targets: Vec<&str> = targets.iter().filter_map(Value::as_str).collect();
        let wildcards: Vec<&str> = targets.iter().copied().filter(|t| is_wildcard(t)).collect();
        let mut unmatched = Vec::new();
        let mut matched: Vec<(usize, &str)> = Vec::new();
        for target in targets.iter().copied().filter(|t| !is_wildcard(t)) {
            let host = target_host(target);
            match hosts
                .iter()
                .position(|h| h.address == host || (!h.fqdn.is_empty() && h.fqdn == host))
            {
                Some(unit) => matched.push((unit, target)),
                None => unmatched.push(target),
            }
        }
        for (index, host) in hosts.iter().enumerate() {
            let mine: Vec<String> = matched
                .iter()
                .filter(|(unit, _)| *unit == index)
                .map(|(_, t)| (*t).to_owned())
                .collect();
            if !mine.is_empty() {
                per_unit.push(unit_job(job, config, mine, host, topology));
            }
            if !wildcards.is_empty() {
                let expanded = wildcards
                    .iter()
                    .map(|t| t.replace('*', &host.address))
                    .collect();
                per_unit.push(unit_job(job, config, expanded, host, topology));
            }
        }
        if !unmatched.is_empty() {
            let mut config = config.as_object().cloned().unwrap_or_default();
            config.insert("targets".into(), json!(unmatched));
            let user = config.shift_remove("labels");
            config.insert("labels".into(), merged_labels(&topology.labels, None, user));
            app_configs.push(Value::Object(config));
        }
    }
    let mut out = Vec::new();
    if !app_configs.is_empty() {
        let mut app_job = job.clone();
        app_job.insert("static_configs".into(), Value::Array(app_configs));
        let path = job
            .get("metrics_path")
            .filter(|p| pyjson::is_truthy(p))
            .cloned();
        app_job.insert("metrics_path".into(), path.unwrap_or(json!("/metrics")));
        push_relabel(
            &mut app_job,
            &["juju_model", "juju_model_uuid", "juju_application"],
        );
        out.push(Value::Object(app_job));
    }
    out.extend(per_unit);
    out
}

fn unit_job(
    job: &Map<String, Value>,
    config: &Value,
    targets: Vec<String>,
    host: &UnitHost,
    topology: &Topology,
) -> Value {
    let mut unit_job = job.clone();
    let mut config = config.as_object().cloned().unwrap_or_default();
    config.insert("targets".into(), json!(targets));
    let user = config.shift_remove("labels");
    config.insert(
        "labels".into(),
        merged_labels(&topology.labels, Some(&host.name), user),
    );
    unit_job.insert("static_configs".into(), json!([config]));
    let number = host.name.rsplit('/').next().unwrap_or("");
    let name = format!("{}-{number}", job_name(&Value::Object(job.clone())));
    unit_job.insert("job_name".into(), Value::String(name));
    let path = job
        .get("metrics_path")
        .filter(|p| pyjson::is_truthy(p))
        .and_then(pyjson::py_str)
        .unwrap_or_else(|| "/metrics".to_owned());
    // Plain concatenation, no slash handling (Q10).
    unit_job.insert("metrics_path".into(), json!(format!("{}{path}", host.path)));
    push_relabel(
        &mut unit_job,
        &[
            "juju_model",
            "juju_model_uuid",
            "juju_application",
            "juju_unit",
        ],
    );
    Value::Object(unit_job)
}

/// Topology labels (and `juju_unit`), then the job's own labels, which win.
fn merged_labels(topology: &Map<String, Value>, unit: Option<&str>, user: Option<Value>) -> Value {
    let mut labels = topology.clone();
    if let Some(unit) = unit {
        labels.insert("juju_unit".into(), json!(unit));
    }
    if let Some(Value::Object(user)) = user {
        labels.extend(user);
    }
    Value::Object(labels)
}

fn push_relabel(job: &mut Map<String, Value>, sources: &[&str]) {
    let rule = json!({"source_labels": sources, "separator": "_", "target_label": "instance", "regex": "(.*)"});
    match job.get_mut("relabel_configs") {
        Some(Value::Array(rules)) => rules.push(rule),
        _ => {
            job.insert("relabel_configs".into(), json!([rule]));
        }
    }
}

/// Jobs sharing a name get `_<sha256 of the job's json.dumps>` (as it is, before renaming);
/// exact duplicates are dropped.
fn dedupe_job_names(jobs: &mut Vec<Value>) {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for job in jobs.iter() {
        *counts.entry(job_name(job).to_owned()).or_default() += 1;
    }
    let mut out: Vec<Value> = Vec::with_capacity(jobs.len());
    for mut job in jobs.drain(..) {
        if counts.get(job_name(&job)).copied().unwrap_or(0) > 1 {
            let hash = hex(&Sha256::digest(pyjson::dumps(&job).as_bytes()));
            let name = format!("{}_{hash}", job_name(&job));
            if let Value::Object(map) = &mut job {
                map.insert("job_name".into(), Value::String(name));
            }
        }
        if !out.contains(&job) {
            out.push(job);
        }
    }
    *jobs = out;
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
