//! `parca-broker demo`: the real pipeline on a built-in example model, served live.
//!
//! The broker charm (this binary, as `dispatch`) runs under the Juju simulator: three provider
//! apps with several units, a broken provider and a Prometheus-style one (both dropped with a
//! reason), an upstream store and two agents. Each provider unit is a real pprof-like HTTP
//! server on its own loopback address (127.0.0.11, …), except one app that is deliberately
//! down. The service then serves the status page, API and discovery, and probes the targets.

use crate::interfaces::parca_scrape::ScrapeProvider;
use crate::interfaces::topology::{JujuTopology, ModelUuid};
use crate::model::Databag;
use crate::reconcile::files;
use crate::service::{ProbeOptions, ServeOptions};
use crate::simulator::Model;
use axum::Router;
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::{Value, json};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What the demo runs with.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Output folder (parca.yaml, agent flags, the simulator's sandbox).
    pub out: PathBuf,
    /// The service's listen address.
    pub listen: SocketAddr,
    /// Stop after this long (default: run until Ctrl-C).
    pub exit_after: Option<Duration>,
    /// A real Parca binary (`--parca`, else `parca` on PATH): the charm runs it as
    /// parca.service, forwarding to a second one as the store. `None`: render only.
    pub parca: Option<PathBuf>,
}

/// `parca` on PATH, if any.
pub fn parca_on_path() -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("parca"))
            .find(|p| {
                std::fs::metadata(p)
                    .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            })
    })
}

