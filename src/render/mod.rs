//! Rendering: scrape jobs → a typed `parca.yaml`. Pure; the charm writes the bytes.

pub mod flags;
pub mod parca_config;
pub mod validate;
pub mod yaml;

pub use parca_config::{
    Discovery, ObjectStorage, ParcaConfig, PlainValue, RenderedConfig, ScrapeConfig, render_config,
};
