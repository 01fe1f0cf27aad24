//! `DynamoMetaStore`: the metadata port on one DynamoDB table (`pk` string hash key, `sk` string
//! range key). Attributes: `v` (item version, number), `b` (value, binary), `n` (counter,
//! number; counters are read back as 8 little-endian bytes like every adapter's), `ttl` (Unix
//! seconds, the table's TTL attribute). Every read is strongly consistent.

use std::collections::HashMap;

use aws_sdk_dynamodb::{
    Client,
    error::SdkError,
    types::{AttributeValue, ConditionCheck, Delete, Put, ReturnValue, TransactWriteItem},
};
use bytes::Bytes;
use snapkb_store::{
    Condition, Item, MetaStore, QueryPage, StoreError, TransactWrite, validate_transaction,
};

/// The metadata table.
#[derive(Debug, Clone)]
pub struct DynamoMetaStore {
    client: Client,
    table: String,
}

type Attrs = HashMap<String, AttributeValue>;

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// The condition expression for a `Condition`, with its names and values.
fn condition_expr(c: Condition) -> Option<(String, HashMap<String, String>, Attrs)> {
    match c {
        Condition::None => None,
        Condition::Absent => Some((
            "attribute_not_exists(pk)".into(),
            HashMap::new(),
            HashMap::new(),
        )),
        Condition::Exists => Some((
            "attribute_exists(pk)".into(),
            HashMap::new(),
            HashMap::new(),
        )),
        Condition::VersionEquals(v) => Some((
            "#v = :expected".into(),
            HashMap::from([("#v".to_string(), "v".to_string())]),
            HashMap::from([(":expected".to_string(), n(v))]),
        )),
    }
}

/// Sets a condition's expression, names and values on a DynamoDB request or transaction item
/// builder: they share these method names but no trait.
macro_rules! with_condition {
    ($builder:expr, $condition:expr) => {{
        let mut b = $builder;
        if let Some((expr, names, values)) = $condition {
            b = b.condition_expression(expr);
            if !names.is_empty() {
                b = b.set_expression_attribute_names(Some(names));
            }
            if !values.is_empty() {
                b = b.set_expression_attribute_values(Some(values));
            }
        }
        b
    }};
}

fn key(pk: &str, sk: &str) -> Attrs {
    HashMap::from([("pk".to_string(), s(pk)), ("sk".to_string(), s(sk))])
}

fn attrs_of(item: &Item) -> Attrs {
    let mut a = key(&item.pk, &item.sk);
    a.insert("v".into(), n(item.version));
    a.insert("b".into(), AttributeValue::B(item.value.to_vec().into()));
    if let Some(ttl) = item.ttl {
        a.insert("ttl".into(), n(ttl));
    }
    a
}

fn item_of(a: &Attrs) -> Result<Item, StoreError> {
    let text = |k: &str| match a.get(k) {
        Some(AttributeValue::S(v)) => Ok(v.clone()),
        _ => Err(StoreError::Backend(format!("item without `{k}`"))),
    };
    let number = |k: &str| match a.get(k) {
        Some(AttributeValue::N(v)) => v.parse::<i64>().ok(),
        _ => None,
    };
    let value = match (a.get("b"), number("n")) {
        (Some(AttributeValue::B(b)), _) => Bytes::copy_from_slice(b.as_ref()),
        (_, Some(counter)) => Bytes::copy_from_slice(&counter.to_le_bytes()),
        _ => Bytes::new(),
    };
    Ok(Item {
        pk: text("pk")?,
        sk: text("sk")?,
        version: number("v").unwrap_or(0).max(0) as u64,
        value,
        ttl: number("ttl").map(|t| t.max(0) as u64),
    })
}

/// Maps SDK errors: throttling and 5xx are retryable; a failed condition is `ConditionFailed`.
fn store_error<E: std::fmt::Debug + aws_sdk_dynamodb::error::ProvideErrorMetadata>(
    e: SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
) -> StoreError {
    let code = e.code().unwrap_or_default().to_string();
    match code.as_str() {
        "ConditionalCheckFailedException" => StoreError::ConditionFailed { index: None },
        "ProvisionedThroughputExceededException"
        | "ThrottlingException"
        | "RequestLimitExceeded" => StoreError::Throttled,
        "ResourceNotFoundException" => StoreError::Backend(format!(
            "table missing: {}",
            e.message().unwrap_or_default()
        )),
        _ => match &e {
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => {
                StoreError::Unavailable(format!("{e:?}"))
            }
            SdkError::ServiceError(se) if se.raw().status().is_server_error() => {
                StoreError::Unavailable(format!("{code}: {}", e.message().unwrap_or_default()))
            }
            _ => StoreError::Backend(format!(
                "{code}: {}",
                e.message().unwrap_or(&format!("{e:?}"))
            )),
        },
    }
}

