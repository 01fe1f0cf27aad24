//! The end-to-end harness: starts `snapkb serve` as a process on a free port with its own data
//! directory, reads the admin key it prints on first start, and offers a small JSON client.
//! The binary is `target/debug/snapkb` (built by infra/dev/test.sh before the tests), or
//! `$SNAPKB_BIN`.
//!
//! With `SNAPKB_E2E_BACKEND=aws` every server runs on S3 + DynamoDB instead (the local servers
//! of infra/dev/aws-servers.sh, whose endpoints it inherits), with a bucket and a table named
//! after its data directory, so a restart finds the same data: the same suite, second backend.

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use serde_json::{Value, json};
use snapkb_store::ObjectStore;

#[path = "lambda_host.rs"]
pub mod lambda_host;

/// Which storage the servers under test run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Files and redb in the data directory (`snapkb serve`'s default).
    Local,
    /// S3 and DynamoDB (`SNAPKB_E2E_BACKEND=aws`).
    Aws,
}

pub fn backend() -> Backend {
    match std::env::var("SNAPKB_E2E_BACKEND").as_deref() {
        Ok("aws") => Backend::Aws,
        _ => Backend::Local,
    }
}

/// The bucket and table name for a data directory (S3 bucket rules: lowercase, digits, '-').
fn aws_name(data_dir: &Path) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    data_dir.hash(&mut h);
    format!("e2e-{}-{:016x}", std::process::id(), h.finish())
}

/// The storage environment of a server on `data_dir`.
fn storage_env(data_dir: &Path) -> Vec<(String, String)> {
    match backend() {
        Backend::Local => Vec::new(),
        Backend::Aws => aws_env(&aws_name(data_dir)),
    }
}

/// The storage settings for bucket and table `name` on the local servers whose endpoints this
/// process inherited (infra/dev/aws-servers.sh).
fn aws_env(name: &str) -> Vec<(String, String)> {
    std::env::vars()
        .filter(|(k, _)| k.starts_with("SNAPKB_") && k.ends_with("_ENDPOINT"))
        .chain([
            ("SNAPKB_BUCKET".to_string(), name.to_string()),
            ("SNAPKB_TABLE".to_string(), name.to_string()),
        ])
        .collect()
}

/// Runs a future to completion (the harness is synchronous; the stores are async).
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

/// S3 and DynamoDB stores on the local servers for bucket and table `name`, created if missing.
pub fn aws_stores(name: &str) -> snapkb_aws::AwsStores {
    block_on(async {
        let (_, settings) =
            snapkb_lambda::LambdaSettings::from_vars(aws_env(name)).expect("config");
        let config = settings.aws;
        assert!(
            config.s3_endpoint.is_some() && config.dynamodb_endpoint.is_some(),
            "SNAPKB_S3_ENDPOINT / SNAPKB_DYNAMODB_ENDPOINT are not set: run `eval \"$(infra/dev/aws-servers.sh start)\"` first"
        );
        let aws = snapkb_aws::AwsStores::connect(&config).await.expect("aws");
        aws.create_if_missing()
            .await
            .expect("create bucket and table");
        aws
    })
}

/// The S3 store on bucket `name` (created if missing).
pub fn aws_objects(name: &str) -> Box<dyn ObjectStore> {
    Box::new((*aws_stores(name).objects).clone())
}

/// The environment of a Lambda function on a fresh bucket and table for `test` (created here,
/// as Terraform would): storage, endpoints, and the model directory of this source tree.
pub fn aws_function_env(test: &str) -> Vec<(String, String)> {
    let name = format!(
        "fn-{test}-{}-{}",
        std::process::id(),
        snapkb_core::random_hex(4)
    );
    aws_stores(&name);
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/all-MiniLM-L6-v2");
    let mut env = aws_env(&name);
    env.push(("SNAPKB_MODEL_DIR".to_string(), model.display().to_string()));
    env
}

