//! A project's index as loaded in this process at one manifest version: per shard the base
//! snapshot (borrowed from the bytes read) and the write-ahead tail applied on top of it, with
//! the bookkeeping that makes later writes win (a chunk rewritten or tombstoned in a later
//! segment is hidden from everything before it). Documents are derived from the chunks, so a
//! rollback of the index is a rollback of the documents too.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex, OnceLock},
};

use snapkb_core::Manifest;
use snapkb_index::{
    Attributes, ChunkRecord, ChunkTable, FlatIndex, IdSet, MetaValue, Metadata, Metric,
    SearchParams, Snapshot, WalSegment,
    keyword::{Analyzer, Bm25Builder, Bm25Index, Bm25Params, search_many},
    merge_nearest,
};

use crate::{EngineError, cpu::Deadline};

/// Metadata key holding a chunk's document bookkeeping; callers cannot set or filter on it.
pub(crate) const DOC_META_KEY: &str = "_snapkb";

/// What every chunk records about its document version: version, hash and size live in the
/// document's metadata (shared by its chunks), the ordinal in the chunk's own row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DocInfo {
    pub(crate) version: u64,
    pub(crate) sha256: String,
    pub(crate) bytes: u64,
    pub(crate) ordinal: u32,
}

impl DocInfo {
    /// A chunk's bookkeeping from its metadata and stored ordinal. Chunks written in format 1
    /// kept the ordinal in the metadata list (their stored ordinal is 0); it wins when present.
    pub(crate) fn read(metadata: &Metadata, ordinal: u32) -> Option<DocInfo> {
        let MetaValue::List(items) = metadata.get(DOC_META_KEY)? else {
            return None;
        };
        let (version, sha256, bytes, ordinal) = match items.as_slice() {
            [
                MetaValue::Int(version),
                MetaValue::Text(sha256),
                MetaValue::Int(bytes),
            ] => (version, sha256, bytes, ordinal),
            [
                MetaValue::Int(version),
                MetaValue::Text(sha256),
                MetaValue::Int(bytes),
                MetaValue::Int(ordinal),
            ] => (version, sha256, bytes, *ordinal as u32),
            _ => return None,
        };
        Some(DocInfo {
            version: *version as u64,
            sha256: sha256.clone(),
            bytes: *bytes as u64,
            ordinal,
        })
    }

    /// Records the document part (everything but the ordinal) in a document's metadata.
    pub(crate) fn write(&self, metadata: &mut Metadata) {
        metadata.insert(
            DOC_META_KEY.into(),
            MetaValue::List(vec![
                MetaValue::Int(self.version as i64),
                MetaValue::Text(self.sha256.clone()),
                MetaValue::Int(self.bytes as i64),
            ]),
        );
    }

    /// The record of a chunk: its bookkeeping, or a corrupt-data error naming it.
    pub(crate) fn of(record: &ChunkRecord) -> Result<DocInfo, EngineError> {
        DocInfo::read(&record.attributes.metadata, record.ordinal).ok_or_else(|| {
            EngineError::Corrupt(format!("chunk {} has no document record", record.id))
        })
    }
}

/// Metadata as callers see it.
pub(crate) fn user_metadata(metadata: &Metadata) -> Metadata {
    let mut metadata = metadata.clone();
    metadata.remove(DOC_META_KEY);
    metadata
}

/// A live document, derived from its chunks.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DocState {
    pub(crate) version: u64,
    pub(crate) sha256: String,
    pub(crate) bytes: u64,
    pub(crate) metadata: Metadata,
    pub(crate) tags: Vec<String>,
    /// Chunk id → ordinal.
    pub(crate) chunks: BTreeMap<String, u32>,
}

impl DocState {
    pub(crate) fn chunk_ids(&self) -> Vec<String> {
        let mut ids: Vec<(&String, &u32)> = self.chunks.iter().collect();
        ids.sort_by_key(|(_, o)| **o);
        ids.into_iter().map(|(id, _)| id.clone()).collect()
    }
}

