//! The Lambda benchmark (release build) on the local AWS servers: loads a project of caller
//! vectors into S3 + DynamoDB through the engine, compacts it into one snapshot, then runs the
//! real `snapkb-query` binary under the emulated Lambda host: process start to first answered
//! query (cold), warm query latency, and the S3/DynamoDB requests per query and per ingest
//! (from the functions' EMF lines); plus the stripped size of every function binary.
//!
//! ```text
//! eval "$(infra/dev/aws-servers.sh start)"
//! cargo build --release -p snapkb -p snapkb-lambda -p snapkb-e2e
//! target/release/snapkb-lambda-bench --n 100000 --dims 384
//! ```

use std::{path::PathBuf, sync::Arc, time::Instant};

use serde_json::{Value, json};
use snapkb_core::Principal;
use snapkb_e2e::{
    aws_function_env, aws_stores, bench_vectors, block_on,
    lambda_host::{FunctionProcess, LambdaHost, Outcome, function_binary},
    say, use_release_binary,
};
use snapkb_engine::{CreateProject, Engine, IngestRequest};

const FUNCTIONS: [&str; 6] = [
    "snapkb-query",
    "snapkb-ingest",
    "snapkb-export",
    "snapkb-keys",
    "snapkb-compact",
    "snapkb-s3-trigger",
];

fn arg(name: &str, default: usize) -> usize {
    let argv: Vec<String> = std::env::args().collect();
    argv.iter()
        .position(|a| a == name)
        .and_then(|i| argv.get(i + 1))
        .map_or(default, |v| v.parse().expect(name))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn query_event(key: &str, vector: &[f32]) -> Value {
    let mut e: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/lambda/apigw-http-v2.json"
        ))
        .unwrap(),
    )
    .unwrap();
    e["rawPath"] = json!("/v1/projects/bench/query");
    e["requestContext"]["http"]["method"] = json!("POST");
    e["requestContext"]["http"]["path"] = json!("/v1/projects/bench/query");
    e["headers"]["authorization"] = json!(format!("Bearer {key}"));
    e["body"] = json!(json!({ "vector": vector, "top_k": 10 }).to_string());
    e
}

fn ingest_event(key: &str, id: &str, vector: &[f32]) -> Value {
    let mut e = query_event(key, vector);
    e["rawPath"] = json!("/v1/projects/bench/documents");
    e["requestContext"]["http"]["path"] = json!("/v1/projects/bench/documents");
    e["body"] =
        json!(json!({ "documents": [{ "id": id, "text": id, "vector": vector }] }).to_string());
    e
}

fn status(outcome: &Outcome) -> u64 {
    match outcome {
        Outcome::Response(r) => r["statusCode"].as_u64().unwrap_or(0),
        Outcome::Error(e) => panic!("function failed: {e}"),
    }
}

/// (S3, DynamoDB reads, DynamoDB writes) per request, averaged over EMF lines.
fn calls(lines: &[Value]) -> (f64, f64, f64) {
    let n = lines.len().max(1) as f64;
    let sum = |k: &str| {
        lines
            .iter()
            .map(|l| l[k].as_f64().unwrap_or(0.0))
            .sum::<f64>()
            / n
    };
    (sum("S3Calls"), sum("DynamoDBReads"), sum("DynamoDBWrites"))
}

fn stripped_size(binary: &PathBuf) -> (u64, u64) {
    let raw = std::fs::metadata(binary).map(|m| m.len()).unwrap_or(0);
    let out = std::env::temp_dir().join(format!("snapkb-stripped-{}", std::process::id()));
    let stripped = std::process::Command::new("strip")
        .arg("-o")
        .arg(&out)
        .arg(binary)
        .status()
        .ok()
        .filter(|s| s.success())
        .and_then(|_| std::fs::metadata(&out).ok())
        .map_or(0, |m| m.len());
    let _ = std::fs::remove_file(out);
    (raw, stripped)
}

