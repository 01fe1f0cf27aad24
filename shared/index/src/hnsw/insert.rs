//! Insertion: level assignment, descent, layer search with ef_construction, heuristic neighbour
//! selection and reverse links that are pruned with the same heuristic when a node is full.

use super::{
    Hnsw,
    graph::{Scored, VectorView},
};

impl Hnsw {
    /// Inserts a vector that is already validated (and normalized for cosine).
    pub(crate) fn insert_prepared(&mut self, vector: Vec<f32>) -> u32 {
        let id = self.len() as u32;
        let level = self.random_level();
        self.append_node(&vector, level);

        let Some(entry) = self.entry else {
            self.entry = Some(id);
            self.max_level = level;
            return id;
        };

        let view = self.view();
        let mut nearest = Scored {
            distance: view.distance_to(&vector, entry),
            id: entry,
        };
        for layer in (usize::from(level) + 1..=usize::from(self.max_level)).rev() {
            nearest = view.greedy(&vector, nearest, layer);
        }
        let ef = self.params.ef_construction as usize;
        let m = self.params.m as usize;
        let mut visited = self.visited.take(self.len());
        let mut entry_points = vec![nearest];
        let mut chosen: Vec<(usize, Vec<Scored>)> = Vec::new();
        for layer in (0..=usize::from(level.min(self.max_level))).rev() {
            visited.reset(self.len());
            let candidates =
                view.search_layer(&vector, &entry_points, ef, layer, &mut visited, |_| true);
            chosen.push((layer, view.vecs.select_neighbours(&candidates, m)));
            entry_points = candidates;
        }
        self.visited.give_back(visited);

        for (layer, neighbours) in chosen {
            self.connect(id, layer, &neighbours);
        }
        if level > self.max_level {
            self.max_level = level;
            self.entry = Some(id);
        }
        id
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
