//! The broker service (`parca-broker serve`): shows and serves what the last hook computed.
//!
//! It reads the state file apply writes (and reloads it when it changes), never runs hook tools
//! and never writes relation data. Routes: a status page, a JSON API, Prometheus `http_sd`
//! discovery, `/metrics`, health probes of every target, and the broker's own pprof profile.

mod metrics;
pub mod page;
mod probe;
mod profile;

/// Makes ring the process's TLS crypto provider (reqwest is built without one, to leave out
/// aws-lc). Call before building an HTTP client; calling it again is harmless.
pub fn install_tls_provider() {
    // An error only means a provider is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

use crate::reconcile::snapshot::{BrokerSnapshot, ReconcileNote};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
pub use probe::{Health, ProbeOptions};
use serde_json::json;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

/// How to run the service.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Listen address (loopback by default).
    pub listen: SocketAddr,
    /// The state file written by the charm.
    pub state_file: PathBuf,
    /// Target probing.
    pub probe: ProbeOptions,
    /// After the stop signal, how long in-flight requests may take before the service exits
    /// anyway (a client that never finishes must not keep SIGTERM from working).
    pub shutdown_deadline: Duration,
    /// Connection limits (slow, idle and too many clients).
    pub limits: ConnectionLimits,
}

/// What one client may hold: the service's file descriptors are shared by every client and
/// the prober, and systemd's default limit is 1,024.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Open connections at most; further ones wait in the listen backlog until one closes.
    pub max_connections: usize,
    /// A client must send a request's headers within this time, and an idle keep-alive
    /// connection is closed after it: half-sent and idle connections do not pile up.
    pub header_read_timeout: Duration,
    /// A response write that makes no progress for this long closes the connection: a client
    /// that stops reading would otherwise pin its buffered response (MBs) and its slot forever.
    pub write_stall_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max_connections: 512,
            header_read_timeout: Duration::from_secs(10),
            write_stall_timeout: Duration::from_secs(15),
        }
    }
}

/// The service could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The listen address is taken or not ours.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The server failed.
    #[error("server error: {0}")]
    Serve(#[source] std::io::Error),
}

/// Everything the handlers share.
#[derive(Debug)]
pub struct Shared {
    snapshot: RwLock<Option<Arc<BrokerSnapshot>>>,
    state_modified: RwLock<Option<SystemTime>>,
    /// Why the state file was not loaded last time it changed (missing, refused, unreadable);
    /// `None` once a good file loads. Shown by `/readyz`.
    state_problem: RwLock<Option<String>>,
    last_note: RwLock<Option<ReconcileNote>>,
    health: RwLock<BTreeMap<String, Health>>,
    /// The managed Parca's view of each target (by [`target_key`]), or why it could not be read.
    parca: RwLock<Result<BTreeMap<String, crate::parca::ParcaTarget>, String>>,
    metrics: metrics::Metrics,
    profiling: tokio::sync::Mutex<()>,
    /// Bumped when the state changes: every cached body is stale at once.
    state_generation: std::sync::atomic::AtomicU64,
    /// Bumped when health, Parca's view or the last note change: cached bodies may be served
    /// up to [`SOFT_STALENESS`] late (a probe round publishes thousands of results).
    live_generation: std::sync::atomic::AtomicU64,
    /// The large bodies (`/`, `/api/v1/targets`) as last rendered.
    bodies: std::sync::Mutex<BTreeMap<&'static str, CachedBody>>,
}

/// How late a cached body may be about health (never about the state).
const SOFT_STALENESS: Duration = Duration::from_secs(1);

/// A rendered body and what it was rendered from.
#[derive(Debug, Clone)]
struct CachedBody {
    state_generation: u64,
    live_generation: u64,
    rendered: std::time::Instant,
    body: axum::body::Bytes,
}

