//! `snapkb-embed-bench`: embedding throughput (batch 1/8/32, short and full-length texts),
//! single-query latency on one core, model load time and resident memory, and markdown chunking
//! throughput. Prints one JSON object on stdout (with --json) and a table on stderr.

use std::{
    path::PathBuf,
    process::Command,
    time::{Duration, Instant},
};

use clap::Parser;
use serde::{Deserialize, Serialize};
use snapkb_embed::{ChunkConfig, Embedder, MiniLm, chunk_markdown, default_model_dir};

#[derive(Debug, Parser)]
#[command(version, about = "Benchmark all-MiniLM-L6-v2 embedding and chunking")]
struct Args {
    #[arg(long)]
    model_dir: Option<PathBuf>,
    /// Seconds to spend on each throughput measurement (at least one batch always runs).
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
    /// Single-query latency samples.
    #[arg(long, default_value_t = 200)]
    queries: usize,
    /// Megabytes of markdown to chunk.
    #[arg(long, default_value_t = 20.0)]
    markdown_mb: f64,
    #[arg(long)]
    json: bool,
    /// Internal: measure single-query latency in this process (started with one thread).
    #[arg(long, hide = true)]
    query_latency_child: bool,
}

#[derive(Debug, Serialize)]
struct Report {
    threads: usize,
    model_load_ms: f64,
    rss_after_load_bytes: u64,
    throughput: Vec<Throughput>,
    query_latency_one_core: QueryLatency,
    query_latency_all_cores: QueryLatency,
    chunking: Chunking,
    peak_rss_bytes: u64,
}

#[derive(Debug, Serialize)]
struct Throughput {
    text: &'static str,
    pieces_per_text: usize,
    batch: usize,
    chunks_per_s: f64,
    pieces_per_s: f64,
}

#[derive(Debug, Serialize, Deserialize)]
struct QueryLatency {
    pieces: usize,
    p50_ms: f64,
    p99_ms: f64,
}

#[derive(Debug, Serialize)]
struct Chunking {
    bytes: usize,
    chunks: usize,
    mb_per_s: f64,
}

fn rss() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// About 14 word pieces: a typical search query.
const SHORT: &str = "how do I rotate an API key without downtime";

fn full_text() -> String {
    // Varied words so the text reaches the 256-piece limit the way prose does.
    let words = [
        "snapshot",
        "vector",
        "latency",
        "project",
        "quota",
        "tenant",
        "compaction",
        "graph",
        "recall",
        "ingest",
    ];
    (0..400)
        .map(|i| words[(i * 7 + i / 3) % words.len()])
        .collect::<Vec<_>>()
        .join(" ")
}

fn latency(model: &MiniLm, samples: usize) -> Result<QueryLatency, String> {
    model.embed(&[SHORT]).map_err(|e| e.to_string())?;
    let mut times = Vec::with_capacity(samples);
    let mut pieces = 0;
    for _ in 0..samples {
        let t = Instant::now();
        let e = model.embed(&[SHORT]).map_err(|e| e.to_string())?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
        pieces = e.pieces[0];
    }
    times.sort_by(f64::total_cmp);
    let at = |p: f64| times[((p / 100.0) * (times.len() - 1) as f64).round() as usize];
    Ok(QueryLatency {
        pieces,
        p50_ms: at(50.0),
        p99_ms: at(99.0),
    })
}

fn markdown_corpus(megabytes: f64) -> String {
    let sample = include_str!("../../tests/fixtures/samples/operations.md");
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

fn run(args: &Args) -> Result<(), String> {
    let dir = args.model_dir.clone().unwrap_or_else(default_model_dir);
    let t = Instant::now();
    let model = MiniLm::load(&dir).map_err(|e| e.to_string())?;
    let model_load_ms = t.elapsed().as_secs_f64() * 1e3;
    if args.query_latency_child {
        let l = latency(&model, args.queries)?;
        #[allow(clippy::print_stdout)]
        {
            println!("{}", serde_json::to_string(&l).map_err(|e| e.to_string())?);
        }
        return Ok(());
    }
    let (rss_after_load_bytes, _) = rss();

    let full = full_text();
    let mut throughput = Vec::new();
    for (name, text) in [("short", SHORT), ("full", full.as_str())] {
        for batch in [1usize, 8, 32] {
            let texts: Vec<&str> = vec![text; batch];
            let warm = model.embed(&texts).map_err(|e| e.to_string())?;
            let pieces_per_text = warm.pieces[0];
            let start = Instant::now();
            let mut done = 0usize;
            while done == 0 || start.elapsed() < Duration::from_secs_f64(args.seconds) {
                model.embed(&texts).map_err(|e| e.to_string())?;
                done += batch;
            }
            let secs = start.elapsed().as_secs_f64();
            throughput.push(Throughput {
                text: name,
                pieces_per_text,
                batch,
                chunks_per_s: done as f64 / secs,
                pieces_per_s: (done * pieces_per_text) as f64 / secs,
            });
        }
    }

    let query_latency_all_cores = latency(&model, args.queries)?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = Command::new(exe)
        .args([
            "--query-latency-child",
            "--queries",
            &args.queries.to_string(),
            "--model-dir",
        ])
        .arg(&dir)
        .env("RAYON_NUM_THREADS", "1")
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "one-core child failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let query_latency_one_core: QueryLatency =
        serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;

    let corpus = markdown_corpus(args.markdown_mb);
    let counter = model.piece_counter();
    let t = Instant::now();
    let chunks = chunk_markdown("bench", &corpus, &counter, ChunkConfig::default());
    let secs = t.elapsed().as_secs_f64();
    let chunking = Chunking {
        bytes: corpus.len(),
        chunks: chunks.len(),
        mb_per_s: corpus.len() as f64 / 1e6 / secs,
    };

    let report = Report {
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        model_load_ms,
        rss_after_load_bytes,
        throughput,
        query_latency_one_core,
        query_latency_all_cores,
        chunking,
        peak_rss_bytes: rss().1,
    };
    eprintln!(
        "all-MiniLM-L6-v2 on {} threads: model load {:.0} ms, RSS after load {:.0} MB, peak {:.0} MB",
        report.threads,
        report.model_load_ms,
        report.rss_after_load_bytes as f64 / 1e6,
        report.peak_rss_bytes as f64 / 1e6
    );
    eprintln!(
        "{:>6} {:>7} {:>6} {:>10} {:>12}",
        "text", "pieces", "batch", "chunks/s", "pieces/s"
    );
    for t in &report.throughput {
        eprintln!(
            "{:>6} {:>7} {:>6} {:>10.1} {:>12.0}",
            t.text, t.pieces_per_text, t.batch, t.chunks_per_s, t.pieces_per_s
        );
    }
    let (one, all) = (
        &report.query_latency_one_core,
        &report.query_latency_all_cores,
    );
    eprintln!(
        "short query ({} pieces): one core p50 {:.2} ms p99 {:.2} ms; all cores p50 {:.2} ms p99 {:.2} ms",
        one.pieces, one.p50_ms, one.p99_ms, all.p50_ms, all.p99_ms
    );
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
