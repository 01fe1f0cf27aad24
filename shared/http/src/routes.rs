//! The route table: every route with its function group, who may call it, its handler and
//! its request and response types. The router is built from it, the OpenAPI document is
//! generated from it, the [`Caller`](crate::caller::Caller) extractor enforces its access
//! rule, and the deployment (Terraform) is checked against it: nothing to keep in step.

use std::borrow::Cow;

use axum::{
    extract::Path,
    http::StatusCode,
    routing::{MethodFilter, MethodRouter, on},
};
use snapkb_core::Scope;
use utoipa::{ToSchema, openapi::ComponentsBuilder};

use crate::{
    AppState, JsonBody,
    caller::Access,
    handlers::{
        self, PageParams, Params, archive, documents, json,
        projects::{self, ProjectResponse},
        read,
    },
};

/// The serverless function that serves a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Group {
    Query,
    Ingest,
    Export,
    Keys,
}

impl Group {
    pub const ALL: [Group; 4] = [Group::Query, Group::Ingest, Group::Export, Group::Keys];

    pub fn as_str(self) -> &'static str {
        match self {
            Group::Query => "query",
            Group::Ingest => "ingest",
            Group::Export => "export",
            Group::Keys => "keys",
        }
    }
}

/// A request or response body type, for the OpenAPI document.
#[derive(Clone, Copy)]
pub struct Schema {
    pub name: fn() -> Cow<'static, str>,
    pub(crate) register: fn(ComponentsBuilder) -> ComponentsBuilder,
}

impl std::fmt::Debug for Schema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&(self.name)())
    }
}

impl Schema {
    const fn of<T: ToSchema + 'static>() -> Self {
        Schema {
            name: T::name,
            register: register_with_nested::<T>,
        }
    }
}

/// `T`'s schema and every schema it refers to (its fields' types, theirs, …): `$ref`s in the
/// document must all resolve.
fn register_with_nested<T: ToSchema>(components: ComponentsBuilder) -> ComponentsBuilder {
    let mut nested = Vec::new();
    T::schemas(&mut nested);
    components.schema_from::<T>().schemas_from_iter(nested)
}

/// One route: what it is, who may call it and what serves it.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    /// `None` for routes every function mounts (health check, OpenAPI).
    pub group: Option<Group>,
    pub scope: Access,
    pub summary: &'static str,
    /// The JSON request body, if any.
    pub request: Option<Schema>,
    /// The JSON success body, if any (an export is JSON lines, a delete has none).
    pub response: Option<Schema>,
    /// The success status.
    pub status: StatusCode,
    /// The handler, as a method router for `method`.
    pub(crate) handler: fn(MethodFilter) -> MethodRouter<AppState>,
}

impl Route {
    const fn new(
        method: &'static str,
        path: &'static str,
        group: Option<Group>,
        scope: Access,
        summary: &'static str,
        handler: fn(MethodFilter) -> MethodRouter<AppState>,
    ) -> Self {
        Route {
            method,
            path,
            group,
            scope,
            summary,
            request: None,
            response: None,
            status: StatusCode::OK,
            handler,
        }
    }

    const fn request<T: ToSchema + 'static>(mut self) -> Self {
        self.request = Some(Schema::of::<T>());
        self
    }

    const fn response<T: ToSchema + 'static>(mut self) -> Self {
        self.response = Some(Schema::of::<T>());
        self
    }

    const fn status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    pub(crate) fn method_filter(&self) -> MethodFilter {
        match self.method {
            "POST" => MethodFilter::POST,
            "PATCH" => MethodFilter::PATCH,
            "DELETE" => MethodFilter::DELETE,
            "PUT" => MethodFilter::PUT,
            _ => MethodFilter::GET,
        }
    }
}

use Access::{AnyKey, DeploymentAdmin, Project, ProjectUnmetered, Public, Signature};
use Group::{Export, Ingest, Keys, Query};
use Scope::{Admin, Read, Write};
use snapkb_engine as e;

