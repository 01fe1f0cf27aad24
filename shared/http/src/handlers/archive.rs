//! The export function: export and import archives, versions, rollback and compaction.

use axum::{
    Json,
    extract::{Request, State},
    http::{HeaderValue, StatusCode, header},
    response::IntoResponse,
};
use serde::{Deserialize, Serialize};

use super::Params;
use crate::{AppState, body::read_body, caller::Caller, problem::ApiError, send::send};

pub(crate) fn export(
    State(state): State<AppState>,
    caller: Caller,
) -> impl Future<Output = Result<impl IntoResponse, ApiError>> + Send {
    send(async move {
        let project = caller.project();
        let archive = state.engine.export(&caller.principal, project).await?;
        let mut response = caller.rated(archive).into_response();
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
        let body = read_body(req, state.engine.config().max_import_bytes).await?;
        let (project, version) = state.engine.import(&caller.principal, &id, &body).await?;
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
