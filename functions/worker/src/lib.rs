//! snapkb on Cloudflare Workers: the query, ingest and keys route groups over R2 (objects) and
//! D1 (metadata), whose adapters are snapkb-cloudflare's. One engine per isolate, built on the first request and kept while the
//! isolate lives, so loaded indexes stay warm between requests. Text is embedded through
//! `SNAPKB_EMBED_URL` when set (Workers cannot hold the model); compaction requested by an
//! ingest runs after the response, under `waitUntil`, and a cron trigger sweeps every project
//! (compaction where due, then GC), as the Lambda deployment's schedule does.
//!
//! Natively this crate is empty: it only builds for wasm32 (see infra/edge/worker-build.sh).
#![cfg(target_arch = "wasm32")]

#[cfg(feature = "conformance")]
mod conformance;

use std::{cell::RefCell, rc::Rc, sync::Arc};

use snapkb_cloudflare::{D1Meta, R2Objects, WorkerFetch};
use snapkb_core::Config;
use snapkb_engine::{CompactionTrigger, Engine, Pause, RemoteEmbedder, TableRateLimiter};
use snapkb_http::{ApiError, Group};
use tower::Service;
use wasm_bindgen::JsCast;
use worker::{
    Context, Env, HttpRequest, ScheduleContext, ScheduledEvent, console_error, console_log, event,
};

/// The route groups a Worker mounts. Export (large archives, long compactions) stays on the
/// regional deployment.
pub const GROUPS: [Group; 3] = [Group::Query, Group::Ingest, Group::Keys];
/// Binding names in wrangler.toml.
pub const BUCKET_BINDING: &str = "SNAPKB_BUCKET";
pub const DATABASE_BINDING: &str = "SNAPKB_DB";

/// Compactions asked for while serving a request, run after it under `waitUntil`.
#[derive(Default)]
struct Deferred(RefCell<Vec<(String, bool)>>);

/// `Rc` inside, so the engine (which wants `Arc`) can share it with the fetch handler.
struct DeferredTrigger(Rc<Deferred>);

impl CompactionTrigger for DeferredTrigger {
    fn request(&self, project: &str, force: bool) {
        let mut queue = self.0.0.borrow_mut();
        if !queue.iter().any(|(p, _)| p == project) {
            queue.push((project.to_string(), force));
        }
    }
}

/// The platform's timer (`setTimeout`).
struct WorkerPause;

#[async_trait::async_trait(?Send)]
impl Pause for WorkerPause {
    async fn pause(&self, duration: std::time::Duration) {
        worker::Delay::from(duration).await;
    }
}

struct Instance {
    engine: Arc<Engine>,
    router: axum::Router,
    deferred: Rc<Deferred>,
}

thread_local! {
    static INSTANCE: RefCell<Option<Rc<Instance>>> = const { RefCell::new(None) };
}

/// `SNAPKB_*` variables and secrets of the Worker (bindings are objects, not strings).
fn config(env: &Env) -> Result<Config, String> {
    let object: &js_sys::Object = env.unchecked_ref();
    let entries = js_sys::Object::entries(object);
    let vars = entries.iter().filter_map(|entry| {
        let pair: js_sys::Array = entry.unchecked_into();
        Some((pair.get(0).as_string()?, pair.get(1).as_string()?))
    });
    // Earlier wrangler.toml files set a log format; the Worker logs to the console either way.
    Config::from_vars_with_host(vars, &["SNAPKB_LOG_FORMAT"])
        .map(|(config, _)| config)
        .map_err(|e| e.to_string())
}

fn instance(env: &Env) -> Result<Rc<Instance>, String> {
    if let Some(instance) = INSTANCE.with(|i| i.borrow().clone()) {
        return Ok(instance);
    }
    let config = config(env)?;
    let bucket = env
        .bucket(BUCKET_BINDING)
        .map_err(|e| format!("R2 binding {BUCKET_BINDING}: {e}"))?;
    let db = env
        .d1(DATABASE_BINDING)
        .map_err(|e| format!("D1 binding {DATABASE_BINDING}: {e}"))?;
    let meta: Arc<dyn snapkb_store::MetaStore> = Arc::new(D1Meta::new(db));
    let deferred = Rc::new(Deferred::default());
    let mut engine = Engine::new(Arc::new(R2Objects::new(bucket)), meta.clone(), config)
        .with_rate_limiter(Arc::new(TableRateLimiter { meta }))
        .with_pause(Arc::new(WorkerPause))
        .with_compaction_trigger(Arc::new(DeferredTrigger(deferred.clone())));
    if let Some(embedder) = RemoteEmbedder::from_config(Arc::new(WorkerFetch), engine.config()) {
        engine = engine.with_embedder(Arc::new(embedder));
    }
    let engine = Arc::new(engine);
    let router = snapkb_http::router(engine.clone(), &GROUPS);
    #[cfg(feature = "conformance")]
    let router = router.merge(conformance::router(env.clone()));
    let instance = Rc::new(Instance {
        engine,
        router,
        deferred,
    });
    INSTANCE.with(|i| *i.borrow_mut() = Some(instance.clone()));
    Ok(instance)
}

/// A 500 problem naming what is missing, in the Router's own problem+json shape.
fn misconfigured(reason: &str) -> http::Response<axum::body::Body> {
    use axum::response::IntoResponse;
    ApiError::new(
        http::StatusCode::INTERNAL_SERVER_ERROR,
        "misconfigured",
        "The Worker is misconfigured",
        reason,
    )
    .into_response()
}

#[event(fetch)]
async fn fetch(
    req: HttpRequest,
    env: Env,
    ctx: Context,
) -> worker::Result<http::Response<axum::body::Body>> {
    let instance = match instance(&env) {
        Ok(instance) => instance,
        Err(reason) => {
            console_error!("snapkb: {reason}");
            return Ok(misconfigured(&reason));
        }
    };
    let response = instance.router.clone().call(req).await?;
    for (project, force) in instance.deferred.0.borrow_mut().drain(..) {
        let engine = instance.engine.clone();
        ctx.wait_until(async move {
            if let Err(e) = engine.compact(&project, force).await {
                console_error!("snapkb: compaction of {project} failed: {e}");
            }
        });
    }
    Ok(response)
}

/// The cron trigger (wrangler.toml `[triggers]`): compacts every project whose log is past its
/// triggers, then collects unreferenced objects.
#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let instance = match instance(&env) {
        Ok(instance) => instance,
        Err(reason) => return console_error!("snapkb: {reason}"),
    };
    match instance.engine.sweep().await {
        Ok(report) => {
            for project in &report.compacted {
                console_log!("snapkb: compacted {project}");
            }
            for project in &report.failed {
                console_error!("snapkb: compaction of {project} failed");
            }
        }
        Err(e) => console_error!("snapkb: sweep failed: {e}"),
    }
}
