//! candle 0.11's BERT on the same model, as snapkb ran it before its own forward pass (batches of
//! up to 32 texts padded to the longest, attention mask, intra-op threads): the baseline the
//! bench compares against. Built only with the `bench-candle` feature.

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

pub(crate) struct CandleMiniLm {
    model: BertModel,
    tokenizer: Tokenizer,
}

impl CandleMiniLm {
    pub(crate) fn load(dir: &Path) -> Result<Self, String> {
        let read = |f: &str| std::fs::read(dir.join(f)).map_err(|e| format!("{f}: {e}"));
        let config: Config =
            serde_json::from_slice(&read("config.json")?).map_err(|e| e.to_string())?;
        let vb = VarBuilder::from_buffered_safetensors(
            read("model.safetensors")?,
            DType::F32,
            &Device::Cpu,
        )
        .map_err(|e| e.to_string())?;
        let model = BertModel::load(vb, &config).map_err(|e| e.to_string())?;
        let mut tokenizer =
            Tokenizer::from_bytes(read("tokenizer.json")?).map_err(|e| e.to_string())?;
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: 256,
                ..Default::default()
            }))
            .map_err(|e| e.to_string())?;
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..Default::default()
        }));
        Ok(Self { model, tokenizer })
    }

    /// Unit vectors in input order, in length-sorted batches of 32.
    pub(crate) fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, String> {
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        let mut out = vec![Vec::new(); texts.len()];
        for group in order.chunks(32) {
            let batch: Vec<&str> = group.iter().map(|&i| texts[i]).collect();
            for (k, v) in self
                .embed_batch(&batch)
                .map_err(|e| e.to_string())?
                .into_iter()
                .enumerate()
            {
                out[group[k]] = v;
            }
        }
        Ok(out)
    }

    fn embed_batch(
        &self,
        texts: &[&str],
    ) -> Result<Vec<Vec<f32>>, Box<dyn std::error::Error + Send + Sync>> {
        let encodings = self.tokenizer.encode_batch(texts.to_vec(), true)?;
        let len = encodings.first().map_or(0, |e| e.get_ids().len());
        let mut ids = Vec::new();
        let mut mask = Vec::new();
        for e in &encodings {
            ids.extend_from_slice(e.get_ids());
            mask.extend_from_slice(e.get_attention_mask());
        }
        let rows = encodings.len();
        let ids = Tensor::from_vec(ids, (rows, len), &Device::Cpu)?;
        let mask = Tensor::from_vec(mask, (rows, len), &Device::Cpu)?;
        let hidden = self.model.forward(&ids, &ids.zeros_like()?, Some(&mask))?;
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let pooled = hidden
            .broadcast_mul(&mask)?
            .sum(1)?
            .broadcast_div(&mask.sum(1)?)?;
        let unit = pooled.broadcast_div(&pooled.sqr()?.sum_keepdim(1)?.sqrt()?)?;
        Ok(unit.to_vec2()?)
    }
}
