//! The metadata port on DynamoDB's JSON API (`X-Amz-Target: DynamoDB_20120810.*`): the same
//! requests snapkb-aws makes through the SDK — consistent reads, condition expressions,
//! `ADD` for counters, `begins_with` queries, TransactWriteItems — on the same table layout
//! (`snapkb-dynamo-wire`).

use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use serde_json::{Map, Value, json};
use snapkb_dynamo_wire as wire;
use snapkb_store::{
    Condition, Item, ItemRange, MetaStore, Outbound, OutboundRequest, QueryPage, StoreError,
    StoreResult, TransactWrite, validate_transaction,
};

use crate::sign::{AwsTarget, status_error};

pub struct HttpDynamoMeta {
    outbound: Arc<dyn Outbound>,
    target: AwsTarget,
    table: String,
}

impl std::fmt::Debug for HttpDynamoMeta {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpDynamoMeta")
            .field("table", &self.table)
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

fn s(v: &str) -> Value {
    json!({ "S": v })
}

fn n(v: impl ToString) -> Value {
    json!({ "N": v.to_string() })
}

fn key(pk: &str, sk: &str) -> Value {
    json!({ wire::PK: s(pk), wire::SK: s(sk) })
}

fn attrs_of(item: &Item) -> Value {
    let mut a = key(&item.pk, &item.sk);
    a[wire::VERSION] = n(item.version);
    a[wire::VALUE] = json!({ "B": base64::engine::general_purpose::STANDARD.encode(&item.value) });
    if let Some(ttl) = item.ttl {
        a[wire::TTL] = n(ttl);
    }
    a
}

fn item_of(a: &Value) -> StoreResult<Item> {
    let value = a[wire::VALUE]["B"]
        .as_str()
        .map(|b| base64::engine::general_purpose::STANDARD.decode(b))
        .transpose()
        .map_err(|e| StoreError::Backend(format!("item value: {e}")))?;
    wire::Attributes {
        pk: a[wire::PK]["S"].as_str(),
        sk: a[wire::SK]["S"].as_str(),
        version: a[wire::VERSION]["N"].as_str(),
        value: value.map(Bytes::from),
        counter: a[wire::COUNTER]["N"].as_str(),
        ttl: a[wire::TTL]["N"].as_str(),
    }
    .item()
}

/// Adds an expression, with its names and values, to a request object (`values` already
/// holding any non-numeric ones).
fn with_expression(
    request: &mut Map<String, Value>,
    field: &str,
    e: wire::Expression,
    mut values: Map<String, Value>,
) {
    request.insert(field.into(), e.expression.into());
    if !e.names.is_empty() {
        let names: Map<String, Value> = e
            .names
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.into()))
            .collect();
        request.insert("ExpressionAttributeNames".into(), names.into());
    }
    values.extend(e.numbers.into_iter().map(|(k, v)| (k.to_string(), n(v))));
    if !values.is_empty() {
        request.insert("ExpressionAttributeValues".into(), values.into());
    }
}

fn with_condition(request: &mut Map<String, Value>, condition: Option<wire::Expression>) {
    if let Some(e) = condition {
        with_expression(request, "ConditionExpression", e, Map::new());
    }
}

fn object(value: Value) -> Map<String, Value> {
    if let Value::Object(map) = value {
        map
    } else {
        Map::new()
    }
}

impl HttpDynamoMeta {
    pub fn new(outbound: Arc<dyn Outbound>, target: AwsTarget, table: impl Into<String>) -> Self {
        Self {
            outbound,
            target,
            table: table.into(),
        }
    }

    fn endpoint(&self) -> String {
        self.target
            .endpoint
            .clone()
            .unwrap_or_else(|| format!("https://dynamodb.{}.amazonaws.com", self.target.region))
    }