impl DynamoMetaStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Creates the table (on-demand, TTL on `ttl`) if it does not exist: for tests and local
    /// emulators; deployments create it with Terraform.
    pub async fn create_table_if_missing(&self) -> Result<(), StoreError> {
        use aws_sdk_dynamodb::types::{
            AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
        };
        let built = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Backend(e.to_string());
        let result = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("pk")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(built)?,
            )
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("sk")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(built)?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("pk")
                    .key_type(KeyType::Hash)
                    .build()
                    .map_err(built)?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("sk")
                    .key_type(KeyType::Range)
                    .build()
                    .map_err(built)?,
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("ResourceInUseException") => Ok(()),
            Err(e) => Err(store_error(e)),
        }
    }
}

use aws_sdk_dynamodb::error::ProvideErrorMetadata as _;

#[async_trait::async_trait]
impl MetaStore for DynamoMetaStore {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(store_error)?;
        out.item.as_ref().map(item_of).transpose()
    }

    async fn put(&self, item: Item, condition: Condition) -> Result<(), StoreError> {
        let req = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(attrs_of(&item)));
        with_condition!(req, condition_expr(condition))
            .send()
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn delete(&self, pk: &str, sk: &str, condition: Condition) -> Result<(), StoreError> {
        let req = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)));
        with_condition!(req, condition_expr(condition))
            .send()
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn add(
        &self,
        pk: &str,
        sk: &str,
        delta: i64,
        ttl: Option<u64>,
    ) -> Result<i64, StoreError> {
        let mut expr = "ADD #n :delta".to_string();
        let mut names = HashMap::from([("#n".to_string(), "n".to_string())]);
        let mut values = HashMap::from([(":delta".to_string(), n(delta))]);
        if let Some(ttl) = ttl {
            expr.push_str(" SET #ttl = :ttl");
            names.insert("#ttl".into(), "ttl".into());
            values.insert(":ttl".into(), n(ttl));
        }
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .update_expression(expr)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(store_error)?;
        match out.attributes.as_ref().and_then(|a| a.get("n")) {
            Some(AttributeValue::N(v)) => v
                .parse()
                .map_err(|_| StoreError::Backend(format!("counter is not an integer: {v}"))),
            _ => Err(StoreError::Backend(
                "the counter update returned no value".into(),
            )),
        }
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
        let mut start: Option<Attrs> = after.map(|a| key(pk, a));
        loop {
            let mut req = self
                .client
                .query()
                .table_name(&self.table)
                .consistent_read(true)
                .limit((wanted - items.len()) as i32)
                .set_exclusive_start_key(start.take());
            req = if sk_prefix.is_empty() {
                req.key_condition_expression("pk = :pk")
                    .expression_attribute_values(":pk", s(pk))
            } else {
                req.key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                    .expression_attribute_values(":pk", s(pk))
                    .expression_attribute_values(":prefix", s(sk_prefix))
            };
            let out = req.send().await.map_err(store_error)?;
            for a in out.items() {
                items.push(item_of(a)?);
            }
            match out.last_evaluated_key {
                Some(k) if items.len() < wanted => start = Some(k),
                _ => break,
            }
        }
        Ok(QueryPage::from_overfetched(items, limit))
    }

    async fn transact(&self, writes: Vec<TransactWrite>) -> Result<(), StoreError> {
        validate_transaction(&writes)?;
        let built = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Backend(e.to_string());
        let mut items = Vec::with_capacity(writes.len());
        for w in &writes {
            let cond = condition_expr(w.condition());
            let item = match w {
                TransactWrite::Put { item, .. } => {
                    let b = Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(attrs_of(item)));
                    let b = with_condition!(b, cond);
                    TransactWriteItem::builder()
                        .put(b.build().map_err(built)?)
                        .build()
                }
                TransactWrite::Delete { pk, sk, .. } => {
                    let b = Delete::builder()
                        .table_name(&self.table)
                        .set_key(Some(key(pk, sk)));
                    let b = with_condition!(b, cond);
                    TransactWriteItem::builder()
                        .delete(b.build().map_err(built)?)
                        .build()
                }
                TransactWrite::Check { pk, sk, .. } => {
                    // A check needs an expression; "always" when the write has no condition.
                    let cond = cond.or_else(|| {
                        Some((
                            "attribute_exists(pk) OR attribute_not_exists(pk)".into(),
                            HashMap::new(),
                            HashMap::new(),
                        ))
                    });
                    let b = ConditionCheck::builder()
                        .table_name(&self.table)
                        .set_key(Some(key(pk, sk)));
                    let b = with_condition!(b, cond);
                    TransactWriteItem::builder()
                        .condition_check(b.build().map_err(built)?)
                        .build()
                }
            };
            items.push(item);
        }
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                if let Some(aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c)) =
                    e.as_service_error()
                {
                    let index = c
                        .cancellation_reasons()
                        .iter()
                        .position(|r| r.code() == Some("ConditionalCheckFailed"));
                    if index.is_some() {
                        return Err(StoreError::ConditionFailed { index });
                    }
                    if c.cancellation_reasons().iter().any(|r| matches!(r.code(), Some("TransactionConflict" | "ThrottlingError"))) {
                        return Err(StoreError::Throttled);
                    }
                }
                Err(store_error(e))
            }
        }
    }
}
