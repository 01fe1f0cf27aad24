//! snapkb's DynamoDB table, written once for both adapters: the SDK one (`snapkb-aws`) and the
//! one over plain HTTP for hosts without the SDK (`snapkb-aws-http`). One table, `pk` string
//! hash key and `sk` string range key; attributes `v` (item version, number), `b` (value,
//! binary), `n` (counter, number; read back as 8 little-endian bytes like every adapter's) and
//! `ttl` (Unix seconds, the table's TTL attribute). Nothing here does I/O: each adapter turns
//! these expressions and codes into its own request and error types.

use bytes::Bytes;
use snapkb_store::{Condition, Item, StoreError, StoreResult};

pub const PK: &str = "pk";
pub const SK: &str = "sk";
pub const VERSION: &str = "v";
pub const VALUE: &str = "b";
pub const COUNTER: &str = "n";
pub const TTL: &str = "ttl";

/// A condition expression with its attribute names and (numeric) values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expression {
    pub expression: String,
    /// `#name` → attribute name.
    pub names: Vec<(&'static str, &'static str)>,
    /// `:value` → a number, as DynamoDB's `N` string.
    pub numbers: Vec<(&'static str, String)>,
}

impl Expression {
    fn plain(expression: &str) -> Self {
        Expression {
            expression: expression.into(),
            names: Vec::new(),
            numbers: Vec::new(),
        }
    }
}

/// The condition expression of a write, if it has one.
pub fn condition(c: Condition) -> Option<Expression> {
    match c {
        Condition::None => None,
        Condition::Absent => Some(Expression::plain("attribute_not_exists(pk)")),
        Condition::Exists => Some(Expression::plain("attribute_exists(pk)")),
        Condition::VersionEquals(v) => Some(Expression {
            expression: "#v = :expected".into(),
            names: vec![("#v", VERSION)],
            numbers: vec![(":expected", v.to_string())],
        }),
    }
}

/// A transaction's condition check needs an expression; this is "always" for a check whose
/// write has no condition.
pub fn check_condition(c: Condition) -> Expression {
    condition(c)
        .unwrap_or_else(|| Expression::plain("attribute_exists(pk) OR attribute_not_exists(pk)"))
}

/// The update expression of an atomic counter add (and its TTL), to send with
/// `ReturnValues: UPDATED_NEW` and read the counter back from [`COUNTER`].
pub fn counter_add(delta: i64, ttl: Option<u64>) -> Expression {
    let mut e = Expression {
        expression: "ADD #n :delta".into(),
        names: vec![("#n", COUNTER)],
        numbers: vec![(":delta", delta.to_string())],
    };
    if let Some(ttl) = ttl {
        e.expression.push_str(" SET #ttl = :ttl");
        e.names.push(("#ttl", TTL));
        e.numbers.push((":ttl", ttl.to_string()));
    }
    e
}

/// The key condition of a query over a partition (`:pk`), under a sort-key prefix (`:prefix`)
/// when there is one.
pub fn key_condition(sk_prefix: &str) -> &'static str {
    if sk_prefix.is_empty() {
        "pk = :pk"
    } else {
        "pk = :pk AND begins_with(sk, :prefix)"
    }
}

/// How many items to ask one query page for: one more than the caller's page, so the adapter
/// knows whether there is a next page (see `QueryPage::from_overfetched`).
pub fn query_wanted(limit: usize) -> usize {
    limit.max(1) + 1
}

/// The counter an `UPDATED_NEW` add returned.
pub fn parse_counter(value: Option<&str>) -> StoreResult<i64> {
    let value =
        value.ok_or_else(|| StoreError::Backend("the counter update returned no value".into()))?;
    value
        .parse()
        .map_err(|_| StoreError::Backend(format!("counter is not an integer: {value}")))
}

/// An item's attributes as one adapter reads them from its representation.
#[derive(Debug, Default)]
pub struct Attributes<'a> {
    pub pk: Option<&'a str>,
    pub sk: Option<&'a str>,
    /// Number attributes as DynamoDB's `N` strings.
    pub version: Option<&'a str>,
    pub value: Option<Bytes>,
    pub counter: Option<&'a str>,
    pub ttl: Option<&'a str>,
}

