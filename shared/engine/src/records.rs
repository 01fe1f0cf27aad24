//! Stored records: the JSON of table items, fallible both ways. Writing never stores what it
//! could not encode, and reading rejects what does not parse as `Corrupt`, never served.

use serde::Serialize;
use snapkb_core::{ApiKey, Project};
use snapkb_store::Item;

use crate::EngineError;

/// `value` as the JSON bytes of a stored item (`what` names it in the error).
pub(crate) fn encode<T: Serialize + ?Sized>(what: &str, value: &T) -> Result<Vec<u8>, EngineError> {
    serde_json::to_vec(value)
        .map_err(|e| EngineError::Internal(format!("{what} cannot be encoded: {e}")))
}

/// `value` as a JSON value (operation-log details).
pub(crate) fn to_value<T: Serialize + ?Sized>(
    what: &str,
    value: &T,
) -> Result<serde_json::Value, EngineError> {
    serde_json::to_value(value)
        .map_err(|e| EngineError::Internal(format!("{what} cannot be encoded: {e}")))
}

pub(crate) fn parse_key(item: &Item) -> Result<ApiKey, EngineError> {
    serde_json::from_slice(&item.value)
        .map_err(|e| EngineError::Corrupt(format!("key {}: {e}", item.pk)))
}

pub(crate) fn parse_project(item: &Item) -> Result<Project, EngineError> {
    serde_json::from_slice(&item.value)
        .map_err(|e| EngineError::Corrupt(format!("project {}: {e}", item.sk)))
}
