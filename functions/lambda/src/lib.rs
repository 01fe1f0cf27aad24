//! snapkb on AWS Lambda: what every function binary shares — configuration from `SNAPKB_*`,
//! the S3 and DynamoDB stores, JSON logs, per-project metrics as CloudWatch Embedded Metric
//! Format lines, and the HTTP runtime that mounts one route group of shared/http.

pub mod compact;
pub mod deployment;
pub mod inbox;
mod invoke;
mod metrics;

use std::{path::PathBuf, sync::Arc};

use snapkb_aws::{AwsSettings, AwsStores};
use snapkb_core::Config;
use snapkb_engine::{Engine, LazyMiniLm, TableRateLimiter};
use snapkb_http::Group;

pub use crate::invoke::PendingInvocations;

/// Errors a function's init can meet; each stops the container with a message saying which
/// setting to fix.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("configuration: {0}")]
    Config(#[from] snapkb_core::ConfigError),
    #[error("storage: {0}")]
    Store(#[from] snapkb_store::StoreError),
    #[error("admin key: {0}")]
    AdminKey(String),
}

/// The largest request body a function accepts (and its default `SNAPKB_MAX_BODY_BYTES` and
/// `SNAPKB_MAX_IMPORT_BYTES`): 4 MiB, base64-encoded 5.6 MB, under the 6 MB Lambda takes in one
/// synchronous invocation. Larger bodies get snapkb's 413 up to 6 MB and Lambda's own 413
/// past it; larger ingests go in batches or through `inbox/`, larger imports through
/// `imports/` (docs/deploy.md).
pub const LAMBDA_MAX_BODY_BYTES: usize = 4 << 20;

/// A function's own settings: its AWS storage, the compact function it invokes, the admin key's
/// SSM parameter, the model's location, and endpoint overrides for local servers (tests).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LambdaSettings {
    pub aws: AwsSettings,
    /// The compact function (name or ARN) that ingest invokes asynchronously when a project's
    /// write-ahead log passes its triggers.
    pub compact_function: Option<String>,
    /// An SSM parameter (SecureString) holding the admin key's hash, read at init when the
    /// hash itself is not given.
    pub admin_key_parameter: Option<String>,
    /// Where the embedding model's files are.
    pub model_dir: Option<String>,
    pub lambda_endpoint: Option<String>,
    pub ssm_endpoint: Option<String>,
}

impl LambdaSettings {
    /// Every variable a function reads besides the shared crates' [`Config`].
    pub const NAMES: [&str; 11] = [
        AwsSettings::NAMES[0],
        AwsSettings::NAMES[1],
        AwsSettings::NAMES[2],
        AwsSettings::NAMES[3],
        AwsSettings::NAMES[4],
        "SNAPKB_COMPACT_FUNCTION",
        "SNAPKB_ADMIN_KEY_PARAMETER",
        "SNAPKB_MODEL_DIR",
        "SNAPKB_LAMBDA_ENDPOINT",
        "SNAPKB_SSM_ENDPOINT",
        // Set by deployments of earlier versions of the module; Lambda logs are JSON lines
        // whatever it says.
        "SNAPKB_LOG_FORMAT",
    ];

