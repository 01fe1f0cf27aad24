//! The conformance suite: the behaviour every adapter must show, written once and run against
//! each backend (in-memory here; local files + embedded KV, S3 + DynamoDB and edge adapters in
//! their own crates) with [`conformance_suite!`](crate::conformance_suite). Each function
//! panics with a message naming the broken promise.

use bytes::Bytes;
use futures::future::join_all;

use crate::{
    Condition, Item, ItemRange, MetaStore, ObjectStore, StoreError, TransactWrite, counter_value,
};

/// How many concurrent writers the race tests start.
pub const RACERS: usize = 8;

pub async fn objects_round_trip(store: &dyn ObjectStore) {
    let body = Bytes::from_static(b"hello snapshot");
    store.put("conf/a/1", body.clone()).await.expect("put");
    assert_eq!(store.get("conf/a/1").await.expect("get"), body);
    assert_eq!(
        store.head("conf/a/1").await.expect("head").map(|m| m.size),
        Some(body.len() as u64)
    );
    assert_eq!(
        store
            .head("conf/a/missing")
            .await
            .expect("head of a missing key"),
        None
    );
    assert!(
        matches!(
            store.get("conf/a/missing").await,
            Err(StoreError::NotFound { .. })
        ),
        "get of a missing key"
    );
    store.delete("conf/a/1").await.expect("delete");
    store
        .delete("conf/a/1")
        .await
        .expect("deleting a missing key is not an error");
    assert!(
        matches!(
            store.get("conf/a/1").await,
            Err(StoreError::NotFound { .. })
        ),
        "deleted object still readable"
    );
    store
        .put("conf/a/empty", Bytes::new())
        .await
        .expect("empty object");
    assert!(
        store
            .get("conf/a/empty")
            .await
            .expect("get empty")
            .is_empty()
    );
}

pub async fn objects_put_if_absent_refuses_an_existing_object(store: &dyn ObjectStore) {
    assert!(
        store
            .put_if_absent("conf/once/obj", Bytes::from_static(b"first"))
            .await
            .expect("first put")
    );
    assert!(
        !store
            .put_if_absent("conf/once/obj", Bytes::from_static(b"second"))
            .await
            .expect("second put")
    );
    assert_eq!(
        store.get("conf/once/obj").await.expect("get"),
        Bytes::from_static(b"first")
    );
}

pub async fn objects_put_if_absent_has_exactly_one_winner(store: &dyn ObjectStore) {
    let attempts =
        (0..RACERS).map(|i| store.put_if_absent("conf/race/obj", Bytes::from(vec![i as u8; 64])));
    let results: Vec<bool> = join_all(attempts)
        .await
        .into_iter()
        .map(|r| r.expect("put_if_absent"))
        .collect();
    assert_eq!(
        results.iter().filter(|&&won| won).count(),
        1,
        "exactly one writer must win: {results:?}"
    );
    let winner = results.iter().position(|&w| w).unwrap_or_default() as u8;
    assert_eq!(
        store.get("conf/race/obj").await.expect("get"),
        Bytes::from(vec![winner; 64]),
        "the winner's bytes"
    );
    assert!(
        !store
            .put_if_absent("conf/race/obj", Bytes::from_static(b"late"))
            .await
            .expect("late put")
    );
}

pub async fn objects_ranged_reads(store: &dyn ObjectStore) {
    let body: Bytes = (0..=255u8).cycle().take(10_000).collect::<Vec<_>>().into();
    store.put("conf/range/o", body.clone()).await.expect("put");
    assert_eq!(
        store.get_range("conf/range/o", 0..10).await.expect("range"),
        body.slice(0..10)
    );
    assert_eq!(
        store
            .get_range("conf/range/o", 9_990..20_000)
            .await
            .expect("clipped range"),
        body.slice(9_990..)
    );
    assert_eq!(
        store
            .get_range("conf/range/o", 4_096..8_192)
            .await
            .expect("middle"),
        body.slice(4_096..8_192)
    );
    assert!(matches!(
        store.get_range("conf/range/none", 0..1).await,
        Err(StoreError::NotFound { .. })
    ));
}

