//! The storage conformance suite on DynamoDB Local (started by infra/dev/aws-servers.sh,
//! which exports SNAPKB_DYNAMODB_ENDPOINT). Each test gets its own table.

use std::sync::atomic::{AtomicU32, Ordering};

use snapkb_aws::{DynamoMetaStore, sdk_config};
use snapkb_store::MemoryObjectStore;

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

snapkb_store::conformance_suite!(objects: Box::new(MemoryObjectStore::default()), meta: Box::new(table().await));
