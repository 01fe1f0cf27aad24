//! Insertion: level assignment, descent, layer search with ef_construction, heuristic neighbour
//! selection and reverse links that are pruned with the same heuristic when a node is full.

use super::{
    Hnsw,
    graph::{Scored, VectorView, select_diverse},
};
use crate::IndexError;

/// Neighbours chosen for one new node, per layer (top layer first).
type LinkPlan = Vec<(usize, Vec<Scored>)>;

/// Below this many entries every insert runs alone: a young graph changes too fast to plan many
/// inserts against one frozen state.
const SEQUENTIAL_PREFIX: usize = 2048;
/// Inserts planned together against one frozen graph.
const BATCH: usize = 64;

impl Hnsw {
    /// Inserts a vector that is already validated (and normalized for cosine).
    pub(crate) fn insert_prepared(&mut self, vector: Vec<f32>) -> u32 {
        let id = self.len() as u32;
        let level = self.random_level();
        self.append_node(&vector, level);
        let plan = self.plan_links(&vector, level, &[]);
        self.apply_links(id, level, plan);
        id
    }

    /// Inserts many vectors (`n × dims` values) using up to `threads` threads and returns the
    /// first new id. All vectors are validated before any is inserted. Graph searches, the
    /// expensive part, run in parallel for batches of inserts against the graph as it was before
    /// the batch, each new node also considering the batch members before it; links are then
    /// applied in order. With one thread (or on targets without threads) this is the same as
    /// calling [`Hnsw::insert`] in a loop.
    pub fn insert_batch(&mut self, vectors: &[f32], threads: usize) -> Result<u32, IndexError> {
        if !vectors.len().is_multiple_of(self.dims) {
            return Err(IndexError::InvalidParameter {
                name: "vectors",
                reason: format!(
                    "{} values is not a whole number of {}-dim vectors",
                    vectors.len(),
                    self.dims
                ),
            });
        }
        let count = vectors.len() / self.dims;
        if self.len() + count > super::MAX_ENTRIES {
            return Err(IndexError::Full {
                max: super::MAX_ENTRIES,
            });
        }
        let prepared = vectors
            .chunks_exact(self.dims)
            .map(|v| crate::distance::prepare_vector(v, self.dims, self.metric))
            .collect::<Result<Vec<_>, _>>()?;
        let first = self.len() as u32;
        self.reserve(count);
        let threads = if cfg!(target_family = "wasm") {
            1
        } else {
            threads.max(1)
        };
        let mut pending = prepared.into_iter().peekable();
        while pending.peek().is_some() {
            if threads == 1 || self.len() < SEQUENTIAL_PREFIX {
                if let Some(v) = pending.next() {
                    self.insert_prepared(v);
                }
                continue;
            }
            let batch: Vec<Vec<f32>> = pending.by_ref().take(BATCH).collect();
            self.insert_planned_batch(batch, threads);
        }
        Ok(first)
    }

    fn insert_planned_batch(&mut self, batch: Vec<Vec<f32>>, threads: usize) {
        let first = self.len() as u32;
        let levels: Vec<u8> = batch.iter().map(|_| self.random_level()).collect();
        let plans: Vec<LinkPlan> = {
            let this = &*self;
            let batch = &batch;
            let levels = &levels;
            let plan_one = &|i: usize| {
                let earlier: Vec<(u32, &[f32], u8)> = (0..i)
                    .map(|j| (first + j as u32, batch[j].as_slice(), levels[j]))
                    .collect();
                this.plan_links(&batch[i], levels[i], &earlier)
            };
            let mut plans: Vec<Option<LinkPlan>> = (0..batch.len()).map(|_| None).collect();
            std::thread::scope(|scope| {
                let handles: Vec<_> = (1..threads)
                    .filter_map(|t| {
                        std::thread::Builder::new()
                            .spawn_scoped(scope, move || {
                                (t..batch.len())
                                    .step_by(threads)
                                    .map(|i| (i, plan_one(i)))
                                    .collect::<Vec<_>>()
                            })
                            .ok()
                    })
                    .collect();
                for i in (0..batch.len()).step_by(threads) {
                    plans[i] = Some(plan_one(i));
                }
                for handle in handles {
                    if let Ok(done) = handle.join() {
                        for (i, plan) in done {
                            plans[i] = Some(plan);
                        }
                    }
                }
            });
            // Slots of a thread that could not be spawned are planned here.
            plans
                .into_iter()
                .enumerate()
                .map(|(i, p)| p.unwrap_or_else(|| plan_one(i)))
                .collect()
        };
        for ((vector, level), plan) in batch.iter().zip(&levels).zip(plans) {
            let id = self.len() as u32;
            self.append_node(vector, *level);
            self.apply_links(id, *level, plan);
        }
    }

