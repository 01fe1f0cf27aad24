//! The metadata table in redb: one table keyed by (partition key, sort key). Every write is one
//! redb write transaction (serializable, fsynced on commit), so a condition and the write it
//! guards are atomic, and a multi-item commit lands whole or not at all.

use std::{path::Path, sync::Arc};

use bytes::Bytes;
use redb::{Database, ReadableTable, TableDefinition, WriteTransaction};
use snapkb_store::{
    Condition, Item, ItemRange, MetaStore, QueryPage, StoreError, StoreResult, TransactWrite,
    next_counter, validate_transaction,
};

use crate::blocking;

/// (pk, sk)
type ItemKey = (&'static str, &'static str);
/// (version, ttl, value)
type ItemValue = (u64, Option<u64>, &'static [u8]);
const ITEMS: TableDefinition<ItemKey, ItemValue> = TableDefinition::new("items");

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// A MetaStore in one redb database file.
#[derive(Clone)]
pub struct RedbMetaStore {
    db: Arc<Database>,
}

impl std::fmt::Debug for RedbMetaStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedbMetaStore")
    }
}

impl RedbMetaStore {
    /// Opens (or creates) the database at `path`.
    pub fn open(path: impl AsRef<Path>) -> StoreResult<Self> {
        if let Some(dir) = path.as_ref().parent() {
            std::fs::create_dir_all(dir).map_err(backend)?;
        }
        let db = Database::create(path.as_ref()).map_err(backend)?;
        let txn = db.begin_write().map_err(backend)?;
        txn.open_table(ITEMS).map_err(backend)?;
        txn.commit().map_err(backend)?;
        Ok(Self { db: Arc::new(db) })
    }

    fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&WriteTransaction) -> StoreResult<T> + Send + 'static,
    ) -> impl std::future::Future<Output = StoreResult<T>> + Send {
        let db = self.db.clone();
        blocking(move || {
            let txn = db.begin_write().map_err(backend)?;
            let out = work(&txn)?;
            txn.commit().map_err(backend)?;
            Ok(out)
        })
    }
}

/// An item from its stored tuple.
fn item_from(pk: &str, sk: &str, (version, ttl, value): (u64, Option<u64>, &[u8])) -> Item {
    Item {
        pk: pk.to_string(),
        sk: sk.to_string(),
        version,
        ttl,
        value: Bytes::copy_from_slice(value),
    }
}

fn stored_version(txn: &WriteTransaction, pk: &str, sk: &str) -> StoreResult<Option<u64>> {
    let table = txn.open_table(ITEMS).map_err(backend)?;
    let version = table.get((pk, sk)).map_err(backend)?.map(|g| g.value().0);
    Ok(version)
}

fn insert(txn: &WriteTransaction, item: &Item) -> StoreResult<()> {
    let mut table = txn.open_table(ITEMS).map_err(backend)?;
    table
        .insert(
            (item.pk.as_str(), item.sk.as_str()),
            (item.version, item.ttl, item.value.as_ref()),
        )
        .map_err(backend)?;
    Ok(())
}

fn remove(txn: &WriteTransaction, pk: &str, sk: &str) -> StoreResult<()> {
    let mut table = txn.open_table(ITEMS).map_err(backend)?;
    table.remove((pk, sk)).map_err(backend)?;
    Ok(())
}

#[async_trait::async_trait]
impl MetaStore for RedbMetaStore {
    /// Point reads run on the calling task: a redb read transaction takes microseconds from
    /// its page cache, far less than a hop to the blocking pool (every query reads the
    /// manifest). Writes, which fsync, go to the blocking pool.
    async fn get(&self, pk: &str, sk: &str) -> StoreResult<Option<Item>> {
        let txn = self.db.begin_read().map_err(backend)?;
        let table = txn.open_table(ITEMS).map_err(backend)?;
        let found = table.get((pk, sk)).map_err(backend)?;
        Ok(found.map(|g| item_from(pk, sk, g.value())))
    }

