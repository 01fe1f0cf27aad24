//! `S3ObjectStore`: the object port on one S3 bucket (any S3 API: AWS, s3s-fs, MinIO). Keys are
//! the engine's object keys under an optional prefix. Objects are written once and never
//! overwritten; reads of missing objects are `NotFound`.

use std::ops::Range;

use aws_sdk_s3::{
    Client,
    config::http::HttpResponse,
    error::ProvideErrorMetadata,
    error::SdkError,
    operation::get_object::{GetObjectError, GetObjectOutput},
    primitives::ByteStream,
    types::{CompletedMultipartUpload, CompletedPart},
};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt, stream};
use snapkb_store::{DownloadLinks, ListPage, ObjectMeta, ObjectStore, StoreError, StoreResult};

/// Objects larger than this are uploaded in parts, and read back in parallel ranged reads of
/// this size. 8 MiB is what the AWS CLI uses; S3's smallest part is 5 MiB.
pub const DEFAULT_PART_BYTES: usize = 8 << 20;

/// Parts in flight at once, for one upload or one read.
const PARALLEL_PARTS: usize = 8;

/// Reads of one range, in all, when its body keeps breaking off mid-stream.
const BODY_ATTEMPTS: u32 = 3;

#[derive(Debug, Clone)]
pub struct S3ObjectStore {
    client: Client,
    bucket: String,
    part_bytes: usize,
}

fn store_error<E: ProvideErrorMetadata + std::fmt::Debug>(
    key: &str,
    e: SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> StoreError {
    let status = if let SdkError::ServiceError(se) = &e {
        Some(se.raw().status().as_u16())
    } else {
        None
    };
    match (e.code(), status) {
        (Some("NoSuchKey" | "NotFound"), _) | (_, Some(404)) => StoreError::NotFound {
            key: key.to_string(),
        },
        (Some("SlowDown" | "Throttling" | "ThrottlingException" | "RequestLimitExceeded"), _)
        | (_, Some(429 | 503)) => StoreError::Throttled,
        (_, Some(s)) if s >= 500 => StoreError::Unavailable(format!("S3 answered {s} for {key}")),
        (_, None) if matches!(e, SdkError::TimeoutError(_) | SdkError::DispatchFailure(_)) => {
            StoreError::Unavailable(format!("S3 unreachable for {key}: {e:?}"))
        }
        (code, _) => StoreError::Backend(format!(
            "S3 {}: {}",
            code.unwrap_or("error"),
            e.message().unwrap_or(&format!("{e:?}"))
        )),
    }
}

impl S3ObjectStore {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
            part_bytes: DEFAULT_PART_BYTES,
        }
    }

    /// Changes the part size for multipart uploads and parallel reads (at least 5 MiB, S3's
    /// smallest part).
    pub fn with_part_bytes(mut self, part_bytes: usize) -> Self {
        self.part_bytes = part_bytes.max(5 << 20);
        self
    }

    /// A client for `config`, path-style when an endpoint override is set (local servers).
    pub fn client(config: &aws_config::SdkConfig, path_style: bool) -> Client {
        let conf = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(path_style)
            .build();
        Client::from_conf(conf)
    }

    /// Creates the bucket if missing (tests and local servers; deployments use Terraform).
    pub async fn create_bucket_if_missing(&self) -> StoreResult<()> {
        match self
            .client
            .create_bucket()
            .bucket(&self.bucket)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if matches!(
                    e.code(),
                    Some("BucketAlreadyOwnedByYou" | "BucketAlreadyExists")
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(store_error(&self.bucket, e)),
        }
    }

    /// Uploads `body` in parts, `PARALLEL_PARTS` at a time; aborts the upload on any failure
    /// so no parts are left billed behind it (the bucket's lifecycle rule is the backstop).
    async fn put_multipart(&self, key: &str, body: Bytes) -> StoreResult<()> {
        let upload_id = self.start_upload(key).await?;
        let result = async {
            let chunks: Vec<(i32, Bytes)> = (0..body.len())
                .step_by(self.part_bytes)
                .enumerate()
                .map(|(i, start)| {
                    let end = (start + self.part_bytes).min(body.len());
                    (i as i32 + 1, body.slice(start..end))
                })
                .collect();
            let mut parts: Vec<(i32, String)> = stream::iter(chunks)
                .map(|(number, chunk)| {
                    let upload_id = &upload_id;
                    async move {
                        let tag = self.upload_part(key, upload_id, number, chunk).await?;
                        Ok::<_, StoreError>((number, tag))
                    }
                })
                .buffer_unordered(PARALLEL_PARTS)
                .try_collect()
                .await?;
            parts.sort_by_key(|(number, _)| *number);
            let tags = parts.into_iter().map(|(_, tag)| tag).collect();
            self.finish_upload(key, &upload_id, tags).await
        }
        .await;
        if result.is_err() {
            let _ = self.abort_upload(key, &upload_id).await;
        }
        result
    }

    /// One ranged GET of a non-empty `range` (the header's end is inclusive).
    async fn ranged_get(
        &self,
        key: &str,
        range: Range<u64>,
    ) -> Result<GetObjectOutput, SdkError<GetObjectError, HttpResponse>> {
        self.client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .range(format!("bytes={}-{}", range.start, range.end - 1))
            .send()
            .await
    }

    /// One ranged read, body included, with the object's total size from `Content-Range`;
    /// `None` when the range starts past the end. The SDK retries requests that fail, not bodies
    /// that break off after the headers (a reset or stalled stream), so those are sent again
    /// here, up to `BODY_ATTEMPTS` in all.
    async fn read_range(
        &self,
        key: &str,
        range: Range<u64>,
    ) -> StoreResult<Option<(Bytes, Option<u64>)>> {
        let mut attempt = 1;
        loop {
            let out = match self.ranged_get(key, range.clone()).await {
                Ok(out) => out,
                Err(e) if e.code() == Some("InvalidRange") => return Ok(None),
                Err(e) => return Err(store_error(key, e)),
            };
            let total = out
                .content_range()
                .and_then(|r| r.rsplit('/').next())
                .and_then(|t| t.parse::<u64>().ok());
            match out.body.collect().await {
                Ok(body) => return Ok(Some((body.into_bytes(), total))),
                Err(e) if attempt < BODY_ATTEMPTS => {
                    tracing::warn!(key, attempt, error = %e, "S3 body broke off; reading again");
                    attempt += 1;
                }
                Err(e) => {
                    return Err(StoreError::Unavailable(format!("reading {key}: {e}")));
                }
            }
        }
    }

    /// A part inside an object whose size the first read gave.
    async fn get_part(&self, key: &str, range: Range<u64>) -> StoreResult<Bytes> {
        match self.read_range(key, range).await? {
            Some((part, _)) => Ok(part),
            None => Err(StoreError::Unavailable(format!("{key} shrank while read"))),
        }
    }
}