pub async fn objects_list_by_prefix_with_pagination(store: &dyn ObjectStore) {
    for i in 0..25 {
        store
            .put(&format!("conf/list/p/{i:03}"), Bytes::from(vec![0; i]))
            .await
            .expect("put");
    }
    store
        .put("conf/list/q/000", Bytes::new())
        .await
        .expect("put other prefix");
    let (keys, pages) = every_page(|after| async move {
        let page = store
            .list("conf/list/p/", after.as_deref(), 10)
            .await
            .expect("list");
        assert!(
            page.objects.len() <= 10,
            "a page holds at most `limit` objects"
        );
        let keys = page.objects.into_iter().map(|o| o.key).collect();
        (keys, page.next_after)
    })
    .await;
    let expected: Vec<String> = (0..25).map(|i| format!("conf/list/p/{i:03}")).collect();
    assert_eq!(
        keys, expected,
        "every key once, in order, only under the prefix"
    );
    assert_eq!(pages, 3);
    let sizes = store.list("conf/list/p/", None, 100).await.expect("list");
    assert_eq!(sizes.objects[7].size, 7);
}

pub async fn items_round_trip_with_conditions(store: &dyn MetaStore) {
    let item = Item {
        ttl: Some(4_000_000_000),
        ..Item::new("conf#p", "a", 1, Bytes::from_static(b"{\"x\":1}"))
    };
    store
        .put(item.clone(), Condition::Absent)
        .await
        .expect("put absent");
    assert_eq!(
        store.get("conf#p", "a").await.expect("get"),
        Some(item.clone())
    );
    assert_eq!(store.get("conf#p", "zz").await.expect("get missing"), None);
    assert!(matches!(
        store.put(item.clone(), Condition::Absent).await,
        Err(StoreError::ConditionFailed { .. })
    ));
    let v2 = Item {
        version: 2,
        ..item.clone()
    };
    assert!(matches!(
        store.put(v2.clone(), Condition::VersionEquals(5)).await,
        Err(StoreError::ConditionFailed { .. })
    ));
    store
        .put(v2.clone(), Condition::VersionEquals(1))
        .await
        .expect("put at version 1");
    assert_eq!(version_of(store, "conf#p", "a").await, Some(2));
    assert!(matches!(
        store.put(v2.clone(), Condition::VersionEquals(1)).await,
        Err(StoreError::ConditionFailed { .. })
    ));
    assert!(matches!(
        store
            .put(Item::new("conf#p", "b", 1, Bytes::new()), Condition::Exists)
            .await,
        Err(StoreError::ConditionFailed { .. })
    ));
    assert!(matches!(
        store
            .delete("conf#p", "a", Condition::VersionEquals(1))
            .await,
        Err(StoreError::ConditionFailed { .. })
    ));
    store
        .delete("conf#p", "a", Condition::VersionEquals(2))
        .await
        .expect("delete at version 2");
    assert_eq!(store.get("conf#p", "a").await.expect("get deleted"), None);
    store
        .delete("conf#p", "a", Condition::None)
        .await
        .expect("deleting a missing item is not an error");
}

pub async fn items_conditional_put_races_have_exactly_one_winner(store: &dyn MetaStore) {
    let create = (0..RACERS).map(|i| {
        store.put(
            Item::new("conf#race", "m", 1, vec![i as u8]),
            Condition::Absent,
        )
    });
    let created = join_all(create).await;
    let winners = created.iter().filter(|r| r.is_ok()).count();
    assert_eq!(winners, 1, "exactly one create must win: {created:?}");
    assert!(
        created
            .iter()
            .all(|r| matches!(r, Ok(()) | Err(StoreError::ConditionFailed { .. }))),
        "losers see ConditionFailed"
    );
    let bump = (0..RACERS).map(|i| {
        store.put(
            Item::new("conf#race", "m", 2, vec![100 + i as u8]),
            Condition::VersionEquals(1),
        )
    });
    let bumped = join_all(bump).await;
    assert_eq!(
        bumped.iter().filter(|r| r.is_ok()).count(),
        1,
        "exactly one version bump must win: {bumped:?}"
    );
    let stored = store
        .get("conf#race", "m")
        .await
        .expect("get")
        .expect("item exists");
    assert_eq!(stored.version, 2);
    let winner = bumped.iter().position(|r| r.is_ok()).unwrap_or_default() as u8;
    assert_eq!(
        stored.value.as_ref(),
        &[100 + winner],
        "the winner's value is stored"
    );
}

