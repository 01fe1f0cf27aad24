//! The metadata port on D1 (SQLite). One table of items keyed by (pk, sk). Conditional writes
//! and transactions are D1 batches, which run as one SQL transaction: each condition becomes a
//! guard statement that inserts a NULL into a NOT NULL column exactly when the condition does
//! not hold, so a failed condition aborts the whole batch and nothing is written. That gives
//! DynamoDB's semantics: conditions and writes are checked and applied atomically.
//!
//! Values are stored base64-encoded (D1 returns blobs as number arrays); counters live in an
//! integer column so `add` is one `INSERT … ON CONFLICT DO UPDATE … RETURNING` (JS numbers:
//! exact to 2^53).

use std::cell::Cell;

use base64::Engine as _;
use bytes::Bytes;
use serde::Deserialize;
use snapkb_store::{
    Condition, Item, ItemRange, MetaStore, QueryPage, StoreError, StoreResult, TransactWrite,
    validate_transaction,
};
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement};

const SCHEMA: [&str; 2] = [
    "CREATE TABLE IF NOT EXISTS snapkb_items (pk TEXT NOT NULL, sk TEXT NOT NULL, version INTEGER NOT NULL, value TEXT, counter INTEGER, ttl INTEGER, PRIMARY KEY (pk, sk)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS snapkb_guard (ok INTEGER NOT NULL)",
];
const COLUMNS: &str = "pk, sk, version, value, counter, ttl";
/// The table name in the error of a failed guard.
const GUARD: &str = "snapkb_guard";

pub struct D1Meta {
    db: D1Database,
    ready: Cell<bool>,
}

#[derive(Deserialize)]
struct Row {
    pk: String,
    sk: String,
    version: f64,
    value: Option<String>,
    counter: Option<f64>,
    ttl: Option<f64>,
}

impl Row {
    fn into_item(self) -> StoreResult<Item> {
        let value = match (self.counter, self.value) {
            (Some(counter), _) => Bytes::copy_from_slice(&(counter as i64).to_le_bytes()),
            (None, Some(text)) => base64::engine::general_purpose::STANDARD
                .decode(text)
                .map(Bytes::from)
                .map_err(|e| {
                    StoreError::Backend(format!("D1 item {}/{}: {e}", self.pk, self.sk))
                })?,
            (None, None) => Bytes::new(),
        };
        Ok(Item {
            pk: self.pk,
            sk: self.sk,
            version: self.version as u64,
            value,
            ttl: self.ttl.map(|t| t as u64),
        })
    }
}

fn error(op: &str, e: worker::Error) -> StoreError {
    let text = e.to_string();
    if text.contains(GUARD) {
        StoreError::ConditionFailed { index: None }
    } else if text.contains("SQLITE_BUSY") || text.contains("overloaded") {
        StoreError::Throttled
    } else {
        StoreError::Unavailable(format!("D1 {op}: {text}"))
    }
}

fn text(s: &str) -> JsValue {
    JsValue::from_str(s)
}

fn number(n: u64) -> JsValue {
    JsValue::from_f64(n as f64)
}

fn optional(n: Option<u64>) -> JsValue {
    n.map_or(JsValue::NULL, number)
}

impl D1Meta {
    pub fn new(db: D1Database) -> Self {
        Self {
            db,
            ready: Cell::new(false),
        }
    }

    async fn ensure_schema(&self) -> StoreResult<()> {
        if self.ready.get() {
            return Ok(());
        }
        let statements = SCHEMA.iter().map(|sql| self.db.prepare(*sql)).collect();
        self.db
            .batch(statements)
            .await
            .map_err(|e| error("schema", e))?;
        self.ready.set(true);
        Ok(())
    }

    fn statement(&self, sql: &str, args: &[JsValue]) -> StoreResult<D1PreparedStatement> {
        self.db
            .prepare(sql)
            .bind(args)
            .map_err(|e| StoreError::Invalid(format!("D1 bind: {e}")))
    }

    /// A statement that fails the batch unless `condition` holds for (pk, sk).
    fn guard(
        &self,
        pk: &str,
        sk: &str,
        condition: Condition,
    ) -> StoreResult<Option<D1PreparedStatement>> {
        let exists = "EXISTS (SELECT 1 FROM snapkb_items WHERE pk = ?1 AND sk = ?2";
        let (sql, args) = match condition {
            Condition::None => return Ok(None),
            Condition::Absent => (format!("{exists})"), vec![text(pk), text(sk)]),
            Condition::Exists => (format!("NOT {exists})"), vec![text(pk), text(sk)]),
            Condition::VersionEquals(v) => (
                format!("NOT {exists} AND version = ?3)"),
                vec![text(pk), text(sk), number(v)],
            ),
        };
        let sql = format!("INSERT INTO {GUARD} (ok) SELECT NULL WHERE {sql}");
        self.statement(&sql, &args).map(Some)
    }

