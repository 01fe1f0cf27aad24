//! Metadata filters: a typed expression over a chunk's metadata and tags, evaluated into an
//! [`IdSet`] that vector and keyword search take as their allow-list.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::{ChunkTable, IdSet, MetaValue, Metadata};

/// How many rows a filter scan evaluates between asking whether to stop.
pub const STOP_CHECK_ROWS: u32 = 256;

/// The field name that addresses a chunk's tags instead of a metadata key.
pub const TAGS_FIELD: &str = "tags";

/// A filter expression. On a list-valued field, `Eq` and `In` match when any element matches;
/// `Range` compares numbers numerically and strings lexicographically (so ISO-8601 dates work).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Filter {
    Eq {
        field: String,
        value: MetaValue,
    },
    Ne {
        field: String,
        value: MetaValue,
    },
    In {
        field: String,
        values: Vec<MetaValue>,
    },
    Range {
        field: String,
        #[serde(default)]
        gt: Option<MetaValue>,
        #[serde(default)]
        gte: Option<MetaValue>,
        #[serde(default)]
        lt: Option<MetaValue>,
        #[serde(default)]
        lte: Option<MetaValue>,
    },
    Exists {
        field: String,
    },
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
}

fn compare(a: &MetaValue, b: &MetaValue) -> Option<Ordering> {
    use MetaValue::{Bool, Float, Int, Text};
    match (a, b) {
        (Int(x), Int(y)) => Some(x.cmp(y)),
        (Int(x), Float(y)) => (*x as f64).partial_cmp(y),
        (Float(x), Int(y)) => x.partial_cmp(&(*y as f64)),
        (Float(x), Float(y)) => x.partial_cmp(y),
        (Text(x), Text(y)) => Some(x.cmp(y)),
        (Bool(x), Bool(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// Whether any value of a field passes `test`: a list's elements, a scalar alone, or the tags
/// for `tags`; `false` when the field is absent. Values are looked at in place, not copied.
fn any_value(
    field: &str,
    metadata: &Metadata,
    tags: &[String],
    test: &dyn Fn(&MetaValue) -> bool,
) -> bool {
    match metadata.get(field) {
        Some(MetaValue::List(items)) => items.iter().any(test),
        Some(value) => test(value),
        None if field == TAGS_FIELD => tags.iter().any(|t| test(&MetaValue::Text(t.clone()))),
        None => false,
    }
}

fn equal(a: &MetaValue, b: &MetaValue) -> bool {
    compare(a, b) == Some(Ordering::Equal)
}

impl Filter {
    /// Whether a chunk with this metadata and these tags passes the filter.
    pub fn matches(&self, metadata: &Metadata, tags: &[String]) -> bool {
        let any =
            |field: &str, test: &dyn Fn(&MetaValue) -> bool| any_value(field, metadata, tags, test);
        match self {
            Filter::Eq { field, value } => any(field, &|v| equal(v, value)),
            Filter::Ne { field, value } => !any(field, &|v| equal(v, value)),
            Filter::In { field, values } => any(field, &|v| values.iter().any(|w| equal(v, w))),
            Filter::Range {
                field,
                gt,
                gte,
                lt,
                lte,
            } => any(field, &|v| {
                let within = |bound: &Option<MetaValue>, accept: fn(Ordering) -> bool| {
                    bound
                        .as_ref()
                        .is_none_or(|b| compare(v, b).is_some_and(accept))
                };
                within(gt, Ordering::is_gt)
                    && within(gte, Ordering::is_ge)
                    && within(lt, Ordering::is_lt)
                    && within(lte, Ordering::is_le)
            }),
            Filter::Exists { field } => any(field, &|_| true),
            Filter::And(parts) => parts.iter().all(|f| f.matches(metadata, tags)),
            Filter::Or(parts) => parts.iter().any(|f| f.matches(metadata, tags)),
            Filter::Not(inner) => !inner.matches(metadata, tags),
        }
    }

    /// The rows of `table` that pass the filter. Rows whose attributes cannot be decoded fail it.
    /// Each distinct attribute value (one per document, usually) is decoded and judged once.
    /// `stopped` is asked every [`STOP_CHECK_ROWS`] values and rows; once it says yes the scan
    /// ends with `None` (a query past its deadline).
    pub fn select(&self, table: &ChunkTable, stopped: &dyn Fn() -> bool) -> Option<IdSet> {
        let slots = table.attribute_slots();
        let mut passes = Vec::with_capacity(slots);
        for slot in 0..slots as u32 {
            if slot % STOP_CHECK_ROWS == 0 && stopped() {
                return None;
            }
            passes.push(
                table
                    .attributes_at(slot)
                    .is_some_and(|a| self.matches(&a.metadata, &a.tags)),
            );
        }
        let n = table.len();
        let mut set = IdSet::from_ids(n, std::iter::empty());
        for row in 0..n as u32 {
            if row % STOP_CHECK_ROWS == 0 && stopped() {
                return None;
            }
            if table
                .attribute_slot(row)
                .is_some_and(|s| passes.get(s as usize).copied().unwrap_or(false))
            {
                set.insert(row);
            }
        }
        Some(set)
    }

    /// Clauses in the expression (every node counts one) and its nesting depth.
    pub fn size(&self) -> (usize, usize) {
        match self {
            Filter::And(parts) | Filter::Or(parts) => {
                parts.iter().fold((1, 1), |(clauses, depth), f| {
                    let (c, d) = f.size();
                    (clauses + c, depth.max(d + 1))
                })
            }
            Filter::Not(inner) => {
                let (c, d) = inner.size();
                (c + 1, d + 1)
            }
            Filter::Eq { .. }
            | Filter::Ne { .. }
            | Filter::In { .. }
            | Filter::Range { .. }
            | Filter::Exists { .. } => (1, 1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ChunkRecord, ChunkTableBuilder};

    fn meta(pairs: &[(&str, MetaValue)]) -> Metadata {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    fn text(s: &str) -> MetaValue {
        MetaValue::Text(s.into())
    }

    #[test]
    fn equality_in_and_lists() {
        let m = meta(&[
            ("lang", text("en")),
            ("topics", MetaValue::List(vec![text("a"), text("b")])),
        ]);
        let eq = |f: &str, v| Filter::Eq {
            field: f.into(),
            value: v,
        };
        assert!(eq("lang", text("en")).matches(&m, &[]));
        assert!(!eq("lang", text("de")).matches(&m, &[]));
        assert!(
            eq("topics", text("b")).matches(&m, &[]),
            "list fields match any element"
        );
        assert!(!eq("missing", text("x")).matches(&m, &[]));
        assert!(
            Filter::Ne {
                field: "missing".into(),
                value: text("x")
            }
            .matches(&m, &[])
        );
        assert!(
            Filter::In {
                field: "lang".into(),
                values: vec![text("de"), text("en")]
            }
            .matches(&m, &[])
        );
        assert!(
            !Filter::In {
                field: "lang".into(),
                values: vec![]
            }
            .matches(&m, &[])
        );
    }

    #[test]
    fn ranges_compare_numbers_across_int_and_float_and_strings_lexically() {
        let m = meta(&[
            ("year", MetaValue::Int(2021)),
            ("score", MetaValue::Float(0.5)),
            ("date", text("2024-03-01")),
        ]);
        let range = |field: &str, gte: Option<MetaValue>, lt: Option<MetaValue>| Filter::Range {
            field: field.into(),
            gt: None,
            gte,
            lt,
            lte: None,
        };
        assert!(
            range(
                "year",
                Some(MetaValue::Float(2020.5)),
                Some(MetaValue::Int(2022))
            )
            .matches(&m, &[])
        );
        assert!(!range("year", Some(MetaValue::Int(2022)), None).matches(&m, &[]));
        assert!(range("score", None, Some(MetaValue::Int(1))).matches(&m, &[]));
        assert!(range("date", Some(text("2024-01-01")), Some(text("2024-12-31"))).matches(&m, &[]));
        assert!(
            !range("date", Some(MetaValue::Int(1)), None).matches(&m, &[]),
            "type mismatch never matches"
        );
    }

    #[test]
    fn tags_and_boolean_combinators() {
        let m = meta(&[("lang", text("en"))]);
        let tags = vec!["faq".to_string(), "billing".to_string()];
        let has = |t: &str| Filter::Eq {
            field: TAGS_FIELD.into(),
            value: text(t),
        };
        assert!(has("faq").matches(&m, &tags));
        assert!(!has("legal").matches(&m, &tags));
        assert!(Filter::And(vec![has("faq"), has("billing")]).matches(&m, &tags));
        assert!(Filter::Or(vec![has("legal"), has("billing")]).matches(&m, &tags));
        assert!(Filter::Not(Box::new(has("legal"))).matches(&m, &tags));
        assert!(
            Filter::Exists {
                field: "lang".into()
            }
            .matches(&m, &tags)
        );
        assert!(
            Filter::And(vec![]).matches(&m, &tags),
            "an empty AND allows everything"
        );
    }

    #[test]
    fn select_evaluates_over_a_table() {
        let mut b = ChunkTableBuilder::default();
        for i in 0..10 {
            let metadata = meta(&[("n", MetaValue::Int(i))]);
            b.push(&ChunkRecord {
                id: format!("c{i}"),
                document_id: "d".into(),
                text: String::new(),
                context: String::new(),
                ordinal: 0,
                attributes: crate::Attributes::new(metadata, vec![]),
            })
            .unwrap();
        }
        let table = b.build().unwrap();
        let f = Filter::Range {
            field: "n".into(),
            gt: None,
            gte: Some(MetaValue::Int(7)),
            lt: None,
            lte: None,
        };
        let selected = f.select(&table, &|| false).unwrap();
        assert_eq!(selected.iter().collect::<Vec<_>>(), vec![7, 8, 9]);
        assert!(
            f.select(&table, &|| true).is_none(),
            "a stopped scan says so"
        );
    }

    #[test]
    fn size_counts_every_clause_and_the_deepest_nesting() {
        let leaf = || Filter::Exists { field: "a".into() };
        assert_eq!(leaf().size(), (1, 1));
        let nested = Filter::And(vec![
            leaf(),
            Filter::Or(vec![leaf(), Filter::Not(Box::new(leaf()))]),
        ]);
        assert_eq!(nested.size(), (6, 4));
    }
}
