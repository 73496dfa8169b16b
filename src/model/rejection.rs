//! A rejection: something a remote app sent that we could not use, with the reason.
//!
//! Rejections are values, not errors: the hook still succeeds, the rest still renders, and the
//! rejection is shown in status, logs and the service (F6).

use super::relation::RelationId;
use std::fmt;

/// How much was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// The whole relation contributes nothing.
    Relation,
    /// One job of the relation was dropped.
    Job,
    /// One target of a job was dropped.
    Target,
    /// One remote unit was left out.
    Unit,
}

impl Scope {
    /// Lower-case name for messages and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Relation => "relation",
            Scope::Job => "job",
            Scope::Target => "target",
            Scope::Unit => "unit",
        }
    }
}

/// What was wrong, coarsely (for metrics, and to name the Python exception the same input
/// raises in the Python library).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectionKind {
    /// A value that must be JSON is not.
    InvalidJson,
    /// A required key is missing.
    MissingKey,
    /// The model UUID is not a canonical lower-case v4 UUID.
    InvalidUuid,
    /// A value the Python lib iterates over (a list) is a scalar.
    NotIterable,
    /// A list where the Python lib iterates and then calls `.items()` / `.get()` holds
    /// something that is not an object (a string, or the keys of an object).
    NotAnObject,
    /// A value that must be a string is not.
    NotAString,
    /// A target is not a valid `host[:port]`.
    BadTarget,
    /// A unit's address cannot be used to build targets.
    BadAddress,
    /// `scrape_jobs` without usable `scrape_metadata` (F5).
    MissingMetadata,
    /// Two units claim the same unit name; one is kept.
    DuplicateUnit,
    /// Any other value of the wrong shape.
    WrongType,
    /// Parca would reject the job (F8): the reason is Parca's.
    ParcaRule,
    /// Over one of the bounds of [`super::limits`].
    OverLimit,
    /// Claims an identity (application, unit) that another relation has (F14).
    Conflict,
}

impl RejectionKind {
    /// Stable label value for metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectionKind::InvalidJson => "invalid_json",
            RejectionKind::MissingKey => "missing_key",
            RejectionKind::InvalidUuid => "invalid_uuid",
            RejectionKind::NotIterable => "not_iterable",
            RejectionKind::NotAnObject => "not_an_object",
            RejectionKind::NotAString => "not_a_string",
            RejectionKind::BadTarget => "bad_target",
            RejectionKind::BadAddress => "bad_address",
            RejectionKind::MissingMetadata => "missing_metadata",
            RejectionKind::DuplicateUnit => "duplicate_unit",
            RejectionKind::WrongType => "wrong_type",
            RejectionKind::ParcaRule => "parca_rule",
            RejectionKind::OverLimit => "over_limit",
            RejectionKind::Conflict => "conflict",
        }
    }

    /// The exception the Python library raises for the same input, if it raises one.
    pub fn python_exception(self) -> Option<&'static str> {
        match self {
            RejectionKind::InvalidJson => Some("JSONDecodeError"),
            RejectionKind::MissingKey => Some("KeyError"),
            RejectionKind::InvalidUuid => Some("InvalidUUIDError"),
            RejectionKind::NotIterable | RejectionKind::WrongType => Some("TypeError"),
            RejectionKind::NotAnObject | RejectionKind::NotAString => Some("AttributeError"),
            RejectionKind::BadTarget => Some("ValueError"),
            RejectionKind::BadAddress
            | RejectionKind::MissingMetadata
            | RejectionKind::DuplicateUnit
            | RejectionKind::ParcaRule
            | RejectionKind::OverLimit
            | RejectionKind::Conflict => None,
        }
    }
}

/// One dropped relation, job, target or unit, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The relation the data came from.
    pub relation: RelationId,
    /// The remote application.
    pub app: String,
    /// The provider's job name, when a job (or part of it) was dropped.
    pub job: Option<String>,
    /// The remote unit, when the problem is in a unit databag.
    pub unit: Option<String>,
    /// Where in the data: a databag key, optionally with a path (`scrape_jobs[0].static_configs`).
    pub key: String,
    /// What was dropped.
    pub scope: Scope,
    /// Coarse classification.
    pub kind: RejectionKind,
    /// Human-readable reason, lower case, naming the offending value.
    pub reason: String,
}

impl fmt::Display for Rejection {
    /// `profiling-endpoint:7 (app zinc): scrape_metadata: missing` — short enough for status.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (app {}", self.relation, self.app)?;
        if let Some(unit) = &self.unit {
            write!(f, ", unit {unit}")?;
        }
        if let Some(job) = &self.job {
            write!(f, ", job {job}")?;
        }
        write!(f, "): {}: {}", self.key, self.reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_relation_app_and_key() {
        let r = Rejection {
            relation: RelationId::new("profiling-endpoint", 7),
            app: "zinc".into(),
            job: None,
            unit: None,
            key: "scrape_metadata".into(),
            scope: Scope::Relation,
            kind: RejectionKind::MissingMetadata,
            reason: "missing".into(),
        };
        assert_eq!(
            r.to_string(),
            "profiling-endpoint:7 (app zinc): scrape_metadata: missing"
        );
    }
}
