//! Chunk records (id, document id, text, metadata, tags) stored column by column, so a loaded
//! snapshot keeps them as the bytes it read and decodes a record only when a result needs it.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::{DecodeError, IndexError, slab::Slab};

/// A metadata value: what JSON metadata maps to, minus null and nested objects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MetaValue {
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    List(Vec<MetaValue>),
}

/// Metadata of one chunk, keys in sorted order.
pub type Metadata = BTreeMap<String, MetaValue>;

/// One chunk as stored with the index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChunkRecord {
    pub id: String,
    pub document_id: String,
    pub text: String,
    #[serde(default)]
    pub metadata: Metadata,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// Metadata and tags, encoded together as one CBOR value per chunk.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Attributes {
    #[serde(default, rename = "m")]
    pub(crate) metadata: Metadata,
    #[serde(default, rename = "t")]
    pub(crate) tags: Vec<String>,
}

/// A column of byte strings: `offsets` (n + 1 ascending u32) into `data`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Column {
    pub(crate) offsets: Slab<u32>,
    pub(crate) data: Slab<u8>,
}

impl Column {
    pub(crate) fn new() -> Self {
        Self {
            offsets: Slab::Owned(vec![0]),
            data: Slab::default(),
        }
    }

    pub(crate) fn push(&mut self, value: &[u8]) -> Result<(), IndexError> {
        let data = self.data.make_mut();
        data.extend_from_slice(value);
        let end = u32::try_from(data.len()).map_err(|_| IndexError::Full {
            max: u32::MAX as usize,
        })?;
        self.offsets.make_mut().push(end);
        Ok(())
    }

    pub(crate) fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    #[inline]
    pub(crate) fn get(&self, i: usize) -> Option<&[u8]> {
        let offsets = self.offsets.as_slice();
        let (start, end) = (*offsets.get(i)? as usize, *offsets.get(i + 1)? as usize);
        self.data.as_slice().get(start..end)
    }

    #[inline]
    pub(crate) fn get_str(&self, i: usize) -> Option<&str> {
        std::str::from_utf8(self.get(i)?).ok()
    }

    /// Builds a column from stored sections, checking that offsets start at 0, never decrease,
    /// and end at the data length; with `utf8`, that every value is valid UTF-8.
    pub(crate) fn from_sections(
        section: &'static str,
        offsets: Bytes,
        data: Bytes,
        expected_len: usize,
        utf8: bool,
    ) -> Result<Self, DecodeError> {
        let offsets = Slab::<u32>::from_le_bytes(offsets)
            .ok_or_else(|| DecodeError::section(section, "offsets are not whole u32 values"))?;
        let data = Slab::<u8>::from_le_bytes(data)
            .ok_or_else(|| DecodeError::section(section, "data is malformed"))?;
        let o = offsets.as_slice();
        if o.len() != expected_len + 1 {
            return Err(DecodeError::section(
                section,
                format!("{} offsets for {expected_len} values", o.len()),
            ));
        }
        if o[0] != 0 || o[o.len() - 1] as usize != data.len() || o.windows(2).any(|w| w[0] > w[1]) {
            return Err(DecodeError::section(
                section,
                "offsets are out of order or out of range",
            ));
        }
        let column = Self { offsets, data };
        if utf8 && (0..expected_len).any(|i| column.get_str(i).is_none()) {
            return Err(DecodeError::section(section, "a value is not valid UTF-8"));
        }
        Ok(column)
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.offsets.heap_bytes() + self.data.heap_bytes()
    }
}

/// The chunk records of one snapshot or WAL segment, row `i` matching vector id `i`.
#[derive(Debug, Clone)]
pub struct ChunkTable {
    pub(crate) ids: Column,
    pub(crate) document_ids: Column,
    pub(crate) texts: Column,
    pub(crate) attributes: Column,
    /// Row numbers sorted by chunk id, for lookups by id without building a map at load.
    pub(crate) id_order: Slab<u32>,
}

