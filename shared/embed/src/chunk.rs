//! Plain-text chunking measured in model word pieces: paragraphs, falling back to sentences,
//! then words, then characters, packed greedily up to a budget with an overlap between chunks.

use std::ops::Range;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use unicode_segmentation::UnicodeSegmentation;

use crate::PieceCounter;

/// Chunk size limits, in word pieces of the model's tokenizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkConfig {
    /// Most pieces per chunk. 254 fills all-MiniLM-L6-v2's 256 with [CLS] and [SEP].
    pub max_pieces: usize,
    /// Pieces of the previous chunk's end repeated at the start of the next (whole sentences or
    /// paragraphs, never more than this).
    pub overlap_pieces: usize,
}

impl Default for ChunkConfig {
    fn default() -> Self {
        // The same as a new project's (`snapkb_core::ChunkingConfig`).
        Self {
            max_pieces: 254,
            overlap_pieces: 0,
        }
    }
}

impl ChunkConfig {
    /// The config with its values forced into a workable range (at least 8 pieces per chunk,
    /// overlap below half a chunk).
    pub fn sanitized(self) -> Self {
        let max_pieces = self.max_pieces.max(8);
        Self {
            max_pieces,
            overlap_pieces: self.overlap_pieces.min(max_pieces / 2 - 1),
        }
    }
}

/// One chunk of a document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chunk {
    /// `{document_id}#{first 16 hex digits of sha256}`, with `-2`, `-3`… for repeated text, so
    /// an unchanged chunk keeps its id when text around it changes.
    pub id: String,
    pub document_id: String,
    /// Position in the document, from 0.
    pub ordinal: u32,
    pub text: String,
    /// Byte range of `text` in the source the chunker was given (for HTML, the extracted text).
    pub span: Range<usize>,
    /// Word pieces of `text` (without special tokens).
    pub pieces: usize,
    /// SHA-256 of `text` (after the context and a newline when there is one), lowercase hex:
    /// a chunk whose heading changes gets a new id.
    pub sha256: String,
    /// Headings above this chunk, outermost first (markdown and HTML).
    pub heading_path: Vec<String>,
    /// The heading path as one line (`A › B`), keyword-indexed with the text but not part of
    /// it; empty for plain text. It is not embedded: on the PostgreSQL dev set, embedding it
    /// with the text lowered vector MRR@10 from 0.846 to 0.826 (docs/retrieval.md).
    pub context: String,
}

/// Separates headings in a chunk's context.
pub const CONTEXT_SEPARATOR: &str = " › ";

/// What a chunk's hash covers: its context line, then its text.
fn hashed_text<'a>(context: &str, text: &'a str) -> std::borrow::Cow<'a, str> {
    if context.is_empty() {
        std::borrow::Cow::Borrowed(text)
    } else {
        std::borrow::Cow::Owned(format!("{context}\n{text}"))
    }
}

#[derive(Debug, Clone)]
struct Unit {
    span: Range<usize>,
    pieces: usize,
}

fn trim_span(text: &str, span: Range<usize>) -> Range<usize> {
    let slice = &text[span.clone()];
    let start = span.start + (slice.len() - slice.trim_start().len());
    let end = span.end - (slice.len() - slice.trim_end().len());
    start..end.max(start)
}

/// Paragraphs of `text[range]`: runs of lines separated by blank lines.
fn paragraphs(text: &str, range: Range<usize>) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut offset = range.start;
    for line in text[range.clone()].split_inclusive('\n') {
        let blank = line.trim().is_empty();
        match (blank, start) {
            (true, Some(s)) => {
                out.push(trim_span(text, s..offset));
                start = None;
            }
            (false, None) => start = Some(offset),
            _ => {}
        }
        offset += line.len();
    }
    if let Some(s) = start {
        out.push(trim_span(text, s..range.end));
    }
    out.retain(|r| !r.is_empty());
    out
}

/// Units no larger than `budget` pieces covering `span`, splitting ever finer as needed.
fn split_unit(
    text: &str,
    span: Range<usize>,
    counter: &dyn PieceCounter,
    budget: usize,
    out: &mut Vec<Unit>,
) {
    let pieces = counter.count(&text[span.clone()]);
    if pieces <= budget {
        if pieces > 0 {
            out.push(Unit { span, pieces });
        }
        return;
    }
    let slice = &text[span.clone()];
    let sentences: Vec<Range<usize>> = slice
        .split_sentence_bound_indices()
        .map(|(i, s)| trim_span(text, span.start + i..span.start + i + s.len()))
        .filter(|r| !r.is_empty())
        .collect();
    if sentences.len() > 1 {
        for s in sentences {
            split_unit(text, s, counter, budget, out);
        }
        return;
    }
    let words: Vec<Range<usize>> = slice
        .split_word_bound_indices()
        .filter(|(_, w)| !w.trim().is_empty())
        .map(|(i, w)| span.start + i..span.start + i + w.len())
        .collect();
    if words.len() > 1 {
        for w in words {
            split_unit(text, w, counter, budget, out);
        }
        return;
    }
    // One word longer than a whole chunk (a hash, a base64 blob): cut it into runs of `budget`
    // characters; a word piece covers at least one character, so each run fits.
    let mut start = span.start;
    let mut chars = 0;
    for (i, _) in slice.char_indices() {
        if chars == budget {
            let run = start..span.start + i;
            out.push(Unit {
                pieces: counter.count(&text[run.clone()]),
                span: run,
            });
            start = span.start + i;
            chars = 0;
        }
        chars += 1;
    }
    if start < span.end {
        let pieces = counter.count(&text[start..span.end]).min(budget);
        out.push(Unit {
            span: start..span.end,
            pieces,
        });
    }
}