pub async fn transactions_are_all_or_nothing(store: &dyn MetaStore) {
    store
        .put(
            Item::new("conf#tx", "manifest", 3, Bytes::from_static(b"v3")),
            Condition::None,
        )
        .await
        .expect("seed");
    store
        .put(
            Item::new("conf#tx", "doc#old", 1, Bytes::new()),
            Condition::None,
        )
        .await
        .expect("seed");
    let commit = |expected: u64| {
        vec![
            TransactWrite::Put {
                item: Item::new(
                    "conf#tx",
                    "manifest",
                    expected + 1,
                    Bytes::from_static(b"next"),
                ),
                condition: Condition::VersionEquals(expected),
            },
            TransactWrite::Put {
                item: Item::new("conf#tx", "doc#new", 1, Bytes::new()),
                condition: Condition::Absent,
            },
            TransactWrite::Delete {
                pk: "conf#tx".into(),
                sk: "doc#old".into(),
                condition: Condition::Exists,
            },
        ]
    };
    let err = store
        .transact(commit(2))
        .await
        .expect_err("stale manifest version must fail");
    assert!(matches!(err, StoreError::ConditionFailed { .. }), "{err:?}");
    assert_eq!(
        store.get("conf#tx", "doc#new").await.expect("get"),
        None,
        "no write of a failed transaction may land"
    );
    assert!(
        store
            .get("conf#tx", "doc#old")
            .await
            .expect("get")
            .is_some(),
        "no delete of a failed transaction may land"
    );
    assert_eq!(version_of(store, "conf#tx", "manifest").await, Some(3));
    store
        .transact(commit(3))
        .await
        .expect("current version commits");
    assert_eq!(version_of(store, "conf#tx", "manifest").await, Some(4));
    assert!(
        store
            .get("conf#tx", "doc#new")
            .await
            .expect("get")
            .is_some()
    );
    assert_eq!(store.get("conf#tx", "doc#old").await.expect("get"), None);
    let check_fails = vec![
        TransactWrite::Check {
            pk: "conf#tx".into(),
            sk: "manifest".into(),
            condition: Condition::VersionEquals(99),
        },
        TransactWrite::Put {
            item: Item::new("conf#tx", "other", 1, Bytes::new()),
            condition: Condition::None,
        },
    ];
    assert!(matches!(
        store.transact(check_fails).await,
        Err(StoreError::ConditionFailed { .. })
    ));
    assert_eq!(
        store.get("conf#tx", "other").await.expect("get"),
        None,
        "a failed check blocks the whole transaction"
    );
    let duplicate = vec![
        TransactWrite::Put {
            item: Item::new("conf#tx", "dup", 1, Bytes::new()),
            condition: Condition::None,
        },
        TransactWrite::Delete {
            pk: "conf#tx".into(),
            sk: "dup".into(),
            condition: Condition::None,
        },
    ];
    assert!(
        matches!(store.transact(duplicate).await, Err(StoreError::Invalid(_))),
        "one item twice is refused"
    );
    assert!(
        matches!(
            store.transact(Vec::new()).await,
            Err(StoreError::Invalid(_))
        ),
        "an empty transaction is refused"
    );
}

pub async fn concurrent_transactions_commit_each_version_once(store: &dyn MetaStore) {
    store
        .put(
            Item::new("conf#txrace", "manifest", 1, Bytes::new()),
            Condition::None,
        )
        .await
        .expect("seed");
    let attempts = (0..RACERS).map(|i| {
        store.transact(vec![
            TransactWrite::Put {
                item: Item::new("conf#txrace", "manifest", 2, vec![i as u8]),
                condition: Condition::VersionEquals(1),
            },
            TransactWrite::Put {
                item: Item::new("conf#txrace", format!("seg#{i}"), 1, Bytes::new()),
                condition: Condition::Absent,
            },
        ])
    });
    let results = join_all(attempts).await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "one commit per version: {results:?}"
    );
    let segments = store
        .query(ItemRange::new("conf#txrace", "seg#"))
        .await
        .expect("query")
        .items;
    assert_eq!(segments.len(), 1, "only the winner's other writes land");
}

pub async fn counters_add_atomically(store: &dyn MetaStore) {
    let adds = (0..RACERS).map(|_| async {
        for _ in 0..25 {
            store
                .add("conf#ctr", "requests", 1, Some(4_000_000_000))
                .await
                .expect("add");
        }
    });
    join_all(adds).await;
    let item = store
        .get("conf#ctr", "requests")
        .await
        .expect("get")
        .expect("counter exists");
    assert_eq!(
        counter_value(&item).expect("counter"),
        (RACERS * 25) as i64,
        "no increment may be lost"
    );
    assert_eq!(item.ttl, Some(4_000_000_000), "the TTL is stored");
    assert_eq!(
        store
            .add("conf#ctr", "requests", -50, None)
            .await
            .expect("subtract"),
        (RACERS * 25) as i64 - 50
    );
    assert_eq!(
        store
            .add("conf#ctr", "fresh", 5, None)
            .await
            .expect("new counter"),
        5
    );
}

