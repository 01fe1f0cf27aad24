//! The in-memory adapters pass the conformance suite.

snapkb_store::conformance_suite!(
    objects: Box::new(snapkb_store::MemoryObjectStore::new()),
    meta: Box::new(snapkb_store::MemoryMetaStore::new()),
);
