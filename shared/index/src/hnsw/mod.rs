//! Our HNSW graph (Malkov & Yashunin): u32 ids, a flat fixed-width layer-0 adjacency array next
//! to one contiguous vector array, sparse upper layers, tombstones and filtered search.
//!
//! Layout (also the snapshot layout, see `codec::snapshot`):
//! - `vectors`: `n × dims` f32, normalized for cosine.
//! - `layer0`: `n × (1 + m0)` u32; slot 0 of each row is the neighbour count.
//! - `levels`: one u8 per node, its top layer.
//! - `upper_links`: for each node with level ≥ 1, in id order, `level` rows of `1 + m` u32.
//!   The offset of each node's rows is derived from `levels` (`upper_offsets`), never stored.

mod graph;
mod insert;
mod search;

use rand::{Rng, SeedableRng, rngs::SmallRng};
use serde::{Deserialize, Serialize};

pub use self::search::{MAX_K, Neighbor, SearchParams};
pub(crate) use self::{graph::Scored, search::check_k};
use crate::{
    DecodeError, IdSet, IndexError, Metric,
    distance::{DistanceKernel, prepare_vector},
    slab::Slab,
    visited::VisitedPool,
};

/// The largest number of entries one index holds (ids are u32; u32::MAX is reserved).
pub const MAX_ENTRIES: usize = u32::MAX as usize - 1;
/// The deepest layer a node may reach.
pub const MAX_LEVEL: u8 = 31;

/// Construction parameters, chosen per index at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HnswParams {
    /// Neighbours kept per node on upper layers (and chosen per insert on every layer).
    pub m: u32,
    /// Neighbours a node may hold on layer 0 (the paper's M_max0; 2·m by default).
    pub m0: u32,
    /// Candidate-list size while inserting.
    pub ef_construction: u32,
    /// Seed for level assignment, so builds are reproducible.
    pub seed: u64,
}

impl Default for HnswParams {
    fn default() -> Self {
        Self {
            m: 16,
            m0: 32,
            ef_construction: 200,
            seed: 0x5eed_cafe,
        }
    }
}

impl HnswParams {
    /// Parameters with `m`, `m0 = 2·m` and the given `ef_construction`.
    pub fn new(m: u32, ef_construction: u32) -> Self {
        Self {
            m,
            m0: m.saturating_mul(2),
            ef_construction,
            ..Self::default()
        }
    }

    pub fn validate(&self) -> Result<(), IndexError> {
        let invalid = |name, reason: &str| {
            Err(IndexError::InvalidParameter {
                name,
                reason: reason.to_string(),
            })
        };
        if !(2..=128).contains(&self.m) {
            return invalid("m", "must be between 2 and 128");
        }
        if self.m0 < self.m || self.m0 > 512 {
            return invalid("m0", "must be between m and 512");
        }
        if !(1..=10_000).contains(&self.ef_construction) {
            return invalid("ef_construction", "must be between 1 and 10000");
        }
        Ok(())
    }

    fn level_multiplier(&self) -> f64 {
        1.0 / (f64::from(self.m)).ln()
    }
}

/// The largest vector dimension an index accepts.
pub const MAX_DIMS: usize = 4096;

/// An HNSW index over vectors with dense ids `0..len()` in insertion order.
#[derive(Debug)]
pub struct Hnsw {
    dims: usize,
    metric: Metric,
    params: HnswParams,
    kernel: DistanceKernel,
    vectors: Slab<f32>,
    layer0: Slab<u32>,
    levels: Slab<u8>,
    upper_links: Slab<u32>,
    upper_offsets: Vec<u32>,
    entry: Option<u32>,
    max_level: u8,
    deleted: IdSet,
    rng: SmallRng,
    visited: VisitedPool,
}

/// A copy that shares nothing mutable with the original (borrowed snapshot arrays stay borrowed
/// until the copy's first write); search scratch space starts empty.
impl Clone for Hnsw {
    fn clone(&self) -> Self {
        Self {
            dims: self.dims,
            metric: self.metric,
            params: self.params,
            kernel: self.kernel,
            vectors: self.vectors.clone(),
            layer0: self.layer0.clone(),
            levels: self.levels.clone(),
            upper_links: self.upper_links.clone(),
            upper_offsets: self.upper_offsets.clone(),
            entry: self.entry,
            max_level: self.max_level,
            deleted: self.deleted.clone(),
            rng: self.rng.clone(),
            visited: VisitedPool::default(),
        }
    }
}

impl Hnsw {
    pub fn new(dims: usize, metric: Metric, params: HnswParams) -> Result<Self, IndexError> {
        params.validate()?;
        if dims == 0 || dims > MAX_DIMS {
            return Err(IndexError::InvalidParameter {
                name: "dims",
                reason: format!("must be between 1 and {MAX_DIMS}"),
            });
        }
        Ok(Self {
            dims,
            metric,
            params,
            kernel: DistanceKernel::select(metric),
            vectors: Slab::default(),
            layer0: Slab::default(),
            levels: Slab::default(),
            upper_links: Slab::default(),
            upper_offsets: Vec::new(),
            entry: None,
            max_level: 0,
            deleted: IdSet::default(),
            rng: SmallRng::seed_from_u64(params.seed),
            visited: VisitedPool::default(),
        })
    }

