//! Fixed-window rate limits per key and per project. Counters live where the deployment's
//! instances can all see them: the key-value table (atomic add with a TTL) when functions scale
//! out, process memory when one process owns the data (`snapkb serve`), where a table write per
//! request would cost a disk sync.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use snapkb_core::RateWindow;
use snapkb_store::{MaybeSendSync, MetaStore};

use crate::{EngineError, sync::lock};

/// Counts requests in a window; returns the count including this one.
#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
pub trait RateLimiter: MaybeSendSync {
    async fn hit(
        &self,
        counter: &str,
        window: RateWindow,
        window_seconds: u32,
    ) -> Result<u64, EngineError>;
    /// The count so far, without counting.
    async fn peek(&self, counter: &str, window: RateWindow) -> Result<u64, EngineError>;
}

/// Counters in process memory.
#[derive(Debug, Default)]
pub struct LocalRateLimiter {
    windows: Mutex<HashMap<String, (u64, u64)>>,
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl RateLimiter for LocalRateLimiter {
    async fn hit(&self, counter: &str, window: RateWindow, _: u32) -> Result<u64, EngineError> {
        let mut windows = lock(&self.windows);
        if windows.len() > 100_000 {
            windows.retain(|_, (start, _)| *start >= window.start);
        }
        let entry = windows
            .entry(counter.to_string())
            .or_insert((window.start, 0));
        if entry.0 != window.start {
            *entry = (window.start, 0);
        }
        entry.1 += 1;
        Ok(entry.1)
    }

    async fn peek(&self, counter: &str, window: RateWindow) -> Result<u64, EngineError> {
        Ok(lock(&self.windows)
            .get(counter)
            .filter(|(start, _)| *start == window.start)
            .map_or(0, |(_, n)| *n))
    }
}

/// Counters in the key-value table, shared by every instance.
pub struct TableRateLimiter {
    pub meta: Arc<dyn MetaStore>,
}

impl std::fmt::Debug for TableRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TableRateLimiter")
    }
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl RateLimiter for TableRateLimiter {
    async fn hit(
        &self,
        counter: &str,
        window: RateWindow,
        window_seconds: u32,
    ) -> Result<u64, EngineError> {
        let ttl = window.start + u64::from(window_seconds) + 60;
        let n = self
            .meta
            .add(counter, &window.start.to_string(), 1, Some(ttl))
            .await?;
        Ok(n.max(0) as u64)
    }

    async fn peek(&self, counter: &str, window: RateWindow) -> Result<u64, EngineError> {
        let item = self.meta.get(counter, &window.start.to_string()).await?;
        Ok(item
            .map(|i| snapkb_store::counter_value(&i))
            .transpose()?
            .unwrap_or(0)
            .max(0) as u64)
    }
}

/// The tighter of the key and project limits after a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateStatus {
    pub limit: u32,
    pub remaining: u32,
    pub reset_after: u64,
}
