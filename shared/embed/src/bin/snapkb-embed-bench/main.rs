//! `snapkb-embed-bench`: snapkb's embedders and their peers side by side on the same real
//! documentation passages in one run: passages/s on every core, short-query latency on one
//! thread, model load time, peak RSS, and each engine's agreement (cosine) with our exact path;
//! plus markdown chunking throughput. Every engine runs in its own child process, so load time
//! and peak memory are its own. A table on stderr; one JSON object on stdout with --json.

#[cfg(feature = "bench-candle")]
mod candle;

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Instant,
};

use clap::Parser;
use serde::{Deserialize, Serialize};
use snapkb_embed::{
    ChunkConfig, Embedder, MiniLm, PieceCounter, Precision, chunk_markdown, default_model_dir,
    html_to_markdown,
};

#[derive(Debug, Parser)]
#[command(
    version,
    about = "Benchmark snapkb's embedders against their peers on the same texts"
)]
struct Args {
    #[arg(long)]
    model_dir: Option<PathBuf>,
    /// Folder of .md/.html documents the passages are cut from [default: the repository's docs/]
    #[arg(long)]
    passages_from: Option<PathBuf>,
    /// Passages to embed (the longest chunks of the documents, by word pieces).
    #[arg(long, default_value_t = 256)]
    passages: usize,
    /// Single-query latency samples.
    #[arg(long, default_value_t = 200)]
    queries: usize,
    /// Engines to run: exact, int8, candle (needs --features bench-candle), onnxruntime-int8 and
    /// numpy-f32 (both by infra/dev/embed-peers.sh, which installs them from PyPI).
    #[arg(long, value_delimiter = ',', default_value = "exact,int8")]
    engines: Vec<String>,
    /// Megabytes of markdown to chunk.
    #[arg(long, default_value_t = 20.0)]
    markdown_mb: f64,
    #[arg(long)]
    json: bool,
    /// Internal: run one engine in this process (`ENGINE:passages` or `ENGINE:query`).
    #[arg(long, hide = true)]
    child: Option<String>,
    /// Internal: the passages file a child reads.
    #[arg(long, hide = true)]
    passages_file: Option<PathBuf>,
}

/// About 12 word pieces: a typical search query.
const SHORT: &str = "how do I rotate an API key without downtime";

#[derive(Debug, Serialize)]
struct Report {
    threads: usize,
    passages: usize,
    mean_pieces: f64,
    engines: Vec<EngineReport>,
    chunking: Chunking,
}

#[derive(Debug, Serialize)]
struct EngineReport {
    engine: String,
    load_ms: f64,
    passages_per_s: f64,
    query_p50_ms: f64,
    query_p99_ms: f64,
    peak_rss_bytes: u64,
    /// Cosine against our exact path, passage by passage.
    cosine_min: f64,
    cosine_mean: f64,
}

/// What a child prints for `passages`.
#[derive(Debug, Serialize, Deserialize)]
struct PassageRun {
    load_ms: f64,
    passages_per_s: f64,
    peak_rss_bytes: u64,
    vectors: Vec<Vec<f32>>,
}

/// What a child prints for `query`.
#[derive(Debug, Serialize, Deserialize)]
struct QueryRun {
    p50_ms: f64,
    p99_ms: f64,
}

#[derive(Debug, Serialize)]
struct Chunking {
    bytes: usize,
    chunks: usize,
    mb_per_s: f64,
}

fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn percentile(times: &mut [f64], p: f64) -> f64 {
    times.sort_by(f64::total_cmp);
    times[((p / 100.0) * (times.len() - 1) as f64).round() as usize]
}

/// An engine loaded in a child: embeds a batch of texts into unit vectors.
type Embed = Box<dyn Fn(&[&str]) -> Result<Vec<Vec<f32>>, String>>;

fn load_engine(name: &str, dir: &Path, one_thread: bool) -> Result<Embed, String> {
    let threads = if one_thread {
        1
    } else {
        snapkb_embed::default_embed_threads()
    };
    let ours = |precision| -> Result<Embed, String> {
        let model = MiniLm::load_with(dir, precision, threads).map_err(|e| e.to_string())?;
        Ok(Box::new(move |texts: &[&str]| {
            model
                .embed(texts)
                .map(|e| e.vectors)
                .map_err(|e| e.to_string())
        }))
    };
    match name {
        "exact" => ours(Precision::F32),
        "int8" => ours(Precision::Int8),
        #[cfg(feature = "bench-candle")]
        "candle" => {
            let model = candle::CandleMiniLm::load(dir)?;
            Ok(Box::new(move |texts: &[&str]| model.embed(texts)))
        }
        other => Err(format!(
            "unknown engine `{other}` (candle needs --features bench-candle)"
        )),
    }
}

