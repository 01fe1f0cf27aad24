//! `snapkb serve`: every function on one local HTTP server over the embedded default — a
//! filesystem object store and a redb table in one data directory — or, when `SNAPKB_BUCKET`
//! and `SNAPKB_TABLE` are set, over S3 and DynamoDB; with compaction and the periodic sweep
//! (compaction where due, then GC) on a background thread, and graceful shutdown.

use std::{
    collections::HashSet,
    io::Write,
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::{Arc, Mutex, mpsc},
    time::Duration,
};

use snapkb_aws::{AwsSettings, AwsStores};
use snapkb_core::Config;
use snapkb_engine::{CompactionTrigger, Engine, LazyMiniLm};
use snapkb_local::{FileObjectStore, RedbMetaStore};
use snapkb_store::{MetaStore, ObjectStore};

use crate::{CliError, LocalSettings};

/// Work for the maintenance thread.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Job {
    /// Compact one project (an ingest left its log past a trigger, or an admin asked).
    Compact { project: String, force: bool },
    /// The periodic sweep: compaction where due, then GC (`Engine::sweep`).
    Sweep,
}

/// Sends jobs to the maintenance thread, each at most once while queued.
#[derive(Clone)]
struct JobQueue {
    tx: Arc<Mutex<mpsc::Sender<Job>>>,
    queued: Arc<Mutex<HashSet<Job>>>,
}

impl JobQueue {
    fn send(&self, job: Job) {
        let mut queued = self.queued.lock().unwrap_or_else(|e| e.into_inner());
        if queued.insert(job.clone()) {
            let _ = self.tx.lock().unwrap_or_else(|e| e.into_inner()).send(job);
        }
    }
}

impl CompactionTrigger for JobQueue {
    fn request(&self, project: &str, force: bool) {
        self.send(Job::Compact {
            project: project.to_string(),
            force,
        });
    }
}

/// The model directory: configured, else `models/all-MiniLM-L6-v2` here, else the one in
/// this source tree (where infra/dev/fetch-model.sh puts it).
pub(crate) fn model_dir(settings: &LocalSettings) -> PathBuf {
    if let Some(dir) = &settings.model_dir {
        return PathBuf::from(dir);
    }
    let local = snapkb_embed::default_model_dir();
    if local.join("model.safetensors").exists() {
        return local;
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/all-MiniLM-L6-v2");
    if repo.join("model.safetensors").exists() {
        repo
    } else {
        local
    }
}

/// A running engine over a data directory, with its background workers.
pub(crate) struct Local {
    pub(crate) engine: Arc<Engine>,
    jobs: JobQueue,
}

/// The stores: S3 and DynamoDB when a bucket and a table are configured (created if missing),
/// else the files and redb table in `data_dir`.
async fn stores(
    data_dir: &Path,
    settings: &AwsSettings,
) -> Result<(Arc<dyn ObjectStore>, Arc<dyn MetaStore>), CliError> {
    if settings.configured() {
        let aws = AwsStores::connect(settings)
            .await
            .map_err(|e| CliError::Io(e.to_string()))?;
        aws.create_if_missing()
            .await
            .map_err(|e| CliError::Io(format!("cannot reach S3 or DynamoDB: {e}")))?;
        tracing::info!(bucket = ?settings.bucket, table = ?settings.table, "storage: S3 + DynamoDB");
        return Ok((aws.objects, aws.meta));
    }
    std::fs::create_dir_all(data_dir)
        .map_err(|e| CliError::Io(format!("{}: {e}", data_dir.display())))?;
    let objects =
        FileObjectStore::open(data_dir.join("objects")).map_err(|e| CliError::Io(e.to_string()))?;
    let meta =
        RedbMetaStore::open(data_dir.join("meta.redb")).map_err(|e| CliError::Io(e.to_string()))?;
    Ok((Arc::new(objects), Arc::new(meta)))
}

pub(crate) async fn open(
    data_dir: &Path,
    config: Config,
    settings: &LocalSettings,
) -> Result<Local, CliError> {
    let (objects, meta) = stores(data_dir, &settings.aws).await?;
    let model = model_dir(settings);
    if !model.join("model.safetensors").exists() {
        tracing::warn!(dir = %model.display(), "no embedding model found: text ingest and text queries will answer 503 until you run infra/dev/fetch-model.sh (caller vectors and keyword search work)");
    }
    let (tx, rx) = mpsc::channel::<Job>();
    let jobs = JobQueue {
        tx: Arc::new(Mutex::new(tx)),
        queued: Arc::new(Mutex::new(HashSet::new())),
    };
    let engine = Arc::new(
        Engine::new(objects, meta, config)
            .with_embedder(Arc::new(LazyMiniLm::new(&model)))
            .with_compaction_trigger(Arc::new(jobs.clone())),
    );
    let worker = engine.clone();
    let queued = jobs.queued.clone();
    std::thread::Builder::new()
        .name("snapkb-compactor".into())
        .spawn(move || maintenance_worker(worker, rx, queued))
        .map_err(|e| CliError::Io(e.to_string()))?;
    Ok(Local { engine, jobs })
}

/// Runs compactions and sweeps one at a time on its own thread, so a long graph build never
/// takes a request thread.
fn maintenance_worker(
    engine: Arc<Engine>,
    rx: mpsc::Receiver<Job>,
    queued: Arc<Mutex<HashSet<Job>>>,
) {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        tracing::error!("cannot start the compaction runtime; compaction is off");
        return;
    };
    while let Ok(job) = rx.recv() {
        queued
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&job);
        let (project, force) = match job {
            Job::Compact { project, force } => (project, force),
            Job::Sweep => {
                match runtime.block_on(engine.sweep()) {
                    Ok(report) => tracing::info!(?report, "sweep"),
                    Err(e) => tracing::warn!(error = %e, "sweep failed"),
                }
                continue;
            }
        };
        let started = std::time::Instant::now();
        match runtime.block_on(engine.compact(&project, force)) {
            Ok(report) if report.version.is_some() => tracing::info!(
                project = %project,
                version = report.version,
                ms = started.elapsed().as_millis() as u64,
                shards = ?report.shards,
                "compacted"
            ),
            Ok(_) => tracing::debug!(project = %project, "nothing to compact"),
            Err(e) => {
                tracing::warn!(project = %project, error = %e, "compaction failed; it will be retried on the next trigger")
            }
        }
    }
}

