//! The hook context from the environment Juju sets (juju.md §1.2, §2): which event is running,
//! for which unit, and on which relation. Pure: the environment comes in through a getter.

use crate::interfaces::RelationEvent;
use crate::model::RelationId;
use std::fmt;
use std::path::PathBuf;

/// What is running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dispatch {
    /// A hook.
    Hook(Event),
    /// An action, by name.
    Action(String),
}

/// A hook event. Relation events carry the relation; everything else is holistic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `install`
    Install,
    /// `start`
    Start,
    /// `stop`
    Stop,
    /// `remove`
    Remove,
    /// `config-changed`
    ConfigChanged,
    /// `upgrade-charm`
    UpgradeCharm,
    /// `update-status`
    UpdateStatus,
    /// `leader-elected`
    LeaderElected,
    /// `leader-settings-changed`
    LeaderSettingsChanged,
    /// `secret-changed`
    SecretChanged,
    /// `<endpoint>-relation-<kind>`
    Relation {
        /// The relation.
        relation: RelationId,
        /// Which relation event.
        kind: RelationEvent,
        /// `JUJU_REMOTE_APP`.
        remote_app: String,
        /// `JUJU_REMOTE_UNIT` (empty for app-bag changes, created and broken).
        remote_unit: Option<String>,
        /// `JUJU_DEPARTING_UNIT` (departed only).
        departing_unit: Option<String>,
    },
    /// A hook this charm does not know (storage, workload, future hooks): exit 0.
    Other(String),
}

impl Event {
    /// The relation being broken in this hook, which must be treated as gone.
    pub fn broken_relation(&self) -> Option<&RelationId> {
        match self {
            Event::Relation {
                relation,
                kind: RelationEvent::Broken,
                ..
            } => Some(relation),
            _ => None,
        }
    }
}

impl fmt::Display for Dispatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dispatch::Action(name) => write!(f, "action {name}"),
            Dispatch::Hook(Event::Relation { relation, kind, .. }) => {
                let kind = match kind {
                    RelationEvent::Created => "created",
                    RelationEvent::Joined => "joined",
                    RelationEvent::Changed => "changed",
                    RelationEvent::Departed => "departed",
                    RelationEvent::Broken => "broken",
                };
                write!(f, "{}-relation-{kind} ({relation})", relation.endpoint)
            }
            Dispatch::Hook(Event::Other(name)) => f.write_str(name),
            Dispatch::Hook(event) => write!(f, "{}", plain_hook_name(event)),
        }
    }
}

fn plain_hook_name(event: &Event) -> &'static str {
    match event {
        Event::Install => "install",
        Event::Start => "start",
        Event::Stop => "stop",
        Event::Remove => "remove",
        Event::ConfigChanged => "config-changed",
        Event::UpgradeCharm => "upgrade-charm",
        Event::UpdateStatus => "update-status",
        Event::LeaderElected => "leader-elected",
        Event::LeaderSettingsChanged => "leader-settings-changed",
        Event::SecretChanged => "secret-changed",
        Event::Relation { .. } | Event::Other(_) => "",
    }
}

/// Everything the environment says about this hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JujuContext {
    /// The event or action.
    pub dispatch: Dispatch,
    /// `JUJU_UNIT_NAME`, e.g. `parca-broker/0`.
    pub unit: String,
    /// The application: the unit name before `/`.
    pub app: String,
    /// `JUJU_MODEL_NAME`.
    pub model: String,
    /// `JUJU_MODEL_UUID`.
    pub model_uuid: String,
    /// `JUJU_CHARM_DIR` (the working directory).
    pub charm_dir: PathBuf,
    /// `JUJU_VERSION`.
    pub juju_version: String,
    /// `PARCA_BROKER_LOOPBACK` (Juju never sets it): the simulator's stand-in for the unit's
    /// own machine when several units share one host. `127.0.0.1` in the charm's listen
    /// addresses then means this loopback address, so each unit's services bind their own.
    pub machine_loopback: Option<String>,
}

/// The environment is not a Juju hook environment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContextError {
    /// A variable Juju always sets is missing.
    #[error("{0} is not set; this binary must be run by Juju as the charm's dispatch")]
    Missing(&'static str),
    /// A variable has a value Juju never sets.
    #[error("{name}={value:?}: {reason}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// What is wrong.
        reason: &'static str,
    },
}

impl JujuContext {
    /// Reads the context through `env` (e.g. `|k| std::env::var(k).ok()`).
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Result<Self, ContextError> {
        let required = |name: &'static str| env(name).ok_or(ContextError::Missing(name));
        let unit = required("JUJU_UNIT_NAME")?;
        let app =
            unit.split_once('/')
                .map(|(app, _)| app.to_owned())
                .ok_or(ContextError::Invalid {
                    name: "JUJU_UNIT_NAME",
                    value: unit.clone(),
                    reason: "a unit name is <application>/<number>",
                })?;
        let path = required("JUJU_DISPATCH_PATH")?;
        let dispatch = parse_dispatch(&path, &env)?;
        Ok(JujuContext {
            dispatch,
            unit,
            app,
            model: required("JUJU_MODEL_NAME")?,
            model_uuid: required("JUJU_MODEL_UUID")?,
            charm_dir: PathBuf::from(required("JUJU_CHARM_DIR")?),
            juju_version: env("JUJU_VERSION").unwrap_or_default(),
            machine_loopback: env("PARCA_BROKER_LOOPBACK").filter(|a| !a.is_empty()),
        })
    }
}

