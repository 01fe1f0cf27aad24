//! The BERT encoder of all-MiniLM-L6-v2 as our own forward pass: one sequence at a time (no
//! padding, no attention mask), dense layers on the `gemm` crate's packed f32 kernels or on our
//! int8 kernels (`quant`), and fused layernorm, GELU and softmax over buffers reused across layers.
//!
//! Why our own: a general tensor library (candle) spends most of a small model's time outside the
//! matrix products, in copies, broadcasts and single-threaded element-wise ops, and parallelizes
//! inside each product, where a 231-token product is too small to split well. Here each core runs
//! whole sequences and the element-wise work is folded into passes that are already reading the
//! data.

use safetensors::{Dtype, SafeTensors};

use crate::quant::{QuantizedMatrix, quantize_rows};

/// Shapes read from config.json; only what the forward pass needs.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub(crate) struct BertConfig {
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_attention_heads: usize,
    pub num_hidden_layers: usize,
    pub max_position_embeddings: usize,
    pub vocab_size: usize,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    #[serde(default = "default_act")]
    pub hidden_act: String,
}

fn default_eps() -> f64 {
    1e-12
}

fn default_act() -> String {
    "gelu".to_string()
}

/// How dense layers multiply: exact f32, or int8 weights and activations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    F32,
    Int8,
}

/// A dense layer's weights in the form its kernel reads.
enum DenseWeights {
    /// `inputs × outputs`, row-major (transposed from the file's `outputs × inputs`).
    F32(Vec<f32>),
    /// Per-output-row symmetric int8 in the file's `outputs × inputs` layout.
    Int8(QuantizedMatrix),
}

struct Dense {
    inputs: usize,
    outputs: usize,
    weights: DenseWeights,
    bias: Vec<f32>,
}

struct Norm {
    gamma: Vec<f32>,
    beta: Vec<f32>,
}

struct Layer {
    /// Query, key and value projections in one product (`hidden → 3 × hidden`).
    qkv: Dense,
    attention_out: Dense,
    attention_norm: Norm,
    intermediate: Dense,
    output: Dense,
    output_norm: Norm,
}

/// The loaded encoder.
pub(crate) struct Bert {
    config: BertConfig,
    eps: f32,
    word: Vec<f32>,
    /// Position embeddings with token type 0 already added (snapkb never uses type 1).
    position: Vec<f32>,
    embedding_norm: Norm,
    layers: Vec<Layer>,
}

/// Per-thread buffers, sized for the longest sequence seen so far and reused.
#[derive(Default)]
pub(crate) struct Scratch {
    hidden: Vec<f32>,
    qkv: Vec<f32>,
    context: Vec<f32>,
    projected: Vec<f32>,
    intermediate: Vec<f32>,
    scores: Vec<f32>,
    quantized: Vec<i16>,
    row_scales: Vec<f32>,
}