pub async fn queries_by_prefix_with_pagination(store: &dyn MetaStore) {
    let keys = (0..23)
        .map(|i| ("conf#q", format!("doc#{i:03}")))
        .chain([("conf#q", "key#1".into()), ("conf#q2", "doc#000".into())]);
    for (pk, sk) in keys {
        let item = Item::new(pk, sk, 1, Bytes::new());
        store.put(item, Condition::None).await.expect("put");
    }
    let (keys, _) = every_page(|after| async move {
        let range = ItemRange::new("conf#q", "doc#").after(after.as_deref());
        let page = store.query(range.limit(10)).await.expect("query");
        assert!(page.items.len() <= 10);
        (
            page.items.into_iter().map(|i| i.sk).collect(),
            page.next_after,
        )
    })
    .await;
    let expected: Vec<String> = (0..23).map(|i| format!("doc#{i:03}")).collect();
    assert_eq!(
        keys, expected,
        "every item of the prefix once, in order, in its partition only"
    );
    assert_eq!(
        store
            .query(ItemRange::new("conf#q", ""))
            .await
            .expect("whole partition")
            .items
            .len(),
        24
    );
    assert!(
        store
            .query(ItemRange::new("conf#none", ""))
            .await
            .expect("empty partition")
            .items
            .is_empty()
    );
}

/// Generates one `#[tokio::test]` per conformance check. `$objects` and `$meta` are
/// expressions evaluated afresh in each test, giving an `ObjectStore` and a `MetaStore`
/// (anything that dereferences to them, e.g. a value, a `Box` or an `Arc`).
#[macro_export]
macro_rules! conformance_suite {
    (objects: $objects:expr, meta: $meta:expr $(,)?) => {
        $crate::conformance_suite!(@tests $objects; objects_put_if_absent_has_exactly_one_winner);
        $crate::conformance_suite!(sequential_creates: $objects, meta: $meta);
    };
    // Every check but racing conditional creates, for object stores that check
    // `If-None-Match: *` and then write (s3s-fs, which the AWS adapters are tested on; S3 itself
    // is atomic). The engine never relies on winning such a race.
    (sequential_creates: $objects:expr, meta: $meta:expr $(,)?) => {
        $crate::conformance_suite!(@tests $objects;
            objects_round_trip,
            objects_put_if_absent_refuses_an_existing_object,
            objects_ranged_reads,
            objects_list_by_prefix_with_pagination);
        $crate::conformance_suite!(@tests $meta;
            items_round_trip_with_conditions,
            items_conditional_put_races_have_exactly_one_winner,
            transactions_are_all_or_nothing,
            concurrent_transactions_commit_each_version_once,
            counters_add_atomically,
            queries_by_prefix_with_pagination,
            expired_items_go_and_live_ones_stay);
    };
    (@tests $store:expr; $($name:ident),*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let store = $store;
            $crate::conformance::$name(&*store).await;
        }
    )*};
}

pub async fn expired_items_go_and_live_ones_stay(store: &dyn MetaStore) {
    let mut expired = Item::new("conf#ttl", "old", 1, Bytes::new());
    expired.ttl = Some(1);
    let mut live = Item::new("conf#ttl", "live", 1, Bytes::new());
    live.ttl = Some(4_000_000_000);
    let forever = Item::new("conf#ttl", "forever", 1, Bytes::new());
    for item in [expired, live, forever] {
        store.put(item, Condition::None).await.expect("put");
    }
    // Stores that expire items themselves remove nothing here; the others remove the one.
    let removed = store.remove_expired(2_000_000_000).await.expect("remove");
    assert!(removed <= 1, "only the expired item may go, {removed} went");
    let old = store.get("conf#ttl", "old").await.expect("get");
    assert_eq!(old.is_none(), removed == 1, "the count says what went");
    for sk in ["live", "forever"] {
        assert!(
            store.get("conf#ttl", sk).await.expect("get").is_some(),
            "{sk} must stay"
        );
    }
}

/// Reads page after page (`read` gets the previous page's `next_after`) until the last; returns
/// every key in order and how many pages it took.
async fn every_page<F, Fut>(mut read: F) -> (Vec<String>, usize)
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = (Vec<String>, Option<String>)>,
{
    let (mut keys, mut pages, mut after) = (Vec::new(), 0, None);
    loop {
        let (page, next) = read(after).await;
        keys.extend(page);
        pages += 1;
        match next {
            Some(next) => after = Some(next),
            None => return (keys, pages),
        }
    }
}

/// The stored version of item `pk`/`sk`, `None` when there is none.
async fn version_of(store: &dyn MetaStore, pk: &str, sk: &str) -> Option<u64> {
    store.get(pk, sk).await.expect("get").map(|i| i.version)
}
