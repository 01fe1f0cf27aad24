//! Incremental upsert planning: given what is stored for a document and its new chunks, decide
//! the least work. Pure: no storage, no model.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::Chunk;

/// What is stored about a document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentRecord {
    pub id: String,
    /// [`crate::SourceDocument::content_sha256`] of the stored version.
    pub content_sha256: String,
    /// Starts at 1 and grows by one per change.
    pub version: u64,
    /// Ids of the stored chunks, in order.
    pub chunk_ids: Vec<String>,
}

/// The decision for one document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpsertPlan {
    /// Same content as stored: nothing to embed, nothing to write, no new version.
    Unchanged { version: u64 },
    /// Write a new version.
    Write {
        version: u64,
        /// Whether the document did not exist before.
        created: bool,
        /// Indexes of new chunks whose text is new: only these are embedded.
        embed: Vec<usize>,
        /// New chunks whose text is already stored (same chunk id): their vectors are reused,
        /// their records rewritten (metadata or position may have changed).
        reuse: Vec<usize>,
        /// Stored chunk ids that the new version no longer has.
        tombstone: Vec<String>,
    },
}

impl UpsertPlan {
    /// Chunks that need the model.
    pub fn embed_count(&self) -> usize {
        match self {
            UpsertPlan::Unchanged { .. } => 0,
            UpsertPlan::Write { embed, .. } => embed.len(),
        }
    }
}

/// Plans an upsert of a document whose new content hashes to `content_sha256` and chunks into
/// `chunks` (ids from the chunkers: equal text, equal id).
pub fn plan_upsert(
    previous: Option<&DocumentRecord>,
    content_sha256: &str,
    chunks: &[Chunk],
) -> UpsertPlan {
    let Some(previous) = previous else {
        return UpsertPlan::Write {
            version: 1,
            created: true,
            embed: (0..chunks.len()).collect(),
            reuse: Vec::new(),
            tombstone: Vec::new(),
        };
    };
    if previous.content_sha256 == content_sha256 {
        return UpsertPlan::Unchanged {
            version: previous.version,
        };
    }
    let stored: HashSet<&str> = previous.chunk_ids.iter().map(String::as_str).collect();
    let (reuse, embed): (Vec<usize>, Vec<usize>) =
        (0..chunks.len()).partition(|&i| stored.contains(chunks[i].id.as_str()));
    let kept: HashSet<&str> = chunks.iter().map(|c| c.id.as_str()).collect();
    let tombstone = previous
        .chunk_ids
        .iter()
        .filter(|id| !kept.contains(id.as_str()))
        .cloned()
        .collect();
    UpsertPlan::Write {
        version: previous.version + 1,
        created: false,
        embed,
        reuse,
        tombstone,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ChunkConfig, WordCounter, chunk_markdown, parse_document};

    const V1: &str = "# Guide\n\nIntro paragraph.\n\n## Install\n\nRun the installer.\n\n## Use\n\nQuery things.\n";

    fn plan(
        previous: Option<&DocumentRecord>,
        id: &str,
        text: &str,
    ) -> (UpsertPlan, DocumentRecord) {
        let doc = parse_document(Some(id), "text/markdown", text.as_bytes()).unwrap();
        let chunks = chunk_markdown(id, text, &WordCounter, ChunkConfig::default());
        let plan = plan_upsert(previous, &doc.content_sha256(), &chunks);
        let version = match &plan {
            UpsertPlan::Unchanged { version } | UpsertPlan::Write { version, .. } => *version,
        };
        let record = DocumentRecord {
            id: id.into(),
            content_sha256: doc.content_sha256(),
            version,
            chunk_ids: chunks.iter().map(|c| c.id.clone()).collect(),
        };
        (plan, record)
    }

    #[test]
    fn a_new_document_embeds_every_chunk() {
        let (p, record) = plan(None, "guide", V1);
        assert_eq!(
            p,
            UpsertPlan::Write {
                version: 1,
                created: true,
                embed: vec![0, 1, 2],
                reuse: vec![],
                tombstone: vec![]
            }
        );
        assert_eq!(record.chunk_ids.len(), 3);
    }

    #[test]
    fn an_unchanged_document_embeds_nothing_and_keeps_its_version() {
        let (_, record) = plan(None, "guide", V1);
        let (p, _) = plan(Some(&record), "guide", V1);
        assert_eq!(p, UpsertPlan::Unchanged { version: 1 });
        assert_eq!(p.embed_count(), 0);
    }

    #[test]
    fn an_edited_paragraph_embeds_only_its_chunk() {
        let (_, record) = plan(None, "guide", V1);
        let edited = V1.replace("Run the installer.", "Run the new installer.");
        let (p, _) = plan(Some(&record), "guide", &edited);
        let UpsertPlan::Write {
            version,
            embed,
            reuse,
            tombstone,
            created,
        } = p
        else {
            panic!("expected a write")
        };
        assert_eq!((version, created), (2, false));
        assert_eq!(embed, vec![1]);
        assert_eq!(reuse, vec![0, 2]);
        assert_eq!(tombstone, vec![record.chunk_ids[1].clone()]);
    }

    #[test]
    fn a_deleted_section_only_tombstones() {
        let (_, record) = plan(None, "guide", V1);
        let shorter = V1.replace("## Use\n\nQuery things.\n", "");
        let (p, _) = plan(Some(&record), "guide", &shorter);
        let UpsertPlan::Write {
            embed,
            reuse,
            tombstone,
            ..
        } = p
        else {
            panic!("expected a write")
        };
        assert!(embed.is_empty());
        assert_eq!(reuse, vec![0, 1]);
        assert_eq!(tombstone, vec![record.chunk_ids[2].clone()]);
    }

    #[test]
    fn a_renamed_document_is_new_under_its_new_id() {
        let (_, old) = plan(None, "guide", V1);
        let (p, renamed) = plan(None, "handbook", V1);
        assert_eq!(
            p.embed_count(),
            3,
            "chunk ids carry the document id, so nothing is shared"
        );
        assert!(
            renamed
                .chunk_ids
                .iter()
                .all(|id| id.starts_with("handbook#"))
        );
        assert!(
            old.chunk_ids
                .iter()
                .all(|id| !renamed.chunk_ids.contains(id))
        );
    }
}
