//! The object-store port on S3's REST API: one request per call (PUT, GET with Range, HEAD,
//! DELETE, ListObjectsV2). `put_if_absent` is a PUT with `If-None-Match: *`, atomic on S3.
//! Objects of any size are read with one GET and written with one PUT (up to 5 GB); the
//! multipart paths of snapkb-aws are for large snapshots written by compaction, which edge
//! functions do not run.

use std::ops::Range;

use bytes::Bytes;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;
use snapkb_store::{
    ListPage, ObjectMeta, ObjectStore, Outbound, OutboundRequest, OutboundResponse, StoreError,
    StoreResult,
};

use crate::sign::{AwsTarget, status_error};

/// Unreserved characters stay; everything else is encoded. Paths keep their '/'.
const QUERY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');
const PATH: &AsciiSet = &QUERY.remove(b'/');

pub struct HttpS3Objects {
    outbound: std::sync::Arc<dyn Outbound>,
    target: AwsTarget,
    bucket: String,
}

impl std::fmt::Debug for HttpS3Objects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpS3Objects")
            .field("bucket", &self.bucket)
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListBucketResult {
    #[serde(default)]
    contents: Vec<Contents>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Contents {
    key: String,
    size: u64,
}

impl HttpS3Objects {
    pub fn new(
        outbound: std::sync::Arc<dyn Outbound>,
        target: AwsTarget,
        bucket: impl Into<String>,
    ) -> Self {
        Self {
            outbound,
            target,
            bucket: bucket.into(),
        }
    }

    /// The bucket's URL: path style on an endpoint override (local servers), virtual-hosted
    /// style on AWS.
    fn bucket_url(&self) -> String {
        match &self.target.endpoint {
            Some(endpoint) => format!("{}/{}", endpoint.trim_end_matches('/'), self.bucket),
            None => format!(
                "https://{}.s3.{}.amazonaws.com",
                self.bucket, self.target.region
            ),
        }
    }

    fn object_url(&self, key: &str) -> String {
        format!("{}/{}", self.bucket_url(), utf8_percent_encode(key, PATH))
    }

    async fn send(
        &self,
        method: &str,
        url: String,
        headers: Vec<(String, String)>,
        body: Bytes,
    ) -> StoreResult<OutboundResponse> {
        let mut request = OutboundRequest {
            method: method.into(),
            url,
            headers,
            body,
        };
        self.target.sign("s3", &mut request)?;
        Ok(self.outbound.send(request).await?)
    }
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl ObjectStore for HttpS3Objects {
    async fn put(&self, key: &str, body: Bytes) -> StoreResult<()> {
        let r = self
            .send("PUT", self.object_url(key), Vec::new(), body)
            .await?;
        match r.status {
            200..=299 => Ok(()),
            s => Err(status_error("S3 PUT", s, &r.body)),
        }
    }

    async fn put_if_absent(&self, key: &str, body: Bytes) -> StoreResult<bool> {
        let headers = vec![("if-none-match".to_string(), "*".to_string())];
        let r = self
            .send("PUT", self.object_url(key), headers, body)
            .await?;
        match r.status {
            200..=299 => Ok(true),
            // 412: the key exists; 409: another conditional write to it is in flight.
            412 | 409 => Ok(false),
            s => Err(status_error("S3 PUT", s, &r.body)),
        }
    }

    async fn get(&self, key: &str) -> StoreResult<Bytes> {
        let r = self
            .send("GET", self.object_url(key), Vec::new(), Bytes::new())
            .await?;
        match r.status {
            200..=299 => Ok(r.body),
            404 => Err(StoreError::NotFound { key: key.into() }),
            s => Err(status_error("S3 GET", s, &r.body)),
        }
    }

    async fn get_range(&self, key: &str, range: Range<u64>) -> StoreResult<Bytes> {
        if range.start >= range.end {
            // Still tells a missing object from an empty range.
            return match self.head(key).await? {
                Some(_) => Ok(Bytes::new()),
                None => Err(StoreError::NotFound { key: key.into() }),
            };
        }
        let headers = vec![(
            "range".to_string(),
            format!("bytes={}-{}", range.start, range.end - 1),
        )];
        let r = self
            .send("GET", self.object_url(key), headers, Bytes::new())
            .await?;
        match r.status {
            // 200: a server that ignores ranges, or a range covering the whole object.
            200 => {
                let end = (range.end as usize).min(r.body.len());
                Ok(r.body.slice((range.start as usize).min(end)..end))
            }
            206 => Ok(r.body),
            // The range starts past the end: clipped to nothing.
            416 => Ok(Bytes::new()),
            404 => Err(StoreError::NotFound { key: key.into() }),
            s => Err(status_error("S3 GET", s, &r.body)),
        }
    }

    async fn head(&self, key: &str) -> StoreResult<Option<ObjectMeta>> {
        let r = self
            .send("HEAD", self.object_url(key), Vec::new(), Bytes::new())
            .await?;
        match r.status {
            200..=299 => {
                let size = r
                    .header("content-length")
                    .and_then(|v| v.trim().parse().ok())
                    .ok_or_else(|| {
                        StoreError::Backend(format!("S3 HEAD `{key}` has no Content-Length"))
                    })?;
                Ok(Some(ObjectMeta {
                    key: key.to_string(),
                    size,
                }))
            }
            404 => Ok(None),
            s => Err(status_error("S3 HEAD", s, &r.body)),
        }
    }

    async fn delete(&self, key: &str) -> StoreResult<()> {
        let r = self
            .send("DELETE", self.object_url(key), Vec::new(), Bytes::new())
            .await?;
        match r.status {
            200..=299 | 404 => Ok(()),
            s => Err(status_error("S3 DELETE", s, &r.body)),
        }
    }

    async fn list(&self, prefix: &str, after: Option<&str>, limit: usize) -> StoreResult<ListPage> {
        let limit = limit.clamp(1, 999);
        // Parameters in sorted order, as SigV4's canonical query string wants them anyway.
        let mut query = format!("list-type=2&max-keys={}", limit + 1);
        query.push_str(&format!("&prefix={}", utf8_percent_encode(prefix, QUERY)));
        if let Some(after) = after {
            query.push_str(&format!(
                "&start-after={}",
                utf8_percent_encode(after, QUERY)
            ));
        }
        let url = format!("{}/?{query}", self.bucket_url());
        let r = self.send("GET", url, Vec::new(), Bytes::new()).await?;
        if !(200..300).contains(&r.status) {
            return Err(status_error("S3 ListObjectsV2", r.status, &r.body));
        }
        let text = std::str::from_utf8(&r.body)
            .map_err(|e| StoreError::Backend(format!("S3 list is not UTF-8: {e}")))?;
        let parsed: ListBucketResult = quick_xml::de::from_str(text)
            .map_err(|e| StoreError::Backend(format!("S3 list: {e}")))?;
        let objects = parsed
            .contents
            .into_iter()
            .map(|c| ObjectMeta {
                key: c.key,
                size: c.size,
            })
            .collect();
        Ok(ListPage::from_overfetched(objects, limit))
    }
}
