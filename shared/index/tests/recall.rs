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

#[test]
fn recall_at_10_is_at_least_0_95_on_10k_clustered_vectors() {
    let dims = 128;
    let set = Clustered {
        dims,
        centres: 100,
        spread: 1.0,
        intrinsic_dims: 16,
        seed: 11,
    };
    let base = set.generate(10_000, 0);
    let queries = set.generate(200, 1);
    let mut index = Hnsw::new(dims, Metric::Cosine, HnswParams::new(16, 100)).unwrap();
    index.insert_batch(&base, 2).unwrap();
    let r = recall_at_10(&index, &queries, dims, 64);
    assert!(r >= 0.95, "recall@10 at ef 64 was {r}");
}

#[test]
fn recall_holds_for_dot_and_l2_metrics() {
    let dims = 32;
    let set = Clustered {
        dims,
        centres: 30,
        spread: 1.0,
        intrinsic_dims: 8,
        seed: 5,
    };
    let base = set.generate(3000, 0);
    let queries = set.generate(100, 1);
    for metric in [Metric::Dot, Metric::L2] {
        let mut index = Hnsw::new(dims, metric, HnswParams::new(12, 100)).unwrap();
        index.insert_batch(&base, 1).unwrap();
        let r = recall_at_10(&index, &queries, dims, 64);
        assert!(r >= 0.95, "{metric:?}: recall@10 {r}");
    }
}
