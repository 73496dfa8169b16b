//! COS: the broker observed by the Canonical Observability Stack. Over `metrics-endpoint`
//! (prometheus_scrape) every unit publishes where its service's `/metrics` is and the leader
//! publishes the job, the topology and the charm's alert rules; over `grafana-dashboard`
//! (grafana_dashboard) the leader publishes the charm's dashboard. Both are built into the
//! binary from `charm/prometheus_alert_rules/` and `charm/grafana_dashboards/` (also shipped in
//! the .charm), so what is published is what was tested. Pure.

use super::{RelationWrite, push_diff};
use crate::fixes::FixSet;
use crate::interfaces::grafana_dashboard::provider::{Source, content_uuid};
use crate::interfaces::grafana_dashboard::{self, DashboardFile, Dashboards};
use crate::interfaces::prometheus_scrape::{self, MetricsEndpointProvider, RuleFile, UnitEndpoint};
use crate::interfaces::topology::{JujuTopology, ModelUuid};
use crate::model::Databag;
use crate::reconcile::config::CharmConfig;
use crate::reconcile::observe::Observed;
use crate::reconcile::snapshot::CosView;
use serde_json::json;

/// The charm's name in metadata.yaml (`juju_charm`, `charm` in dashboards).
pub const CHARM_NAME: &str = "parca-broker";

/// The job name the broker's `/metrics` is published under.
pub const METRICS_JOB_NAME: &str = "parca-broker";

/// The alert rule files, by path under the rules directory.
pub const ALERT_RULE_FILES: [(&str, &str); 1] = [(
    "parca-broker.rules",
    include_str!("../../../charm/prometheus_alert_rules/parca-broker.rules"),
)];

/// The dashboards, by path from the charm root (it seeds their uids).
pub const DASHBOARD_FILES: [(&str, &str); 1] = [(
    "grafana_dashboards/parca-broker.json",
    include_str!("../../../charm/grafana_dashboards/parca-broker.json"),
)];

/// What the COS relations need written, and what to show.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CosPlan {
    /// Databag changes.
    pub writes: Vec<RelationWrite>,
    /// Problems (blocking).
    pub problems: Vec<String>,
    /// Warnings (logged).
    pub warnings: Vec<String>,
    /// Appended to the status when either relation exists.
    pub status_note: String,
    /// For the service page, show-config and the state file.
    pub view: CosView,
}

/// The topology the broker publishes (its own unit as the writer).
pub fn topology(observed: &Observed) -> Result<JujuTopology, String> {
    let uuid = ModelUuid::parse(&observed.ctx.model_uuid)
        .map_err(|err| format!("JUJU_MODEL_UUID: {err}"))?;
    Ok(JujuTopology {
        model: observed.ctx.model.clone(),
        model_uuid: uuid,
        application: observed.ctx.app.clone(),
        unit: observed.ctx.unit.clone(),
        charm_name: CHARM_NAME.into(),
    })
}

/// The published `alert_rules` document, the group names and any file that was skipped.
pub fn alert_rules(topology: &JujuTopology) -> prometheus_scrape::AlertRules {
    let files: Vec<RuleFile> = ALERT_RULE_FILES
        .iter()
        .map(|(path, text)| RuleFile {
            path: (*path).to_owned(),
            text: (*text).to_owned(),
        })
        .collect();
    prometheus_scrape::alert_rules(&files, topology, None)
}

/// The dashboards' templates.
pub fn dashboards(topology: &JujuTopology) -> Result<Dashboards, String> {
    let files: Vec<DashboardFile> = DASHBOARD_FILES
        .iter()
        .map(|(path, text)| DashboardFile {
            path: (*path).to_owned(),
            bytes: text.as_bytes().to_vec(),
        })
        .collect();
    let mut dashboards = Dashboards::new();
    let source = Source {
        charm: CHARM_NAME,
        topology,
        inject_dropdowns: true,
        preset: grafana_dashboard::wire::PRESET,
    };
    dashboards
        .load_files(&files, source, FixSet::ALL)
        .map_err(|e| e.to_string())?;
    Ok(dashboards)
}

/// Plans both relations.
pub fn cos(observed: &Observed, config: &CharmConfig, fallback_address: &str) -> CosPlan {
    let mut plan = CosPlan::default();
    if observed.metrics_endpoint.is_empty() && observed.grafana_dashboard.is_empty() {
        return plan;
    }
    let topology = match topology(observed) {
        Ok(topology) => topology,
        Err(problem) => {
            plan.problems.push(problem);
            return plan;
        }
    };
    metrics_endpoint(observed, config, fallback_address, &topology, &mut plan);
    grafana(observed, &topology, &mut plan);
    let mut notes = Vec::new();
    if !plan.view.metrics_endpoint.is_empty() {
        notes.push(format!(
            "metrics-endpoint: {}",
            plan.view.metrics_endpoint.join(", ")
        ));
    }
    if !plan.view.grafana_dashboard.is_empty() {
        notes.push(format!(
            "grafana-dashboard: {}",
            plan.view.grafana_dashboard.join(", ")
        ));
    }
    plan.status_note = format!("; {}", notes.join("; "));
    plan
}