pub(crate) fn init_logs(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tower_http=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().flatten_event(true).init();
    } else {
        builder.compact().init();
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

/// How `snapkb serve` listens, and the bounds every connection gets whoever opens it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Listen {
    pub(crate) addr: SocketAddr,
    /// Between maintenance sweeps.
    pub(crate) gc_interval: Duration,
    /// Connections served at once.
    pub(crate) max_connections: usize,
    /// For a request's headers to arrive.
    pub(crate) header_timeout: Duration,
    /// For a request's body to arrive.
    pub(crate) body_timeout: Duration,
}

/// Request headers larger than this are refused (HTTP/1 read buffer, HTTP/2 header list).
const MAX_HEADER_BYTES: usize = 64 << 10;
/// Requests in flight on one HTTP/2 connection.
const MAX_STREAMS_PER_CONNECTION: u32 = 64;
/// How long requests in flight get to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Binds, prints the admin key on first start and the address, then serves until a signal.
/// `ready` runs once the listener is bound (quickstart seeds its demo from there).
pub(crate) async fn serve<F, Fut>(local: Local, listen: Listen, ready: F) -> Result<(), CliError>
where
    F: FnOnce(Arc<Engine>, SocketAddr) -> Fut,
    Fut: std::future::Future<Output = Result<(), CliError>> + Send + 'static,
{
    let Local { engine, jobs } = local;
    if let Some(token) = engine.ensure_admin_key().await? {
        let mut out = std::io::stdout();
        let _ = writeln!(out, "snapkb admin key (shown once, keep it safe): {token}");
        let _ = out.flush();
    }
    // Before taking requests: nothing is in flight, so whatever an earlier crash left behind
    // (past the grace period) can go.
    match engine.gc_all().await {
        Ok(r) => tracing::info!(?r, "gc at start"),
        Err(e) => tracing::warn!(error = %e, "gc at start failed"),
    }
    let addr = listen.addr;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| CliError::Io(format!("cannot listen on {addr}: {e}")))?;
    let bound = listener
        .local_addr()
        .map_err(|e| CliError::Io(e.to_string()))?;
    {
        let mut out = std::io::stdout();
        let _ = writeln!(out, "snapkb listening on http://{bound}");
        let _ = out.flush();
    }
    tracing::info!(addr = %bound, ?listen, "listening");
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(listen.gc_interval).await;
            jobs.send(Job::Sweep);
        }
    });
    let seed = ready(engine.clone(), bound);
    tokio::spawn(async move {
        if let Err(e) = seed.await {
            tracing::error!(error = %e, "start-up task failed");
        }
    });
    let app = snapkb_http::full_router(engine)
        .layer(axum::middleware::from_fn(crate::drain::drain_unread_body))
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            listen.body_timeout,
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http());
    accept_loop(listener, app, listen).await;
    Ok(())
}

/// Serves connections (at most `max_connections` at a time, each with header timeouts and
/// size limits) until a shutdown signal, then lets requests in flight finish.
async fn accept_loop(listener: tokio::net::TcpListener, app: axum::Router, listen: Listen) {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(listen.header_timeout)
        .max_buf_size(MAX_HEADER_BYTES);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(MAX_STREAMS_PER_CONNECTION)
        .max_header_list_size(MAX_HEADER_BYTES as u32);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let slots = Arc::new(tokio::sync::Semaphore::new(listen.max_connections));
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let _slot = slot;
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still in flight after the shutdown grace period");
    }
}