    /// Reserves room for `additional` more vectors (avoids regrowth during a bulk build).
    pub fn reserve(&mut self, additional: usize) {
        self.vectors.make_mut().reserve(additional * self.dims);
        self.layer0
            .make_mut()
            .reserve(additional * (1 + self.params.m0 as usize));
        self.levels.make_mut().reserve(additional);
        self.upper_offsets.reserve(additional);
    }

    pub fn dims(&self) -> usize {
        self.dims
    }

    pub fn metric(&self) -> Metric {
        self.metric
    }

    pub fn params(&self) -> HnswParams {
        self.params
    }

    /// Entries ever inserted, tombstoned ones included.
    pub fn len(&self) -> usize {
        self.levels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entries that are not tombstoned.
    pub fn live_len(&self) -> usize {
        self.len() - self.deleted.len()
    }

    /// The stored vector of `id` (normalized for cosine).
    pub fn vector(&self, id: u32) -> Option<&[f32]> {
        let start = (id as usize).checked_mul(self.dims)?;
        self.vectors.as_slice().get(start..start + self.dims)
    }

    /// Every stored vector, `len() × dims` values.
    pub fn vectors(&self) -> &[f32] {
        self.vectors.as_slice()
    }

    /// Marks `id` deleted: it is skipped in results but still traversed, so the graph stays
    /// connected. Returns whether it was live.
    pub fn delete(&mut self, id: u32) -> Result<bool, IndexError> {
        if id as usize >= self.len() {
            return Err(IndexError::UnknownId {
                id,
                len: self.len(),
            });
        }
        Ok(self.deleted.insert(id))
    }

    pub fn is_deleted(&self, id: u32) -> bool {
        self.deleted.contains(id)
    }

    pub fn deleted(&self) -> &IdSet {
        &self.deleted
    }

    /// Fraction of entries that are tombstoned.
    pub fn deleted_fraction(&self) -> f64 {
        if self.is_empty() {
            0.0
        } else {
            self.deleted.len() as f64 / self.len() as f64
        }
    }

    /// Whether tombstones have passed `threshold` (a fraction) and a rebuild would pay.
    pub fn needs_rebuild(&self, threshold: f64) -> bool {
        self.deleted_fraction() > threshold
    }

    /// A fresh index over the live entries only. Returns it with, for each new id, the old id.
    pub fn rebuild(&self) -> Result<(Hnsw, Vec<u32>), IndexError> {
        let mut fresh = Hnsw::new(self.dims, self.metric, self.params)?;
        let live: Vec<u32> = (0..self.len() as u32)
            .filter(|&id| !self.is_deleted(id))
            .collect();
        fresh.reserve(live.len());
        for &id in &live {
            let start = id as usize * self.dims;
            let v = &self.vectors.as_slice()[start..start + self.dims];
            fresh.insert_prepared(v.to_vec());
        }
        Ok((fresh, live))
    }

    /// Heap bytes held by the index (vectors, graph, tombstones, search scratch).
    pub fn memory_bytes(&self) -> usize {
        self.vectors.heap_bytes()
            + self.layer0.heap_bytes()
            + self.levels.heap_bytes()
            + self.upper_links.heap_bytes()
            + self.upper_offsets.capacity() * 4
            + self.deleted.words().len() * 8
            + self.visited.heap_bytes()
    }

    /// The instruction set of the distance kernel in use.
    pub fn kernel_name(&self) -> &'static str {
        self.kernel.name()
    }

    /// Inserts one vector and returns its id.
    pub fn insert(&mut self, vector: &[f32]) -> Result<u32, IndexError> {
        if self.len() >= MAX_ENTRIES {
            return Err(IndexError::Full { max: MAX_ENTRIES });
        }
        let prepared = prepare_vector(vector, self.dims, self.metric)?;
        Ok(self.insert_prepared(prepared))
    }

    fn random_level(&mut self) -> u8 {
        // 1 - U lies in (0, 1], so the logarithm is finite.
        let uniform: f64 = 1.0 - self.rng.random::<f64>();
        let level = (-uniform.ln() * self.params.level_multiplier()).floor();
        level.min(f64::from(MAX_LEVEL)) as u8
    }

    fn stride0(&self) -> usize {
        1 + self.params.m0 as usize
    }

    fn stride_upper(&self) -> usize {
        1 + self.params.m as usize
    }
}

