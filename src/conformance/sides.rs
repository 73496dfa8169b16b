//! Vector input → calls into our library → output in the vector format, one function per side.
//! These adapters only translate; every decision is made by the interface code.

use super::Evaluation;
use crate::fixes::FixSet;
use crate::interfaces::parca_scrape::{
    self, CharmShape, PublishScope, ScrapeProvider, publish_scope,
};
use crate::interfaces::parca_store::{
    StoreEvent, StoreProvider, provider as store_provider, requirer,
};
use crate::interfaces::topology::{JujuTopology, ModelUuid};
use crate::interfaces::{RelationEvent, Trigger};
use crate::model::{Databag, RelationId, RelationSnapshot};
use serde_json::{Map, Value, json};

/// Relation ids the recorder used: scrape relations start at 100, store relations at 200.
const SCRAPE_FIRST_ID: u64 = 100;
const STORE_FIRST_ID: u64 = 200;

pub(super) fn evaluate(input: &Value, fixes: FixSet) -> Result<Evaluation, String> {
    let side = input
        .get("side")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match side {
        "consumer" => scrape_consumer(input, fixes),
        "provider" if input.get("port").is_some() => store_provider_side(input, fixes),
        "provider" => scrape_provider(input),
        "requirer" => store_requirer(input, fixes),
        other => Err(format!("unknown side {other:?}")),
    }
}

fn plain(output: Value) -> Evaluation {
    Evaluation {
        output,
        reports: Vec::new(),
        python_exceptions: Vec::new(),
        not_compared: Vec::new(),
    }
}

fn error_output(key: &str, exception: &str, message: String) -> Value {
    json!({key: {"type": exception, "message": message}})
}

fn str_field<'a>(input: &'a Value, key: &str) -> Option<&'a str> {
    input.get(key).and_then(Value::as_str)
}

fn event(input: &Value) -> Option<&str> {
    str_field(input, "event")
}

fn relation_event(name: &str) -> Option<RelationEvent> {
    Some(match name {
        "relation_created" => RelationEvent::Created,
        "relation_joined" => RelationEvent::Joined,
        "relation_changed" => RelationEvent::Changed,
        "relation_departed" => RelationEvent::Departed,
        "relation_broken" => RelationEvent::Broken,
        _ => return None,
    })
}

fn trigger(name: &str) -> Trigger {
    match name {
        "relation_joined" => Trigger::RelationJoined,
        "relation_changed" => Trigger::RelationChanged,
        "upgrade_charm" => Trigger::UpgradeCharm,
        "leader_elected" => Trigger::LeaderElected,
        "update_status" => Trigger::UpdateStatus,
        "pebble_ready" => Trigger::PebbleReady,
        _ => Trigger::Other,
    }
}

/// A JSON object of strings → a databag.
fn databag(value: Option<&Value>) -> Result<Databag, String> {
    let Some(Value::Object(map)) = value else {
        return Ok(Databag::new());
    };
    map.iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k.clone(), s.clone())),
            other => Err(format!("databag value {k} is not a string: {other}")),
        })
        .collect()
}