impl Shared {
    /// Empty state (nothing loaded yet).
    pub fn new() -> Arc<Shared> {
        Arc::new(Shared {
            snapshot: RwLock::new(None),
            state_modified: RwLock::new(None),
            state_problem: RwLock::new(None),
            last_note: RwLock::new(None),
            health: RwLock::new(BTreeMap::new()),
            parca: RwLock::new(Ok(BTreeMap::new())),
            metrics: metrics::Metrics::new(),
            profiling: tokio::sync::Mutex::new(()),
            state_generation: std::sync::atomic::AtomicU64::new(0),
            live_generation: std::sync::atomic::AtomicU64::new(0),
            bodies: std::sync::Mutex::new(BTreeMap::new()),
        })
    }

    /// The current snapshot, if one was loaded.
    pub fn snapshot(&self) -> Option<Arc<BrokerSnapshot>> {
        self.snapshot.read().map_or(None, |s| s.clone())
    }

    /// Replaces the snapshot (from the state file).
    pub fn set_snapshot(&self, snapshot: BrokerSnapshot, modified: Option<SystemTime>) {
        self.metrics.observe_snapshot(&snapshot);
        // Health of targets that are gone must not linger in the page, the API or metrics.
        let current: std::collections::BTreeSet<String> = snapshot
            .jobs
            .iter()
            .flat_map(|job| {
                job.groups
                    .iter()
                    .flat_map(|g| g.targets.iter().map(|t| target_key(&job.name, t)))
            })
            .collect();
        if let Ok(mut health) = self.health.write() {
            health.retain(|key, _| current.contains(key));
        }
        if let Ok(mut slot) = self.snapshot.write() {
            *slot = Some(Arc::new(snapshot));
        }
        if let Ok(mut slot) = self.state_modified.write() {
            *slot = modified;
        }
        self.state_changed();
    }

    /// The state changed: cached bodies are stale.
    fn state_changed(&self) {
        self.state_generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    /// Health, Parca's view or the last note changed.
    pub(crate) fn live_changed(&self) {
        self.live_generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    /// The body cached under `key` if it is still good, else `render()` cached. Rendering the
    /// page or the targets of 5,000 targets takes hundreds of milliseconds on the service's
    /// one thread; under load every request paid it (p99 0.7 s).
    fn cached(&self, key: &'static str, render: impl FnOnce() -> Vec<u8>) -> axum::body::Bytes {
        use std::sync::atomic::Ordering;
        let state_generation = self.state_generation.load(Ordering::SeqCst);
        let live_generation = self.live_generation.load(Ordering::SeqCst);
        if let Ok(bodies) = self.bodies.lock()
            && let Some(cached) = bodies.get(key)
            && cached.state_generation == state_generation
            && (cached.live_generation == live_generation
                || cached.rendered.elapsed() < SOFT_STALENESS)
        {
            return cached.body.clone();
        }
        let body = axum::body::Bytes::from(render());
        if let Ok(mut bodies) = self.bodies.lock() {
            bodies.insert(
                key,
                CachedBody {
                    state_generation,
                    live_generation,
                    rendered: std::time::Instant::now(),
                    body: body.clone(),
                },
            );
        }
        body
    }

    /// Records why the state file could not be loaded (`None`: it loaded).
    fn set_state_problem(&self, problem: Option<String>) {
        if let Ok(mut slot) = self.state_problem.write() {
            *slot = problem;
        }
    }

    fn state_problem(&self) -> Option<String> {
        self.state_problem.read().ok().and_then(|p| p.clone())
    }

    fn health(&self) -> BTreeMap<String, Health> {
        self.health.read().map(|h| h.clone()).unwrap_or_default()
    }

    fn parca_targets(&self) -> Result<BTreeMap<String, crate::parca::ParcaTarget>, String> {
        self.parca
            .read()
            .map_or_else(|_| Ok(BTreeMap::new()), |p| p.clone())
    }

    /// Unix seconds of the last reconcile: the last hook's note (sent after its state write),
    /// else, after a restart, the state file's modification time.
    fn last_reconcile_unix(&self) -> Option<u64> {
        let note = self
            .last_note
            .read()
            .ok()
            .and_then(|n| n.as_ref().map(|n| n.at_unix));
        note.or_else(|| {
            self.state_modified
                .read()
                .ok()
                .and_then(|m| *m)
                .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
                .map(|d| d.as_secs())
        })
    }
}

/// Does this unit scrape the group? (No owner: one broker unit, which scrapes everything.)
pub fn owned_here(
    snapshot: &BrokerSnapshot,
    group: &crate::reconcile::snapshot::TargetGroup,
) -> bool {
    group
        .owner
        .as_ref()
        .is_none_or(|owner| *owner == snapshot.unit)
}

/// The key a target's health is stored under.
pub fn target_key(job: &str, target: &str) -> String {
    format!("{job}|{target}")
}

/// The router (tests call it with their own [`Shared`]).
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(status_page))
        .route("/api/v1/targets", get(api_targets))
        .route("/api/v1/jobs", get(api_jobs))
        .route("/api/v1/config", get(api_config))
        .route("/api/v1/store", get(api_store))
        .route("/api/v1/status", get(api_status))
        .route("/sd/v1/{job}", get(http_sd))
        .route("/metrics", get(metrics_text))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/debug/pprof/profile", get(profile::profile))
        .route("/internal/reconciled", post(reconciled))
        .layer(DefaultBodyLimit::max(64 * 1024))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(75),
        ))
        .with_state(shared)
}

