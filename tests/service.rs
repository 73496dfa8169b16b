//! The broker service over real sockets: its routes, target health against real HTTP servers
//! on loopback (up, HTTP 500, hanging, dead), http_sd, metrics, the pprof profile, state reload,
//! and a graceful SIGTERM shutdown of the real binary.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

use axum::Router;
use axum::routing::get;
use parca_broker::reconcile::snapshot::{
    BrokerSnapshot, JobView, StatusView, StoreView, TargetGroup,
};
use parca_broker::service::{ProbeOptions, ServeOptions, serve_with};
use serde_json::Value;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

async fn pprof_server() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new()
        .route(
            "/debug/pprof/",
            get(|| async { "<html>pprof index</html>" }),
        )
        .route("/debug/pprof/allocs", get(|| async { "profile" }));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

async fn failing_server() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new()
        .fallback(|| async { (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "boom") });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// Accepts connections and never answers.
async fn hanging_server() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            held.push(socket);
        }
    });
    addr
}

fn dead_address() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap() // dropped: nothing listens there any more
}

fn snapshot(targets: &[(&str, String)]) -> BrokerSnapshot {
    BrokerSnapshot {
        unit: "parca-broker/0".into(),
        model: "cos".into(),
        status: StatusView {
            status: "active".into(),
            message: "4 targets from 1 apps".into(),
        },
        jobs: vec![JobView {
            name: "cos_8d5d1f3b_demo/pprof".into(),
            app: "demo".into(),
            relation: "profiling-endpoint:3".into(),
            scheme: "http".into(),
            path_prefix: String::new(),
            groups: targets
                .iter()
                .map(|(unit, target)| TargetGroup {
                    targets: vec![target.clone()].into(),
                    labels: [("juju_unit", *unit)].into_iter().collect(),
                    unit: Some((*unit).to_owned()),
                    owner: None,
                })
                .collect(),
        }],
        dropped: vec![],
        store: StoreView {
            source: "config store-address".into(),
            address: "store:7993".into(),
            insecure: "false".into(),
            token: "<redacted>".into(),
        },
        relations: vec![],
        config_file: "/etc/parca/parca.yaml".into(),
        parca_yaml: "object_storage: {}\n".into(),
        discovery: "static".into(),
        parca: Default::default(),
        shard: Default::default(),
        cos: Default::default(),
        ignored: Vec::new(),
    }
}

struct Running {
    base: String,
    state_file: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: tokio::task::JoinHandle<()>,
}

