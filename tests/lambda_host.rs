//! A Lambda host for the function binaries: the Runtime API they poll (`/2018-06-01/runtime/…`,
//! as Lambda serves it to a container) and the `Invoke` API ingest calls to start the compact
//! function (`/2015-03-31/functions/{name}/invocations`, recorded for the test to replay). The
//! binaries run as processes, unchanged, with `AWS_LAMBDA_RUNTIME_API` pointing here.

use std::{
    collections::HashMap,
    net::SocketAddr,
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Router,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::IntoResponse,
    routing::{get, post},
};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

/// How an invocation ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// `/response`: the handler's result.
    Response(Value),
    /// `/error`: the handler failed (Lambda would retry an asynchronous event, then DLQ it).
    Error(Value),
}

#[derive(Default)]
struct Shared {
    waiting: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    invocations: Mutex<Vec<(String, Value)>>,
    init_errors: Mutex<Vec<Value>>,
    /// SSM parameters by name (the admin key's hash).
    parameters: Mutex<HashMap<String, String>>,
}

type Queue = Arc<tokio::sync::Mutex<mpsc::Receiver<(String, Value)>>>;

/// One emulated function host; one function process polls it at a time.
pub struct LambdaHost {
    pub addr: SocketAddr,
    events: mpsc::Sender<(String, Value)>,
    shared: Arc<Shared>,
    runtime: tokio::runtime::Runtime,
    next_id: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for LambdaHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LambdaHost")
            .field("addr", &self.addr)
            .finish()
    }
}

async fn next(State((queue, _)): State<(Queue, Arc<Shared>)>) -> impl IntoResponse {
    let Some((id, event)) = queue.lock().await.recv().await else {
        return (StatusCode::GONE, HeaderMap::new(), String::new());
    };
    let mut headers = HeaderMap::new();
    headers.insert("lambda-runtime-aws-request-id", id.parse().unwrap());
    let deadline = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        + 60_000;
    headers.insert(
        "lambda-runtime-deadline-ms",
        deadline.to_string().parse().unwrap(),
    );
    headers.insert(
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:us-east-1:123456789012:function:snapkb-test"
            .parse()
            .unwrap(),
    );
    (StatusCode::OK, headers, event.to_string())
}

fn finish(shared: &Shared, id: &str, outcome: Outcome) -> StatusCode {
    match shared.waiting.lock().unwrap().remove(id) {
        Some(tx) => {
            let _ = tx.send(outcome);
            StatusCode::ACCEPTED
        }
        None => StatusCode::BAD_REQUEST,
    }
}

fn json_or_text(body: &Bytes) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

async fn response(
    State((_, shared)): State<(Queue, Arc<Shared>)>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    finish(&shared, &id, Outcome::Response(json_or_text(&body)))
}

async fn error(
    State((_, shared)): State<(Queue, Arc<Shared>)>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    finish(&shared, &id, Outcome::Error(json_or_text(&body)))
}

async fn init_error(State((_, shared)): State<(Queue, Arc<Shared>)>, body: Bytes) -> StatusCode {
    shared.init_errors.lock().unwrap().push(json_or_text(&body));
    StatusCode::ACCEPTED
}

async fn invoke(
    State((_, shared)): State<(Queue, Arc<Shared>)>,
    Path(function): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let asynchronous = headers
        .get("x-amz-invocation-type")
        .is_some_and(|v| v == "Event");
    if !asynchronous {
        return (
            StatusCode::BAD_REQUEST,
            "only asynchronous invocations are expected",
        );
    }
    shared
        .invocations
        .lock()
        .unwrap()
        .push((function, json_or_text(&body)));
    (StatusCode::ACCEPTED, "")
}

