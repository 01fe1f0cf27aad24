//! `S3ObjectStore`: the object port on one S3 bucket (any S3 API: AWS, s3s-fs, MinIO). Keys are
//! the engine's object keys under an optional prefix. Objects are written once and never
//! overwritten; reads of missing objects are `NotFound`.

use std::ops::Range;

use aws_sdk_s3::{Client, error::ProvideErrorMetadata, error::SdkError, primitives::ByteStream};
use bytes::Bytes;
use snapkb_store::{ListPage, ObjectMeta, ObjectStore, StoreError};

#[derive(Debug, Clone)]
pub struct S3ObjectStore {
    client: Client,
    bucket: String,
}

fn store_error<E: ProvideErrorMetadata + std::fmt::Debug>(
    key: &str,
    e: SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> StoreError {
    let status = match &e {
        SdkError::ServiceError(se) => Some(se.raw().status().as_u16()),
        _ => None,
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
        }
    }

    /// A client for `config`, path-style when an endpoint override is set (local servers).
    pub fn client(config: &aws_config::SdkConfig, path_style: bool) -> Client {
        let conf = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(path_style)
            .build();
        Client::from_conf(conf)
    }

    /// Creates the bucket if missing (tests and local servers; deployments use Terraform).
    pub async fn create_bucket_if_missing(&self) -> Result<(), StoreError> {
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

    async fn collect(key: &str, body: ByteStream) -> Result<Bytes, StoreError> {
        body.collect()
            .await
            .map(|b| b.into_bytes())
            .map_err(|e| StoreError::Unavailable(format!("reading {key}: {e}")))
    }
}

#[async_trait::async_trait]
impl ObjectStore for S3ObjectStore {
    async fn put(&self, key: &str, body: Bytes) -> Result<(), StoreError> {
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

    async fn put_if_absent(&self, key: &str, body: Bytes) -> Result<bool, StoreError> {
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

    async fn get(&self, key: &str) -> Result<Bytes, StoreError> {
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| store_error(key, e))?;
        Self::collect(key, out.body).await
    }

    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes, StoreError> {
        if range.start >= range.end {
            // Still report missing objects as missing.
            self.head(key).await?.ok_or_else(|| StoreError::NotFound {
                key: key.to_string(),
            })?;
            return Ok(Bytes::new());
        }
        let result = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .range(format!("bytes={}-{}", range.start, range.end - 1))
            .send()
            .await;
        match result {
            Ok(out) => Self::collect(key, out.body).await,
            // Past the end: the port clips ranges, so that is an empty read.
            Err(e) if e.code() == Some("InvalidRange") => Ok(Bytes::new()),
            Err(e) => Err(store_error(key, e)),
        }
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, StoreError> {
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
                other => Err(other),
            },
        }
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
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
                other => Err(other),
            },
        }
    }

    async fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<ListPage, StoreError> {
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
