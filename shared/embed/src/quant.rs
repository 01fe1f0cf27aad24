//! Int8 dense layers: weights quantized once at load (symmetric, one scale per output row),
//! activations quantized per token on the fly, products accumulated exactly in i32 and scaled
//! back to f32. Values are stored widened to i16 so the AVX2 kernel multiplies with `vpmaddwd`
//! (sixteen products per instruction, no saturation) without converting in its inner loop; other
//! CPUs take a portable loop the compiler vectorizes.

/// Largest magnitude of a quantized value (symmetric int8).
const LEVELS: f32 = 127.0;
/// Outputs handled per pass over the tokens, so their weights stay in cache.
const OUTPUT_BLOCK: usize = 64;

/// A `rows × cols` matrix quantized per row.
pub(crate) struct QuantizedMatrix {
    rows: usize,
    cols: usize,
    values: Vec<i16>,
    scales: Vec<f32>,
}

/// Rounds to the nearest integer without a rounding instruction (SSE2 has none), so loops
/// vectorize; exact for |x| < 2²².
#[inline(always)]
fn round(x: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0;
    (x + MAGIC) - MAGIC
}

fn quantize_row(row: &[f32], out: &mut Vec<i16>) -> f32 {
    let max = row.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let scale = if max > 0.0 { max / LEVELS } else { 1.0 };
    let inv = 1.0 / scale;
    out.extend(row.iter().map(|v| round(v * inv) as i16));
    scale
}

/// Quantizes each `cols`-wide row of `x` into `values`, one scale per row into `scales`.
pub(crate) fn quantize_rows(x: &[f32], cols: usize, values: &mut Vec<i16>, scales: &mut Vec<f32>) {
    values.clear();
    scales.clear();
    for row in x.chunks_exact(cols) {
        scales.push(quantize_row(row, values));
    }
}

impl QuantizedMatrix {
    /// Quantizes `w` (`rows × cols`, row-major).
    pub(crate) fn new(w: &[f32], rows: usize, cols: usize) -> Self {
        let mut values = Vec::with_capacity(rows * cols);
        let scales = w
            .chunks_exact(cols)
            .map(|row| quantize_row(row, &mut values))
            .collect();
        Self {
            rows,
            cols,
            values,
            scales,
        }
    }

