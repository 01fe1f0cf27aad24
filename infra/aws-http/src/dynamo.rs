//! The metadata port on DynamoDB's JSON API (`X-Amz-Target: DynamoDB_20120810.*`): the same
//! requests snapkb-aws makes through the SDK — consistent reads, condition expressions,
//! `ADD` for counters, `begins_with` queries, TransactWriteItems — and the same item layout.

use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use serde_json::{Map, Value, json};
use snapkb_store::{
    Condition, Item, MetaStore, Outbound, OutboundRequest, QueryPage, StoreError, TransactWrite,
    validate_transaction,
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
    json!({ "pk": s(pk), "sk": s(sk) })
}

fn attrs_of(item: &Item) -> Value {
    let mut a = json!({
        "pk": s(&item.pk),
        "sk": s(&item.sk),
        "v": n(item.version),
        "b": { "B": base64::engine::general_purpose::STANDARD.encode(&item.value) },
    });
    if let Some(ttl) = item.ttl {
        a["ttl"] = n(ttl);
    }
    a
}

fn item_of(a: &Value) -> Result<Item, StoreError> {
    let text = |k: &str| {
        a[k]["S"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| StoreError::Backend(format!("item without `{k}`")))
    };
    let number = |k: &str| a[k]["N"].as_str().and_then(|v| v.parse::<i64>().ok());
    let value = match (a["b"]["B"].as_str(), number("n")) {
        (Some(b), _) => Bytes::from(
            base64::engine::general_purpose::STANDARD
                .decode(b)
                .map_err(|e| StoreError::Backend(format!("item value: {e}")))?,
        ),
        (None, Some(counter)) => Bytes::copy_from_slice(&counter.to_le_bytes()),
        (None, None) => Bytes::new(),
    };
    Ok(Item {
        pk: text("pk")?,
        sk: text("sk")?,
        version: number("v").unwrap_or(0).max(0) as u64,
        value,
        ttl: number("ttl").map(|t| t.max(0) as u64),
    })
}

/// Adds a condition's expression, names and values to a request object.
fn with_condition(request: &mut Map<String, Value>, condition: Condition) {
    let (expression, names, values) = match condition {
        Condition::None => return,
        Condition::Absent => ("attribute_not_exists(pk)", None, None),
        Condition::Exists => ("attribute_exists(pk)", None, None),
        Condition::VersionEquals(v) => (
            "#v = :expected",
            Some(json!({ "#v": "v" })),
            Some(json!({ ":expected": n(v) })),
        ),
    };
    request.insert("ConditionExpression".into(), expression.into());
    if let Some(names) = names {
        request.insert("ExpressionAttributeNames".into(), names);
    }
    if let Some(values) = values {
        request.insert("ExpressionAttributeValues".into(), values);
    }
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
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
    async fn call(&self, operation: &str, body: Value) -> Result<Value, StoreError> {
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
        Err(match kind {
            "ConditionalCheckFailedException" => StoreError::ConditionFailed { index: None },
            "TransactionCanceledException" => {
                let reasons = parsed["CancellationReasons"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                let code = |r: &Value| r["Code"].as_str().unwrap_or_default().to_string();
                if let Some(index) = reasons
                    .iter()
                    .position(|r| code(r) == "ConditionalCheckFailed")
                {
                    StoreError::ConditionFailed { index: Some(index) }
                } else if reasons
                    .iter()
                    .any(|r| matches!(code(r).as_str(), "TransactionConflict" | "ThrottlingError"))
                {
                    StoreError::Throttled
                } else {
                    StoreError::Backend(format!("{kind}: {message}"))
                }
            }
            "ProvisionedThroughputExceededException"
            | "ThrottlingException"
            | "RequestLimitExceeded" => StoreError::Throttled,
            "ResourceNotFoundException" => StoreError::Backend(format!("table missing: {message}")),
            _ => status_error(
                &format!("DynamoDB {operation}"),
                response.status,
                &response.body,
            ),
        })
    }
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl MetaStore for HttpDynamoMeta {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
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

    async fn put(&self, item: Item, condition: Condition) -> Result<(), StoreError> {
        let mut request = object(json!({ "TableName": self.table, "Item": attrs_of(&item) }));
        with_condition(&mut request, condition);
        self.call("PutItem", Value::Object(request)).await.map(drop)
    }

    async fn delete(&self, pk: &str, sk: &str, condition: Condition) -> Result<(), StoreError> {
        let mut request = object(json!({ "TableName": self.table, "Key": key(pk, sk) }));
        with_condition(&mut request, condition);
        self.call("DeleteItem", Value::Object(request))
            .await
            .map(drop)
    }

    async fn add(
        &self,
        pk: &str,
        sk: &str,
        delta: i64,
        ttl: Option<u64>,
    ) -> Result<i64, StoreError> {
        let mut expression = "ADD #n :delta".to_string();
        let mut names = json!({ "#n": "n" });
        let mut values = json!({ ":delta": n(delta) });
        if let Some(ttl) = ttl {
            expression.push_str(" SET #ttl = :ttl");
            names["#ttl"] = "ttl".into();
            values[":ttl"] = n(ttl);
        }
        let out = self
            .call(
                "UpdateItem",
                json!({
                    "TableName": self.table,
                    "Key": key(pk, sk),
                    "UpdateExpression": expression,
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": values,
                    "ReturnValues": "UPDATED_NEW",
                }),
            )
            .await?;
        let counter = out["Attributes"]["n"]["N"]
            .as_str()
            .ok_or_else(|| StoreError::Backend("the counter update returned no value".into()))?;
        counter
            .parse()
            .map_err(|_| StoreError::Backend(format!("counter is not an integer: {counter}")))
    }

    async fn query(
        &self,
        pk: &str,
        sk_prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<QueryPage, StoreError> {
        let wanted = limit.max(1) + 1;
        let mut items = Vec::new();
        let mut start: Option<Value> = after.map(|a| key(pk, a));
        loop {
            let mut request = object(json!({
                "TableName": self.table,
                "ConsistentRead": true,
                "Limit": wanted - items.len(),
            }));
            if sk_prefix.is_empty() {
                request.insert("KeyConditionExpression".into(), "pk = :pk".into());
                request.insert("ExpressionAttributeValues".into(), json!({ ":pk": s(pk) }));
            } else {
                request.insert(
                    "KeyConditionExpression".into(),
                    "pk = :pk AND begins_with(sk, :prefix)".into(),
                );
                request.insert(
                    "ExpressionAttributeValues".into(),
                    json!({ ":pk": s(pk), ":prefix": s(sk_prefix) }),
                );
            }
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
        Ok(QueryPage::from_overfetched(items, limit))
    }

    async fn transact(&self, writes: Vec<TransactWrite>) -> Result<(), StoreError> {
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
                with_condition(&mut request, w.condition());
                if kind == "ConditionCheck" && !request.contains_key("ConditionExpression") {
                    // A check needs an expression; "always" when the write has no condition.
                    request.insert(
                        "ConditionExpression".into(),
                        "attribute_exists(pk) OR attribute_not_exists(pk)".into(),
                    );
                }
                json!({ kind: Value::Object(request) })
            })
            .collect();
        self.call("TransactWriteItems", json!({ "TransactItems": items }))
            .await
            .map(drop)
    }
}