/// The demo could not run.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// File system or socket trouble.
    #[error("demo: {0}")]
    Io(#[from] std::io::Error),
    /// The simulated model failed.
    #[error("demo: {0}")]
    Simulator(#[from] crate::simulator::SimError),
    /// The service failed.
    #[error("demo: {0}")]
    Service(#[from] crate::service::ServiceError),
}

const MODEL_UUID: &str = "8d5d1f3b-3d4a-4c8e-9a52-6b1f2e7c9d10";
const METADATA: &str = include_str!("../metadata.yaml");
const CONFIG: &str = include_str!("../charm/config.yaml");

/// A provider app of the demo: name, units, the loopback address block, whether it serves.
struct DemoApp {
    name: &'static str,
    units: u8,
    first_address: u8,
    serving: bool,
    jobs: Value,
}

fn demo_apps(port: u16) -> Vec<DemoApp> {
    vec![
        DemoApp {
            name: "zinc",
            units: 3,
            first_address: 11,
            serving: true,
            jobs: json!([{"job_name": "zinc", "static_configs": [{"targets": [format!("*:{port}")], "labels": {"team": "search"}}]}]),
        },
        DemoApp {
            name: "grafana",
            units: 2,
            first_address: 21,
            serving: true,
            jobs: json!([{"job_name": "grafana", "scrape_interval": "15s",
                "static_configs": [{"targets": [format!("*:{port}")]}]}]),
        },
        DemoApp {
            name: "legacy-api",
            units: 2,
            first_address: 31,
            serving: false, // deliberately down: health shows the connection error
            jobs: json!([{"job_name": "api", "static_configs": [{"targets": [format!("*:{port}")]}]}]),
        },
        DemoApp {
            name: "promstyle",
            units: 1,
            first_address: 41,
            serving: true,
            // The Prometheus habit: Parca requires timeout > interval, so this job is dropped (F8).
            jobs: json!([{"job_name": "habit", "scrape_interval": "15s", "scrape_timeout": "10s",
                "static_configs": [{"targets": [format!("*:{port}")]}]}]),
        },
    ]
}

/// Runs the demo until Ctrl-C (or `exit_after`).
pub fn run(options: &DemoOptions) -> Result<(), DemoError> {
    let runtime = tokio::runtime::Runtime::new()?;
    let out = std::path::absolute(&options.out)?;
    let _ = std::fs::remove_dir_all(out.join("sim"));
    std::fs::create_dir_all(out.join("charm-source/charm"))?;
    std::fs::write(out.join("charm-source/metadata.yaml"), METADATA)?;
    std::fs::write(out.join("charm-source/charm/config.yaml"), CONFIG)?;

    // Real pprof-like endpoints on loopback, one address per unit, all on one port.
    let port = runtime.block_on(free_port())?;
    let apps = demo_apps(port);
    for app in apps.iter().filter(|a| a.serving) {
        for n in 0..app.units {
            let addr = SocketAddr::new(
                IpAddr::V4(Ipv4Addr::new(127, 0, 0, app.first_address + n)),
                port,
            );
            runtime.block_on(start_pprof_server(addr, app.name, n))?;
        }
    }

    // With a real Parca: a second one as the upstream store (the charm's own is the scraper).
    let store = options
        .parca
        .as_deref()
        .map(|binary| crate::parca::ParcaStore::start(binary, &out.join("parca-store")))
        .transpose()?;

    // The service, so the hooks' notes reach it.
    let listener = runtime.block_on(tokio::net::TcpListener::bind(options.listen))?;
    let listen = listener.local_addr()?;
    let sim_dir = out.join("sim");
    let exe = std::env::current_exe()?;
    let mut model = Model::new(&sim_dir, &exe, &exe, &out.join("charm-source"))?;
    let unit = "parca-broker/0";
    let state_file = files::under(&model.unit_root(unit), files::STATE_FILE);
    let serve = ServeOptions {
        listen,
        state_file,
        probe: ProbeOptions {
            interval: Duration::from_secs(5),
            timeout: Duration::from_secs(2),
            concurrency: 8,
        },
        shutdown_deadline: Duration::from_secs(5),
        limits: Default::default(),
    };
    let exit_after = options.exit_after;
    let server = runtime.spawn(async move {
        // SIGTERM too: the demo must stop the Parca processes it started on its way out.
        let shutdown = async move {
            match exit_after {
                Some(after) => tokio::select! { _ = tokio::time::sleep(after) => {}, _ = crate::service::shutdown_signal() => {} },
                None => crate::service::shutdown_signal().await,
            }
        };
        crate::service::serve_with(listener, serve, shutdown).await
    });

    let parca = match (&options.parca, &store) {
        (Some(binary), Some(store)) => Some((binary.as_path(), store.address)),
        _ => None,
    };
    build_model(&mut model, &apps, listen, parca)?;
    for (from, to) in [
        ("/etc/parca/parca.yaml", "parca.yaml"),
        (files::SCRAPER_ARGS, "parca-scraper.args"),
        (files::AGENT_ARGS, "parca-agent.args"),
        (files::STORE_TOKEN, "store-token"),
    ] {
        let _ = std::fs::copy(files::under(&model.unit_root(unit), from), out.join(to));
    }
    write_prometheus_config(&out, listen)?;
    let status = model.status(unit).cloned();
    println!(
        "parca-broker demo: the charm ran {} hooks under the Juju simulator",
        model.runs().len()
    );
    if let Some(status) = status {
        println!("  unit status:   {} \"{}\"", status.status, status.message);
    }
    println!("  status page:   http://{listen}/");
    println!(
        "  API:           http://{listen}/api/v1/targets  /api/v1/jobs  /api/v1/config  /api/v1/store  /api/v1/status"
    );
    println!("  discovery:     http://{listen}/sd/v1/<job>    metrics: http://{listen}/metrics");
    println!(
        "  files:         {}/parca.yaml, parca-agent.args, parca-scraper.args",
        out.display()
    );
    println!(
        "  check it:      parca-broker check-config {}/parca.yaml",
        out.display()
    );
    println!(
        "  COS:           prometheus --config.file={}/prometheus.yml  (the job and alert rules the\n\
         \x20                Prometheus charm renders from metrics-endpoint; dashboard: charm/grafana_dashboards)",
        out.display()
    );
    match (&options.parca, &store) {
        (Some(binary), Some(store)) => {
            println!(
                "  parca:         {} runs as the charm's parca.service (scraper-only), forwarding to",
                binary.display()
            );
            println!(
                "                 a real Parca store at http://{}/ (query: /api/profiles/labels/juju_unit/values)",
                store.address
            );
        }
        _ => println!(
            "  parca:         none found (PATH or --parca): parca.yaml is rendered and checked by our own\n\
             \x20                validator only. With one (scripts/install-parca builds it), the charm runs it, the\n\
             \x20                status page shows Parca's view of every target and profiles reach a real store."
        ),
    }
    println!("Press Ctrl-C to stop.");
    runtime
        .block_on(server)
        .map_err(|e| std::io::Error::other(e.to_string()))??;
    // The charm's parca.service stops with the model, then the store.
    drop(model);
    drop(store);
    Ok(())
}

async fn free_port() -> std::io::Result<u16> {
    // Bound on the first demo address so the port is free there; the others follow.
    let probe = tokio::net::TcpListener::bind((Ipv4Addr::new(127, 0, 0, 11), 0)).await?;
    Ok(probe.local_addr()?.port())
}

async fn start_pprof_server(addr: SocketAddr, app: &'static str, unit: u8) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let index = format!(
        "<html><body>{app}/{unit}: /debug/pprof/ (allocs, block, goroutine, mutex, profile)</body></html>"
    );
    let router = Router::new()
        .route(
            "/debug/pprof/",
            get(move || async move { axum::response::Html(index) }),
        )
        .route(
            "/debug/pprof/{profile}",
            get(
                |axum::extract::Path(kind): axum::extract::Path<String>| async move {
                    match synthetic_profile(&kind) {
                        Some(body) => (
                            [(axum::http::header::CONTENT_TYPE, "application/octet-stream")],
                            body,
                        )
                            .into_response(),
                        None => axum::http::StatusCode::NOT_FOUND.into_response(),
                    }
                },
            ),
        );
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok(())
}

/// A small but valid pprof profile of the kind Parca asks for (allocs, block, goroutine, mutex,
/// profile): one sample in `demo.work` ← `main`, with the sample types Go's runtime uses, so a
/// real Parca scrapes the demo's targets successfully.
fn synthetic_profile(kind: &str) -> Option<Vec<u8>> {
    use pprof::protos::{Function, Line, Location, Message, Profile, Sample, ValueType};
    // (sample types, (period type, period unit, period)), as Go's runtime writes them.
    type Kind = (
        &'static [(&'static str, &'static str)],
        (&'static str, &'static str, i64),
    );
    let (types, period): Kind = match kind {
        "allocs" | "heap" => (
            &[
                ("alloc_objects", "count"),
                ("alloc_space", "bytes"),
                ("inuse_objects", "count"),
                ("inuse_space", "bytes"),
            ],
            ("space", "bytes", 524_288),
        ),
        "block" | "mutex" => (
            &[("contentions", "count"), ("delay", "nanoseconds")],
            ("contentions", "count", 1),
        ),
        "goroutine" => (&[("goroutine", "count")], ("goroutine", "count", 1)),
        "profile" => (
            &[("samples", "count"), ("cpu", "nanoseconds")],
            ("cpu", "nanoseconds", 10_000_000),
        ),
        _ => return None,
    };
    let mut strings = vec![String::new()];
    let mut intern = |text: &str| {
        strings.push(text.to_owned());
        i64::try_from(strings.len() - 1).unwrap_or(0)
    };
    let sample_type = types
        .iter()
        .map(|(ty, unit)| ValueType {
            ty: intern(ty),
            unit: intern(unit),
        })
        .collect::<Vec<_>>();
    let period_type = Some(ValueType {
        ty: intern(period.0),
        unit: intern(period.1),
    });
    let file = intern("demo.go");
    let function = ["demo.work", "main.main"]
        .iter()
        .zip(1u64..)
        .map(|(name, id)| {
            let name = intern(name);
            Function {
                id,
                name,
                system_name: name,
                filename: file,
                start_line: 1,
            }
        })
        .collect::<Vec<_>>();
    let location = (1u64..=2)
        .map(|id| Location {
            id,
            address: 0x1000 * id,
            line: vec![Line {
                function_id: id,
                line: 10,
            }],
            ..Default::default()
        })
        .collect();
    let value = types.iter().map(|_| 7).collect();
    let profile = Profile {
        sample_type,
        sample: vec![Sample {
            location_id: vec![1, 2],
            value,
            label: Vec::new(),
        }],
        location,
        function,
        string_table: strings,
        time_nanos: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(0)),
        period_type,
        period: period.2,
        ..Default::default()
    };
    Some(profile.encode_to_vec())
}

