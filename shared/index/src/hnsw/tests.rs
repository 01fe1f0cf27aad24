//! Unit tests for the graph: heuristic selection, validation, tombstones, filters, rebuild.

use super::{Hnsw, HnswParams, SearchParams, graph::Scored};
use crate::{IdSet, IndexError, Metric, synthetic::Clustered};

fn small_params() -> HnswParams {
    HnswParams {
        m: 8,
        m0: 16,
        ef_construction: 64,
        seed: 1,
    }
}

fn build(data: &[f32], dims: usize, metric: Metric) -> Hnsw {
    let mut index = Hnsw::new(dims, metric, small_params()).unwrap();
    for v in data.chunks_exact(dims) {
        index.insert(v).unwrap();
    }
    index
}

fn ids(found: &[super::Neighbor]) -> Vec<u32> {
    found.iter().map(|n| n.id).collect()
}

#[test]
fn heuristic_drops_a_candidate_that_hides_behind_a_kept_one() {
    // Base at the origin; A and B lie in the same direction, C in another. The nearest-M rule
    // would keep A and B; the heuristic keeps A and C because B is closer to A than to the base.
    let points = [0.0, 0.0, 1.0, 0.0, 1.1, 0.0, 0.0, 1.2];
    let index = build(&points, 2, Metric::L2);
    let view = index.vector_view();
    let mut candidates: Vec<Scored> = (1..4)
        .map(|id| Scored {
            distance: view.distance_to(&[0.0, 0.0], id),
            id,
        })
        .collect();
    candidates.sort();
    let kept = view.select_neighbours(&candidates, 2);
    assert_eq!(kept.iter().map(|s| s.id).collect::<Vec<_>>(), vec![1, 3]);
    let all = view.select_neighbours(&candidates, 3);
    assert_eq!(all.len(), 3, "with room for every candidate, all are kept");
}

#[test]
fn layer_zero_rows_never_exceed_m0_and_every_node_is_linked() {
    let data = Clustered::new(16, 20, 3).spread(0.5).generate(2000, 0);
    let index = build(&data, 16, Metric::Cosine);
    let view = index.view();
    for id in 0..index.len() as u32 {
        let row = view.neighbours(id, 0);
        assert!(row.len() <= 16);
        assert!(!row.is_empty(), "node {id} has no neighbours");
        assert!(!row.contains(&id), "node {id} links to itself");
    }
}

#[test]
fn empty_index_returns_no_results() {
    let index = Hnsw::new(4, Metric::Cosine, HnswParams::default()).unwrap();
    assert_eq!(
        index
            .search(&[1.0, 0.0, 0.0, 0.0], SearchParams::new(10, 10), None)
            .unwrap(),
        vec![]
    );
}

#[test]
fn bad_queries_get_typed_errors() {
    let index = build(&[1.0, 0.0, 0.0, 1.0], 2, Metric::Cosine);
    let search = |q: &[f32], k| index.search(q, SearchParams::new(k, 16), None);
    assert_eq!(
        search(&[1.0, 0.0], 0),
        Err(IndexError::InvalidK { got: 0, max: 1000 })
    );
    assert_eq!(
        search(&[1.0, 0.0], 1001),
        Err(IndexError::InvalidK {
            got: 1001,
            max: 1000
        })
    );
    assert!(
        search(&[1.0, 0.0], 1000).is_ok(),
        "k = 1000 is allowed even on a tiny index"
    );
    assert_eq!(
        search(&[1.0], 1),
        Err(IndexError::DimensionMismatch {
            expected: 2,
            got: 1
        })
    );
    assert_eq!(
        search(&[f32::NAN, 0.0], 1),
        Err(IndexError::NonFiniteValue { position: 0 })
    );
    assert_eq!(
        search(&[0.0, f32::NEG_INFINITY], 1),
        Err(IndexError::NonFiniteValue { position: 1 })
    );
    assert_eq!(search(&[0.0, 0.0], 1), Err(IndexError::ZeroVector));
}

