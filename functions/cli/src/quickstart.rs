//! `snapkb quickstart`: the first thing a newcomer runs. Fetches the model if it is missing,
//! starts the server on the embedded default, loads the sample corpus (samples/ in this
//! repository) into a `demo` project, and prints a query to try with a fresh key.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
};

use snapkb_core::{Principal, Scope};
use snapkb_engine::{CreateKey, CreateProject, DocumentInput, Engine, EngineError, IngestRequest};

use crate::{CliError, LocalArgs, local_config, say, serve};

const DEMO: &str = "demo";

fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

fn ensure_model(dir: &Path) -> Result<(), CliError> {
    if dir.join("model.safetensors").exists() {
        return Ok(());
    }
    let script = repo_path("infra/dev/fetch-model.sh");
    if !script.exists() {
        return Err(CliError::Usage(format!(
            "the embedding model is missing from {} and infra/dev/fetch-model.sh is not here to fetch it; set SNAPKB_MODEL_DIR",
            dir.display()
        )));
    }
    say("fetching the embedding model (all-MiniLM-L6-v2, ~90 MB, once)…");
    let status = std::process::Command::new("bash")
        .arg(&script)
        .status()
        .map_err(|e| CliError::Io(format!("{}: {e}", script.display())))?;
    if !status.success() {
        return Err(CliError::Io("fetching the model failed (see above)".into()));
    }
    Ok(())
}

fn samples_dir() -> PathBuf {
    let local = PathBuf::from("samples");
    if local.is_dir() {
        local
    } else {
        repo_path("samples")
    }
}

async fn seed(engine: Arc<Engine>, addr: SocketAddr, samples: PathBuf) -> Result<(), CliError> {
    let admin = Principal::DeploymentAdmin;
    match engine.get_project(&admin, DEMO).await {
        Ok(_) => {}
        Err(EngineError::NotFound { .. }) => {
            engine
                .create_project(
                    &admin,
                    CreateProject {
                        id: DEMO.into(),
                        name: Some("Demo corpus".into()),
                        ..Default::default()
                    },
                )
                .await?;
        }
        Err(e) => return Err(e.into()),
    }
    let mut documents = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&samples)
        .map_err(|e| CliError::Io(format!("{}: {e}", samples.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    entries.sort();
    for path in entries {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| CliError::Io(format!("{}: {e}", path.display())))?;
        let id = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        documents.push(DocumentInput {
            id: id.clone(),
            text: Some(text),
            format: Some(snapkb_embed::TextFormat::Markdown),
            metadata: serde_json::json!({ "source": "samples", "file": format!("{id}.md") })
                .as_object()
                .cloned()
                .unwrap_or_default(),
            ..Default::default()
        });
    }
    let count = documents.len();
    let ingested = engine
        .ingest(&admin, DEMO, IngestRequest { documents })
        .await?;
    let key = engine
        .create_key(
            &admin,
            DEMO,
            CreateKey {
                name: "quickstart".into(),
                scopes: vec![Scope::Read, Scope::Write],
                expires_in_seconds: None,
            },
        )
        .await?;
    let url = format!("http://{addr}");
    say(format!(
        "\nThe `{DEMO}` project holds {count} sample documents (version {}). Try a query:\n\n  \
         curl -s {url}/v1/projects/{DEMO}/query -H 'Authorization: Bearer {token}' \\\n    \
         -H 'Content-Type: application/json' -d '{{\"text\": \"how do plants turn light into energy?\", \"top_k\": 3}}'\n\n  \
         cargo run --release -p snapkb -- query {DEMO} \"how do plants turn light into energy?\" --url {url} --key {token}\n\n\
         That key can read and write `{DEMO}`. Press Ctrl-C to stop; data stays in the data directory.",
        ingested.version,
        token = key.token,
    ));
    Ok(())
}

pub(crate) fn run(args: LocalArgs) -> Result<(), CliError> {
    let (config, settings) = local_config()?;
    serve::init_logs(&args.log_format);
    ensure_model(&serve::model_dir(&settings))?;
    let samples = samples_dir();
    let runtime = tokio::runtime::Runtime::new().map_err(|e| CliError::Io(e.to_string()))?;
    runtime.block_on(async {
        let local = serve::open(&args.data_dir, config, &settings).await?;
        serve::serve(local, args.listen(), move |engine, addr| {
            seed(engine, addr, samples)
        })
        .await
    })
}
