//! `snapkb`: run a knowledge base on this machine (`serve`, `quickstart`) or manage and query
//! any snapkb deployment (`project`, `keys`, `ingest`, `query`, `export`, `import`, `health`,
//! `versions`, `rollback`).

mod client;
mod drain;
mod eval;
mod ingest;
mod quickstart;
mod serve;

use std::{io::Write, net::SocketAddr, path::PathBuf, time::Duration};

use clap::{Args, Parser, Subcommand};
use serde_json::Value;
use snapkb_aws::AwsSettings;
use snapkb_core::{Config, EmbeddingConfig, Scope};
use snapkb_engine::{
    CreateKey, CreateProject, CreatedKey, Health, KeyView, QueryMode, QueryRequest, QueryResponse,
    VersionPage,
};
use snapkb_http::{KeyList, ProjectList, ProjectResponse, RollbackRequest, RollbackResponse};

use crate::client::Client;

#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Io(String),
    #[error("cannot reach the server: {0}")]
    Http(String),
    #[error("{0}")]
    Api(String),
    #[error("{0}")]
    Engine(#[from] snapkb_engine::EngineError),
    #[error("configuration: {0}")]
    Config(#[from] snapkb_core::ConfigError),
}

#[derive(Debug, Parser)]
#[command(
    name = "snapkb",
    version,
    about = "A multi-project knowledge base: vector, keyword and hybrid search"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct LocalArgs {
    /// Where the embedded default keeps everything.
    #[arg(long, env = "SNAPKB_DATA_DIR", default_value = "snapkb-data")]
    data_dir: PathBuf,
    #[arg(long, env = "SNAPKB_ADDR", default_value = "127.0.0.1:7700")]
    addr: SocketAddr,
    /// `pretty` or `json`.
    #[arg(long, env = "SNAPKB_LOG_FORMAT", default_value = "pretty", value_parser = ["pretty", "json"])]
    log_format: String,
    /// Seconds between maintenance sweeps: compaction where due, then GC (GC also runs at start).
    #[arg(long, env = "SNAPKB_GC_INTERVAL", default_value_t = 600)]
    gc_interval: u64,
    /// Connections served at once; further ones wait in the listen backlog until one closes.
    #[arg(long, env = "SNAPKB_MAX_CONNECTIONS", default_value_t = 1024)]
    max_connections: usize,
    /// Seconds a client has to send a request's headers (slow-loris guard). An idle keep-alive
    /// connection is closed after as long (hyper times the wait for the next request's head),
    /// so the default stays above the idle time of common client pools (ureq's is 15 s): a
    /// client that reuses a connection the server has just closed sees a reset.
    #[arg(long, env = "SNAPKB_HEADER_TIMEOUT_SECONDS", default_value_t = 60)]
    header_timeout_seconds: u64,
    /// Seconds a client has to send a request's body, imports included.
    #[arg(long, env = "SNAPKB_BODY_TIMEOUT_SECONDS", default_value_t = 300)]
    body_timeout_seconds: u64,
}

impl LocalArgs {
    /// How `snapkb serve` listens.
    fn listen(&self) -> serve::Listen {
        serve::Listen {
            addr: self.addr,
            gc_interval: Duration::from_secs(self.gc_interval.max(1)),
            max_connections: self.max_connections.max(1),
            header_timeout: Duration::from_secs(self.header_timeout_seconds.max(1)),
            body_timeout: Duration::from_secs(self.body_timeout_seconds.max(1)),
        }
    }
}

#[derive(Debug, Args)]
struct Remote {
    /// The snapkb server or deployment.
    #[arg(
        long,
        env = "SNAPKB_URL",
        default_value = "http://127.0.0.1:7700",
        global = true
    )]
    url: String,
    /// API key (the admin key for project commands).
    #[arg(long, env = "SNAPKB_KEY", global = true, hide_env_values = true)]
    key: Option<String>,
    /// Print the server's JSON instead of a table.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run every function on this machine over files + an embedded key-value store.
    Serve(LocalArgs),
    /// Make a new deployment admin key: prints the key (keep it secret, it is shown once) and
    /// the SHA-256 a deployment is given (Terraform's `admin_key_sha256`).
    AdminKey,
    /// Fetch the model if needed, start the server, load a demo project, print a query to try.
    Quickstart(LocalArgs),
    #[command(subcommand)]
    Project(ProjectCommand),
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Send files and folders (text, markdown, HTML); unchanged files are skipped.
    Ingest {
        project: String,
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Glob of paths to leave out (repeatable), on top of .gitignore and .snapkbignore.
        #[arg(long)]
        exclude: Vec<String>,
        #[command(flatten)]
        remote: Remote,
    },
    /// Search a project.
    Query {
        project: String,
        text: String,
        #[arg(long, default_value_t = 5)]
        top_k: usize,
        /// vector, keyword or hybrid (default: hybrid when the project has a model).
        #[arg(long)]
        mode: Option<String>,
        /// A filter as JSON, e.g. '{"eq":{"field":"format","value":"markdown"}}'.
        #[arg(long)]
        filter: Option<String>,
        #[command(flatten)]
        remote: Remote,
    },
    /// Score a project's retrieval on judged questions (JSON lines: `id`, `question`,
    /// `relevant` document ids, optional `answers` passages): MRR@10, Hit@1/5/10, nDCG@10 per
    /// mode, by document and by chunk.
    Eval {
        project: String,
        questions: PathBuf,
        /// vector, keyword or hybrid (repeatable; default all three).
        #[arg(long)]
        mode: Vec<String>,
        /// Also list the questions each mode missed (no relevant document in the first ten).
        #[arg(long)]
        missed: bool,
        /// Fields added to every query, as a JSON object (e.g. `{"fusion": {"k": 20}}`), to
        /// compare query settings on one ingested project.
        #[arg(long, value_name = "JSON")]
        query: Option<String>,
        #[command(flatten)]
        remote: Remote,
    },
    /// Write a project's archive (JSON lines) to a file.
    Export {
        project: String,
        #[arg(short, long)]
        output: PathBuf,
        #[command(flatten)]
        remote: Remote,
    },
    /// Create a project from an archive: a local file, or (`--object`) one already uploaded to
    /// the deployment's bucket under imports/.
    Import {
        #[arg(required_unless_present = "object")]
        file: Option<PathBuf>,
        #[arg(long)]
        id: String,
        /// The key of an archive in the deployment's bucket under imports/ (for archives larger
        /// than a request body, 4 MiB on Lambda).
        #[arg(long, conflicts_with = "file")]
        object: Option<String>,
        #[command(flatten)]
        remote: Remote,
    },
    Health {
        project: String,
        #[command(flatten)]
        remote: Remote,
    },
    Versions {
        project: String,
        #[command(flatten)]
        remote: Remote,
    },
    Rollback {
        project: String,
        version: u64,
        #[command(flatten)]
        remote: Remote,
    },
}