fn main() {
    use_release_binary();
    let (n, dims, queries) = (
        arg("--n", 100_000),
        arg("--dims", 384),
        arg("--queries", 300),
    );
    let host = LambdaHost::start();
    let env = aws_function_env("bench");
    let (admin, hash) = snapkb_core::generate_secret(&snapkb_core::new_key_id());
    let mut env = env;
    env.push(("SNAPKB_ADMIN_KEY_SHA256".into(), hash.clone()));
    let name = env
        .iter()
        .find(|(k, _)| k == "SNAPKB_BUCKET")
        .unwrap()
        .1
        .clone();

    // Load through the engine on the same bucket and table.
    let stores = aws_stores(&name);
    let config = snapkb_core::Config {
        admin_key_sha256: Some(hash),
        ..Default::default()
    };
    let engine = Arc::new(Engine::new(
        stores.objects.clone(),
        stores.meta.clone(),
        config,
    ));
    let (data, probes) = bench_vectors(n, dims, 256);
    let create: CreateProject = serde_json::from_value(json!({
        "id": "bench",
        "embedding": { "model": null, "dims": dims },
        "index": { "ef_search": 32 },
        "rate_limits": { "window_seconds": 1, "per_key": 4_000_000_000u32, "per_project": 4_000_000_000u32 },
        "quotas": { "max_documents": 100_000_000u64, "max_chunks": 100_000_000u64 },
        "compaction": { "max_wal_segments": 1_000_000, "max_wal_chunks": 100_000_000u32 },
    }))
    .unwrap();
    let started = Instant::now();
    let load_ms = block_on(async {
        engine
            .create_project(&Principal::DeploymentAdmin, create)
            .await
            .unwrap();
        for start in (0..n).step_by(1000) {
            let docs: Vec<Value> = (start..(start + 1000).min(n))
                .map(|i| json!({ "id": format!("c{i}"), "text": format!("chunk {i}"), "vector": &data[i * dims..(i + 1) * dims] }))
                .collect();
            let request: IngestRequest =
                serde_json::from_value(json!({ "documents": docs })).unwrap();
            engine
                .ingest(&Principal::DeploymentAdmin, "bench", request)
                .await
                .unwrap();
        }
        let loaded = started.elapsed().as_secs_f64() * 1e3;
        let compacted = Instant::now();
        engine.compact("bench", true).await.unwrap();
        (loaded, compacted.elapsed().as_secs_f64() * 1e3)
    });
    let snapshot_bytes: u64 = block_on(async {
        use snapkb_store::ObjectStore;
        let page = stores
            .objects
            .list("projects/bench/", None, 1000)
            .await
            .unwrap();
        page.objects
            .iter()
            .filter(|o| o.key.ends_with(".snap"))
            .map(|o| o.size)
            .sum()
    });
    drop(engine);
    say(format!(
        "loaded {n} × {dims} into S3 + DynamoDB in {:.1} s ({:.0} chunks/s), compacted in {:.1} s; snapshot {:.1} MB",
        load_ms.0 / 1e3,
        n as f64 / (load_ms.0 / 1e3),
        load_ms.1 / 1e3,
        snapshot_bytes as f64 / 1e6
    ));

    // Cold: process start to the first answered query, three times (a new process each).
    let mut cold = Vec::new();
    for run in 0..3 {
        let h = LambdaHost::start();
        let t0 = Instant::now();
        let f = FunctionProcess::start(&h, "snapkb-query", &env);
        let outcome = h.invoke(&query_event(&admin, &probes[run * dims..(run + 1) * dims]));
        cold.push(t0.elapsed().as_secs_f64() * 1e3);
        assert_eq!(status(&outcome), 200, "{outcome:?}");
        let first = f.metric_lines(1);
        say(format!(
            "cold run {run}: {:.0} ms; first request {first:?}",
            cold[run]
        ));
        drop(f);
    }
    let cold_calls = {
        let h = LambdaHost::start();
        let f = FunctionProcess::start(&h, "snapkb-query", &env);
        status(&h.invoke(&query_event(&admin, &probes[..dims])));
        calls(&f.metric_lines(1))
    };

    // Warm: one process, sequential queries.
    let query = FunctionProcess::start(&host, "snapkb-query", &env);
    status(&host.invoke(&query_event(&admin, &probes[..dims])));
    let mut warm = Vec::with_capacity(queries);
    for q in 0..queries {
        let v = &probes[(q % 256) * dims..(q % 256 + 1) * dims];
        let t = Instant::now();
        let outcome = host.invoke(&query_event(&admin, v));
        warm.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(status(&outcome), 200);
    }
    let warm_lines: Vec<Value> = query
        .metric_lines(queries + 1)
        .into_iter()
        .skip(1)
        .collect();
    let warm_calls = calls(&warm_lines);
    let handler_ms: Vec<f64> = {
        let mut v: Vec<f64> = warm_lines
            .iter()
            .filter_map(|l| l["Latency"].as_f64())
            .collect();
        v.sort_by(f64::total_cmp);
        v
    };
    warm.sort_by(f64::total_cmp);
    drop(query);

    // Ingest: one caller-vector document per request.
    let ingest_host = LambdaHost::start();
    let ingest = FunctionProcess::start(&ingest_host, "snapkb-ingest", &env);
    let mut ingest_ms = Vec::new();
    for i in 0..50 {
        let t = Instant::now();
        let outcome =
            ingest_host.invoke(&ingest_event(&admin, &format!("new{i}"), &probes[..dims]));
        ingest_ms.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(status(&outcome), 200, "{outcome:?}");
    }
    let ingest_lines: Vec<Value> = ingest.metric_lines(50).into_iter().skip(1).collect();
    let ingest_calls = calls(&ingest_lines);
    ingest_ms.sort_by(f64::total_cmp);
    drop(ingest);

    let sizes: Vec<(&str, u64, u64)> = FUNCTIONS
        .iter()
        .map(|f| {
            let (raw, stripped) = stripped_size(&function_binary(f));
            (*f, raw, stripped)
        })
        .collect();

    say("\n| measure | result |\n|---|---|");
    say(format!(
        "| cold query: process start → first answer (3 runs) | {} ms |",
        cold.iter()
            .map(|c| format!("{c:.0}"))
            .collect::<Vec<_>>()
            .join(" / ")
    ));
    say(format!(
        "| warm query p50 / p99 ({queries} sequential, via the runtime API) | {:.2} / {:.2} ms |",
        percentile(&warm, 0.5),
        percentile(&warm, 0.99)
    ));
    say(format!(
        "| warm query p50 / p99 inside the handler | {:.2} / {:.2} ms |",
        percentile(&handler_ms, 0.5),
        percentile(&handler_ms, 0.99)
    ));
    say(format!(
        "| cold query: S3 / DynamoDB reads / writes | {:.0} / {:.0} / {:.0} |",
        cold_calls.0, cold_calls.1, cold_calls.2
    ));
    say(format!(
        "| warm query: S3 / DynamoDB reads / writes | {:.2} / {:.2} / {:.2} |",
        warm_calls.0, warm_calls.1, warm_calls.2
    ));
    say(format!(
        "| ingest of 1 document: S3 / DynamoDB reads / writes | {:.2} / {:.2} / {:.2} |",
        ingest_calls.0, ingest_calls.1, ingest_calls.2
    ));
    say(format!(
        "| ingest of 1 document p50 / p99 | {:.1} / {:.1} ms |",
        percentile(&ingest_ms, 0.5),
        percentile(&ingest_ms, 0.99)
    ));
    for (f, raw, stripped) in &sizes {
        say(format!(
            "| {f} binary (raw / stripped) | {:.1} / {:.1} MB |",
            *raw as f64 / 1e6,
            *stripped as f64 / 1e6
        ));
    }
    let report = json!({
        "n": n, "dims": dims, "snapshot_bytes": snapshot_bytes,
        "load_seconds": load_ms.0 / 1e3, "compaction_seconds": load_ms.1 / 1e3,
        "cold_query_ms": cold,
        "warm_query_ms": { "p50": percentile(&warm, 0.5), "p99": percentile(&warm, 0.99) },
        "warm_handler_ms": { "p50": percentile(&handler_ms, 0.5), "p99": percentile(&handler_ms, 0.99) },
        "calls_per_cold_query": { "s3": cold_calls.0, "dynamodb_reads": cold_calls.1, "dynamodb_writes": cold_calls.2 },
        "calls_per_warm_query": { "s3": warm_calls.0, "dynamodb_reads": warm_calls.1, "dynamodb_writes": warm_calls.2 },
        "calls_per_ingest": { "s3": ingest_calls.0, "dynamodb_reads": ingest_calls.1, "dynamodb_writes": ingest_calls.2 },
        "ingest_ms": { "p50": percentile(&ingest_ms, 0.5), "p99": percentile(&ingest_ms, 0.99) },
        "binaries": sizes.iter().map(|(f, r, s)| json!({ "name": f, "bytes": r, "stripped_bytes": s })).collect::<Vec<_>>(),
    });
    say(serde_json::to_string_pretty(&report).unwrap());
}
