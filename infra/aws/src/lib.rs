//! snapkb on AWS: DynamoDB as the metadata table (`DynamoMetaStore`) and S3 as the object store
//! (`S3ObjectStore`). Endpoints can point at local servers (infra/dev/aws-servers.sh).

mod calls;
mod dynamo;
pub mod iam;
mod s3;

use std::{sync::Arc, time::Duration};

use aws_config::{retry::RetryConfig, timeout::TimeoutConfig};
use snapkb_core::HostSettings;
use snapkb_store::{StoreError, StoreResult};

pub use crate::{
    calls::{CallCounter, Calls},
    dynamo::DynamoMetaStore,
    s3::{DEFAULT_PART_BYTES, S3ObjectStore},
};

/// Attempts per call (the first and its retries). The SDK backs off exponentially with full
/// jitter between attempts, and retries throttling, 5xx and transport errors only.
pub const MAX_ATTEMPTS: u32 = 4;

/// An SDK configuration for `region`, with an endpoint override (local servers) if given, the
/// retry policy above and timeouts that fail a dead connection fast instead of holding a
/// function until its own timeout.
pub async fn sdk_config(region: &str, endpoint: Option<&str>) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_string()))
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(MAX_ATTEMPTS)
                .with_initial_backoff(Duration::from_millis(50))
                .with_max_backoff(Duration::from_secs(2)),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_attempt_timeout(Duration::from_secs(30))
                .build(),
        );
    if let Some(endpoint) = endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    loader.load().await
}

/// The region: `SNAPKB_REGION`, else `AWS_REGION` (which Lambda sets), else `us-east-1`.
/// Where a deployment's AWS storage is: `SNAPKB_BUCKET`, `SNAPKB_TABLE`, `SNAPKB_REGION` and
/// the endpoint overrides for local servers (`SNAPKB_S3_ENDPOINT`, `SNAPKB_DYNAMODB_ENDPOINT`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsSettings {
    pub bucket: Option<String>,
    pub table: Option<String>,
    pub region: Option<String>,
    pub s3_endpoint: Option<String>,
    pub dynamodb_endpoint: Option<String>,
}

impl AwsSettings {
    /// The settings' variable names, for [`snapkb_core::Config::from_vars_with_host`].
    pub const NAMES: [&str; 5] = [
        "SNAPKB_BUCKET",
        "SNAPKB_TABLE",
        "SNAPKB_REGION",
        "SNAPKB_S3_ENDPOINT",
        "SNAPKB_DYNAMODB_ENDPOINT",
    ];

    pub fn from_host(host: &HostSettings) -> Self {
        AwsSettings {
            bucket: host.get("SNAPKB_BUCKET"),
            table: host.get("SNAPKB_TABLE"),
            region: host.get("SNAPKB_REGION"),
            s3_endpoint: host.get("SNAPKB_S3_ENDPOINT"),
            dynamodb_endpoint: host.get("SNAPKB_DYNAMODB_ENDPOINT"),
        }
    }

    /// `SNAPKB_REGION`, else `AWS_REGION`, else us-east-1.
    pub fn region(&self) -> String {
        self.region
            .clone()
            .or_else(|| std::env::var("AWS_REGION").ok())
            .unwrap_or_else(|| "us-east-1".to_string())
    }

    /// Whether a bucket and a table are named (then a deployment runs on AWS).
    pub fn configured(&self) -> bool {
        self.bucket.is_some() && self.table.is_some()
    }
}

/// The two AWS stores a deployment runs on, built from `SNAPKB_BUCKET`, `SNAPKB_TABLE`,
/// `SNAPKB_REGION` and the endpoint overrides.
#[derive(Debug, Clone)]
pub struct AwsStores {
    pub objects: Arc<S3ObjectStore>,
    pub meta: Arc<DynamoMetaStore>,
    /// Every S3 and DynamoDB request these stores send, by operation (retries included).
    pub calls: CallCounter,
}

impl AwsStores {
    /// Clients for the configured bucket and table. No request is sent: a function's init
    /// stays at building two clients.
    pub async fn connect(config: &AwsSettings) -> StoreResult<Self> {
        let bucket = config
            .bucket
            .clone()
            .ok_or_else(|| StoreError::Invalid("SNAPKB_BUCKET is not set".into()))?;
        let table = config
            .table
            .clone()
            .ok_or_else(|| StoreError::Invalid("SNAPKB_TABLE is not set".into()))?;
        let region = config.region();
        let calls = CallCounter::default();
        let s3_config = sdk_config(&region, config.s3_endpoint.as_deref()).await;
        let s3 = aws_sdk_s3::config::Builder::from(&s3_config)
            .force_path_style(config.s3_endpoint.is_some())
            .interceptor(calls.clone())
            .build();
        let ddb_config = sdk_config(&region, config.dynamodb_endpoint.as_deref()).await;
        let ddb = aws_sdk_dynamodb::config::Builder::from(&ddb_config)
            .interceptor(calls.clone())
            .build();
        Ok(Self {
            objects: Arc::new(S3ObjectStore::new(
                aws_sdk_s3::Client::from_conf(s3),
                bucket,
            )),
            meta: Arc::new(DynamoMetaStore::new(
                aws_sdk_dynamodb::Client::from_conf(ddb),
                table,
            )),
            calls,
        })
    }

    /// Creates the bucket and the table if they are missing (`snapkb serve` on AWS storage and
    /// local servers; deployments create both with Terraform).
    pub async fn create_if_missing(&self) -> StoreResult<()> {
        self.objects.create_bucket_if_missing().await?;
        self.meta.create_table_if_missing().await
    }
}