fn run_child(args: &Args, spec: &str, dir: &Path) -> Result<(), String> {
    let (engine, mode) = spec.split_once(':').ok_or("bad --child")?;
    let started = Instant::now();
    let embed = load_engine(engine, dir, mode == "query")?;
    let load_ms = started.elapsed().as_secs_f64() * 1e3;
    let out = if mode == "query" {
        embed(&[SHORT])?;
        let mut times = Vec::with_capacity(args.queries);
        for _ in 0..args.queries {
            let t = Instant::now();
            embed(&[SHORT])?;
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        serde_json::to_string(&QueryRun {
            p50_ms: percentile(&mut times, 50.0),
            p99_ms: percentile(&mut times, 99.0),
        })
    } else {
        let file = args.passages_file.as_ref().ok_or("--passages-file")?;
        let passages: Vec<String> = serde_json::from_slice(
            &std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?,
        )
        .map_err(|e| e.to_string())?;
        let texts: Vec<&str> = passages.iter().map(String::as_str).collect();
        embed(&texts[..texts.len().min(8)])?;
        let t = Instant::now();
        let vectors = embed(&texts)?;
        let secs = t.elapsed().as_secs_f64();
        serde_json::to_string(&PassageRun {
            load_ms,
            passages_per_s: texts.len() as f64 / secs,
            peak_rss_bytes: peak_rss(),
            vectors,
        })
    }
    .map_err(|e| e.to_string())?;
    #[allow(clippy::print_stdout)]
    {
        println!("{out}");
    }
    Ok(())
}

/// Runs one engine's child (ours by this binary, peers by infra/dev/embed-peers.sh) and parses
/// its JSON line.
fn child<T: for<'de> Deserialize<'de>>(
    engine: &str,
    mode: &str,
    args: &Args,
    dir: &Path,
    passages_file: &Path,
) -> Result<T, String> {
    let peer = matches!(engine, "onnxruntime-int8" | "numpy-f32");
    let mut command = if peer {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../infra/dev/embed-peers.sh");
        let mut c = Command::new("bash");
        c.arg(script)
            .args([engine, mode])
            .arg(passages_file)
            .arg(dir)
            .args([SHORT, &args.queries.to_string()]);
        c
    } else {
        let mut c = Command::new(std::env::current_exe().map_err(|e| e.to_string())?);
        c.arg("--child")
            .arg(format!("{engine}:{mode}"))
            .arg("--passages-file")
            .arg(passages_file)
            .args(["--queries", &args.queries.to_string(), "--model-dir"])
            .arg(dir);
        c
    };
    if mode == "query" {
        command.env("RAYON_NUM_THREADS", "1");
    }
    let out = command.output().map_err(|e| format!("{engine}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{engine} {mode} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("{engine} {mode}: {e}"))
}

/// The longest chunks (by word pieces) of the documents under `from`, in a stable order.
fn passages(from: &Path, count: usize, counter: &dyn PieceCounter) -> Result<Vec<String>, String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(from)
        .map_err(|e| format!("{}: {e}", from.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .is_some_and(|x| x == "md" || x == "html" || x == "htm")
        })
        .collect();
    files.sort();
    let mut chunks = Vec::new();
    for file in files {
        let text =
            std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let markdown = if file.extension().is_some_and(|x| x == "md") {
            text
        } else {
            html_to_markdown(&text)
        };
        let name = file.display().to_string();
        for chunk in chunk_markdown(&name, &markdown, counter, ChunkConfig::default()) {
            chunks.push((counter.count(&chunk.text), chunk.text));
        }
    }
    // Longest first (ties by text), so passages are full-length like an ingest's.
    chunks.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    chunks.truncate(count);
    if chunks.is_empty() {
        return Err(format!("no passages in {}", from.display()));
    }
    Ok(chunks.into_iter().map(|(_, t)| t).collect())
}

fn markdown_corpus(megabytes: f64) -> String {
    let sample = include_str!("../../../tests/fixtures/samples/operations.md");
    let mut out = String::new();
    let mut i = 0;
    while (out.len() as f64) < megabytes * 1e6 {
        // Number the copies so headings and chunk hashes differ between them.
        out.push_str(&sample.replace(
            "# Operations guide",
            &format!("# Operations guide, part {i}"),
        ));
        out.push('\n');
        i += 1;
    }
    out
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| (x * y) as f64).sum();
    let na: f64 = a.iter().map(|x| (x * x) as f64).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (x * x) as f64).sum::<f64>().sqrt();
    dot / (na * nb)
}

