//! The route table: every route with its function group and scope. The router mounts exactly
//! these (a test checks), the OpenAPI document is generated from them, and the deployment
//! (Terraform) is checked against them.

use serde::Serialize;

/// The serverless function that serves a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    /// `None` for routes every function mounts (health check, OpenAPI).
    pub group: Option<Group>,
    /// Required scope: read, write, export, admin (of the project), deployment-admin,
    /// signature (webhook HMAC) or none.
    pub scope: &'static str,
    pub summary: &'static str,
    /// Schema of the JSON request body, if any.
    pub request: Option<&'static str>,
    /// Schema of the success response body.
    pub response: Option<&'static str>,
}

const fn route(
    method: &'static str,
    path: &'static str,
    group: Option<Group>,
    scope: &'static str,
    summary: &'static str,
    request: Option<&'static str>,
    response: Option<&'static str>,
) -> Route {
    Route {
        method,
        path,
        group,
        scope,
        summary,
        request,
        response,
    }
}

use Group::{Export, Ingest, Keys, Query};

pub const ROUTES: &[Route] = &[
    route(
        "POST",
        "/v1/projects",
        Some(Keys),
        "deployment-admin",
        "Create a project",
        Some("CreateProject"),
        Some("ProjectResponse"),
    ),
    route(
        "GET",
        "/v1/projects",
        Some(Keys),
        "read",
        "List the projects the key can see",
        None,
        Some("ProjectList"),
    ),
    route(
        "GET",
        "/v1/projects/{project}",
        Some(Keys),
        "read",
        "Show a project with its stats",
        None,
        Some("ProjectResponse"),
    ),
    route(
        "PATCH",
        "/v1/projects/{project}",
        Some(Keys),
        "admin",
        "Update a project's settings",
        Some("ProjectPatch"),
        Some("ProjectResponse"),
    ),
    route(
        "DELETE",
        "/v1/projects/{project}",
        Some(Keys),
        "admin",
        "Delete a project and all its data",
        None,
        None,
    ),
    route(
        "POST",
        "/v1/projects/{project}/keys",
        Some(Keys),
        "admin",
        "Create an API key (its token is shown once)",
        Some("CreateKey"),
        Some("CreatedKey"),
    ),
    route(
        "GET",
        "/v1/projects/{project}/keys",
        Some(Keys),
        "admin",
        "List API keys (never their secrets)",
        None,
        Some("KeyList"),
    ),
    route(
        "DELETE",
        "/v1/projects/{project}/keys/{key}",
        Some(Keys),
        "admin",
        "Revoke an API key",
        None,
        Some("KeyView"),
    ),
    route(
        "POST",
        "/v1/projects/{project}/keys/{key}/rotate",
        Some(Keys),
        "admin",
        "Give a key a new secret",
        None,
        Some("CreatedKey"),
    ),
    route(
        "GET",
        "/v1/projects/{project}/operations",
        Some(Keys),
        "admin",
        "The operation log, newest first",
        None,
        Some("OperationPage"),
    ),
    route(
        "POST",
        "/v1/projects/{project}/documents",
        Some(Ingest),
        "write",
        "Add or replace documents",
        Some("IngestRequest"),
        Some("IngestResponse"),
    ),
    route(
        "DELETE",
        "/v1/projects/{project}/documents/{document}",
        Some(Ingest),
        "write",
        "Delete a document",
        None,
        Some("IngestResponse"),
    ),
    route(
        "POST",
        "/v1/projects/{project}/hooks/ingest",
        Some(Ingest),
        "signature",
        "Ingest from a signed webhook",
        Some("IngestRequest"),
        Some("IngestResponse"),
    ),
    route(
        "GET",
        "/v1/projects/{project}/documents",
        Some(Query),
        "read",
        "List documents",
        None,
        Some("DocumentPage"),
    ),
    route(
        "GET",
        "/v1/projects/{project}/documents/{document}",
        Some(Query),
        "read",
        "Show a document and its chunks",
        None,
        Some("DocumentView"),
    ),
    route(
        "POST",
        "/v1/embed",
        Some(Query),
        "read",
        "Embed texts with all-MiniLM-L6-v2 (OpenAI's embeddings request and response shape)",
        Some("EmbedRequest"),
        Some("EmbedResponse"),
    ),
    route(
        "POST",
        "/v1/projects/{project}/query",
        Some(Query),
        "read",
        "Query by vector, keyword or both (JSON, or SSE with Accept: text/event-stream)",
        Some("QueryRequest"),
        Some("QueryResponse"),
    ),
    route(
        "GET",
        "/v1/projects/{project}/health",
        Some(Query),
        "read",
        "Index state and recent query health",
        None,
        Some("Health"),
    ),
    route(
        "GET",
        "/v1/projects/{project}/usage",
        Some(Query),
        "read",
        "Rate-limit windows and quota use",
        None,
        Some("Usage"),
    ),
    route(
        "POST",
        "/v1/projects/{project}/export",
        Some(Export),
        "export",
        "Export the project as a portable archive (JSON lines)",
        None,
        None,
    ),
    route(
        "POST",
        "/v1/projects/import",
        Some(Export),
        "deployment-admin",
        "Create a project from an archive (?id=new-project)",
        None,
        Some("ImportResponse"),
    ),
    route(
        "GET",
        "/v1/projects/{project}/versions",
        Some(Export),
        "read",
        "Committed versions, newest first",
        None,
        Some("VersionPage"),
    ),
    route(
        "POST",
        "/v1/projects/{project}/compact",
        Some(Export),
        "admin",
        "Compact the write-ahead log into a new snapshot now (in the background; watch /health)",
        None,
        Some("CompactAccepted"),
    ),
    route(
        "POST",
        "/v1/projects/{project}/rollback",
        Some(Export),
        "admin",
        "Roll the index back to a kept version",
        Some("RollbackRequest"),
        Some("RollbackResponse"),
    ),
    route("GET", "/healthz", None, "none", "Liveness", None, None),
    route(
        "GET",
        "/openapi.json",
        None,
        "none",
        "This API's OpenAPI document",
        None,
        None,
    ),
];
