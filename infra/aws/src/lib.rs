//! snapkb on AWS: DynamoDB as the metadata table (`DynamoMetaStore`); S3 as the object store
//! comes next. Endpoints can point at local servers (infra/dev/aws-servers.sh).

mod dynamo;

pub use crate::dynamo::DynamoMetaStore;

/// An SDK configuration for `region`, with an endpoint override (local emulators) if given.
pub async fn sdk_config(region: &str, endpoint: Option<&str>) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_string()));
    if let Some(endpoint) = endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    loader.load().await
}
