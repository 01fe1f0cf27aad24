//! Typed errors for index operations (search, insert) and for decoding snapshots and WAL segments.

use thiserror::Error;

/// Errors from building or searching an index. Every variant is caused by the caller's input or
/// by a limit; none of them leaves the index changed.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum IndexError {
    #[error("vector has {got} dimensions, the index expects {expected}")]
    DimensionMismatch { expected: usize, got: usize },
    #[error("vector component {position} is not a finite number")]
    NonFiniteValue { position: usize },
    #[error("a zero vector has no direction and cannot be used with the cosine metric")]
    ZeroVector,
    #[error("k must be between 1 and {max}, got {got}")]
    InvalidK { got: usize, max: usize },
    #[error("invalid index parameter `{name}`: {reason}")]
    InvalidParameter { name: &'static str, reason: String },
    #[error("the index is full ({max} entries)")]
    Full { max: usize },
    #[error("id {id} is not in the index (len {len})")]
    UnknownId { id: u32, len: usize },
    #[error("chunk id `{0}` appears more than once")]
    DuplicateChunkId(String),
    #[error("vectors have {got} dimensions, the index expects {expected}")]
    IncompatibleIndex { expected: usize, got: usize },
}

/// Errors from decoding a snapshot or WAL segment. Corrupt or hostile bytes always produce one of
/// these; decoding never panics and never allocates more than the input justifies.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    #[error("input is {len} bytes, too short to be a {kind}")]
    TooShort { kind: &'static str, len: usize },
    #[error("checksum mismatch: the bytes are corrupt or truncated")]
    Checksum,
    #[error("not a {expected} (magic {found:?})")]
    WrongMagic {
        expected: &'static str,
        found: String,
    },
    #[error("unsupported {kind} format version {found} (this build reads {supported})")]
    UnsupportedVersion {
        kind: &'static str,
        found: u64,
        supported: u64,
    },
    #[error("malformed CBOR at byte {offset}: {reason}")]
    Cbor { offset: usize, reason: String },
    #[error("missing section `{0}`")]
    MissingSection(&'static str),
    #[error("section `{name}` appears more than once")]
    DuplicateSection { name: String },
    #[error("section `{section}` is invalid: {reason}")]
    InvalidSection {
        section: &'static str,
        reason: String,
    },
    #[error("header field `{field}` is invalid: {reason}")]
    InvalidHeader { field: &'static str, reason: String },
}

impl DecodeError {
    pub(crate) fn section(section: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidSection {
            section,
            reason: reason.into(),
        }
    }

    pub(crate) fn header(field: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidHeader {
            field,
            reason: reason.into(),
        }
    }
}