    /// `out[t × rows + r] = a_scales[t] · scales[r] · (a[t] · values[r]) + bias[r]` for the
    /// quantized tokens `a` (`tokens × cols`).
    pub(crate) fn multiply(&self, a: &[i16], a_scales: &[f32], bias: &[f32], out: &mut [f32]) {
        let tokens = a_scales.len();
        debug_assert_eq!(a.len(), tokens * self.cols);
        debug_assert_eq!(out.len(), tokens * self.rows);
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, checked just above.
            unsafe { self.multiply_avx2(a, a_scales, bias, out) };
            return;
        }
        self.multiply_portable(a, a_scales, bias, out);
    }

    fn store(&self, out: &mut [f32], t: usize, r: usize, dot: i32, a_scale: f32, bias: &[f32]) {
        out[t * self.rows + r] = dot as f32 * a_scale * self.scales[r] + bias[r];
    }

    fn multiply_portable(&self, a: &[i16], a_scales: &[f32], bias: &[f32], out: &mut [f32]) {
        let cols = self.cols;
        for block in (0..self.rows).step_by(OUTPUT_BLOCK) {
            let end = (block + OUTPUT_BLOCK).min(self.rows);
            for (t, x) in a.chunks_exact(cols).enumerate() {
                for r in block..end {
                    let w = &self.values[r * cols..(r + 1) * cols];
                    let dot: i32 = x.iter().zip(w).map(|(&p, &q)| p as i32 * q as i32).sum();
                    self.store(out, t, r, dot, a_scales[t], bias);
                }
            }
        }
    }

    /// Tiles of four tokens × two outputs: eight accumulators and six loads per sixteen columns,
    /// which fits AVX2's sixteen registers.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn multiply_avx2(&self, a: &[i16], a_scales: &[f32], bias: &[f32], out: &mut [f32]) {
        use std::arch::x86_64::*;
        let cols = self.cols;
        let tokens = a_scales.len();
        let lanes = cols / 16 * 16;
        let hsum = |v: __m256i| -> i32 {
            let s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
            let s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0b01_00_11_10));
            let s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0b10_11_00_01));
            _mm_cvtsi128_si32(s)
        };
        let tail = |x: &[i16], w: &[i16]| -> i32 {
            x[lanes..]
                .iter()
                .zip(&w[lanes..])
                .map(|(&p, &q)| p as i32 * q as i32)
                .sum()
        };
        for block in (0..self.rows).step_by(OUTPUT_BLOCK) {
            let end = (block + OUTPUT_BLOCK).min(self.rows);
            let mut t = 0;
            while t < tokens {
                let tile = (tokens - t).min(4);
                let mut r = block;
                while r < end {
                    let pair = (end - r).min(2);
                    let mut acc = [[_mm256_setzero_si256(); 2]; 4];
                    let xs: [&[i16]; 4] =
                        std::array::from_fn(|i| &a[(t + i.min(tile - 1)) * cols..][..cols]);
                    let ws: [&[i16]; 2] = std::array::from_fn(|j| {
                        &self.values[(r + j.min(pair - 1)) * cols..][..cols]
                    });
                    let mut c = 0;
                    while c < lanes {
                        // SAFETY: c + 16 ≤ lanes ≤ cols, the length of every row slice.
                        let w0 = unsafe { _mm256_loadu_si256(ws[0].as_ptr().add(c).cast()) };
                        let w1 = unsafe { _mm256_loadu_si256(ws[1].as_ptr().add(c).cast()) };
                        for i in 0..4 {
                            // SAFETY: as above.
                            let x = unsafe { _mm256_loadu_si256(xs[i].as_ptr().add(c).cast()) };
                            acc[i][0] = _mm256_add_epi32(acc[i][0], _mm256_madd_epi16(x, w0));
                            acc[i][1] = _mm256_add_epi32(acc[i][1], _mm256_madd_epi16(x, w1));
                        }
                        c += 16;
                    }
                    for i in 0..tile {
                        for j in 0..pair {
                            let dot = hsum(acc[i][j]) + tail(xs[i], ws[j]);
                            self.store(out, t + i, r + j, dot, a_scales[t + i], bias);
                        }
                    }
                    r += pair;
                }
                t += tile;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matrix(rows: usize, cols: usize, seed: u32) -> Vec<f32> {
        (0..rows * cols)
            .map(|i| {
                let v = (i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) >> 8;
                (v % 2001) as f32 / 1000.0 - 1.0
            })
            .collect()
    }

    #[test]
    fn quantized_products_are_close_to_f32_and_both_kernels_agree() {
        // 37 columns: two full 16-lane steps and a tail; 7 tokens and 5 outputs: partial tiles.
        let (tokens, rows, cols) = (7, 5, 37);
        let w = matrix(rows, cols, 1);
        let x = matrix(tokens, cols, 2);
        let bias: Vec<f32> = (0..rows).map(|r| r as f32 * 0.1).collect();
        let m = QuantizedMatrix::new(&w, rows, cols);
        let (mut q, mut s) = (Vec::new(), Vec::new());
        quantize_rows(&x, cols, &mut q, &mut s);
        let mut fast = vec![0.0; tokens * rows];
        m.multiply(&q, &s, &bias, &mut fast);
        let mut portable = vec![0.0; tokens * rows];
        m.multiply_portable(&q, &s, &bias, &mut portable);
        assert_eq!(fast, portable);
        for t in 0..tokens {
            for r in 0..rows {
                let exact: f32 = (0..cols).map(|c| x[t * cols + c] * w[r * cols + c]).sum();
                let got = fast[t * rows + r] - bias[r];
                assert!((got - exact).abs() < 0.05, "({t},{r}): {got} vs {exact}");
            }
        }
    }

    #[test]
    fn a_zero_row_quantizes_to_zeros() {
        let (mut q, mut s) = (Vec::new(), Vec::new());
        quantize_rows(&[0.0; 4], 4, &mut q, &mut s);
        assert_eq!(q, vec![0; 4]);
        assert_eq!(s, vec![1.0]);
    }
}