impl Default for ChunkTable {
    fn default() -> Self {
        ChunkTableBuilder::default()
            .build()
            .unwrap_or_else(|_| unreachable!("empty table"))
    }
}

impl ChunkTable {
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn id(&self, row: u32) -> Option<&str> {
        self.ids.get_str(row as usize)
    }

    pub fn document_id(&self, row: u32) -> Option<&str> {
        self.document_ids.get_str(row as usize)
    }

    pub fn text(&self, row: u32) -> Option<&str> {
        self.texts.get_str(row as usize)
    }

    /// Metadata and tags of a row, decoded on demand.
    pub fn attributes(&self, row: u32) -> Option<(Metadata, Vec<String>)> {
        let bytes = self.attributes.get(row as usize)?;
        let attrs: Attributes = ciborium::from_reader(bytes).ok()?;
        Some((attrs.metadata, attrs.tags))
    }

    /// The whole record of a row.
    pub fn record(&self, row: u32) -> Option<ChunkRecord> {
        let (metadata, tags) = self.attributes(row)?;
        Some(ChunkRecord {
            id: self.id(row)?.to_string(),
            document_id: self.document_id(row)?.to_string(),
            text: self.text(row)?.to_string(),
            metadata,
            tags,
        })
    }

    /// The row of a chunk id (binary search over the stored id order).
    pub fn find(&self, id: &str) -> Option<u32> {
        let order = self.id_order.as_slice();
        let pos = order
            .binary_search_by(|&row| {
                self.ids
                    .get(row as usize)
                    .unwrap_or_default()
                    .cmp(id.as_bytes())
            })
            .ok()?;
        Some(order[pos])
    }

    /// Heap bytes held (or borrowed from a snapshot) by the table.
    pub fn memory_bytes(&self) -> usize {
        self.ids.heap_bytes()
            + self.document_ids.heap_bytes()
            + self.texts.heap_bytes()
            + self.attributes.heap_bytes()
            + self.id_order.heap_bytes()
    }

    /// Checks the id order is a permutation that sorts the ids strictly (so ids are unique).
    pub(crate) fn validate_id_order(&self) -> Result<(), DecodeError> {
        let order = self.id_order.as_slice();
        if order.len() != self.len() {
            return Err(DecodeError::section(
                "chunks.id_order",
                "length differs from the row count",
            ));
        }
        let mut seen = vec![false; order.len()];
        for &row in order {
            match seen.get_mut(row as usize) {
                Some(s) if !*s => *s = true,
                _ => {
                    return Err(DecodeError::section(
                        "chunks.id_order",
                        "not a permutation of the rows",
                    ));
                }
            }
        }
        let sorted = order
            .windows(2)
            .all(|w| self.ids.get(w[0] as usize) < self.ids.get(w[1] as usize));
        if !sorted {
            return Err(DecodeError::section(
                "chunks.id_order",
                "ids are not strictly ascending",
            ));
        }
        Ok(())
    }
}

/// Builds a [`ChunkTable`] row by row.
#[derive(Debug)]
pub struct ChunkTableBuilder {
    ids: Column,
    document_ids: Column,
    texts: Column,
    attributes: Column,
}

impl Default for ChunkTableBuilder {
    fn default() -> Self {
        Self {
            ids: Column::new(),
            document_ids: Column::new(),
            texts: Column::new(),
            attributes: Column::new(),
        }
    }
}

impl ChunkTableBuilder {
    pub fn push(&mut self, record: &ChunkRecord) -> Result<u32, IndexError> {
        let attrs = Attributes {
            metadata: record.metadata.clone(),
            tags: record.tags.clone(),
        };
        let mut encoded = Vec::new();
        ciborium::into_writer(&attrs, &mut encoded).map_err(|e| IndexError::InvalidParameter {
            name: "metadata",
            reason: e.to_string(),
        })?;
        self.push_raw(&record.id, &record.document_id, &record.text, &encoded)
    }