fn scrape_consumer(input: &Value, fixes: FixSet) -> Result<Evaluation, String> {
    let event = event(input);
    let relations = input
        .get("relations")
        .and_then(Value::as_array)
        .ok_or("consumer input has no relations list")?;
    let mut snapshots = Vec::new();
    for (i, rel) in relations.iter().enumerate() {
        let remote_app = str_field(rel, "remote_app").unwrap_or("prov").to_owned();
        let mut snapshot = RelationSnapshot {
            id: RelationId::new("profiling-endpoint", SCRAPE_FIRST_ID + i as u64),
            remote_app: remote_app.clone(),
            app: databag(rel.get("app_data"))?,
            units: Default::default(),
        };
        if let Some(Value::Object(units)) = rel.get("units") {
            for (unit_id, bag) in units {
                snapshot
                    .units
                    .insert(format!("{remote_app}/{unit_id}"), databag(Some(bag))?);
            }
        }
        snapshots.push(snapshot);
    }
    // The event's relation is the first one; Juju hides a relation being broken.
    let event_relation = RelationId::new("profiling-endpoint", SCRAPE_FIRST_ID);
    let broken = event == Some("relation_broken");
    snapshots.retain(|s| !(broken && s.id == event_relation));

    let rendered = parca_scrape::render_jobs(&snapshots, fixes);
    let mut eval = Evaluation {
        output: Value::Null,
        reports: rendered
            .rejections
            .iter()
            .map(ToString::to_string)
            .collect(),
        python_exceptions: rendered
            .rejections
            .iter()
            .filter_map(|r| r.kind.python_exception())
            .collect(),
        not_compared: Vec::new(),
    };
    if !fixes.has(crate::fixes::Fix::F6)
        && let Some((exception, rejection)) = rendered.python_exception()
    {
        eval.output = error_output("error", exception, rejection.to_string());
        return Ok(eval);
    }
    let mut output = Map::new();
    output.insert("jobs".into(), Value::Array(rendered.to_python_jobs()));
    if let Some(name) = event {
        let mut emitted = vec![json!({"event": ops_event_class(name)})];
        let targets_changed = matches!(
            relation_event(name),
            Some(RelationEvent::Changed | RelationEvent::Departed)
        );
        if targets_changed {
            emitted.push(json!({"event": "TargetsChangedEvent", "relation_id": event_relation.id}));
        }
        output.insert("emitted".into(), Value::Array(emitted));
    }
    eval.output = Value::Object(output);
    Ok(eval)
}

/// `relation_changed` → `RelationChangedEvent` (the ops event that triggered the hook).
fn ops_event_class(name: &str) -> String {
    let camel: String = name
        .split('_')
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect::<String>())
                .unwrap_or_default()
        })
        .collect();
    format!("{camel}Event")
}

fn scrape_provider(input: &Value) -> Result<Evaluation, String> {
    let field = |key| str_field(input, key).ok_or(format!("provider input has no {key}"));
    let uuid = match ModelUuid::parse(field("model_uuid")?) {
        Ok(uuid) => uuid,
        Err(err) => {
            return Ok(plain(error_output(
                "error",
                "InvalidUUIDError",
                err.to_string(),
            )));
        }
    };
    let app = field("app")?;
    let unit = format!(
        "{app}/{}",
        input.get("unit_id").and_then(Value::as_u64).unwrap_or(0)
    );
    let topology = JujuTopology {
        model: field("model")?.to_owned(),
        model_uuid: uuid,
        application: app.to_owned(),
        unit: unit.clone(),
        charm_name: field("charm_name")?.to_owned(),
    };
    let explicit_update = input.get("update_scrape_job_spec").filter(|v| !v.is_null());
    let jobs = match explicit_update.or(input.get("jobs")) {
        Some(Value::Array(jobs)) => jobs.clone(),
        Some(Value::Null) | None => Vec::new(),
        Some(other) => return Err(format!("jobs must be a list or null, not {other}")),
    };
    let provider = match ScrapeProvider::new(&jobs) {
        Ok(provider) => provider,
        Err(err) => {
            let mut eval = plain(error_output("error", "AttributeError", err.to_string()));
            eval.reports.push(err.to_string());
            return Ok(eval);
        }
    };
    let shape = CharmShape {
        containers: input
            .get("containers")
            .and_then(Value::as_array)
            .map_or(0, Vec::len),
        podspec: input
            .get("series")
            .and_then(Value::as_array)
            .is_some_and(|s| s.iter().any(|v| v == "kubernetes")),
    };
    let scope = if explicit_update.is_some() {
        PublishScope::All // update_scrape_job_spec() publishes everything
    } else {
        publish_scope(trigger(event(input).unwrap_or("relation_joined")), shape)
    };
    let leader = input.get("leader").and_then(Value::as_bool).unwrap_or(true);
    let app_data = match scope {
        PublishScope::All if leader => provider.app_databag(&topology),
        _ => Databag::new(),
    };
    let unit_data = match scope {
        PublishScope::Nothing => Databag::new(),
        _ => ScrapeProvider::unit_databag(&unit, field("fqdn")?),
    };
    let n_relations = input
        .get("n_relations")
        .and_then(Value::as_u64)
        .unwrap_or(1);
    let relation = json!({"app_data": app_data, "unit_data": unit_data});
    Ok(plain(json!({
        "relations": vec![relation; n_relations as usize],
        "is_ready": n_relations > 0,
    })))
}

