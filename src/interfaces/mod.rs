//! The two Juju interfaces, each with provider and requirer side by side. Pure: data in, data
//! out; the charm reads and writes the databags.

pub mod grafana_dashboard;
pub mod parca_scrape;
pub mod parca_store;
pub mod prometheus_scrape;
pub mod topology;

/// The relation events an interface reacts to (the part of the hook name after the endpoint).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RelationEvent {
    /// `<endpoint>-relation-created`
    Created,
    /// `<endpoint>-relation-joined`
    Joined,
    /// `<endpoint>-relation-changed`
    Changed,
    /// `<endpoint>-relation-departed`
    Departed,
    /// `<endpoint>-relation-broken`
    Broken,
}

/// The events the Python providers react to (both interfaces).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// `<endpoint>-relation-joined` of the provider's endpoint.
    RelationJoined,
    /// `<endpoint>-relation-changed` of the provider's endpoint.
    RelationChanged,
    /// `upgrade-charm`.
    UpgradeCharm,
    /// `leader-elected`.
    LeaderElected,
    /// `update-status`.
    UpdateStatus,
    /// `<container>-pebble-ready` of the charm's only container.
    PebbleReady,
    /// Anything else.
    Other,
}

/// An endpoint declared in metadata.yaml other than as a provider library expects.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    /// Under `requires` or `peers` instead of `provides`.
    #[error(
        "The '{endpoint}' relation has role '<RelationRole.{role}: '{role}'>' rather than the expected '<RelationRole.provides: 'provides'>'"
    )]
    Role {
        /// The endpoint.
        endpoint: String,
        /// Where it is declared.
        role: String,
    },
    /// Another interface name.
    #[error(
        "The '{endpoint}' relation has '{declared}' as interface rather than the expected '{expected}'"
    )]
    Interface {
        /// The endpoint.
        endpoint: String,
        /// The interface declared.
        declared: String,
        /// The interface the library implements.
        expected: String,
    },
}

/// The metadata check the Python provider libraries make in their constructors (messages as
/// theirs): `endpoint` is under `role` with interface `declared`.
pub fn check_provides_endpoint(
    endpoint: &str,
    role: &str,
    declared: &str,
    expected: &str,
) -> Result<(), EndpointError> {
    if role != "provides" {
        return Err(EndpointError::Role {
            endpoint: endpoint.to_owned(),
            role: role.to_owned(),
        });
    }
    if declared != expected {
        return Err(EndpointError::Interface {
            endpoint: endpoint.to_owned(),
            declared: declared.to_owned(),
            expected: expected.to_owned(),
        });
    }
    Ok(())
}
