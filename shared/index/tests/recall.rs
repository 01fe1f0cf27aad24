//! Recall against exact scan on 10,000 clustered vectors: a correctness bar for the graph (how
//! good, not how fast; speed lives in snapkb-index-bench).

use snapkb_index::{
    Hnsw, HnswParams, Metric, SearchParams,
    synthetic::{Clustered, recall},
};

fn recall_at_10(index: &Hnsw, queries: &[f32], dims: usize, ef: usize) -> f64 {
    let mut found = Vec::new();
    let mut truth = Vec::new();
    for q in queries.chunks_exact(dims) {
        let ids = |r: Vec<snapkb_index::Neighbor>| r.into_iter().map(|n| n.id).collect::<Vec<_>>();
        found.push(ids(index
            .search(q, SearchParams::new(10, ef), None)
            .unwrap()));
        truth.push(ids(index.search_exact(q, 10, None).unwrap()));
    }
    recall(&found, &truth, 10)
}

/// Recall@10 at ef 64 of an index of `n` vectors of `set` (built on two threads), over `nq`
/// queries from another stream of the same clusters.
fn recall_on(set: Clustered, n: usize, nq: usize, metric: Metric, params: HnswParams) -> f64 {
    let mut index = Hnsw::new(set.dims, metric, params).unwrap();
    index.insert_batch(&set.generate(n, 0), 2).unwrap();
    recall_at_10(&index, &set.generate(nq, 1), set.dims, 64)
}

#[test]
fn recall_at_10_is_at_least_0_95_on_10k_clustered_vectors() {
    let set = Clustered::new(128, 100, 11).intrinsic_dims(16);
    let r = recall_on(set, 10_000, 200, Metric::Cosine, HnswParams::new(16, 100));
    assert!(r >= 0.95, "recall@10 at ef 64 was {r}");
}

#[test]
fn recall_holds_for_dot_and_l2_metrics() {
    let set = Clustered::new(32, 30, 5).intrinsic_dims(8);
    for metric in [Metric::Dot, Metric::L2] {
        let r = recall_on(set, 3000, 100, metric, HnswParams::new(12, 100));
        assert!(r >= 0.95, "{metric:?}: recall@10 {r}");
    }
}