fn store_provider_side(input: &Value, fixes: FixSet) -> Result<Evaluation, String> {
    let provider = match StoreProvider::from_json(input) {
        Ok(provider) => provider,
        Err(err) => {
            let mut eval = plain(error_output(
                "error",
                "RelationDataTypeError",
                err.to_string(),
            ));
            eval.reports.push(err.to_string());
            return Ok(eval);
        }
    };
    let publishes = input
        .get("call_set_remote_store_connection_data")
        .and_then(Value::as_bool)
        .unwrap_or(false)
        || store_provider::publishes_on(trigger(event(input).unwrap_or("relation_joined")));
    // Scenario's default binding is 192.0.2.0 when the vector does not set one.
    let bind = match input.get("bind_address") {
        None => Some("192.0.2.0"),
        Some(value) => value.as_str(),
    };
    let leader = input.get("leader").and_then(Value::as_bool).unwrap_or(true);
    let fqdn = str_field(input, "fqdn").unwrap_or_default();
    let mut eval = plain(Value::Null);
    let app_data = if publishes {
        match provider.app_databag(leader, "parca/0", bind, fqdn, fixes) {
            Ok(Some(bag)) => bag,
            Ok(None) => {
                eval.reports
                    .push("not leader: app data left to the leader".into());
                Databag::new()
            }
            Err(err) => {
                eval.output = error_output("error", "RelationDataAccessError", err.to_string());
                return Ok(eval);
            }
        }
    } else {
        Databag::new()
    };
    eval.output = json!({"app_data": app_data, "unit_data": {}});
    Ok(eval)
}

fn store_requirer(input: &Value, fixes: FixSet) -> Result<Evaluation, String> {
    let endpoint = "parca-store-endpoint";
    let relations = input
        .get("relations")
        .and_then(Value::as_array)
        .ok_or("requirer input has no relations list")?;
    let snapshots = relations
        .iter()
        .enumerate()
        .map(|(i, bag)| {
            Ok(RelationSnapshot {
                id: RelationId::new(endpoint, STORE_FIRST_ID + i as u64),
                remote_app: format!("store{i}"),
                app: databag(Some(bag))?,
                units: Default::default(),
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let event = event(input).and_then(relation_event);
    let events = match (event, snapshots.first()) {
        (Some(kind), Some(first)) => requirer::events_for(kind, first),
        _ => Vec::new(),
    };
    let visible: Vec<RelationSnapshot> = snapshots
        .into_iter()
        .filter(|s| !(event == Some(RelationEvent::Broken) && s.id.id == STORE_FIRST_ID))
        .collect();
    let mut eval = plain(Value::Null);
    eval.not_compared = vec![
        "parca_k8s_command: the parca-k8s charm's command line, not the library (compared with our flags in tests/flags.rs)".into(),
        "parca_agent_flags_model: a model of the parca-agent charm and snap, not the library (compared in tests/flags.rs)".into(),
    ];
    let mut output = Map::new();
    match requirer::select(&visible, fixes) {
        Ok(selection) => {
            let config = selection
                .chosen
                .map(|(_, config)| store_config_json(&config))
                .unwrap_or_else(|| json!({}));
            output.insert("config".into(), config);
            eval.reports.extend(selection.conflict);
        }
        Err(err) => {
            output.insert(
                "config_error".into(),
                json!({"type": "TooManyRelatedAppsError", "message": err.to_string()}),
            );
        }
    }
    let events: Vec<Value> = events
        .iter()
        .map(|e| match e {
            StoreEvent::EndpointsChanged { relation, config } => json!({
                "event": "endpoints_changed",
                "relation_id": relation.id,
                "store_config": store_config_json(config),
            }),
            StoreEvent::RemoveStore { relation } => {
                json!({"event": "remove_store", "relation_id": relation.id})
            }
        })
        .collect();
    output.insert("events".into(), Value::Array(events));
    eval.output = Value::Object(output);
    Ok(eval)
}

fn store_config_json(config: &requirer::StoreConfig) -> Value {
    json!({
        "remote-store-address": config.address,
        "remote-store-bearer-token": config.token.expose(),
        "remote-store-insecure": config.insecure,
    })
}
