//! Counting model word pieces, the unit chunk sizes are measured in.

/// Counts the word pieces a text becomes (without the model's special tokens).
pub trait PieceCounter: Send + Sync {
    fn count(&self, text: &str) -> usize;
}

/// An approximate counter for builds without the tokenizer (edge functions): one piece per
/// Unicode word or punctuation mark, plus one per 6 bytes of words longer than 6 bytes, since
/// WordPiece splits long and rare words. Tests of chunk layout use it too.
#[derive(Debug, Default, Clone, Copy)]
pub struct WordCounter;

impl PieceCounter for WordCounter {
    fn count(&self, text: &str) -> usize {
        use unicode_segmentation::UnicodeSegmentation;
        text.split_word_bounds()
            .filter(|w| !w.trim().is_empty())
            .map(|w| 1 + w.len().saturating_sub(1) / 6)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_counter_counts_words_and_punctuation() {
        assert_eq!(WordCounter.count("Hello, world!"), 4);
        assert_eq!(WordCounter.count("   "), 0);
        assert_eq!(WordCounter.count("antidisestablishmentarianism"), 5);
    }
}