/// Where a chunk row is: in a shard's base snapshot or its tail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Loc {
    Base(u32),
    Tail(u32),
}

/// A chunk row of the project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct RowRef {
    pub(crate) shard: u32,
    pub(crate) loc: Loc,
}

/// The write-ahead segments applied on top of a base, as one exactly-searched table.
#[derive(Debug)]
struct Tail {
    segments: Vec<Arc<WalSegment>>,
    flat: FlatIndex,
    /// Tail row → (segment, row in segment).
    rows: Vec<(u32, u32)>,
    /// Tail row → attributes, shared by the rows of one value in a segment.
    attrs: Vec<Arc<Attributes>>,
    dead: IdSet,
    by_chunk: HashMap<String, u32>,
    keywords: Mutex<Option<Arc<Bm25Index>>>,
}

#[derive(Debug)]
pub(crate) struct ShardView {
    base: Option<Arc<Snapshot>>,
    base_key: Option<String>,
    /// Base rows hidden by later segments (the snapshot's own deletions are in its graph).
    base_dead: IdSet,
    /// All base rows minus `base_dead`, when that is not everything.
    base_allowed: Option<IdSet>,
    segment_keys: Vec<String>,
    tail: Tail,
    /// What the tail's keyword index is built with: the project's (its manifest's) setting.
    analyzer: Analyzer,
}

/// Everything a query or a writer needs about a project at `manifest.version`.
#[derive(Debug)]
pub(crate) struct ProjectState {
    pub(crate) manifest: Manifest,
    pub(crate) metric: Metric,
    pub(crate) shards: Vec<ShardView>,
    /// Documents by id, derived on first use (many states only ever serve searches) and kept
    /// current as segments apply; readers share it under the state's read lock.
    docs: OnceLock<HashMap<String, DocState>>,
}

/// The analyzer new keyword indexes of a project are built with.
pub(crate) fn keyword_analyzer(keyword: snapkb_core::KeywordConfig) -> Analyzer {
    match keyword.stemmer {
        snapkb_core::Stemmer::English => Analyzer::English,
        snapkb_core::Stemmer::None => Analyzer::Words,
    }
}

/// The index's distance for a project's metric.
pub(crate) fn index_metric(metric: snapkb_core::Metric) -> Metric {
    match metric {
        snapkb_core::Metric::Cosine => Metric::Cosine,
        snapkb_core::Metric::Dot => Metric::Dot,
        snapkb_core::Metric::L2 => Metric::L2,
    }
}

fn doc_of(chunk_id: &str) -> &str {
    chunk_id.split_once('#').map_or(chunk_id, |(d, _)| d)
}

impl ShardView {
    fn new(
        dims: usize,
        metric: Metric,
        analyzer: Analyzer,
        base: Option<(String, Arc<Snapshot>)>,
    ) -> Self {
        let rows = base.as_ref().map_or(0, |(_, s)| s.chunks.len());
        let (base_key, base) = base.map_or((None, None), |(k, s)| (Some(k), Some(s)));
        Self {
            base,
            base_key,
            base_dead: IdSet::with_capacity(rows),
            base_allowed: None,
            segment_keys: Vec::new(),
            tail: Tail {
                segments: Vec::new(),
                flat: FlatIndex::new(dims, metric),
                rows: Vec::new(),
                attrs: Vec::new(),
                dead: IdSet::default(),
                by_chunk: HashMap::new(),
                keywords: Mutex::new(None),
            },
            analyzer,
        }
    }

    fn base_live(&self, row: u32) -> bool {
        self.base
            .as_ref()
            .is_some_and(|b| !b.vectors.is_deleted(row) && !self.base_dead.contains(row))
    }

    /// Hides the current row of `chunk_id`, returning where it was.
    fn kill(&mut self, chunk_id: &str) -> Option<Loc> {
        if let Some(row) = self.tail.by_chunk.remove(chunk_id) {
            self.tail.dead.insert(row);
            return Some(Loc::Tail(row));
        }
        let row = self.base.as_ref()?.chunks.find(chunk_id)?;
        if !self.base_live(row) {
            return None;
        }
        self.base_dead.insert(row);
        let rows = self.base.as_ref().map_or(0, |b| b.chunks.len());
        self.base_allowed
            .get_or_insert_with(|| IdSet::full(rows))
            .remove(row);
        Some(Loc::Base(row))
    }

