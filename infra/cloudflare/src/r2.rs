//! The object-store port on R2: snapshots, WAL segments and exports. `put_if_absent` is a put
//! with `onlyIf: { etagDoesNotMatch: "*" }`, which R2 checks atomically (S3's If-None-Match).

use std::ops::Range;

use bytes::Bytes;
use snapkb_store::{ListPage, ObjectMeta, ObjectStore, StoreError, StoreResult};
use worker::{Bucket, Conditional, Data, Range as R2Range};

pub struct R2Objects {
    bucket: Bucket,
}

impl R2Objects {
    pub fn new(bucket: Bucket) -> Self {
        Self { bucket }
    }
}

fn unavailable(op: &str, key: &str, e: worker::Error) -> StoreError {
    StoreError::Unavailable(format!("R2 {op} `{key}`: {e}"))
}

/// The bytes of a GET's answer; `None` (no such object) is `NotFound`.
async fn body_of(key: &str, object: Option<worker::Object>) -> StoreResult<Bytes> {
    let object = object.ok_or_else(|| StoreError::NotFound { key: key.into() })?;
    let body = object
        .body()
        .ok_or_else(|| StoreError::Backend(format!("R2 get `{key}` has no body")))?;
    Ok(Bytes::from(
        body.bytes()
            .await
            .map_err(|e| unavailable("read", key, e))?,
    ))
}

#[async_trait::async_trait(?Send)]
impl ObjectStore for R2Objects {
    async fn put(&self, key: &str, body: Bytes) -> StoreResult<()> {
        self.bucket
            .put(key, Data::Bytes(body.to_vec()))
            .execute()
            .await
            .map_err(|e| unavailable("put", key, e))?;
        Ok(())
    }

    async fn put_if_absent(&self, key: &str, body: Bytes) -> StoreResult<bool> {
        let written = self
            .bucket
            .put(key, Data::Bytes(body.to_vec()))
            .only_if(Conditional {
                etag_does_not_match: Some("*".into()),
                ..Default::default()
            })
            .execute()
            .await
            .map_err(|e| unavailable("put", key, e))?;
        Ok(written.is_some())
    }

    async fn get(&self, key: &str) -> StoreResult<Bytes> {
        let object = self
            .bucket
            .get(key)
            .execute()
            .await
            .map_err(|e| unavailable("get", key, e))?;
        body_of(key, object).await
    }

    async fn get_range(&self, key: &str, range: Range<u64>) -> StoreResult<Bytes> {
        if range.start >= range.end {
            return match self.head(key).await? {
                Some(_) => Ok(Bytes::new()),
                None => Err(StoreError::NotFound { key: key.into() }),
            };
        }
        let ranged = |start: u64, end: u64| {
            self.bucket
                .get(key)
                .range(R2Range::OffsetWithLength {
                    offset: start,
                    length: end - start,
                })
                .execute()
        };
        match ranged(range.start, range.end).await {
            Ok(object) => body_of(key, object).await,
            // R2 refuses a range that starts past the end; the port clips it to the object.
            Err(first) => {
                let size = self
                    .head(key)
                    .await?
                    .ok_or_else(|| StoreError::NotFound { key: key.into() })?
                    .size;
                let end = range.end.min(size);
                let start = range.start.min(end);
                if start == end {
                    return Ok(Bytes::new());
                }
                if (start, end) == (range.start, range.end) {
                    return Err(unavailable("get", key, first));
                }
                let object = ranged(start, end)
                    .await
                    .map_err(|e| unavailable("get", key, e))?;
                body_of(key, object).await
            }
        }
    }

    async fn head(&self, key: &str) -> StoreResult<Option<ObjectMeta>> {
        let object = self
            .bucket
            .head(key)
            .await
            .map_err(|e| unavailable("head", key, e))?;
        Ok(object.map(|o| ObjectMeta {
            key: key.to_string(),
            size: o.size(),
        }))
    }

    async fn delete(&self, key: &str) -> StoreResult<()> {
        self.bucket
            .delete(key)
            .await
            .map_err(|e| unavailable("delete", key, e))
    }

    async fn list(&self, prefix: &str, after: Option<&str>, limit: usize) -> StoreResult<ListPage> {
        let limit = limit.clamp(1, 999);
        let mut request = self.bucket.list().prefix(prefix).limit(limit as u32 + 1);
        if let Some(after) = after {
            request = request.start_after(after);
        }
        let listed = request
            .execute()
            .await
            .map_err(|e| unavailable("list", prefix, e))?;
        let objects = listed
            .objects()
            .into_iter()
            .map(|o| ObjectMeta {
                key: o.key(),
                size: o.size(),
            })
            .collect();
        Ok(ListPage::from_overfetched(objects, limit))
    }
}
