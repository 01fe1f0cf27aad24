//! The metadata port: a table of items addressed by (partition key, sort key), modelled on
//! DynamoDB so that its semantics map one to one onto the production backend.

use bytes::Bytes;

use crate::{MaybeSendSync, StoreError, StoreResult};

/// One item. `version` is the caller's optimistic-concurrency counter (conditions compare it);
/// `value` is opaque to the store; `ttl` is an expiry time in Unix seconds that backends may
/// use to delete the item some time after it passes (readers must not rely on prompt removal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub pk: String,
    pub sk: String,
    pub version: u64,
    pub value: Bytes,
    pub ttl: Option<u64>,
}

impl Item {
    pub fn new(
        pk: impl Into<String>,
        sk: impl Into<String>,
        version: u64,
        value: impl Into<Bytes>,
    ) -> Self {
        Self {
            pk: pk.into(),
            sk: sk.into(),
            version,
            value: value.into(),
            ttl: None,
        }
    }
}

/// A condition on the item a write targets, checked atomically with the write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// Write unconditionally.
    None,
    /// The item must not exist.
    Absent,
    /// The item must exist.
    Exists,
    /// The item must exist with this version.
    VersionEquals(u64),
}

impl Condition {
    /// Whether the condition holds for an item currently at `existing` version (None: absent).
    pub fn holds(self, existing: Option<u64>) -> bool {
        match self {
            Condition::None => true,
            Condition::Absent => existing.is_none(),
            Condition::Exists => existing.is_some(),
            Condition::VersionEquals(v) => existing == Some(v),
        }
    }
}

/// The value of a counter item written by [`MetaStore::add`].
pub fn counter_value(item: &Item) -> StoreResult<i64> {
    let bytes: [u8; 8] = item.value.as_ref().try_into().map_err(|_| {
        StoreError::Invalid(format!("item {}/{} is not a counter", item.pk, item.sk))
    })?;
    Ok(i64::from_le_bytes(bytes))
}

/// Checks a transaction's shape: 1..=100 writes, no item twice.
pub fn validate_transaction(writes: &[TransactWrite]) -> StoreResult<()> {
    if writes.is_empty() || writes.len() > MAX_TRANSACT_WRITES {
        return Err(StoreError::Invalid(format!(
            "a transaction holds 1 to {MAX_TRANSACT_WRITES} writes, got {}",
            writes.len()
        )));
    }
    let mut seen = std::collections::HashSet::new();
    for w in writes {
        if !seen.insert(w.key()) {
            let (pk, sk) = w.key();
            return Err(StoreError::Invalid(format!(
                "item {pk}/{sk} appears twice in one transaction"
            )));
        }
    }
    Ok(())
}

impl TransactWrite {
    /// The (pk, sk) this write targets.
    pub fn key(&self) -> (&str, &str) {
        match self {
            TransactWrite::Put { item, .. } => (&item.pk, &item.sk),
            TransactWrite::Delete { pk, sk, .. } | TransactWrite::Check { pk, sk, .. } => (pk, sk),
        }
    }

    pub fn condition(&self) -> Condition {
        match self {
            TransactWrite::Put { condition, .. }
            | TransactWrite::Delete { condition, .. }
            | TransactWrite::Check { condition, .. } => *condition,
        }
    }
}

/// One write of a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransactWrite {
    Put {
        item: Item,
        condition: Condition,
    },
    Delete {
        pk: String,
        sk: String,
        condition: Condition,
    },
    /// Only checks a condition on another item (DynamoDB's ConditionCheck).
    Check {
        pk: String,
        sk: String,
        condition: Condition,
    },
}

/// What [`MetaStore::query`] reads: up to `limit` items of partition `pk` whose sort keys
/// start with `prefix` and sort after `after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemRange<'a> {
    pub pk: &'a str,
    pub prefix: &'a str,
    pub after: Option<&'a str>,
    pub limit: usize,
}

