//! The keys function: projects, API keys and the operation log.

use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
    response::IntoResponse,
};
use serde::{Deserialize, Serialize};
use snapkb_core::{Principal, Project, ProjectPatch, Scope};
use snapkb_engine::{CreateKey, CreateProject, KeyView, ProjectStats};

use super::{PageParams, Params};
use crate::{AppState, JsonBody, caller::Caller, problem::ApiError, send::send};

/// A project as shown to a caller; the webhook secret only to admins.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub(crate) struct ProjectResponse {
    pub(crate) project: Project,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) stats: Option<ProjectStats>,
}

impl ProjectResponse {
    fn new(project: Project, stats: Option<ProjectStats>, principal: &Principal) -> Self {
        ProjectResponse {
            project: shown(project, principal),
            stats,
        }
    }
}

/// `GET /v1/projects`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ProjectList {
    projects: Vec<Project>,
}

/// `GET /v1/projects/{project}/keys`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct KeyList {
    keys: Vec<KeyView>,
}

fn shown(mut project: Project, principal: &Principal) -> Project {
    if !principal.allows(&project.id, Scope::Admin) {
        project.webhook_secret.clear();
    }
    project
}

pub(crate) fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(request): JsonBody<CreateProject>,
) -> impl Future<Output = Result<impl IntoResponse, ApiError>> + Send {
    send(async move {
        let (project, stats) = state
            .engine
            .create_project(&caller.principal, request)
            .await?;
        let body = ProjectResponse::new(project, Some(stats), &caller.principal);
        Ok((StatusCode::CREATED, Json(body)))
    })
}

pub(crate) fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> impl Future<Output = Result<impl IntoResponse, ApiError>> + Send {
    send(async move {
        let principal = &caller.principal;
        let projects = state.engine.list_projects(principal).await?;
        let projects = projects.into_iter().map(|p| shown(p, principal)).collect();
        Ok(Json(ProjectList { projects }))
    })
}

pub(crate) fn show(
    State(state): State<AppState>,
    caller: Caller,
) -> impl Future<Output = Result<impl IntoResponse, ApiError>> + Send {
    send(async move {
        let engine = &state.engine;
        let (project, stats) = engine
            .get_project(&caller.principal, caller.project())
            .await?;
        let body = ProjectResponse::new(project, Some(stats), &caller.principal);
        Ok(caller.rated(Json(body)))
    })
}

pub(crate) fn update(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(patch): JsonBody<ProjectPatch>,
) -> impl Future<Output = Result<impl IntoResponse, ApiError>> + Send {
    send(async move {
        let engine = &state.engine;
        let project = engine
            .update_project(&caller.principal, caller.project(), patch)
            .await?;
        let body = ProjectResponse::new(project, None, &caller.principal);
        Ok(caller.rated(Json(body)))
    })
}

pub(crate) fn remove(
    State(state): State<AppState>,
    caller: Caller,
) -> impl Future<Output = Result<impl IntoResponse, ApiError>> + Send {
    send(async move {
        let engine = &state.engine;
        engine
            .delete_project(&caller.principal, caller.project())
            .await?;
        Ok(caller.rated(StatusCode::NO_CONTENT))
    })
}

pub(crate) fn create_key(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(request): JsonBody<CreateKey>,
) -> impl Future<Output = Result<impl IntoResponse, ApiError>> + Send {
    send(async move {
        let engine = &state.engine;
        let created = engine
            .create_key(&caller.principal, caller.project(), request)
            .await?;
        Ok(caller.rated((StatusCode::CREATED, Json(created))))
    })
}

pub(crate) fn list_keys(
    State(state): State<AppState>,
    caller: Caller,
) -> impl Future<Output = Result<impl IntoResponse, ApiError>> + Send {
    send(async move {
        let engine = &state.engine;
        let keys = engine
            .list_keys(&caller.principal, caller.project())
            .await?;
        Ok(caller.rated(Json(KeyList { keys })))
    })
}

pub(crate) fn revoke_key(
    State(state): State<AppState>,
    caller: Caller,
    Path((_, key)): Path<(String, String)>,
) -> impl Future<Output = Result<impl IntoResponse, ApiError>> + Send {
    send(async move {
        let engine = &state.engine;
        let view = engine
            .revoke_key(&caller.principal, caller.project(), &key)
            .await?;
        Ok(caller.rated(Json(view)))
    })
}

pub(crate) fn rotate_key(
    State(state): State<AppState>,
    caller: Caller,
    Path((_, key)): Path<(String, String)>,
) -> impl Future<Output = Result<impl IntoResponse, ApiError>> + Send {
    send(async move {
        let engine = &state.engine;
        let created = engine
            .rotate_key(&caller.principal, caller.project(), &key)
            .await?;
        Ok(caller.rated(Json(created)))
    })
}

pub(crate) fn operations(
    State(state): State<AppState>,
    caller: Caller,
    Params(page): Params<PageParams>,
) -> impl Future<Output = Result<impl IntoResponse, ApiError>> + Send {
    send(async move {
        let (principal, project) = (&caller.principal, caller.project());
        let ops = state
            .engine
            .operations(principal, project, page.after.as_deref(), page.limit())
            .await?;
        Ok(caller.rated(Json(ops)))
    })
}
