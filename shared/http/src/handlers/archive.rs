//! The export function: export and import archives, versions, rollback and compaction.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use axum::{
    Json,
    extract::{Request, State},
    http::{HeaderValue, StatusCode, header},
    response::IntoResponse,
};
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use super::Params;
use crate::{
    AppState,
    body::{DRAIN_BYTES, read_body, too_large},
    caller::Caller,
    problem::ApiError,
    send::send,
};

/// How an export is handed over: the archive as the response body, or a link to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Delivery {
    Stream,
    Link,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExportParams {
    delivery: Option<Delivery>,
}

pub(crate) fn export(
    State(state): State<AppState>,
    caller: Caller,
    Params(p): Params<ExportParams>,
) -> impl Future<Output = Result<axum::response::Response, ApiError>> + Send {
    send(async move {
        let project = caller.project();
        let by_link = state.engine.exports_by_link();
        if p.delivery.unwrap_or(if by_link {
            Delivery::Link
        } else {
            Delivery::Stream
        }) == Delivery::Link
        {
            let link = state.engine.export_link(&caller.principal, project).await?;
            return Ok(caller.rated(Json(link)).into_response());
        }
        let archive = state
            .engine
            .export_stream(&caller.principal, project)
            .await?
            .map(|batch| {
                batch.map_err(|e| {
                    // The client sees the archive cut short; the log says why.
                    tracing::warn!(error = %e, "export stopped part way");
                    std::io::Error::other(e.to_string())
                })
            });
        let body = axum::body::Body::from_stream(archive);
        let mut response = caller.rated(body).into_response();
        let h = response.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-ndjson"),
        );
        if let Ok(v) =
            HeaderValue::from_str(&format!("attachment; filename=\"{project}.snapkb.jsonl\""))
        {
            h.insert(header::CONTENT_DISPOSITION, v);
        }
        Ok(response)
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ImportParams {
    id: Option<String>,
    /// An archive already in the deployment's bucket under `imports/`, instead of the body.
    object: Option<String>,
}

/// `POST /v1/projects/import`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ImportResponse {
    pub project: snapkb_core::Project,
    pub version: u64,
}

pub(crate) fn import(
    State(state): State<AppState>,
    caller: Caller,
    Params(p): Params<ImportParams>,
    req: Request,
) -> impl Future<Output = Result<impl IntoResponse, ApiError>> + Send {
    send(async move {
        let id =
            p.id.ok_or_else(|| ApiError::invalid("id", "name the new project with `?id=`"))?;
        if let Some(object) = p.object {
            let (project, version) = state
                .engine
                .import_object(&caller.principal, &id, &object)
                .await?;
            return Ok((
                StatusCode::CREATED,
                Json(ImportResponse { project, version }),
            ));
        }
        let limit = state.engine.config().max_import_bytes;
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|n| n > limit) {
            // Read (and drop) what the client sends, so it can read the 413 (see read_body).
            read_body(req, limit).await?;
            return Err(too_large(limit));
        }
        // The archive is read as it arrives and imported in batches; past the limit the
        // stream fails, the import removes what it wrote, and the answer is 413.
        let over = Arc::new(AtomicBool::new(false));
        let mut body = {
            let over = over.clone();
            let mut seen = 0usize;
            req.into_body().into_data_stream().map(move |chunk| {
                let chunk = chunk.map_err(|e| e.to_string())?;
                seen += chunk.len();
                if seen > limit {
                    over.store(true, Ordering::SeqCst);
                    return Err(format!("the archive is larger than {limit} bytes"));
                }
                Ok(chunk)
            })
        };
        let imported = state
            .engine
            .import_stream(&caller.principal, &id, &mut body)
            .await;
        let (project, version) = match imported {
            Err(_) if over.load(Ordering::SeqCst) => {
                let mut drained = 0usize;
                while let Some(chunk) = body.next().await {
                    drained += chunk.map_or(0, |c| c.len());
                    if drained > DRAIN_BYTES {
                        break;
                    }
                }
                return Err(too_large(limit));
            }
            other => other?,
        };
        Ok((
            StatusCode::CREATED,
            Json(ImportResponse { project, version }),
        ))
    })
}

/// `POST /v1/projects/{project}/rollback`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    /// The kept version to restore.
    pub version: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RollbackResponse {
    /// The new version, whose index is that of `restored`.
    pub version: u64,
    pub restored: u64,
}

/// `POST /v1/projects/{project}/compact`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct CompactAccepted {
    requested: bool,
}

pub(crate) fn compact(
    State(state): State<AppState>,
    caller: Caller,
) -> impl Future<Output = Result<impl IntoResponse, ApiError>> + Send {
    send(async move {
        state
            .engine
            .request_compaction(&caller.principal, caller.project())
            .await?;
        let body = CompactAccepted { requested: true };
        Ok(caller.rated((StatusCode::ACCEPTED, Json(body))))
    })
}