async fn start(name: &str) -> Running {
    parca_broker::service::install_tls_provider();
    let dir = std::env::temp_dir().join(format!(
        "parca-broker-service-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let state_file = dir.join("state.json");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let options = ServeOptions {
        listen: listener.local_addr().unwrap(),
        state_file: state_file.clone(),
        probe: ProbeOptions {
            interval: Duration::from_millis(300),
            timeout: Duration::from_millis(700),
            concurrency: 2,
        },
        shutdown_deadline: Duration::from_secs(2),
        limits: Default::default(),
    };
    let handle = tokio::spawn(async move {
        serve_with(listener, options, async {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    Running {
        base,
        state_file,
        stop: Some(tx),
        handle,
    }
}

async fn get_json(url: &str) -> (u16, Value) {
    let response = reqwest::get(url).await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn wait_until(mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..100 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("condition not reached in 10 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_health_and_discovery_over_real_sockets() {
    let up = pprof_server().await;
    let failing = failing_server().await;
    let hanging = hanging_server().await;
    let dead = dead_address();
    let mut service = start("routes").await;

    assert_eq!(
        reqwest::get(format!("{}/healthz", service.base))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "ok\n"
    );
    assert_eq!(
        reqwest::get(format!("{}/readyz", service.base))
            .await
            .unwrap()
            .status(),
        503
    );
    assert_eq!(
        get_json(&format!("{}/api/v1/targets", service.base))
            .await
            .0,
        503
    );

    // The charm writes the state file; the service picks it up.
    let state = snapshot(&[
        ("demo/0", up.to_string()),
        ("demo/1", failing.to_string()),
        ("demo/2", hanging.to_string()),
        ("demo/3", dead.to_string()),
    ]);
    std::fs::write(
        &service.state_file,
        serde_json::to_string_pretty(&state).unwrap(),
    )
    .unwrap();
    let base = service.base.clone();
    wait_until(async || {
        reqwest::get(format!("{base}/readyz"))
            .await
            .unwrap()
            .status()
            == 200
    })
    .await;

    // Health after a probe round.
    let targets_url = format!("{}/api/v1/targets", service.base);
    wait_until(async || {
        let (_, targets) = get_json(&targets_url).await;
        targets
            .as_array()
            .is_some_and(|t| t.len() == 4 && t.iter().all(|t| !t["health"].is_null()))
    })
    .await;
    let (_, targets) = get_json(&targets_url).await;
    let by_unit = |unit: &str| {
        targets
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["unit"] == unit)
            .unwrap()["health"]
            .clone()
    };
    assert_eq!(by_unit("demo/0")["up"], true);
    assert_eq!(
        by_unit("demo/0")["url"],
        format!("http://{up}/debug/pprof/")
    );
    assert_eq!(
        by_unit("demo/1")["last_error"],
        "HTTP 500 Internal Server Error"
    );
    assert_eq!(by_unit("demo/2")["last_error"], "timed out");
    assert!(
        by_unit("demo/3")["last_error"]
            .as_str()
            .unwrap()
            .starts_with("connection failed"),
        "{}",
        by_unit("demo/3")
    );

    // http_sd, with the job name percent-encoded in the path.
    let (status, groups) =
        get_json(&format!("{}/sd/v1/cos_8d5d1f3b_demo%2Fpprof", service.base)).await;
    assert_eq!(status, 200);
    assert_eq!(groups[0]["targets"][0], up.to_string());
    assert_eq!(groups[0]["labels"]["juju_unit"], "demo/0");
    assert_eq!(
        get_json(&format!("{}/sd/v1/nope", service.base)).await.0,
        404
    );

    // Store (redacted), config text, jobs, status.
    let (_, store) = get_json(&format!("{}/api/v1/store", service.base)).await;
    assert_eq!(store["token"], "<redacted>");
    let config = reqwest::get(format!("{}/api/v1/config", service.base))
        .await
        .unwrap();
    assert_eq!(
        config.headers()["content-type"],
        "application/yaml; charset=utf-8"
    );
    assert_eq!(config.text().await.unwrap(), "object_storage: {}\n");
    let (_, jobs) = get_json(&format!("{}/api/v1/jobs", service.base)).await;
    assert_eq!(jobs[0]["targets"], 4);
    let (_, status) = get_json(&format!("{}/api/v1/status", service.base)).await;
    assert_eq!(
        (
            status["targets"].as_u64(),
            status["targets_up"].as_u64(),
            status["targets_down"].as_u64()
        ),
        (Some(4), Some(1), Some(3))
    );

    // A hook's note: counted, and shown as the last reconcile.
    let client = reqwest::Client::new();
    let note = serde_json::json!({"event": "update-status", "at_unix": 1_795_349_645u64, "render_seconds": 0.002, "files_written": ["/etc/parca/parca.yaml"]});
    let posted = client
        .post(format!("{}/internal/reconciled", service.base))
        .json(&note)
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 204);
    let too_big = client
        .post(format!("{}/internal/reconciled", service.base))
        .body(vec![b' '; 100_000])
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(too_big.status(), 413);
    let metrics = reqwest::get(format!("{}/metrics", service.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "parca_broker_reconciles_total 1",
        "parca_broker_config_writes_total 1",
        "parca_broker_targets 4",
        "parca_broker_jobs 1",
        "parca_broker_probes_total{result=\"up\"}",
        "parca_broker_render_duration_seconds_count 1",
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
    let page = reqwest::get(format!("{}/", service.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("2026-11-22 12:14:05 UTC"),
        "last reconcile on the page: {page}"
    );
    assert!(page.contains("HTTP 500 Internal Server Error") && page.contains("timed out"));

    service.stop.take().unwrap().send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), &mut service.handle)
        .await
        .unwrap()
        .unwrap();

    // A restarted service restores the last state from the file before its first request.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let again = format!("http://{}", listener.local_addr().unwrap());
    let options = ServeOptions {
        listen: listener.local_addr().unwrap(),
        state_file: service.state_file.clone(),
        probe: ProbeOptions::default(),
        shutdown_deadline: Duration::from_secs(2),
        limits: Default::default(),
    };
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let restarted = tokio::spawn(async move {
        serve_with(listener, options, async {
            let _ = rx.await;
        })
        .await
        .unwrap()
    });
    assert_eq!(
        reqwest::get(format!("{again}/readyz"))
            .await
            .unwrap()
            .status(),
        200
    );
    let (_, jobs) = get_json(&format!("{again}/api/v1/jobs")).await;
    assert_eq!(jobs[0]["name"], "cos_8d5d1f3b_demo/pprof");
    tx.send(()).unwrap();
    restarted.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_profile_is_a_pprof_protobuf() {
    let service = start("pprof").await;
    let response = reqwest::get(format!("{}/debug/pprof/profile?seconds=1", service.base))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body = response.bytes().await.unwrap();
    use pprof::protos::Message;
    let profile = pprof::protos::Profile::decode(body.as_ref()).unwrap();
    assert!(
        !profile.sample_type.is_empty(),
        "a CPU profile has sample types"
    );
    assert!(
        profile.duration_nanos >= 900_000_000,
        "profiled for about a second"
    );
}

/// The real binary serving on a free loopback port (with `extra` flags), once it accepts
/// connections; and a first connection to it.
fn spawn_serve(name: &str, extra: &[&str]) -> (std::process::Child, std::net::TcpStream) {
    let port = dead_address().port();
    let dir = std::env::temp_dir().join(format!("parca-broker-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_parca-broker"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(extra)
        .arg("--state")
        .arg(dir.join("state.json"))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if let Ok(stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            return (child, stream);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("service did not start on 127.0.0.1:{port}");
}

/// Sends SIGTERM to `child` and waits for it to exit.
fn terminate(child: std::process::Child) -> std::process::Output {
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    child.wait_with_output().unwrap()
}

#[test]
fn the_real_binary_stops_gracefully_on_sigterm() {
    let (child, _client) = spawn_serve("sigterm", &[]);
    let output = terminate(child);
    assert!(output.status.success(), "exit status {:?}", output.status);
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(
        log.contains("parca-broker service started")
            && log.contains("parca-broker service stopped"),
        "{log}"
    );
}

#[tokio::test]
async fn reconcile_notes_are_accepted_only_from_loopback() {
    use axum::body::Body;
    use axum::extract::ConnectInfo;
    use axum::http::Request;
    use tower::ServiceExt;
    let shared = parca_broker::service::Shared::new();
    let note = r#"{"event":"update-status","at_unix":1,"render_seconds":0.001,"files_written":[]}"#;
    for (peer, expected) in [
        ("192.0.2.7:5555", 403),
        ("[2001:db8::7]:5555", 403),
        ("127.0.0.1:5555", 204),
        ("[::1]:5555", 204),
    ] {
        let mut request = Request::post("/internal/reconciled")
            .header("content-type", "application/json")
            .body(Body::from(note))
            .unwrap();
        request
            .extensions_mut()
            .insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
        let response = parca_broker::service::router(shared.clone())
            .oneshot(request)
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), expected, "{peer}");
    }
}

#[test]
fn sigterm_stops_the_service_within_the_deadline_even_with_a_request_in_flight() {
    use std::io::Write;
    let (child, mut client) = spawn_serve("deadline", &["--shutdown-deadline", "1"]);
    // A request that stays in flight for a minute: a 60 s CPU profile.
    client
        .write_all(b"GET /debug/pprof/profile?seconds=60 HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let started = std::time::Instant::now();
    let output = terminate(child);
    let took = started.elapsed();
    assert!(output.status.success(), "exit status {:?}", output.status);
    assert!(took < Duration::from_secs(10), "took {took:?}");
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(log.contains("stopping anyway"), "{log}");
    drop(client);
}

/// A service on a free loopback port with these connection limits: its address, the sender
/// that stops it, and its task.
async fn serve_limited(
    name: &str,
    limits: parca_broker::service::ConnectionLimits,
) -> (
    SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let dir = std::env::temp_dir().join(format!("parca-broker-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let options = ServeOptions {
        listen: address,
        state_file: dir.join("state.json"),
        probe: ProbeOptions::default(),
        shutdown_deadline: Duration::from_secs(2),
        limits,
    };
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        serve_with(listener, options, async {
            let _ = rx.await;
        })
        .await
        .unwrap()
    });
    (address, tx, server)
}

/// `GET /healthz` on a fresh connection, read to the end: the raw HTTP answer.
async fn healthz_on_a_new_connection(address: SocketAddr) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).await.unwrap();
    reply
}

/// Issue 11, item 10: half-sent and idle connections are closed after the header-read timeout,
/// and with every connection slot taken a new client waits for one instead of failing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_half_sent_connections_are_closed_and_the_cap_holds() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (address, tx, server) = serve_limited(
        "limits",
        parca_broker::service::ConnectionLimits {
            max_connections: 8,
            header_read_timeout: Duration::from_millis(500),
            write_stall_timeout: Duration::from_secs(15),
        },
    )
    .await;
    // Take every slot: 4 silent clients, 4 that send half a request line.
    let mut clients = Vec::new();
    for n in 0..8 {
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        if n % 2 == 1 {
            stream
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: x")
                .await
                .unwrap();
        }
        clients.push(stream);
    }
    // A real client still gets through: the idle ones are dropped after the timeout.
    let started = std::time::Instant::now();
    let health = tokio::time::timeout(Duration::from_secs(5), healthz_on_a_new_connection(address))
        .await
        .expect("a client waited for a slot and got an answer");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "it had to wait for a slot"
    );
    // The idle and half-sent clients were closed by the server (EOF, or a 408 then EOF).
    for mut stream in clients {
        let mut rest = Vec::new();
        tokio::time::timeout(Duration::from_secs(2), stream.read_to_end(&mut rest))
            .await
            .expect("closed, not left hanging")
            .ok();
    }
    // A keep-alive client that goes quiet after a request is closed too.
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = stream.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let eof = tokio::time::timeout(Duration::from_secs(3), stream.read(&mut buf))
        .await
        .expect("the idle keep-alive connection is closed");
    assert!(matches!(eof, Ok(0) | Err(_)), "{eof:?}");
    tx.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .unwrap()
        .unwrap();
}

/// Issue 11, item 11: health is published as each probe finishes, so a target that never
/// answers does not hold back the others until the end of the round.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_published_as_probes_finish() {
    parca_broker::service::install_tls_provider();
    let up = pprof_server().await;
    let hanging = hanging_server().await;
    let dir = std::env::temp_dir().join(format!("parca-broker-asap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let state_file = dir.join("state.json");
    let state = snapshot(&[("demo/0", hanging.to_string()), ("demo/1", up.to_string())]);
    std::fs::write(&state_file, serde_json::to_string_pretty(&state).unwrap()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let options = ServeOptions {
        listen: listener.local_addr().unwrap(),
        state_file,
        // The hanging target takes the whole (long) timeout; the round ends only then.
        probe: ProbeOptions {
            interval: Duration::from_secs(60),
            timeout: Duration::from_secs(20),
            concurrency: 2,
        },
        shutdown_deadline: Duration::from_secs(1),
        limits: Default::default(),
    };
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        serve_with(listener, options, async {
            let _ = rx.await;
        })
        .await
        .unwrap()
    });
    // The answering target is up within seconds, long before the hanging one times out.
    let started = std::time::Instant::now();
    wait_until(async || {
        let (status, targets) = get_json(&format!("{base}/api/v1/targets")).await;
        status == 200
            && targets
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["target"] == up.to_string() && t["health"]["up"] == true)
    })
    .await;
    assert!(started.elapsed() < Duration::from_secs(10));
    let (_, targets) = get_json(&format!("{base}/api/v1/targets")).await;
    let hanging_row = targets
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["target"] == hanging.to_string())
        .unwrap();
    assert!(
        hanging_row["health"].is_null(),
        "still probing: {hanging_row}"
    );
    tx.send(()).unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
}

/// Issue 11, item 12: a client that stops reading a response is cut off once the write has made
/// no progress for the stall timeout, freeing its slot and its buffered response.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_cut_off_after_the_write_stall_timeout() {
    use tokio::io::AsyncWriteExt;
    let (address, tx, server) = serve_limited(
        "stall",
        parca_broker::service::ConnectionLimits {
            // One slot: while the stuck client holds it, nobody else is served.
            max_connections: 1,
            header_read_timeout: Duration::from_secs(30),
            write_stall_timeout: Duration::from_secs(1),
        },
    )
    .await;
    // 20,000 pipelined requests, never reading: the answers (tens of MB) fill every socket
    // buffer and the server's writes stall.
    let mut stuck = tokio::net::TcpStream::connect(address).await.unwrap();
    let requests = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n".repeat(20_000);
    let writer = tokio::spawn(async move {
        // The server stops reading once it cannot write: the tail of this may never be sent.
        let _ = tokio::time::timeout(
            Duration::from_secs(20),
            stuck.write_all(requests.as_bytes()),
        )
        .await;
        stuck
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = std::time::Instant::now();
    let health = tokio::time::timeout(
        Duration::from_secs(10),
        healthz_on_a_new_connection(address),
    )
    .await
    .expect("the stuck client was cut off and the slot freed");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "the slot was held until the stall timeout: {:?}",
        started.elapsed()
    );
    drop(writer.await.unwrap());
    tx.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .unwrap()
        .unwrap();
}

/// Issue 11: a corrupt, empty, huge or missing state file keeps the last good state served,
/// shows in `/readyz` (503, naming the problem), and a good file again recovers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_state_file_keeps_the_last_good_state_and_shows_in_readyz() {
    let mut service = start("readyz").await;
    let base = service.base.clone();
    let readyz = async |base: &str| {
        let response = reqwest::get(format!("{base}/readyz")).await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    };
    let good = serde_json::to_string(&snapshot(&[("demo/0", dead_address().to_string())])).unwrap();
    std::fs::write(&service.state_file, &good).unwrap();
    wait_until(async || readyz(&base).await.0 == 200).await;
    let (_, jobs) = get_json(&format!("{base}/api/v1/jobs")).await;
    assert_eq!(jobs[0]["name"], "cos_8d5d1f3b_demo/pprof");
    let huge = || {
        let file = std::fs::File::create(&service.state_file).unwrap();
        // Sparse: 65 MiB without writing them.
        file.set_len(parca_broker::service::MAX_STATE_BYTES + 1024 * 1024)
            .unwrap();
    };
    for (what, expected) in [
        ("corrupt", "is unreadable"),
        ("empty", "is unreadable"),
        ("huge", "is refused"),
        ("missing", "is missing"),
    ] {
        match what {
            "corrupt" => std::fs::write(&service.state_file, &good[..good.len() / 2]).unwrap(),
            "empty" => std::fs::write(&service.state_file, "").unwrap(),
            "huge" => huge(),
            _ => std::fs::remove_file(&service.state_file).unwrap(),
        }
        wait_until(async || {
            let (code, body) = readyz(&base).await;
            code == 503 && body.contains(expected)
        })
        .await;
        let (code, body) = readyz(&base).await;
        assert!(
            body.contains("serving the last good state"),
            "{what}: {code} {body}"
        );
        // The last good state is still served.
        let (code, jobs) = get_json(&format!("{base}/api/v1/jobs")).await;
        assert_eq!(code, 200, "{what}");
        assert_eq!(jobs[0]["name"], "cos_8d5d1f3b_demo/pprof", "{what}");
        // Back to good before the next case (a change the watcher sees: the size differs).
        std::fs::write(&service.state_file, &good).unwrap();
        wait_until(async || readyz(&base).await.0 == 200).await;
    }
    service.stop.take().unwrap().send(()).unwrap();
}