    fn write(&self, write: &TransactWrite) -> StoreResult<Vec<D1PreparedStatement>> {
        let (pk, sk) = write.key();
        let mut statements: Vec<_> = self.guard(pk, sk, write.condition())?.into_iter().collect();
        match write {
            TransactWrite::Put { item, .. } => statements.push(self.statement(
                &format!("INSERT OR REPLACE INTO snapkb_items ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, NULL, ?5)"),
                &[
                    text(&item.pk),
                    text(&item.sk),
                    number(item.version),
                    text(&base64::engine::general_purpose::STANDARD.encode(&item.value)),
                    optional(item.ttl),
                ],
            )?),
            TransactWrite::Delete { pk, sk, .. } => statements.push(self.statement(
                "DELETE FROM snapkb_items WHERE pk = ?1 AND sk = ?2",
                &[text(pk), text(sk)],
            )?),
            TransactWrite::Check { .. } => {}
        }
        Ok(statements)
    }

    async fn run(&self, op: &str, statements: Vec<D1PreparedStatement>) -> StoreResult<()> {
        self.ensure_schema().await?;
        self.db
            .batch(statements)
            .await
            .map(drop)
            .map_err(|e| error(op, e))
    }
}

#[async_trait::async_trait(?Send)]
impl MetaStore for D1Meta {
    async fn get(&self, pk: &str, sk: &str) -> StoreResult<Option<Item>> {
        self.ensure_schema().await?;
        let row: Option<Row> = self
            .statement(
                &format!("SELECT {COLUMNS} FROM snapkb_items WHERE pk = ?1 AND sk = ?2"),
                &[text(pk), text(sk)],
            )?
            .first(None)
            .await
            .map_err(|e| error("get", e))?;
        row.map(Row::into_item).transpose()
    }

    async fn put(&self, item: Item, condition: Condition) -> StoreResult<()> {
        let statements = self.write(&TransactWrite::Put { item, condition })?;
        self.run("put", statements).await
    }

    async fn delete(&self, pk: &str, sk: &str, condition: Condition) -> StoreResult<()> {
        let statements = self.write(&TransactWrite::Delete {
            pk: pk.into(),
            sk: sk.into(),
            condition,
        })?;
        self.run("delete", statements).await
    }

    async fn add(&self, pk: &str, sk: &str, delta: i64, ttl: Option<u64>) -> StoreResult<i64> {
        self.ensure_schema().await?;
        #[derive(Deserialize)]
        struct Counter {
            counter: f64,
        }
        let row: Option<Counter> = self
            .statement(
                &format!(
                    "INSERT INTO snapkb_items ({COLUMNS}) VALUES (?1, ?2, 0, NULL, ?3, ?4) \
                     ON CONFLICT (pk, sk) DO UPDATE SET counter = counter + excluded.counter, \
                     ttl = coalesce(excluded.ttl, ttl) WHERE counter IS NOT NULL RETURNING counter"
                ),
                &[
                    text(pk),
                    text(sk),
                    JsValue::from_f64(delta as f64),
                    optional(ttl),
                ],
            )?
            .first(None)
            .await
            .map_err(|e| error("add", e))?;
        row.map(|r| r.counter as i64)
            .ok_or_else(|| StoreError::Invalid(format!("item {pk}/{sk} is not a counter")))
    }

    async fn query(&self, range: ItemRange<'_>) -> StoreResult<QueryPage> {
        let ItemRange { pk, prefix, .. } = range;
        self.ensure_schema().await?;
        let limit = range.limit.max(1);
        let rows = self
            .statement(
                &format!(
                    "SELECT {COLUMNS} FROM snapkb_items WHERE pk = ?1 AND sk >= ?2 \
                     AND substr(sk, 1, length(?2)) = ?2 AND (?3 IS NULL OR sk > ?3) \
                     ORDER BY sk LIMIT ?4"
                ),
                &[
                    text(pk),
                    text(prefix),
                    range.after.map_or(JsValue::NULL, text),
                    number(limit as u64 + 1),
                ],
            )?
            .all()
            .await
            .map_err(|e| error("query", e))?
            .results::<Row>()
            .map_err(|e| error("query", e))?;
        let items = rows
            .into_iter()
            .map(Row::into_item)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(QueryPage::from_overfetched(items, limit))
    }

    async fn transact(&self, writes: Vec<TransactWrite>) -> StoreResult<()> {
        validate_transaction(&writes)?;
        let mut statements = Vec::new();
        for write in &writes {
            statements.extend(self.write(write)?);
        }
        if statements.is_empty() {
            return Ok(());
        }
        self.run("transact", statements).await
    }
}
