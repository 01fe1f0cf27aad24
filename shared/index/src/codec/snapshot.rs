//! Index snapshots: everything needed to answer queries for one shard of one project at one
//! manifest version (chunk records, HNSW graph and vectors, BM25 postings, tombstones), written
//! once to object storage and never modified.
//!
//! Sections hold the in-memory arrays byte for byte (little-endian, 16-byte aligned), so
//! [`Snapshot::decode`] borrows them from the input instead of copying; it costs a checksum and a
//! validation pass over the graph.

use std::borrow::Cow;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::{
    columns::{
        BM25_POSTINGS, BM25_TERMS, Section, chunk_sections, column_sections, decode_chunks,
        decode_column, decode_u32s,
    },
    envelope,
};
use crate::{
    ChunkRecord, ChunkTable, ChunkTableBuilder, DecodeError, Hnsw, HnswParams, IdSet, IndexError,
    Metric,
    hnsw::HnswParts,
    keyword::{Bm25Builder, Bm25Index, Bm25Params},
    slab::{Slab, le_bytes},
};

/// First item of every snapshot.
pub const SNAPSHOT_MAGIC: &str = "snapkb.snapshot";
/// The snapshot layout this build writes; it reads format 1 too.
pub const SNAPSHOT_FORMAT_VERSION: u64 = 2;

/// Which project, shard and committed state a snapshot captures, and the model that made its
/// vectors (a snapshot is never mixed with vectors from another model).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotInfo {
    pub project_id: String,
    pub shard: u32,
    pub manifest_version: u64,
    pub model_id: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredHeader {
    info: SnapshotInfo,
    dims: u32,
    metric: Metric,
    hnsw: HnswParams,
    entries: u64,
    entry_point: Option<u32>,
    bm25: Bm25Params,
    bm25_terms: u64,
    bm25_total_len: u64,
}

/// A loaded (or freshly built) snapshot. Row `i` of `chunks` is vector `i` of `vectors` and
/// document `i` of `keywords`.
#[derive(Debug)]
pub struct Snapshot {
    pub info: SnapshotInfo,
    pub chunks: ChunkTable,
    pub vectors: Hnsw,
    pub keywords: Bm25Index,
}

impl Snapshot {
    /// Puts the three parts together, checking they describe the same rows.
    pub fn new(
        info: SnapshotInfo,
        chunks: ChunkTable,
        vectors: Hnsw,
        keywords: Bm25Index,
    ) -> Result<Self, IndexError> {
        if chunks.len() != vectors.len() || keywords.len() != vectors.len() {
            return Err(IndexError::InvalidParameter {
                name: "snapshot",
                reason: format!(
                    "{} chunks, {} vectors and {} keyword documents must be equal",
                    chunks.len(),
                    vectors.len(),
                    keywords.len()
                ),
            });
        }
        Ok(Self {
            info,
            chunks,
            vectors,
            keywords,
        })
    }

    /// Builds a snapshot from records and their vectors (`records.len() × dims` values).
    pub fn build(
        info: SnapshotInfo,
        dims: usize,
        metric: Metric,
        params: HnswParams,
        records: &[ChunkRecord],
        vectors: &[f32],
    ) -> Result<Self, IndexError> {
        if vectors.len() != records.len() * dims {
            return Err(IndexError::DimensionMismatch {
                expected: records.len() * dims,
                got: vectors.len(),
            });
        }
        let mut table = ChunkTableBuilder::default();
        let mut keywords = Bm25Builder::default();
        let mut index = Hnsw::new(dims, metric, params)?;
        index.reserve(records.len());
        for (record, vector) in records.iter().zip(vectors.chunks_exact(dims)) {
            table.push(record)?;
            keywords.add(&crate::chunks::keyword_text(&record.context, &record.text));
            index.insert(vector)?;
        }
        Self::new(
            info,
            table.build()?,
            index,
            keywords.build(Bm25Params::default())?,
        )
    }

    /// Rows that are not tombstoned.
    pub fn live_len(&self) -> usize {
        self.vectors.live_len()
    }

    /// Heap bytes held or borrowed by the loaded snapshot.
    pub fn memory_bytes(&self) -> usize {
        self.chunks.memory_bytes() + self.vectors.memory_bytes() + self.keywords.memory_bytes()
    }

