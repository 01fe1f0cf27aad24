//! Query-time search: validation, greedy descent, filtered layer-0 beam search, and an exact
//! scan of the allowed ids when a filter is so selective that the graph walk would cost more.

use serde::{Deserialize, Serialize};

use super::{Hnsw, graph::Scored};
use crate::{IdSet, IndexError, distance::prepare_vector, exact};

/// The most results one search returns.
pub const MAX_K: usize = 1000;

/// A search result: an id and its distance (smaller is closer; see [`crate::Metric::score`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Neighbor {
    pub id: u32,
    pub distance: f32,
}

/// How much work a search does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchParams {
    /// Results wanted, 1..=1000.
    pub k: usize,
    /// Beam width on layer 0; raised to at least `k`.
    pub ef: usize,
    /// Relative cost of one graph step and one exact distance, used to decide when a filter is
    /// selective enough that scanning the allowed ids beats walking the graph. A filtered walk
    /// costs about `ef / selectivity` steps and a scan `allowed = n × selectivity` distances,
    /// so the scan wins while `allowed ≤ sqrt(exact_cost_ratio × ef × n)`. Measured at 20k and
    /// 100k × 384 (docs/benchmarks.md); 0 always walks the graph.
    pub exact_cost_ratio: f64,
}

impl SearchParams {
    pub fn new(k: usize, ef: usize) -> Self {
        Self {
            k,
            ef,
            exact_cost_ratio: 22.0,
        }
    }

    /// The most allowed ids for which a filtered search scans instead of walking the graph.
    pub fn exact_scan_limit(&self, n: usize) -> usize {
        (self.exact_cost_ratio * self.ef.max(self.k) as f64 * n as f64).sqrt() as usize
    }
}

pub(crate) fn check_k(k: usize) -> Result<(), IndexError> {
    if k == 0 || k > MAX_K {
        return Err(IndexError::InvalidK { got: k, max: MAX_K });
    }
    Ok(())
}

impl Hnsw {
    /// The `k` nearest live entries to `query` that `filter` allows (all when `None`).
    pub fn search(
        &self,
        query: &[f32],
        params: SearchParams,
        filter: Option<&IdSet>,
    ) -> Result<Vec<Neighbor>, IndexError> {
        check_k(params.k)?;
        let query = prepare_vector(query, self.dims, self.metric)?;
        let Some(entry) = self.entry else {
            return Ok(Vec::new());
        };
        let allowed = |id: u32| !self.deleted.contains(id) && filter.is_none_or(|f| f.contains(id));
        if let Some(filter) = filter {
            let n = self.len();
            if filter.len() <= params.exact_scan_limit(n) {
                let ids = filter
                    .iter()
                    .filter(|&id| (id as usize) < n && !self.deleted.contains(id));
                let vecs = self.vector_view();
                return Ok(exact::top_k(ids, params.k, |id| {
                    vecs.distance_to(&query, id)
                }));
            }
        }

        let view = self.view();
        let mut nearest = Scored {
            distance: view.distance_to(&query, entry),
            id: entry,
        };
        for layer in (1..=usize::from(self.max_level)).rev() {
            nearest = view.greedy(&query, nearest, layer);
        }
        let ef = params.ef.max(params.k);
        let mut visited = self.visited.take(self.len());
        let found = view.search_layer(&query, &[nearest], ef, 0, &mut visited, allowed);
        self.visited.give_back(visited);
        Ok(found
            .into_iter()
            .take(params.k)
            .map(|s| Neighbor {
                id: s.id,
                distance: s.distance,
            })
            .collect())
    }

    /// Exact nearest neighbours by scanning every live allowed entry (ground truth, and the
    /// fallback for selective filters).
    pub fn search_exact(
        &self,
        query: &[f32],
        k: usize,
        filter: Option<&IdSet>,
    ) -> Result<Vec<Neighbor>, IndexError> {
        check_k(k)?;
        let query = prepare_vector(query, self.dims, self.metric)?;
        let ids = (0..self.len() as u32)
            .filter(|&id| !self.deleted.contains(id) && filter.is_none_or(|f| f.contains(id)));
        let vecs = self.vector_view();
        Ok(exact::top_k(ids, k, |id| vecs.distance_to(&query, id)))
    }
}
