//! The deliberate fixes over the Python libraries (README "Fixes"), as switches.
//!
//! Production code always runs with [`FixSet::ALL`]. Turning fixes off reproduces the Python
//! libraries' behaviour; the conformance runner uses that to prove that a difference from a
//! recorded vector is exactly what a named fix predicts, and nothing else.

use std::fmt;

/// One deliberate fix. The ids match the README and the issue tracker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fix {
    /// Per-unit static_configs in a stable order (unit number, then name).
    F1,
    /// A static_config without a `*` target yields no per-unit (portless) entries.
    F2,
    /// IPv6-safe `host:port` handling, portless targets passed on, bad targets rejected.
    F3,
    /// Colliding job names get a deterministic content-hash suffix.
    F4,
    /// `scrape_jobs` without usable `scrape_metadata` is reported and skipped.
    F5,
    /// A bad job or relation is dropped with a reason; everything else still renders.
    F6,
    /// The store provider writes app data only as leader; a non-leader is a no-op.
    F7,
    /// Parca config validation (issue 5): jobs Parca would reject are dropped.
    F8,
    /// A store `external_url` given as a URL is normalised to `host:port`.
    F9,
    /// A store requirer with several relations picks one deterministically.
    F10,
    /// prometheus_scrape: lookaside jobs are published once on every relation.
    F11,
    /// prometheus_scrape: an `external_url` like `host:port/path` (no scheme) is read as
    /// `http://host:port/path` instead of failing the hook.
    F12,
    /// grafana_dashboard: a dashboard file whose JSON is not an object is skipped and reported
    /// instead of failing the hook.
    F13,
    /// parca_scrape consumer: a relation may not take another's identity (application, unit
    /// names); the conflict is reported.
    F14,
    /// parca_scrape consumer: a target with a path (`host:port/path`, `*:port/path`) is dropped
    /// with a report; Parca drops such an address at scrape time ("is not a valid hostname").
    F15,
}

impl Fix {
    /// Every fix, in id order.
    pub const ALL: [Fix; 15] = [
        Fix::F1,
        Fix::F2,
        Fix::F3,
        Fix::F4,
        Fix::F5,
        Fix::F6,
        Fix::F7,
        Fix::F8,
        Fix::F9,
        Fix::F10,
        Fix::F11,
        Fix::F12,
        Fix::F13,
        Fix::F14,
        Fix::F15,
    ];

    const fn bit(self) -> u16 {
        1 << (self as u16)
    }

    /// Parses `F1` … `F10`.
    pub fn parse(text: &str) -> Option<Fix> {
        Fix::ALL.into_iter().find(|fix| fix.to_string() == text)
    }
}

impl fmt::Display for Fix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "F{}", *self as u16 + 1)
    }
}

/// A set of enabled fixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FixSet(u16);

impl FixSet {
    /// All fixes on: what the broker runs with.
    pub const ALL: FixSet = FixSet(0x7fff);
    /// No fix: the Python libraries' behaviour.
    pub const NONE: FixSet = FixSet(0);

    /// Whether `fix` is on.
    pub const fn has(self, fix: Fix) -> bool {
        self.0 & fix.bit() != 0
    }

    /// This set with `fix` turned off.
    pub const fn without(self, fix: Fix) -> FixSet {
        FixSet(self.0 & !fix.bit())
    }

    /// The fixes that are on, in id order.
    pub fn iter(self) -> impl Iterator<Item = Fix> {
        Fix::ALL.into_iter().filter(move |fix| self.has(*fix))
    }
}

impl Default for FixSet {
    fn default() -> Self {
        FixSet::ALL
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_print_and_parse() {
        assert_eq!(Fix::F10.to_string(), "F10");
        assert_eq!(Fix::parse("F3"), Some(Fix::F3));
        assert_eq!(Fix::parse("F15"), Some(Fix::F15));
        assert_eq!(Fix::parse("F16"), None);
        for fix in Fix::ALL {
            assert!(FixSet::ALL.has(fix));
            assert!(!FixSet::NONE.has(fix));
            assert!(!FixSet::ALL.without(fix).has(fix));
        }
    }
}