impl Attributes<'_> {
    /// The stored item: a value (`b`) or a counter (`n`, as 8 little-endian bytes).
    pub fn item(self) -> StoreResult<Item> {
        let text = |v: Option<&str>, name: &str| {
            v.map(str::to_string)
                .ok_or_else(|| StoreError::Backend(format!("item without `{name}`")))
        };
        let number = |v: Option<&str>| v.and_then(|v| v.parse::<i64>().ok());
        let value = match (self.value, number(self.counter)) {
            (Some(b), _) => b,
            (None, Some(counter)) => Bytes::copy_from_slice(&counter.to_le_bytes()),
            (None, None) => Bytes::new(),
        };
        Ok(Item {
            pk: text(self.pk, PK)?,
            sk: text(self.sk, SK)?,
            version: number(self.version).unwrap_or(0).max(0) as u64,
            value,
            ttl: number(self.ttl).map(|t| t.max(0) as u64),
        })
    }
}

/// What a DynamoDB error code means for the caller; `None` for codes this layer does not know
/// (the adapter then decides from the transport: timeouts and 5xx are retryable).
pub fn error_for_code(code: &str, message: &str) -> Option<StoreError> {
    match code {
        "ConditionalCheckFailedException" => Some(StoreError::ConditionFailed { index: None }),
        "ProvisionedThroughputExceededException"
        | "ThrottlingException"
        | "RequestLimitExceeded" => Some(StoreError::Throttled),
        "ResourceNotFoundException" => {
            Some(StoreError::Backend(format!("table missing: {message}")))
        }
        _ => None,
    }
}

/// What a cancelled transaction's reasons (one code per write, in order) mean: the first
/// failed condition, or throttling; `None` for any other cancellation.
pub fn cancellation_error<'a>(
    reasons: impl IntoIterator<Item = Option<&'a str>>,
) -> Option<StoreError> {
    let codes: Vec<Option<&str>> = reasons.into_iter().collect();
    if let Some(index) = codes
        .iter()
        .position(|c| *c == Some("ConditionalCheckFailed"))
    {
        return Some(StoreError::ConditionFailed { index: Some(index) });
    }
    codes
        .iter()
        .any(|c| matches!(c, Some("TransactionConflict" | "ThrottlingError")))
        .then_some(StoreError::Throttled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counter_item_reads_back_as_little_endian_bytes_and_a_value_item_as_its_bytes() {
        let counter = Attributes {
            pk: Some("p"),
            sk: Some("s"),
            counter: Some("7"),
            ttl: Some("99"),
            ..Default::default()
        }
        .item()
        .unwrap();
        assert_eq!(counter.value.as_ref(), 7i64.to_le_bytes());
        assert_eq!((counter.version, counter.ttl), (0, Some(99)));
        let value = Attributes {
            pk: Some("p"),
            sk: Some("s"),
            version: Some("3"),
            value: Some(Bytes::from_static(b"x")),
            ..Default::default()
        }
        .item()
        .unwrap();
        assert_eq!((value.version, value.value.as_ref()), (3, &b"x"[..]));
        assert!(Attributes::default().item().is_err(), "an item has a key");
    }

    #[test]
    fn conditions_and_updates_name_the_layout_attributes() {
        assert_eq!(condition(Condition::None), None);
        let v = condition(Condition::VersionEquals(4)).unwrap();
        assert_eq!(v.names, [("#v", "v")]);
        assert_eq!(v.numbers, [(":expected", "4".to_string())]);
        assert!(check_condition(Condition::None).expression.contains("OR"));
        let add = counter_add(-2, Some(10));
        assert_eq!(add.expression, "ADD #n :delta SET #ttl = :ttl");
        assert_eq!(add.numbers[0], (":delta", "-2".to_string()));
    }

    #[test]
    fn cancellations_name_the_failed_write_or_throttle() {
        let failed = cancellation_error([Some("None"), Some("ConditionalCheckFailed")]);
        assert!(matches!(
            failed,
            Some(StoreError::ConditionFailed { index: Some(1) })
        ));
        let throttled = cancellation_error([None, Some("TransactionConflict")]);
        assert!(matches!(throttled, Some(StoreError::Throttled)));
        assert!(cancellation_error([Some("ValidationError")]).is_none());
        assert!(matches!(
            error_for_code("ThrottlingException", ""),
            Some(StoreError::Throttled)
        ));
        assert!(error_for_code("Other", "").is_none());
    }
}
