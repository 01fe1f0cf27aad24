//! Section helpers shared by snapshots and WAL segments: columns (offsets + bytes) as section
//! pairs, and the chunk table as its sections (five in format 1; format 2 adds contexts, the
//! row → attribute value and ordinal arrays, and stores each distinct attribute value once).

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
const CHUNK_CONTEXTS: ColumnNames = column_names!("chunks.contexts");
const CHUNK_ATTRIBUTES: ColumnNames = column_names!("chunks.attributes");
const CHUNK_ID_ORDER: &str = "chunks.id_order";
const CHUNK_ATTRIBUTE_ROWS: &str = "chunks.attribute_rows";
const CHUNK_ORDINALS: &str = "chunks.ordinals";
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

/// A chunk table's sections in the current format: four columns, the id order, and the row →
/// attribute value and ordinal arrays (a table decoded from format 1 gets them here).
pub(super) fn chunk_sections(table: &ChunkTable) -> Vec<Section<'_>> {
    let mut sections = Vec::with_capacity(13);
    sections.extend(column_sections(CHUNK_IDS, &table.ids));
    sections.extend(column_sections(CHUNK_DOCUMENTS, &table.document_ids));
    sections.extend(column_sections(CHUNK_TEXTS, &table.texts));
    sections.extend(column_sections(CHUNK_ATTRIBUTES, &table.attributes));
    sections.push((CHUNK_ID_ORDER, le_bytes(table.id_order.as_slice())));
    sections.extend(match &table.contexts {
        Some(c) => column_sections(CHUNK_CONTEXTS, c),
        None => [
            (
                CHUNK_CONTEXTS.offsets,
                Cow::Owned(vec![0; (table.len() + 1) * 4]),
            ),
            (CHUNK_CONTEXTS.data, Cow::Owned(Vec::new())),
        ],
    });
    let rows = table.len() as u32;
    sections.push((
        CHUNK_ATTRIBUTE_ROWS,
        match &table.attribute_rows {
            Some(a) => le_bytes(a.as_slice()),
            None => Cow::Owned((0..rows).flat_map(u32::to_le_bytes).collect()),
        },
    ));
    sections.push((
        CHUNK_ORDINALS,
        match &table.ordinals {
            Some(o) => le_bytes(o.as_slice()),
            None => Cow::Owned(vec![0; rows as usize * 4]),
        },
    ));
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

/// A stored chunk table of `rows` rows, checked. Format 1 has one attribute value per row and
/// no ordinals; format 2 stores distinct values and both row arrays.
pub(super) fn decode_chunks<H>(env: &Envelope<H>, rows: usize) -> Result<ChunkTable, DecodeError> {
    let (values, attribute_rows, ordinals, contexts) = if env.version >= 2 {
        let attribute_rows = decode_u32s(env, CHUNK_ATTRIBUTE_ROWS)?;
        let values = (env.section(CHUNK_ATTRIBUTES.offsets)?.len() / 4).saturating_sub(1);
        (
            values,
            Some(attribute_rows),
            Some(decode_u32s(env, CHUNK_ORDINALS)?),
            Some(decode_column(env, CHUNK_CONTEXTS, rows, true)?),
        )
    } else {
        (rows, None, None, None)
    };
    let table = ChunkTable {
        ids: decode_column(env, CHUNK_IDS, rows, true)?,
        document_ids: decode_column(env, CHUNK_DOCUMENTS, rows, true)?,
        texts: decode_column(env, CHUNK_TEXTS, rows, true)?,
        contexts,
        attributes: decode_column(env, CHUNK_ATTRIBUTES, values, false)?,
        attribute_rows,
        ordinals,
        id_order: decode_u32s(env, CHUNK_ID_ORDER)?,
    };
    table.validate_id_order()?;
    table.validate_attribute_rows()?;
    Ok(table)
}