/// The raw arrays of an index, as a snapshot stores them.
#[derive(Debug)]
pub(crate) struct HnswParts {
    pub(crate) dims: usize,
    pub(crate) metric: Metric,
    pub(crate) params: HnswParams,
    pub(crate) vectors: Slab<f32>,
    pub(crate) layer0: Slab<u32>,
    pub(crate) levels: Slab<u8>,
    pub(crate) upper_links: Slab<u32>,
    pub(crate) entry: Option<u32>,
    pub(crate) deleted: IdSet,
}

/// Borrowed arrays of an index, for encoding.
#[derive(Debug)]
pub(crate) struct HnswArrays<'a> {
    pub(crate) vectors: &'a Slab<f32>,
    pub(crate) layer0: &'a Slab<u32>,
    pub(crate) levels: &'a Slab<u8>,
    pub(crate) upper_links: &'a Slab<u32>,
    pub(crate) entry: Option<u32>,
}

impl Hnsw {
    pub(crate) fn arrays(&self) -> HnswArrays<'_> {
        HnswArrays {
            vectors: &self.vectors,
            layer0: &self.layer0,
            levels: &self.levels,
            upper_links: &self.upper_links,
            entry: self.entry,
        }
    }

    /// Rebuilds an index from stored arrays, checking every length, count and neighbour id so a
    /// corrupt or hostile snapshot yields an error instead of a panic during search.
    pub(crate) fn from_parts(parts: HnswParts) -> Result<Self, DecodeError> {
        let bad = |reason: String| DecodeError::section("hnsw", reason);
        parts
            .params
            .validate()
            .map_err(|e| DecodeError::header("hnsw", e.to_string()))?;
        if parts.dims == 0 || parts.dims > MAX_DIMS {
            return Err(DecodeError::header(
                "dims",
                format!("{} is out of range", parts.dims),
            ));
        }
        let n = parts.levels.len();
        if n > MAX_ENTRIES {
            return Err(bad(format!("{n} entries is more than an index holds")));
        }
        let (m, m0) = (parts.params.m as usize, parts.params.m0 as usize);
        let (stride0, stride_up) = (1 + m0, 1 + m);
        if parts.vectors.len() != n * parts.dims {
            return Err(bad(format!(
                "vectors hold {} values, expected {n} × {}",
                parts.vectors.len(),
                parts.dims
            )));
        }
        if parts.layer0.len() != n * stride0 {
            return Err(bad(format!(
                "layer 0 holds {} ids, expected {n} × {stride0}",
                parts.layer0.len()
            )));
        }
        let levels = parts.levels.as_slice();
        let mut upper_offsets = Vec::with_capacity(n);
        let mut offset = 0usize;
        let mut max_level = 0u8;
        for &level in levels {
            if level > MAX_LEVEL {
                return Err(bad(format!("level {level} exceeds {MAX_LEVEL}")));
            }
            max_level = max_level.max(level);
            upper_offsets
                .push(u32::try_from(offset).map_err(|_| bad("upper layers too large".into()))?);
            offset += usize::from(level) * stride_up;
        }
        if parts.upper_links.len() != offset {
            return Err(bad(format!(
                "upper layers hold {} ids, levels imply {offset}",
                parts.upper_links.len()
            )));
        }
        for (node, row) in parts.layer0.as_slice().chunks_exact(stride0).enumerate() {
            let count = row[0] as usize;
            if count > m0 || row[1..=count].iter().any(|&nb| nb as usize >= n) {
                return Err(bad(format!("node {node} has a bad layer-0 neighbour list")));
            }
        }
        let upper = parts.upper_links.as_slice();
        for (node, &level) in levels.iter().enumerate() {
            for layer in 1..=usize::from(level) {
                let start = upper_offsets[node] as usize + (layer - 1) * stride_up;
                let row = &upper[start..start + stride_up];
                let count = row[0] as usize;
                let ok = count <= m
                    && row[1..=count]
                        .iter()
                        .all(|&nb| (nb as usize) < n && usize::from(levels[nb as usize]) >= layer);
                if !ok {
                    return Err(bad(format!(
                        "node {node} has a bad layer-{layer} neighbour list"
                    )));
                }
            }
        }
        match parts.entry {
            None if n == 0 => {}
            Some(e) if (e as usize) < n && levels[e as usize] == max_level => {}
            _ => return Err(bad("entry point is missing or not on the top layer".into())),
        }
        if parts.deleted.capacity() != n {
            return Err(bad("tombstone set does not match the entry count".into()));
        }
        Ok(Self {
            dims: parts.dims,
            metric: parts.metric,
            params: parts.params,
            kernel: DistanceKernel::select(parts.metric),
            vectors: parts.vectors,
            layer0: parts.layer0,
            levels: parts.levels,
            upper_links: parts.upper_links,
            upper_offsets,
            entry: parts.entry,
            max_level,
            deleted: parts.deleted,
            // Continue the level sequence deterministically for inserts after load.
            rng: SmallRng::seed_from_u64(parts.params.seed ^ n as u64),
            visited: VisitedPool::default(),
        })
    }
}

#[cfg(test)]
mod tests;