#[derive(Debug, Subcommand)]
enum ProjectCommand {
    Create {
        id: String,
        #[arg(long)]
        name: Option<String>,
        /// Bring your own vectors of this many dimensions (no embedding model).
        #[arg(long)]
        dims: Option<u32>,
        #[command(flatten)]
        remote: Remote,
    },
    List {
        #[command(flatten)]
        remote: Remote,
    },
    Show {
        id: String,
        #[command(flatten)]
        remote: Remote,
    },
    Delete {
        id: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Give the project a new webhook secret (printed with the project); the old one stops
    /// working.
    RotateWebhookSecret {
        id: String,
        #[command(flatten)]
        remote: Remote,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    Create {
        project: String,
        #[arg(long)]
        name: String,
        /// Comma-separated: read, write, export, admin.
        #[arg(long, default_value = "read")]
        scopes: String,
        #[arg(long)]
        expires_in: Option<u64>,
        #[command(flatten)]
        remote: Remote,
    },
    List {
        project: String,
        #[command(flatten)]
        remote: Remote,
    },
    Revoke {
        project: String,
        id: String,
        #[command(flatten)]
        remote: Remote,
    },
    Rotate {
        project: String,
        id: String,
        #[command(flatten)]
        remote: Remote,
    },
}

pub(crate) fn say(line: impl AsRef<str>) {
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{}", line.as_ref());
}

/// Prints an API value as the server sent it (`--json`, and commands whose answer is the
/// value itself).
fn show<T: serde::Serialize>(value: &T) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::Io(format!("cannot print the answer: {e}")))?;
    say(text);
    Ok(())
}

