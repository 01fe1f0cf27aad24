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

/// Objects handed to clients by link: written in parts as they are produced (no whole copy in
/// memory), then fetched by whoever holds a short-lived URL. Hosts whose responses are bounded
/// (Lambda: 6 MB) deliver exports this way; S3 implements it with multipart uploads and
/// presigned GETs.
#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
pub trait DownloadLinks: MaybeSendSync {
    /// The smallest part [`Self::upload_part`] takes, except the last.
    fn min_part_bytes(&self) -> usize;
    /// Starts an object at `key` written in parts; returns the upload's id.
    async fn start_upload(&self, key: &str) -> StoreResult<String>;
    /// Part `number` (1, 2, …) of an upload; returns the tag [`Self::finish_upload`] needs.
    async fn upload_part(
        &self,
        key: &str,
        upload: &str,
        number: i32,
        body: Bytes,
    ) -> StoreResult<String>;
    /// Makes the object out of the parts whose tags are given, in order.
    async fn finish_upload(&self, key: &str, upload: &str, tags: Vec<String>) -> StoreResult<()>;
    /// Drops an unfinished upload and its parts.
    async fn abort_upload(&self, key: &str, upload: &str) -> StoreResult<()>;
    /// A URL that fetches the object with a plain GET until `valid_for` has passed.
    async fn download_url(&self, key: &str, valid_for: std::time::Duration) -> StoreResult<String>;
}