fn provider_bag(app: &str, jobs: &Value) -> Databag {
    let topology = JujuTopology {
        model: "demo".into(),
        model_uuid: ModelUuid::parse(MODEL_UUID)
            .unwrap_or_else(|_| unreachable!("a literal v4 UUID")),
        application: app.into(),
        unit: format!("{app}/0"),
        charm_name: format!("{app}-k8s"),
    };
    let jobs = jobs.as_array().cloned().unwrap_or_default();
    ScrapeProvider::new(&jobs)
        .map(|p| p.app_databag(&topology))
        .unwrap_or_default()
}

fn build_model(
    model: &mut Model,
    apps: &[DemoApp],
    listen: SocketAddr,
    parca: Option<(&Path, SocketAddr)>,
) -> Result<(), DemoError> {
    model.name = "demo".into();
    model.uuid = MODEL_UUID.into();
    let mut config = json!({"listen-address": listen.to_string()});
    if let Some((binary, _)) = parca {
        // The charm runs the real Parca; the broker service is the demo's own (in process).
        model.run_only_services(&[crate::reconcile::plan::PARCA_SERVICE]);
        let parca_address = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        config["parca-binary"] = binary.display().to_string().into();
        config["parca-listen-address"] = parca_address.to_string().into();
    }
    model.deploy_charm(
        "parca-broker",
        1,
        config.as_object().cloned().unwrap_or_default(),
    )?;
    for app in apps {
        model.add_remote_app(app.name, u32::from(app.units))?;
        let id = model.relate(
            "parca-broker",
            "profiling-endpoint",
            app.name,
            "profiling-endpoint",
        )?;
        model.set_app_data(id, app.name, provider_bag(app.name, &app.jobs))?;
        for n in 0..app.units {
            let unit = format!("{}/{n}", app.name);
            let address = Ipv4Addr::new(127, 0, 0, app.first_address + n).to_string();
            model.set_unit_data(
                id,
                &unit,
                Databag::from([
                    ("parca_scrape_unit_address".to_owned(), address),
                    ("parca_scrape_unit_name".to_owned(), unit.clone()),
                ]),
            )?;
        }
    }
    // A provider that publishes garbage: reported and skipped, everything else still renders.
    model.add_remote_app("broken-exporter", 1)?;
    let broken = model.relate(
        "parca-broker",
        "profiling-endpoint",
        "broken-exporter",
        "profiling-endpoint",
    )?;
    model.set_app_data(broken, "broken-exporter", Databag::from([
        ("scrape_jobs".to_owned(), "[{\"static_configs\": ".to_owned()),
        ("scrape_metadata".to_owned(), format!("{{\"model\": \"demo\", \"model_uuid\": \"{MODEL_UUID}\", \"application\": \"broken-exporter\"}}")),
    ]))?;
    // The upstream store and two agents.
    model.add_remote_app("parca", 1)?;
    let upstream = model.relate(
        "parca-broker",
        "external-parca-store-endpoint",
        "parca",
        "parca-store-endpoint",
    )?;
    // With a real Parca the store is real, on loopback (plaintext); otherwise a name.
    let (store_address, insecure) = match parca {
        Some((_, store)) => (store.to_string(), "true"),
        None => ("parca.demo.internal:7993".to_owned(), "false"),
    };
    model.set_app_data(
        upstream,
        "parca",
        Databag::from([
            ("remote-store-address".to_owned(), store_address),
            (
                "remote-store-bearer-token".to_owned(),
                "demo-token-not-shown".to_owned(),
            ),
            ("remote-store-insecure".to_owned(), insecure.to_owned()),
        ]),
    )?;
    for (agent, units) in [("parca-agent-web", 2), ("parca-agent-db", 1)] {
        model.add_remote_app(agent, units)?;
        model.relate(
            "parca-broker",
            "parca-store-endpoint",
            agent,
            "parca-store-endpoint",
        )?;
    }
    model.update_status("parca-broker")?;
    Ok(())
}

