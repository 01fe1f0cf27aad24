//! snapkb's index engine: our own HNSW graph, exact scan for small or heavily filtered sets,
//! a BM25 keyword index, metadata filters, reciprocal-rank fusion, and the CBOR codecs for
//! immutable snapshots and write-ahead segments.
//!
//! No I/O and no async runtime: the crate builds for `wasm32-unknown-unknown` as well as for
//! servers, and everything it decodes is validated so hostile bytes give errors, not panics.

mod chunks;
mod codec;
mod distance;
mod error;
mod exact;
mod filter;
mod fusion;
pub mod hnsw;
mod idset;
pub mod keyword;
mod slab;
pub mod synthetic;
mod visited;

pub use crate::{
    chunks::{
        Attributes, ChunkRecord, ChunkTable, ChunkTableBuilder, MetaValue, Metadata,
        SharedAttributes, keyword_text,
    },
    codec::{
        snapshot::{SNAPSHOT_FORMAT_VERSION, SNAPSHOT_MAGIC, Snapshot, SnapshotInfo},
        wal::{WAL_FORMAT_VERSION, WAL_MAGIC, WalHeader, WalSegment},
    },
    distance::{Metric, kernel_name},
    error::{DecodeError, IndexError},
    exact::{FlatIndex, merge_nearest},
    filter::{Filter, STOP_CHECK_ROWS, TAGS_FIELD},
    fusion::{
        DOCUMENT_BOOST, DOCUMENT_EVIDENCE_HITS, DOCUMENT_EVIDENCE_WINDOW, RRF_K, rank_by_document,
        reciprocal_rank_fusion, weighted_score_fusion,
    },
    hnsw::{Hnsw, HnswParams, MAX_K, Neighbor, SearchParams},
    idset::IdSet,
};

#[cfg(all(test, target_os = "wasi"))]
mod wasi_test_shims;
