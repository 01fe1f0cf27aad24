//! Reading documents: content types (text/plain, text/markdown, text/html, JSON documents),
//! UTF-8 and field validation, the content hash, and dispatch to the right chunker.

use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::{
    Chunk, ChunkConfig, DocumentError, PieceCounter, chunk::chunk_sections, chunk_markdown,
    chunk_text, html_text,
};

/// How a document's text is structured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TextFormat {
    Plain,
    Markdown,
    Html,
}

impl TextFormat {
    /// The format of a file by its extension (`md`, `html`, `txt`, …), if it is one snapkb
    /// reads: how the CLI and the S3 inbox tell a file's format.
    pub fn from_extension(extension: &str) -> Option<Self> {
        match extension.to_ascii_lowercase().as_str() {
            "md" | "markdown" | "mdx" => Some(Self::Markdown),
            "txt" | "text" | "rst" | "adoc" => Some(Self::Plain),
            "html" | "htm" => Some(Self::Html),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Plain => "plain",
            Self::Markdown => "markdown",
            Self::Html => "html",
        }
    }
}

/// A supported request content type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentType {
    Text(TextFormat),
    /// `{id, text, metadata, tags, format}`
    Json,
}

impl ContentType {
    /// Parses a `Content-Type` value; a charset, if given, must be UTF-8.
    pub fn parse(value: &str) -> Result<Self, DocumentError> {
        let mut parts = value.split(';');
        let mime = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        for param in parts {
            if let Some((key, val)) = param.split_once('=') {
                let val = val.trim().trim_matches('"');
                if key.trim().eq_ignore_ascii_case("charset")
                    && !val.eq_ignore_ascii_case("utf-8")
                    && !val.eq_ignore_ascii_case("utf8")
                {
                    return Err(DocumentError::UnsupportedCharset(val.to_string()));
                }
            }
        }
        match mime.as_str() {
            "text/plain" => Ok(Self::Text(TextFormat::Plain)),
            "text/markdown" | "text/x-markdown" => Ok(Self::Text(TextFormat::Markdown)),
            "text/html" | "application/xhtml+xml" => Ok(Self::Text(TextFormat::Html)),
            "application/json" => Ok(Self::Json),
            _ => Err(DocumentError::UnsupportedType(value.trim().to_string())),
        }
    }
}

/// A document ready to chunk.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceDocument {
    pub id: String,
    pub text: String,
    pub format: TextFormat,
    /// Scalar values (string, number, boolean) or lists of them.
    pub metadata: Map<String, Value>,
    pub tags: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonDocument {
    id: Option<String>,
    text: Option<String>,
    #[serde(default)]
    metadata: Map<String, Value>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    format: Option<TextFormat>,
}

/// The longest document id accepted, in bytes.
pub const MAX_ID_BYTES: usize = 256;

/// A document id: 1–256 bytes, no `#` (it separates chunk ids) and no control characters.
pub fn check_id(id: &str) -> Result<(), DocumentError> {
    let invalid = |reason: &str| {
        Err(DocumentError::InvalidField {
            field: "id",
            reason: reason.to_string(),
        })
    };
    if id.is_empty() {
        return invalid("must not be empty");
    }
    if id.len() > MAX_ID_BYTES {
        return invalid("must be at most 256 bytes");
    }
    if id.contains('#') || id.chars().any(char::is_control) {
        return invalid("must not contain `#` or control characters");
    }
    Ok(())
}

fn check_metadata(metadata: &Map<String, Value>) -> Result<(), DocumentError> {
    let scalar = |v: &Value| matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_));
    for (key, value) in metadata {
        let ok = scalar(value) || matches!(value, Value::Array(items) if items.iter().all(scalar));
        if !ok {
            return Err(DocumentError::InvalidField {
                field: "metadata",
                reason: format!("`{key}` must be a string, number, boolean or a list of those"),
            });
        }
    }
    Ok(())
}