fn tensor(st: &SafeTensors<'_>, name: &str, shape: &[usize]) -> Result<Vec<f32>, String> {
    let view = st.tensor(name).map_err(|e| format!("{name}: {e}"))?;
    if view.dtype() != Dtype::F32 {
        return Err(format!("{name}: expected F32, found {:?}", view.dtype()));
    }
    if view.shape() != shape {
        return Err(format!(
            "{name}: expected shape {shape:?}, found {:?}",
            view.shape()
        ));
    }
    Ok(view
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

impl Dense {
    /// `rows` is the file's `outputs × inputs` matrix (several stacked for the fused QKV).
    fn new(rows: Vec<f32>, bias: Vec<f32>, inputs: usize, precision: Precision) -> Self {
        let outputs = bias.len();
        debug_assert_eq!(rows.len(), inputs * outputs);
        let weights = match precision {
            Precision::F32 => {
                let mut t = vec![0.0; rows.len()];
                for o in 0..outputs {
                    for i in 0..inputs {
                        t[i * outputs + o] = rows[o * inputs + i];
                    }
                }
                DenseWeights::F32(t)
            }
            Precision::Int8 => DenseWeights::Int8(QuantizedMatrix::new(&rows, outputs, inputs)),
        };
        Self {
            inputs,
            outputs,
            weights,
            bias,
        }
    }

    fn load(
        st: &SafeTensors<'_>,
        prefix: &str,
        inputs: usize,
        outputs: usize,
        precision: Precision,
    ) -> Result<Self, String> {
        let w = tensor(st, &format!("{prefix}.weight"), &[outputs, inputs])?;
        let b = tensor(st, &format!("{prefix}.bias"), &[outputs])?;
        Ok(Self::new(w, b, inputs, precision))
    }

    /// `out[tokens × outputs] = x[tokens × inputs] · W + bias`.
    fn forward(
        &self,
        x: &[f32],
        tokens: usize,
        out: &mut Vec<f32>,
        quantized: &mut Vec<i16>,
        row_scales: &mut Vec<f32>,
    ) {
        out.clear();
        match &self.weights {
            DenseWeights::F32(w) => {
                for _ in 0..tokens {
                    out.extend_from_slice(&self.bias);
                }
                let (k, n) = (self.inputs as isize, self.outputs as isize);
                // SAFETY: `x` holds tokens × inputs, `w` inputs × outputs and `out`
                // tokens × outputs elements, all row-major, and `out` aliases neither input.
                unsafe {
                    product(
                        (tokens, self.outputs, self.inputs),
                        (out.as_mut_ptr(), n, true),
                        (x.as_ptr(), k, 1),
                        (w.as_ptr(), n, 1),
                        1.0,
                    );
                }
            }
            DenseWeights::Int8(w) => {
                out.resize(tokens * self.outputs, 0.0);
                quantize_rows(x, self.inputs, quantized, row_scales);
                w.multiply(quantized, row_scales, &self.bias, out);
            }
        }
    }
}

impl Norm {
    fn load(st: &SafeTensors<'_>, prefix: &str, hidden: usize) -> Result<Self, String> {
        Ok(Self {
            gamma: tensor(st, &format!("{prefix}.weight"), &[hidden])?,
            beta: tensor(st, &format!("{prefix}.bias"), &[hidden])?,
        })
    }

    /// `x = layernorm(x + residual)` row by row (`residual` may be empty).
    fn apply(&self, x: &mut [f32], residual: &[f32], eps: f32) {
        let hidden = self.gamma.len();
        for (t, row) in x.chunks_exact_mut(hidden).enumerate() {
            if !residual.is_empty() {
                for (v, r) in row.iter_mut().zip(&residual[t * hidden..(t + 1) * hidden]) {
                    *v += r;
                }
            }
            let mean = row.iter().sum::<f32>() / hidden as f32;
            let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / hidden as f32;
            let inv = 1.0 / (var + eps).sqrt();
            for ((v, g), b) in row.iter_mut().zip(&self.gamma).zip(&self.beta) {
                *v = (*v - mean) * inv * g + b;
            }
        }
    }
}

impl Bert {
    /// Reads the encoder's weights from a safetensors file.
    pub(crate) fn load(
        bytes: &[u8],
        config: BertConfig,
        precision: Precision,
    ) -> Result<Self, String> {
        if config.hidden_act != "gelu" {
            return Err(format!(
                "config.json: hidden_act {:?} is not supported (gelu is)",
                config.hidden_act
            ));
        }
        let h = config.hidden_size;
        if config.num_attention_heads == 0 || !h.is_multiple_of(config.num_attention_heads) {
            return Err("config.json: hidden_size must be a multiple of the head count".into());
        }
        let st = SafeTensors::deserialize(bytes).map_err(|e| e.to_string())?;
        let word = tensor(
            &st,
            "embeddings.word_embeddings.weight",
            &[config.vocab_size, h],
        )?;
        let mut position = tensor(
            &st,
            "embeddings.position_embeddings.weight",
            &[config.max_position_embeddings, h],
        )?;
        let types = tensor(&st, "embeddings.token_type_embeddings.weight", &[2, h])?;
        for row in position.chunks_exact_mut(h) {
            for (p, t) in row.iter_mut().zip(&types[..h]) {
                *p += t;
            }
        }
        let embedding_norm = Norm::load(&st, "embeddings.LayerNorm", h)?;
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for l in 0..config.num_hidden_layers {
            let p = format!("encoder.layer.{l}");
            let mut qkv_w = Vec::with_capacity(3 * h * h);
            let mut qkv_b = Vec::with_capacity(3 * h);
            for part in ["query", "key", "value"] {
                qkv_w.extend(tensor(
                    &st,
                    &format!("{p}.attention.self.{part}.weight"),
                    &[h, h],
                )?);
                qkv_b.extend(tensor(
                    &st,
                    &format!("{p}.attention.self.{part}.bias"),
                    &[h],
                )?);
            }
            layers.push(Layer {
                qkv: Dense::new(qkv_w, qkv_b, h, precision),
                attention_out: Dense::load(
                    &st,
                    &format!("{p}.attention.output.dense"),
                    h,
                    h,
                    precision,
                )?,
                attention_norm: Norm::load(&st, &format!("{p}.attention.output.LayerNorm"), h)?,
                intermediate: Dense::load(
                    &st,
                    &format!("{p}.intermediate.dense"),
                    h,
                    config.intermediate_size,
                    precision,
                )?,
                output: Dense::load(
                    &st,
                    &format!("{p}.output.dense"),
                    config.intermediate_size,
                    h,
                    precision,
                )?,
                output_norm: Norm::load(&st, &format!("{p}.output.LayerNorm"), h)?,
            });
        }
        Ok(Self {
            eps: config.layer_norm_eps as f32,
            config,
            word,
            position,
            embedding_norm,
            layers,
        })
    }

    /// Rows of the word embedding table; every token id must be below it.
    pub(crate) fn vocab_size(&self) -> usize {
        self.config.vocab_size
    }

    /// The longest sequence the position embeddings cover.
    pub(crate) fn max_tokens(&self) -> usize {
        self.config.max_position_embeddings
    }

    /// Mean-pooled, L2-normalized embedding of one tokenized sequence (ids include [CLS] and
    /// [SEP]; every id is below the vocabulary size and there are at most `max_tokens`).
    pub(crate) fn embed(&self, ids: &[u32], s: &mut Scratch) -> Vec<f32> {
        let h = self.config.hidden_size;
        let tokens = ids.len();
        let heads = self.config.num_attention_heads;
        let d = h / heads;
        s.hidden.clear();
        for (t, &id) in ids.iter().enumerate() {
            let id = id as usize;
            let word = &self.word[id * h..(id + 1) * h];
            let pos = &self.position[t * h..(t + 1) * h];
            s.hidden.extend(word.iter().zip(pos).map(|(w, p)| w + p));
        }
        self.embedding_norm.apply(&mut s.hidden, &[], self.eps);
        let scale = 1.0 / (d as f32).sqrt();
        for layer in &self.layers {
            layer.qkv.forward(
                &s.hidden,
                tokens,
                &mut s.qkv,
                &mut s.quantized,
                &mut s.row_scales,
            );
            s.context.clear();
            s.context.resize(tokens * h, 0.0);
            s.scores.clear();
            s.scores.resize(tokens * tokens, 0.0);
            for head in 0..heads {
                attend(
                    &s.qkv,
                    tokens,
                    h,
                    head * d,
                    d,
                    scale,
                    &mut s.scores,
                    &mut s.context,
                );
            }
            layer.attention_out.forward(
                &s.context,
                tokens,
                &mut s.projected,
                &mut s.quantized,
                &mut s.row_scales,
            );
            layer
                .attention_norm
                .apply(&mut s.projected, &s.hidden, self.eps);
            std::mem::swap(&mut s.hidden, &mut s.projected);
            layer.intermediate.forward(
                &s.hidden,
                tokens,
                &mut s.intermediate,
                &mut s.quantized,
                &mut s.row_scales,
            );
            gelu(&mut s.intermediate);
            layer.output.forward(
                &s.intermediate,
                tokens,
                &mut s.projected,
                &mut s.quantized,
                &mut s.row_scales,
            );
            layer
                .output_norm
                .apply(&mut s.projected, &s.hidden, self.eps);
            std::mem::swap(&mut s.hidden, &mut s.projected);
        }
        let mut pooled = vec![0.0f32; h];
        for row in s.hidden.chunks_exact(h) {
            for (p, v) in pooled.iter_mut().zip(row) {
                *p += v;
            }
        }
        let norm = pooled.iter().map(|v| v * v).sum::<f32>().sqrt();
        if norm > 0.0 {
            for p in &mut pooled {
                *p /= norm;
            }
        }
        pooled
    }
}

/// One attention head: `context[:, offset..offset + d] = softmax(Q·Kᵀ·scale)·V`, reading Q, K
/// and V from the fused `qkv` rows (`tokens × 3h`).
#[allow(clippy::too_many_arguments)]
fn attend(
    qkv: &[f32],
    tokens: usize,
    h: usize,
    offset: usize,
    d: usize,
    scale: f32,
    scores: &mut [f32],
    context: &mut [f32],
) {
    let row = 3 * h as isize;
    let n = tokens as isize;
    // SAFETY: Q, K and V of this head are `tokens × d` views into `qkv` with row stride 3h (Kᵀ
    // read as `d × tokens` by swapping its strides); `scores` holds tokens × tokens and
    // `context` tokens × h elements; outputs alias no input.
    unsafe {
        product(
            (tokens, tokens, d),
            (scores.as_mut_ptr(), n, false),
            (qkv.as_ptr().add(offset), row, 1),
            (qkv.as_ptr().add(h + offset), 1, row),
            scale,
        );
    }
    for r in scores.chunks_exact_mut(tokens) {
        softmax(r);
    }
    // SAFETY: as above.
    unsafe {
        product(
            (tokens, d, tokens),
            (context.as_mut_ptr().add(offset), h as isize, false),
            (scores.as_ptr(), n, 1),
            (qkv.as_ptr().add(2 * h + offset), row, 1),
            1.0,
        );
    }
}

/// `dst (m × n) = [dst +] scale · lhs (m × k) · rhs (k × n)` on the `gemm` crate, one thread.
/// Each matrix is `(pointer, row stride, column stride)` (`dst` has column stride 1 and says
/// whether it is accumulated into).
///
/// # Safety
/// Every element the shapes and strides address must be inside its allocation, and `dst` must
/// alias neither input.
unsafe fn product(
    (m, n, k): (usize, usize, usize),
    (dst, dst_rs, accumulate): (*mut f32, isize, bool),
    (lhs, lhs_rs, lhs_cs): (*const f32, isize, isize),
    (rhs, rhs_rs, rhs_cs): (*const f32, isize, isize),
    scale: f32,
) {
    // SAFETY: the caller's contract.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            dst_rs,
            accumulate,
            lhs,
            lhs_cs,
            lhs_rs,
            rhs,
            rhs_cs,
            rhs_rs,
            if accumulate { 1.0 } else { 0.0 },
            scale,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// `e^x` for `x ≤ 0`-ish inputs to within a few ulp, written without branches so the loops that
/// call it vectorize.
#[inline(always)]
fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Adding and subtracting 1.5 × 2²³ rounds to the nearest integer without a rounding
    // instruction (SSE2 has none).
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let n = (x * LOG2E + ROUND) - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    // Cephes' expf polynomial on [-ln2/2, ln2/2].
    let p = 1.987_569_1e-4_f32;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 0.166_666_66;
    let p = p * r + 0.5;
    let e = p * r * r + r + 1.0;
    e * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

fn softmax(row: &mut [f32]) {
    let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    let mut sum = 0.0;
    for v in row.iter_mut() {
        *v = exp(*v - max);
        sum += *v;
    }
    let inv = 1.0 / sum;
    for v in row.iter_mut() {
        *v *= inv;
    }
}

/// BERT's exact (erf) GELU, with erf from Abramowitz and Stegun 7.1.26 (|error| ≤ 1.5e-7).
fn gelu(xs: &mut [f32]) {
    const P: f32 = 0.327_591_1;
    const A: [f32; 5] = [
        0.254_829_6,
        -0.284_496_72,
        1.421_413_8,
        -1.453_152_1,
        1.061_405_4,
    ];
    for x in xs.iter_mut() {
        let z = *x * std::f32::consts::FRAC_1_SQRT_2;
        let a = z.abs();
        let t = 1.0 / (1.0 + P * a);
        let poly = ((((A[4] * t + A[3]) * t + A[2]) * t + A[1]) * t + A[0]) * t;
        let erf_abs = 1.0 - poly * exp(-a * a);
        let erf = erf_abs.copysign(z);
        *x = 0.5 * *x * (1.0 + erf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_matches_the_standard_library_to_a_few_ulp() {
        for i in -8700..=100 {
            let x = i as f32 / 100.0;
            let (got, want) = (exp(x), x.exp());
            assert!(
                ((got - want) / want).abs() < 4e-7,
                "exp({x}) = {got}, want {want}"
            );
        }
    }

    #[test]
    fn gelu_matches_the_erf_definition() {
        let xs: Vec<f32> = (-600..=600).map(|i| i as f32 / 100.0).collect();
        let mut got = xs.clone();
        gelu(&mut got);
        for (x, g) in xs.iter().zip(got) {
            let want = 0.5 * *x as f64 * (1.0 + libm::erf(*x as f64 / std::f64::consts::SQRT_2));
            assert!(
                (g as f64 - want).abs() < 1e-6,
                "gelu({x}) = {g}, want {want}"
            );
        }
    }

    #[test]
    fn softmax_rows_sum_to_one_and_keep_order() {
        let mut row = vec![1.0, 3.0, -2.0, 3.0, 0.5];
        softmax(&mut row);
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(row[1] > row[0] && row[0] > row[4] && row[4] > row[2]);
        assert_eq!(row[1], row[3]);
    }
}
