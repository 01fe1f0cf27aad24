//! Seeded synthetic vector sets for tests and benchmarks: Gaussian clusters on the unit sphere,
//! the shape (many tight topics) on which HNSW without the selection heuristic falls apart.
//!
//! By default each cluster varies along its own few random directions (`intrinsic_dims`), as
//! real embeddings do (a topic spans a low-dimensional manifold). With `intrinsic_dims = 0` the
//! noise is isotropic in all dimensions: then every point of a cluster is almost equidistant
//! from every other (distance concentration), a much harder and less realistic case that the
//! benchmark also reports (docs/benchmarks.md).

use rand::{Rng, SeedableRng, rngs::SmallRng};

/// Parameters of a clustered data set.
#[derive(Debug, Clone, Copy)]
pub struct Clustered {
    pub dims: usize,
    pub centres: usize,
    /// Norm of the noise added to a centre, relative to the centre's unit norm.
    pub spread: f32,
    /// Directions each cluster varies along; 0 means isotropic noise in all `dims`.
    pub intrinsic_dims: usize,
    pub seed: u64,
}

impl Default for Clustered {
    fn default() -> Self {
        Self {
            dims: 384,
            centres: 1000,
            spread: 1.0,
            intrinsic_dims: 16,
            seed: 7,
        }
    }
}

impl Clustered {
    /// `centres` clusters in `dims` dimensions with isotropic noise of spread 1.0.
    pub fn new(dims: usize, centres: usize, seed: u64) -> Self {
        Self {
            dims,
            centres,
            spread: 1.0,
            intrinsic_dims: 0,
            seed,
        }
    }

    /// The same clusters with noise of norm `spread` relative to a centre's.
    pub fn spread(self, spread: f32) -> Self {
        Self { spread, ..self }
    }

    /// The same clusters, each varying along only `intrinsic_dims` directions.
    pub fn intrinsic_dims(self, intrinsic_dims: usize) -> Self {
        Self {
            intrinsic_dims,
            ..self
        }
    }

    /// `n` normalized vectors, `n × dims` values. Points are drawn round-robin over the centres
    /// with per-point noise, so any prefix is itself clustered. Different `stream`s give
    /// different points around the same centres (e.g. base vectors and queries).
    pub fn generate(&self, n: usize, stream: u64) -> Vec<f32> {
        let mut centre_rng = SmallRng::seed_from_u64(self.seed);
        let mut centres = vec![0.0f32; self.centres * self.dims];
        for c in centres.chunks_exact_mut(self.dims) {
            fill_gaussian(&mut centre_rng, c, 1.0);
            normalize(c);
        }
        // Each cluster's own unit directions (only used with intrinsic_dims > 0).
        let k = self.intrinsic_dims;
        let mut directions = vec![0.0f32; self.centres * k * self.dims];
        for d in directions.chunks_exact_mut(self.dims) {
            fill_gaussian(&mut centre_rng, d, 1.0);
            normalize(d);
        }
        let mut rng =
            SmallRng::seed_from_u64(self.seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut out = vec![0.0f32; n * self.dims];
        let mut weights = vec![0.0f32; k];
        for (i, v) in out.chunks_exact_mut(self.dims).enumerate() {
            let cluster = i % self.centres;
            if k == 0 {
                fill_gaussian(&mut rng, v, self.spread / (self.dims as f32).sqrt());
            } else {
                fill_gaussian(&mut rng, &mut weights, self.spread / (k as f32).sqrt());
                let dirs = &directions[cluster * k * self.dims..][..k * self.dims];
                for (w, d) in weights.iter().zip(dirs.chunks_exact(self.dims)) {
                    for (x, y) in v.iter_mut().zip(d) {
                        *x += w * y;
                    }
                }
            }
            let c = &centres[cluster * self.dims..][..self.dims];
            for (x, y) in v.iter_mut().zip(c) {
                *x += y;
            }
            normalize(v);
        }
        out
    }
}

fn fill_gaussian(rng: &mut SmallRng, out: &mut [f32], sigma: f32) {
    // Box–Muller: two uniforms give two independent standard normals.
    for pair in out.chunks_mut(2) {
        let u1: f64 = 1.0 - rng.random::<f64>();
        let u2: f64 = rng.random::<f64>();
        let r = (-2.0 * u1.ln()).sqrt();
        let t = std::f64::consts::TAU * u2;
        pair[0] = (r * t.cos()) as f32 * sigma;
        if let Some(second) = pair.get_mut(1) {
            *second = (r * t.sin()) as f32 * sigma;
        }
    }
}

fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

/// A distinct pseudo-random vector per seed (splitmix64 of seed and component), components in
/// [-0.5, 0.5): for tests that need many unrelated vectors without a generator to carry around.
pub fn seeded_vector(seed: u64, dims: usize) -> Vec<f32> {
    (0..dims as u64)
        .map(|i| {
            let mut z = seed
                .wrapping_mul(0x9e37_79b9_7f4a_7c15)
                .wrapping_add(i.wrapping_mul(0xbf58_476d_1ce4_e5b9))
                ^ 0x94d0_49bb_1331_11eb;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            (z % 10_000) as f32 / 10_000.0 - 0.5
        })
        .collect()
}

/// Recall@k of `found` against the exact answer `truth` (ids), averaged over queries.
pub fn recall(found: &[Vec<u32>], truth: &[Vec<u32>], k: usize) -> f64 {
    let mut hits = 0usize;
    let mut total = 0usize;
    for (f, t) in found.iter().zip(truth) {
        let t = &t[..t.len().min(k)];
        hits += f.iter().take(k).filter(|id| t.contains(id)).count();
        total += t.len();
    }
    if total == 0 {
        1.0
    } else {
        hits as f64 / total as f64
    }
}