#[async_trait::async_trait]
impl ObjectStore for S3ObjectStore {
    async fn put(&self, key: &str, body: Bytes) -> StoreResult<()> {
        if body.len() > self.part_bytes {
            return self.put_multipart(key, body).await;
        }
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| store_error(key, e))?;
        Ok(())
    }

    async fn put_if_absent(&self, key: &str, body: Bytes) -> StoreResult<bool> {
        match self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .if_none_match("*")
            .body(ByteStream::from(body))
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e)
                if matches!(
                    e.code(),
                    Some("PreconditionFailed" | "ConditionalRequestConflict")
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(store_error(key, e)),
        }
    }

    /// The first part comes with the object's size (`Content-Range`); anything beyond it is
    /// read in parallel ranged GETs. Small objects cost one request either way.
    async fn get(&self, key: &str) -> StoreResult<Bytes> {
        let part = self.part_bytes as u64;
        let Some((head, total)) = self.read_range(key, 0..part).await? else {
            // An empty object has no byte 0; a plain GET still tells it from a missing one.
            let out = self
                .client
                .get_object()
                .bucket(&self.bucket)
                .key(key)
                .send()
                .await
                .map_err(|e| store_error(key, e))?;
            return out
                .body
                .collect()
                .await
                .map(|b| b.into_bytes())
                .map_err(|e| StoreError::Unavailable(format!("reading {key}: {e}")));
        };
        let Some(total) = total.filter(|&t| t > head.len() as u64) else {
            return Ok(head);
        };
        let ranges: Vec<Range<u64>> = (head.len() as u64..total)
            .step_by(self.part_bytes)
            .map(|start| start..(start + part).min(total))
            .collect();
        let rest: Vec<Bytes> = stream::iter(ranges)
            .map(|range| self.get_part(key, range))
            .buffered(PARALLEL_PARTS)
            .try_collect()
            .await?;
        let mut body = Vec::with_capacity(total as usize);
        body.extend_from_slice(&head);
        for part in rest {
            body.extend_from_slice(&part);
        }
        if body.len() as u64 != total {
            return Err(StoreError::Unavailable(format!(
                "{key} changed while read: {} of {total} bytes",
                body.len()
            )));
        }
        Ok(Bytes::from(body))
    }

    async fn get_range(&self, key: &str, range: Range<u64>) -> StoreResult<Bytes> {
        if range.start >= range.end {
            // Still report missing objects as missing.
            self.head(key).await?.ok_or_else(|| StoreError::NotFound {
                key: key.to_string(),
            })?;
            return Ok(Bytes::new());
        }
        // Past the end: the port clips ranges, so that is an empty read.
        Ok(self
            .read_range(key, range)
            .await?
            .map_or_else(Bytes::new, |(body, _)| body))
    }

    async fn head(&self, key: &str) -> StoreResult<Option<ObjectMeta>> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => Ok(Some(ObjectMeta {
                key: key.to_string(),
                size: out.content_length().unwrap_or(0).max(0) as u64,
            })),
            Err(e) => match store_error(key, e) {
                StoreError::NotFound { .. } => Ok(None),
                other @ (StoreError::ConditionFailed { .. }
                | StoreError::Invalid(_)
                | StoreError::Throttled
                | StoreError::Unavailable(_)
                | StoreError::Backend(_)) => Err(other),
            },
        }
    }

    async fn delete(&self, key: &str) -> StoreResult<()> {
        match self
            .client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match store_error(key, e) {
                StoreError::NotFound { .. } => Ok(()),
                other @ (StoreError::ConditionFailed { .. }
                | StoreError::Invalid(_)
                | StoreError::Throttled
                | StoreError::Unavailable(_)
                | StoreError::Backend(_)) => Err(other),
            },
        }
    }

    async fn list(&self, prefix: &str, after: Option<&str>, limit: usize) -> StoreResult<ListPage> {
        let wanted = limit.max(1) + 1;
        let mut objects = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_start_after(after.map(str::to_string).filter(|_| token.is_none()))
                .set_continuation_token(token.take())
                .max_keys((wanted - objects.len()).min(1000) as i32)
                .send()
                .await
                .map_err(|e| store_error(prefix, e))?;
            for o in out.contents() {
                if let Some(k) = o.key() {
                    objects.push(ObjectMeta {
                        key: k.to_string(),
                        size: o.size().unwrap_or(0).max(0) as u64,
                    });
                }
            }
            match out.next_continuation_token() {
                Some(t) if objects.len() < wanted && out.is_truncated() == Some(true) => {
                    token = Some(t.to_string())
                }
                _ => break,
            }
        }
        Ok(ListPage::from_overfetched(objects, limit))
    }
}

