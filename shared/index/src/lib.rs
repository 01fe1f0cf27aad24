//! snapkb's index engine: our own HNSW graph, exact scan for small or heavily filtered sets,
//! a BM25 keyword index, metadata filters, reciprocal-rank fusion, and the CBOR codecs for
//! immutable snapshots and write-ahead segments.
//!
//! No I/O and no async runtime: the crate builds for `wasm32-unknown-unknown` as well as for
//! servers, and everything it decodes is validated so hostile bytes give errors, not panics.

mod distance;
mod error;
mod exact;
pub mod hnsw;
mod idset;
mod slab;
pub mod synthetic;
mod visited;

pub use crate::{
    distance::{Metric, kernel_name},
    error::{DecodeError, IndexError},
    exact::{FlatIndex, merge_nearest},
    hnsw::{Hnsw, HnswParams, MAX_K, Neighbor, SearchParams},
    idset::IdSet,
};
