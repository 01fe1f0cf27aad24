//! Reciprocal-rank fusion (Cormack et al., 2009): combines ranked lists whose scores are not
//! comparable (cosine similarity, BM25) by rank alone; and document-aware ranking, which lifts
//! a passage whose document has other good passages in the same list.

use std::{collections::HashMap, hash::Hash};

/// The default constant in `1 / (k + rank)`. The paper's 60 weighs agreement between the lists
/// over each list's top; on the PostgreSQL dev set 20 ranked as well or better on every index
/// tried (docs/retrieval.md, "Fusion").
pub const RRF_K: f32 = 20.0;

/// Fuses ranked lists (best first), each with a weight, by `weight / (rrf_k + rank)`. Returns
/// the `k` best keys with their fused score; ties keep the order in which keys were first seen.
pub fn reciprocal_rank_fusion<K: Clone + Eq + Hash>(
    lists: &[(f32, Vec<K>)],
    rrf_k: f32,
    k: usize,
) -> Vec<(K, f32)> {
    let ranked: Vec<(f32, Vec<(K, f32)>)> = lists
        .iter()
        .map(|(weight, list)| {
            let scored = list
                .iter()
                .enumerate()
                .map(|(rank, key)| (key.clone(), 1.0 / (rrf_k + rank as f32 + 1.0)))
                .collect();
            (*weight, scored)
        })
        .collect();
    fuse(&ranked, k)
}

/// Fuses scored lists by their scores rescaled to 0..=1 within each list (the best 1, the
/// worst 0), each times its weight: a large lead in one list counts for more than under RRF,
/// which sees only ranks. A list whose scores are all equal counts 1 for each of its keys.
pub fn weighted_score_fusion<K: Clone + Eq + Hash>(
    lists: &[(f32, Vec<(K, f32)>)],
    k: usize,
) -> Vec<(K, f32)> {
    let rescaled: Vec<(f32, Vec<(K, f32)>)> = lists
        .iter()
        .map(|(weight, list)| {
            let (lo, hi) = list
                .iter()
                .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), (_, s)| {
                    (lo.min(*s), hi.max(*s))
                });
            let span = hi - lo;
            let scored = list
                .iter()
                .map(|(key, s)| {
                    let unit = if span > 0.0 && span.is_finite() {
                        (s - lo) / span
                    } else {
                        1.0
                    };
                    (key.clone(), unit)
                })
                .collect();
            (*weight, scored)
        })
        .collect();
    fuse(&rescaled, k)
}

/// Sums each key's weighted scores over the lists; the `k` best, ties in first-seen order.
fn fuse<K: Clone + Eq + Hash>(lists: &[(f32, Vec<(K, f32)>)], k: usize) -> Vec<(K, f32)> {
    let mut scores: HashMap<K, (f32, usize)> = HashMap::new();
    let mut order = 0usize;
    for (weight, list) in lists {
        for (key, score) in list {
            let entry = scores.entry(key.clone()).or_insert_with(|| {
                order += 1;
                (0.0, order)
            });
            entry.0 += weight * score;
        }
    }
    let mut fused: Vec<(K, f32, usize)> = scores
        .into_iter()
        .map(|(key, (s, o))| (key, s, o))
        .collect();
    fused.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.2.cmp(&b.2)));
    fused
        .into_iter()
        .take(k)
        .map(|(key, s, _)| (key, s))
        .collect()
}

/// The default weight of a document's evidence in [`rank_by_document`]: chosen on the
/// PostgreSQL dev set (docs/retrieval.md, "Document-aware ranking").
pub const DOCUMENT_BOOST: f32 = 0.3;
/// How many of a list's best hits are the evidence about their documents.
pub const DOCUMENT_EVIDENCE_WINDOW: usize = 20;
/// How many of one document's hits in that window count towards its evidence.
pub const DOCUMENT_EVIDENCE_HITS: usize = 3;

