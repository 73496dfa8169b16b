//! The real Parca: running it as the judge of a parca.yaml ([`judge`]), and reading what a
//! running Parca says about its config and targets ([`api`]).

pub mod api;
pub mod judge;

pub use api::{ParcaTarget, ParcaView, ReloadState};
pub use judge::{ParcaJudge, ParcaVerdict};