#[test]
fn bad_inserts_leave_the_index_unchanged() {
    let mut index = build(&[1.0, 0.0], 2, Metric::Cosine);
    assert!(index.insert(&[1.0, 2.0, 3.0]).is_err());
    assert!(index.insert(&[f32::NAN, 1.0]).is_err());
    assert!(index.insert(&[0.0, 0.0]).is_err());
    assert_eq!(index.len(), 1);
    assert!(Hnsw::new(0, Metric::L2, HnswParams::default()).is_err());
    let too_few_links = [
        HnswParams {
            m: 1,
            ..HnswParams::default()
        },
        HnswParams {
            m0: 4,
            ..HnswParams::default()
        },
    ];
    for params in too_few_links {
        assert!(Hnsw::new(8, Metric::L2, params).is_err(), "{params:?}");
    }
}

#[test]
fn ef_below_k_is_raised_to_k() {
    let data = Clustered::new(8, 5, 9).spread(0.5).generate(500, 0);
    let index = build(&data, 8, Metric::Cosine);
    let found = index
        .search(&data[..8], SearchParams::new(50, 1), None)
        .unwrap();
    assert_eq!(found.len(), 50);
    assert!(
        found.windows(2).all(|w| w[0].distance <= w[1].distance),
        "sorted nearest first"
    );
}

#[test]
fn tombstoned_ids_are_skipped_but_still_route_the_search() {
    let data = Clustered::new(16, 10, 5).spread(0.6).generate(3000, 0);
    let mut index = build(&data, 16, Metric::Cosine);
    for id in (0..3000).step_by(2) {
        assert!(index.delete(id).unwrap());
    }
    assert!(
        !index.delete(0).unwrap(),
        "second delete reports it was already gone"
    );
    assert!(index.delete(3000).is_err());
    assert_eq!(index.live_len(), 1500);
    let queries = Clustered::new(16, 10, 5).spread(0.6).generate(50, 1);
    let mut hits = 0;
    for q in queries.chunks_exact(16) {
        let found = index.search(q, SearchParams::new(10, 64), None).unwrap();
        assert!(
            found.iter().all(|n| n.id % 2 == 1),
            "a tombstoned id was returned"
        );
        let truth = index.search_exact(q, 10, None).unwrap();
        hits += ids(&found)
            .iter()
            .filter(|id| ids(&truth).contains(id))
            .count();
    }
    assert!(
        hits as f64 / 500.0 >= 0.9,
        "recall among live entries {}",
        hits as f64 / 500.0
    );
}