    fn find(&self, chunk_id: &str) -> Option<Loc> {
        if let Some(&row) = self.tail.by_chunk.get(chunk_id) {
            return Some(Loc::Tail(row));
        }
        let row = self.base.as_ref()?.chunks.find(chunk_id)?;
        self.base_live(row).then_some(Loc::Base(row))
    }

    fn apply(
        &mut self,
        key: String,
        segment: Arc<WalSegment>,
        docs: Option<&mut HashMap<String, DocState>>,
    ) -> Result<(), EngineError> {
        let mut docs = docs;
        for id in &segment.tombstones {
            if self.kill(id).is_some()
                && let Some(docs) = docs.as_deref_mut()
            {
                remove_doc_chunk(docs, id);
            }
        }
        let seg_index = self.tail.segments.len() as u32;
        let mut shared = segment.chunks.shared_attributes();
        for row in 0..segment.chunks.len() as u32 {
            let (Some(id), Some(vector), Some(attrs), Some(ordinal)) = (
                segment.chunks.id(row),
                segment.vector(row),
                shared.get(row),
                segment.chunks.ordinal(row),
            ) else {
                return Err(EngineError::Corrupt(format!(
                    "segment {key} row {row} is incomplete"
                )));
            };
            if self.kill(id).is_some()
                && let Some(docs) = docs.as_deref_mut()
            {
                remove_doc_chunk(docs, id);
            }
            let tail_row = self.tail.flat.insert(vector)?;
            self.tail.rows.push((seg_index, row));
            self.tail.by_chunk.insert(id.to_string(), tail_row);
            if let Some(docs) = docs.as_deref_mut() {
                add_doc_chunk(docs, id, ordinal, &attrs);
            }
            self.tail.attrs.push(attrs);
        }
        self.tail.dead.grow(self.tail.rows.len());
        self.tail.segments.push(segment);
        self.segment_keys.push(key);
        *self.tail.keywords.lock().unwrap_or_else(|e| e.into_inner()) = None;
        Ok(())
    }

    fn tail_keywords(&self) -> Result<Arc<Bm25Index>, EngineError> {
        let mut slot = self.tail.keywords.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(index) = slot.as_ref() {
            return Ok(index.clone());
        }
        let mut builder = Bm25Builder::with_analyzer(self.analyzer);
        for &(seg, row) in &self.tail.rows {
            builder.add(
                &self.tail.segments[seg as usize]
                    .chunks
                    .keyword_text(row)
                    .unwrap_or_default(),
            );
        }
        let index = Arc::new(builder.build(Bm25Params::default())?);
        *slot = Some(index.clone());
        Ok(index)
    }

    /// The chunk table a row is in, and its row there.
    fn chunk_row(&self, loc: Loc) -> Option<(&ChunkTable, u32)> {
        match loc {
            Loc::Base(row) => Some((&self.base.as_ref()?.chunks, row)),
            Loc::Tail(row) => {
                let (seg, r) = *self.tail.rows.get(row as usize)?;
                Some((&self.tail.segments.get(seg as usize)?.chunks, r))
            }
        }
    }

    fn record(&self, loc: Loc) -> Option<ChunkRecord> {
        let (table, row) = self.chunk_row(loc)?;
        table.record(row)
    }

    fn document_id(&self, loc: Loc) -> Option<&str> {
        let (table, row) = self.chunk_row(loc)?;
        table.document_id(row)
    }

    fn vector(&self, loc: Loc) -> Option<&[f32]> {
        match loc {
            Loc::Base(row) => self.base.as_ref()?.vectors.vector(row),
            Loc::Tail(row) => self.tail.flat.vector(row),
        }
    }

