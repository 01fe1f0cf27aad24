//! Chunk records (id, document id, text, ordinal, metadata, tags) stored column by column, so a
//! loaded snapshot keeps them as the bytes it read and decodes a record only when a result needs
//! it. Metadata and tags are stored once per distinct value (every chunk of a document shares
//! its document's), so a document's attributes cost their size once, not once per chunk.

use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
};

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
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkRecord {
    pub id: String,
    pub document_id: String,
    pub text: String,
    /// Where the chunk sits in its document (its heading path): keyword-indexed with the text,
    /// not part of the text callers see, not embedded. Empty for plain text.
    pub context: String,
    /// Position of the chunk in its document.
    pub ordinal: u32,
    /// Metadata and tags, shared by the chunks of one document.
    pub attributes: Arc<Attributes>,
}

/// Metadata and tags, encoded together as one CBOR value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Attributes {
    #[serde(default, rename = "m")]
    pub metadata: Metadata,
    #[serde(default, rename = "t")]
    pub tags: Vec<String>,
}

impl Attributes {
    pub fn new(metadata: Metadata, tags: Vec<String>) -> Arc<Self> {
        Arc::new(Self { metadata, tags })
    }
}

/// What keyword search indexes for a chunk: the context twice (a title or heading word weighs
/// as much as two in the body), then the text.
pub fn keyword_text<'a>(context: &str, text: &'a str) -> std::borrow::Cow<'a, str> {
    if context.is_empty() {
        std::borrow::Cow::Borrowed(text)
    } else {
        std::borrow::Cow::Owned(format!("{context}\n{context}\n{text}"))
    }
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
    /// Row → context; `None` in format-1 files (no row has one).
    pub(crate) contexts: Option<Column>,
    /// Distinct attribute values (CBOR).
    pub(crate) attributes: Column,
    /// Row → index into `attributes`; `None` in format-1 files, where row `i` has value `i`.
    pub(crate) attribute_rows: Option<Slab<u32>>,
    /// Row → ordinal in its document; `None` in format-1 files (the engine kept it in metadata).
    pub(crate) ordinals: Option<Slab<u32>>,
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

    /// The context of a row (empty when it has none).
    pub fn context(&self, row: u32) -> Option<&str> {
        match &self.contexts {
            Some(c) => c.get_str(row as usize),
            None => (row < self.len() as u32).then_some(""),
        }
    }

    /// What keyword search indexes for a row: its context and its text.
    pub fn keyword_text(&self, row: u32) -> Option<std::borrow::Cow<'_, str>> {
        Some(keyword_text(self.context(row)?, self.text(row)?))
    }

    /// Ordinal of a row in its document (0 in format-1 files, which did not store it).
    pub fn ordinal(&self, row: u32) -> Option<u32> {
        match &self.ordinals {
            Some(o) => o.as_slice().get(row as usize).copied(),
            None => (row < self.len() as u32).then_some(0),
        }
    }

    /// Which distinct attribute value a row has (rows of one document share one).
    pub fn attribute_slot(&self, row: u32) -> Option<u32> {
        match &self.attribute_rows {
            Some(a) => a.as_slice().get(row as usize).copied(),
            None => (row < self.len() as u32).then_some(row),
        }
    }

    /// How many distinct attribute values the table holds.
    pub fn attribute_slots(&self) -> usize {
        self.attributes.len()
    }

    /// A distinct attribute value, decoded.
    pub fn attributes_at(&self, slot: u32) -> Option<Attributes> {
        ciborium::from_reader(self.attributes.get(slot as usize)?).ok()
    }

    /// A reader of rows' attributes that decodes each distinct value once and shares it.
    pub fn shared_attributes(&self) -> SharedAttributes<'_> {
        SharedAttributes {
            table: self,
            decoded: vec![None; self.attribute_slots()],
        }
    }

    /// Metadata and tags of a row, decoded on demand.
    pub fn attributes(&self, row: u32) -> Option<Attributes> {
        self.attributes_at(self.attribute_slot(row)?)
    }

    /// The whole record of a row.
    pub fn record(&self, row: u32) -> Option<ChunkRecord> {
        Some(ChunkRecord {
            id: self.id(row)?.to_string(),
            document_id: self.document_id(row)?.to_string(),
            text: self.text(row)?.to_string(),
            context: self.context(row)?.to_string(),
            ordinal: self.ordinal(row)?,
            attributes: Arc::new(self.attributes(row)?),
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
            + self.contexts.as_ref().map_or(0, Column::heap_bytes)
            + self.attributes.heap_bytes()
            + self.attribute_rows.as_ref().map_or(0, Slab::heap_bytes)
            + self.ordinals.as_ref().map_or(0, Slab::heap_bytes)
            + self.id_order.heap_bytes()
    }

    /// Checks the row → attribute and ordinal arrays have one entry per row, in range.
    pub(crate) fn validate_attribute_rows(&self) -> Result<(), DecodeError> {
        if let Some(rows) = &self.attribute_rows {
            let slots = self.attributes.len() as u32;
            if rows.len() != self.len() || rows.as_slice().iter().any(|&s| s >= slots) {
                return Err(DecodeError::section(
                    "chunks.attribute_rows",
                    "not one value in range per row",
                ));
            }
        } else if self.attributes.len() != self.len() {
            return Err(DecodeError::section(
                "chunks.attributes",
                "not one value per row",
            ));
        }
        if self
            .ordinals
            .as_ref()
            .is_some_and(|o| o.len() != self.len())
        {
            return Err(DecodeError::section(
                "chunks.ordinals",
                "length differs from the row count",
            ));
        }
        Ok(())
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

/// Rows' attributes from one table, each distinct value decoded on first use and shared by
/// every row that has it (see [`ChunkTable::shared_attributes`]).
#[derive(Debug)]
pub struct SharedAttributes<'a> {
    table: &'a ChunkTable,
    decoded: Vec<Option<Arc<Attributes>>>,
}

impl SharedAttributes<'_> {
    /// The attributes of `row`; `None` for a row that is missing or does not decode.
    pub fn get(&mut self, row: u32) -> Option<Arc<Attributes>> {
        let slot = self.table.attribute_slot(row)?;
        let cached = self.decoded.get_mut(slot as usize)?;
        if cached.is_none() {
            *cached = Some(Arc::new(self.table.attributes_at(slot)?));
        }
        cached.clone()
    }
}

/// Builds a [`ChunkTable`] row by row.
#[derive(Debug)]
pub struct ChunkTableBuilder {
    ids: Column,
    document_ids: Column,
    texts: Column,
    contexts: Column,
    attributes: Column,
    attribute_rows: Vec<u32>,
    ordinals: Vec<u32>,
    /// xxh3 of an encoded attribute value → its slots (a collision is checked byte by byte).
    slots_by_hash: HashMap<u64, Vec<u32>>,
    /// The last record's attributes and slot: a document's chunks arrive together.
    last: Option<(Arc<Attributes>, u32)>,
}

impl Default for ChunkTableBuilder {
    fn default() -> Self {
        Self {
            ids: Column::new(),
            document_ids: Column::new(),
            texts: Column::new(),
            contexts: Column::new(),
            attributes: Column::new(),
            attribute_rows: Vec::new(),
            ordinals: Vec::new(),
            slots_by_hash: HashMap::new(),
            last: None,
        }
    }
}

impl ChunkTableBuilder {
    pub fn push(&mut self, record: &ChunkRecord) -> Result<u32, IndexError> {
        let slot = match &self.last {
            Some((attrs, slot)) if Arc::ptr_eq(attrs, &record.attributes) => *slot,
            _ => {
                let mut encoded = Vec::new();
                ciborium::into_writer(record.attributes.as_ref(), &mut encoded).map_err(|e| {
                    IndexError::InvalidParameter {
                        name: "metadata",
                        reason: e.to_string(),
                    }
                })?;
                let slot = self.slot_of(&encoded)?;
                self.last = Some((record.attributes.clone(), slot));
                slot
            }
        };
        self.push_raw(
            [
                &record.id,
                &record.document_id,
                &record.text,
                &record.context,
            ],
            record.ordinal,
            slot,
        )
    }

    /// The slot of an encoded attribute value, adding it if it is new.
    fn slot_of(&mut self, encoded: &[u8]) -> Result<u32, IndexError> {
        let hash = xxhash_rust::xxh3::xxh3_64(encoded);
        let slots = self.slots_by_hash.entry(hash).or_default();
        if let Some(&slot) = slots
            .iter()
            .find(|&&s| self.attributes.get(s as usize) == Some(encoded))
        {
            return Ok(slot);
        }
        let slot = self.attributes.len() as u32;
        self.attributes.push(encoded)?;
        slots.push(slot);
        Ok(slot)
    }

    /// Copies a row from another table without decoding its attributes.
    pub fn push_row(&mut self, table: &ChunkTable, row: u32) -> Result<u32, IndexError> {
        let missing = || IndexError::UnknownId {
            id: row,
            len: table.len(),
        };
        let attrs = table
            .attribute_slot(row)
            .and_then(|s| table.attributes.get(s as usize))
            .ok_or_else(missing)?;
        self.last = None;
        let slot = self.slot_of(attrs)?;
        self.push_raw(
            [
                table.id(row).ok_or_else(missing)?,
                table.document_id(row).ok_or_else(missing)?,
                table.text(row).ok_or_else(missing)?,
                table.context(row).ok_or_else(missing)?,
            ],
            table.ordinal(row).ok_or_else(missing)?,
            slot,
        )
    }

    /// Appends a row: its id, document id, text and context, ordinal and attribute slot.
    fn push_raw(&mut self, strings: [&str; 4], ordinal: u32, slot: u32) -> Result<u32, IndexError> {
        let [id, document_id, text, context] = strings;
        let row = u32::try_from(self.ids.len()).map_err(|_| IndexError::Full {
            max: u32::MAX as usize,
        })?;
        self.ids.push(id.as_bytes())?;
        self.document_ids.push(document_id.as_bytes())?;
        self.texts.push(text.as_bytes())?;
        self.contexts.push(context.as_bytes())?;
        self.attribute_rows.push(slot);
        self.ordinals.push(ordinal);
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
            contexts: Some(self.contexts),
            attributes: self.attributes,
            attribute_rows: Some(Slab::Owned(self.attribute_rows)),
            ordinals: Some(Slab::Owned(self.ordinals)),
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
            context: String::new(),
            ordinal: 0,
            attributes: Attributes::new(metadata, vec!["t".into()]),
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
            attributes: Attributes::new(m.clone(), Vec::new()),
            ..record("1", "d", "t")
        })
        .unwrap();
        assert_eq!(b.build().unwrap().attributes(0).unwrap().metadata, m);
    }

    #[test]
    fn chunks_of_a_document_store_its_attributes_once() {
        let mut big = Metadata::new();
        big.insert("blob".into(), MetaValue::Text("x".repeat(4096)));
        let shared = Attributes::new(big, vec!["tag".into()]);
        let mut b = ChunkTableBuilder::default();
        for i in 0..100u32 {
            b.push(&ChunkRecord {
                ordinal: i,
                attributes: shared.clone(),
                ..record(&format!("d#{i}"), "d", "t")
            })
            .unwrap();
        }
        // Equal values from another document share the slot too, found by content.
        b.push(&ChunkRecord {
            attributes: Arc::new(shared.as_ref().clone()),
            ..record("e#0", "e", "t")
        })
        .unwrap();
        b.push(&record("f#0", "f", "t")).unwrap();
        let table = b.build().unwrap();
        assert_eq!(table.attribute_slots(), 2);
        assert!(table.attributes.data.len() < 4096 + 200);
        assert_eq!(table.ordinal(7), Some(7));
        assert_eq!(table.record(42).unwrap().attributes, shared);
        assert_eq!(table.attribute_slot(100), Some(0));
        assert_eq!(table.attribute_slot(101), Some(1));
        table.validate_attribute_rows().unwrap();
    }
}
