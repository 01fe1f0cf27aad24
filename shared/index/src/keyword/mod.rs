//! Keyword search: a Unicode word tokenizer and a BM25 index whose postings are delta- and
//! varint-encoded, searchable across several indexes at once (a snapshot plus its WAL tail)
//! with shared corpus statistics so their scores are comparable.

mod bm25;
mod tokenize;

pub use self::{
    bm25::{Bm25Builder, Bm25Index, Bm25Params, KeywordHit, search_many},
    tokenize::{Analyzer, MAX_TOKEN_BYTES, tokenize},
};