/// The end of a chunk to repeat at the start of the next: whole trailing units while they fit
/// in `budget` pieces, then the trailing sentences (or, failing that, words) of the unit that
/// does not fit whole.
fn overlap_tail(
    text: &str,
    units: &[Unit],
    counter: &dyn PieceCounter,
    budget: usize,
) -> Vec<Unit> {
    let mut tail: Vec<Unit> = Vec::new();
    let mut pieces = 0usize;
    for unit in units.iter().rev() {
        if pieces + unit.pieces <= budget {
            pieces += unit.pieces;
            tail.push(unit.clone());
            continue;
        }
        let mut parts = Vec::new();
        split_unit(text, unit.span.clone(), counter, budget.max(1), &mut parts);
        for part in parts.into_iter().rev() {
            if pieces + part.pieces > budget {
                break;
            }
            pieces += part.pieces;
            tail.push(part);
        }
        break;
    }
    if tail.len() >= units.len() && tail.len() > 1 {
        // Never repeat a whole chunk: keep at least its first unit out.
        tail.truncate(units.len() - 1);
    }
    tail.reverse();
    tail
}

pub(crate) fn hex_sha256(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Chunks each section (`text[range]` under its heading path) in turn, so a chunk never
/// straddles two sections, and gives every chunk its id.
pub(crate) fn chunk_sections(
    document_id: &str,
    text: &str,
    sections: impl IntoIterator<Item = (Range<usize>, Vec<String>)>,
    counter: &dyn PieceCounter,
    config: ChunkConfig,
) -> Vec<Chunk> {
    let mut chunks = Vec::new();
    for (range, path) in sections {
        chunk_range(
            document_id,
            text,
            range,
            &path,
            counter,
            config,
            &mut chunks,
        );
    }
    assign_ids(&mut chunks);
    chunks
}

/// Chunks `text[range]`, appending to `chunks` with ordinals continuing from its length.
fn chunk_range(
    document_id: &str,
    text: &str,
    range: Range<usize>,
    heading_path: &[String],
    counter: &dyn PieceCounter,
    config: ChunkConfig,
    chunks: &mut Vec<Chunk>,
) {
    let config = config.sanitized();
    let context = heading_path.join(CONTEXT_SEPARATOR);
    let mut units = Vec::new();
    for paragraph in paragraphs(text, range) {
        split_unit(text, paragraph, counter, config.max_pieces, &mut units);
    }
    let mut current: Vec<Unit> = Vec::new();
    let mut current_pieces = 0usize;
    let emit = |units: &[Unit], chunks: &mut Vec<Chunk>| {
        let (Some(first), Some(last)) = (units.first(), units.last()) else {
            return;
        };
        let span = first.span.start..last.span.end;
        let chunk_text = text[span.clone()].to_string();
        chunks.push(Chunk {
            id: String::new(),
            document_id: document_id.to_string(),
            ordinal: chunks.len() as u32,
            sha256: hex_sha256(&hashed_text(&context, &chunk_text)),
            // Counted on the final text: exact even where a giant word was cut into runs.
            pieces: counter.count(&chunk_text),
            text: chunk_text,
            span,
            heading_path: heading_path.to_vec(),
            context: context.clone(),
        });
    };
    for unit in units {
        if !current.is_empty() && current_pieces + unit.pieces > config.max_pieces {
            emit(&current, chunks);
            current = overlap_tail(text, &current, counter, config.overlap_pieces);
            current_pieces = current.iter().map(|u| u.pieces).sum();
            if current_pieces + unit.pieces > config.max_pieces {
                current.clear();
                current_pieces = 0;
            }
        }
        current_pieces += unit.pieces;
        current.push(unit);
    }
    emit(&current, chunks);
}

/// Chunks the caller made themselves (one per text, with their own vectors), with ids assigned
/// the same way as the chunkers' so unchanged text keeps its id across re-ingests.
pub fn caller_chunks(document_id: &str, texts: &[&str]) -> Vec<Chunk> {
    let mut offset = 0;
    let mut chunks: Vec<Chunk> = texts
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let span = offset..offset + text.len();
            offset = span.end;
            Chunk {
                id: String::new(),
                document_id: document_id.to_string(),
                ordinal: i as u32,
                text: text.to_string(),
                span,
                pieces: 0,
                sha256: hex_sha256(text),
                heading_path: Vec::new(),
                context: String::new(),
            }
        })
        .collect();
    assign_ids(&mut chunks);
    chunks
}

