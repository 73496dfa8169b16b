//! Bounds on what one remote application can make the broker do (issue 11, item 4). A remote
//! app writes whatever it likes into its databags, and the broker copies it per unit into
//! parca.yaml: without bounds one provider could make every hook slow and the rendered file
//! too large for Parca (or for our own validator). Over a bound, that relation, unit or job
//! is dropped with a report naming it (F6); everything else renders.

use crate::model::Databag;

/// A provider's app databag (keys and values together), per relation. Real ones are a few KiB.
pub const MAX_APP_BAG_BYTES: usize = 512 * 1024;
/// A remote unit's databag (keys and values together). Real ones are under 1 KiB.
pub const MAX_UNIT_BAG_BYTES: usize = 16 * 1024;
/// Jobs one relation may publish; the ones after the bound are dropped (one report).
pub const MAX_JOBS_PER_RELATION: usize = 100;
/// Targets one job may expand to (fixed targets plus wildcards × units).
pub const MAX_TARGETS_PER_JOB: usize = 10_000;
/// A label name or value, in bytes (it is copied into every unit's static_config).
pub const MAX_LABEL_BYTES: usize = 1024;
/// parca.yaml as rendered: a larger file is not written (the last one stays) and reported.
/// Files over [`VALIDATE_ABOVE_BYTES`] are also loaded by our own validator first.
pub const MAX_CONFIG_BYTES: usize = 32 * 1024 * 1024;
/// From this size on the rendered file is checked by `check_yaml` (its YAML budget) before it
/// is written: everything the charm writes loads in its own validator.
pub const VALIDATE_ABOVE_BYTES: usize = 1024 * 1024;

/// A databag's size: every key and value.
pub fn bag_bytes(bag: &Databag) -> usize {
    bag.iter().map(|(k, v)| k.len() + v.len()).sum()
}
