//! The ingest function: add or replace documents (a JSON batch, or one raw text, markdown or
//! HTML document with `?id=`), delete a document, and the signed webhook.

use axum::{
    Json,
    extract::{Path, Request, State},
    response::IntoResponse,
};
use serde::Deserialize;
use snapkb_embed::TextFormat;
use snapkb_engine::{DocumentInput, IngestRequest, SIGNATURE_HEADER, TIMESTAMP_HEADER};

use super::params;
use crate::{
    AppState,
    body::{content_type, is_json, parse_json, read_body, unsupported_type},
    caller::{Caller, Rated},
    problem::ApiError,
    send::send,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDocumentParams {
    id: Option<String>,
}

fn text_format(content_type: &str) -> Option<TextFormat> {
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match mime.as_str() {
        "text/plain" => Some(TextFormat::Plain),
        "text/markdown" | "text/x-markdown" => Some(TextFormat::Markdown),
        "text/html" | "application/xhtml+xml" => Some(TextFormat::Html),
        _ => None,
    }
}

/// The body as an ingest request: JSON, or one raw document.
async fn ingest_request(req: Request, limit: usize) -> Result<IngestRequest, ApiError> {
    let content_type = content_type(&req);
    if is_json(content_type.as_deref()) {
        let bytes = read_body(req, limit).await?;
        return parse_json(&bytes);
    }
    let Some(format) = content_type.as_deref().and_then(text_format) else {
        return Err(unsupported_type(content_type.as_deref()));
    };
    let raw: RawDocumentParams = params(req.uri())?;
    let id = raw
        .id
        .ok_or_else(|| ApiError::invalid("id", "a raw document needs `?id=` in the URL"))?;
    let bytes = read_body(req, limit).await?;
    let text = String::from_utf8(bytes.to_vec()).map_err(|e| {
        ApiError::invalid(
            "body",
            format!(
                "the document is not valid UTF-8 (first invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        )
    })?;
    Ok(IngestRequest {
        documents: vec![DocumentInput {
            id,
            text: Some(text),
            format: Some(format),
            ..Default::default()
        }],
    })
}

pub(crate) fn ingest(
    State(state): State<AppState>,
    caller: Caller,
    req: Request,
) -> impl Future<Output = Result<impl IntoResponse, ApiError>> + Send {
    send(async move {
        let engine = &state.engine;
        let request = ingest_request(req, engine.config().max_body_bytes).await?;
        let response = engine
            .ingest(&caller.principal, caller.project(), request)
            .await?;
        Ok(caller.rated(Json(response)))
    })
}

fn header(req: &Request, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Signed webhooks carry no key: the signature covers the body, so it is read (within the
/// body limit) before the project's limits apply.
pub(crate) fn webhook(
    State(state): State<AppState>,
    Path(project): Path<String>,
    req: Request,
) -> impl Future<Output = Result<impl IntoResponse, ApiError>> + Send {
    send(async move {
        let engine = &state.engine;
        let timestamp = header(&req, TIMESTAMP_HEADER);
        let signature = header(&req, SIGNATURE_HEADER);
        let content_type = content_type(&req);
        if !is_json(content_type.as_deref()) {
            return Err(unsupported_type(content_type.as_deref()));
        }
        let body = read_body(req, engine.config().max_body_bytes).await?;
        let delivery = engine
            .verify_webhook(&project, timestamp.as_deref(), signature.as_deref(), &body)
            .await?;
        let rate = engine.check_rate(&delivery.principal, &project).await?;
        let request: IngestRequest = parse_json(&body)?;
        let response = engine.ingest_webhook(delivery, request).await?;
        Ok(Rated::new(Some(rate), Json(response)))
    })
}