/// SSM's `GetParameter` (JSON 1.1 protocol: `POST /` with `X-Amz-Target`), for the admin
/// key's hash; every other SSM call is refused.
async fn ssm(
    State((_, shared)): State<(Queue, Arc<Shared>)>,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let json = |status: StatusCode, body: Value| {
        (
            status,
            [("content-type", "application/x-amz-json-1.1")],
            body.to_string(),
        )
    };
    if headers.get("x-amz-target").and_then(|v| v.to_str().ok()) != Some("AmazonSSM.GetParameter") {
        return json(
            StatusCode::BAD_REQUEST,
            serde_json::json!({"__type": "InvalidAction", "message": "only GetParameter"}),
        );
    }
    let request = json_or_text(&body);
    let name = request["Name"].as_str().unwrap_or_default().to_string();
    match shared.parameters.lock().unwrap().get(&name) {
        Some(value) if request["WithDecryption"] == true => json(
            StatusCode::OK,
            serde_json::json!({"Parameter": {"Name": name, "Type": "SecureString", "Value": value, "Version": 1}}),
        ),
        Some(_) => json(
            StatusCode::BAD_REQUEST,
            serde_json::json!({"__type": "ValidationException", "message": "a SecureString read without WithDecryption is ciphertext"}),
        ),
        None => json(
            StatusCode::BAD_REQUEST,
            serde_json::json!({"__type": "ParameterNotFound", "message": name}),
        ),
    }
}