/// Runs the service until SIGTERM or SIGINT.
pub async fn serve(options: ServeOptions) -> Result<(), ServiceError> {
    // Take over SIGTERM/SIGINT before the port opens: a stop sent as soon as the service
    // answers is a graceful stop, not the default action killing the process.
    let stop = shutdown_signal();
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|source| ServiceError::Bind {
            addr: options.listen,
            source,
        })?;
    serve_with(listener, options, stop).await
}

/// Runs the service on `listener` until `shutdown` completes (in-flight requests finish).
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    options: ServeOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServiceError> {
    let shared = Shared::new();
    let loaded_stamp = state_stamp(&options.state_file);
    load_state(&shared, &options.state_file);
    release_freed_memory();
    let listen = listener.local_addr().map_err(ServiceError::Serve)?;
    tracing::info!(listen = %listen, state = %options.state_file.display(), "parca-broker service started");
    let watcher = tokio::spawn(watch_state(
        Arc::clone(&shared),
        options.state_file.clone(),
        loaded_stamp,
    ));
    let prober = tokio::spawn(probe::run(Arc::clone(&shared), options.probe.clone()));
    // The stop signal ends accepting (graceful), and starts the deadline for in-flight ones.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let deadline = options.shutdown_deadline;
    let result = accept_loop(
        listener,
        router(shared),
        options.limits,
        stopped(stop_rx.clone()),
    )
    .await;
    // Stopped accepting: in-flight requests get the deadline, then the service exits anyway.
    let result = match result {
        Ok(graceful) => {
            if tokio::time::timeout(deadline, graceful.shutdown())
                .await
                .is_err()
            {
                tracing::warn!(
                    ?deadline,
                    "requests still in flight after the stop signal; stopping anyway"
                );
            }
            Ok(())
        }
        Err(err) => Err(err),
    };
    watcher.abort();
    prober.abort();
    tracing::info!("parca-broker service stopped");
    result
}

