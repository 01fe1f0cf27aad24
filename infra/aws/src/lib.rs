//! snapkb on AWS: DynamoDB as the metadata table (`DynamoMetaStore`) and S3 as the object store
//! (`S3ObjectStore`). Endpoints can point at local servers (infra/dev/aws-servers.sh).

mod dynamo;
mod s3;

pub use crate::{dynamo::DynamoMetaStore, s3::S3ObjectStore};

/// An SDK configuration for `region`, with an endpoint override (local emulators) if given.
pub async fn sdk_config(region: &str, endpoint: Option<&str>) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_string()));
    if let Some(endpoint) = endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    loader.load().await
}