/// Where the demo writes by default.
pub fn default_out() -> PathBuf {
    Path::new("demo-output").to_path_buf()
}

/// `prometheus.yml` and its rule file in `out`: what the Prometheus charm renders from what the
/// broker publishes on metrics-endpoint (the recorded consumer algorithm), pointed at the demo's
/// service. The demo's model has no Prometheus; run one on this file to see the dashboard's
/// metrics and the alert rules at work.
fn write_prometheus_config(out: &Path, listen: SocketAddr) -> Result<(), DemoError> {
    use crate::interfaces::prometheus_scrape::consumer::{self, ConsumerRelation};
    use crate::interfaces::prometheus_scrape::{MetricsEndpointProvider, UnitEndpoint};
    use crate::interfaces::topology::{JujuTopology, ModelUuid};
    use crate::reconcile::plan::cos;
    let invalid = |e: String| DemoError::Io(std::io::Error::other(e));
    let unit = "parca-broker/0";
    let topology = JujuTopology {
        model: "demo".into(),
        model_uuid: ModelUuid::parse(MODEL_UUID).map_err(|e| invalid(e.to_string()))?,
        application: "parca-broker".into(),
        unit: unit.into(),
        charm_name: cos::CHARM_NAME.into(),
    };
    let rules = cos::alert_rules(&topology);
    let job = json!({"job_name": cos::METRICS_JOB_NAME,
        "static_configs": [{"targets": [format!("*:{}", listen.port())]}]});
    let app = MetricsEndpointProvider::new(&[job], &[])
        .map_err(|e| invalid(e.to_string()))?
        .app_databag(
            &topology,
            Some(&rules.document),
            0,
            crate::fixes::FixSet::ALL,
        );
    let endpoint = UnitEndpoint {
        address: listen.ip().to_string(),
        ..UnitEndpoint::default()
    };
    let units = std::collections::BTreeMap::from([(unit.to_owned(), endpoint.unit_databag(unit))]);
    let rendered = consumer::render(
        &[ConsumerRelation {
            name: "metrics-endpoint",
            id: 1,
            app: &app,
            units: &units,
        }],
        None,
    )
    .map_err(|e| invalid(e.to_string()))?;
    let rule_files: Vec<String> = rendered
        .alerts
        .iter()
        .map(|(name, groups)| {
            let path = out.join(format!("{name}.rules.json"));
            std::fs::write(&path, groups.to_string()).map(|()| path.display().to_string())
        })
        .collect::<Result<_, _>>()?;
    // JSON is YAML. A short interval so the demo's graphs fill within a minute.
    let config = json!({
        "global": {"scrape_interval": "5s", "evaluation_interval": "5s"},
        "rule_files": rule_files,
        "scrape_configs": rendered.jobs,
    });
    std::fs::write(out.join("prometheus.yml"), format!("{config:#}\n"))?;
    Ok(())
}
