//! The storage conformance suite on DynamoDB Local and s3s-fs (started by
//! infra/dev/aws-servers.sh, which exports the endpoints). Each test gets its own table and bucket.

use std::sync::atomic::{AtomicU32, Ordering};

use snapkb_aws::{DynamoMetaStore, S3ObjectStore, sdk_config};

static NEXT: AtomicU32 = AtomicU32::new(0);

async fn table() -> DynamoMetaStore {
    let endpoint = std::env::var("SNAPKB_DYNAMODB_ENDPOINT")
        .expect("SNAPKB_DYNAMODB_ENDPOINT is not set: run `eval \"$(infra/dev/aws-servers.sh start)\"` first");
    let config = sdk_config("us-east-1", Some(&endpoint)).await;
    let name = format!(
        "conformance-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let store = DynamoMetaStore::new(aws_sdk_dynamodb::Client::new(&config), name);
    store.create_table_if_missing().await.expect("create table");
    store
}

async fn bucket() -> S3ObjectStore {
    let endpoint = std::env::var("SNAPKB_S3_ENDPOINT").expect(
        "SNAPKB_S3_ENDPOINT is not set: run `eval \"$(infra/dev/aws-servers.sh start)\"` first",
    );
    let config = sdk_config("us-east-1", Some(&endpoint)).await;
    let name = format!(
        "conformance-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let store = S3ObjectStore::new(S3ObjectStore::client(&config, true), name);
    store
        .create_bucket_if_missing()
        .await
        .expect("create bucket");
    store
}

snapkb_store::conformance_suite!(objects: Box::new(bucket().await), meta: Box::new(table().await));
