//! Tokenizer for BM25: Unicode word boundaries (UAX #29), lowercased, then an [`Analyzer`]
//! turns words into index terms. Snapshots record theirs, so one written before stemming keeps
//! matching as it was written while new ones stem.

use rust_stemmers::{Algorithm, Stemmer};
use serde::{Deserialize, Serialize};
use unicode_segmentation::UnicodeSegmentation;

/// Tokens longer than this many bytes (hashes, base64 blobs) are dropped.
pub const MAX_TOKEN_BYTES: usize = 64;

/// The lowercased words of `text`, in order.
pub fn tokenize(text: &str) -> impl Iterator<Item = String> + '_ {
    words(text).map(str::to_lowercase)
}

/// The words of `text` as written, in order, without the over-long ones.
fn words(text: &str) -> impl Iterator<Item = &str> + '_ {
    text.unicode_words().filter(|w| w.len() <= MAX_TOKEN_BYTES)
}

/// Lucene's English stop words: too common to tell documents apart.
const ENGLISH_STOP_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "will", "with",
];

/// How words become index terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Analyzer {
    /// Lowercased words as they are (every snapshot written before analyzers were recorded).
    Plain,
    /// English: stop words dropped, Snowball (Porter 2) stems, and identifiers (`snake_case`,
    /// `camelCase`, `os.path.join`) indexed whole and by their parts.
    English,
    /// Identifiers whole and by their parts, every word lowercased as written: nothing dropped
    /// or stemmed (text that is not English).
    Words,
}

impl Analyzer {
    /// What a snapshot that does not name its analyzer used.
    pub(crate) fn plain() -> Self {
        Self::Plain
    }

    /// The terms of `text`, in order (a term may repeat).
    pub fn terms(self, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        match self {
            Self::Plain => out.extend(tokenize(text)),
            Self::English => {
                let stemmer = Stemmer::create(Algorithm::English);
                for word in words(text) {
                    word_terms(word, |w| english_term(&stemmer, w), &mut out);
                }
            }
            Self::Words => {
                for word in words(text) {
                    word_terms(word, |w| Some(w.to_lowercase()), &mut out);
                }
            }
        }
        out
    }
}

/// The terms of one word: an identifier whole (as written, lowercased) and then its parts, each
/// as `term` makes it; any other word as `term` makes it (`None`: no term).
fn word_terms(word: &str, term: impl Fn(&str) -> Option<String>, out: &mut Vec<String>) {
    let parts = identifier_parts(word);
    if parts.len() > 1 {
        out.push(word.to_lowercase());
        out.extend(parts.into_iter().filter_map(term));
    } else {
        out.extend(term(word));
    }
}

/// An English term: the word lowercased and stemmed, or none for a stop word.
fn english_term(stemmer: &Stemmer, word: &str) -> Option<String> {
    let lower = word.to_lowercase();
    (!ENGLISH_STOP_WORDS.contains(&lower.as_str())).then(|| stemmer.stem(&lower).into_owned())
}

/// The parts of an identifier: split at `.`, `_`, `:` and `-`, and where lower case turns to
/// upper case (`camelCase` → `camel`, `Case`). A plain word is one part.
fn identifier_parts(word: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    for piece in word.split(['.', '_', ':', '-']).filter(|p| !p.is_empty()) {
        let mut start = 0;
        let mut prev_lower = false;
        for (i, c) in piece.char_indices() {
            if c.is_uppercase() && prev_lower {
                parts.push(&piece[start..i]);
                start = i;
            }
            prev_lower = c.is_lowercase() || c.is_numeric();
        }
        parts.push(&piece[start..]);
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_stems_drops_stop_words_and_splits_identifiers() {
        let terms = Analyzer::English.terms("Vacuuming the tables of connections");
        assert_eq!(terms, vec!["vacuum", "tabl", "connect"]);
        let terms =
            Analyzer::English.terms("set max_connections and call os.path.join or getElementById");
        assert_eq!(
            terms,
            vec![
                "set",
                "max_connections",
                "max",
                "connect",
                "call",
                "os.path.join",
                "os",
                "path",
                "join",
                "getelementbyid",
                "get",
                "element",
                "id"
            ]
        );
    }

    #[test]
    fn words_keeps_every_word_unstemmed_and_splits_identifiers() {
        assert_eq!(
            Analyzer::Words.terms("Die Tabellen und max_connections"),
            vec![
                "die",
                "tabellen",
                "und",
                "max_connections",
                "max",
                "connections"
            ]
        );
    }

    #[test]
    fn plain_keeps_every_word_as_written() {
        assert_eq!(
            Analyzer::Plain.terms("The Tables"),
            vec!["the".to_string(), "tables".to_string()]
        );
    }

    #[test]
    fn splits_on_unicode_word_boundaries_and_lowercases() {
        let tokens: Vec<String> =
            tokenize("Hello, World! Grüße aus Köln; it's 3.5 km — 東京").collect();
        assert_eq!(
            tokens,
            vec![
                "hello", "world", "grüße", "aus", "köln", "it's", "3.5", "km", "東", "京"
            ]
        );
    }

    #[test]
    fn drops_overlong_tokens() {
        let long = "x".repeat(65);
        assert_eq!(
            tokenize(&format!("a {long} b")).collect::<Vec<_>>(),
            vec!["a", "b"]
        );
    }
}
