//! Juju topology (cosl `JujuTopology`, protocol.md §3.1): which model, application, unit and
//! charm a piece of data belongs to, the `<model>_<uuid8>_<app>` identifier, and the `juju_*`
//! label set. Pure.

use crate::pyjson;
use serde_json::{Map, Value};
use std::fmt;

/// A model UUID in the only form the Python side accepts: canonical, lower-case, version 4.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModelUuid(String);

impl ModelUuid {
    /// Validates exactly as cosl does: `str(uuid.UUID(v, version=4)) == v`, which holds only for
    /// the lower-case 8-4-4-4-12 form whose version nibble is `4` and variant nibble `8`–`b`.
    pub fn parse(text: &str) -> Result<ModelUuid, InvalidUuid> {
        let b = text.as_bytes();
        let shape_ok = b.len() == 36
            && b.iter().enumerate().all(|(i, c)| match i {
                8 | 13 | 18 | 23 => *c == b'-',
                _ => c.is_ascii_digit() || (b'a'..=b'f').contains(c),
            });
        if shape_ok && b[14] == b'4' && matches!(b[19], b'8' | b'9' | b'a' | b'b') {
            Ok(ModelUuid(text.to_owned()))
        } else {
            Err(InvalidUuid(text.to_owned()))
        }
    }

    /// The UUID text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 8 characters, used in job names.
    pub fn short(&self) -> &str {
        &self.0[..8]
    }
}

impl fmt::Display for ModelUuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A model UUID the Python side would reject; the message is cosl's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a valid UUID.")]
pub struct InvalidUuid(pub String);

/// The topology of the local charm (what a provider publishes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JujuTopology {
    /// Model name.
    pub model: String,
    /// Model UUID.
    pub model_uuid: ModelUuid,
    /// Application name.
    pub application: String,
    /// Unit name, e.g. `zinc/0`.
    pub unit: String,
    /// The charm's metadata name (not the application name).
    pub charm_name: String,
}

impl JujuTopology {
    /// `as_dict()`: ordered `model, model_uuid, application, unit, charm_name`.
    pub fn as_map(&self) -> Map<String, Value> {
        let mut map = Map::new();
        map.insert("model".into(), self.model.clone().into());
        map.insert("model_uuid".into(), self.model_uuid.as_str().into());
        map.insert("application".into(), self.application.clone().into());
        map.insert("unit".into(), self.unit.clone().into());
        map.insert("charm_name".into(), self.charm_name.clone().into());
        map
    }

    /// The `<model>_<uuid8>_<application>` identifier, `/` replaced by `_`.
    pub fn identifier(&self) -> String {
        identifier(
            &self.model.clone().into(),
            &self.model_uuid,
            &self.application.clone().into(),
        )
    }

    /// `juju_model`, `juju_model_uuid`, `juju_application`, `juju_charm`, empty ones left out.
    pub fn label_matchers(&self) -> Map<String, Value> {
        label_matchers(
            &self.model.clone().into(),
            &self.model_uuid,
            &self.application.clone().into(),
            &self.charm_name.clone().into(),
        )
    }
}

/// cosl's `identifier` over decoded values: `str()` of model, the UUID's first 8 characters and
/// the application, joined by `_`, then every `/` replaced by `_` (an empty model gives a leading
/// `_`). Non-scalar values print as JSON, which never happens with Juju's own data.
pub fn identifier(model: &Value, uuid: &ModelUuid, application: &Value) -> String {
    let text = |v: &Value| pyjson::py_str(v).unwrap_or_else(|| pyjson::dumps(v));
    format!("{}_{}_{}", text(model), uuid.short(), text(application)).replace('/', "_")
}

/// cosl's `label_matcher_dict` over decoded values: values are kept as they are (a number stays
/// a number) and falsy ones are left out.
pub fn label_matchers(
    model: &Value,
    uuid: &ModelUuid,
    application: &Value,
    charm_name: &Value,
) -> Map<String, Value> {
    label_matcher_pairs(model, uuid, application, charm_name)
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect()
}

/// [`label_matchers`] as ordered pairs with static keys (cheaper to merge into label maps).
pub fn label_matcher_pairs(
    model: &Value,
    uuid: &ModelUuid,
    application: &Value,
    charm_name: &Value,
) -> Vec<(&'static str, Value)> {
    let uuid = Value::String(uuid.as_str().to_owned());
    [
        ("juju_model", model),
        ("juju_model_uuid", &uuid),
        ("juju_application", application),
        ("juju_charm", charm_name),
    ]
    .into_iter()
    .filter(|(_, value)| pyjson::is_truthy(value))
    .map(|(key, value)| (key, value.clone()))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const UUID: &str = "3cdca972-b819-4f03-8d90-9c7a36d234c9";

    #[test]
    fn only_canonical_lowercase_v4_uuids_are_valid() {
        assert!(ModelUuid::parse(UUID).is_ok());
        for bad in [
            "3CDCA972-B819-4F03-8D90-9C7A36D234C9",
            "f2c1b2a6-e006-11eb-ba80-0242ac130004",
            "00000000-0000-0000-0000-000000000001",
            "3cdca972b8194f038d909c7a36d234c9",
            "{3cdca972-b819-4f03-8d90-9c7a36d234c9}",
            "3cdca972-b819-4f03-7d90-9c7a36d234c9",
        ] {
            let err = ModelUuid::parse(bad).unwrap_err();
            assert_eq!(err.to_string(), format!("'{bad}' is not a valid UUID."));
        }
    }

    #[test]
    fn identifier_replaces_slashes_and_stringifies_like_python() {
        let uuid = ModelUuid::parse(UUID).unwrap();
        assert_eq!(
            identifier(&json!("m"), &uuid, &json!("x/y")),
            "m_3cdca972_x_y"
        );
        assert_eq!(identifier(&json!(""), &uuid, &json!("a")), "_3cdca972_a");
        assert_eq!(
            identifier(&json!(7), &uuid, &json!(true)),
            "7_3cdca972_True"
        );
    }

    #[test]
    fn label_matchers_keep_order_types_and_drop_falsy_values() {
        let uuid = ModelUuid::parse(UUID).unwrap();
        let labels = label_matchers(&json!(7), &uuid, &json!("a"), &json!(""));
        assert_eq!(
            serde_json::to_string(&labels).unwrap(),
            format!(r#"{{"juju_model":7,"juju_model_uuid":"{UUID}","juju_application":"a"}}"#)
        );
    }

    #[test]
    fn local_topology_as_map_has_cosl_key_order() {
        let topo = JujuTopology {
            model: "test-model".into(),
            model_uuid: ModelUuid::parse(UUID).unwrap(),
            application: "prov".into(),
            unit: "prov/0".into(),
            charm_name: "prov-charm".into(),
        };
        let keys: Vec<_> = topo.as_map().keys().cloned().collect();
        assert_eq!(
            keys,
            ["model", "model_uuid", "application", "unit", "charm_name"]
        );
        assert_eq!(topo.identifier(), "test-model_3cdca972_prov");
    }
}