    /// Base rows a search may return, or `None` for all of them.
    fn base_allow(
        &self,
        filter: Option<&snapkb_index::Filter>,
        deadline: &Deadline,
    ) -> Result<Option<IdSet>, EngineError> {
        let Some(base) = self.base.as_ref() else {
            return Ok(None);
        };
        Ok(match (filter, &self.base_allowed) {
            (None, None) => None,
            (None, Some(allowed)) => Some(allowed.clone()),
            (Some(f), allowed) => {
                let mut selected = f
                    .select(&base.chunks, &|| deadline.passed())
                    .ok_or_else(|| deadline.expired())?;
                if let Some(allowed) = allowed {
                    selected.intersect_with(allowed);
                }
                Some(selected)
            }
        })
    }

    fn tail_allow(
        &self,
        filter: Option<&snapkb_index::Filter>,
        deadline: &Deadline,
    ) -> Result<Option<IdSet>, EngineError> {
        if filter.is_none() && self.tail.dead.is_empty() {
            return Ok(None);
        }
        let n = self.tail.rows.len();
        let mut allowed = IdSet::from_ids(n, std::iter::empty());
        for r in 0..n as u32 {
            if r % snapkb_index::STOP_CHECK_ROWS == 0 {
                deadline.check()?;
            }
            let passes = filter.is_none_or(|f| {
                let a = &self.tail.attrs[r as usize];
                f.matches(&a.metadata, &a.tags)
            });
            if passes && !self.tail.dead.contains(r) {
                allowed.insert(r);
            }
        }
        Ok(Some(allowed))
    }
}

fn remove_doc_chunk(docs: &mut HashMap<String, DocState>, chunk_id: &str) {
    let doc = doc_of(chunk_id);
    if let Some(state) = docs.get_mut(doc) {
        state.chunks.remove(chunk_id);
        if state.chunks.is_empty() {
            docs.remove(doc);
        }
    }
}

fn add_doc_chunk(
    docs: &mut HashMap<String, DocState>,
    chunk_id: &str,
    ordinal: u32,
    attrs: &Attributes,
) {
    let Some(info) = DocInfo::read(&attrs.metadata, ordinal) else {
        return;
    };
    let state = docs
        .entry(doc_of(chunk_id).to_string())
        .or_insert_with(|| DocState {
            version: 0,
            sha256: String::new(),
            bytes: 0,
            metadata: Metadata::new(),
            tags: Vec::new(),
            chunks: BTreeMap::new(),
        });
    if state.version != info.version {
        state.version = info.version;
        state.sha256 = info.sha256;
        state.bytes = info.bytes;
        state.metadata = user_metadata(&attrs.metadata);
        state.tags = attrs.tags.clone();
    }
    state.chunks.insert(chunk_id.to_string(), info.ordinal);
}

/// What compaction needs from a shard, taken out of the lock cheaply (shared arrays and sets).
#[derive(Debug, Clone)]
pub(crate) struct ShardParts {
    pub(crate) base: Option<Arc<Snapshot>>,
    pub(crate) base_dead: IdSet,
    pub(crate) segments: Vec<Arc<WalSegment>>,
    pub(crate) tail_rows: Vec<(u32, u32)>,
    pub(crate) tail_dead: IdSet,
}

impl ShardParts {
    /// Whether base row `row` is still live.
    pub(crate) fn base_live(&self, row: u32) -> bool {
        self.base
            .as_ref()
            .is_some_and(|b| !b.vectors.is_deleted(row) && !self.base_dead.contains(row))
    }
}

/// One search hit before records are read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Hit {
    pub(crate) row: RowRef,
    pub(crate) score: f32,
}

impl ProjectState {
    /// A state with the given bases and nothing applied.
    pub(crate) fn new(
        manifest: Manifest,
        bases: Vec<Option<(String, Arc<Snapshot>)>>,
    ) -> Result<Self, EngineError> {
        let metric = index_metric(manifest.metric);
        let dims = manifest.dims as usize;
        let analyzer = keyword_analyzer(manifest.keyword);
        Ok(Self {
            shards: bases
                .into_iter()
                .map(|b| ShardView::new(dims, metric, analyzer, b))
                .collect(),
            manifest,
            metric,
            docs: OnceLock::new(),
        })
    }

