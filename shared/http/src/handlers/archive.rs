//! The export function: export and import archives, versions and rollback.

use axum::{
    Json,
    extract::{Path, Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, Uri, header},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};

use super::{PageParams, params};
use crate::{
    AppState, JsonBody,
    auth::{enter, principal, rated},
    body::read_body,
    problem::ApiError,
    send::send,
};

pub(crate) fn export(
    State(state): State<AppState>,
    Path(project): Path<String>,
    headers: HeaderMap,
) -> impl Future<Output = Result<Response, ApiError>> + Send {
    send(async move {
        let (principal, rate) = enter(&state, &headers, &project).await?;
        let archive = state.engine.export(&principal, &project).await?;
        let mut response = rated(archive, rate);
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
struct ImportParams {
    id: Option<String>,
}

#[derive(Debug, Serialize)]
struct ImportResponse {
    project: snapkb_core::Project,
    version: u64,
}

pub(crate) fn import(
    State(state): State<AppState>,
    uri: Uri,
    req: Request,
) -> impl Future<Output = Result<Response, ApiError>> + Send {
    send(async move {
        let principal = principal(&state, req.headers()).await?;
        let p: ImportParams = params(&uri)?;
        let id =
            p.id.ok_or_else(|| ApiError::invalid("id", "name the new project with `?id=`"))?;
        let body = read_body(req, state.engine.config().max_import_bytes).await?;
        let (project, version) = state.engine.import(&principal, &id, &body).await?;
        Ok((
            StatusCode::CREATED,
            Json(ImportResponse { project, version }),
        )
            .into_response())
    })
}

pub(crate) fn versions(
    State(state): State<AppState>,
    Path(project): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> impl Future<Output = Result<Response, ApiError>> + Send {
    send(async move {
        let page: PageParams = params(&uri)?;
        let (principal, rate) = enter(&state, &headers, &project).await?;
        let versions = state
            .engine
            .list_versions(
                &principal,
                &project,
                page.after.as_deref(),
                page.limit.unwrap_or(100),
            )
            .await?;
        Ok(rated(Json(versions), rate))
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RollbackRequest {
    version: u64,
}

pub(crate) fn rollback(
    State(state): State<AppState>,
    Path(project): Path<String>,
    headers: HeaderMap,
    body: JsonBody,
) -> impl Future<Output = Result<Response, ApiError>> + Send {
    send(async move {
        let (principal, rate) = enter(&state, &headers, &project).await?;
        let request: RollbackRequest = body.parse()?;
        let version = state
            .engine
            .rollback(&principal, &project, request.version)
            .await?;
        Ok(rated(
            Json(serde_json::json!({"version": version, "restored": request.version})),
            rate,
        ))
    })
}

pub(crate) fn compact(
    State(state): State<AppState>,
    Path(project): Path<String>,
    headers: HeaderMap,
) -> impl Future<Output = Result<Response, ApiError>> + Send {
    send(async move {
        let (principal, rate) = enter(&state, &headers, &project).await?;
        state
            .engine
            .request_compaction(&principal, &project)
            .await?;
        Ok(rated(
            (
                StatusCode::ACCEPTED,
                Json(serde_json::json!({"requested": true})),
            ),
            rate,
        ))
    })
}