/// Document-aware ranking of one ranked list (best first): each hit's rank score
/// `(c + 1) / (c + rank)` (1 for the first, `c` = [`RRF_K`]) plus `boost` times the sum of the
/// rank scores of its document's best [`DOCUMENT_EVIDENCE_HITS`] hits among the list's first
/// [`DOCUMENT_EVIDENCE_WINDOW`] (its own included). A passage of a page that answers the
/// question from several places rises above a lone passage of a page about something else;
/// by ranks, not raw scores, so it means the same for every metric and for BM25. The list keeps
/// its keys and scores, only their order changes; ties keep the order given. `boost` 0 keeps
/// the list as it is.
pub fn rank_by_document<K, D: Eq + Hash>(
    list: Vec<(K, f32)>,
    document: impl Fn(&K) -> Option<D>,
    boost: f32,
) -> Vec<(K, f32)> {
    if boost <= 0.0 || list.len() < 2 {
        return list;
    }
    let unit = |rank: usize| (RRF_K + 1.0) / (RRF_K + rank as f32 + 1.0);
    let documents: Vec<Option<D>> = list.iter().map(|(key, _)| document(key)).collect();
    let mut evidence: HashMap<&D, (f32, usize)> = HashMap::new();
    for (rank, doc) in documents.iter().enumerate().take(DOCUMENT_EVIDENCE_WINDOW) {
        if let Some(doc) = doc {
            let e = evidence.entry(doc).or_insert((0.0, 0));
            if e.1 < DOCUMENT_EVIDENCE_HITS {
                e.0 += unit(rank);
                e.1 += 1;
            }
        }
    }
    let lifted: Vec<f32> = documents
        .iter()
        .enumerate()
        .map(|(rank, doc)| {
            let lift = doc
                .as_ref()
                .and_then(|d| evidence.get(d))
                .map_or(0.0, |e| e.0);
            unit(rank) + boost * lift
        })
        .collect();
    let mut ranked: Vec<(f32, (K, f32))> = lifted.into_iter().zip(list).collect();
    // A stable sort: ties keep the order given.
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
    ranked.into_iter().map(|(_, hit)| hit).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_ranked_well_in_both_lists_win() {
        let vector = vec!["a", "b", "c", "d"];
        let keyword = vec!["c", "a", "e"];
        let fused = reciprocal_rank_fusion(&[(1.0, vector), (1.0, keyword)], RRF_K, 3);
        let keys: Vec<&str> = fused.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, vec!["a", "c", "b"]);
        assert!((fused[0].1 - (1.0 / (RRF_K + 1.0) + 1.0 / (RRF_K + 2.0))).abs() < 1e-6);
    }

    #[test]
    fn weights_shift_the_balance_and_empty_lists_are_harmless() {
        let fused = reciprocal_rank_fusion(
            &[(0.1, vec![1, 2]), (1.0, vec![2, 1]), (1.0, vec![])],
            RRF_K,
            2,
        );
        assert_eq!(fused[0].0, 2);
        assert!(reciprocal_rank_fusion::<u32>(&[], RRF_K, 5).is_empty());
    }

    #[test]
    fn a_smaller_rrf_constant_favours_the_top_of_each_list() {
        // `a` is first in one list and absent from the other; `b` is second and third.
        let lists = [(1.0, vec!["a", "b"]), (1.0, vec!["c", "d", "b"])];
        assert_eq!(reciprocal_rank_fusion(&lists, 60.0, 1)[0].0, "b");
        assert_eq!(reciprocal_rank_fusion(&lists, 0.1, 1)[0].0, "a");
    }

    #[test]
    fn weighted_fusion_counts_how_far_ahead_a_hit_is() {
        // Vector scores are close together; the keyword list has one clear winner.
        let vector = vec![("a", 0.80), ("b", 0.79), ("c", 0.10)];
        let keyword = vec![("b", 12.0), ("a", 1.0)];
        let fused = weighted_score_fusion(&[(1.0, vector.clone()), (1.0, keyword.clone())], 3);
        assert_eq!(fused[0].0, "b");
        assert!((fused[0].1 - (0.9857 + 1.0)).abs() < 1e-3, "{fused:?}");
        // A weight of zero leaves a list out.
        let vector_only = weighted_score_fusion(&[(1.0, vector), (0.0, keyword)], 3);
        assert_eq!(vector_only[0].0, "a");
        // One hit, or equal scores: each counts fully.
        let single = weighted_score_fusion(&[(1.0, vec![("x", 3.0)])], 1);
        assert_eq!(single, vec![("x", 1.0)]);
    }

    #[test]
    fn a_passage_of_a_document_with_other_good_passages_rises_above_a_lone_one() {
        // `x1` is first but alone; `a` has three passages just below it.
        let list = vec![
            ("x1", 0.9),
            ("a1", 0.8),
            ("a2", 0.7),
            ("a3", 0.6),
            ("y1", 0.5),
        ];
        let doc = |k: &&str| Some(k.chars().next());
        let ranked = rank_by_document(list.clone(), doc, DOCUMENT_BOOST);
        let keys: Vec<&str> = ranked.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, vec!["a1", "a2", "a3", "x1", "y1"]);
        // Scores stay the list's own.
        assert!(ranked.iter().all(|hit| list.contains(hit)));
        // No boost, or hits without a document: the order given.
        assert_eq!(rank_by_document(list.clone(), doc, 0.0), list);
        assert_eq!(rank_by_document(list.clone(), |_| None::<char>, 1.0), list);
    }

    #[test]
    fn only_a_documents_best_hits_in_the_window_are_its_evidence() {
        // `b` has many weak passages below the window (ranks 20 on); they lift nothing.
        let fillers: Vec<String> = (0..18).map(|i| format!("f{i}-x")).collect();
        let mut list = vec![("a-1", 1.0), ("b-1", 0.9)];
        list.extend(fillers.iter().map(|f| (f.as_str(), 0.5)));
        list.extend((0..22).map(|_| ("b-9", 0.1)));
        let doc = |k: &&str| k.split('-').next().map(str::to_string);
        let ranked = rank_by_document(list, doc, DOCUMENT_BOOST);
        assert_eq!(ranked[0].0, "a-1", "{:?}", &ranked[..3]);
        assert_eq!(ranked.len(), 42);
    }
}
