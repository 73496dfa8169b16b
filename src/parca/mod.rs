//! The real Parca: running it as the judge of a parca.yaml ([`judge`]) or as a store
//! ([`store`]), and reading what a running Parca says about its config and targets ([`api`]).

pub mod api;
pub mod judge;
pub mod store;

pub use api::{ParcaTarget, ParcaView, ReloadState};
pub use judge::{ParcaJudge, ParcaVerdict};
pub use store::ParcaStore;
