//! `snapkb-index-bench`: builds snapkb's HNSW on seeded clustered data (or `.fbin` files), and
//! reports recall@k, latency, build speed, memory, the snapshot codec's speed and a fresh
//! process's load-and-query time as one JSON object on stdout, with a table on stderr.
//! Exact scan and the `hnsw` 0.11 crate run on the same data as baselines.

mod baseline;
mod fbin;
mod load;

use std::{path::PathBuf, time::Instant};

use clap::Parser;
use serde::Serialize;
use snapkb_index::{
    Hnsw, HnswParams, IdSet, Metric, SearchParams,
    synthetic::{Clustered, recall},
};

#[derive(Debug, Parser)]
#[command(
    version,
    about = "Benchmark snapkb's vector index against exact scan and hnsw 0.11"
)]
struct Args {
    /// Base vectors as .fbin (u32 count, u32 dims, f32 LE values); generated when absent.
    #[arg(long)]
    base: Option<PathBuf>,
    /// Query vectors as .fbin; generated (held out from the same clusters) when absent.
    #[arg(long)]
    queries: Option<PathBuf>,
    /// Base vectors to generate.
    #[arg(long, default_value_t = 100_000)]
    n: usize,
    /// Queries to generate.
    #[arg(long, default_value_t = 1_000)]
    nq: usize,
    /// Dimensions of generated data.
    #[arg(long, default_value_t = 384)]
    dims: usize,
    /// Noise norm of generated clusters relative to their unit centres.
    #[arg(long, default_value_t = 1.0)]
    spread: f32,
    /// Directions each generated cluster varies along (0: isotropic noise, the hard case).
    #[arg(long, default_value_t = 16)]
    intrinsic_dims: usize,
    #[arg(long, default_value_t = 10)]
    k: usize,
    /// Beam widths to measure.
    #[arg(long, value_delimiter = ',', default_value = "16,32,64,128,256")]
    ef: Vec<usize>,
    #[arg(long, default_value_t = 16)]
    m: u32,
    #[arg(long, default_value_t = 200)]
    ef_construction: u32,
    /// Print the JSON report on stdout (the table always goes to stderr).
    #[arg(long)]
    json: bool,
    /// Also build with `insert_batch` on this many threads and report its speed and recall
    /// (0 or 1 skips it).
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Skip the hnsw 0.11 baseline (it builds a second index, slowly).
    #[arg(long)]
    no_baseline: bool,
    /// Filter selectivities to measure (fraction of ids a filter allows).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "0.5,0.2,0.1,0.05,0.01,0.003"
    )]
    filter_selectivity: Vec<f64>,
    /// Where to write the snapshot for the fresh-process load test (a temp file by default).
    #[arg(long)]
    snapshot_path: Option<PathBuf>,
    /// Also write the base and query vectors used as .fbin files into this folder (to run other
    /// engines on exactly the same data, e.g. scripts/hnswlib_same_data.py).
    #[arg(long)]
    save_data: Option<PathBuf>,
    /// Internal: load this snapshot in a fresh process, answer one query, print timings.
    #[arg(long, hide = true)]
    load_and_query: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
struct Report {
    n: usize,
    dims: usize,
    m: u32,
    ef_construction: u32,
    k: usize,
    kernel: &'static str,
    build_s: f64,
    build_vectors_per_s: f64,
    memory_bytes: usize,
    raw_vector_bytes: usize,
    results: Vec<EfResult>,
    filtered: Vec<FilteredResult>,
    parallel_build: Option<ParallelBuild>,
    snapshot: load::SnapshotReport,
    baselines: Baselines,
}

#[derive(Debug, Serialize)]
struct EfResult {
    ef: usize,
    recall_at_10: f64,
    p50_us: f64,
    p99_us: f64,
    qps: f64,
}

#[derive(Debug, Serialize)]
struct ParallelBuild {
    threads: usize,
    build_s: f64,
    build_vectors_per_s: f64,
    speedup: f64,
    results: Vec<EfResult>,
}

#[derive(Debug, Serialize)]
struct FilteredResult {
    selectivity: f64,
    allowed: usize,
    graph_recall: f64,
    graph_p50_us: f64,
    exact_p50_us: f64,
    /// What `search` chose with default parameters: "graph" or "exact".
    default_path: &'static str,
}

