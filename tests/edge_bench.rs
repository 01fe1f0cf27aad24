//! The edge benchmark: the Cloudflare Worker under workerd (Miniflare, R2 and D1 simulated on
//! local disk) against native `snapkb serve` (release build) on the same project: ingest of
//! caller vectors with compaction, warm query latency, and the time from a cold start to the
//! first answered query. Prints a table and writes JSON.
//!
//! `infra/edge/worker-build.sh && cargo build --release -p snapkb -p snapkb-e2e \
//!   && target/release/snapkb-edge-bench --n 10000 --json docs/bench/edge-10k.json`

use std::{
    path::Path,
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use snapkb_e2e::{
    Api, Server, WorkerServer, bench_vectors, new_admin_key, say, use_release_binary, worker_bundle,
};

/// The Worker under workerd against native `snapkb serve` on the same project.
#[derive(Debug, clap::Parser)]
struct Args {
    /// Chunks to load.
    #[arg(long, default_value_t = 10_000)]
    n: usize,
    #[arg(long, default_value_t = 384)]
    dims: usize,
    /// Chunks per ingest request.
    #[arg(long, default_value_t = 1_000)]
    batch: usize,
    /// Queries timed per deployment.
    #[arg(long, default_value_t = 300)]
    queries: usize,
    #[arg(long, default_value_t = 32)]
    ef: usize,
    /// Also write the results as JSON to this file.
    #[arg(long = "json")]
    json_out: Option<String>,
}

/// A running deployment of either kind.
enum Deployment {
    Worker(WorkerServer),
    Native(Server),
}

impl Deployment {
    fn start(kind: &str, dir: &Path, admin_hash: &str) -> Deployment {
        let vars = [("SNAPKB_ADMIN_KEY_SHA256", admin_hash)];
        match kind {
            "worker" => {
                Deployment::Worker(WorkerServer::start(&worker_bundle("worker"), dir, &vars))
            }
            _ => Deployment::Native(Server::start_with(dir, &vars)),
        }
    }

    fn url(&self) -> &str {
        match self {
            Deployment::Worker(w) => &w.url,
            Deployment::Native(s) => &s.url,
        }
    }

    fn stop(self) {
        match self {
            Deployment::Worker(w) => w.stop(),
            Deployment::Native(s) => assert!(s.stop(), "graceful stop"),
        }
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn run(kind: &str, args: &Args, data: &[f32], queries: &[f32]) -> Value {
    let dir = tempfile::tempdir().expect("temp dir");
    let (admin_key, hash) = new_admin_key();
    let deployment = Deployment::start(kind, dir.path(), &hash);
    let api = Api::new(deployment.url(), &admin_key);
    api.ok(
        "/v1/projects",
        &json!({
            "id": "bench",
            "embedding": { "model": null, "dims": args.dims },
            "index": { "ef_search": args.ef },
            // Every batch passes the chunk trigger, so the log is folded as ingest goes.
            "compaction": { "max_wal_segments": 64, "max_wal_chunks": args.batch - 1,
                            "rebuild_deleted_fraction": 0.2, "retain_versions": 20 },
            "rate_limits": { "window_seconds": 1, "per_key": 4_000_000_000u32, "per_project": 4_000_000_000u32 },
            "quotas": { "max_documents": 100_000_000u64, "max_chunks": 100_000_000u64 },
        }),
    );
    let started = Instant::now();
    for b in 0..args.n.div_ceil(args.batch) {
        let docs: Vec<Value> = (b * args.batch..((b + 1) * args.batch).min(args.n))
            .map(|i| json!({ "id": format!("c{i}"), "text": format!("chunk {i}"), "vector": &data[i * args.dims..(i + 1) * args.dims] }))
            .collect();
        api.ok(
            "/v1/projects/bench/documents",
            &json!({ "documents": docs }),
        );
    }
    let ingest_s = started.elapsed().as_secs_f64();
    loop {
        let h = api.get("/v1/projects/bench/health").body;
        if h["wal_segments"].as_u64() == Some(0) && h["chunks"].as_u64() == Some(args.n as u64) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1800),
            "compaction did not finish: {h}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let compacted_s = started.elapsed().as_secs_f64();
    say(format!(
        "{kind}: ingested {} × {} in {ingest_s:.1} s; log folded {compacted_s:.1} s after the start",
        args.n, args.dims
    ));

    let query = |i: usize| {
        let q = &queries[(i % 256) * args.dims..(i % 256 + 1) * args.dims];
        let t = Instant::now();
        let r = api.post(
            "/v1/projects/bench/query",
            &json!({ "vector": q, "top_k": 10 }),
        );
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["results"].as_array().map(Vec::len), Some(10));
        t.elapsed().as_secs_f64() * 1000.0
    };
    query(0);
    let mut warm: Vec<f64> = (0..args.queries).map(query).collect();
    warm.sort_by(f64::total_cmp);
    let (p50, p99) = (percentile(&warm, 0.5), percentile(&warm, 0.99));
    let mean = warm.iter().sum::<f64>() / warm.len() as f64;
    say(format!(
        "{kind}: warm queries (sequential, {}): p50 {p50:.2} ms, p99 {p99:.2} ms, mean {mean:.2} ms",
        args.queries
    ));
    deployment.stop();

    // Cold: a new process on the same data; the first query loads project, key and index.
    let started = Instant::now();
    let deployment = Deployment::start(kind, dir.path(), &hash);
    let ready_ms = started.elapsed().as_secs_f64() * 1000.0;
    let api = Api::new(deployment.url(), &admin_key);
    let first = Instant::now();
    let r = api.post(
        "/v1/projects/bench/query",
        &json!({ "vector": &queries[..args.dims], "top_k": 10 }),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let first_ms = first.elapsed().as_secs_f64() * 1000.0;
    let total_ms = started.elapsed().as_secs_f64() * 1000.0;
    let second = Instant::now();
    api.ok(
        "/v1/projects/bench/query",
        &json!({ "vector": &queries[args.dims..2 * args.dims], "top_k": 10 }),
    );
    let second_ms = second.elapsed().as_secs_f64() * 1000.0;
    say(format!(
        "{kind}: cold start: process ready {ready_ms:.0} ms, then first answer {first_ms:.0} ms (total {total_ms:.0} ms); next query {second_ms:.1} ms"
    ));
    deployment.stop();
    json!({
        "ingest_seconds": ingest_s, "compacted_seconds": compacted_s,
        "warm_p50_ms": p50, "warm_p99_ms": p99, "warm_mean_ms": mean,
        "cold_process_ready_ms": ready_ms, "cold_first_answer_ms": first_ms,
        "cold_total_ms": total_ms, "after_cold_next_query_ms": second_ms,
    })
}

fn main() {
    let args = <Args as clap::Parser>::parse();
    use_release_binary();
    let (data, queries) = bench_vectors(args.n, args.dims, 256);
    let wasm = worker_bundle("worker").join("snapkb_worker_bg.wasm");
    let raw = std::fs::read(&wasm).expect("worker wasm");
    say(format!("worker wasm: {} bytes", raw.len()));
    let worker = run("worker", &args, &data, &queries);
    let native = run("native", &args, &data, &queries);
    say("\n| measure | Worker (workerd, local R2/D1) | native snapkb serve |\n|---|---|---|");
    for (label, key, unit) in [
        ("ingest (s)", "ingest_seconds", 1),
        ("log folded (s)", "compacted_seconds", 1),
        ("warm query p50 (ms)", "warm_p50_ms", 2),
        ("warm query p99 (ms)", "warm_p99_ms", 2),
        ("cold: process ready (ms)", "cold_process_ready_ms", 0),
        (
            "cold: first answer after ready (ms)",
            "cold_first_answer_ms",
            0,
        ),
        ("cold: start to first answer (ms)", "cold_total_ms", 0),
        (
            "query after the cold one (ms)",
            "after_cold_next_query_ms",
            1,
        ),
    ] {
        let cell = |v: &Value| format!("{:.*}", unit, v[key].as_f64().unwrap_or(f64::NAN));
        say(format!(
            "| {label} | {} | {} |",
            cell(&worker),
            cell(&native)
        ));
    }
    if let Some(path) = args.json_out {
        let result = json!({
            "n": args.n, "dims": args.dims, "batch": args.batch, "ef_search": args.ef, "k": 10,
            "worker_wasm_bytes": raw.len(), "worker": worker, "native": native,
        });
        std::fs::write(
            &path,
            serde_json::to_string_pretty(&result).unwrap_or_default(),
        )
        .expect("write json");
    }
}