fn run(args: &Args) -> Result<(), String> {
    let dir = args.model_dir.clone().unwrap_or_else(default_model_dir);
    if let Some(spec) = &args.child {
        return run_child(args, spec, &dir);
    }
    let model = MiniLm::load(&dir).map_err(|e| e.to_string())?;
    let counter = model.piece_counter();
    let from = args
        .passages_from
        .clone()
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs"));
    let texts = passages(&from, args.passages, &counter)?;
    let pieces = model
        .embed(&texts.iter().map(String::as_str).collect::<Vec<_>>())
        .map_err(|e| e.to_string())?
        .pieces;
    let mean_pieces = pieces.iter().sum::<usize>() as f64 / pieces.len() as f64;
    let passages_file =
        std::env::temp_dir().join(format!("snapkb-embed-bench-{}.json", std::process::id()));
    std::fs::write(
        &passages_file,
        serde_json::to_vec(&texts).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;

    let mut reference: Option<Vec<Vec<f32>>> = None;
    let mut engines = Vec::new();
    for engine in &args.engines {
        let p: PassageRun = child(engine, "passages", args, &dir, &passages_file)?;
        let q: QueryRun = child(engine, "query", args, &dir, &passages_file)?;
        if engine == "exact" {
            reference = Some(p.vectors.clone());
        }
        let cosines: Vec<f64> = reference.as_ref().map_or_else(Vec::new, |r| {
            r.iter()
                .zip(&p.vectors)
                .map(|(a, b)| cosine(a, b))
                .collect()
        });
        engines.push(EngineReport {
            engine: engine.clone(),
            load_ms: p.load_ms,
            passages_per_s: p.passages_per_s,
            query_p50_ms: q.p50_ms,
            query_p99_ms: q.p99_ms,
            peak_rss_bytes: p.peak_rss_bytes,
            cosine_min: cosines.iter().copied().fold(f64::NAN, f64::min),
            cosine_mean: cosines.iter().sum::<f64>() / cosines.len().max(1) as f64,
        });
    }
    let _ = std::fs::remove_file(&passages_file);

    let corpus = markdown_corpus(args.markdown_mb);
    let t = Instant::now();
    let chunks = chunk_markdown("bench", &corpus, &counter, ChunkConfig::default());
    let secs = t.elapsed().as_secs_f64();
    let report = Report {
        threads: snapkb_embed::default_embed_threads(),
        passages: texts.len(),
        mean_pieces,
        engines,
        chunking: Chunking {
            bytes: corpus.len(),
            chunks: chunks.len(),
            mb_per_s: corpus.len() as f64 / 1e6 / secs,
        },
    };
    eprintln!(
        "{} passages (mean {:.0} word pieces) from {}, {} threads; queries of 12 pieces on one thread",
        report.passages,
        report.mean_pieces,
        from.display(),
        report.threads
    );
    eprintln!(
        "{:<18} {:>11} {:>9} {:>9} {:>9} {:>9} {:>10} {:>10}",
        "engine", "passages/s", "q p50 ms", "q p99 ms", "load ms", "peak MB", "cos min", "cos mean"
    );
    for e in &report.engines {
        eprintln!(
            "{:<18} {:>11.1} {:>9.2} {:>9.2} {:>9.0} {:>9.0} {:>10.5} {:>10.5}",
            e.engine,
            e.passages_per_s,
            e.query_p50_ms,
            e.query_p99_ms,
            e.load_ms,
            e.peak_rss_bytes as f64 / 1e6,
            e.cosine_min,
            e.cosine_mean
        );
    }
    eprintln!(
        "markdown chunking: {:.1} MB in {} chunks at {:.1} MB/s",
        report.chunking.bytes as f64 / 1e6,
        report.chunking.chunks,
        report.chunking.mb_per_s
    );
    if args.json {
        #[allow(clippy::print_stdout)]
        {
            println!(
                "{}",
                serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?
            );
        }
    }
    Ok(())
}

fn main() {
    let args = Args::parse();
    if let Err(message) = run(&args) {
        eprintln!("snapkb-embed-bench: {message}");
        std::process::exit(2);
    }
}
