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

// s3s-fs checks `If-None-Match: *` and then writes, so racing creates are left out there.
snapkb_store::conformance_suite!(sequential_creates: Box::new(bucket().await), meta: Box::new(table().await));

/// Above the part size, puts are multipart uploads and gets are parallel ranged reads: the
/// bytes come back exactly, and ranged reads across part boundaries are exact too.
#[tokio::test(flavor = "multi_thread")]
async fn large_objects_upload_in_parts_and_read_back_in_parallel_ranges() {
    use snapkb_store::ObjectStore;
    let store = bucket().await.with_part_bytes(5 << 20);
    let body: Vec<u8> = (0..(12u32 << 20) + 12_345)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    store
        .put("big/snapshot.snap", bytes::Bytes::from(body.clone()))
        .await
        .unwrap();
    let read = store.get("big/snapshot.snap").await.unwrap();
    assert_eq!(read.len(), body.len());
    assert!(read == body, "bytes differ after a multipart round trip");
    let boundary = 5u64 << 20;
    let range = store
        .get_range("big/snapshot.snap", boundary - 10..boundary + 10)
        .await
        .unwrap();
    assert_eq!(
        &range[..],
        &body[(boundary - 10) as usize..(boundary + 10) as usize]
    );
    assert_eq!(
        store.head("big/snapshot.snap").await.unwrap().unwrap().size,
        body.len() as u64
    );
    // An empty object still reads back as empty.
    store.put("big/empty", bytes::Bytes::new()).await.unwrap();
    assert!(store.get("big/empty").await.unwrap().is_empty());
}
