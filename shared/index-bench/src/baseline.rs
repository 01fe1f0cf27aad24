//! The `hnsw` 0.11 crate as a baseline, on the same data and queries as our index.

use std::time::Instant;

use hnsw::{Hnsw, Params, Searcher};
use rand_pcg::Pcg64;
use space::{Metric, Neighbor};

/// Cosine distance on normalized vectors as the crate wants it: an unsigned integer. The bit
/// pattern of a non-negative f32 orders the same way as the float. It uses our SIMD kernel so
/// the comparison is of graph algorithms, not of distance code.
struct CosineBits;

impl Metric<Vec<f32>> for CosineBits {
    type Unit = u32;
    fn distance(&self, a: &Vec<f32>, b: &Vec<f32>) -> u32 {
        snapkb_index::Metric::Cosine
            .distance(a, b)
            .max(0.0)
            .to_bits()
    }
}

pub(crate) struct BaselineRun {
    pub build_s: f64,
    /// (ef, per-query results, per-query latency in µs)
    pub runs: Vec<(usize, Vec<Vec<u32>>, Vec<f64>)>,
}

/// Builds the crate's index (M = 16, M0 = 32 are compile-time constants there) and searches.
pub(crate) fn run(
    base: &[f32],
    queries: &[f32],
    dims: usize,
    k: usize,
    efs: &[usize],
    ef_construction: usize,
) -> BaselineRun {
    let mut index: Hnsw<CosineBits, Vec<f32>, Pcg64, 16, 32> =
        Hnsw::new_params(CosineBits, Params::new().ef_construction(ef_construction));
    let mut searcher = Searcher::default();
    let start = Instant::now();
    for v in base.chunks_exact(dims) {
        index.insert(v.to_vec(), &mut searcher);
    }
    let build_s = start.elapsed().as_secs_f64();
    let mut runs = Vec::new();
    for &ef in efs {
        // The crate panics when ef < k ("nearest" with a shorter ef), so never ask for that.
        let ef = ef.max(k);
        let mut results = Vec::new();
        let mut latencies = Vec::new();
        for q in queries.chunks_exact(dims) {
            let q = q.to_vec();
            let mut dest = vec![
                Neighbor {
                    index: !0,
                    distance: !0
                };
                k
            ];
            let t = Instant::now();
            let found = index.nearest(&q, ef, &mut searcher, &mut dest);
            latencies.push(t.elapsed().as_secs_f64() * 1e6);
            results.push(found.iter().map(|n| n.index as u32).collect());
        }
        runs.push((ef, results, latencies));
    }
    BaselineRun { build_s, runs }
}
