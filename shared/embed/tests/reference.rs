//! all-MiniLM-L6-v2 in Rust against the reference vectors in tests/fixtures/reference_vectors.json
//! (made by reference/make_fixture.py, an independent NumPy forward pass over the same weights).
//! Needs the model: infra/dev/fetch-model.sh (CI runs it first).
#![cfg(feature = "model")]

use std::sync::OnceLock;

use serde::Deserialize;
use snapkb_embed::{EmbedError, Embedder, MINILM_DIMS, MiniLm, PieceCounter, default_model_dir};

#[derive(Deserialize)]
struct Fixture {
    sentences: Vec<Reference>,
}

#[derive(Deserialize)]
struct Reference {
    text: String,
    pieces: usize,
    truncated: bool,
    vector: Vec<f32>,
}

fn model() -> &'static MiniLm {
    static MODEL: OnceLock<MiniLm> = OnceLock::new();
    MODEL.get_or_init(|| {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(default_model_dir());
        MiniLm::load(&dir).unwrap_or_else(|e| panic!("{e}"))
    })
}

fn fixture() -> Fixture {
    serde_json::from_str(include_str!("fixtures/reference_vectors.json")).expect("fixture parses")
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}

#[test]
fn every_reference_sentence_matches_with_cosine_at_least_0_999() {
    let fixture = fixture();
    assert_eq!(fixture.sentences.len(), 30);
    let texts: Vec<&str> = fixture.sentences.iter().map(|s| s.text.as_str()).collect();
    let embedded = model().embed(&texts).unwrap();
    for (i, reference) in fixture.sentences.iter().enumerate() {
        let v = &embedded.vectors[i];
        assert_eq!(v.len(), MINILM_DIMS);
        let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!(
            (norm - 1.0).abs() < 1e-4,
            "sentence {i} not normalized: {norm}"
        );
        let cos = cosine(v, &reference.vector);
        assert!(
            cos >= 0.999,
            "sentence {i} {:?}: cosine {cos}",
            reference.text.chars().take(40).collect::<String>()
        );
        assert_eq!(
            embedded.pieces[i], reference.pieces,
            "sentence {i} piece count"
        );
        assert_eq!(
            embedded.truncated[i], reference.truncated,
            "sentence {i} truncation flag"
        );
    }
}

#[test]
fn batch_results_do_not_depend_on_batch_composition() {
    let fixture = fixture();
    let texts: Vec<&str> = fixture.sentences.iter().map(|s| s.text.as_str()).collect();
    let all = model().embed(&texts).unwrap();
    let one = model().embed(&texts[5..6]).unwrap();
    assert!(
        cosine(&all.vectors[5], &one.vectors[0]) > 0.99999,
        "padding must not change a vector"
    );
    assert!(model().embed(&[]).unwrap().vectors.is_empty());
}

#[test]
fn piece_counts_for_chunking_match_the_tokenizer() {
    let counter = model().piece_counter();
    for reference in fixture().sentences.iter().filter(|s| !s.truncated) {
        // The reference count includes [CLS] and [SEP].
        assert_eq!(
            counter.count(&reference.text) + 2,
            reference.pieces,
            "{:?}",
            reference.text
        );
    }
}

#[test]
fn a_missing_model_names_the_script_to_run() {
    let dir = std::env::temp_dir().join("snapkb-no-model-here");
    let err = MiniLm::load(&dir).unwrap_err();
    assert!(matches!(
        err,
        EmbedError::ModelMissing {
            file: "model.safetensors",
            ..
        }
    ));
    assert!(err.to_string().contains("infra/dev/fetch-model.sh"));
}