    /// Searches the graph for a new vector's neighbours on every layer it joins. `earlier` are
    /// nodes of the same batch (not yet linked into the graph) that are candidates too.
    fn plan_links(&self, vector: &[f32], level: u8, earlier: &[(u32, &[f32], u8)]) -> LinkPlan {
        let Some(entry) = self.entry else {
            return Vec::new();
        };
        let view = self.view();
        let mut nearest = Scored {
            distance: view.distance_to(vector, entry),
            id: entry,
        };
        for layer in (usize::from(level) + 1..=usize::from(self.max_level)).rev() {
            nearest = view.greedy(vector, nearest, layer);
        }
        let ef = self.params.ef_construction as usize;
        let m = self.params.m as usize;
        let mut visited = self.visited.take(self.len());
        let mut entry_points = vec![nearest];
        let mut plan = Vec::new();
        for layer in (0..=usize::from(level.min(self.max_level))).rev() {
            visited.reset(self.len());
            let mut candidates =
                view.search_layer(vector, &entry_points, ef, layer, &mut visited, |_| true);
            entry_points = candidates.clone();
            if !earlier.is_empty() {
                candidates.extend(
                    earlier
                        .iter()
                        .filter(|(_, _, l)| usize::from(*l) >= layer)
                        .map(|&(id, v, _)| Scored {
                            distance: self.kernel.distance(vector, v),
                            id,
                        }),
                );
                candidates.sort_unstable();
            }
            plan.push((layer, self.select_with(&candidates, m, earlier)));
        }
        self.visited.give_back(visited);
        plan
    }

    /// The selection heuristic over candidates that may include batch members whose vectors
    /// are not in the index yet.
    fn select_with(
        &self,
        candidates: &[Scored],
        m: usize,
        earlier: &[(u32, &[f32], u8)],
    ) -> Vec<Scored> {
        let stored = self.len() as u32;
        let vector_of = |id: u32| -> &[f32] {
            if id < stored {
                self.vector_view().vector(id)
            } else {
                earlier
                    .iter()
                    .find(|(e, _, _)| *e == id)
                    .map_or(&[][..], |(_, v, _)| v)
            }
        };
        select_diverse(candidates, m, |a, b| {
            self.kernel.distance(vector_of(a), vector_of(b))
        })
    }

    fn apply_links(&mut self, id: u32, level: u8, plan: LinkPlan) {
        if self.entry.is_none() {
            self.entry = Some(id);
            self.max_level = level;
            return;
        }
        for (layer, neighbours) in plan {
            self.connect(id, layer, &neighbours);
        }
        if level > self.max_level {
            self.max_level = level;
            self.entry = Some(id);
        }
    }

    fn append_node(&mut self, vector: &[f32], level: u8) {
        self.vectors.make_mut().extend_from_slice(vector);
        let layer0 = self.layer0.make_mut();
        layer0.resize(layer0.len() + 1 + self.params.m0 as usize, 0);
        self.levels.make_mut().push(level);
        let stride_upper = self.stride_upper();
        let upper = self.upper_links.make_mut();
        self.upper_offsets.push(upper.len() as u32);
        upper.resize(upper.len() + usize::from(level) * stride_upper, 0);
        self.deleted.grow(self.len());
    }

    /// Writes `id`'s neighbour list on `layer` and adds `id` to each neighbour's list, pruning a
    /// full list with the selection heuristic.
    fn connect(&mut self, id: u32, layer: usize, neighbours: &[Scored]) {
        let (capacity, stride) = if layer == 0 {
            (self.params.m0 as usize, self.stride0())
        } else {
            (self.params.m as usize, self.stride_upper())
        };
        let vecs = VectorView {
            vectors: self.vectors.as_slice(),
            dims: self.dims,
            kernel: self.kernel,
        };
        let offsets = &self.upper_offsets;
        let row_start = |node: u32| {
            if layer == 0 {
                node as usize * stride
            } else {
                offsets[node as usize] as usize + (layer - 1) * stride
            }
        };
        let rows = if layer == 0 {
            self.layer0.make_mut()
        } else {
            self.upper_links.make_mut()
        };

        let start = row_start(id);
        rows[start] = neighbours.len() as u32;
        for (slot, n) in rows[start + 1..].iter_mut().zip(neighbours) {
            *slot = n.id;
        }

        for n in neighbours {
            let start = row_start(n.id);
            let count = rows[start] as usize;
            if count < capacity {
                rows[start + 1 + count] = id;
                rows[start] += 1;
                continue;
            }
            let base = vecs.vector(n.id);
            let mut candidates: Vec<Scored> = rows[start + 1..start + 1 + count]
                .iter()
                .map(|&other| Scored {
                    distance: vecs.distance_to(base, other),
                    id: other,
                })
                .collect();
            candidates.push(Scored {
                distance: n.distance,
                id,
            });
            candidates.sort_unstable();
            let kept = vecs.select_neighbours(&candidates, capacity);
            rows[start] = kept.len() as u32;
            for (slot, k) in rows[start + 1..].iter_mut().zip(&kept) {
                *slot = k.id;
            }
        }
    }
}
