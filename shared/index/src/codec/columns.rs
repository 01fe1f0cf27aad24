//! Section helpers shared by snapshots and WAL segments: columns (offsets + bytes) as section
//! pairs, and the chunk table as its five sections.

use std::borrow::Cow;

use super::envelope::Envelope;
use crate::{
    ChunkTable, DecodeError,
    chunks::Column,
    slab::{Slab, le_bytes},
};

/// Where a column lives: a label for errors and its two section names.
#[derive(Debug, Clone, Copy)]
pub(super) struct ColumnNames {
    pub(super) label: &'static str,
    pub(super) offsets: &'static str,
    pub(super) data: &'static str,
}

macro_rules! column_names {
    ($label:literal) => {
        ColumnNames {
            label: $label,
            offsets: concat!($label, ".offsets"),
            data: concat!($label, ".data"),
        }
    };
}

const CHUNK_IDS: ColumnNames = column_names!("chunks.ids");
const CHUNK_DOCUMENTS: ColumnNames = column_names!("chunks.documents");
const CHUNK_TEXTS: ColumnNames = column_names!("chunks.texts");
const CHUNK_ATTRIBUTES: ColumnNames = column_names!("chunks.attributes");
const CHUNK_ID_ORDER: &str = "chunks.id_order";
pub(super) const BM25_TERMS: ColumnNames = column_names!("bm25.terms");
pub(super) const BM25_POSTINGS: ColumnNames = column_names!("bm25.postings");
pub(super) const TOMBSTONES: ColumnNames = column_names!("tombstones");

pub(super) type Section<'a> = (&'static str, Cow<'a, [u8]>);

/// A column's two sections.
pub(super) fn column_sections(names: ColumnNames, column: &Column) -> [Section<'_>; 2] {
    [
        (names.offsets, le_bytes(column.offsets.as_slice())),
        (names.data, le_bytes(column.data.as_slice())),
    ]
}

/// A chunk table's sections: four columns and the id order.
pub(super) fn chunk_sections(table: &ChunkTable) -> Vec<Section<'_>> {
    let mut sections = Vec::with_capacity(9);
    sections.extend(column_sections(CHUNK_IDS, &table.ids));
    sections.extend(column_sections(CHUNK_DOCUMENTS, &table.document_ids));
    sections.extend(column_sections(CHUNK_TEXTS, &table.texts));
    sections.extend(column_sections(CHUNK_ATTRIBUTES, &table.attributes));
    sections.push((CHUNK_ID_ORDER, le_bytes(table.id_order.as_slice())));
    sections
}

/// A stored u32 array.
pub(super) fn decode_u32s<H>(
    env: &Envelope<H>,
    name: &'static str,
) -> Result<Slab<u32>, DecodeError> {
    Slab::<u32>::from_le_bytes(env.section(name)?)
        .ok_or_else(|| DecodeError::section(name, "not whole u32 values"))
}

/// A stored column of `len` values, checked (and, with `utf8`, each value valid UTF-8).
pub(super) fn decode_column<H>(
    env: &Envelope<H>,
    names: ColumnNames,
    len: usize,
    utf8: bool,
) -> Result<Column, DecodeError> {
    Column::from_sections(
        names.label,
        env.section(names.offsets)?,
        env.section(names.data)?,
        len,
        utf8,
    )
}

/// A stored chunk table of `rows` rows, checked.
pub(super) fn decode_chunks<H>(env: &Envelope<H>, rows: usize) -> Result<ChunkTable, DecodeError> {
    let table = ChunkTable {
        ids: decode_column(env, CHUNK_IDS, rows, true)?,
        document_ids: decode_column(env, CHUNK_DOCUMENTS, rows, true)?,
        texts: decode_column(env, CHUNK_TEXTS, rows, true)?,
        attributes: decode_column(env, CHUNK_ATTRIBUTES, rows, false)?,
        id_order: decode_u32s(env, CHUNK_ID_ORDER)?,
    };
    table.validate_id_order()?;
    Ok(table)
}
