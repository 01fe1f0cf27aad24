//! The ingest function: add or replace documents (a JSON batch, or one raw text, markdown or
//! HTML document with `?id=`), delete a document, and the signed webhook.

use axum::{
    Json,
    extract::{Path, Request, State},
    http::{HeaderMap, header},
    response::Response,
};
use serde::Deserialize;
use snapkb_embed::TextFormat;
use snapkb_engine::{DocumentInput, IngestRequest, SIGNATURE_HEADER, TIMESTAMP_HEADER};

use super::params;
use crate::{
    AppState,
    auth::{enter, rated},
    body::{is_json, parse_json, read_body, unsupported_type},
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
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
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
    Path(project): Path<String>,
    req: Request,
) -> impl Future<Output = Result<Response, ApiError>> + Send {
    send(async move {
        let (principal, rate) = enter(&state, req.headers(), &project).await?;
        let request = ingest_request(req, state.engine.config().max_body_bytes).await?;
        let response = state.engine.ingest(&principal, &project, request).await?;
        Ok(rated(Json(response), rate))
    })
}

pub(crate) fn remove(
    State(state): State<AppState>,
    Path((project, document)): Path<(String, String)>,
    headers: HeaderMap,
) -> impl Future<Output = Result<Response, ApiError>> + Send {
    send(async move {
        let (principal, rate) = enter(&state, &headers, &project).await?;
        let response = state
            .engine
            .delete_document(&principal, &project, &document)
            .await?;
        Ok(rated(Json(response), rate))
    })
}

pub(crate) fn webhook(
    State(state): State<AppState>,
    Path(project): Path<String>,
    req: Request,
) -> impl Future<Output = Result<Response, ApiError>> + Send {
    send(async move {
        let headers = req.headers().clone();
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        if !is_json(header("content-type").as_deref()) {
            return Err(unsupported_type(header("content-type").as_deref()));
        }
        let body = read_body(req, state.engine.config().max_body_bytes).await?;
        let principal = state
            .engine
            .verify_webhook(
                &project,
                header(TIMESTAMP_HEADER).as_deref(),
                header(SIGNATURE_HEADER).as_deref(),
                &body,
            )
            .await?;
        let rate = state.engine.check_rate(&principal, &project).await?;
        let request: IngestRequest = parse_json(&body)?;
        let response = state.engine.ingest(&principal, &project, request).await?;
        Ok(rated(Json(response), rate))
    })
}
