//! Heading-aware markdown chunking: sections run from one heading to the next, a chunk never
//! straddles two sections, and each chunk carries the path of headings above it.

use std::ops::Range;

use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};

use crate::{Chunk, ChunkConfig, PieceCounter, chunk::chunk_sections};

/// How much of a heading a chunk carries in its heading path. Every chunk of a section holds
/// its whole path, so an unbounded heading would be copied into every chunk below it.
pub const MAX_HEADING_BYTES: usize = 256;

/// A heading as carried in paths: trimmed, cut to [`MAX_HEADING_BYTES`] at a character
/// boundary.
pub(crate) fn heading_text(text: &str) -> String {
    let text = text.trim();
    let mut end = text.len().min(MAX_HEADING_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

/// A section: its byte range (heading line included) and the heading path that leads to it.
#[expect(
    clippy::wildcard_enum_match_arm,
    reason = "only headings and their text shape sections; every other event is skipped"
)]
fn sections(source: &str) -> Vec<(Range<usize>, Vec<String>)> {
    let mut out: Vec<(Range<usize>, Vec<String>)> = Vec::new();
    let mut stack: Vec<(HeadingLevel, String)> = Vec::new();
    let mut section_start = 0usize;
    let mut section_path: Vec<String> = Vec::new();
    let mut heading: Option<(HeadingLevel, usize, String)> = None;
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    for (event, range) in Parser::new_ext(source, options).into_offset_iter() {
        match event {
            Event::Start(Tag::Heading { level, .. }) => {
                heading = Some((level, range.start, String::new()))
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some((_, _, text)) = heading.as_mut() {
                    text.push_str(&t);
                }
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some((level, start, text)) = heading.take() {
                    out.push((section_start..start, section_path.clone()));
                    while stack.last().is_some_and(|(l, _)| *l >= level) {
                        stack.pop();
                    }
                    stack.push((level, heading_text(&text)));
                    section_start = start;
                    section_path = stack.iter().map(|(_, t)| t.clone()).collect();
                }
            }
            _ => {}
        }
    }
    out.push((section_start..source.len(), section_path));
    out.retain(|(r, _)| !source[r.clone()].trim().is_empty());
    out
}

/// Chunks a markdown document section by section.
pub fn chunk_markdown(
    document_id: &str,
    source: &str,
    counter: &dyn PieceCounter,
    config: ChunkConfig,
) -> Vec<Chunk> {
    chunk_sections(document_id, source, sections(source), counter, config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::WordCounter;

    const DOC: &str = "Intro line before any heading.\n\n# Guide\n\nWelcome text.\n\n## Install\n\nRun the installer.\n\n```sh\n# not a heading\nmake install\n```\n\n## Use `snapkb`\n\nQuery things.\n\n# Appendix\n\nMore.\n";

    #[test]
    fn a_chunk_carries_its_heading_path_as_context_and_a_renamed_heading_gives_it_a_new_id() {
        let chunks = chunk_markdown("d", DOC, &WordCounter, ChunkConfig::default());
        assert_eq!(chunks[0].context, "", "text before any heading has none");
        assert_eq!(chunks[2].context, "Guide › Install");
        let renamed = DOC.replace("## Install", "## Setup");
        let again = chunk_markdown("d", &renamed, &WordCounter, ChunkConfig::default());
        assert_eq!(again[2].context, "Guide › Setup");
        assert_ne!(again[2].id, chunks[2].id, "indexed with another context");
        assert_eq!(
            again[3].id, chunks[3].id,
            "the sections around it keep theirs"
        );
    }

    #[test]
    fn sections_follow_headings_and_keep_their_path() {
        let chunks = chunk_markdown("d", DOC, &WordCounter, ChunkConfig::default());
        let paths: Vec<Vec<String>> = chunks.iter().map(|c| c.heading_path.clone()).collect();
        assert_eq!(
            paths,
            vec![
                vec![],
                vec!["Guide".to_string()],
                vec!["Guide".to_string(), "Install".to_string()],
                vec!["Guide".to_string(), "Use snapkb".to_string()],
                vec!["Appendix".to_string()],
            ]
        );
        assert!(chunks[2].text.starts_with("## Install"));
        assert!(
            chunks[2].text.contains("# not a heading"),
            "code blocks are not headings"
        );
        for c in &chunks {
            assert_eq!(&DOC[c.span.clone()], c.text);
        }
    }

    #[test]
    fn a_huge_heading_is_carried_cut_to_its_bound_in_every_path_below_it() {
        let huge = "é".repeat(10_000);
        let source = format!("# {huge}\n\nintro\n\n## a\n\ntext a\n\n## b\n\ntext b\n");
        let found = sections(&source);
        assert_eq!(found.len(), 3);
        for (_, path) in &found {
            assert!(path[0].len() <= MAX_HEADING_BYTES, "{}", path[0].len());
            assert!(
                path[0].len() > MAX_HEADING_BYTES - 2,
                "cut at a char boundary only"
            );
            assert!(path[0].chars().all(|c| c == 'é'));
        }
    }

    #[test]
    fn a_chunk_never_straddles_two_sections() {
        let long = (0..40)
            .map(|i| format!("Line {i} of the section."))
            .collect::<Vec<_>>()
            .join("\n\n");
        let doc = format!("# A\n\n{long}\n\n# B\n\n{long}\n");
        let chunks = chunk_markdown(
            "d",
            &doc,
            &WordCounter,
            ChunkConfig {
                max_pieces: 40,
                overlap_pieces: 8,
            },
        );
        let b_start = doc.find("# B").unwrap();
        for c in &chunks {
            assert!(
                c.span.end <= b_start || c.span.start >= b_start,
                "chunk {:?} crosses into B",
                c.span
            );
            assert!(c.pieces <= 40);
        }
        assert!(
            chunks
                .iter()
                .any(|c| c.heading_path == vec!["B".to_string()])
        );
    }
}
