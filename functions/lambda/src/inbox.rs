//! The s3-trigger function's handler: each S3 ObjectCreated record under
//! `inbox/{project}/{path}` becomes the document `{path}` of `{project}` (format by extension),
//! and the inbox object is deleted once the ingest has committed. A failed record fails the
//! invocation, so Lambda retries it and then hands the event to the DLQ; the object stays in
//! the inbox. Re-ingesting the same bytes is a no-op, so retries are safe.

use aws_lambda_events::event::s3::{S3Event, S3EventRecord};
use percent_encoding::percent_decode_str;
use serde_json::{Map, Value, json};
use snapkb_core::Principal;
use snapkb_embed::TextFormat;
use snapkb_engine::{DocumentInput, IngestRequest};
use snapkb_store::ObjectStore;

use crate::Function;

pub const INBOX_PREFIX: &str = "inbox/";

/// Why a record was not ingested.
#[derive(Debug, thiserror::Error)]
pub enum InboxError {
    #[error("{key}: not under inbox/{{project}}/")]
    NotInInbox { key: String },
    #[error("{key}: the event is for bucket {bucket}, this function serves {serves}")]
    OtherBucket {
        key: String,
        bucket: String,
        serves: String,
    },
    #[error("{key}: unsupported file type (use .md, .txt or .html)")]
    UnsupportedType { key: String },
    #[error("{key}: not UTF-8 text")]
    NotText { key: String },
    #[error("{key}: {source}")]
    Store {
        key: String,
        source: snapkb_store::StoreError,
    },
    #[error("{key}: {source}")]
    Ingest {
        key: String,
        source: snapkb_engine::EngineError,
    },
}

/// An object key from an S3 event (URL-encoded, `+` for spaces) as stored.
fn decode_key(raw: &str) -> String {
    percent_decode_str(&raw.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// `inbox/{project}/{path}` → (project, path).
fn split_inbox_key(key: &str) -> Option<(&str, &str)> {
    let (project, path) = key.strip_prefix(INBOX_PREFIX)?.split_once('/')?;
    (!project.is_empty() && !path.is_empty()).then_some((project, path))
}

async fn ingest_record(function: &Function, record: &S3EventRecord) -> Result<Value, InboxError> {
    let key = decode_key(record.s3.object.key.as_deref().unwrap_or_default());
    let bucket = record.s3.bucket.name.clone().unwrap_or_default();
    let serves = function.settings.aws.bucket.clone().unwrap_or_default();
    if bucket != serves {
        return Err(InboxError::OtherBucket {
            key,
            bucket,
            serves,
        });
    }
    let Some((project, path)) = split_inbox_key(&key) else {
        return Err(InboxError::NotInInbox { key });
    };
    let format = std::path::Path::new(path)
        .extension()
        .and_then(|e| e.to_str())
        .and_then(TextFormat::from_extension)
        .ok_or_else(|| InboxError::UnsupportedType { key: key.clone() })?;
    let objects = &function.stores.objects;
    let body = objects
        .get(&key)
        .await
        .map_err(|source| InboxError::Store {
            key: key.clone(),
            source,
        })?;
    let text =
        String::from_utf8(body.to_vec()).map_err(|_| InboxError::NotText { key: key.clone() })?;
    let mut metadata = Map::new();
    metadata.insert("source".into(), json!(format!("s3://{bucket}/{key}")));
    let response = function
        .engine
        .ingest(
            &Principal::DeploymentAdmin,
            project,
            IngestRequest {
                documents: vec![DocumentInput {
                    id: path.to_string(),
                    text: Some(text),
                    format: Some(format),
                    metadata,
                    ..Default::default()
                }],
            },
        )
        .await
        .map_err(|source| InboxError::Ingest {
            key: key.clone(),
            source,
        })?;
    // Only after the commit: a crash before this line leaves the object for the retry.
    objects
        .delete(&key)
        .await
        .map_err(|source| InboxError::Store {
            key: key.clone(),
            source,
        })?;
    tracing::info!(
        project,
        document = path,
        version = response.version,
        "ingested from the inbox"
    );
    Ok(json!({ "key": key, "project": project, "document": path, "version": response.version }))
}

/// Ingests every record; fails the invocation if any failed (after trying all of them).
pub async fn handle(function: &Function, event: S3Event) -> Result<Value, lambda_runtime::Error> {
    let mut done = Vec::new();
    let mut failed = Vec::new();
    for record in &event.records {
        match ingest_record(function, record).await {
            Ok(v) => done.push(v),
            Err(e) => {
                tracing::error!(error = %e, "inbox record failed");
                failed.push(e.to_string());
            }
        }
    }
    function.pending.flush().await;
    if !failed.is_empty() {
        return Err(failed.join("; ").into());
    }
    Ok(json!({ "ingested": done }))
}

pub async fn run() -> Result<(), lambda_runtime::Error> {
    crate::serve_events("s3-trigger", true, |function, event: S3Event| async move {
        handle(&function, event).await
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_keys_are_url_decoded() {
        assert_eq!(
            decode_key("inbox/kb/notes/caf%C3%A9+menu.md"),
            "inbox/kb/notes/café menu.md"
        );
    }

    #[test]
    fn inbox_keys_split_into_project_and_path() {
        assert_eq!(split_inbox_key("inbox/kb/a/b.md"), Some(("kb", "a/b.md")));
        assert_eq!(split_inbox_key("inbox/kb/"), None);
        assert_eq!(split_inbox_key("inbox//x.md"), None);
        assert_eq!(split_inbox_key("projects/kb/x.md"), None);
    }
}
