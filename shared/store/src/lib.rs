//! Storage ports: an object store for immutable snapshots and WAL segments, and a
//! DynamoDB-shaped key-value table for everything that must change atomically (the manifest,
//! documents, keys, counters). In-memory adapters, and the conformance suite that every adapter
//! (memory, local files + embedded KV, S3 + DynamoDB, edge) must pass.
//!
//! Traits are async and work on multi-threaded tokio and on single-threaded wasm: futures are
//! `Send` except on wasm targets.

mod error;
mod memory;
mod meta;
mod object;
mod outbound;

pub mod conformance;

pub use crate::{
    error::{StoreError, StoreResult},
    memory::{MemoryMetaStore, MemoryObjectStore},
    meta::{
        Condition, Item, ItemRange, MAX_TRANSACT_WRITES, MetaStore, QueryPage, TransactWrite,
        counter_value, next_counter, validate_transaction,
    },
    object::{DownloadLinks, ListPage, ObjectMeta, ObjectStore},
    outbound::{Outbound, OutboundError, OutboundRequest, OutboundResponse},
};

/// `Send + Sync` where threads exist; nothing on wasm, where handles are single-threaded.
#[cfg(not(target_family = "wasm"))]
pub trait MaybeSendSync: Send + Sync {}
#[cfg(not(target_family = "wasm"))]
impl<T: Send + Sync + ?Sized> MaybeSendSync for T {}
/// `Send + Sync` where threads exist; nothing on wasm, where handles are single-threaded.
#[cfg(target_family = "wasm")]
pub trait MaybeSendSync {}
#[cfg(target_family = "wasm")]
impl<T: ?Sized> MaybeSendSync for T {}
