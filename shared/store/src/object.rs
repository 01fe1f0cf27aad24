//! The object-store port: immutable objects by key (snapshots, WAL segments, exports).

use std::ops::Range;

use bytes::Bytes;

use crate::{MaybeSendSync, StoreResult};

/// What `head` and `list` report about an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    pub key: String,
    pub size: u64,
}

/// One page of a listing, keys in ascending order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPage {
    pub objects: Vec<ObjectMeta>,
    /// Pass as `after` to get the next page; `None` when this was the last.
    pub next_after: Option<String>,
}

impl ListPage {
    /// A page from up to `limit + 1` objects in key order: the extra one only tells that more
    /// follow.
    pub fn from_overfetched(objects: Vec<ObjectMeta>, limit: usize) -> Self {
        let (objects, next_after) = crate::meta::paginate(objects, limit, |o| o.key.clone());
        Self {
            objects,
            next_after,
        }
    }
}

/// Objects addressed by key. snapkb never overwrites an object it wrote; `put_if_absent` is how
/// writers claim a key, `put` exists for adapters' own use and for tests.
#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
pub trait ObjectStore: MaybeSendSync {
    /// Writes (or replaces) an object. Readers see the old or the new bytes, never a mix.
    async fn put(&self, key: &str, body: Bytes) -> StoreResult<()>;
    /// Writes an object only if `key` is free; returns whether this call created it.
    async fn put_if_absent(&self, key: &str, body: Bytes) -> StoreResult<bool>;
    async fn get(&self, key: &str) -> StoreResult<Bytes>;
    /// Bytes `range` of an object; a range past the end is clipped to the object.
    async fn get_range(&self, key: &str, range: Range<u64>) -> StoreResult<Bytes>;
    async fn head(&self, key: &str) -> StoreResult<Option<ObjectMeta>>;
    /// Deletes an object; deleting a missing key is not an error.
    async fn delete(&self, key: &str) -> StoreResult<()>;
    /// Up to `limit` objects whose keys start with `prefix` and sort after `after`.
    async fn list(&self, prefix: &str, after: Option<&str>, limit: usize) -> StoreResult<ListPage>;
}