    pub(crate) fn version(&self) -> u64 {
        self.manifest.version
    }

    /// Applies a segment to a shard (segments must come in manifest order).
    pub(crate) fn apply(
        &mut self,
        shard: usize,
        key: String,
        segment: Arc<WalSegment>,
    ) -> Result<(), EngineError> {
        let view = self
            .shards
            .get_mut(shard)
            .ok_or_else(|| EngineError::Corrupt(format!("segment {key} names shard {shard}")))?;
        view.apply(key, segment, self.docs.get_mut())
    }

    /// Whether `next` only appends segments to what is loaded (so it can be applied in place).
    pub(crate) fn extends_to(&self, next: &Manifest) -> bool {
        next.version >= self.manifest.version
            && next.shards.len() == self.shards.len()
            && next.shards.iter().zip(&self.shards).all(|(n, v)| {
                n.base.as_ref().map(|b| &b.key) == v.base_key.as_ref()
                    && n.wal.len() >= v.segment_keys.len()
                    && n.wal.iter().zip(&v.segment_keys).all(|(w, k)| &w.key == k)
            })
    }

    /// Segments of `next` not yet applied, per shard: (shard, index in its wal).
    pub(crate) fn missing_segments<'m>(
        &self,
        next: &'m Manifest,
    ) -> Vec<(usize, &'m snapkb_core::SegmentRef)> {
        next.shards
            .iter()
            .enumerate()
            .flat_map(|(s, shard)| {
                let applied = self.shards.get(s).map_or(0, |v| v.segment_keys.len());
                shard.wal.iter().skip(applied).map(move |w| (s, w))
            })
            .collect()
    }

    pub(crate) fn shard_parts(&self, shard: usize) -> Option<ShardParts> {
        let v = self.shards.get(shard)?;
        Some(ShardParts {
            base: v.base.clone(),
            base_dead: v.base_dead.clone(),
            segments: v.tail.segments.clone(),
            tail_rows: v.tail.rows.clone(),
            tail_dead: v.tail.dead.clone(),
        })
    }

    pub(crate) fn base(&self, shard: usize) -> Option<(&str, &Arc<Snapshot>)> {
        let v = self.shards.get(shard)?;
        Some((v.base_key.as_deref()?, v.base.as_ref()?))
    }

    pub(crate) fn segment(&self, shard: usize, key: &str) -> Option<&Arc<WalSegment>> {
        let v = self.shards.get(shard)?;
        let i = v.segment_keys.iter().position(|k| k == key)?;
        v.tail.segments.get(i)
    }

    /// Documents by id, derived from the live chunks (computed on first use, then kept up to
    /// date as segments are applied).
    pub(crate) fn documents(&self) -> &HashMap<String, DocState> {
        self.docs.get_or_init(|| {
            let mut docs = HashMap::new();
            for view in &self.shards {
                if let Some(base) = &view.base {
                    let chunks = &base.chunks;
                    // One decode per distinct value: a document's chunks share theirs.
                    let mut shared = chunks.shared_attributes();
                    for row in 0..chunks.len() as u32 {
                        if !view.base_live(row) {
                            continue;
                        }
                        if let (Some(id), Some(ordinal), Some(attrs)) =
                            (chunks.id(row), chunks.ordinal(row), shared.get(row))
                        {
                            add_doc_chunk(&mut docs, id, ordinal, &attrs);
                        }
                    }
                }
                for (row, attrs) in view.tail.attrs.iter().enumerate() {
                    let (seg, r) = view.tail.rows[row];
                    if view.tail.dead.contains(row as u32) {
                        continue;
                    }
                    let chunks = &view.tail.segments[seg as usize].chunks;
                    if let (Some(id), Some(ordinal)) = (chunks.id(r), chunks.ordinal(r)) {
                        add_doc_chunk(&mut docs, id, ordinal, attrs);
                    }
                }
            }
            docs
        })
    }

    /// The live row of a chunk id.
    pub(crate) fn find(&self, chunk_id: &str) -> Option<RowRef> {
        let shard = crate::layout::shard_of(chunk_id, self.shards.len());
        let loc = self.shards.get(shard)?.find(chunk_id)?;
        Some(RowRef {
            shard: shard as u32,
            loc,
        })
    }

    pub(crate) fn record(&self, row: RowRef) -> Option<ChunkRecord> {
        self.shards.get(row.shard as usize)?.record(row.loc)
    }

    /// The document a row's chunk belongs to.
    pub(crate) fn document_id(&self, row: RowRef) -> Option<&str> {
        self.shards.get(row.shard as usize)?.document_id(row.loc)
    }

    pub(crate) fn vector(&self, row: RowRef) -> Option<&[f32]> {
        self.shards.get(row.shard as usize)?.vector(row.loc)
    }

    /// Every live row, shard by shard, base before tail.
    pub(crate) fn live_rows(&self) -> impl Iterator<Item = RowRef> + '_ {
        self.shards.iter().enumerate().flat_map(|(s, v)| {
            let base_rows = v.base.as_ref().map_or(0, |b| b.chunks.len() as u32);
            let base = (0..base_rows)
                .filter(move |&r| v.base_live(r))
                .map(move |r| RowRef {
                    shard: s as u32,
                    loc: Loc::Base(r),
                });
            let tail = (0..v.tail.rows.len() as u32)
                .filter(move |&r| !v.tail.dead.contains(r))
                .map(move |r| RowRef {
                    shard: s as u32,
                    loc: Loc::Tail(r),
                });
            base.chain(tail)
        })
    }

    /// The rows of every shard a query with `filter` may return, evaluated once for all its
    /// searches (a hybrid query's vector and keyword halves share them).
    pub(crate) fn allowed(
        &self,
        filter: Option<&snapkb_index::Filter>,
        deadline: &Deadline,
    ) -> Result<Allowed, EngineError> {
        let shards = self
            .shards
            .iter()
            .map(|view| {
                let tail = match view.tail.rows.is_empty() {
                    true => None,
                    false => view.tail_allow(filter, deadline)?,
                };
                Ok((view.base_allow(filter, deadline)?, tail))
            })
            .collect::<Result<_, EngineError>>()?;
        Ok(Allowed { shards })
    }

    /// The `k` nearest live chunks among `allowed`, best first; scores are similarities.
    pub(crate) fn vector_search(
        &self,
        query: &[f32],
        k: usize,
        ef: usize,
        allowed: &Allowed,
    ) -> Result<Vec<Hit>, EngineError> {
        let mut lists = Vec::with_capacity(self.shards.len() * 2);
        for (s, view) in self.shards.iter().enumerate() {
            let shard = s as u32;
            let (base_allow, tail_allow) = &allowed.shards[s];
            if let Some(base) = &view.base {
                let allow = base_allow;
                let found = base
                    .vectors
                    .search(query, SearchParams::new(k, ef), allow.as_ref())
                    .map_err(query_vector_error)?;
                lists.push(rows_of(found, shard, Loc::Base));
            }
            if !view.tail.rows.is_empty() {
                let allow = tail_allow;
                let found = view
                    .tail
                    .flat
                    .search(query, k, allow.as_ref())
                    .map_err(query_vector_error)?;
                lists.push(rows_of(found, shard, Loc::Tail));
            }
        }
        Ok(merge_nearest(lists, k)
            .into_iter()
            .map(|(row, d)| Hit {
                row,
                score: self.metric.score(d),
            })
            .collect())
    }

    /// The `k` best BM25 matches among `allowed`, over all shards as one corpus.
    pub(crate) fn keyword_search(
        &self,
        text: &str,
        k: usize,
        allowed: &Allowed,
    ) -> Result<Vec<Hit>, EngineError> {
        let mut indexes: Vec<Arc<Bm25Index>> = Vec::new();
        let mut owners: Vec<(u32, bool)> = Vec::new();
        let mut allows: Vec<Option<IdSet>> = Vec::new();
        let mut base_refs: Vec<&Bm25Index> = Vec::new();
        // Bases are borrowed, tails are built lazily and shared; keep both alive here.
        for (s, view) in self.shards.iter().enumerate() {
            if let Some(base) = &view.base {
                base_refs.push(&base.keywords);
                owners.push((s as u32, true));
                let mut allow = allowed.shards[s].0.clone();
                if allow.is_none() && !base.vectors.deleted().is_empty() {
                    allow = Some(IdSet::full(base.chunks.len()));
                }
                if let Some(a) = allow.as_mut() {
                    for d in base.vectors.deleted().iter() {
                        a.remove(d);
                    }
                }
                allows.push(allow);
            }
        }
        for (s, view) in self.shards.iter().enumerate() {
            if !view.tail.rows.is_empty() {
                indexes.push(view.tail_keywords()?);
                owners.push((s as u32, false));
                allows.push(allowed.shards[s].1.clone());
            }
        }
        let mut sources: Vec<&Bm25Index> = base_refs;
        sources.extend(indexes.iter().map(|i| i.as_ref()));
        let hits = search_many(&sources, text, k, |source, id| {
            allows[source].as_ref().is_none_or(|a| a.contains(id))
        })?;
        Ok(hits
            .into_iter()
            .map(|h| {
                let (shard, is_base) = owners[h.source];
                Hit {
                    row: RowRef {
                        shard,
                        loc: if is_base {
                            Loc::Base(h.id)
                        } else {
                            Loc::Tail(h.id)
                        },
                    },
                    score: h.score,
                }
            })
            .collect())
    }
}