/// Accepts connections until `stop`: at most `limits.max_connections` at once, each served
/// over HTTP/1.1 with the header-read (and keep-alive idle) timeout. Returns the watcher of the
/// connections still open, for the graceful shutdown.
async fn accept_loop(
    listener: tokio::net::TcpListener,
    app: Router,
    limits: ConnectionLimits,
    stop: impl std::future::Future<Output = ()>,
) -> Result<hyper_util::server::graceful::GracefulShutdown, ServiceError> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    tokio::pin!(stop);
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&slots).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break, // the semaphore is never closed
            },
            () = &mut stop => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors (EMFILE) or a connection reset before accept:
                    // wait a little instead of spinning, and keep serving.
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let service = hyper_util::service::TowerToHyperService::new(
            app.clone()
                .layer(axum::Extension(axum::extract::ConnectInfo(peer))),
        );
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            .serve_connection(
                TokioIo::new(WriteStallTimeout::new(stream, limits.write_stall_timeout)),
                service,
            );
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let _ = connection.await;
            drop(permit);
        });
    }
    Ok(graceful)
}

/// A stream whose writes fail with `TimedOut` once one has been pending (the peer's receive
/// window full: it stopped reading) for longer than the timeout. Progress restarts the clock.
struct WriteStallTimeout<S> {
    inner: S,
    timeout: Duration,
    stalled_since: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
}

impl<S> WriteStallTimeout<S> {
    fn new(inner: S, timeout: Duration) -> Self {
        WriteStallTimeout {
            inner,
            timeout,
            stalled_since: None,
        }
    }

