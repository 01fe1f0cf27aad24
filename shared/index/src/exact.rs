//! Exact nearest-neighbour search: the scan behind selective filters, the flat index that holds a
//! WAL tail not yet in any graph, and the merge of results from several sources.

use std::collections::BinaryHeap;

use crate::{
    IdSet, IndexError, Metric,
    distance::{DistanceKernel, prepare_vector},
    hnsw::Scored,
    hnsw::{Neighbor, check_k},
};

/// The `k` ids with the smallest `distance`, nearest first.
pub(crate) fn top_k(
    ids: impl Iterator<Item = u32>,
    k: usize,
    distance: impl Fn(u32) -> f32,
) -> Vec<Neighbor> {
    let mut heap: BinaryHeap<Scored> = BinaryHeap::with_capacity(k + 1);
    for id in ids {
        let d = distance(id);
        if heap.len() < k {
            heap.push(Scored { distance: d, id });
        } else if heap.peek().is_some_and(|worst| d < worst.distance) {
            heap.pop();
            heap.push(Scored { distance: d, id });
        }
    }
    heap.into_sorted_vec()
        .into_iter()
        .map(|s| Neighbor {
            id: s.id,
            distance: s.distance,
        })
        .collect()
}

/// Vectors searched by exact scan, for small sets such as the WAL segments of a project that
/// compaction has not folded into a snapshot yet.
#[derive(Debug, Clone)]
pub struct FlatIndex {
    dims: usize,
    metric: Metric,
    kernel: DistanceKernel,
    vectors: Vec<f32>,
}

impl FlatIndex {
    pub fn new(dims: usize, metric: Metric) -> Self {
        Self {
            dims,
            metric,
            kernel: DistanceKernel::select(metric),
            vectors: Vec::new(),
        }
    }

    /// Adds a vector and returns its id (ids are dense, in insertion order).
    pub fn insert(&mut self, vector: &[f32]) -> Result<u32, IndexError> {
        let prepared = prepare_vector(vector, self.dims, self.metric)?;
        let id = u32::try_from(self.len()).map_err(|_| IndexError::Full {
            max: u32::MAX as usize,
        })?;
        self.vectors.extend_from_slice(&prepared);
        Ok(id)
    }

    pub fn len(&self) -> usize {
        self.vectors.len() / self.dims
    }

    pub fn is_empty(&self) -> bool {
        self.vectors.is_empty()
    }

    pub fn vector(&self, id: u32) -> Option<&[f32]> {
        let start = (id as usize).checked_mul(self.dims)?;
        self.vectors.get(start..start + self.dims)
    }

    /// The `k` nearest entries that `filter` allows.
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        filter: Option<&IdSet>,
    ) -> Result<Vec<Neighbor>, IndexError> {
        check_k(k)?;
        let query = prepare_vector(query, self.dims, self.metric)?;
        let ids = (0..self.len() as u32).filter(|&id| filter.is_none_or(|f| f.contains(id)));
        Ok(top_k(ids, k, |id| {
            let start = id as usize * self.dims;
            self.kernel
                .distance(&query, &self.vectors[start..start + self.dims])
        }))
    }
}

/// Merges nearest-first result lists from several sources (e.g. a snapshot's graph and the WAL
/// tail), keeping the `k` smallest distances. Keys appearing in several lists keep their best.
pub fn merge_nearest<K: Clone + Eq + std::hash::Hash>(
    lists: impl IntoIterator<Item = Vec<(K, f32)>>,
    k: usize,
) -> Vec<(K, f32)> {
    let mut all: Vec<(K, f32)> = lists.into_iter().flatten().collect();
    all.sort_by(|a, b| a.1.total_cmp(&b.1));
    let mut seen = std::collections::HashSet::new();
    all.retain(|(key, _)| seen.insert(key.clone()));
    all.truncate(k);
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_index_finds_exact_neighbours_with_filters() {
        let mut flat = FlatIndex::new(2, Metric::L2);
        for i in 0..10 {
            flat.insert(&[i as f32, 0.0]).unwrap();
        }
        let found = flat.search(&[3.2, 0.0], 3, None).unwrap();
        assert_eq!(
            found.iter().map(|n| n.id).collect::<Vec<_>>(),
            vec![3, 4, 2]
        );
        let odd = IdSet::from_ids(10, [1, 5, 7, 9]);
        let found = flat.search(&[3.2, 0.0], 2, Some(&odd)).unwrap();
        assert_eq!(found.iter().map(|n| n.id).collect::<Vec<_>>(), vec![5, 1]);
        assert!(matches!(
            flat.search(&[0.0, 0.0], 0, None),
            Err(IndexError::InvalidK { .. })
        ));
        assert!(flat.insert(&[1.0]).is_err());
    }

    #[test]
    fn merge_keeps_the_best_of_duplicates_and_truncates() {
        let merged = merge_nearest(
            vec![vec![("a", 0.5), ("b", 0.9)], vec![("c", 0.1), ("a", 0.3)]],
            2,
        );
        assert_eq!(merged, vec![("c", 0.1), ("a", 0.3)]);
    }
}
