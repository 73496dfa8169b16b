//! `grafana_dashboard` (v0), provider side (`GrafanaDashboardProvider`): the leader ships the
//! charm's dashboards to Grafana in the app bag key `dashboards`, each xz-compressed and
//! base64-encoded with a uid, a `charm:` tag and the Juju topology. See
//! `interfaces/grafana_dashboard/v0/README.md` and `../shared/spec/cos/grafana_dashboard.md`.
//! Pure: files in, databag values out.

pub mod provider;
pub mod wire;

pub use provider::{DashboardFile, Dashboards, publish, publishes_on};