    /// The outcome of a write or flush of `inner`: progress restarts the clock; `Pending`
    /// becomes a `TimedOut` error once it has lasted longer than the timeout.
    fn watch<T>(
        &mut self,
        cx: &mut std::task::Context<'_>,
        polled: std::task::Poll<std::io::Result<T>>,
    ) -> std::task::Poll<std::io::Result<T>> {
        use std::task::Poll;
        if polled.is_ready() {
            self.stalled_since = None;
            return polled;
        }
        let timeout = self.timeout;
        let sleep = self
            .stalled_since
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match std::future::Future::poll(sleep.as_mut(), cx) {
            Poll::Ready(()) => Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the client stopped reading the response",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for WriteStallTimeout<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for WriteStallTimeout<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let polled = std::pin::Pin::new(&mut self.inner).poll_write(cx, buf);
        self.watch(cx, polled)
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let polled = std::pin::Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.watch(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let polled = std::pin::Pin::new(&mut self.inner).poll_flush(cx);
        self.watch(cx, polled)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Ctrl-C or SIGTERM (systemd's stop).
/// The handlers are installed when this is called, not when it is first awaited, so a signal
/// that arrives in between is not lost to the default action (termination).
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let interrupt = signal(SignalKind::interrupt()).ok();
    let terminate = signal(SignalKind::terminate()).ok();
    async move {
        let wait = |sig: Option<tokio::signal::unix::Signal>| async move {
            match sig {
                Some(mut sig) => {
                    sig.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = wait(interrupt) => {}
            () = wait(terminate) => {}
        }
    }
}

/// The largest state file loaded (5,000 targets take about 3 MB).
pub const MAX_STATE_BYTES: u64 = 64 * 1024 * 1024;

/// Loads the state file if it exists and parses; a bad, empty or missing file keeps the
/// previous state, is logged and is shown by `/readyz` until a good file loads. Only a regular
/// file of at most [`MAX_STATE_BYTES`] is read, opened without blocking: a FIFO or a device at
/// the path (`/dev/zero`) is refused, never waited on or read without end.
pub fn load_state(shared: &Shared, path: &std::path::Path) -> bool {
    let problem = match read_state(path) {
        Ok(None) => {
            // Before the first hook there is no file and nothing is wrong.
            if shared.snapshot().is_some() {
                tracing::warn!(path = %path.display(), "state file missing; keeping the previous state");
                shared.set_state_problem(Some(format!("{} is missing", path.display())));
            }
            return false;
        }
        Ok(Some(StateBytes { text, modified })) => {
            let parsed = crate::reconcile::snapshot::with_shared_label_text(|| {
                serde_json::from_slice::<BrokerSnapshot>(&text)
            });
            drop(text);
            match parsed {
                Ok(snapshot) => {
                    shared.set_snapshot(snapshot, modified);
                    shared.set_state_problem(None);
                    shared.metrics.state_reloads.inc();
                    return true;
                }
                Err(err) => format!("{} is unreadable: {err}", path.display()),
            }
        }
        Err(why) => format!("{} is refused: {why}", path.display()),
    };
    tracing::warn!(problem = %problem, "state file not loaded; keeping the previous state");
    shared.set_state_problem(Some(problem));
    false
}

/// A state file as read.
struct StateBytes {
    text: Vec<u8>,
    modified: Option<SystemTime>,
}

/// The state file's bytes and modification time; `Ok(None)` if there is no file.
fn read_state(path: &std::path::Path) -> Result<Option<StateBytes>, String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    // O_NONBLOCK (Linux): opening a FIFO must not wait for a writer.
    const O_NONBLOCK: i32 = 0o4000;
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(O_NONBLOCK)
        .open(path)
    {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err.to_string()),
    };
    let meta = file.metadata().map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".to_owned());
    }
    if meta.len() > MAX_STATE_BYTES {
        return Err(format!(
            "{} bytes, over the {MAX_STATE_BYTES}-byte limit",
            meta.len()
        ));
    }
    let mut text = Vec::new();
    file.take(MAX_STATE_BYTES + 1)
        .read_to_end(&mut text)
        .map_err(|e| e.to_string())?;
    if text.len() as u64 > MAX_STATE_BYTES {
        return Err("grew over the size limit while being read".to_owned());
    }
    Ok(Some(StateBytes {
        text,
        modified: meta.modified().ok(),
    }))
}

/// Hands memory freed inside the allocator back to the system. glibc keeps freed heap memory
/// (and raises its mmap threshold after a large free), so the megabytes of a parsed state file
/// would otherwise stay in the service's RSS for good: 5,000 targets idle at ~22 MiB instead
/// of ~15 (issue 9, P5).
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists; it takes no pointer of
    // ours and is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// What tells a state file's versions apart: its modification time and size (`None`: no file).
type StateStamp = Option<(Option<SystemTime>, u64)>;

fn state_stamp(path: &std::path::Path) -> StateStamp {
    std::fs::metadata(path)
        .ok()
        .map(|m| (m.modified().ok(), m.len()))
}

/// Reloads the state file whenever its modification time or size changes from `seen` (the
/// file as it was when it was loaded at start: not parsed twice).
async fn watch_state(shared: Arc<Shared>, path: PathBuf, mut seen: StateStamp) {
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tick.tick().await;
        let stamp = state_stamp(&path);
        // A change, or the file gone (reported, the last good state kept).
        if stamp != seen {
            seen = stamp;
            // Reading and parsing a large file is blocking work: off the serving thread.
            let (shared, path) = (Arc::clone(&shared), path.clone());
            let _ = tokio::task::spawn_blocking(move || {
                if load_state(&shared, &path) {
                    tracing::info!(path = %path.display(), "state reloaded");
                    // The file's text and the previous state are freed now.
                    release_freed_memory();
                }
            })
            .await;
        }
    }
}

/// Ready: a state is loaded and the state file, as it is now, is what was loaded. A bad or
/// missing file is not ready (the charm's latest reconcile is not being served) although the
/// last good state still is.
async fn readyz(State(shared): State<Arc<Shared>>) -> Response {
    match (shared.snapshot(), shared.state_problem()) {
        (Some(_), None) => (StatusCode::OK, "ready\n").into_response(),
        (Some(_), Some(problem)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("state file {problem}; serving the last good state\n"),
        )
            .into_response(),
        (None, Some(problem)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("no state: state file {problem}\n"),
        )
            .into_response(),
        (None, None) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "no state yet: the charm has not reconciled\n",
        )
            .into_response(),
    }
}

fn no_state() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({"error": "no state yet: the charm has not reconciled"})),
    )
        .into_response()
}