    /// The shared configuration and these settings from `SNAPKB_*` variables, with Lambda's
    /// own defaults for the body limits ([`LAMBDA_MAX_BODY_BYTES`]).
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(Config, Self), snapkb_core::ConfigError> {
        let mut vars: Vec<(String, String)> = vars.into_iter().collect();
        for name in ["SNAPKB_MAX_BODY_BYTES", "SNAPKB_MAX_IMPORT_BYTES"] {
            if !vars.iter().any(|(n, _)| n == name) {
                vars.insert(0, (name.to_string(), LAMBDA_MAX_BODY_BYTES.to_string()));
            }
        }
        let (config, host) = Config::from_vars_with_host(vars, &Self::NAMES)?;
        for (name, value) in [
            ("SNAPKB_MAX_BODY_BYTES", config.max_body_bytes),
            ("SNAPKB_MAX_IMPORT_BYTES", config.max_import_bytes),
        ] {
            if value > LAMBDA_MAX_BODY_BYTES {
                return Err(snapkb_core::ConfigError::Invalid {
                    field: name,
                    reason: format!(
                        "at most {LAMBDA_MAX_BODY_BYTES} on Lambda: a synchronous invocation carries at most 6 MB, and API Gateway sends binary bodies base64-encoded (4/3 larger)"
                    ),
                });
            }
        }
        let settings = LambdaSettings {
            aws: AwsSettings::from_host(&host),
            compact_function: host.get("SNAPKB_COMPACT_FUNCTION"),
            admin_key_parameter: host.get("SNAPKB_ADMIN_KEY_PARAMETER"),
            model_dir: host.get("SNAPKB_MODEL_DIR"),
            lambda_endpoint: host.get("SNAPKB_LAMBDA_ENDPOINT"),
            ssm_endpoint: host.get("SNAPKB_SSM_ENDPOINT"),
        };
        Ok((config, settings))
    }
}

/// A function's engine and what its handlers need beside it.
#[derive(Debug, Clone)]
pub struct Function {
    pub engine: Arc<Engine>,
    pub settings: LambdaSettings,
    pub stores: AwsStores,
    /// Compaction invocations sent during a request, awaited before it answers (a frozen
    /// container would otherwise hold them until its next request).
    pub pending: PendingInvocations,
}

/// JSON logs on stderr (CloudWatch takes both streams; stdout carries the metric lines). The
/// runtime's span adds `requestId` to every line; secrets are never logged.
pub fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(true)
        .without_time()
        .try_init();
}

/// The model directory: `SNAPKB_MODEL_DIR`, else `models/all-MiniLM-L6-v2` beside the
/// function's code (`$LAMBDA_TASK_ROOT`), else the working directory's.
fn model_dir(settings: &LambdaSettings) -> PathBuf {
    if let Some(dir) = &settings.model_dir {
        return PathBuf::from(dir);
    }
    match std::env::var_os("LAMBDA_TASK_ROOT") {
        Some(root) => PathBuf::from(root).join("models/all-MiniLM-L6-v2"),
        None => snapkb_embed::default_model_dir(),
    }
}

/// The admin key's hash from its SSM parameter (a SecureString), when the configuration names
/// the parameter instead of giving the hash. Read once per container; a missing or malformed
/// parameter stops init, since no admin request could be checked.
async fn with_admin_key_from_ssm(
    mut config: Config,
    settings: &LambdaSettings,
) -> Result<Config, InitError> {
    let (None, Some(name)) = (&config.admin_key_sha256, &settings.admin_key_parameter) else {
        return Ok(config);
    };
    let sdk =
        snapkb_aws::sdk_config(&settings.aws.region(), settings.ssm_endpoint.as_deref()).await;
    let out = aws_sdk_ssm::Client::new(&sdk)
        .get_parameter()
        .name(name)
        .with_decryption(true)
        .send()
        .await
        .map_err(|e| {
            InitError::AdminKey(format!(
                "reading SSM parameter {name}: {}",
                aws_sdk_ssm::error::DisplayErrorContext(e)
            ))
        })?;
    let value = out
        .parameter()
        .and_then(|p| p.value())
        .ok_or_else(|| InitError::AdminKey(format!("SSM parameter {name} has no value")))?;
    // The same check as SNAPKB_ADMIN_KEY_SHA256 (64 hex digits).
    let checked = Config::from_vars([("SNAPKB_ADMIN_KEY_SHA256".to_string(), value.to_string())])
        .map_err(|e| InitError::AdminKey(format!("SSM parameter {name}: {e}")))?;
    config.admin_key_sha256 = checked.admin_key_sha256;
    Ok(config)
}

