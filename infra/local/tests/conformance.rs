//! The embedded default passes the conformance suite: files in a fresh temporary directory and a
//! fresh redb database per test (removed when the test ends).

/// A store together with the temporary directory it lives in.
struct InTempDir<T> {
    store: T,
    _dir: tempfile::TempDir,
}

impl<T> std::ops::Deref for InTempDir<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.store
    }
}

fn objects() -> InTempDir<snapkb_local::FileObjectStore> {
    let dir = tempfile::tempdir().expect("temp dir");
    InTempDir {
        store: snapkb_local::FileObjectStore::open(dir.path()).expect("object store"),
        _dir: dir,
    }
}

fn meta() -> InTempDir<snapkb_local::RedbMetaStore> {
    let dir = tempfile::tempdir().expect("temp dir");
    InTempDir {
        store: snapkb_local::RedbMetaStore::open(dir.path().join("meta.redb")).expect("meta store"),
        _dir: dir,
    }
}

snapkb_store::conformance_suite!(objects: objects(), meta: meta());