    /// Copies a row from another table without decoding its attributes.
    pub fn push_row(&mut self, table: &ChunkTable, row: u32) -> Result<u32, IndexError> {
        let missing = || IndexError::UnknownId {
            id: row,
            len: table.len(),
        };
        self.push_raw(
            table.id(row).ok_or_else(missing)?,
            table.document_id(row).ok_or_else(missing)?,
            table.text(row).ok_or_else(missing)?,
            table.attributes.get(row as usize).ok_or_else(missing)?,
        )
    }

    fn push_raw(
        &mut self,
        id: &str,
        document_id: &str,
        text: &str,
        attrs: &[u8],
    ) -> Result<u32, IndexError> {
        let row = u32::try_from(self.ids.len()).map_err(|_| IndexError::Full {
            max: u32::MAX as usize,
        })?;
        self.ids.push(id.as_bytes())?;
        self.document_ids.push(document_id.as_bytes())?;
        self.texts.push(text.as_bytes())?;
        self.attributes.push(attrs)?;
        Ok(row)
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Finishes the table; fails if two rows share a chunk id.
    pub fn build(self) -> Result<ChunkTable, IndexError> {
        let mut order: Vec<u32> = (0..self.ids.len() as u32).collect();
        order.sort_unstable_by(|&a, &b| self.ids.get(a as usize).cmp(&self.ids.get(b as usize)));
        if let Some(w) = order
            .windows(2)
            .find(|w| self.ids.get(w[0] as usize) == self.ids.get(w[1] as usize))
        {
            let id = self
                .ids
                .get_str(w[0] as usize)
                .unwrap_or_default()
                .to_string();
            return Err(IndexError::DuplicateChunkId(id));
        }
        Ok(ChunkTable {
            ids: self.ids,
            document_ids: self.document_ids,
            texts: self.texts,
            attributes: self.attributes,
            id_order: Slab::Owned(order),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn record(id: &str, doc: &str, text: &str) -> ChunkRecord {
        let mut metadata = Metadata::new();
        metadata.insert("lang".into(), MetaValue::Text("en".into()));
        metadata.insert("year".into(), MetaValue::Int(2024));
        ChunkRecord {
            id: id.into(),
            document_id: doc.into(),
            text: text.into(),
            metadata,
            tags: vec!["t".into()],
        }
    }

    #[test]
    fn rows_round_trip_and_ids_are_found_by_binary_search() {
        let mut b = ChunkTableBuilder::default();
        for (i, id) in ["c", "a", "b", "ü"].iter().enumerate() {
            assert_eq!(
                b.push(&record(id, "doc", &format!("text {i}"))).unwrap(),
                i as u32
            );
        }
        let table = b.build().unwrap();
        assert_eq!(table.len(), 4);
        assert_eq!(table.find("a"), Some(1));
        assert_eq!(table.find("ü"), Some(3));
        assert_eq!(table.find("zz"), None);
        assert_eq!(table.record(2).unwrap(), record("b", "doc", "text 2"));
        assert!(table.record(4).is_none());
        table.validate_id_order().unwrap();
    }

    #[test]
    fn duplicate_chunk_ids_are_rejected() {
        let mut b = ChunkTableBuilder::default();
        b.push(&record("x", "d", "1")).unwrap();
        b.push(&record("x", "d", "2")).unwrap();
        assert_eq!(
            b.build().unwrap_err(),
            IndexError::DuplicateChunkId("x".into())
        );
    }

    #[test]
    fn metadata_values_keep_their_types_through_storage() {
        let m = Metadata::from([
            ("a".into(), MetaValue::Bool(true)),
            ("b".into(), MetaValue::Int(-3)),
            ("c".into(), MetaValue::Float(2.5)),
            ("d".into(), MetaValue::Text("x".into())),
            (
                "e".into(),
                MetaValue::List(vec![MetaValue::Text("p".into()), MetaValue::Int(1)]),
            ),
        ]);
        let mut b = ChunkTableBuilder::default();
        b.push(&ChunkRecord {
            metadata: m.clone(),
            ..record("1", "d", "t")
        })
        .unwrap();
        assert_eq!(b.build().unwrap().attributes(0).unwrap().0, m);
    }
}