/// Per shard, the base rows and the tail rows a query may return (`None`: all of them).
#[derive(Debug)]
pub(crate) struct Allowed {
    shards: Vec<(Option<IdSet>, Option<IdSet>)>,
}

/// A shard's neighbours as rows, `loc` saying whether their ids are in its base or its tail.
fn rows_of(
    found: Vec<snapkb_index::Neighbor>,
    shard: u32,
    loc: fn(u32) -> Loc,
) -> Vec<(RowRef, f32)> {
    found
        .into_iter()
        .map(|n| {
            let row = RowRef {
                shard,
                loc: loc(n.id),
            };
            (row, n.distance)
        })
        .collect()
}

fn query_vector_error(e: snapkb_index::IndexError) -> EngineError {
    EngineError::invalid("vector", e.to_string())
}

#[cfg(test)]
mod tests {
    use snapkb_core::{Action, SegmentRef, ShardState};
    use snapkb_index::WalHeader;

    use super::*;

    const DIMS: usize = 2;

    fn manifest(segments: &[&str]) -> Manifest {
        Manifest {
            project: "p".into(),
            version: segments.len() as u64 + 1,
            action: Action::Ingest,
            committed_at: 0,
            model_id: "caller".into(),
            dims: DIMS as u32,
            metric: snapkb_core::Metric::Cosine,
            keyword: snapkb_core::KeywordConfig::default(),
            shards: vec![ShardState {
                base: None,
                wal: segments
                    .iter()
                    .enumerate()
                    .map(|(i, key)| SegmentRef {
                        key: key.to_string(),
                        version: i as u64 + 2,
                        chunks: 1,
                        tombstones: 0,
                        bytes: 1,
                    })
                    .collect(),
            }],
            documents: 0,
            chunks: 0,
            bytes: 0,
            generation: String::new(),
        }
    }

