//! snapkb as a Spin component: the query route group and caller-vector ingest, on the same S3
//! bucket and DynamoDB table as the Lambda functions, reached over Spin's outbound HTTP and
//! signed with SigV4 (snapkb-aws-http). Settings are Spin variables named like the
//! `SNAPKB_*` settings in lower case (`snapkb_bucket`, …) plus the AWS credentials. Text is
//! embedded through `snapkb_embed_url` when set.
//!
//! Spin gives every request a fresh instance, so each request builds its engine and loads
//! the project's index from S3: no warm cache between requests (docs/edge.md).
//!
//! Natively only the settings code builds; the component is built for wasm32-wasip2 by
//! infra/edge/spin-build.sh.

mod settings;

pub use settings::{settings_from, spin_variables};

#[cfg(target_os = "wasi")]
mod component;
