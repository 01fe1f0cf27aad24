//! Chunk boundaries on real markdown and HTML samples (tests/fixtures/samples), with the real
//! tokenizer, against the expected chunks committed next to them, and the invariants every
//! chunk must keep.
#![cfg(feature = "model")]

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use snapkb_embed::{
    ChunkConfig, MiniLm, PieceCounter, TokenizerCounter, chunk_document, parse_document,
};

fn counter() -> &'static TokenizerCounter {
    static COUNTER: OnceLock<TokenizerCounter> = OnceLock::new();
    COUNTER.get_or_init(|| {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/all-MiniLM-L6-v2");
        MiniLm::load(&dir)
            .unwrap_or_else(|e| panic!("{e}"))
            .piece_counter()
    })
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Expected {
    span: (usize, usize),
    pieces: usize,
    heading_path: Vec<String>,
    starts_with: String,
}

const SAMPLES: [(&str, &str); 2] = [
    ("operations.md", "text/markdown"),
    ("billing.html", "text/html"),
];
const CONFIG: ChunkConfig = ChunkConfig {
    max_pieces: 128,
    overlap_pieces: 24,
};

fn fixture_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/samples")
}

fn chunk(name: &str, content_type: &str) -> Vec<snapkb_embed::Chunk> {
    let body = std::fs::read(fixture_dir().join(name)).unwrap();
    let doc = parse_document(Some(name.split('.').next().unwrap()), content_type, &body).unwrap();
    chunk_document(&doc, counter(), CONFIG)
}

fn summarize(chunks: &[snapkb_embed::Chunk]) -> Vec<Expected> {
    chunks
        .iter()
        .map(|c| Expected {
            span: (c.span.start, c.span.end),
            pieces: c.pieces,
            heading_path: c.heading_path.clone(),
            starts_with: c.text.chars().take(40).collect(),
        })
        .collect()
}

#[test]
fn samples_chunk_to_the_committed_boundaries() {
    for (name, content_type) in SAMPLES {
        let expected: Vec<Expected> = serde_json::from_slice(
            &std::fs::read(fixture_dir().join(format!("{name}.chunks.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(summarize(&chunk(name, content_type)), expected, "{name}");
    }
}

#[test]
fn sample_chunks_fit_the_model_overlap_within_budget_and_stay_in_their_section() {
    for (name, content_type) in SAMPLES {
        let chunks = chunk(name, content_type);
        assert!(chunks.len() >= 4, "{name}: {} chunks", chunks.len());
        for (i, c) in chunks.iter().enumerate() {
            assert!(
                c.pieces <= CONFIG.max_pieces,
                "{name} chunk {i}: {} pieces",
                c.pieces
            );
            assert_eq!(
                counter().count(&c.text),
                c.pieces,
                "{name} chunk {i}: recorded pieces are exact"
            );
            assert_eq!(c.ordinal as usize, i);
        }
        for pair in chunks.windows(2) {
            if pair[0].heading_path == pair[1].heading_path {
                assert!(
                    pair[1].span.start < pair[0].span.end,
                    "{name}: chunks of one section must overlap"
                );
                let shared = &pair[0].text[pair[1].span.start - pair[0].span.start..];
                assert!(
                    counter().count(shared) <= CONFIG.overlap_pieces,
                    "{name}: overlap {shared:?}"
                );
                assert!(counter().count(shared) > 0);
            } else {
                assert!(
                    pair[1].span.start >= pair[0].span.end,
                    "{name}: chunks of different sections overlap"
                );
            }
        }
    }
}

/// Rewrites the expected chunks after a deliberate change to the chunkers:
/// `cargo test -p snapkb-embed --test chunk_fixtures -- --ignored`
#[test]
#[ignore = "writes the committed expectations"]
fn write_expected_chunks() {
    for (name, content_type) in SAMPLES {
        let json = serde_json::to_string_pretty(&summarize(&chunk(name, content_type))).unwrap();
        std::fs::write(
            fixture_dir().join(format!("{name}.chunks.json")),
            json + "\n",
        )
        .unwrap();
    }
}