/// Issue 11, item 11: under systemd's default limit of 1,024 open files, 2,000 reachable
/// targets are all probed and the service stays reachable: the prober holds no connection per
/// target (before, 5,000 reachable targets held 5,010 descriptors and locked the service out).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_reachable_targets_fit_under_a_1024_file_limit() {
    parca_broker::service::install_tls_provider();
    // One pprof-like server that every loopback address reaches: 2,000 distinct targets.
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = Router::new().route(
        "/debug/pprof/",
        get(|| async { "<html>pprof index</html>" }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let targets: Vec<(String, String)> = (0..2_000)
        .map(|i| {
            (
                format!("demo/{i}"),
                format!("127.0.{}.{}:{port}", i / 250, i % 250 + 1),
            )
        })
        .collect();
    let refs: Vec<(&str, String)> = targets
        .iter()
        .map(|(u, t)| (u.as_str(), t.clone()))
        .collect();
    let dir = std::env::temp_dir().join(format!("parca-broker-nofile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("state.json");
    std::fs::write(&state, serde_json::to_vec(&snapshot(&refs)).unwrap()).unwrap();
    let service = dead_address();
    let child = std::process::Command::new("sh")
        .arg("-c")
        .arg("ulimit -n 1024 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_parca-broker"))
        .args([
            "serve",
            "--listen",
            &service.to_string(),
            "--probe-interval",
            "1",
            "--state",
        ])
        .arg(&state)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    /// Kills the service when the test ends, failed or not.
    struct Reap(std::process::Child);
    impl Drop for Reap {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let pid = child.id();
    let child = Reap(child);
    let base = format!("http://{service}");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut most_fds = 0;
    let mut all_up = false;
    let mut limit = String::new();
    for _ in 0..600 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count());
        most_fds = most_fds.max(fds);
        if let Ok(response) = client.get(format!("{base}/api/v1/status")).send().await
            && let Ok(status) = response.json::<Value>().await
        {
            // Answering: the service runs (exec'd under the limit).
            limit = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap_or_default();
            if status["targets_up"] == 2_000 {
                all_up = true;
                break;
            }
        }
    }
    let health = client
        .get(format!("{base}/healthz"))
        .send()
        .await
        .map(|r| r.status().as_u16());
    drop(child);
    eprintln!("2,000 reachable targets: at most {most_fds} descriptors open");
    assert!(
        limit
            .lines()
            .any(|l| l.starts_with("Max open files") && l.contains("1024")),
        "the service ran under a 1,024 file limit: {limit}"
    );
    assert!(
        all_up,
        "not every target was probed up (at most {most_fds} descriptors)"
    );
    assert!(matches!(health, Ok(200)), "{health:?}");
    assert!(
        most_fds < 200,
        "{most_fds} descriptors open at once for 2,000 reachable targets"
    );
}
