//! Reciprocal-rank fusion (Cormack et al., 2009): combines ranked lists whose scores are not
//! comparable (cosine similarity, BM25) by rank alone.

use std::{collections::HashMap, hash::Hash};

/// The constant in `1 / (k + rank)`; 60 is the value from the paper and common practice.
pub const RRF_K: f32 = 60.0;

/// Fuses ranked lists (best first), each with a weight. Returns keys with their fused score,
/// best first; ties keep the order in which keys were first seen.
pub fn reciprocal_rank_fusion<K: Clone + Eq + Hash>(
    lists: &[(f32, Vec<K>)],
    k: usize,
) -> Vec<(K, f32)> {
    let mut scores: HashMap<K, (f32, usize)> = HashMap::new();
    let mut order = 0usize;
    for (weight, list) in lists {
        for (rank, key) in list.iter().enumerate() {
            let entry = scores.entry(key.clone()).or_insert_with(|| {
                order += 1;
                (0.0, order)
            });
            entry.0 += weight / (RRF_K + rank as f32 + 1.0);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_ranked_well_in_both_lists_win() {
        let vector = vec!["a", "b", "c", "d"];
        let keyword = vec!["c", "a", "e"];
        let fused = reciprocal_rank_fusion(&[(1.0, vector), (1.0, keyword)], 3);
        let keys: Vec<&str> = fused.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, vec!["a", "c", "b"]);
        assert!((fused[0].1 - (1.0 / 61.0 + 1.0 / 62.0)).abs() < 1e-6);
    }

    #[test]
    fn weights_shift_the_balance_and_empty_lists_are_harmless() {
        let fused =
            reciprocal_rank_fusion(&[(0.1, vec![1, 2]), (1.0, vec![2, 1]), (1.0, vec![])], 2);
        assert_eq!(fused[0].0, 2);
        assert!(reciprocal_rank_fusion::<u32>(&[], 5).is_empty());
    }
}