fn metrics_endpoint(
    observed: &Observed,
    config: &CharmConfig,
    fallback_address: &str,
    topology: &JujuTopology,
    plan: &mut CosPlan,
) {
    if observed.metrics_endpoint.is_empty() {
        return;
    }
    plan.view.metrics_endpoint = observed
        .metrics_endpoint
        .iter()
        .map(|r| format!("{} ({})", r.remote_app, r.id))
        .collect();
    if config.listens_on_loopback() {
        plan.problems.push(format!(
            "metrics-endpoint is related but listen-address {} is loopback; set listen-address to a reachable address",
            config.listen_address
        ));
    }
    // The unit-address option wins (as for self-profiling); else the library's rule on the
    // relation's bind address; else the host name.
    let endpoint = if !config.unit_address.is_empty() {
        UnitEndpoint {
            address: config.unit_address.clone(),
            ..UnitEndpoint::default()
        }
    } else {
        match &observed.metrics_address {
            Some(address) => match &address.bind {
                Ok(bind) => UnitEndpoint::from_bind_address(bind, &address.fqdn),
                Err(err) => {
                    plan.warnings.push(format!(
                        "network-get metrics-endpoint failed ({err}); publishing {fallback_address:?}"
                    ));
                    UnitEndpoint::from_bind_address(fallback_address, &address.fqdn)
                }
            },
            None => UnitEndpoint::from_bind_address(fallback_address, fallback_address),
        }
    };
    plan.view.metrics_address = format!("{}:{}", endpoint.address, config.listen_port());
    let unit_bag = endpoint.unit_databag(&observed.ctx.unit);
    let rules = alert_rules(topology);
    plan.view.alert_rule_groups = rules.document["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|g| g["name"].as_str().map(str::to_owned))
        .collect();
    let job = json!({"job_name": METRICS_JOB_NAME,
        "static_configs": [{"targets": [format!("*:{}", config.listen_port())]}]});
    // A literal object: the provider cannot refuse it.
    let app_bag = MetricsEndpointProvider::new(&[job], &[])
        .ok()
        .map(|p| p.app_databag(topology, Some(&rules.document), 0, FixSet::ALL));
    use prometheus_scrape::wire;
    for relation in &observed.metrics_endpoint {
        push_diff(
            &mut plan.writes,
            relation,
            false,
            &unit_bag,
            &[
                wire::UNIT_ADDRESS,
                wire::UNIT_PATH,
                wire::UNIT_NAME,
                wire::UNIT_FQDN,
            ],
        );
        if let (true, Some(bag)) = (observed.leader, &app_bag) {
            push_diff(
                &mut plan.writes,
                relation,
                true,
                bag,
                &[wire::SCRAPE_METADATA, wire::SCRAPE_JOBS, wire::ALERT_RULES],
            );
        }
    }
}

fn grafana(observed: &Observed, topology: &JujuTopology, plan: &mut CosPlan) {
    if observed.grafana_dashboard.is_empty() {
        return;
    }
    plan.view.grafana_dashboard = observed
        .grafana_dashboard
        .iter()
        .map(|r| format!("{} ({})", r.remote_app, r.id))
        .collect();
    let dashboards = match dashboards(topology) {
        Ok(dashboards) => dashboards,
        Err(problem) => {
            plan.problems.push(format!("grafana-dashboard: {problem}"));
            return;
        }
    };
    plan.view.dashboards = dashboards.templates().keys().cloned().collect();
    plan.warnings.extend(
        dashboards
            .skipped
            .iter()
            .map(|s| format!("grafana-dashboard: {} skipped: {}", s.path, s.reason)),
    );
    if !observed.leader {
        return;
    }
    let uuid = content_uuid(dashboards.templates());
    for relation in &observed.grafana_dashboard {
        let Some(bags) = &relation.bags else {
            continue;
        };
        let current = bags.app.get(grafana_dashboard::wire::DASHBOARDS);
        // Equal templates: the value (and its uuid) stays, as the library's change detection.
        if let Some(value) =
            grafana_dashboard::publish(current.map(String::as_str), dashboards.templates(), &uuid)
        {
            let bag = Databag::from([(grafana_dashboard::wire::DASHBOARDS.to_owned(), value)]);
            push_diff(
                &mut plan.writes,
                relation,
                true,
                &bag,
                &[grafana_dashboard::wire::DASHBOARDS],
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_rules_and_dashboard_load_without_skips() {
        let topology = JujuTopology {
            model: "m".into(),
            model_uuid: ModelUuid::parse("f8c6b8a2-4d2b-4e6c-9a1f-0123456789ab").unwrap(),
            application: "parca-broker".into(),
            unit: "parca-broker/0".into(),
            charm_name: CHARM_NAME.into(),
        };
        let rules = alert_rules(&topology);
        assert!(rules.skipped.is_empty(), "{:?}", rules.skipped);
        let groups = rules.document["groups"].as_array().unwrap();
        assert_eq!(groups.len(), 2, "ours and HostHealth");
        assert_eq!(groups[0]["rules"].as_array().unwrap().len(), 6);
        let dashboards = dashboards(&topology).unwrap();
        assert!(dashboards.skipped.is_empty());
        assert_eq!(
            dashboards.templates().keys().collect::<Vec<_>>(),
            ["file:parca-broker"]
        );
    }
}