    async fn put(&self, item: Item, condition: Condition) -> StoreResult<()> {
        self.write(move |txn| {
            if !condition.holds(stored_version(txn, &item.pk, &item.sk)?) {
                return Err(StoreError::ConditionFailed { index: None });
            }
            insert(txn, &item)
        })
        .await
    }

    /// redb has no TTL of its own: the maintenance sweep calls this.
    async fn remove_expired(&self, now_seconds: u64) -> StoreResult<u64> {
        self.write(move |txn| {
            let mut table = txn.open_table(ITEMS).map_err(backend)?;
            let mut expired: Vec<(String, String)> = Vec::new();
            for entry in table.iter().map_err(backend)? {
                let (key, value) = entry.map_err(backend)?;
                if value.value().1.is_some_and(|ttl| ttl < now_seconds) {
                    let (pk, sk) = key.value();
                    expired.push((pk.to_string(), sk.to_string()));
                }
            }
            for (pk, sk) in &expired {
                table.remove((pk.as_str(), sk.as_str())).map_err(backend)?;
            }
            Ok(expired.len() as u64)
        })
        .await
    }

    async fn delete(&self, pk: &str, sk: &str, condition: Condition) -> StoreResult<()> {
        let (pk, sk) = (pk.to_string(), sk.to_string());
        self.write(move |txn| {
            if !condition.holds(stored_version(txn, &pk, &sk)?) {
                return Err(StoreError::ConditionFailed { index: None });
            }
            remove(txn, &pk, &sk)
        })
        .await
    }

    async fn add(&self, pk: &str, sk: &str, delta: i64, ttl: Option<u64>) -> StoreResult<i64> {
        let (pk, sk) = (pk.to_string(), sk.to_string());
        self.write(move |txn| {
            let existing = {
                let table = txn.open_table(ITEMS).map_err(backend)?;
                let found = table.get((pk.as_str(), sk.as_str())).map_err(backend)?;
                found.map(|g| item_from(&pk, &sk, g.value()))
            };
            let (item, next) = next_counter(&pk, &sk, existing.as_ref(), delta, ttl)?;
            insert(txn, &item)?;
            Ok(next)
        })
        .await
    }

    async fn query(&self, range: ItemRange<'_>) -> StoreResult<QueryPage> {
        let db = self.db.clone();
        let (pk, prefix) = (range.pk.to_string(), range.prefix.to_string());
        let (after, limit) = (range.after.map(str::to_string), range.limit.max(1));
        blocking(move || {
            let txn = db.begin_read().map_err(backend)?;
            let table = txn.open_table(ITEMS).map_err(backend)?;
            let start = match after.as_deref() {
                Some(a) if a >= prefix.as_str() => a.to_string(),
                _ => prefix.clone(),
            };
            let mut items = Vec::new();
            for entry in table
                .range((pk.as_str(), start.as_str())..)
                .map_err(backend)?
            {
                let (key, value) = entry.map_err(backend)?;
                let (p, s) = key.value();
                if p != pk || !s.starts_with(prefix.as_str()) {
                    break;
                }
                if after.as_deref().is_some_and(|a| s <= a) {
                    continue;
                }
                items.push(item_from(p, s, value.value()));
                if items.len() > limit {
                    break;
                }
            }
            Ok(QueryPage::from_overfetched(items, limit))
        })
        .await
    }

    async fn transact(&self, writes: Vec<TransactWrite>) -> StoreResult<()> {
        validate_transaction(&writes)?;
        self.write(move |txn| {
            for (index, w) in writes.iter().enumerate() {
                let (pk, sk) = w.key();
                if !w.condition().holds(stored_version(txn, pk, sk)?) {
                    // Returning before commit drops the transaction: nothing is written.
                    return Err(StoreError::ConditionFailed { index: Some(index) });
                }
            }
            for w in &writes {
                match w {
                    TransactWrite::Put { item, .. } => insert(txn, item)?,
                    TransactWrite::Delete { pk, sk, .. } => remove(txn, pk, sk)?,
                    TransactWrite::Check { .. } => {}
                }
            }
            Ok(())
        })
        .await
    }
}
