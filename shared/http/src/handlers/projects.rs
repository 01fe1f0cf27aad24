//! The keys function: projects, API keys and the operation log.

use axum::{Json, extract::State, http::StatusCode, response::IntoResponse};
use serde::{Deserialize, Serialize};
use snapkb_core::{Principal, Project, Scope};
use snapkb_engine::{CreateKey, CreateProject, KeyView, ProjectStats};

use crate::{AppState, JsonBody, caller::Caller, problem::ApiError, send::send};

/// A project as shown to a caller; the webhook secret only to admins.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProjectResponse {
    pub project: Project,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<ProjectStats>,
}

impl ProjectResponse {
    pub(crate) fn new(
        project: Project,
        stats: Option<ProjectStats>,
        principal: &Principal,
    ) -> Self {
        ProjectResponse {
            project: shown(project, principal),
            stats,
        }
    }
}

/// `GET /v1/projects`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProjectList {
    pub projects: Vec<Project>,
}

/// `GET /v1/projects/{project}/keys`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KeyList {
    pub keys: Vec<KeyView>,
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
