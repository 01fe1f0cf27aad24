//! Dense layers for a few tokens (a search query): `out = x · W + bias` with `W` row-major
//! `inputs × outputs`, as register-blocked outer products. A general GEMM packs its operands for
//! large products; for a dozen rows that packing and its edge handling cost more than the
//! arithmetic, so queries take this path and passages the `gemm` crate's.

/// Token count up to which [`dense`] is used.
pub(crate) const MAX_TOKENS: usize = 24;
/// Outputs per register tile (three 8-lane vectors): twelve accumulators, three weight vectors
/// and one broadcast fit AVX2's sixteen registers.
const TILE_OUTPUTS: usize = 24;
/// Tokens per register tile.
const TILE_TOKENS: usize = 4;

/// `out[t × outputs + o] = bias[o] + Σ_k x[t × inputs + k] · w[k × outputs + o]`.
pub(crate) fn dense(x: &[f32], w: &[f32], bias: &[f32], inputs: usize, out: &mut [f32]) {
    let outputs = bias.len();
    debug_assert_eq!(w.len(), inputs * outputs);
    debug_assert_eq!(x.len() / inputs * outputs, out.len());
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has AVX2 and FMA, checked just above.
        unsafe { dense_avx2(x, w, bias, inputs, out) };
        return;
    }
    dense_portable(x, w, bias, inputs, out);
}

fn dense_portable(x: &[f32], w: &[f32], bias: &[f32], inputs: usize, out: &mut [f32]) {
    let outputs = bias.len();
    for (xr, or) in x.chunks_exact(inputs).zip(out.chunks_exact_mut(outputs)) {
        or.copy_from_slice(bias);
        for (k, &xv) in xr.iter().enumerate() {
            for (o, wv) in or.iter_mut().zip(&w[k * outputs..(k + 1) * outputs]) {
                *o += xv * wv;
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dense_avx2(x: &[f32], w: &[f32], bias: &[f32], inputs: usize, out: &mut [f32]) {
    use std::arch::x86_64::*;
    let outputs = bias.len();
    let tokens = x.len() / inputs;
    let full = outputs / TILE_OUTPUTS * TILE_OUTPUTS;
    // Whole tiles of 24 outputs: each weight block (inputs × 24) is read once per four tokens
    // and stays in cache for the next four.
    for o in (0..full).step_by(TILE_OUTPUTS) {
        let mut t = 0;
        while t < tokens {
            let rows = (tokens - t).min(TILE_TOKENS);
            // SAFETY: o + 24 ≤ outputs, so every 8-lane load and store below stays inside
            // `bias`, `w`'s row k and `out`'s row t + i; k < inputs and t + i < tokens.
            unsafe {
                let mut acc = [[_mm256_setzero_ps(); 3]; TILE_TOKENS];
                for row in acc.iter_mut().take(rows) {
                    for (j, a) in row.iter_mut().enumerate() {
                        *a = _mm256_loadu_ps(bias.as_ptr().add(o + 8 * j));
                    }
                }
                let wp = w.as_ptr().add(o);
                let xp = x.as_ptr().add(t * inputs);
                if rows == TILE_TOKENS {
                    for k in 0..inputs {
                        let wr = wp.add(k * outputs);
                        let wv = [
                            _mm256_loadu_ps(wr),
                            _mm256_loadu_ps(wr.add(8)),
                            _mm256_loadu_ps(wr.add(16)),
                        ];
                        for (i, row) in acc.iter_mut().enumerate() {
                            let xv = _mm256_broadcast_ss(&*xp.add(i * inputs + k));
                            for (a, wj) in row.iter_mut().zip(wv) {
                                *a = _mm256_fmadd_ps(xv, wj, *a);
                            }
                        }
                    }
                } else {
                    for k in 0..inputs {
                        let wr = wp.add(k * outputs);
                        for (i, row) in acc.iter_mut().enumerate().take(rows) {
                            let xv = _mm256_broadcast_ss(&*xp.add(i * inputs + k));
                            for (j, a) in row.iter_mut().enumerate() {
                                *a = _mm256_fmadd_ps(xv, _mm256_loadu_ps(wr.add(8 * j)), *a);
                            }
                        }
                    }
                }
                for (i, row) in acc.iter().enumerate().take(rows) {
                    let op = out.as_mut_ptr().add((t + i) * outputs + o);
                    for (j, a) in row.iter().enumerate() {
                        _mm256_storeu_ps(op.add(8 * j), *a);
                    }
                }
            }
            t += rows;
        }
    }
    // Outputs past the last whole tile (none for this model's sizes).
    if full < outputs {
        for t in 0..tokens {
            for o in full..outputs {
                let mut v = bias[o];
                for k in 0..inputs {
                    v += x[t * inputs + k] * w[k * outputs + o];
                }
                out[t * outputs + o] = v;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_computes_the_same_product() {
        // 7 tokens (a whole and a partial tile of four), 53 outputs (two whole tiles and a tail).
        let (tokens, inputs, outputs) = (7, 19, 53);
        let x: Vec<f32> = (0..tokens * inputs)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 25.0)
            .collect();
        let w: Vec<f32> = (0..inputs * outputs)
            .map(|i| ((i * 53 % 97) as f32 - 48.0) / 30.0)
            .collect();
        let bias: Vec<f32> = (0..outputs).map(|o| o as f32 / 10.0).collect();
        let mut fast = vec![0.0; tokens * outputs];
        dense(&x, &w, &bias, inputs, &mut fast);
        let mut portable = vec![0.0; tokens * outputs];
        dense_portable(&x, &w, &bias, inputs, &mut portable);
        for t in 0..tokens {
            for o in 0..outputs {
                let exact: f64 = bias[o] as f64
                    + (0..inputs)
                        .map(|k| x[t * inputs + k] as f64 * w[k * outputs + o] as f64)
                        .sum::<f64>();
                for got in [fast[t * outputs + o], portable[t * outputs + o]] {
                    assert!(
                        (got as f64 - exact).abs() < 1e-4,
                        "({t},{o}): {got} vs {exact}"
                    );
                }
            }
        }
    }
}
