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

#[tokio::test]
async fn redb_removes_expired_items_itself_since_it_has_no_ttl() {
    use snapkb_store::{Condition, Item, MetaStore};
    let store = meta();
    let mut expired = Item::new("p", "rate#1", 1, bytes::Bytes::new());
    expired.ttl = Some(10);
    store.put(expired, Condition::None).await.unwrap();
    store
        .put(
            Item::new("p", "keep", 1, bytes::Bytes::new()),
            Condition::None,
        )
        .await
        .unwrap();
    assert_eq!(store.remove_expired(20).await.unwrap(), 1);
    assert!(store.get("p", "rate#1").await.unwrap().is_none());
    assert!(store.get("p", "keep").await.unwrap().is_some());
}
