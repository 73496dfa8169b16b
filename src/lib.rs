//! parca-broker: the `parca_scrape` and `parca_store` Juju interfaces in Rust, wire-compatible
//! with Canonical's Python libraries, plus the broker charm and service built on them.
//!
//! Start with [`interfaces::parca_scrape::render_jobs`] (consumer: relation snapshots → scrape
//! jobs) and [`interfaces::parca_scrape::ScrapeProvider`] (provider: jobs → databags). Data
//! flows one way: relation snapshots → pure interface code → rendered jobs; nothing in
//! `interfaces`, `model` or `pyjson` does I/O.
//!
//! Where we differ from the Python libraries on purpose, it is a [`fixes::Fix`]; the
//! [`conformance`] runner proves each difference against the recorded vectors.

pub mod bench;
pub mod cli;
pub mod conformance;
pub mod demo;
pub mod fixes;
pub mod fuzzing;
pub mod interfaces;
pub mod juju;
pub mod loadtest;
pub mod model;
pub mod parca;
pub mod pyjson;
pub mod reconcile;
pub mod render;
pub mod service;
pub mod simulator;

// The README's Rust examples are compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
