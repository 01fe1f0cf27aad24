//! `DynamoMetaStore`: the metadata port on one DynamoDB table through the SDK. The table's
//! layout, expressions and error codes are `snapkb-dynamo-wire`'s (shared with the HTTP adapter
//! for hosts without the SDK). Every read is strongly consistent.

use std::collections::HashMap;

use aws_sdk_dynamodb::{
    Client,
    error::SdkError,
    types::{AttributeValue, ConditionCheck, Delete, Put, ReturnValue, TransactWriteItem},
};
use bytes::Bytes;
use snapkb_dynamo_wire as wire;
use snapkb_store::{
    Condition, Item, ItemRange, MetaStore, QueryPage, StoreError, StoreResult, TransactWrite,
    validate_transaction,
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

/// An expression's names and values as the SDK takes them.
fn sdk_expression(e: wire::Expression) -> (String, HashMap<String, String>, Attrs) {
    let names = e
        .names
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let values = e
        .numbers
        .into_iter()
        .map(|(k, v)| (k.to_string(), AttributeValue::N(v)))
        .collect();
    (e.expression, names, values)
}

/// Sets a condition's expression, names and values on a DynamoDB request or transaction item
/// builder: they share these method names but no trait.
macro_rules! with_condition {
    ($builder:expr, $condition:expr) => {{
        let mut b = $builder;
        if let Some((expr, names, values)) = $condition.map(sdk_expression) {
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
    HashMap::from([(wire::PK.to_string(), s(pk)), (wire::SK.to_string(), s(sk))])
}

fn attrs_of(item: &Item) -> Attrs {
    let mut a = key(&item.pk, &item.sk);
    a.insert(wire::VERSION.into(), n(item.version));
    a.insert(
        wire::VALUE.into(),
        AttributeValue::B(item.value.to_vec().into()),
    );
    if let Some(ttl) = item.ttl {
        a.insert(wire::TTL.into(), n(ttl));
    }
    a
}

fn item_of(a: &Attrs) -> StoreResult<Item> {
    let text = |k: &str| match a.get(k) {
        Some(AttributeValue::S(v)) => Some(v.as_str()),
        _ => None,
    };
    let number = |k: &str| match a.get(k) {
        Some(AttributeValue::N(v)) => Some(v.as_str()),
        _ => None,
    };
    wire::Attributes {
        pk: text(wire::PK),
        sk: text(wire::SK),
        version: number(wire::VERSION),
        value: match a.get(wire::VALUE) {
            Some(AttributeValue::B(b)) => Some(Bytes::copy_from_slice(b.as_ref())),
            _ => None,
        },
        counter: number(wire::COUNTER),
        ttl: number(wire::TTL),
    }
    .item()
}

/// Maps SDK errors: the codes the wire layer knows, then timeouts, dispatch failures and 5xx
/// as retryable.
#[expect(
    clippy::wildcard_enum_match_arm,
    reason = "SdkError is non-exhaustive; every other kind is a plain backend error"
)]
fn store_error<E: std::fmt::Debug + aws_sdk_dynamodb::error::ProvideErrorMetadata>(
    e: SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
) -> StoreError {
    let code = e.code().unwrap_or_default().to_string();
    if let Some(known) = wire::error_for_code(&code, e.message().unwrap_or_default()) {
        return known;
    }
    match &e {
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
    pub async fn create_table_if_missing(&self) -> StoreResult<()> {
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
                    .attribute_name(wire::PK)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(built)?,
            )
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(wire::SK)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(built)?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(wire::PK)
                    .key_type(KeyType::Hash)
                    .build()
                    .map_err(built)?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(wire::SK)
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
    async fn get(&self, pk: &str, sk: &str) -> StoreResult<Option<Item>> {
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

    async fn put(&self, item: Item, condition: Condition) -> StoreResult<()> {
        let req = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(attrs_of(&item)));
        with_condition!(req, wire::condition(condition))
            .send()
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn delete(&self, pk: &str, sk: &str, condition: Condition) -> StoreResult<()> {
        let req = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)));
        with_condition!(req, wire::condition(condition))
            .send()
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn add(&self, pk: &str, sk: &str, delta: i64, ttl: Option<u64>) -> StoreResult<i64> {
        let (expr, names, values) = sdk_expression(wire::counter_add(delta, ttl));
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
        wire::parse_counter(
            match out.attributes.as_ref().and_then(|a| a.get(wire::COUNTER)) {
                Some(AttributeValue::N(v)) => Some(v.as_str()),
                _ => None,
            },
        )
    }

    async fn query(&self, range: ItemRange<'_>) -> StoreResult<QueryPage> {
        let ItemRange { pk, prefix, .. } = range;
        let wanted = wire::query_wanted(range.limit);
        let mut items = Vec::new();
        let mut start: Option<Attrs> = range.after.map(|a| key(pk, a));
        loop {
            let mut req = self
                .client
                .query()
                .table_name(&self.table)
                .consistent_read(true)
                .limit((wanted - items.len()) as i32)
                .set_exclusive_start_key(start.take());
            req = req
                .key_condition_expression(wire::key_condition(prefix))
                .expression_attribute_values(":pk", s(pk));
            if !prefix.is_empty() {
                req = req.expression_attribute_values(":prefix", s(prefix));
            }
            let out = req.send().await.map_err(store_error)?;
            for a in out.items() {
                items.push(item_of(a)?);
            }
            match out.last_evaluated_key {
                Some(k) if items.len() < wanted => start = Some(k),
                _ => break,
            }
        }
        Ok(QueryPage::from_overfetched(items, range.limit))
    }

    async fn transact(&self, writes: Vec<TransactWrite>) -> StoreResult<()> {
        validate_transaction(&writes)?;
        let built = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Backend(e.to_string());
        let mut items = Vec::with_capacity(writes.len());
        for w in &writes {
            let item = match w {
                TransactWrite::Put { item, .. } => {
                    let b = Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(attrs_of(item)));
                    let b = with_condition!(b, wire::condition(w.condition()));
                    TransactWriteItem::builder()
                        .put(b.build().map_err(built)?)
                        .build()
                }
                TransactWrite::Delete { pk, sk, .. } => {
                    let b = Delete::builder()
                        .table_name(&self.table)
                        .set_key(Some(key(pk, sk)));
                    let b = with_condition!(b, wire::condition(w.condition()));
                    TransactWriteItem::builder()
                        .delete(b.build().map_err(built)?)
                        .build()
                }
                TransactWrite::Check { pk, sk, .. } => {
                    let b = ConditionCheck::builder()
                        .table_name(&self.table)
                        .set_key(Some(key(pk, sk)));
                    let b = with_condition!(b, Some(wire::check_condition(w.condition())));
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
                    let reasons = c.cancellation_reasons().iter().map(|r| r.code());
                    if let Some(error) = wire::cancellation_error(reasons) {
                        return Err(error);
                    }
                }
                Err(store_error(e))
            }
        }
    }
}