impl<'a> ItemRange<'a> {
    /// The first page (up to 1,000 items) of `pk`'s items under `prefix`.
    pub fn new(pk: &'a str, prefix: &'a str) -> Self {
        Self {
            pk,
            prefix,
            after: None,
            limit: 1000,
        }
    }

    /// The page that starts after sort key `after` (a previous page's `next_after`).
    pub fn after(self, after: Option<&'a str>) -> Self {
        Self { after, ..self }
    }

    pub fn limit(self, limit: usize) -> Self {
        Self { limit, ..self }
    }
}

/// One page of a query, items in ascending sort-key order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryPage {
    pub items: Vec<Item>,
    /// Pass as `after` to get the next page; `None` when this was the last.
    pub next_after: Option<String>,
}

impl QueryPage {
    /// A page from up to `limit + 1` items in sort-key order: the extra one only tells that
    /// more follow.
    pub fn from_overfetched(items: Vec<Item>, limit: usize) -> Self {
        let (items, next_after) = paginate(items, limit, |i| i.sk.clone());
        Self { items, next_after }
    }
}

/// Keeps the first `limit` entries; if there were more, the last kept key is where the next
/// page starts.
pub(crate) fn paginate<T>(
    mut entries: Vec<T>,
    limit: usize,
    key: impl Fn(&T) -> String,
) -> (Vec<T>, Option<String>) {
    let limit = limit.max(1);
    if entries.len() > limit {
        entries.truncate(limit);
        let next = entries.last().map(key);
        (entries, next)
    } else {
        (entries, None)
    }
}

/// The item [`MetaStore::add`] writes: `existing`'s value plus `delta`, keeping its TTL unless
/// a new one is given.
pub fn next_counter(
    pk: &str,
    sk: &str,
    existing: Option<&Item>,
    delta: i64,
    ttl: Option<u64>,
) -> StoreResult<(Item, i64)> {
    let current = existing.map(counter_value).transpose()?.unwrap_or(0);
    let next = current
        .checked_add(delta)
        .ok_or_else(|| StoreError::Invalid("counter overflow".into()))?;
    let mut item = Item::new(pk, sk, 0, Bytes::copy_from_slice(&next.to_le_bytes()));
    item.ttl = ttl.or(existing.and_then(|e| e.ttl));
    Ok((item, next))
}

/// The most writes one transaction may hold (DynamoDB's limit).
pub const MAX_TRANSACT_WRITES: usize = 100;

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
pub trait MetaStore: MaybeSendSync {
    /// A strongly consistent read.
    async fn get(&self, pk: &str, sk: &str) -> StoreResult<Option<Item>>;
    async fn put(&self, item: Item, condition: Condition) -> StoreResult<()>;
    async fn delete(&self, pk: &str, sk: &str, condition: Condition) -> StoreResult<()>;
    /// Atomically adds `delta` to a counter item (created at 0 if absent, its `ttl` set when
    /// given) and returns the new value. A counter's value is its `value`: 8 bytes, i64
    /// little-endian ([`counter_value`]).
    async fn add(&self, pk: &str, sk: &str, delta: i64, ttl: Option<u64>) -> StoreResult<i64>;
    /// One page of the items in `range`, in sort-key order.
    async fn query(&self, range: ItemRange<'_>) -> StoreResult<QueryPage>;
    /// Removes items whose `ttl` (Unix seconds) is before `now_seconds`; how many went. The
    /// default does nothing, for stores that expire items themselves (DynamoDB's TTL). Readers
    /// never rely on an expired item being gone; this only keeps the store from growing.
    async fn remove_expired(&self, _now_seconds: u64) -> StoreResult<u64> {
        Ok(0)
    }
    /// All writes or none: every condition is checked, then every write applied, atomically.
    /// At most [`MAX_TRANSACT_WRITES`], each item at most once.
    async fn transact(&self, writes: Vec<TransactWrite>) -> StoreResult<()>;
}
