//! The storage conformance suite for the SigV4-over-HTTP adapters on DynamoDB Local and s3s-fs
//! (started by infra/dev/aws-servers.sh, which exports the endpoints and credentials; s3s-fs
//! checks the signatures), through a native client behind the same `Outbound` port a Spin
//! component uses. And the data is shared: what the SDK adapters write, these read, and back.

use std::sync::{
    Arc,
    atomic::{AtomicU32, Ordering},
};

use bytes::Bytes;
use snapkb_aws::{DynamoMetaStore, S3ObjectStore, sdk_config};
use snapkb_aws_http::{AwsCredentials, AwsTarget, HttpDynamoMeta, HttpS3Objects};
use snapkb_store::{
    Condition, Item, MetaStore, ObjectStore, Outbound, OutboundError, OutboundRequest,
    OutboundResponse, StoreError,
};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A blocking HTTP client on tokio's blocking pool: the native stand-in for Spin's outbound
/// HTTP, sending real requests to the local servers.
struct UreqOutbound(ureq::Agent);

#[async_trait::async_trait]
impl Outbound for UreqOutbound {
    async fn send(&self, request: OutboundRequest) -> Result<OutboundResponse, OutboundError> {
        let agent = self.0.clone();
        tokio::task::spawn_blocking(move || {
            let mut builder = ureq::http::Request::builder()
                .method(request.method.as_str())
                .uri(&request.url);
            for (name, value) in &request.headers {
                builder = builder.header(name, value);
            }
            let built = builder
                .body(request.body.to_vec())
                .map_err(|e| OutboundError::Invalid(e.to_string()))?;
            let mut response = agent
                .run(built)
                .map_err(|e| OutboundError::Transport(e.to_string()))?;
            let headers = response
                .headers()
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
                .collect();
            let status = response.status().as_u16();
            let body = response
                .body_mut()
                .with_config()
                .limit(u64::MAX)
                .read_to_vec()
                .map_err(|e| OutboundError::Transport(e.to_string()))?;
            Ok(OutboundResponse {
                status,
                headers,
                body: Bytes::from(body),
            })
        })
        .await
        .map_err(|e| OutboundError::Transport(e.to_string()))?
    }
}

fn outbound() -> Arc<dyn Outbound> {
    Arc::new(UreqOutbound(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into(),
    ))
}

fn endpoint(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run `eval \"$(infra/dev/aws-servers.sh start)\"` first")
    })
}

fn target(endpoint_var: &str) -> AwsTarget {
    AwsTarget {
        region: "us-east-1".into(),
        credentials: AwsCredentials {
            access_key_id: std::env::var("AWS_ACCESS_KEY_ID").expect("AWS_ACCESS_KEY_ID"),
            secret_access_key: std::env::var("AWS_SECRET_ACCESS_KEY")
                .expect("AWS_SECRET_ACCESS_KEY"),
            session_token: None,
        },
        endpoint: Some(endpoint(endpoint_var)),
    }
}

fn fresh_name() -> String {
    format!(
        "aws-http-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A fresh table (created through the SDK, as Terraform would) and both adapters on it.
async fn tables() -> (HttpDynamoMeta, DynamoMetaStore) {
    let name = fresh_name();
    let config = sdk_config("us-east-1", Some(&endpoint("SNAPKB_DYNAMODB_ENDPOINT"))).await;
    let sdk = DynamoMetaStore::new(aws_sdk_dynamodb::Client::new(&config), name.clone());
    sdk.create_table_if_missing().await.expect("create table");
    (
        HttpDynamoMeta::new(outbound(), target("SNAPKB_DYNAMODB_ENDPOINT"), name),
        sdk,
    )
}

async fn buckets() -> (HttpS3Objects, S3ObjectStore) {
    let name = fresh_name();
    let config = sdk_config("us-east-1", Some(&endpoint("SNAPKB_S3_ENDPOINT"))).await;
    let sdk = S3ObjectStore::new(S3ObjectStore::client(&config, true), name.clone());
    sdk.create_bucket_if_missing().await.expect("create bucket");
    (
        HttpS3Objects::new(outbound(), target("SNAPKB_S3_ENDPOINT"), name),
        sdk,
    )
}

async fn table() -> HttpDynamoMeta {
    tables().await.0
}

async fn bucket() -> HttpS3Objects {
    buckets().await.0
}

// s3s-fs checks `If-None-Match: *` and then writes, so racing creates are left out there.
snapkb_store::conformance_suite!(sequential_creates: Box::new(bucket().await), meta: Box::new(table().await));

#[tokio::test(flavor = "multi_thread")]
async fn items_and_counters_written_by_the_sdk_read_the_same_over_http_and_back() {
    let (http, sdk) = tables().await;
    let mut item = Item::new(
        "p#kb",
        "manifest",
        7,
        Bytes::from_static(b"\x00\x01binary\xff"),
    );
    item.ttl = Some(4_000_000_000);
    sdk.put(item.clone(), Condition::Absent).await.unwrap();
    assert_eq!(
        http.get("p#kb", "manifest").await.unwrap(),
        Some(item.clone())
    );
    sdk.add("p#kb", "rate#1", 41, Some(99)).await.unwrap();
    assert_eq!(http.add("p#kb", "rate#1", 1, None).await.unwrap(), 42);
    assert_eq!(
        sdk.get("p#kb", "rate#1").await.unwrap(),
        http.get("p#kb", "rate#1").await.unwrap()
    );
    let next = Item::new("p#kb", "manifest", 8, Bytes::from_static(b"v8"));
    http.put(next.clone(), Condition::VersionEquals(7))
        .await
        .unwrap();
    assert_eq!(sdk.get("p#kb", "manifest").await.unwrap(), Some(next));
    assert_eq!(
        sdk.put(item, Condition::VersionEquals(7)).await,
        Err(StoreError::ConditionFailed { index: None })
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn objects_written_by_the_sdk_read_the_same_over_http_and_back() {
    let (http, sdk) = buckets().await;
    let body: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let key = "projects/kb/shards/0/snapshots/v 1+odd=key.snap";
    sdk.put(key, Bytes::from(body.clone())).await.unwrap();
    assert_eq!(http.get(key).await.unwrap(), body);
    assert_eq!(
        http.get_range(key, 1000..1010).await.unwrap(),
        body[1000..1010]
    );
    assert_eq!(
        http.head(key).await.unwrap().unwrap().size,
        body.len() as u64
    );
    assert!(
        http.put_if_absent("projects/kb/wal/1", Bytes::from_static(b"w"))
            .await
            .unwrap()
    );
    assert_eq!(sdk.get("projects/kb/wal/1").await.unwrap(), "w");
    let listed = http.list("projects/kb/", None, 10).await.unwrap();
    let keys: Vec<_> = listed.objects.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(keys, vec![key, "projects/kb/wal/1"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_secret_is_refused_by_the_server() {
    let mut target = target("SNAPKB_S3_ENDPOINT");
    target.credentials.secret_access_key = "not-the-secret".into();
    let http = HttpS3Objects::new(outbound(), target, fresh_name());
    let err = http.put("x", Bytes::from_static(b"x")).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Backend(ref m) if m.contains("403")),
        "{err:?}"
    );
}