fn client(remote: &Remote) -> Client {
    Client::new(&remote.url, remote.key.clone())
}

/// What `snapkb serve` runs on besides the shared [`Config`]: S3 and DynamoDB when a bucket and
/// a table are set (else the data directory), and the model's location.
#[derive(Debug, Clone, Default)]
pub(crate) struct LocalSettings {
    pub(crate) aws: AwsSettings,
    pub(crate) model_dir: Option<String>,
}

/// Every `SNAPKB_*` variable a flag of this command line reads (clap reads those).
fn flag_variables(command: &clap::Command, out: &mut Vec<String>) {
    for arg in command.get_arguments() {
        if let Some(name) = arg.get_env().and_then(|e| e.to_str()) {
            out.push(name.to_string());
        }
    }
    for sub in command.get_subcommands() {
        flag_variables(sub, out);
    }
}

/// The shared configuration and the local settings from `SNAPKB_*` variables.
fn local_config() -> Result<(Config, LocalSettings), CliError> {
    let mut names = Vec::new();
    flag_variables(&<Cli as clap::CommandFactory>::command(), &mut names);
    let mut host: Vec<&str> = names.iter().map(String::as_str).collect();
    host.extend(AwsSettings::NAMES);
    host.push("SNAPKB_MODEL_DIR");
    let (config, host) = Config::from_vars_with_host(std::env::vars(), &host)?;
    let settings = LocalSettings {
        aws: AwsSettings::from_host(&host),
        model_dir: host.get("SNAPKB_MODEL_DIR"),
    };
    Ok((config, settings))
}

fn print_results(response: &QueryResponse) {
    if response.results.is_empty() {
        say("no results");
        return;
    }
    say(format!(
        "{:>4}  {:>7}  {:<28}  text",
        "rank", "score", "document"
    ));
    for (i, hit) in response.results.iter().enumerate() {
        let text = hit.text.split_whitespace().collect::<Vec<_>>().join(" ");
        let snippet: String = text.chars().take(90).collect();
        say(format!(
            "{:>4}  {:>7.4}  {:<28}  {snippet}",
            i + 1,
            hit.score,
            hit.document_id
        ));
    }
    let mode = serde_json::to_value(response.mode).unwrap_or_default();
    say(format!(
        "(version {}, mode {})",
        response.version,
        mode.as_str().unwrap_or_default()
    ));
}

fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Serve(args) => {
            let (config, settings) = local_config()?;
            serve::init_logs(&args.log_format);
            let runtime =
                tokio::runtime::Runtime::new().map_err(|e| CliError::Io(e.to_string()))?;
            runtime.block_on(async {
                let local = serve::open(&args.data_dir, config, &settings).await?;
                serve::serve(local, args.listen(), |_, _| async { Ok(()) }).await
            })
        }
        Command::Quickstart(args) => quickstart::run(args),
        Command::AdminKey => {
            let (token, sha256) = snapkb_core::generate_secret(&snapkb_core::new_key_id());
            say(format!("key={token}\nsha256={sha256}"));
            Ok(())
        }
        Command::Project(cmd) => match cmd {
            ProjectCommand::Create {
                id,
                name,
                dims,
                remote,
            } => {
                let request = CreateProject {
                    id,
                    name,
                    embedding: dims.map(|dims| EmbeddingConfig {
                        model: None,
                        dims,
                        ..EmbeddingConfig::default()
                    }),
                    ..CreateProject::default()
                };
                let created: ProjectResponse = client(&remote).post("/v1/projects", &request)?;
                show(&created)
            }
            ProjectCommand::List { remote } => {
                let list: ProjectList = client(&remote).get("/v1/projects")?;
                if remote.json {
                    return show(&list);
                }
                for p in &list.projects {
                    say(format!("{:<24} {}", p.id, p.name));
                }
                Ok(())
            }
            ProjectCommand::Show { id, remote } => {
                let project: ProjectResponse =
                    client(&remote).get(&format!("/v1/projects/{id}"))?;
                show(&project)
            }
            ProjectCommand::Delete { id, remote } => {
                client(&remote).delete::<()>(&format!("/v1/projects/{id}"))?;
                say(format!("deleted project {id}"));
                Ok(())
            }
            ProjectCommand::RotateWebhookSecret { id, remote } => {
                let project: ProjectResponse = client(&remote)
                    .post(&format!("/v1/projects/{id}/webhook-secret/rotate"), &())?;
                show(&project)
            }
        },
        Command::Keys(cmd) => match cmd {
            KeysCommand::Create {
                project,
                name,
                scopes,
                expires_in,
                remote,
            } => {
                let scopes = scopes
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| {
                        serde_json::from_value(Value::String(s.to_string()))
                            .map_err(|_| CliError::Usage(format!("--scopes: unknown scope `{s}`")))
                    })
                    .collect::<Result<Vec<Scope>, _>>()?;
                let request = CreateKey {
                    name,
                    scopes,
                    expires_in_seconds: expires_in,
                };
                let created: CreatedKey =
                    client(&remote).post(&format!("/v1/projects/{project}/keys"), &request)?;
                if remote.json {
                    return show(&created);
                }
                say(format!(
                    "key {} created; its token is shown only now:\n{}",
                    created.key.id, created.token
                ));
                Ok(())
            }
            KeysCommand::List { project, remote } => {
                let keys: KeyList = client(&remote).get(&format!("/v1/projects/{project}/keys"))?;
                show(&keys)
            }
            KeysCommand::Revoke {
                project,
                id,
                remote,
            } => {
                let key: KeyView =
                    client(&remote).delete(&format!("/v1/projects/{project}/keys/{id}"))?;
                show(&key)
            }
            KeysCommand::Rotate {
                project,
                id,
                remote,
            } => {
                let created: CreatedKey = client(&remote)
                    .post(&format!("/v1/projects/{project}/keys/{id}/rotate"), &())?;
                show(&created)
            }
        },
        Command::Ingest {
            project,
            paths,
            exclude,
            remote,
        } => {
            let s = ingest::run(&client(&remote), &project, &paths, &exclude, remote.json)?;
            if remote.json {
                return show(&s);
            } else {
                say(format!(
                    "{} created, {} updated, {} unchanged, {} skipped (version {}); {} chunks embedded, {} reused, in {:.1} s ({:.1} chunks/s)",
                    s.created,
                    s.updated,
                    s.unchanged,
                    s.skipped,
                    s.version,
                    s.embedded,
                    s.reused,
                    s.seconds,
                    s.embedded as f64 / s.seconds.max(1e-3)
                ));
            }
            Ok(())
        }
        Command::Query {
            project,
            text,
            top_k,
            mode,
            filter,
            remote,
        } => {
            let mode = mode
                .map(|m| {
                    serde_json::from_value(Value::String(m.clone()))
                        .map_err(|_| CliError::Usage(format!("--mode: unknown mode `{m}`")))
                })
                .transpose()?;
            let filter = filter
                .map(|f| serde_json::from_str(&f))
                .transpose()
                .map_err(|e| CliError::Usage(format!("--filter: {e}")))?;
            let request = QueryRequest {
                text: Some(text),
                top_k,
                mode,
                filter,
                ..QueryRequest::default()
            };
            let response: QueryResponse =
                client(&remote).post(&format!("/v1/projects/{project}/query"), &request)?;
            if remote.json {
                return show(&response);
            }
            print_results(&response);
            Ok(())
        }
        Command::Eval {
            project,
            questions,
            mode,
            missed,
            query,
            remote,
        } => {
            let questions = eval::read_questions(&questions)?;
            let extra = match query {
                None => serde_json::Map::new(),
                Some(q) => match serde_json::from_str(&q) {
                    Ok(Value::Object(fields)) => fields,
                    _ => return Err(CliError::Usage("--query: give a JSON object".into())),
                },
            };
            let modes = if mode.is_empty() {
                vec![QueryMode::Vector, QueryMode::Keyword, QueryMode::Hybrid]
            } else {
                mode.iter()
                    .map(|m| {
                        serde_json::from_value(Value::String(m.clone()))
                            .map_err(|_| CliError::Usage(format!("--mode: unknown mode `{m}`")))
                    })
                    .collect::<Result<_, _>>()?
            };
            let client = client(&remote);
            let reports = modes
                .into_iter()
                .map(|m| eval::run_mode(&client, &project, m, &questions, &extra))
                .collect::<Result<Vec<_>, _>>()?;
            if remote.json {
                return show(&reports);
            }
            say(eval::table(&reports));
            if missed {
                for r in &reports {
                    say(format!("{} missed: {}", r.mode, r.missed.join(", ")));
                }
            }
            Ok(())
        }
        Command::Export {
            project,
            output,
            remote,
        } => {
            let client = client(&remote);
            let mut bytes = client.post_raw(
                &format!("/v1/projects/{project}/export"),
                "application/json",
                b"",
            )?;
            // Deployments whose responses are bounded (Lambda) answer with a link to the
            // archive in their bucket instead of the archive; an archive is JSON lines, never
            // one object with a url.
            if let Ok(link) = serde_json::from_slice::<snapkb_engine::ExportLink>(&bytes) {
                bytes = client.download(&link.url)?;
            }
            std::fs::write(&output, &bytes)
                .map_err(|e| CliError::Io(format!("{}: {e}", output.display())))?;
            say(format!(
                "wrote {} bytes to {}",
                bytes.len(),
                output.display()
            ));
            Ok(())
        }
        Command::Import {
            file,
            id,
            object,
            remote,
        } => {
            let v = match (file, object) {
                (_, Some(object)) => client(&remote).post_raw(
                    &format!("/v1/projects/import?id={id}&object={object}"),
                    "application/json",
                    b"",
                )?,
                (Some(file), None) => {
                    let bytes = std::fs::read(&file)
                        .map_err(|e| CliError::Io(format!("{}: {e}", file.display())))?;
                    client(&remote).post_raw(
                        &format!("/v1/projects/import?id={id}"),
                        "application/x-ndjson",
                        &bytes,
                    )?
                }
                (None, None) => {
                    return Err(CliError::Usage("give an archive file or --object".into()));
                }
            };
            say(String::from_utf8_lossy(&v));
            Ok(())
        }
        Command::Health { project, remote } => {
            let health: Health = client(&remote).get(&format!("/v1/projects/{project}/health"))?;
            show(&health)
        }
        Command::Versions { project, remote } => {
            let page: VersionPage =
                client(&remote).get(&format!("/v1/projects/{project}/versions"))?;
            if remote.json {
                return show(&page);
            }
            say(format!("current version {}", page.current));
            for v in &page.versions {
                say(format!(
                    "{:>6}  {:<9} {:>8} documents {:>9} chunks",
                    v.version,
                    v.action.as_str(),
                    v.documents,
                    v.chunks
                ));
            }
            Ok(())
        }
        Command::Rollback {
            project,
            version,
            remote,
        } => {
            let restored: RollbackResponse = client(&remote).post(
                &format!("/v1/projects/{project}/rollback"),
                &RollbackRequest { version },
            )?;
            show(&restored)
        }
    }
}

fn main() -> std::process::ExitCode {
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "snapkb: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
