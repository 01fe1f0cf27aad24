//! The HTTP benchmark of `snapkb serve` (release build): acknowledged ingest throughput of
//! caller vectors, compaction catch-up, query throughput and latency at 64 connections (wrk),
//! and the time from start to the first answered query. Prints a table and writes JSON.
//!
//! `cargo build --release -p snapkb -p snapkb-e2e && target/release/snapkb-http-bench --n 100000`

use std::{
    process::Command,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use snapkb_e2e::{Api, Server, bench_vectors, say, use_release_binary};

/// The HTTP benchmark of `snapkb serve`.
#[derive(Debug, clap::Parser)]
struct Args {
    /// Chunks to load.
    #[arg(long, default_value_t = 100_000)]
    n: usize,
    #[arg(long, default_value_t = 384)]
    dims: usize,
    /// Concurrent ingest clients.
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// Chunks per ingest request.
    #[arg(long, default_value_t = 500)]
    batch: usize,
    /// wrk connection counts to measure queries at.
    #[arg(long, value_delimiter = ',', default_value = "64,8")]
    connections: Vec<usize>,
    /// Seconds per wrk run.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    #[arg(long, default_value_t = 32)]
    ef: usize,
    /// Also write the results as JSON to this file.
    #[arg(long = "json")]
    json_out: Option<String>,
}

fn percentile_ms(line: &str) -> Option<f64> {
    let value = line.split_whitespace().nth(1)?;
    let (num, unit) = value.split_at(value.find(|c: char| c.is_ascii_alphabetic())?);
    let n: f64 = num.parse().ok()?;
    Some(match unit {
        "us" => n / 1000.0,
        "ms" => n,
        "s" => n * 1000.0,
        _ => return None,
    })
}

fn main() {
    let args = <Args as clap::Parser>::parse();
    use_release_binary();
    let dir = tempfile::tempdir().expect("temp dir");
    let (data, queries) = bench_vectors(args.n, args.dims, 256);
    let server = Server::start(dir.path());
    let admin = server.admin_api();
    admin.ok(
        "/v1/projects",
        &json!({
            "id": "bench",
            "embedding": { "model": null, "dims": args.dims },
            "index": { "ef_search": args.ef },
            "rate_limits": { "window_seconds": 1, "per_key": 4_000_000_000u32, "per_project": 4_000_000_000u32 },
            "quotas": { "max_documents": 100_000_000u64, "max_chunks": 100_000_000u64 },
        }),
    );

    // Ingest: clients pull batches until all are sent.
    let data = Arc::new(data);
    let next = Arc::new(AtomicUsize::new(0));
    let batches = args.n.div_ceil(args.batch);
    let started = Instant::now();
    let workers: Vec<_> = (0..args.clients)
        .map(|_| {
            let (api, data, next) = (admin.clone(), data.clone(), next.clone());
            let (batch, dims, n) = (args.batch, args.dims, args.n);
            std::thread::spawn(move || {
                loop {
                    let b = next.fetch_add(1, Ordering::Relaxed);
                    if b >= batches {
                        return;
                    }
                    let docs: Vec<Value> = (b * batch..((b + 1) * batch).min(n))
                        .map(|i| json!({ "id": format!("c{i}"), "text": format!("chunk {i}"), "vector": &data[i * dims..(i + 1) * dims] }))
                        .collect();
                    api.ok("/v1/projects/bench/documents", &json!({ "documents": docs }));
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("ingest client");
    }
    let ingest_s = started.elapsed().as_secs_f64();
    let ingest_rate = args.n as f64 / ingest_s;
    say(format!(
        "ingest: {} chunks in {ingest_s:.1} s = {ingest_rate:.0} chunks/s acknowledged ({} clients, batches of {})",
        args.n, args.clients, args.batch
    ));

    // Compaction: what the triggers started during ingest, then the rest on request.
    let waiting = Instant::now();
    let r = admin.post("/v1/projects/bench/compact", &json!({}));
    assert_eq!(r.status, 202, "{}", r.text);
    loop {
        let h = admin.get("/v1/projects/bench/health").body;
        if h["wal_segments"].as_u64() == Some(0) {
            break;
        }
        assert!(
            waiting.elapsed() < Duration::from_secs(3600),
            "compaction did not finish: {h}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let compaction_s = waiting.elapsed().as_secs_f64();
    let h = admin.get("/v1/projects/bench/health").body;
    say(format!(
        "compaction done {compaction_s:.1} s after the last ack; log now {} segments, {} chunks",
        h["wal_segments"], h["wal_chunks"]
    ));

    // Query load with wrk.
    let bodies: Vec<String> = queries
        .chunks_exact(args.dims)
        .map(|q| json!({ "vector": q, "top_k": 10 }).to_string())
        .collect();
    let script = dir.path().join("query.lua");
    let mut lua = String::from("local bodies = {\n");
    for b in &bodies {
        lua.push_str(&format!("  [[{b}]],\n"));
    }
    lua.push_str("}\nlocal i = 0\nrequest = function()\n  i = i % #bodies + 1\n  return wrk.format(\"POST\", nil, nil, bodies[i])\nend\n");
    std::fs::write(&script, lua).expect("write lua");
    // Warm up: load the index into the server's cache.
    admin.ok(
        "/v1/projects/bench/query",
        &json!({ "vector": &queries[..args.dims], "top_k": 10 }),
    );
    let mut query_results = Vec::new();
    for &connections in &args.connections {
        let out = Command::new("wrk")
            .args([
                "-t2",
                &format!("-c{connections}"),
                &format!("-d{}s", args.seconds),
                "--latency",
                "-s",
            ])
            .arg(&script)
            .args([
                "-H",
                &format!(
                    "Authorization: Bearer {}",
                    server.admin.as_deref().unwrap_or_default()
                ),
            ])
            .args(["-H", "Content-Type: application/json"])
            .arg(format!("{}/v1/projects/bench/query", server.url))
            .output()
            .expect("wrk is installed (apt-get install wrk)");
        let report = String::from_utf8_lossy(&out.stdout).to_string();
        let rps: f64 = report
            .lines()
            .find(|l| l.starts_with("Requests/sec:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        let pct = |p: &str| {
            report
                .lines()
                .find(|l| l.trim_start().starts_with(p))
                .and_then(percentile_ms)
                .unwrap_or(f64::NAN)
        };
        let (p50, p90, p99) = (pct("50%"), pct("90%"), pct("99%"));
        let non_2xx = report
            .lines()
            .find(|l| l.contains("Non-2xx"))
            .map(str::trim)
            .unwrap_or("none")
            .to_string();
        say(format!(
            "queries at {connections} connections: {rps:.0}/s, p50 {p50:.2} ms, p90 {p90:.2} ms, p99 {p99:.2} ms (non-2xx: {non_2xx})"
        ));
        query_results.push(json!({ "connections": connections, "seconds": args.seconds, "requests_per_second": rps, "p50_ms": p50, "p90_ms": p90, "p99_ms": p99, "non_2xx": non_2xx, "wrk": report }));
    }

    // Start to first answer.
    let admin_key = server.admin.clone().unwrap_or_default();
    assert!(server.stop(), "graceful stop");
    let started = Instant::now();
    let restarted = Server::start(dir.path());
    let listening_ms = started.elapsed().as_secs_f64() * 1000.0;
    let api = Api::new(&restarted.url, &admin_key);
    let first = api.post(
        "/v1/projects/bench/query",
        &json!({ "vector": &queries[..args.dims], "top_k": 10 }),
    );
    let first_ms = started.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(first.status, 200, "{}", first.text);
    say(format!(
        "start to listening {listening_ms:.0} ms; start to first answered query {first_ms:.0} ms"
    ));

    let result = json!({
        "n": args.n, "dims": args.dims, "ef_search": args.ef, "k": 10,
        "ingest": { "clients": args.clients, "batch": args.batch, "seconds": ingest_s, "chunks_per_second": ingest_rate },
        "compaction_catch_up_seconds": compaction_s,
        "query": query_results,
        "start_to_listening_ms": listening_ms,
        "start_to_first_query_ms": first_ms,
    });
    if let Some(path) = args.json_out {
        std::fs::write(
            &path,
            serde_json::to_string_pretty(&result).unwrap_or_default(),
        )
        .expect("write json");
    }
}
