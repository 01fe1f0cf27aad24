//! S3 and DynamoDB for hosts without the AWS SDK (Spin components): the same bucket objects and
//! table items that `snapkb-aws` reads and writes, over the [`Outbound`] HTTP port, signed with
//! SigV4 by `aws-sigv4`. The item layout (`pk`, `sk`, `v`, `b`, `n`, `ttl`) and the object keys
//! are snapkb-aws's, so a Spin component and the Lambda functions share one deployment's data.

mod dynamo;
mod s3;
mod sign;

pub use crate::{
    dynamo::HttpDynamoMeta,
    s3::HttpS3Objects,
    sign::{AwsCredentials, AwsTarget},
};
pub use snapkb_store::Outbound;
