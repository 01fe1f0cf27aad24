//! Write-ahead segments: the chunks, vectors and tombstones of one committed ingest, written as
//! one immutable object before the manifest commit that makes them visible.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::{
    columns::{Section, TOMBSTONES, chunk_sections, column_sections, decode_chunks, decode_column},
    envelope,
};
use crate::{
    ChunkRecord, ChunkTable, ChunkTableBuilder, DecodeError, IndexError, Metric,
    chunks::Column,
    distance::validate_vector,
    slab::{Slab, le_bytes},
};

/// First item of every WAL segment.
pub const WAL_MAGIC: &str = "snapkb.wal";
/// The WAL layout this build writes; it reads format 1 too.
pub const WAL_FORMAT_VERSION: u64 = 2;

/// Where a segment belongs: project, shard, its place in the commit sequence, and the model and
/// vector space of its vectors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalHeader {
    pub project_id: String,
    pub shard: u32,
    pub sequence: u64,
    pub model_id: String,
    pub dims: u32,
    pub metric: Metric,
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredWalHeader {
    header: WalHeader,
    chunks: u64,
    tombstones: u64,
}

/// New chunks with their vectors (`chunks.len() × dims` values, row order) and the ids of
/// chunks this commit deletes.
#[derive(Debug, Clone)]
pub struct WalSegment {
    pub header: WalHeader,
    pub chunks: ChunkTable,
    pub vectors: Vec<f32>,
    pub tombstones: Vec<String>,
}

impl WalSegment {
    /// A segment from records, checking every vector's length and values and that chunk ids are
    /// unique.
    pub fn new(
        header: WalHeader,
        records: &[ChunkRecord],
        vectors: Vec<f32>,
        tombstones: Vec<String>,
    ) -> Result<Self, IndexError> {
        let dims = header.dims as usize;
        if dims == 0 || vectors.len() != records.len() * dims {
            return Err(IndexError::DimensionMismatch {
                expected: records.len() * dims,
                got: vectors.len(),
            });
        }
        for v in vectors.chunks_exact(dims) {
            validate_vector(v, dims, header.metric)?;
        }
        let mut table = ChunkTableBuilder::default();
        for r in records {
            table.push(r)?;
        }
        Ok(Self {
            header,
            chunks: table.build()?,
            vectors,
            tombstones,
        })
    }

    /// The vector of row `row`.
    pub fn vector(&self, row: u32) -> Option<&[f32]> {
        let dims = self.header.dims as usize;
        let start = (row as usize).checked_mul(dims)?;
        self.vectors.get(start..start + dims)
    }

    pub fn encode(&self) -> Vec<u8> {
        let stored = StoredWalHeader {
            header: self.header.clone(),
            chunks: self.chunks.len() as u64,
            tombstones: self.tombstones.len() as u64,
        };
        let mut tombstones = Column::new();
        for id in &self.tombstones {
            // A u32 offset overflow needs > 4 GiB of ids in one segment; ingest limits are far
            // below, and a failed push only drops ids past that point from an impossible input.
            if tombstones.push(id.as_bytes()).is_err() {
                break;
            }
        }
        let mut sections: Vec<Section<'_>> = vec![("vectors", le_bytes(&self.vectors))];
        sections.extend(chunk_sections(&self.chunks));
        sections.extend(column_sections(TOMBSTONES, &tombstones));
        let refs: Vec<(&str, &[u8])> = sections.iter().map(|(n, d)| (*n, d.as_ref())).collect();
        envelope::encode(WAL_MAGIC, WAL_FORMAT_VERSION, &stored, &refs)
    }

    pub fn decode(bytes: Bytes) -> Result<Self, DecodeError> {
        let env = envelope::decode::<StoredWalHeader>(
            bytes,
            "WAL segment",
            WAL_MAGIC,
            1..=WAL_FORMAT_VERSION,
        )?;
        let h = &env.header;
        let n =
            usize::try_from(h.chunks).map_err(|_| DecodeError::header("chunks", "too large"))?;
        let dims = h.header.dims as usize;
        if dims == 0 || dims > crate::hnsw::MAX_DIMS {
            return Err(DecodeError::header(
                "dims",
                format!("{dims} is out of range"),
            ));
        }
        let vectors = Slab::<f32>::from_le_bytes(env.section("vectors")?)
            .ok_or_else(|| DecodeError::section("vectors", "not whole f32 values"))?;
        if Some(vectors.len()) != n.checked_mul(dims) {
            return Err(DecodeError::section(
                "vectors",
                format!("{} values for {n} chunks of {dims}", vectors.len()),
            ));
        }
        let vectors = vectors.as_slice().to_vec();
        for (row, v) in vectors.chunks_exact(dims).enumerate() {
            validate_vector(v, dims, h.header.metric)
                .map_err(|e| DecodeError::section("vectors", format!("row {row}: {e}")))?;
        }
        let chunks = decode_chunks(&env, n)?;
        let count = usize::try_from(h.tombstones)
            .map_err(|_| DecodeError::header("tombstones", "too large"))?;
        let tombstone_column = decode_column(&env, TOMBSTONES, count, true)?;
        let tombstones = (0..count)
            .filter_map(|i| tombstone_column.get_str(i).map(str::to_string))
            .collect();
        Ok(Self {
            header: h.header.clone(),
            chunks,
            vectors,
            tombstones,
        })
    }
}