pub const ROUTES: &[Route] = &[
    Route::new(
        "POST",
        "/v1/projects",
        Some(Keys),
        DeploymentAdmin,
        "Create a project",
        |m| on(m, projects::create),
    )
    .request::<e::CreateProject>()
    .response::<projects::ProjectResponse>()
    .status(StatusCode::CREATED),
    Route::new(
        "GET",
        "/v1/projects",
        Some(Keys),
        AnyKey,
        "List the projects the key can see",
        |m| on(m, projects::list),
    )
    .response::<projects::ProjectList>(),
    Route::new(
        "GET",
        "/v1/projects/{project}",
        Some(Keys),
        Project(Read),
        "Show a project with its stats",
        |m| {
            on(m, json(|e, who, p, _: ()| async move {
                let (project, stats) = e.get_project(&who, &p).await?;
                Ok(ProjectResponse::new(project, Some(stats), &who))
            }))
        },
    )
    .response::<projects::ProjectResponse>(),
    Route::new(
        "PATCH",
        "/v1/projects/{project}",
        Some(Keys),
        Project(Admin),
        "Update a project's settings",
        |m| {
            on(m, json(|e, who, p, JsonBody(patch)| async move {
                let project = e.update_project(&who, &p, patch).await?;
                Ok(ProjectResponse::new(project, None, &who))
            }))
        },
    )
    .request::<snapkb_core::ProjectPatch>()
    .response::<projects::ProjectResponse>(),
    Route::new(
        "DELETE",
        "/v1/projects/{project}",
        Some(Keys),
        Project(Admin),
        "Delete a project and all its data",
        |m| on(m, projects::remove),
    )
    .status(StatusCode::NO_CONTENT),
    Route::new(
        "POST",
        "/v1/projects/{project}/keys",
        Some(Keys),
        Project(Admin),
        "Create an API key (its token is shown once)",
        |m| on(m, projects::create_key),
    )
    .request::<e::CreateKey>()
    .response::<e::CreatedKey>()
    .status(StatusCode::CREATED),
    Route::new(
        "GET",
        "/v1/projects/{project}/keys",
        Some(Keys),
        Project(Admin),
        "List API keys (never their secrets)",
        |m| {
            on(m, json(|e, who, p, _: ()| async move {
                let keys = e.list_keys(&who, &p).await?;
                Ok(projects::KeyList { keys })
            }))
        },
    )
    .response::<projects::KeyList>(),
    Route::new(
        "DELETE",
        "/v1/projects/{project}/keys/{key}",
        Some(Keys),
        Project(Admin),
        "Revoke an API key",
        |m| {
            on(m, json(|e, who, p, Path((_, key)): Path<(String, String)>| async move {
                e.revoke_key(&who, &p, &key).await
            }))
        },
    )
    .response::<e::KeyView>(),
    Route::new(
        "POST",
        "/v1/projects/{project}/keys/{key}/rotate",
        Some(Keys),
        Project(Admin),
        "Give a key a new secret",
        |m| {
            on(m, json(|e, who, p, Path((_, key)): Path<(String, String)>| async move {
                e.rotate_key(&who, &p, &key).await
            }))
        },
    )
    .response::<e::CreatedKey>(),
    Route::new(
        "POST",
        "/v1/projects/{project}/webhook-secret/rotate",
        Some(Keys),
        Project(Admin),
        "Give the project a new webhook secret",
        |m| {
            on(m, json(|e, who, p, _: ()| async move {
                let project = e.rotate_webhook_secret(&who, &p).await?;
                Ok(ProjectResponse::new(project, None, &who))
            }))
        },
    )
    .response::<ProjectResponse>(),
    Route::new(
        "GET",
        "/v1/projects/{project}/operations",
        Some(Keys),
        Project(Admin),
        "The operation log, newest first",
        |m| {
            on(m, json(|e, who, p, Params(page): Params<PageParams>| async move {
                e.operations(&who, &p, page.after.as_deref(), page.limit()).await
            }))
        },
    )
    .response::<e::OperationPage>(),
    Route::new(
        "POST",
        "/v1/projects/{project}/documents",
        Some(Ingest),
        Project(Write),
        "Add or replace documents",
        |m| on(m, documents::ingest),
    )
    .request::<e::IngestRequest>()
    .response::<e::IngestResponse>(),
    Route::new(
        "DELETE",
        "/v1/projects/{project}/documents/{document}",
        Some(Ingest),
        Project(Write),
        "Delete a document",
        |m| {
            on(m, json(|e, who, p, Path((_, doc)): Path<(String, String)>| async move {
                e.delete_document(&who, &p, &doc).await
            }))
        },
    )
    .response::<e::IngestResponse>(),
    Route::new(
        "POST",
        "/v1/projects/{project}/hooks/ingest",
        Some(Ingest),
        Signature,
        "Ingest from a signed webhook",
        |m| on(m, documents::webhook),
    )
    .request::<e::IngestRequest>()
    .response::<e::IngestResponse>(),
    Route::new(
        "GET",
        "/v1/projects/{project}/documents",
        Some(Query),
        Project(Read),
        "List documents",
        |m| {
            on(m, json(|e, who, p, Params(page): Params<PageParams>| async move {
                e.list_documents(&who, &p, page.after.as_deref(), page.limit()).await
            }))
        },
    )
    .response::<e::DocumentPage>(),
    Route::new(
        "GET",
        "/v1/projects/{project}/documents/{document}",
        Some(Query),
        Project(Read),
        "Show a document and its chunks",
        |m| {
            on(m, json(|e, who, p, Path((_, doc)): Path<(String, String)>| async move {
                e.get_document(&who, &p, &doc).await
            }))
        },
    )
    .response::<e::DocumentView>(),
    Route::new(
        "POST",
        "/v1/embed",
        Some(Query),
        Project(Read),
        "Embed texts with all-MiniLM-L6-v2 (OpenAI's embeddings request and response shape)",
        |m| {
            on(m, json(|e, who, _, JsonBody(request)| async move {
                e.embed_texts(&who, request).await
            }))
        },
    )
    .request::<e::EmbedRequest>()
    .response::<e::EmbedResponse>(),
    Route::new(
        "POST",
        "/v1/projects/{project}/query",
        Some(Query),
        Project(Read),
        "Query by vector, keyword or both (JSON, or SSE with Accept: text/event-stream)",
        |m| on(m, read::query),
    )
    .request::<e::QueryRequest>()
    .response::<e::QueryResponse>(),
    Route::new(
        "GET",
        "/v1/projects/{project}/health",
        Some(Query),
        Project(Read),
        "Index state and recent query health",
        |m| on(m, json(|e, who, p, _: ()| async move { e.health(&who, &p).await })),
    )
    .response::<e::Health>(),
    Route::new(
        "GET",
        "/v1/projects/{project}/usage",
        Some(Query),
        ProjectUnmetered(Read),
        "Rate-limit windows and quota use",
        |m| on(m, json(|e, who, p, _: ()| async move { e.usage(&who, &p).await })),
    )
    .response::<e::Usage>(),
    Route::new(
        "POST",
        "/v1/projects/{project}/export",
        Some(Export),
        Project(Scope::Export),
        "Export the project as a portable archive (JSON lines), or as a link to it in the bucket (`?delivery=link`, the default on Lambda)",
        |m| on(m, archive::export),
    ),
    Route::new(
        "POST",
        "/v1/projects/import",
        Some(Export),
        DeploymentAdmin,
        "Create a project from an archive (?id=new-project)",
        |m| on(m, archive::import),
    )
    .response::<archive::ImportResponse>()
    .status(StatusCode::CREATED),
    Route::new(
        "GET",
        "/v1/projects/{project}/versions",
        Some(Export),
        Project(Read),
        "Committed versions, newest first",
        |m| {
            on(m, json(|e, who, p, Params(page): Params<PageParams>| async move {
                e.list_versions(&who, &p, page.after.as_deref(), page.limit()).await
            }))
        },
    )
    .response::<e::VersionPage>(),
    Route::new(
        "POST",
        "/v1/projects/{project}/compact",
        Some(Export),
        Project(Admin),
        "Compact the write-ahead log into a new snapshot now (in the background; watch /health)",
        |m| on(m, archive::compact),
    )
    .response::<archive::CompactAccepted>()
    .status(StatusCode::ACCEPTED),
    Route::new(
        "POST",
        "/v1/projects/{project}/rollback",
        Some(Export),
        Project(Admin),
        "Roll the index back to a kept version",
        |m| {
            on(m, json(|e, who, p, JsonBody(request): JsonBody<archive::RollbackRequest>| {
                async move {
                    let restored = request.version;
                    let version = e.rollback(&who, &p, restored).await?;
                    Ok(archive::RollbackResponse { version, restored })
                }
            }))
        },
    )
    .request::<archive::RollbackRequest>()
    .response::<archive::RollbackResponse>(),
    Route::new("GET", "/healthz", None, Public, "Liveness", |m| {
        on(m, handlers::healthz)
    })
    .response::<handlers::Liveness>(),
    Route::new(
        "GET",
        "/openapi.json",
        None,
        Public,
        "This API's OpenAPI document",
        |m| on(m, crate::serve_openapi),
    ),
];