#[test]
fn filtered_search_returns_only_allowed_ids_at_any_selectivity() {
    let data = Clustered::new(16, 10, 11).spread(0.6).generate(5000, 0);
    let index = build(&data, 16, Metric::Cosine);
    let q = &data[16 * 7..16 * 8];
    let mut graph_only = SearchParams::new(10, 64);
    graph_only.exact_cost_ratio = 0.0;
    for keep_every in [2u32, 10, 100, 2500] {
        let filter = IdSet::from_ids(5000, (0..5000).filter(|id| id % keep_every == 0));
        let found = index.search(q, graph_only, Some(&filter)).unwrap();
        assert!(
            found.iter().all(|n| n.id % keep_every == 0),
            "keep every {keep_every}"
        );
        let truth = index.search_exact(q, 10, Some(&filter)).unwrap();
        assert_eq!(found.len(), truth.len().min(10));
        let overlap = ids(&found)
            .iter()
            .filter(|id| ids(&truth).contains(id))
            .count();
        assert!(
            overlap >= found.len() * 8 / 10,
            "keep every {keep_every}: {overlap}/{}",
            found.len()
        );
    }
    let none = IdSet::with_capacity(5000);
    assert!(
        index
            .search(q, SearchParams::new(10, 64), Some(&none))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn selective_filters_switch_to_an_exact_scan() {
    let data = Clustered::new(8, 4, 2).spread(0.8).generate(4000, 0);
    let index = build(&data, 8, Metric::L2);
    let allowed = IdSet::from_ids(4000, [5, 900, 1800, 3999]);
    let q = &data[..8];
    let params = SearchParams::new(3, 16);
    assert!(
        params.exact_scan_limit(4000) >= 4,
        "four allowed ids out of 4000 must be scanned"
    );
    let found = index.search(q, params, Some(&allowed)).unwrap();
    assert_eq!(found, index.search_exact(q, 3, Some(&allowed)).unwrap());
}

#[test]
fn rebuild_drops_tombstones_and_maps_ids() {
    let data = Clustered::new(8, 4, 4).spread(0.5).generate(400, 0);
    let mut index = build(&data, 8, Metric::Cosine);
    for id in 0..100 {
        index.delete(id).unwrap();
    }
    assert!(index.needs_rebuild(0.2));
    assert!(!index.needs_rebuild(0.3));
    let (fresh, old_ids) = index.rebuild().unwrap();
    assert_eq!(fresh.len(), 300);
    assert_eq!(old_ids, (100..400).collect::<Vec<_>>());
    assert_eq!(fresh.vector(0), index.vector(100));
    let q = &data[8 * 150..8 * 151];
    let top = fresh.search(q, SearchParams::new(1, 32), None).unwrap();
    assert_eq!(old_ids[top[0].id as usize], 150);
}

#[test]
fn inserts_after_search_keep_results_consistent() {
    let set = Clustered::new(8, 4, 6).spread(0.5);
    let data = set.generate(600, 0);
    let mut index = build(&data[..8 * 300], 8, Metric::Dot);
    for v in data[8 * 300..].chunks_exact(8) {
        index.insert(v).unwrap();
    }
    let found = index
        .search(&data[8 * 450..8 * 451], SearchParams::new(1, 32), None)
        .unwrap();
    assert_eq!(found[0].id, 450);
    assert_eq!(index.metric(), Metric::Dot);
}

#[test]
fn batch_insert_on_two_threads_builds_a_graph_as_good_as_one_by_one() {
    let set = Clustered::new(32, 40, 21).intrinsic_dims(6);
    let data = set.generate(6000, 0);
    let queries = set.generate(100, 1);
    let recall_of = |index: &Hnsw| {
        let mut hits = 0;
        for q in queries.chunks_exact(32) {
            let found = ids(&index.search(q, SearchParams::new(10, 32), None).unwrap());
            let truth = ids(&index.search_exact(q, 10, None).unwrap());
            hits += found.iter().filter(|id| truth.contains(id)).count();
        }
        hits as f64 / 1000.0
    };
    let sequential = build(&data, 32, Metric::Cosine);
    let mut parallel = Hnsw::new(32, Metric::Cosine, small_params()).unwrap();
    assert_eq!(parallel.insert_batch(&data, 2).unwrap(), 0);
    assert_eq!(parallel.len(), 6000);
    for id in [0u32, 2047, 2048, 5999] {
        assert_eq!(
            parallel.vector(id),
            sequential.vector(id),
            "ids keep input order"
        );
    }
    let (r_seq, r_par) = (recall_of(&sequential), recall_of(&parallel));
    assert!(
        r_par >= r_seq - 0.02 && r_par >= 0.9,
        "sequential {r_seq}, parallel {r_par}"
    );
}

#[test]
fn a_bad_vector_anywhere_in_a_batch_inserts_nothing() {
    let mut index = build(&[1.0, 0.0, 0.0, 1.0], 2, Metric::Cosine);
    assert!(index.insert_batch(&[1.0, 1.0, f32::NAN, 0.0], 2).is_err());
    assert!(
        index.insert_batch(&[1.0, 1.0, 0.5], 2).is_err(),
        "ragged length"
    );
    assert_eq!(index.len(), 2);
    assert_eq!(index.insert_batch(&[0.5, 0.5], 2).unwrap(), 2);
}
