//! The `compact` function: invoked asynchronously by ingest with `{"project", "force"}` when a
//! project's write-ahead log passes its triggers, or on a schedule (any other event) to compact
//! every project that is due and collect garbage.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    snapkb_lambda::compact::run().await
}
