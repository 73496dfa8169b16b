//! `parca_store` (v0): a store (Parca server) tells senders (parca-agent, a scraper-only Parca)
//! where to push profiles. See `interfaces/parca_store/v0/README.md`.

pub mod provider;
pub mod requirer;
pub mod wire;

pub use provider::{Insecure, SettingsError, StoreProvider};
pub use requirer::{
    StoreConfig, StoreEvent, StoreProblem, StoreSelection, Token, TooManyRelations,
};