async fn status_page(State(shared): State<Arc<Shared>>) -> Response {
    let body = shared.cached("/", || {
        page::render(
            shared.snapshot().as_deref(),
            &shared.health(),
            &shared.parca_targets(),
            shared.last_reconcile_unix(),
        )
        .into_bytes()
    });
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}

async fn api_targets(State(shared): State<Arc<Shared>>) -> Response {
    let Some(snapshot) = shared.snapshot() else {
        return no_state();
    };
    let body = shared.cached("/api/v1/targets", || targets_json(&shared, &snapshot));
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// `/api/v1/targets`' body.
fn targets_json(shared: &Shared, snapshot: &BrokerSnapshot) -> Vec<u8> {
    let health = shared.health();
    let parca = shared.parca_targets().unwrap_or_default();
    let targets: Vec<_> = snapshot
        .jobs
        .iter()
        .flat_map(|job| {
            let (health, parca) = (&health, &parca);
            job.groups.iter().flat_map(move |group| {
                group.targets.iter().map(move |target| {
                    let key = target_key(&job.name, target);
                    json!({
                        "job": job.name, "app": job.app, "relation": job.relation,
                        "target": target, "unit": group.unit, "labels": group.labels,
                        "health": health.get(&key),
                        "parca": parca.get(&key),
                    })
                })
            })
        })
        .collect();
    // Serialising JSON values into memory cannot fail.
    serde_json::to_vec(&targets).unwrap_or_default()
}

async fn api_jobs(State(shared): State<Arc<Shared>>) -> Response {
    let Some(snapshot) = shared.snapshot() else {
        return no_state();
    };
    let jobs: Vec<_> = snapshot
        .jobs
        .iter()
        .map(|job| {
            json!({
                "name": job.name, "app": job.app, "relation": job.relation, "scheme": job.scheme,
                "path_prefix": job.path_prefix,
                "targets": job.groups.iter().map(|g| g.targets.len()).sum::<usize>(),
            })
        })
        .collect();
    Json(jobs).into_response()
}

async fn api_config(State(shared): State<Arc<Shared>>) -> Response {
    let Some(snapshot) = shared.snapshot() else {
        return no_state();
    };
    (
        [(header::CONTENT_TYPE, "application/yaml; charset=utf-8")],
        snapshot.parca_yaml.clone(),
    )
        .into_response()
}

async fn api_store(State(shared): State<Arc<Shared>>) -> Response {
    let Some(snapshot) = shared.snapshot() else {
        return no_state();
    };
    Json(snapshot.store.clone()).into_response()
}

async fn api_status(State(shared): State<Arc<Shared>>) -> Response {
    let Some(snapshot) = shared.snapshot() else {
        return no_state();
    };
    let health = shared.health();
    let up = health.values().filter(|h| h.up).count();
    Json(json!({
        "unit": snapshot.unit,
        "model": snapshot.model,
        "status": snapshot.status,
        "last_reconcile_unix": shared.last_reconcile_unix(),
        "jobs": snapshot.jobs.len(),
        "targets": snapshot.jobs.iter().flat_map(|j| &j.groups).map(|g| g.targets.len()).sum::<usize>(),
        "targets_up": up,
        "targets_down": health.len() - up,
        "dropped": snapshot.dropped,
        "ignored": snapshot.ignored,
        "discovery": snapshot.discovery,
        "config_file": snapshot.config_file,
        "parca": snapshot.parca,
        "parca_targets_good": shared.parca_targets().ok().map(|p| p.values().filter(|t| t.health == "good").count()),
    }))
    .into_response()
}

/// Prometheus `http_sd`: the job's target groups.
async fn http_sd(State(shared): State<Arc<Shared>>, Path(job): Path<String>) -> Response {
    let Some(snapshot) = shared.snapshot() else {
        return no_state();
    };
    match snapshot.jobs.iter().find(|j| j.name == job) {
        Some(found) => {
            // Only this unit's share when several broker units split the targets.
            let groups: Vec<_> = found
                .groups
                .iter()
                .filter(|g| !g.targets.is_empty() && owned_here(&snapshot, g))
                .map(|g| json!({"targets": g.targets, "labels": g.labels}))
                .collect();
            Json(groups).into_response()
        }
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": format!("no job {job:?}")})),
        )
            .into_response(),
    }
}

