//! `prometheus_scrape` (v0), provider side: the broker asks Prometheus (COS) to scrape its own
//! `/metrics` and ships alert rules. See `interfaces/prometheus_scrape/v0/README.md` and
//! `../shared/spec/cos/prometheus_scrape.md`. The consumer side here ([`consumer`]) is what
//! Prometheus renders from a provider's data; we use it to check what we publish.

pub mod alert_rules;
pub mod consumer;
pub mod provider;
pub mod wire;

pub use alert_rules::{AlertRules, RuleFile, alert_rules};
pub use provider::{MetricsEndpointProvider, ProviderEvent, UnitEndpoint, publish_scope};