#[derive(Debug, Serialize)]
struct Baselines {
    exact_scan: ExactBaseline,
    hnsw_0_11: Option<HnswBaseline>,
}

#[derive(Debug, Serialize)]
struct ExactBaseline {
    p50_us: f64,
    p99_us: f64,
    qps: f64,
}

#[derive(Debug, Serialize)]
struct HnswBaseline {
    build_s: f64,
    build_vectors_per_s: f64,
    results: Vec<EfResult>,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn summarize(mut latencies_us: Vec<f64>) -> (f64, f64, f64) {
    let total_s: f64 = latencies_us.iter().sum::<f64>() / 1e6;
    latencies_us.sort_by(f64::total_cmp);
    let qps = if total_s > 0.0 {
        latencies_us.len() as f64 / total_s
    } else {
        0.0
    };
    (
        percentile(&latencies_us, 50.0),
        percentile(&latencies_us, 99.0),
        qps,
    )
}

fn load_data(args: &Args) -> Result<(usize, Vec<f32>, Vec<f32>), String> {
    let generated = Clustered {
        dims: args.dims,
        spread: args.spread,
        intrinsic_dims: args.intrinsic_dims,
        ..Clustered::default()
    };
    let (dims, base) = match &args.base {
        Some(path) => fbin::read(path).map_err(|e| e.to_string())?,
        None => (args.dims, generated.generate(args.n, 0)),
    };
    let queries = match &args.queries {
        Some(path) => {
            let (qdims, q) = fbin::read(path).map_err(|e| e.to_string())?;
            if qdims != dims {
                return Err(format!("queries have {qdims} dims, base has {dims}"));
            }
            q
        }
        None if args.base.is_none() => generated.generate(args.nq, 1),
        None => return Err("--queries is required with --base".into()),
    };
    Ok((dims, base, queries))
}

fn main() {
    let args = Args::parse();
    if let Some(path) = &args.load_and_query {
        load::child_main(path);
        return;
    }
    if let Err(message) = run(&args) {
        eprintln!("snapkb-index-bench: {message}");
        std::process::exit(2);
    }
}

fn run(args: &Args) -> Result<(), String> {
    let (dims, base, queries) = load_data(args)?;
    let n = base.len() / dims;
    let nq = queries.len() / dims;
    if let Some(dir) = &args.save_data {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        fbin::write(&dir.join("base.fbin"), dims, &base).map_err(|e| e.to_string())?;
        fbin::write(&dir.join("queries.fbin"), dims, &queries).map_err(|e| e.to_string())?;
    }
    let k = args.k;
    eprintln!(
        "data: {n} × {dims} base, {nq} queries, k = {k}, kernel {}",
        snapkb_index::kernel_name()
    );

    let params = HnswParams::new(args.m, args.ef_construction);
    let mut index = Hnsw::new(dims, Metric::Cosine, params).map_err(|e| e.to_string())?;
    index.reserve(n);
    let start = Instant::now();
    for v in base.chunks_exact(dims) {
        index.insert(v).map_err(|e| e.to_string())?;
    }
    let build_s = start.elapsed().as_secs_f64();
    eprintln!(
        "build: {build_s:.1} s ({:.0} vectors/s)",
        n as f64 / build_s
    );

    let mut truth = Vec::with_capacity(nq);
    let mut exact_lat = Vec::with_capacity(nq);
    for q in queries.chunks_exact(dims) {
        let t = Instant::now();
        let found = index.search_exact(q, k, None).map_err(|e| e.to_string())?;
        exact_lat.push(t.elapsed().as_secs_f64() * 1e6);
        truth.push(found.iter().map(|n| n.id).collect::<Vec<_>>());
    }
    let (p50, p99, qps) = summarize(exact_lat);
    let exact_scan = ExactBaseline {
        p50_us: p50,
        p99_us: p99,
        qps,
    };

    let results = measure_efs(&index, &queries, dims, k, &args.ef, &truth)?;

    let filtered = measure_filters(&index, &queries, dims, k, &args.filter_selectivity)?;
    let parallel_build = if args.threads > 1 {
        let mut parallel = Hnsw::new(dims, Metric::Cosine, params).map_err(|e| e.to_string())?;
        let start = Instant::now();
        parallel
            .insert_batch(&base, args.threads)
            .map_err(|e| e.to_string())?;
        let parallel_s = start.elapsed().as_secs_f64();
        eprintln!(
            "parallel build ({} threads): {parallel_s:.1} s",
            args.threads
        );
        let results = measure_efs(&parallel, &queries, dims, k, &args.ef, &truth)?;
        Some(ParallelBuild {
            threads: args.threads,
            build_s: parallel_s,
            build_vectors_per_s: n as f64 / parallel_s,
            speedup: build_s / parallel_s,
            results,
        })
    } else {
        None
    };
    let memory_bytes = index.memory_bytes();
    let (_index, snapshot) = load::measure(index, k, args.snapshot_path.as_deref())?;

    let hnsw_0_11 = if args.no_baseline {
        None
    } else {
        eprintln!("baseline: building hnsw 0.11 …");
        let run = baseline::run(
            &base,
            &queries,
            dims,
            k,
            &args.ef,
            args.ef_construction as usize,
        );
        let results = run
            .runs
            .into_iter()
            .map(|(ef, found, lat)| {
                let (p50_us, p99_us, qps) = summarize(lat);
                EfResult {
                    ef,
                    recall_at_10: recall(&found, &truth, k),
                    p50_us,
                    p99_us,
                    qps,
                }
            })
            .collect();
        Some(HnswBaseline {
            build_s: run.build_s,
            build_vectors_per_s: n as f64 / run.build_s,
            results,
        })
    };

    let report = Report {
        n,
        dims,
        m: args.m,
        ef_construction: args.ef_construction,
        k,
        kernel: snapkb_index::kernel_name(),
        build_s,
        build_vectors_per_s: n as f64 / build_s,
        memory_bytes,
        raw_vector_bytes: n * dims * 4,
        results,
        filtered,
        parallel_build,
        snapshot,
        baselines: Baselines {
            exact_scan,
            hnsw_0_11,
        },
    };
    print_table(&report);
    if args.json {
        let json = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
        #[allow(clippy::print_stdout)]
        {
            println!("{json}");
        }
    }
    Ok(())
}

fn measure_efs(
    index: &Hnsw,
    queries: &[f32],
    dims: usize,
    k: usize,
    efs: &[usize],
    truth: &[Vec<u32>],
) -> Result<Vec<EfResult>, String> {
    // One warm-up pass so the first ef does not pay for page faults in scratch buffers.
    for q in queries.chunks_exact(dims).take(100) {
        let ef = efs.first().copied().unwrap_or(k);
        index
            .search(q, SearchParams::new(k, ef), None)
            .map_err(|e| e.to_string())?;
    }
    let mut results = Vec::new();
    for &ef in efs {
        let mut found = Vec::with_capacity(truth.len());
        let mut lat = Vec::with_capacity(truth.len());
        for q in queries.chunks_exact(dims) {
            let t = Instant::now();
            let r = index
                .search(q, SearchParams::new(k, ef), None)
                .map_err(|e| e.to_string())?;
            lat.push(t.elapsed().as_secs_f64() * 1e6);
            found.push(r.iter().map(|n| n.id).collect::<Vec<_>>());
        }
        let (p50_us, p99_us, qps) = summarize(lat);
        results.push(EfResult {
            ef,
            recall_at_10: recall(&found, truth, k),
            p50_us,
            p99_us,
            qps,
        });
    }
    Ok(results)
}

fn measure_filters(
    index: &Hnsw,
    queries: &[f32],
    dims: usize,
    k: usize,
    selectivities: &[f64],
) -> Result<Vec<FilteredResult>, String> {
    let n = index.len();
    let mut out = Vec::new();
    for &selectivity in selectivities {
        // A fixed pseudo-random subset (multiplicative hash), unrelated to the clusters.
        let threshold = (selectivity * f64::from(u32::MAX)) as u64;
        let filter = IdSet::from_ids(
            n,
            (0..n as u32).filter(|id| u64::from(id.wrapping_mul(2_654_435_761)) < threshold),
        );
        let mut graph_only = SearchParams::new(k, 64);
        graph_only.exact_cost_ratio = 0.0;
        let (mut graph_lat, mut exact_lat, mut found, mut truth) = (vec![], vec![], vec![], vec![]);
        for q in queries.chunks_exact(dims).take(200) {
            let t = Instant::now();
            let g = index
                .search(q, graph_only, Some(&filter))
                .map_err(|e| e.to_string())?;
            graph_lat.push(t.elapsed().as_secs_f64() * 1e6);
            let t = Instant::now();
            let e = index
                .search_exact(q, k, Some(&filter))
                .map_err(|e| e.to_string())?;
            exact_lat.push(t.elapsed().as_secs_f64() * 1e6);
            found.push(g.iter().map(|x| x.id).collect::<Vec<_>>());
            truth.push(e.iter().map(|x| x.id).collect::<Vec<_>>());
        }
        let budget = SearchParams::new(k, 64).exact_scan_limit(n);
        out.push(FilteredResult {
            selectivity,
            allowed: filter.len(),
            graph_recall: recall(&found, &truth, k),
            graph_p50_us: summarize(graph_lat).0,
            exact_p50_us: summarize(exact_lat).0,
            default_path: if filter.len() <= budget {
                "exact"
            } else {
                "graph"
            },
        });
    }
    Ok(out)
}

fn print_table(r: &Report) {
    eprintln!();
    eprintln!(
        "snapkb-index  n={} dims={} M={} ef_construction={} kernel={}",
        r.n, r.dims, r.m, r.ef_construction, r.kernel
    );
    eprintln!(
        "build {:.1} s = {:.0} vectors/s; index memory {:.1} MB = {:.2} × raw vectors",
        r.build_s,
        r.build_vectors_per_s,
        r.memory_bytes as f64 / 1e6,
        r.memory_bytes as f64 / r.raw_vector_bytes as f64
    );
    eprintln!(
        "{:>6} {:>10} {:>9} {:>9} {:>9}",
        "ef", "recall@10", "p50 µs", "p99 µs", "qps"
    );
    for e in &r.results {
        eprintln!(
            "{:>6} {:>10.4} {:>9.1} {:>9.1} {:>9.0}",
            e.ef, e.recall_at_10, e.p50_us, e.p99_us, e.qps
        );
    }
    let x = &r.baselines.exact_scan;
    eprintln!(
        "exact scan: p50 {:.0} µs, p99 {:.0} µs, {:.0} qps",
        x.p50_us, x.p99_us, x.qps
    );
    eprintln!(
        "{:>11} {:>8} {:>12} {:>12} {:>12} {:>8}",
        "selectivity", "allowed", "graph recall", "graph p50", "exact p50", "default"
    );
    for f in &r.filtered {
        eprintln!(
            "{:>11} {:>8} {:>12.4} {:>12.1} {:>12.1} {:>8}",
            f.selectivity,
            f.allowed,
            f.graph_recall,
            f.graph_p50_us,
            f.exact_p50_us,
            f.default_path
        );
    }
    if let Some(p) = &r.parallel_build {
        eprintln!(
            "parallel build on {} threads: {:.1} s = {:.0} vectors/s ({:.2}× single-threaded)",
            p.threads, p.build_s, p.build_vectors_per_s, p.speedup
        );
        for e in &p.results {
            eprintln!(
                "{:>6} {:>10.4} {:>9.1} {:>9.1} {:>9.0}",
                e.ef, e.recall_at_10, e.p50_us, e.p99_us, e.qps
            );
        }
    }
    let s = &r.snapshot;
    eprintln!(
        "snapshot: {:.1} MB, encode {:.0} ms, decode {:.1} ms ({:.0} MB/s)",
        s.bytes as f64 / 1e6,
        s.encode_ms,
        s.decode_ms,
        s.decode_mb_per_s,
    );
    eprintln!(
        "fresh process: load+query {:.0} ms wall (read {:.0} ms, decode {:.0} ms, query {:.2} ms), RSS {:.1} MB = {:.2} × raw vectors, peak {:.1} MB",
        s.fresh_process_load_and_query_ms,
        s.fresh_process.read_ms,
        s.fresh_process.decode_ms,
        s.fresh_process.query_ms,
        s.fresh_process_rss_bytes as f64 / 1e6,
        s.fresh_process_rss_ratio,
        s.fresh_process.peak_rss_bytes as f64 / 1e6,
    );
    if let Some(b) = &r.baselines.hnsw_0_11 {
        eprintln!(
            "hnsw 0.11: build {:.1} s = {:.0} vectors/s",
            b.build_s, b.build_vectors_per_s
        );
        for e in &b.results {
            eprintln!(
                "{:>6} {:>10.4} {:>9.1} {:>9.1} {:>9.0}",
                e.ef, e.recall_at_10, e.p50_us, e.p99_us, e.qps
            );
        }
    }
}
