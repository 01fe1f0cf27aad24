//! The `s3-trigger` function: S3 ObjectCreated events under `inbox/{project}/` are ingested as
//! documents, then the inbox object is removed.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    snapkb_lambda::inbox::run().await
}
