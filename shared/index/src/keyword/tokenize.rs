//! Tokenizer for BM25: Unicode word boundaries (UAX #29), lowercased. No stemming: exact word
//! forms keep keyword search predictable, and vector search covers paraphrase.

use unicode_segmentation::UnicodeSegmentation;

/// Tokens longer than this many bytes (hashes, base64 blobs) are dropped.
pub const MAX_TOKEN_BYTES: usize = 64;

/// The lowercased words of `text`, in order.
pub fn tokenize(text: &str) -> impl Iterator<Item = String> + '_ {
    text.unicode_words()
        .filter(|w| w.len() <= MAX_TOKEN_BYTES)
        .map(str::to_lowercase)
}

#[cfg(test)]
mod tests {
    use super::*;

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