/// `hooks/<name>` or `actions/<name>` → what runs (juju.md §1.2). Endpoint names may contain
/// dashes, so a relation hook is recognised from `JUJU_RELATION`, not by splitting the name.
fn parse_dispatch(
    path: &str,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<Dispatch, ContextError> {
    let invalid = |reason| ContextError::Invalid {
        name: "JUJU_DISPATCH_PATH",
        value: path.to_owned(),
        reason,
    };
    let (dir, name) = path
        .split_once('/')
        .ok_or_else(|| invalid("expected hooks/<name> or actions/<name>"))?;
    match dir {
        "actions" => return Ok(Dispatch::Action(name.to_owned())),
        "hooks" => {}
        _ => return Err(invalid("expected hooks/<name> or actions/<name>")),
    }
    let non_empty = |k: &str| env(k).filter(|v| !v.is_empty());
    if let Some(endpoint) = non_empty("JUJU_RELATION")
        && let Some(kind) = name.strip_prefix(&format!("{endpoint}-relation-"))
    {
        let kind = match kind {
            "created" => RelationEvent::Created,
            "joined" => RelationEvent::Joined,
            "changed" => RelationEvent::Changed,
            "departed" => RelationEvent::Departed,
            "broken" => RelationEvent::Broken,
            _ => return Ok(Dispatch::Hook(Event::Other(name.to_owned()))),
        };
        let id_text =
            non_empty("JUJU_RELATION_ID").ok_or(ContextError::Missing("JUJU_RELATION_ID"))?;
        // The id is the integer after the last ':'.
        let id = id_text
            .rsplit(':')
            .next()
            .and_then(|n| n.parse().ok())
            .ok_or(ContextError::Invalid {
                name: "JUJU_RELATION_ID",
                value: id_text.clone(),
                reason: "expected <endpoint>:<integer>",
            })?;
        return Ok(Dispatch::Hook(Event::Relation {
            relation: RelationId::new(endpoint, id),
            kind,
            remote_app: env("JUJU_REMOTE_APP").unwrap_or_default(),
            remote_unit: non_empty("JUJU_REMOTE_UNIT"),
            departing_unit: non_empty("JUJU_DEPARTING_UNIT"),
        }));
    }
    Ok(Dispatch::Hook(match name {
        "install" => Event::Install,
        "start" => Event::Start,
        "stop" => Event::Stop,
        "remove" => Event::Remove,
        "config-changed" => Event::ConfigChanged,
        "upgrade-charm" => Event::UpgradeCharm,
        "update-status" => Event::UpdateStatus,
        "leader-elected" => Event::LeaderElected,
        "leader-settings-changed" => Event::LeaderSettingsChanged,
        "secret-changed" => Event::SecretChanged,
        other => Event::Other(other.to_owned()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn ctx(vars: &[(&str, &str)]) -> Result<JujuContext, ContextError> {
        let mut env: HashMap<String, String> = [
            ("JUJU_UNIT_NAME", "parca-broker/0"),
            ("JUJU_MODEL_NAME", "cos"),
            ("JUJU_MODEL_UUID", "3cdca972-b819-4f03-8d90-9c7a36d234c9"),
            ("JUJU_CHARM_DIR", "/charm"),
            ("JUJU_VERSION", "3.6.8"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        for (k, v) in vars {
            env.insert((*k).to_owned(), (*v).to_owned());
        }
        JujuContext::from_env(|k| env.get(k).cloned())
    }

    #[test]
    fn relation_hook_with_dashed_endpoint_is_recognised() {
        let c = ctx(&[
            (
                "JUJU_DISPATCH_PATH",
                "hooks/external-parca-store-endpoint-relation-changed",
            ),
            ("JUJU_RELATION", "external-parca-store-endpoint"),
            ("JUJU_RELATION_ID", "external-parca-store-endpoint:12"),
            ("JUJU_REMOTE_APP", "parca"),
            ("JUJU_REMOTE_UNIT", ""),
        ])
        .unwrap();
        let Dispatch::Hook(Event::Relation {
            relation,
            kind,
            remote_unit,
            ..
        }) = c.dispatch
        else {
            panic!("a relation hook");
        };
        assert_eq!(
            relation,
            RelationId::new("external-parca-store-endpoint", 12)
        );
        assert_eq!((kind, remote_unit), (RelationEvent::Changed, None));
        assert_eq!(c.app, "parca-broker");
    }

    #[test]
    fn plain_hooks_actions_and_unknown_hooks() {
        assert_eq!(
            ctx(&[("JUJU_DISPATCH_PATH", "hooks/install")])
                .unwrap()
                .dispatch,
            Dispatch::Hook(Event::Install)
        );
        assert_eq!(
            ctx(&[("JUJU_DISPATCH_PATH", "actions/list-targets")])
                .unwrap()
                .dispatch,
            Dispatch::Action("list-targets".into())
        );
        assert_eq!(
            ctx(&[("JUJU_DISPATCH_PATH", "hooks/data-storage-attached")])
                .unwrap()
                .dispatch,
            Dispatch::Hook(Event::Other("data-storage-attached".into()))
        );
    }

    #[test]
    fn missing_variables_are_named() {
        let err = ctx(&[]).unwrap_err();
        assert_eq!(err, ContextError::Missing("JUJU_DISPATCH_PATH"));
        assert!(err.to_string().contains("must be run by Juju"));
    }
}