    /// A chunk of document `doc` at document version `version`.
    fn chunk(doc: &str, ordinal: u32, version: u64, text: &str) -> ChunkRecord {
        let mut metadata = Metadata::new();
        DocInfo {
            version,
            sha256: format!("sha-{doc}-{version}"),
            bytes: text.len() as u64,
            ordinal,
        }
        .write(&mut metadata);
        ChunkRecord {
            id: format!("{doc}#{ordinal}"),
            document_id: doc.into(),
            text: text.into(),
            context: String::new(),
            ordinal,
            attributes: Attributes::new(metadata, Vec::new()),
        }
    }

    fn segment(sequence: u64, chunks: Vec<ChunkRecord>, tombstones: &[&str]) -> Arc<WalSegment> {
        let header = WalHeader {
            project_id: "p".into(),
            shard: 0,
            sequence,
            model_id: "caller".into(),
            dims: DIMS as u32,
            metric: Metric::Cosine,
        };
        let vectors = (0..chunks.len())
            .flat_map(|i| [1.0, i as f32 + 1.0])
            .collect();
        let tombstones = tombstones.iter().map(|t| t.to_string()).collect();
        Arc::new(WalSegment::new(header, &chunks, vectors, tombstones).unwrap())
    }

    fn state() -> ProjectState {
        ProjectState::new(manifest(&[]), vec![None]).unwrap()
    }

