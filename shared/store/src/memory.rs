//! In-memory adapters: the reference semantics of both ports, for unit tests and for callers
//! that want a throwaway store. Everything happens under one lock, so every operation is atomic.

use std::{collections::BTreeMap, ops::Range, sync::Mutex};

use bytes::Bytes;

use crate::{
    Condition, Item, ItemRange, ListPage, MetaStore, ObjectMeta, ObjectStore, QueryPage,
    StoreError, StoreResult, TransactWrite, next_counter, validate_transaction,
};

fn poisoned<T>(_: T) -> StoreError {
    StoreError::Backend("in-memory store lock poisoned".into())
}

/// Objects in a map.
#[derive(Debug, Default)]
pub struct MemoryObjectStore {
    objects: Mutex<BTreeMap<String, Bytes>>,
}

impl MemoryObjectStore {
    pub fn new() -> Self {
        Self::default()
    }
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl ObjectStore for MemoryObjectStore {
    async fn put(&self, key: &str, body: Bytes) -> StoreResult<()> {
        self.objects
            .lock()
            .map_err(poisoned)?
            .insert(key.to_string(), body);
        Ok(())
    }

    async fn put_if_absent(&self, key: &str, body: Bytes) -> StoreResult<bool> {
        let mut objects = self.objects.lock().map_err(poisoned)?;
        if objects.contains_key(key) {
            return Ok(false);
        }
        objects.insert(key.to_string(), body);
        Ok(true)
    }

    async fn get(&self, key: &str) -> StoreResult<Bytes> {
        self.objects
            .lock()
            .map_err(poisoned)?
            .get(key)
            .cloned()
            .ok_or_else(|| StoreError::NotFound { key: key.into() })
    }

    async fn get_range(&self, key: &str, range: Range<u64>) -> StoreResult<Bytes> {
        let body = self.get(key).await?;
        let end = (range.end.min(body.len() as u64)) as usize;
        let start = (range.start as usize).min(end);
        Ok(body.slice(start..end))
    }

    async fn head(&self, key: &str) -> StoreResult<Option<ObjectMeta>> {
        let objects = self.objects.lock().map_err(poisoned)?;
        Ok(objects.get(key).map(|b| ObjectMeta {
            key: key.to_string(),
            size: b.len() as u64,
        }))
    }

    async fn delete(&self, key: &str) -> StoreResult<()> {
        self.objects.lock().map_err(poisoned)?.remove(key);
        Ok(())
    }

    async fn list(&self, prefix: &str, after: Option<&str>, limit: usize) -> StoreResult<ListPage> {
        let objects = self.objects.lock().map_err(poisoned)?;
        let page: Vec<ObjectMeta> = objects
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .filter(|(k, _)| after.is_none_or(|a| k.as_str() > a))
            .take(limit.max(1) + 1)
            .map(|(k, b)| ObjectMeta {
                key: k.clone(),
                size: b.len() as u64,
            })
            .collect();
        Ok(ListPage::from_overfetched(page, limit))
    }
}

/// Items in a map keyed by (pk, sk).
#[derive(Debug, Default)]
pub struct MemoryMetaStore {
    items: Mutex<BTreeMap<(String, String), Item>>,
}

impl MemoryMetaStore {
    pub fn new() -> Self {
        Self::default()
    }
}

fn key(pk: &str, sk: &str) -> (String, String) {
    (pk.to_string(), sk.to_string())
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl MetaStore for MemoryMetaStore {
    async fn get(&self, pk: &str, sk: &str) -> StoreResult<Option<Item>> {
        Ok(self
            .items
            .lock()
            .map_err(poisoned)?
            .get(&key(pk, sk))
            .cloned())
    }

    async fn put(&self, item: Item, condition: Condition) -> StoreResult<()> {
        let mut items = self.items.lock().map_err(poisoned)?;
        let k = key(&item.pk, &item.sk);
        if !condition.holds(items.get(&k).map(|i| i.version)) {
            return Err(StoreError::ConditionFailed { index: None });
        }
        items.insert(k, item);
        Ok(())
    }

    async fn delete(&self, pk: &str, sk: &str, condition: Condition) -> StoreResult<()> {
        let mut items = self.items.lock().map_err(poisoned)?;
        let k = key(pk, sk);
        if !condition.holds(items.get(&k).map(|i| i.version)) {
            return Err(StoreError::ConditionFailed { index: None });
        }
        items.remove(&k);
        Ok(())
    }

    async fn add(&self, pk: &str, sk: &str, delta: i64, ttl: Option<u64>) -> StoreResult<i64> {
        let mut items = self.items.lock().map_err(poisoned)?;
        let k = key(pk, sk);
        let (item, next) = next_counter(pk, sk, items.get(&k), delta, ttl)?;
        items.insert(k, item);
        Ok(next)
    }

    async fn remove_expired(&self, now_seconds: u64) -> StoreResult<u64> {
        let mut items = self.items.lock().map_err(poisoned)?;
        let before = items.len();
        items.retain(|_, item| item.ttl.is_none_or(|ttl| ttl >= now_seconds));
        Ok((before - items.len()) as u64)
    }

    async fn query(&self, range: ItemRange<'_>) -> StoreResult<QueryPage> {
        let ItemRange { pk, prefix, .. } = range;
        let items = self.items.lock().map_err(poisoned)?;
        let start = key(pk, range.after.filter(|a| *a >= prefix).unwrap_or(prefix));
        let page: Vec<Item> = items
            .range(start..)
            .take_while(|((p, s), _)| p == pk && s.starts_with(prefix))
            .filter(|((_, s), _)| range.after.is_none_or(|a| s.as_str() > a))
            .take(range.limit.max(1) + 1)
            .map(|(_, item)| item.clone())
            .collect();
        Ok(QueryPage::from_overfetched(page, range.limit))
    }

    async fn transact(&self, writes: Vec<TransactWrite>) -> StoreResult<()> {
        validate_transaction(&writes)?;
        let mut items = self.items.lock().map_err(poisoned)?;
        for (index, w) in writes.iter().enumerate() {
            let (pk, sk) = w.key();
            if !w
                .condition()
                .holds(items.get(&key(pk, sk)).map(|i| i.version))
            {
                return Err(StoreError::ConditionFailed { index: Some(index) });
            }
        }
        for w in writes {
            match w {
                TransactWrite::Put { item, .. } => {
                    items.insert(key(&item.pk, &item.sk), item);
                }
                TransactWrite::Delete { pk, sk, .. } => {
                    items.remove(&key(&pk, &sk));
                }
                TransactWrite::Check { .. } => {}
            }
        }
        Ok(())
    }
}
