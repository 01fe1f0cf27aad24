//! The embedder interface, and checks for vectors callers bring themselves.

use crate::EmbedError;

/// Model id of all-MiniLM-L6-v2, as projects record it.
pub const MINILM_MODEL_ID: &str = "sentence-transformers/all-MiniLM-L6-v2";
/// Model id of the same model with int8 dense layers (quantized at load from the same weights);
/// its own id, so its vectors never mix with the exact model's.
pub const MINILM_INT8_MODEL_ID: &str = "sentence-transformers/all-MiniLM-L6-v2-int8";
/// Its vector dimensions.
pub const MINILM_DIMS: usize = 384;
/// Word pieces it reads per text, [CLS] and [SEP] included; longer texts are truncated.
pub const MINILM_MAX_PIECES: usize = 256;

/// Vectors for a batch of texts, in input order.
#[derive(Debug, Clone, PartialEq)]
pub struct Embedded {
    /// Unit-length vectors, one per text.
    pub vectors: Vec<Vec<f32>>,
    /// Word pieces the model read for each text (special tokens included, after truncation).
    pub pieces: Vec<usize>,
    /// Whether each text was longer than the model reads and was cut.
    pub truncated: Vec<bool>,
}

/// Turns texts into unit-length vectors.
pub trait Embedder: Send + Sync {
    /// A stable id of the model (stored with every snapshot; vectors of different models never mix).
    fn model_id(&self) -> &str;
    fn dims(&self) -> usize;
    fn embed(&self, texts: &[&str]) -> Result<Embedded, EmbedError>;
}

/// Vectors the caller computed: checked against the project's dimensions and for finite,
/// non-zero values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Provided {
    pub dims: usize,
}

impl Provided {
    /// Checks `vectors`, one per text of `expected` texts.
    pub fn check(&self, vectors: &[Vec<f32>], expected: usize) -> Result<(), EmbedError> {
        if vectors.len() != expected {
            return Err(EmbedError::CountMismatch {
                expected,
                got: vectors.len(),
            });
        }
        for (index, v) in vectors.iter().enumerate() {
            if v.len() != self.dims {
                return Err(EmbedError::DimensionMismatch {
                    index,
                    expected: self.dims,
                    got: v.len(),
                });
            }
            if let Some(position) = v.iter().position(|x| !x.is_finite()) {
                return Err(EmbedError::NonFinite { index, position });
            }
            if v.iter().all(|&x| x == 0.0) {
                return Err(EmbedError::ZeroVector { index });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provided_vectors_are_checked_with_errors_naming_the_vector() {
        let p = Provided { dims: 3 };
        assert_eq!(p.check(&[vec![1.0, 0.0, 0.0]], 1), Ok(()));
        assert_eq!(
            p.check(&[], 1),
            Err(EmbedError::CountMismatch {
                expected: 1,
                got: 0
            })
        );
        assert_eq!(
            p.check(&[vec![1.0, 0.0, 0.0], vec![1.0]], 2),
            Err(EmbedError::DimensionMismatch {
                index: 1,
                expected: 3,
                got: 1
            })
        );
        assert_eq!(
            p.check(&[vec![1.0, f32::NAN, 0.0]], 1),
            Err(EmbedError::NonFinite {
                index: 0,
                position: 1
            })
        );
        assert_eq!(
            p.check(&[vec![0.0; 3]], 1),
            Err(EmbedError::ZeroVector { index: 0 })
        );
    }
}