impl LambdaHost {
    /// Stores an SSM parameter the functions can read (`SNAPKB_SSM_ENDPOINT` = [`Self::url`]).
    pub fn put_parameter(&self, name: &str, value: &str) {
        self.shared
            .parameters
            .lock()
            .unwrap()
            .insert(name.to_string(), value.to_string());
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn start() -> LambdaHost {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let (events, rx) = mpsc::channel(16);
        let shared = Arc::new(Shared::default());
        let state: (Queue, Arc<Shared>) = (Arc::new(tokio::sync::Mutex::new(rx)), shared.clone());
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .route("/2015-03-31/functions/{function}/invocations", post(invoke))
            .route("/", post(ssm))
            .with_state(state);
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        runtime.spawn(async move { axum::serve(listener, app).await });
        LambdaHost {
            addr,
            events,
            shared,
            runtime,
            next_id: std::sync::atomic::AtomicU64::new(1),
        }
    }

    /// Delivers `event` to the function and waits for its outcome.
    pub fn invoke(&self, event: &Value) -> Outcome {
        let id = format!(
            "req-{}",
            self.next_id
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let (tx, rx) = oneshot::channel();
        self.shared.waiting.lock().unwrap().insert(id.clone(), tx);
        self.events.blocking_send((id, event.clone())).unwrap();
        let init_errors = self.init_errors();
        self.runtime.block_on(async {
            match tokio::time::timeout(Duration::from_secs(120), rx).await {
                Ok(Ok(outcome)) => outcome,
                _ => panic!("no outcome within 120 s; init errors: {init_errors:?}"),
            }
        })
    }

    /// Asynchronous `Invoke` calls received so far: (function, payload).
    pub fn invocations(&self) -> Vec<(String, Value)> {
        self.shared.invocations.lock().unwrap().clone()
    }

    /// Errors functions reported from their init.
    pub fn init_errors(&self) -> Vec<Value> {
        self.shared.init_errors.lock().unwrap().clone()
    }
}

/// The path of a function binary (`snapkb-query`, …) in the target directory.
pub fn function_binary(name: &str) -> PathBuf {
    crate::binary().with_file_name(name)
}

/// A function process attached to a host.
#[derive(Debug)]
pub struct FunctionProcess {
    binary: String,
    child: Child,
    /// Its stdout (the EMF metric lines), collected.
    pub stdout: Arc<Mutex<Vec<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl FunctionProcess {
    /// Starts `binary` as Lambda would, with `env` on top of the function's environment.
    pub fn start(host: &LambdaHost, binary: &str, env: &[(String, String)]) -> FunctionProcess {
        let mut cmd = Command::new(function_binary(binary));
        cmd.env("AWS_LAMBDA_RUNTIME_API", host.addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", binary)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        crate::without_script_variables(&mut cmd);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("start {binary}: {e} (run `cargo build -p snapkb-lambda`)"));
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let out = child.stdout.take().unwrap();
        let lines = stdout.clone();
        let reader = std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        });
        FunctionProcess {
            binary: binary.to_string(),
            child,
            stdout,
            reader: Some(reader),
        }
    }

    /// The EMF metric lines printed so far, once there are at least `expected` (the pipe is
    /// read by another thread, so a line can trail the answer it belongs to by a moment).
    pub fn metric_lines(&self, expected: usize) -> Vec<Value> {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let lines: Vec<Value> = self
                .stdout
                .lock()
                .unwrap()
                .iter()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .filter(|v| v.get("_aws").is_some())
                .collect();
            if lines.len() >= expected || std::time::Instant::now() > deadline {
                return lines;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for FunctionProcess {
    /// Stops the process, then checks that it sent only operations its role allows: every
    /// test that runs a function also checks its IAM actions (functions/lambda/src/deployment.rs,
    /// from which Terraform's roles are checked).
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        if std::thread::panicking() {
            return;
        }
        let spec = snapkb_lambda::deployment::function(&self.binary)
            .unwrap_or_else(|| panic!("{} is not in deployment::FUNCTIONS", self.binary));
        let sent: std::collections::BTreeSet<String> = self
            .metric_lines(0)
            .iter()
            .filter_map(|l| l["Calls"].as_object())
            .flat_map(|calls| calls.keys().cloned())
            .collect();
        let allowed = spec.operations();
        let undeclared: Vec<&String> = sent
            .iter()
            .filter(|op| !allowed.contains(&op.as_str()))
            .collect();
        assert!(
            undeclared.is_empty(),
            "{} sent {undeclared:?}, which its role does not allow (functions/lambda/src/deployment.rs)",
            self.binary
        );
    }
}

/// A fault the proxy answers one new connection with, instead of forwarding it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// `503 Service Unavailable` with S3's `SlowDown` error.
    S3SlowDown,
    /// `400` with DynamoDB's `ThrottlingException`.
    DynamoDbThrottling,
    /// `500 Internal Server Error`, no body an SDK would recognise.
    InternalError,
    /// `206 Partial Content` whose body breaks off after 16 of its 4096 bytes (a reset stream):
    /// the SDK sees a successful response and only the body read fails.
    CutBody,
}

impl Fault {
    fn response(self) -> String {
        let (status, content_type, body) = match self {
            Fault::S3SlowDown => (
                "503 Service Unavailable",
                "application/xml",
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>",
            ),
            Fault::DynamoDbThrottling => (
                "400 Bad Request",
                "application/x-amz-json-1.0",
                "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ThrottlingException\",\"message\":\"Rate of requests exceeds the allowed throughput.\"}",
            ),
            Fault::InternalError => ("500 Internal Server Error", "text/plain", "injected"),
            Fault::CutBody => {
                return "HTTP/1.1 206 Partial Content\r\ncontent-type: application/octet-stream\r\ncontent-range: bytes 0-4095/4096\r\ncontent-length: 4096\r\nconnection: close\r\n\r\n0123456789abcdef".into();
            }
        };
        format!(
            "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
    }
}

/// A TCP proxy in front of a local server that answers its first new connections with the
/// given faults (then closes them, so the client's retry opens a new one) and forwards every
/// later connection unchanged.
#[derive(Debug)]
pub struct FaultProxy {
    pub url: String,
    _runtime: tokio::runtime::Runtime,
}

impl FaultProxy {
    pub fn start(upstream: &str, faults: &[Fault]) -> FaultProxy {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let faults = Arc::new(Mutex::new(std::collections::VecDeque::from(
            faults.to_vec(),
        )));
        runtime.spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let fault = faults.lock().unwrap().pop_front();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    match fault {
                        Some(fault) => {
                            // Read the request head and body, then answer with the fault.
                            let mut seen = Vec::new();
                            let mut buf = [0u8; 8192];
                            let head_end = loop {
                                let Ok(n) = inbound.read(&mut buf).await else {
                                    return;
                                };
                                if n == 0 {
                                    return;
                                }
                                seen.extend_from_slice(&buf[..n]);
                                if let Some(i) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                                    break i + 4;
                                }
                            };
                            let head = String::from_utf8_lossy(&seen[..head_end]).to_lowercase();
                            let length: usize = head
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length:"))
                                .and_then(|v| v.trim().parse().ok())
                                .unwrap_or(0);
                            while seen.len() < head_end + length {
                                let Ok(n) = inbound.read(&mut buf).await else {
                                    return;
                                };
                                if n == 0 {
                                    break;
                                }
                                seen.extend_from_slice(&buf[..n]);
                            }
                            let _ = inbound.write_all(fault.response().as_bytes()).await;
                            let _ = inbound.shutdown().await;
                        }
                        None => {
                            if let Ok(mut outbound) =
                                tokio::net::TcpStream::connect(&upstream).await
                            {
                                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound)
                                    .await;
                            }
                        }
                    }
                });
            }
        });
        FaultProxy {
            url,
            _runtime: runtime,
        }
    }
}