fn utf8(body: &[u8]) -> Result<&str, DocumentError> {
    std::str::from_utf8(body).map_err(|e| DocumentError::InvalidUtf8 {
        offset: e.valid_up_to(),
    })
}

/// Reads a document body. For text types `id` must be given (from the URL or the file name);
/// a JSON document may carry its own, which must then agree with `id` if both are present.
pub fn parse_document(
    id: Option<&str>,
    content_type: &str,
    body: &[u8],
) -> Result<SourceDocument, DocumentError> {
    let doc = match ContentType::parse(content_type)? {
        ContentType::Text(format) => SourceDocument {
            id: id.ok_or(DocumentError::MissingField("id"))?.to_string(),
            text: utf8(body)?.to_string(),
            format,
            metadata: Map::new(),
            tags: Vec::new(),
        },
        ContentType::Json => {
            let parsed: JsonDocument = serde_json::from_str(utf8(body)?)
                .map_err(|e| DocumentError::InvalidJson(e.to_string()))?;
            let id = match (id, parsed.id) {
                (Some(a), Some(b)) if a != b => {
                    return Err(DocumentError::InvalidField {
                        field: "id",
                        reason: format!("`{b}` in the body differs from `{a}` in the request"),
                    });
                }
                (Some(a), _) => a.to_string(),
                (None, Some(b)) => b,
                (None, None) => return Err(DocumentError::MissingField("id")),
            };
            SourceDocument {
                id,
                text: parsed.text.ok_or(DocumentError::MissingField("text"))?,
                format: parsed.format.unwrap_or(TextFormat::Plain),
                metadata: parsed.metadata,
                tags: parsed.tags,
            }
        }
    };
    validate_document(&doc)?;
    Ok(doc)
}

/// Checks a document built by the caller: id, metadata values, tags.
pub fn validate_document(doc: &SourceDocument) -> Result<(), DocumentError> {
    check_id(&doc.id)?;
    check_metadata(&doc.metadata)?;
    if let Some(tag) = doc.tags.iter().find(|t| t.is_empty() || t.len() > 128) {
        return Err(DocumentError::InvalidField {
            field: "tags",
            reason: format!("`{tag}` must be 1 to 128 bytes"),
        });
    }
    Ok(())
}

