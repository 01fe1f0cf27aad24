//! Reading request bodies: size limits (413), content types (415), and JSON whose errors name
//! the field (`documents[3].vector`) — malformed JSON is 400, well-formed but wrong is 422.

use axum::{
    body::Bytes,
    extract::{FromRequest, Request},
    http::{StatusCode, header},
};
use serde::de::DeserializeOwned;

use crate::problem::ApiError;

pub(crate) fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body-too-large",
        "The request body is too large",
        format!(
            "the body exceeds the limit of {limit} bytes (SNAPKB_MAX_BODY_BYTES; SNAPKB_MAX_IMPORT_BYTES for imports)"
        ),
    )
}

/// How much of an oversized body is read and thrown away before answering 413, so a client
/// that is still sending gets to read the answer instead of a reset connection.
pub(crate) const DRAIN_BYTES: usize = 256 << 20;

/// Reads a body of at most `limit` bytes (413 above it, after draining what the client sends).
pub(crate) async fn read_body(req: Request, limit: usize) -> Result<Bytes, ApiError> {
    use futures::StreamExt;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let mut over = declared.is_some_and(|n| n > limit);
    let mut stream = req.into_body().into_data_stream();
    let mut buf = bytes::BytesMut::new();
    let mut seen = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::malformed(format!("reading the body failed: {e}")))?;
        seen += chunk.len();
        if !over && buf.len() + chunk.len() > limit {
            over = true;
            buf = bytes::BytesMut::new();
        }
        if over {
            if seen > DRAIN_BYTES {
                break;
            }
            continue;
        }
        buf.extend_from_slice(&chunk);
    }
    if over {
        return Err(too_large(limit));
    }
    Ok(buf.freeze())
}

/// Parses JSON, naming the path of the first bad value.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Fast path; the path-tracking parser runs only to explain an error.
    if let Ok(value) = serde_json::from_slice(bytes) {
        return Ok(value);
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() || inner.is_io() {
            ApiError::malformed(format!("malformed JSON: {inner}"))
        } else {
            let field = if path == "." {
                "body".to_string()
            } else {
                path
            };
            ApiError::invalid(field, inner.to_string())
        }
    })?;
    de.end()
        .map_err(|e| ApiError::malformed(format!("malformed JSON: {e}")))?;
    Ok(value)
}

pub(crate) fn is_json(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|ct| {
        let mime = ct.split(';').next().unwrap_or_default().trim();
        mime.eq_ignore_ascii_case("application/json")
            || mime.to_ascii_lowercase().ends_with("+json")
    })
}

pub(crate) fn unsupported_type(got: Option<&str>) -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported-media-type",
        "Unsupported content type",
        format!(
            "expected application/json, got {}",
            got.unwrap_or("nothing")
        ),
    )
    .with_field("content-type")
}

/// A JSON request body of type `T`, read within `SNAPKB_MAX_BODY_BYTES` and parsed with
/// errors naming the field. It is the last extractor of a handler, so the caller is admitted
/// (`Caller`) before a byte of the body is read: a caller without access learns nothing from
/// validation errors and costs no body buffer.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<crate::AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &crate::AppState) -> Result<Self, Self::Rejection> {
        let content_type = content_type(&req);
        if !is_json(content_type.as_deref()) {
            return Err(unsupported_type(content_type.as_deref()));
        }
        let bytes = read_body(req, state.engine.config().max_body_bytes).await?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// The request's `Content-Type`, if it is readable.
pub(crate) fn content_type(req: &Request) -> Option<String> {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Doc {
        id: String,
        vector: Vec<f32>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Batch {
        documents: Vec<Doc>,
    }

    #[test]
    fn errors_name_the_path_and_tell_malformed_from_invalid() {
        let e = parse_json::<Batch>(
            br#"{"documents":[{"id":"a","vector":[1]},{"id":"b","vector":["x"]}]}"#,
        )
        .unwrap_err();
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(e.field.as_deref(), Some("documents[1].vector[0]"));
        let e = parse_json::<Batch>(br#"{"documents":[{"id":"a","vector":[1],"extra":1}]}"#)
            .unwrap_err();
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(e.detail.contains("extra"), "{}", e.detail);
        let e = parse_json::<Batch>(br#"{"documents":["#).unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        let e = parse_json::<Batch>(b"{\"documents\":[]}\xff").unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
    }
}