/// The object store a server on `data_dir` uses, opened beside it: tests plant and look for
/// objects through it, whatever the backend.
pub fn objects(data_dir: &Path) -> Box<dyn ObjectStore> {
    match backend() {
        Backend::Local => Box::new(
            snapkb_local::FileObjectStore::open(data_dir.join("objects")).expect("object dir"),
        ),
        Backend::Aws => aws_objects(&aws_name(data_dir)),
    }
}

/// How many objects there are under `prefix`.
pub fn count_objects(store: &dyn ObjectStore, prefix: &str) -> usize {
    block_on(async {
        let mut n = 0;
        let mut after: Option<String> = None;
        loop {
            let page = store
                .list(prefix, after.as_deref(), 1000)
                .await
                .expect("list");
            n += page.objects.len();
            match page.next_after {
                Some(next) => after = Some(next),
                None => return n,
            }
        }
    })
}

/// The `snapkb` binary under test.
pub fn binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("SNAPKB_BIN") {
        return bin.into();
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"),
        PathBuf::from,
    );
    let bin = target.join("debug/snapkb");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p snapkb` first (infra/dev/test.sh does)",
        bin.display()
    );
    bin
}

/// A child's stdout, line by line, on a channel (read on a thread so a test can time out).
fn stdout_lines(stdout: std::process::ChildStdout) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// A `/proc/PID/status` field given in kB, in bytes (0 where unavailable).
fn proc_status_bytes(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Reads a starting server's stdout until the line that begins with `listening` and returns
/// the rest of it (the URL); `each` sees every line up to it. Panics after 60 s of silence.
fn wait_until_listening(
    stdout: std::process::ChildStdout,
    what: &str,
    listening: &str,
    mut each: impl FnMut(&str),
) -> String {
    let rx = stdout_lines(stdout);
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("{what} did not start within 60 s"));
        each(&line);
        if let Some(url) = line.strip_prefix(listening) {
            return url.trim().to_string();
        }
    }
}

/// A running server process.
#[derive(Debug)]
pub struct Server {
    child: Child,
    pub url: String,
    /// The admin key, if this start printed one (the first start on a data directory).
    pub admin: Option<String>,
    pub data_dir: PathBuf,
    /// The data directory when the server owns it ([`Server::temporary`]); removed after the
    /// process is stopped.
    temp: Option<tempfile::TempDir>,
}

/// Variables of the test and install scripts (where tools are cached, the servers' ports, which
/// backend the suite runs on) share the `SNAPKB_` prefix, which the servers refuse unknown
/// names under; they are not passed to the processes under test.
const SCRIPT_VARIABLES: [&str; 7] = [
    "SNAPKB_BIN",
    "SNAPKB_E2E_BACKEND",
    "SNAPKB_TOOLS",
    "SNAPKB_AWS_STATE",
    "SNAPKB_DDB_PORT",
    "SNAPKB_S3_PORT",
    "SNAPKB_EDGE_NPM",
];

/// Removes [`SCRIPT_VARIABLES`] from a process's environment.
pub fn without_script_variables(cmd: &mut Command) {
    for name in SCRIPT_VARIABLES {
        cmd.env_remove(name);
    }
}

/// Benchmarks run the release build beside them unless `SNAPKB_BIN` names another.
pub fn use_release_binary() {
    if std::env::var_os("SNAPKB_BIN").is_none() {
        let release = std::env::current_exe()
            .expect("the benchmark's own path")
            .with_file_name("snapkb");
        // SAFETY: called first in a benchmark's main, before any thread is started.
        unsafe { std::env::set_var("SNAPKB_BIN", release) };
    }
}

/// `n` clustered vectors of `dims` dimensions (flat), and `queries` held out from the same
/// clusters: the data every benchmark loads.
pub fn bench_vectors(n: usize, dims: usize, queries: usize) -> (Vec<f32>, Vec<f32>) {
    let clusters = snapkb_index::synthetic::Clustered {
        dims,
        ..Default::default()
    };
    (clusters.generate(n, 0), clusters.generate(queries, 1))
}

/// On a project holding [`doc`]s with seeds 0 to 29: a keyword query finds `topic23`'s
/// document first, and a hybrid one (text and vector) `topic5`'s.
pub fn keyword_and_hybrid_find_their_documents(api: &Api, project: &str, dims: usize) {
    let path = format!("/v1/projects/{project}/query");
    let r = api.ok(&path, &json!({ "text": "topic23", "mode": "keyword" }));
    assert_eq!(r["results"][0]["document_id"], "d23", "{r}");
    let r = api.ok(
        &path,
        &json!({ "text": "topic5", "vector": vector(5, dims), "top_k": 3 }),
    );
    assert_eq!(r["mode"], "hybrid");
    assert_eq!(r["results"][0]["document_id"], "d5", "{r}");
}

/// A line of a benchmark's report on stdout.
pub fn say(s: impl AsRef<str>) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stdout(), "{}", s.as_ref());
}

impl Server {
    /// Puts an object into this server's object store, as whoever runs the deployment would
    /// (an archive under `imports/`): a file under the data directory's `objects/`, or the
    /// bucket on S3.
    pub fn put_object(&self, key: &str, body: Vec<u8>) {
        match backend() {
            Backend::Local => {
                let path = self.data_dir.join("objects").join(key);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(path, body).unwrap();
            }
            Backend::Aws => {
                block_on(aws_objects(&aws_name(&self.data_dir)).put(key, body.into())).unwrap()
            }
        }
    }

    /// Starts a server on a data directory of its own.
    pub fn temporary() -> Server {
        let dir = tempfile::tempdir().expect("a temporary data directory");
        let mut server = Self::start(dir.path());
        server.temp = Some(dir);
        server
    }

    /// Starts a server on `data_dir`; waits until it listens.
    pub fn start(data_dir: &Path) -> Server {
        Self::start_with(data_dir, &[])
    }

    pub fn start_with(data_dir: &Path, env: &[(&str, &str)]) -> Server {
        let mut cmd = Command::new(binary());
        cmd.args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        without_script_variables(&mut cmd);
        for (k, v) in storage_env(data_dir) {
            cmd.env(k, v);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("start snapkb serve");
        // Owned by `Server` from here on, so a failed start still kills and reaps it.
        let mut server = Server {
            child,
            url: String::new(),
            admin: None,
            data_dir: data_dir.to_path_buf(),
            temp: None,
        };
        let stdout = server.child.stdout.take().expect("stdout");
        let mut admin = None;
        server.url = wait_until_listening(stdout, "snapkb serve", "snapkb listening on ", |line| {
            if let Some(key) = line.strip_prefix("snapkb admin key (shown once, keep it safe): ") {
                admin = Some(key.trim().to_string());
            }
        });
        server.admin = admin;
        server
    }

    /// `kill -9`: no shutdown, no flush.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait for a graceful exit; returns whether it exited successfully.
    pub fn stop(mut self) -> bool {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        self.child.wait().map(|s| s.success()).unwrap_or(false)
    }

    pub fn api(&self, key: &str) -> Api {
        Api::new(&self.url, key)
    }

    /// The server's peak resident memory so far (`VmHWM` in /proc), in bytes.
    pub fn peak_rss_bytes(&self) -> u64 {
        proc_status_bytes(self.child.id(), "VmHWM:")
    }

    /// Starts the peak (`VmHWM`) again from the memory in use now, so the next
    /// [`Server::peak_rss_bytes`] measures only what follows (Linux `clear_refs` 5).
    pub fn reset_peak_rss(&self) {
        let path = format!("/proc/{}/clear_refs", self.child.id());
        std::fs::write(&path, "5").unwrap_or_else(|e| panic!("{path}: {e}"));
    }

    /// Its resident memory now (`VmRSS`), in bytes.
    pub fn rss_bytes(&self) -> u64 {
        proc_status_bytes(self.child.id(), "VmRSS:")
    }

    /// Another `snapkb serve` process on the same storage, as a second Lambda or Worker
    /// instance would be: only on S3 + DynamoDB (`SNAPKB_E2E_BACKEND=aws`), where processes
    /// can share it; `None` on the embedded store, which one process owns.
    pub fn second_instance(&self) -> Option<Server> {
        if backend() != Backend::Aws {
            return None;
        }
        let dir = tempfile::tempdir().expect("a temporary data directory");
        let shared: Vec<(String, String)> = aws_env(&aws_name(&self.data_dir));
        let shared: Vec<(&str, &str)> = shared
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let mut other = Self::start_with(dir.path(), &shared);
        other.temp = Some(dir);
        other.admin = self.admin.clone();
        Some(other)
    }

    pub fn admin_api(&self) -> Api {
        self.api(
            self.admin
                .as_deref()
                .expect("this start printed no admin key"),
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A response: status, headers we care about, and the JSON body (or the raw text).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub text: String,
    pub headers: Vec<(String, String)>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone)]
pub struct Api {
    url: String,
    key: String,
    agent: ureq::Agent,
}

impl Api {
    pub fn new(url: &str, key: &str) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .into();
        Self {
            url: url.to_string(),
            key: key.to_string(),
            agent,
        }
    }

    pub fn with_key(&self, key: &str) -> Api {
        Api {
            key: key.to_string(),
            ..self.clone()
        }
    }

    /// The reply, or why its body could not be read (a response cut off mid-stream).
    fn reply(mut r: ureq::http::Response<ureq::Body>) -> Result<Reply, String> {
        let status = r.status().as_u16();
        let headers = r
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let text = r
            .body_mut()
            .with_config()
            .limit(u64::MAX)
            .read_to_string()
            .map_err(|e| format!("the {status} response's body broke off: {e}"))?;
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(Reply {
            status,
            body,
            text,
            headers,
        })
    }

    /// Any method, raw body, extra headers.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &[u8],
        headers: &[(&str, &str)],
    ) -> Reply {
        self.exchange(method, path, content_type, body, headers)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// Like [`Api::send`], but `None` when the server cannot be reached or its answer is cut
    /// off (it was killed).
    pub fn try_send(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &[u8],
        headers: &[(&str, &str)],
    ) -> Option<Reply> {
        self.exchange(method, path, content_type, body, headers)
            .ok()
    }

    fn exchange(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &[u8],
        headers: &[(&str, &str)],
    ) -> Result<Reply, String> {
        let uri = format!("{}{path}", self.url);
        let mut req = ureq::http::Request::builder().method(method).uri(&uri);
        if !self.key.is_empty() {
            req = req.header("Authorization", format!("Bearer {}", self.key));
        }
        if !content_type.is_empty() {
            req = req.header("Content-Type", content_type);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let request = req.body(body.to_vec()).expect("request");
        let response = self
            .agent
            .run(request)
            .map_err(|e| format!("request failed at the transport level: {e}"))?;
        Self::reply(response)
    }

    pub fn get(&self, path: &str) -> Reply {
        self.send("GET", path, "", b"", &[])
    }

    pub fn delete(&self, path: &str) -> Reply {
        self.send("DELETE", path, "", b"", &[])
    }

    pub fn post(&self, path: &str, body: &Value) -> Reply {
        self.send(
            "POST",
            path,
            "application/json",
            body.to_string().as_bytes(),
            &[],
        )
    }

    pub fn patch(&self, path: &str, body: &Value) -> Reply {
        self.send(
            "PATCH",
            path,
            "application/json",
            body.to_string().as_bytes(),
            &[],
        )
    }

    /// POST that must succeed; returns the body.
    pub fn ok(&self, path: &str, body: &Value) -> Value {
        let r = self.post(path, body);
        assert!(
            (200..300).contains(&r.status),
            "POST {path} → {}: {}",
            r.status,
            r.text
        );
        r.body
    }

    /// Creates a caller-vector project with `dims` dimensions and optional extra settings.
    pub fn create_project(&self, id: &str, dims: usize, extra: Value) -> Value {
        let mut body = json!({ "id": id, "embedding": { "model": null, "dims": dims } });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        self.ok("/v1/projects", &body)
    }

    /// A key for `project` with `scopes`; returns (id, token).
    pub fn create_key(&self, project: &str, scopes: &[&str]) -> (String, String) {
        let v = self.ok(
            &format!("/v1/projects/{project}/keys"),
            &json!({ "name": "test", "scopes": scopes }),
        );
        (
            v["key"]["id"].as_str().unwrap().to_string(),
            v["token"].as_str().unwrap().to_string(),
        )
    }
}

/// A distinct pseudo-random vector per seed.
pub fn vector(seed: u64, dims: usize) -> Vec<f32> {
    snapkb_index::synthetic::seeded_vector(seed, dims)
}

/// A caller-vector document.
pub fn doc(id: &str, seed: u64, dims: usize) -> Value {
    json!({
        "id": id,
        "text": format!("document {id} about topic{seed}"),
        "metadata": { "seed": seed, "group": format!("g{}", seed % 4) },
        "tags": [format!("t{}", seed % 2)],
        "vector": vector(seed, dims),
    })
}

/// The document ids a vector query returns.
pub fn nearest(api: &Api, project: &str, seed: u64, dims: usize, k: usize) -> Vec<String> {
    let r = api.post(
        &format!("/v1/projects/{project}/query"),
        &json!({ "vector": vector(seed, dims), "top_k": k }),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["document_id"].as_str().unwrap().to_string())
        .collect()
}

/// A new deployment admin key from `snapkb admin-key`: (key, sha256 of its secret).
pub fn new_admin_key() -> (String, String) {
    let out = Command::new(binary())
        .arg("admin-key")
        .output()
        .expect("run snapkb admin-key");
    assert!(out.status.success(), "snapkb admin-key failed");
    let out = String::from_utf8_lossy(&out.stdout).to_string();
    let field = |name: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in {out}"))
            .to_string()
    };
    (field("key="), field("sha256="))
}

/// The Worker bundle built by infra/edge/worker-build.sh (`$SNAPKB_WORKER_BUNDLE_DIR/<name>`, else
/// `target/edge/<name>`).
pub fn worker_bundle(name: &str) -> PathBuf {
    let bundle = std::env::var_os("SNAPKB_WORKER_BUNDLE_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/edge"),
        PathBuf::from,
    );
    let bundle = bundle.join(name);
    assert!(
        bundle.join("shim.mjs").exists(),
        "{} is missing: run infra/edge/worker-build.sh first (infra/dev/test.sh does)",
        bundle.display()
    );
    bundle
}

/// The snapkb Worker running under workerd (Miniflare, infra/edge/worker-serve.mjs), with R2
/// and D1 simulated in `persist`.
#[derive(Debug)]
pub struct WorkerServer {
    child: Child,
    pub url: String,
}

impl WorkerServer {
    pub fn start(bundle: &Path, persist: &Path, vars: &[(&str, &str)]) -> WorkerServer {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/edge/worker-serve.mjs");
        let mut cmd = Command::new("node");
        cmd.arg(script)
            .arg("--bundle")
            .arg(bundle)
            .arg("--persist")
            .arg(persist)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in vars {
            cmd.arg("--var").arg(format!("{k}={v}"));
        }
        let child = cmd.spawn().expect("start node infra/edge/worker-serve.mjs");
        let mut server = WorkerServer {
            child,
            url: String::new(),
        };
        let stdout = server.child.stdout.take().expect("stdout");
        server.url =
            wait_until_listening(stdout, "the Worker", "snapkb-worker listening on ", |_| {});
        server
    }

    pub fn api(&self, key: &str) -> Api {
        Api::new(&self.url, key)
    }

    /// SIGTERM (Miniflare disposes workerd) and wait.
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for WorkerServer {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}