impl SourceDocument {
    /// SHA-256 over everything that shapes the stored chunks: format, text, metadata (keys
    /// sorted) and tags. Equal hashes mean a re-ingest has nothing to do.
    pub fn content_sha256(&self) -> String {
        let canonical = serde_json::json!({
            "format": self.format,
            "text": self.text,
            "metadata": self.metadata,
            "tags": self.tags,
        });
        let bytes = serde_json::to_vec(&canonical).unwrap_or_default();
        Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// Chunks a document with the chunker its format calls for. HTML chunks' spans refer to the
/// extracted text, not the markup.
pub fn chunk_document(
    doc: &SourceDocument,
    counter: &dyn PieceCounter,
    config: ChunkConfig,
) -> Vec<Chunk> {
    match doc.format {
        TextFormat::Plain => chunk_text(&doc.id, &doc.text, counter, config),
        TextFormat::Markdown => chunk_markdown(&doc.id, &doc.text, counter, config),
        TextFormat::Html => {
            let html = html_text(&doc.text);
            chunk_sections(&doc.id, &html.text, html.sections, counter, config)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::WordCounter;

    #[test]
    fn content_types_with_parameters_are_understood() {
        assert_eq!(
            ContentType::parse("text/markdown; charset=UTF-8").unwrap(),
            ContentType::Text(TextFormat::Markdown)
        );
        assert_eq!(
            ContentType::parse("Application/JSON").unwrap(),
            ContentType::Json
        );
        assert_eq!(
            ContentType::parse("application/pdf"),
            Err(DocumentError::UnsupportedType("application/pdf".into()))
        );
        assert_eq!(
            ContentType::parse("text/plain; charset=latin1"),
            Err(DocumentError::UnsupportedCharset("latin1".into()))
        );
    }

    #[test]
    fn json_documents_carry_id_metadata_and_tags() {
        let body = br#"{"id": "faq-1", "text": "Hi", "metadata": {"lang": "en", "year": 2024, "t": ["a", 1]}, "tags": ["faq"], "format": "markdown"}"#;
        let doc = parse_document(None, "application/json", body).unwrap();
        assert_eq!(doc.id, "faq-1");
        assert_eq!(doc.format, TextFormat::Markdown);
        assert_eq!(doc.tags, vec!["faq".to_string()]);
        assert_eq!(doc.metadata["year"], serde_json::json!(2024));
    }

    #[test]
    fn bad_documents_get_errors_naming_the_problem() {
        let json = "application/json";
        assert_eq!(
            parse_document(Some("a"), "text/plain", b"ok \xff"),
            Err(DocumentError::InvalidUtf8 { offset: 3 })
        );
        assert_eq!(
            parse_document(None, "text/plain", b"x"),
            Err(DocumentError::MissingField("id"))
        );
        assert_eq!(
            parse_document(None, json, br#"{"id": "a"}"#),
            Err(DocumentError::MissingField("text"))
        );
        assert!(matches!(
            parse_document(None, json, br#"{"id": "a", "text": "t", "extra": 1}"#),
            Err(DocumentError::InvalidJson(_))
        ));
        assert!(matches!(
            parse_document(None, json, b"{not json"),
            Err(DocumentError::InvalidJson(_))
        ));
        assert!(matches!(
            parse_document(Some("b"), json, br#"{"id": "a", "text": "t"}"#),
            Err(DocumentError::InvalidField { field: "id", .. })
        ));
        assert!(matches!(
            parse_document(
                None,
                json,
                br#"{"id": "a", "text": "t", "metadata": {"x": {"nested": 1}}}"#
            ),
            Err(DocumentError::InvalidField {
                field: "metadata",
                ..
            })
        ));
        assert!(matches!(
            parse_document(
                None,
                json,
                br#"{"id": "a", "text": "t", "metadata": {"x": null}}"#
            ),
            Err(DocumentError::InvalidField {
                field: "metadata",
                ..
            })
        ));
        assert!(matches!(
            parse_document(Some("a#b"), "text/plain", b"x"),
            Err(DocumentError::InvalidField { field: "id", .. })
        ));
        assert!(matches!(
            parse_document(Some(""), "text/plain", b"x"),
            Err(DocumentError::InvalidField { field: "id", .. })
        ));
        assert!(matches!(
            parse_document(None, json, br#"{"id": "a", "text": "t", "tags": [""]}"#),
            Err(DocumentError::InvalidField { field: "tags", .. })
        ));
    }

    #[test]
    fn content_hash_changes_with_text_metadata_and_tags_only() {
        let base = parse_document(Some("a"), "text/plain", b"hello").unwrap();
        let mut same = base.clone();
        assert_eq!(base.content_sha256(), same.content_sha256());
        same.tags.push("x".into());
        assert_ne!(base.content_sha256(), same.content_sha256());
        let mut meta = base.clone();
        meta.metadata.insert("k".into(), serde_json::json!(1));
        assert_ne!(base.content_sha256(), meta.content_sha256());
    }

    #[test]
    fn html_documents_are_chunked_by_their_headings() {
        let doc = parse_document(
            Some("h"),
            "text/html",
            b"<h1>Top</h1><p>Alpha.</p><h2>Sub</h2><p>Beta.</p>",
        )
        .unwrap();
        let chunks = chunk_document(&doc, &WordCounter, ChunkConfig::default());
        assert_eq!(chunks.len(), 2);
        assert_eq!(
            chunks[1].heading_path,
            vec!["Top".to_string(), "Sub".to_string()]
        );
        assert_eq!(chunks[1].text, "## Sub\n\nBeta.");
    }
}
