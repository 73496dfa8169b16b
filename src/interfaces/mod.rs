//! The two Juju interfaces, each with provider and requirer side by side. Pure: data in, data
//! out; the charm reads and writes the databags.

pub mod parca_scrape;
pub mod parca_store;
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
