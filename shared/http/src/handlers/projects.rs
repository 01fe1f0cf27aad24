//! The keys function: projects, API keys and the operation log.

use axum::{
    Json,
    extract::{Path, State},
    http::{HeaderMap, StatusCode, Uri},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use snapkb_core::{Principal, Project, ProjectPatch, Scope};
use snapkb_engine::{CreateKey, CreateProject, KeyView, ProjectStats};

use super::{PageParams, params};
use crate::{
    AppState, JsonBody,
    auth::{enter, principal, rated},
    problem::ApiError,
    send::send,
};

/// A project as shown to a caller; the webhook secret only to admins.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ProjectResponse {
    pub(crate) project: Project,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) stats: Option<ProjectStats>,
}

fn shown(mut project: Project, principal: &Principal) -> Project {
    if !principal.allows(&project.id, Scope::Admin) {
        project.webhook_secret.clear();
    }
    project
}

pub(crate) fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: JsonBody,
) -> impl Future<Output = Result<Response, ApiError>> + Send {
    send(async move {
        let principal = principal(&state, &headers).await?;
        let request: CreateProject = body.parse()?;
        let (project, stats) = state.engine.create_project(&principal, request).await?;
        Ok((
            StatusCode::CREATED,
            Json(ProjectResponse {
                project,
                stats: Some(stats),
            }),
        )
            .into_response())
    })
}

pub(crate) fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> impl Future<Output = Result<Response, ApiError>> + Send {
    send(async move {
        let principal = principal(&state, &headers).await?;
        let projects: Vec<Project> = state
            .engine
            .list_projects(&principal)
            .await?
            .into_iter()
            .map(|p| shown(p, &principal))
            .collect();
        Ok(Json(serde_json::json!({ "projects": projects })).into_response())
    })
}

pub(crate) fn show(
    State(state): State<AppState>,
    Path(project): Path<String>,
    headers: HeaderMap,
) -> impl Future<Output = Result<Response, ApiError>> + Send {
    send(async move {
        let (principal, rate) = enter(&state, &headers, &project).await?;
        let (p, stats) = state.engine.get_project(&principal, &project).await?;
        Ok(rated(
            Json(ProjectResponse {
                project: shown(p, &principal),
                stats: Some(stats),
            }),
            rate,
        ))
    })
}

pub(crate) fn update(
    State(state): State<AppState>,
    Path(project): Path<String>,
    headers: HeaderMap,
    body: JsonBody,
) -> impl Future<Output = Result<Response, ApiError>> + Send {
    send(async move {
        let (principal, rate) = enter(&state, &headers, &project).await?;
        let patch: ProjectPatch = body.parse()?;
        let p = state
            .engine
            .update_project(&principal, &project, patch)
            .await?;
        Ok(rated(
            Json(ProjectResponse {
                project: shown(p, &principal),
                stats: None,
            }),
            rate,
        ))
    })
}

pub(crate) fn remove(
    State(state): State<AppState>,
    Path(project): Path<String>,
    headers: HeaderMap,
) -> impl Future<Output = Result<Response, ApiError>> + Send {
    send(async move {
        let (principal, rate) = enter(&state, &headers, &project).await?;
        state.engine.delete_project(&principal, &project).await?;
        Ok(rated(StatusCode::NO_CONTENT, rate))
    })
}

pub(crate) fn create_key(
    State(state): State<AppState>,
    Path(project): Path<String>,
    headers: HeaderMap,
    body: JsonBody,
) -> impl Future<Output = Result<Response, ApiError>> + Send {
    send(async move {
        let (principal, rate) = enter(&state, &headers, &project).await?;
        let request: CreateKey = body.parse()?;
        let created = state
            .engine
            .create_key(&principal, &project, request)
            .await?;
        Ok(rated((StatusCode::CREATED, Json(created)), rate))
    })
}

#[derive(Debug, Serialize)]
struct KeyList {
    keys: Vec<KeyView>,
}

pub(crate) fn list_keys(
    State(state): State<AppState>,
    Path(project): Path<String>,
    headers: HeaderMap,
) -> impl Future<Output = Result<Response, ApiError>> + Send {
    send(async move {
        let (principal, rate) = enter(&state, &headers, &project).await?;
        let keys = state.engine.list_keys(&principal, &project).await?;
        Ok(rated(Json(KeyList { keys }), rate))
    })
}

pub(crate) fn revoke_key(
    State(state): State<AppState>,
    Path((project, key)): Path<(String, String)>,
    headers: HeaderMap,
) -> impl Future<Output = Result<Response, ApiError>> + Send {
    send(async move {
        let (principal, rate) = enter(&state, &headers, &project).await?;
        let view = state.engine.revoke_key(&principal, &project, &key).await?;
        Ok(rated(Json(view), rate))
    })
}

pub(crate) fn rotate_key(
    State(state): State<AppState>,
    Path((project, key)): Path<(String, String)>,
    headers: HeaderMap,
) -> impl Future<Output = Result<Response, ApiError>> + Send {
    send(async move {
        let (principal, rate) = enter(&state, &headers, &project).await?;
        let created = state.engine.rotate_key(&principal, &project, &key).await?;
        Ok(rated(Json(created), rate))
    })
}

pub(crate) fn operations(
    State(state): State<AppState>,
    Path(project): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> impl Future<Output = Result<Response, ApiError>> + Send {
    send(async move {
        let page: PageParams = params(&uri)?;
        let (principal, rate) = enter(&state, &headers, &project).await?;
        let ops = state
            .engine
            .operations(
                &principal,
                &project,
                page.after.as_deref(),
                page.limit.unwrap_or(100),
            )
            .await?;
        Ok(rated(Json(ops), rate))
    })
}