    fn text_of(st: &ProjectState, chunk_id: &str) -> Option<String> {
        st.find(chunk_id)
            .and_then(|row| st.record(row))
            .map(|r| r.text)
    }

    #[test]
    fn a_later_write_of_a_chunk_wins_over_an_earlier_one() {
        let mut st = state();
        st.apply(
            0,
            "w1".into(),
            segment(2, vec![chunk("a", 0, 1, "old")], &[]),
        )
        .unwrap();
        st.apply(
            0,
            "w2".into(),
            segment(3, vec![chunk("a", 0, 2, "new")], &[]),
        )
        .unwrap();
        assert_eq!(text_of(&st, "a#0").as_deref(), Some("new"));
        assert_eq!(st.live_rows().count(), 1, "the old row is dead");
        assert_eq!(st.documents()["a"].version, 2);
    }

    #[test]
    fn a_tombstone_removes_the_chunk_and_its_document() {
        let mut st = state();
        let chunks = vec![chunk("a", 0, 1, "x"), chunk("b", 0, 1, "y")];
        st.apply(0, "w1".into(), segment(2, chunks, &[])).unwrap();
        assert_eq!(st.documents().len(), 2);
        st.apply(0, "w2".into(), segment(3, Vec::new(), &["a#0"]))
            .unwrap();
        assert_eq!(text_of(&st, "a#0"), None);
        assert_eq!(text_of(&st, "b#0").as_deref(), Some("y"));
        assert!(!st.documents().contains_key("a"));
        assert_eq!(st.live_rows().count(), 1);
    }

    #[test]
    fn documents_derived_before_a_segment_are_kept_current_by_it() {
        let mut st = state();
        st.apply(0, "w1".into(), segment(2, vec![chunk("a", 0, 1, "x")], &[]))
            .unwrap();
        assert_eq!(st.documents().len(), 1, "derived here, on first use");
        let chunks = vec![chunk("b", 0, 1, "y"), chunk("b", 1, 1, "z")];
        st.apply(0, "w2".into(), segment(3, chunks, &[])).unwrap();
        let docs = st.documents();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs["b"].chunk_ids(), ["b#0", "b#1"]);
    }

    #[test]
    fn only_segments_not_yet_applied_are_missing_and_a_rewritten_log_does_not_extend() {
        let mut st = state();
        st.apply(0, "w1".into(), segment(2, vec![chunk("a", 0, 1, "x")], &[]))
            .unwrap();
        let next = manifest(&["w1", "w2", "w3"]);
        assert!(st.extends_to(&next));
        let missing: Vec<&str> = st
            .missing_segments(&next)
            .into_iter()
            .map(|(shard, w)| {
                assert_eq!(shard, 0);
                w.key.as_str()
            })
            .collect();
        assert_eq!(missing, ["w2", "w3"]);
        assert!(
            !st.extends_to(&manifest(&["other", "w2"])),
            "a log that no longer starts with what is loaded (a compaction, a rollback) reloads"
        );
    }

    #[test]
    fn a_segment_for_a_shard_the_project_does_not_have_is_corrupt() {
        let mut st = state();
        let err = st
            .apply(3, "w1".into(), segment(2, vec![chunk("a", 0, 1, "x")], &[]))
            .unwrap_err();
        assert!(matches!(err, EngineError::Corrupt(_)), "{err}");
    }
}