/// Gives every chunk its id: `{document_id}#{sha256[..16]}`, suffixed for repeated text.
fn assign_ids(chunks: &mut [Chunk]) {
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for chunk in chunks.iter_mut() {
        let base = format!("{}#{}", chunk.document_id, &chunk.sha256[..16]);
        let n = seen.entry(base.clone()).or_insert(0);
        *n += 1;
        chunk.id = if *n == 1 { base } else { format!("{base}-{n}") };
    }
}

/// Chunks plain text.
pub fn chunk_text(
    document_id: &str,
    text: &str,
    counter: &dyn PieceCounter,
    config: ChunkConfig,
) -> Vec<Chunk> {
    chunk_sections(
        document_id,
        text,
        [(0..text.len(), Vec::new())],
        counter,
        config,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::WordCounter;

    const SMALL: ChunkConfig = ChunkConfig {
        max_pieces: 20,
        overlap_pieces: 5,
    };

    #[test]
    fn short_text_is_one_chunk_with_its_exact_span_and_hash() {
        let text = "  Hello there.\n\nSecond paragraph.  \n";
        let chunks = chunk_text("d", text, &WordCounter, ChunkConfig::default());
        assert_eq!(chunks.len(), 1);
        let c = &chunks[0];
        assert_eq!(&text[c.span.clone()], c.text);
        assert_eq!(c.text, "Hello there.\n\nSecond paragraph.");
        assert_eq!(c.sha256, hex_sha256(&c.text));
        assert_eq!(c.id, format!("d#{}", &c.sha256[..16]));
        assert_eq!(
            c.pieces, 7,
            "`paragraph` counts two pieces under WordCounter"
        );
    }

    #[test]
    fn paragraphs_pack_up_to_the_budget_and_never_exceed_it() {
        let text = (0..12)
            .map(|i| format!("Paragraph {i} has exactly six words."))
            .collect::<Vec<_>>()
            .join("\n\n");
        let chunks = chunk_text("d", &text, &WordCounter, SMALL);
        assert!(chunks.len() > 3);
        for (i, c) in chunks.iter().enumerate() {
            assert!(c.pieces <= 20, "chunk {i} has {} pieces", c.pieces);
            assert_eq!(WordCounter.count(&c.text), c.pieces);
            assert_eq!(&text[c.span.clone()], c.text);
            assert_eq!(c.ordinal as usize, i);
        }
    }

    #[test]
    fn consecutive_chunks_overlap_by_whole_units_within_the_overlap_budget() {
        let text = (0..30)
            .map(|i| format!("Sentence {i}."))
            .collect::<Vec<_>>()
            .join(" ");
        let chunks = chunk_text("d", &text, &WordCounter, SMALL);
        for pair in chunks.windows(2) {
            let overlap = pair[0].span.end.saturating_sub(pair[1].span.start);
            assert!(pair[1].span.start < pair[0].span.end, "chunks must overlap");
            assert!(
                WordCounter.count(&text[pair[1].span.start..pair[0].span.end]) <= 5,
                "overlap {overlap} bytes"
            );
        }
        let covered_end = chunks.last().unwrap().span.end;
        assert_eq!(covered_end, text.len(), "the whole text is covered");
    }

    #[test]
    fn long_sentences_fall_back_to_words_and_giant_words_to_characters() {
        let sentence = (0..50)
            .map(|i| format!("w{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        let chunks = chunk_text("d", &sentence, &WordCounter, SMALL);
        assert!(chunks.len() >= 3);
        assert!(chunks.iter().all(|c| c.pieces <= 20));
        let blob = "x".repeat(500);
        let chunks = chunk_text("d", &blob, &WordCounter, SMALL);
        assert!(
            chunks
                .iter()
                .all(|c| c.pieces <= 20 && c.pieces == WordCounter.count(&c.text))
        );
        assert_eq!(chunks.last().unwrap().span.end, 500);
        assert_eq!(chunks[0].span.start, 0);
    }

    #[test]
    fn repeated_text_gets_distinct_ids_and_empty_text_no_chunks() {
        let text = "Same words are here again.\n\nSame words are here again.";
        let chunks = chunk_text(
            "doc",
            text,
            &WordCounter,
            ChunkConfig {
                max_pieces: 8,
                overlap_pieces: 0,
            },
        );
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks[1].id, format!("{}-2", chunks[0].id));
        assert!(chunk_text("doc", " \n\n \t", &WordCounter, SMALL).is_empty());
    }
}