    /// The snapshot's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let arrays = self.vectors.arrays();
        let header = StoredHeader {
            info: self.info.clone(),
            dims: self.vectors.dims() as u32,
            metric: self.vectors.metric(),
            hnsw: self.vectors.params(),
            entries: self.vectors.len() as u64,
            entry_point: arrays.entry,
            bm25: self.keywords.params,
            bm25_terms: self.keywords.terms.len() as u64,
            bm25_total_len: self.keywords.total_len,
        };
        let deleted: Vec<u8> = self
            .vectors
            .deleted()
            .words()
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect();
        let k = &self.keywords;
        let mut sections: Vec<Section<'_>> = vec![
            ("hnsw.vectors", le_bytes(arrays.vectors.as_slice())),
            ("hnsw.layer0", le_bytes(arrays.layer0.as_slice())),
            ("hnsw.levels", le_bytes(arrays.levels.as_slice())),
            ("hnsw.upper", le_bytes(arrays.upper_links.as_slice())),
            ("hnsw.deleted", Cow::Owned(deleted)),
        ];
        sections.extend(chunk_sections(&self.chunks));
        sections.extend(column_sections(BM25_TERMS, &k.terms));
        sections.extend(column_sections(BM25_POSTINGS, &k.postings));
        sections.push(("bm25.doc_freq", le_bytes(k.doc_freq.as_slice())));
        sections.push(("bm25.doc_lens", le_bytes(k.doc_lens.as_slice())));
        let refs: Vec<(&str, &[u8])> = sections.iter().map(|(n, d)| (*n, d.as_ref())).collect();
        envelope::encode(SNAPSHOT_MAGIC, SNAPSHOT_FORMAT_VERSION, &header, &refs)
    }

    /// Decodes and validates a snapshot. Arrays are borrowed from `bytes` where alignment
    /// allows (always, for buffers from the system allocator).
    pub fn decode(bytes: Bytes) -> Result<Self, DecodeError> {
        let env = envelope::decode::<StoredHeader>(
            bytes,
            "snapshot",
            SNAPSHOT_MAGIC,
            1..=SNAPSHOT_FORMAT_VERSION,
        )?;
        let h = &env.header;
        let n =
            usize::try_from(h.entries).map_err(|_| DecodeError::header("entries", "too large"))?;
        let levels = Slab::<u8>::from_le_bytes(env.section("hnsw.levels")?)
            .ok_or_else(|| DecodeError::section("hnsw.levels", "malformed"))?;
        if levels.len() != n {
            return Err(DecodeError::section(
                "hnsw.levels",
                format!("{} levels for {n} entries", levels.len()),
            ));
        }
        let deleted_bytes = env.section("hnsw.deleted")?;
        if deleted_bytes.len() != n.div_ceil(64) * 8 {
            return Err(DecodeError::section(
                "hnsw.deleted",
                "length does not match the entry count",
            ));
        }
        let words: Vec<u64> = deleted_bytes
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect();
        let deleted = IdSet::from_words(words, n)
            .ok_or_else(|| DecodeError::section("hnsw.deleted", "bits set past the entry count"))?;
        let vectors = Hnsw::from_parts(HnswParts {
            dims: h.dims as usize,
            metric: h.metric,
            params: h.hnsw,
            vectors: Slab::<f32>::from_le_bytes(env.section("hnsw.vectors")?)
                .ok_or_else(|| DecodeError::section("hnsw.vectors", "not whole f32 values"))?,
            layer0: decode_u32s(&env, "hnsw.layer0")?,
            levels,
            upper_links: decode_u32s(&env, "hnsw.upper")?,
            entry: h.entry_point,
            deleted,
        })?;

        let chunks = decode_chunks(&env, n)?;

        let terms = usize::try_from(h.bm25_terms)
            .map_err(|_| DecodeError::header("bm25_terms", "too large"))?;
        let keywords = Bm25Index {
            params: h.bm25,
            terms: decode_column(&env, BM25_TERMS, terms, true)?,
            postings: decode_column(&env, BM25_POSTINGS, terms, false)?,
            doc_freq: decode_u32s(&env, "bm25.doc_freq")?,
            doc_lens: decode_u32s(&env, "bm25.doc_lens")?,
            total_len: h.bm25_total_len,
        };
        if keywords.doc_lens.len() != n {
            return Err(DecodeError::section(
                "bm25.doc_lens",
                "length does not match the entry count",
            ));
        }
        keywords.validate()?;
        Ok(Self {
            info: env.header.info.clone(),
            chunks,
            vectors,
            keywords,
        })
    }
}
