//! BM25 (Robertson–Spärck Jones, Lucene's idf) over a frozen, compact postings layout.
//!
//! Layout: sorted terms as a string column; per term a document frequency and a byte string of
//! postings, each posting `varint(doc - previous doc)`, `varint(term frequency)`; one u32 length
//! per document. A loaded snapshot keeps these as the bytes it read.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::Analyzer;
use crate::{DecodeError, IndexError, chunks::Column, hnsw::check_k, slab::Slab};

/// BM25 parameters, and the analyzer the index was built with (queries are analyzed the same).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bm25Params {
    pub k1: f32,
    pub b: f32,
    #[serde(default = "Analyzer::plain")]
    pub analyzer: Analyzer,
}

impl Default for Bm25Params {
    fn default() -> Self {
        Self {
            k1: 1.2,
            b: 0.75,
            analyzer: Analyzer::English,
        }
    }
}

/// A keyword match: which index (position in the slice given to [`search_many`]), which
/// document id inside it, and its BM25 score (larger is better).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KeywordHit {
    pub source: usize,
    pub id: u32,
    pub score: f32,
}

/// Collects documents; ids are dense and given in order. Terms come from the default
/// analyzer ([`Bm25Params::default`]); `build` records it whatever params it is given.
#[derive(Debug)]
pub struct Bm25Builder {
    analyzer: Analyzer,
    postings: HashMap<String, Vec<(u32, u32)>>,
    doc_lens: Vec<u32>,
}

impl Default for Bm25Builder {
    fn default() -> Self {
        Self::with_analyzer(Bm25Params::default().analyzer)
    }
}

impl Bm25Builder {
    /// A builder that makes terms with `analyzer`.
    pub fn with_analyzer(analyzer: Analyzer) -> Self {
        Self {
            analyzer,
            postings: HashMap::new(),
            doc_lens: Vec::new(),
        }
    }

    /// Adds the next document (its id is the number of documents added before it).
    pub fn add(&mut self, text: &str) -> u32 {
        let id = self.doc_lens.len() as u32;
        let mut counts: HashMap<String, u32> = HashMap::new();
        let mut len = 0u32;
        for token in self.analyzer.terms(text) {
            *counts.entry(token).or_insert(0) += 1;
            len = len.saturating_add(1);
        }
        for (term, tf) in counts {
            self.postings.entry(term).or_default().push((id, tf));
        }
        self.doc_lens.push(len);
        id
    }

    pub fn len(&self) -> usize {
        self.doc_lens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.doc_lens.is_empty()
    }

    pub fn build(self, params: Bm25Params) -> Result<Bm25Index, IndexError> {
        let sorted: BTreeMap<String, Vec<(u32, u32)>> = self.postings.into_iter().collect();
        let mut terms = Column::new();
        let mut postings = Column::new();
        let mut doc_freq = Vec::with_capacity(sorted.len());
        let mut buf = Vec::new();
        for (term, list) in &sorted {
            buf.clear();
            let mut previous = 0u32;
            for &(doc, tf) in list {
                write_varint(&mut buf, doc - previous);
                write_varint(&mut buf, tf);
                previous = doc;
            }
            terms.push(term.as_bytes())?;
            postings.push(&buf)?;
            doc_freq.push(list.len() as u32);
        }
        let total_len = self.doc_lens.iter().map(|&l| u64::from(l)).sum();
        Ok(Bm25Index {
            params: Bm25Params {
                analyzer: self.analyzer,
                ..params
            },
            terms,
            postings,
            doc_freq: Slab::Owned(doc_freq),
            doc_lens: Slab::Owned(self.doc_lens),
            total_len,
        })
    }
}

