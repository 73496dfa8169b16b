//! `parca_scrape` (v0): a provider asks Parca to scrape its pprof endpoints; the consumer
//! (Parca, or this broker) renders the scrape jobs. See `interfaces/parca_scrape/v0/README.md`.

pub mod consumer;
pub mod provider;
pub mod wire;

pub use consumer::{
    ConsumerOutput, RelabelConfig, ScrapeJob, StaticConfig, render_jobs, render_jobs_with,
};
pub use provider::{CharmShape, PublishScope, ScrapeProvider, publish_scope};
