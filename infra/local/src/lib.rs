//! The embedded default behind `snapkb serve`: objects as files in a data directory and the
//! metadata table in redb, both implementing snapkb's storage ports and passing the same
//! conformance suite as every other backend.
//!
//! Why redb: pure Rust (no C toolchain, builds anywhere the rest does), ACID with serializable
//! single-writer transactions (a conditional write or a multi-item commit is one write
//! transaction, so conditions are atomic by construction), crash-safe copy-on-write B-trees with
//! fsync on commit, and ordered keys for prefix queries. SQLite would also do; it would add a C
//! build and a SQL layer for what is a sorted key-value map.

mod files;
mod table;

pub use crate::{files::FileObjectStore, table::RedbMetaStore};

/// Runs blocking storage work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, snapkb_store::StoreError> + Send + 'static,
) -> Result<T, snapkb_store::StoreError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| snapkb_store::StoreError::Backend(format!("storage task failed: {e}")))?
}
