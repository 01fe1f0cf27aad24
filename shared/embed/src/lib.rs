//! snapkb's document pipeline: turning documents into chunks measured in model word pieces,
//! chunks into vectors (all-MiniLM-L6-v2 by our own forward pass, or vectors the caller computed), and a
//! re-ingested document into the smallest change (unchanged chunks are never embedded again).
//!
//! The model is behind the `model` feature (gemm + safetensors + tokenizers) so edge builds can leave it out;
//! everything else is plain Rust that also builds for wasm32.

#[cfg(feature = "model")]
mod bert;
mod chunk;
mod document;
mod embedder;
mod error;
mod html;
mod markdown;
#[cfg(feature = "model")]
mod minilm;
mod pieces;
#[cfg(feature = "model")]
mod quant;
mod upsert;

#[cfg(feature = "model")]
pub use crate::minilm::{
    EMBED_THREADS_ENV, MODEL_DIR_ENV, MiniLm, Precision, TokenizerCounter, default_embed_threads,
    default_model_dir,
};
pub use crate::{
    chunk::{CONTEXT_SEPARATOR, Chunk, ChunkConfig, caller_chunks, chunk_text},
    document::MAX_ID_BYTES,
    document::{
        ContentType, SourceDocument, TextFormat, check_id, chunk_document, parse_document,
        validate_document,
    },
    embedder::{
        Embedded, Embedder, MINILM_DIMS, MINILM_INT8_MODEL_ID, MINILM_MAX_PIECES, MINILM_MODEL_ID,
        Provided,
    },
    error::{DocumentError, EmbedError},
    html::{HtmlText, html_text, html_to_markdown},
    markdown::{MAX_HEADING_BYTES, chunk_markdown},
    pieces::{PieceCounter, WordCounter},
    upsert::{DocumentRecord, UpsertPlan, plan_upsert},
};