impl Function {
    /// Init: reads the configuration and builds the clients — no request is sent and no
    /// model is loaded (`embeds` functions load it on their first text).
    pub async fn init(embeds: bool) -> Result<Self, InitError> {
        let (config, settings) = LambdaSettings::from_vars(std::env::vars())?;
        Self::with_config(config, settings, embeds).await
    }

    /// A binary's start: JSON logs, then init; a failed init is logged before the process
    /// exits with it.
    async fn start(embeds: bool) -> Result<Self, InitError> {
        init_logs();
        Self::init(embeds).await.inspect_err(|e| {
            tracing::error!(error = %e, "init failed");
        })
    }

    pub async fn with_config(
        config: Config,
        settings: LambdaSettings,
        embeds: bool,
    ) -> Result<Self, InitError> {
        let config = with_admin_key_from_ssm(config, &settings).await?;
        let stores = AwsStores::connect(&settings.aws).await?;
        let pending = PendingInvocations::default();
        let mut engine = Engine::new(stores.objects.clone(), stores.meta.clone(), config.clone())
            // Every instance shares the counters in the table.
            .with_rate_limiter(Arc::new(TableRateLimiter {
                meta: stores.meta.clone(),
            }));
        // Responses stop at 6 MB: exports are written to the bucket and handed over as a link.
        engine = engine.with_download_links(stores.objects.clone(), true);
        if embeds {
            engine = engine.with_embedder(Arc::new(LazyMiniLm::new(&model_dir(&settings))));
        }
        match &settings.compact_function {
            Some(function) => {
                engine = engine.with_compaction_trigger(Arc::new(
                    invoke::CompactInvoker::new(&settings, function, pending.clone()).await,
                ));
            }
            None => tracing::warn!(
                "SNAPKB_COMPACT_FUNCTION is not set: logs are compacted only by the scheduled compact function"
            ),
        }
        Ok(Self {
            engine: Arc::new(engine),
            settings,
            stores,
            pending,
        })
    }

    /// The function's HTTP app: the group's routes with metrics, awaiting compaction
    /// invocations before each answer.
    pub fn app(&self, group: Group) -> axum::Router {
        metrics::layer(
            snapkb_http::router(self.engine.clone(), &[group]),
            group.as_str(),
            self.pending.clone(),
            self.stores.calls.clone(),
        )
    }
}

/// Runs one route group as a Lambda function behind API Gateway (HTTP API or REST) or a
/// Function URL.
pub async fn serve_routes(group: Group) -> Result<(), lambda_http::Error> {
    // Every group knows the model (projects are created and checked against it); only text
    // ingest and text queries load it, on first use.
    let function = Function::start(true).await?;
    lambda_http::run(function.app(group)).await
}

/// Runs an event function (compact, s3-trigger): init once, then `handle` every event; an
/// `Err` fails the invocation (Lambda retries asynchronous events, then dead-letters them).
/// Each event prints its metric line, as HTTP requests do.
pub async fn serve_events<E, F, Fut>(
    name: &'static str,
    embeds: bool,
    handle: F,
) -> Result<(), lambda_runtime::Error>
where
    E: serde::de::DeserializeOwned + Send + 'static,
    F: Fn(Arc<Function>, E) -> Fut,
    Fut: std::future::Future<Output = Result<serde_json::Value, lambda_runtime::Error>>,
{
    let function = Arc::new(Function::start(embeds).await?);
    let handle = &handle;
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<E>| {
            let function = function.clone();
            async move {
                let started = std::time::Instant::now();
                let calls = function.stores.calls.clone();
                let before = calls.snapshot();
                let result = handle(function, event.payload).await;
                metrics::event_line(
                    name,
                    result.is_ok(),
                    started,
                    &before,
                    &calls,
                    &event.context.request_id,
                );
                result
            }
        },
    ))
    .await
}