#[async_trait::async_trait]
impl DownloadLinks for S3ObjectStore {
    fn min_part_bytes(&self) -> usize {
        self.part_bytes
    }

    async fn start_upload(&self, key: &str) -> StoreResult<String> {
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| store_error(key, e))?;
        Ok(created
            .upload_id()
            .ok_or_else(|| StoreError::Backend(format!("S3 gave no upload id for {key}")))?
            .to_string())
    }

    async fn upload_part(
        &self,
        key: &str,
        upload: &str,
        number: i32,
        body: Bytes,
    ) -> StoreResult<String> {
        let out = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload)
            .part_number(number)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| store_error(key, e))?;
        Ok(out.e_tag().unwrap_or_default().to_string())
    }

    async fn finish_upload(&self, key: &str, upload: &str, tags: Vec<String>) -> StoreResult<()> {
        let parts = tags
            .into_iter()
            .enumerate()
            .map(|(i, tag)| {
                CompletedPart::builder()
                    .part_number(i as i32 + 1)
                    .e_tag(tag)
                    .build()
            })
            .collect();
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| store_error(key, e))?;
        Ok(())
    }

    async fn abort_upload(&self, key: &str, upload: &str) -> StoreResult<()> {
        self.client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload)
            .send()
            .await
            .map_err(|e| store_error(key, e))?;
        Ok(())
    }

    async fn download_url(&self, key: &str, valid_for: std::time::Duration) -> StoreResult<String> {
        let presigning = aws_sdk_s3::presigning::PresigningConfig::expires_in(valid_for)
            .map_err(|e| StoreError::Backend(format!("presigning {key}: {e}")))?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(presigning)
            .await
            .map_err(|e| store_error(key, e))?;
        Ok(request.uri().to_string())
    }
}