async fn metrics_text(State(shared): State<Arc<Shared>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        shared.metrics.encode(),
    )
        .into_response()
}

async fn reconciled(
    State(shared): State<Arc<Shared>>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    Json(note): Json<ReconcileNote>,
) -> StatusCode {
    // Only the charm's hooks on this machine tell the service a hook ran.
    if !peer.ip().is_loopback() {
        return StatusCode::FORBIDDEN;
    }
    let config_file = shared.snapshot().map(|s| s.config_file.clone());
    shared.metrics.observe_note(&note, config_file.as_deref());
    if let Ok(mut slot) = shared.last_note.write() {
        *slot = Some(note);
    }
    shared.live_changed();
    StatusCode::NO_CONTENT
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconcile::snapshot::{JobView, TargetGroup};

    fn snapshot(targets: &[&str]) -> BrokerSnapshot {
        BrokerSnapshot {
            jobs: vec![JobView {
                name: "job".into(),
                groups: vec![TargetGroup {
                    targets: targets.iter().map(|t| (*t).to_owned()).collect(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn cached_bodies_follow_the_state_at_once_and_health_within_a_second() {
        let shared = Shared::new();
        let renders = std::cell::Cell::new(0);
        let render = || {
            renders.set(renders.get() + 1);
            b"body".to_vec()
        };
        assert_eq!(&shared.cached("k", render)[..], b"body");
        shared.cached("k", render);
        assert_eq!(
            renders.get(),
            1,
            "the second request is served from the cache"
        );
        shared.set_snapshot(snapshot(&["a:1"]), None);
        shared.cached("k", render);
        assert_eq!(renders.get(), 2, "a new state is shown at once");
        shared.live_changed();
        shared.cached("k", render);
        assert_eq!(renders.get(), 2, "health may be up to a second late");
        std::thread::sleep(SOFT_STALENESS + Duration::from_millis(50));
        shared.cached("k", render);
        assert_eq!(renders.get(), 3, "and no later");
    }

    #[test]
    fn health_of_targets_that_are_gone_is_dropped() {
        let shared = Shared::new();
        shared.set_snapshot(snapshot(&["a:1", "b:1"]), None);
        if let Ok(mut health) = shared.health.write() {
            for target in ["a:1", "b:1"] {
                health.insert(target_key("job", target), Health::default());
            }
        }
        shared.set_snapshot(snapshot(&["b:1"]), None);
        assert_eq!(
            shared.health().keys().cloned().collect::<Vec<_>>(),
            [target_key("job", "b:1")]
        );
    }

    #[test]
    fn only_regular_files_of_bounded_size_are_loaded() {
        let dir = std::env::temp_dir().join(format!("parca-broker-state-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let shared = Shared::new();
        // A FIFO with no writer: opening it must not wait, reading it must not happen.
        let fifo = dir.join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let started = std::time::Instant::now();
        assert!(!load_state(&shared, &fifo));
        assert!(started.elapsed() < Duration::from_secs(1));
        assert!(!load_state(&shared, std::path::Path::new("/dev/zero")));
        let huge = dir.join("huge.json");
        std::fs::File::create(&huge)
            .unwrap()
            .set_len(MAX_STATE_BYTES + 1)
            .unwrap();
        assert!(!load_state(&shared, &huge));
        assert!(shared.snapshot().is_none(), "nothing was loaded");
        let good = dir.join("state.json");
        std::fs::write(&good, serde_json::to_vec(&snapshot(&["a:1"])).unwrap()).unwrap();
        assert!(load_state(&shared, &good));
        // A bad file afterwards keeps the good state.
        assert!(!load_state(&shared, &fifo));
        assert!(shared.snapshot().is_some());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