fn write_varint(out: &mut Vec<u8>, mut value: u32) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Reads one LEB128 u32; `None` on truncated or overlong input.
fn read_varint(bytes: &[u8], pos: &mut usize) -> Option<u32> {
    let mut value = 0u32;
    for shift in (0..35).step_by(7) {
        let byte = *bytes.get(*pos)?;
        *pos += 1;
        value |= u32::from(byte & 0x7f).checked_shl(shift)?;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// A frozen BM25 index.
#[derive(Debug, Clone)]
pub struct Bm25Index {
    pub(crate) params: Bm25Params,
    pub(crate) terms: Column,
    pub(crate) postings: Column,
    pub(crate) doc_freq: Slab<u32>,
    pub(crate) doc_lens: Slab<u32>,
    pub(crate) total_len: u64,
}

impl Default for Bm25Index {
    fn default() -> Self {
        Bm25Builder::default()
            .build(Bm25Params::default())
            .unwrap_or_else(|_| unreachable!("empty index"))
    }
}

impl Bm25Index {
    pub fn params(&self) -> Bm25Params {
        self.params
    }

    /// Documents indexed.
    pub fn len(&self) -> usize {
        self.doc_lens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Distinct terms.
    pub fn term_count(&self) -> usize {
        self.terms.len()
    }

    pub fn memory_bytes(&self) -> usize {
        self.terms.heap_bytes()
            + self.postings.heap_bytes()
            + self.doc_freq.heap_bytes()
            + self.doc_lens.heap_bytes()
    }

    fn term_row(&self, term: &str) -> Option<usize> {
        let (mut lo, mut hi) = (0, self.terms.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.terms.get(mid)?.cmp(term.as_bytes()) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(mid),
            }
        }
        None
    }

    fn doc_freq(&self, term: &str) -> u64 {
        self.term_row(term)
            .and_then(|row| self.doc_freq.as_slice().get(row))
            .map_or(0, |&df| u64::from(df))
    }

    /// Calls `visit(doc, tf)` for each posting of `term`. Malformed postings (only possible in a
    /// hostile snapshot whose checksum was forged) end the walk early instead of panicking.
    fn for_each_posting(&self, term: &str, mut visit: impl FnMut(u32, u32)) {
        let Some(bytes) = self.term_row(term).and_then(|row| self.postings.get(row)) else {
            return;
        };
        let n = self.len() as u64;
        let (mut pos, mut doc) = (0usize, 0u64);
        while pos < bytes.len() {
            let (Some(delta), Some(tf)) =
                (read_varint(bytes, &mut pos), read_varint(bytes, &mut pos))
            else {
                return;
            };
            doc += u64::from(delta);
            if doc >= n {
                return;
            }
            visit(doc as u32, tf);
        }
    }

    /// The `k` best documents for `query` that `allow` accepts.
    pub fn search(
        &self,
        query: &str,
        k: usize,
        allow: impl Fn(u32) -> bool,
    ) -> Result<Vec<KeywordHit>, IndexError> {
        search_many(&[self], query, k, |_, id| allow(id))
    }

    /// Checks the lengths of a stored index so later access cannot go out of bounds.
    pub(crate) fn validate(&self) -> Result<(), DecodeError> {
        if self.doc_freq.len() != self.terms.len() || self.postings.len() != self.terms.len() {
            return Err(DecodeError::section(
                "bm25",
                "terms, frequencies and postings differ in count",
            ));
        }
        let total: u64 = self.doc_lens.as_slice().iter().map(|&l| u64::from(l)).sum();
        if total != self.total_len {
            return Err(DecodeError::section(
                "bm25",
                "document lengths do not add up to the stored total",
            ));
        }
        if !(self.params.k1.is_finite()
            && self.params.k1 >= 0.0
            && (0.0..=1.0).contains(&self.params.b))
        {
            return Err(DecodeError::header(
                "bm25",
                "k1 must be finite and non-negative, b in [0, 1]",
            ));
        }
        Ok(())
    }
}

/// BM25 over several indexes as if they were one corpus: document count, average length and
/// document frequencies are summed across them. `allow(source, id)` filters results.
pub fn search_many(
    indexes: &[&Bm25Index],
    query: &str,
    k: usize,
    allow: impl Fn(usize, u32) -> bool,
) -> Result<Vec<KeywordHit>, IndexError> {
    check_k(k)?;
    // Every analyzer among the indexes analyzes the query (a project may hold snapshots from
    // before and after stemming); a term absent from an index simply has no postings there.
    let mut analyzers: Vec<Analyzer> = indexes.iter().map(|i| i.params.analyzer).collect();
    analyzers.dedup();
    let mut terms: Vec<String> = analyzers.iter().flat_map(|a| a.terms(query)).collect();
    terms.sort();
    terms.dedup();
    let docs: u64 = indexes.iter().map(|i| i.len() as u64).sum();
    if docs == 0 || terms.is_empty() {
        return Ok(Vec::new());
    }
    let total_len: u64 = indexes.iter().map(|i| i.total_len).sum();
    let avg_len = (total_len as f64 / docs as f64).max(1.0) as f32;
    let mut scores: HashMap<(usize, u32), f32> = HashMap::new();
    for term in &terms {
        let df: u64 = indexes.iter().map(|i| i.doc_freq(term)).sum();
        if df == 0 {
            continue;
        }
        let idf = (1.0 + (docs as f64 - df as f64 + 0.5) / (df as f64 + 0.5)).ln() as f32;
        for (source, index) in indexes.iter().enumerate() {
            let Bm25Params { k1, b, .. } = index.params;
            let lens = index.doc_lens.as_slice();
            index.for_each_posting(term, |doc, tf| {
                if !allow(source, doc) {
                    return;
                }
                let dl = lens.get(doc as usize).copied().unwrap_or(0) as f32;
                let tf = tf as f32;
                let score = idf * tf * (k1 + 1.0) / (tf + k1 * (1.0 - b + b * dl / avg_len));
                *scores.entry((source, doc)).or_insert(0.0) += score;
            });
        }
    }
    let mut hits: Vec<KeywordHit> = scores
        .into_iter()
        .map(|((source, id), score)| KeywordHit { source, id, score })
        .collect();
    hits.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.source.cmp(&b.source))
            .then(a.id.cmp(&b.id))
    });
    hits.truncate(k);
    Ok(hits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unstemmed_and_a_stemmed_index_answer_one_query_together() {
        let mut plain = Bm25Builder::with_analyzer(Analyzer::Plain);
        plain.add("vacuuming tables");
        plain.add("unrelated words");
        let plain = plain.build(Bm25Params::default()).unwrap();
        assert_eq!(
            plain.params.analyzer,
            Analyzer::Plain,
            "build keeps the builder's"
        );
        let stemmed = index(&["a table is vacuumed", "other words"]);
        let hits = search_many(&[&plain, &stemmed], "vacuuming tables", 10, |_, _| true).unwrap();
        let found: Vec<(usize, u32)> = hits.iter().map(|h| (h.source, h.id)).collect();
        assert!(
            found.contains(&(0, 0)) && found.contains(&(1, 0)),
            "{found:?}"
        );
        assert_eq!(found.len(), 2);
    }

    fn index(texts: &[&str]) -> Bm25Index {
        let mut b = Bm25Builder::default();
        for t in texts {
            b.add(t);
        }
        b.build(Bm25Params::default()).unwrap()
    }

    #[test]
    fn varints_round_trip_and_reject_truncation() {
        let mut buf = Vec::new();
        for v in [0, 1, 127, 128, 300, u32::MAX] {
            write_varint(&mut buf, v);
        }
        let mut pos = 0;
        let read: Vec<u32> = std::iter::from_fn(|| read_varint(&buf, &mut pos)).collect();
        assert_eq!(read, vec![0, 1, 127, 128, 300, u32::MAX]);
        assert_eq!(read_varint(&[0x80], &mut 0), None);
        assert_eq!(read_varint(&[0xff; 6], &mut 0), None, "overlong");
    }

    #[test]
    fn rarer_terms_and_shorter_documents_score_higher() {
        let idx = index(&[
            "the cat sat on the mat",
            "the dog chased the cat around the whole big garden all afternoon",
            "the dog slept",
            "quantum chromodynamics",
        ]);
        let hits = idx.search("cat", 10, |_| true).unwrap();
        assert_eq!(
            hits.iter().map(|h| h.id).collect::<Vec<_>>(),
            vec![0, 1],
            "shorter doc first"
        );
        let hits = idx.search("the quantum", 10, |_| true).unwrap();
        assert_eq!(hits[0].id, 3, "a rare term outweighs a common one");
        assert!(idx.search("absent words", 10, |_| true).unwrap().is_empty());
        assert!(idx.search("", 10, |_| true).unwrap().is_empty());
        assert!(matches!(
            idx.search("cat", 0, |_| true),
            Err(IndexError::InvalidK { .. })
        ));
    }

    #[test]
    fn filters_and_k_limit_results() {
        let idx = index(&["apple pie", "apple tart", "apple juice", "pear"]);
        let hits = idx.search("apple", 2, |id| id != 0).unwrap();
        assert_eq!(hits.len(), 2);
        assert!(hits.iter().all(|h| h.id != 0));
    }

    #[test]
    fn several_indexes_share_statistics_like_one_corpus() {
        let texts = [
            "red fox",
            "blue fox",
            "red car",
            "green tree",
            "red red sun",
        ];
        let one = index(&texts);
        let (a, b) = (index(&texts[..3]), index(&texts[3..]));
        let whole = one.search("red fox", 10, |_| true).unwrap();
        let split = search_many(&[&a, &b], "red fox", 10, |_, _| true).unwrap();
        assert_eq!(whole.len(), split.len());
        for (w, s) in whole.iter().zip(&split) {
            let global = if s.source == 0 { s.id } else { s.id + 3 };
            assert_eq!(w.id, global);
            assert!((w.score - s.score).abs() < 1e-5);
        }
    }

    #[test]
    fn postings_are_compact() {
        let texts: Vec<String> = (0..1000).map(|i| format!("common word{i}")).collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let idx = index(&refs);
        let common = idx
            .term_row("common")
            .and_then(|r| idx.postings.get(r))
            .unwrap();
        assert_eq!(
            common.len(),
            2000,
            "one byte of delta and one of frequency per posting"
        );
    }
}