    /// Calls `operation`; DynamoDB's errors (`__type`) as storage errors.
    async fn call(&self, operation: &str, body: Value) -> StoreResult<Value> {
        let mut request = OutboundRequest {
            method: "POST".into(),
            url: format!("{}/", self.endpoint().trim_end_matches('/')),
            headers: vec![
                ("content-type".into(), "application/x-amz-json-1.0".into()),
                (
                    "x-amz-target".into(),
                    format!("DynamoDB_20120810.{operation}"),
                ),
            ],
            body: Bytes::from(body.to_string()),
        };
        self.target.sign("dynamodb", &mut request)?;
        let response = self.outbound.send(request).await?;
        let parsed: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
        if (200..300).contains(&response.status) {
            return Ok(parsed);
        }
        let kind = parsed["__type"]
            .as_str()
            .and_then(|t| t.rsplit('#').next())
            .unwrap_or_default();
        let message = parsed["message"]
            .as_str()
            .or(parsed["Message"].as_str())
            .unwrap_or_default();
        if kind == "TransactionCanceledException" {
            let reasons = parsed["CancellationReasons"].as_array();
            let codes = reasons.into_iter().flatten().map(|r| r["Code"].as_str());
            return Err(wire::cancellation_error(codes)
                .unwrap_or_else(|| StoreError::Backend(format!("{kind}: {message}"))));
        }
        Err(wire::error_for_code(kind, message).unwrap_or_else(|| {
            status_error(
                &format!("DynamoDB {operation}"),
                response.status,
                &response.body,
            )
        }))
    }
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl MetaStore for HttpDynamoMeta {
    async fn get(&self, pk: &str, sk: &str) -> StoreResult<Option<Item>> {
        let out = self
            .call(
                "GetItem",
                json!({ "TableName": self.table, "Key": key(pk, sk), "ConsistentRead": true }),
            )
            .await?;
        match out.get("Item") {
            Some(item) if item.is_object() => item_of(item).map(Some),
            _ => Ok(None),
        }
    }

    async fn put(&self, item: Item, condition: Condition) -> StoreResult<()> {
        let mut request = object(json!({ "TableName": self.table, "Item": attrs_of(&item) }));
        with_condition(&mut request, wire::condition(condition));
        self.call("PutItem", Value::Object(request)).await.map(drop)
    }

    async fn delete(&self, pk: &str, sk: &str, condition: Condition) -> StoreResult<()> {
        let mut request = object(json!({ "TableName": self.table, "Key": key(pk, sk) }));
        with_condition(&mut request, wire::condition(condition));
        self.call("DeleteItem", Value::Object(request))
            .await
            .map(drop)
    }

    async fn add(&self, pk: &str, sk: &str, delta: i64, ttl: Option<u64>) -> StoreResult<i64> {
        let mut request = object(json!({
            "TableName": self.table,
            "Key": key(pk, sk),
            "ReturnValues": "UPDATED_NEW",
        }));
        let update = wire::counter_add(delta, ttl);
        with_expression(&mut request, "UpdateExpression", update, Map::new());
        let out = self.call("UpdateItem", Value::Object(request)).await?;
        wire::parse_counter(out["Attributes"][wire::COUNTER]["N"].as_str())
    }

    async fn query(&self, range: ItemRange<'_>) -> StoreResult<QueryPage> {
        let ItemRange { pk, prefix, .. } = range;
        let wanted = wire::query_wanted(range.limit);
        let mut items = Vec::new();
        let mut start: Option<Value> = range.after.map(|a| key(pk, a));
        loop {
            let mut request = object(json!({
                "TableName": self.table,
                "ConsistentRead": true,
                "Limit": wanted - items.len(),
            }));
            let mut values = object(json!({ ":pk": s(pk) }));
            if !prefix.is_empty() {
                values.insert(":prefix".into(), s(prefix));
            }
            request.insert(
                "KeyConditionExpression".into(),
                wire::key_condition(prefix).into(),
            );
            request.insert("ExpressionAttributeValues".into(), values.into());
            if let Some(start) = start.take() {
                request.insert("ExclusiveStartKey".into(), start);
            }
            let out = self.call("Query", Value::Object(request)).await?;
            for a in out["Items"].as_array().into_iter().flatten() {
                items.push(item_of(a)?);
            }
            match out.get("LastEvaluatedKey") {
                Some(k) if k.is_object() && items.len() < wanted => start = Some(k.clone()),
                _ => break,
            }
        }
        Ok(QueryPage::from_overfetched(items, range.limit))
    }

    async fn transact(&self, writes: Vec<TransactWrite>) -> StoreResult<()> {
        validate_transaction(&writes)?;
        let items: Vec<Value> = writes
            .iter()
            .map(|w| {
                let (kind, mut request) = match w {
                    TransactWrite::Put { item, .. } => (
                        "Put",
                        object(json!({ "TableName": self.table, "Item": attrs_of(item) })),
                    ),
                    TransactWrite::Delete { pk, sk, .. } => (
                        "Delete",
                        object(json!({ "TableName": self.table, "Key": key(pk, sk) })),
                    ),
                    TransactWrite::Check { pk, sk, .. } => (
                        "ConditionCheck",
                        object(json!({ "TableName": self.table, "Key": key(pk, sk) })),
                    ),
                };
                let condition = match w {
                    TransactWrite::Check { .. } => Some(wire::check_condition(w.condition())),
                    TransactWrite::Put { .. } | TransactWrite::Delete { .. } => {
                        wire::condition(w.condition())
                    }
                };
                with_condition(&mut request, condition);
                json!({ kind: Value::Object(request) })
            })
            .collect();
        self.call("TransactWriteItems", json!({ "TransactItems": items }))
            .await
            .map(drop)
    }
}
