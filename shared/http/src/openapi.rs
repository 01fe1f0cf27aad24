//! The OpenAPI 3.1 document, generated from the route table and the request/response types
//! (their schemas come from `utoipa::ToSchema` derives), so it cannot drift from the code.

use axum::{Json, response::IntoResponse};
use utoipa::{
    ToSchema,
    openapi::{
        ComponentsBuilder, ContentBuilder, HttpMethod, InfoBuilder, OpenApi, OpenApiBuilder, Paths,
        Ref, RefOr, ResponseBuilder,
        path::{OperationBuilder, ParameterBuilder, ParameterIn},
        request_body::RequestBodyBuilder,
        security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
        },
    },
};

use crate::routes::ROUTES;

/// `{ "project": Project, "stats": ProjectStats }`
#[derive(ToSchema)]
#[allow(dead_code)]
struct ProjectResponse {
    project: snapkb_core::Project,
    stats: Option<snapkb_engine::ProjectStats>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
struct ProjectList {
    projects: Vec<snapkb_core::Project>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
struct KeyList {
    keys: Vec<snapkb_engine::KeyView>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
struct ImportResponse {
    project: snapkb_core::Project,
    version: u64,
}

#[derive(ToSchema)]
#[allow(dead_code)]
struct RollbackRequest {
    version: u64,
}

#[derive(ToSchema)]
#[allow(dead_code)]
struct CompactAccepted {
    requested: bool,
}

#[derive(ToSchema)]
#[allow(dead_code)]
struct RollbackResponse {
    version: u64,
    restored: u64,
}

/// An RFC 9457 problem; `field` names what to fix.
#[derive(ToSchema)]
#[allow(dead_code)]
struct Problem {
    #[schema(rename = "type")]
    kind: String,
    title: String,
    status: u16,
    detail: String,
    field: Option<String>,
}

fn method(m: &str) -> HttpMethod {
    match m {
        "POST" => HttpMethod::Post,
        "PATCH" => HttpMethod::Patch,
        "DELETE" => HttpMethod::Delete,
        "PUT" => HttpMethod::Put,
        _ => HttpMethod::Get,
    }
}

fn json_ref(name: &str) -> ContentBuilder {
    ContentBuilder::new().schema(Some(RefOr::Ref(Ref::from_schema_name(name))))
}

/// The whole document.
pub fn openapi_document() -> OpenApi {
    let mut paths = Paths::new();
    for r in ROUTES {
        let mut op = OperationBuilder::new()
            .summary(Some(r.summary))
            .operation_id(Some(format!(
                "{}_{}",
                r.method.to_lowercase(),
                r.path.trim_start_matches('/').replace(['/', '{', '}'], "_")
            )))
            .tag(r.group.map_or("service", |g| g.as_str()))
            .description(Some(format!("Scope: `{}`.", r.scope)));
        for segment in r.path.split('/') {
            if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                op = op.parameter(
                    ParameterBuilder::new()
                        .name(name)
                        .parameter_in(ParameterIn::Path)
                        .required(utoipa::openapi::Required::True),
                );
            }
        }
        if let Some(req) = r.request {
            op = op.request_body(Some(
                RequestBodyBuilder::new()
                    .content("application/json", json_ref(req).build())
                    .build(),
            ));
        }
        let ok = match r.response {
            Some(name) => ResponseBuilder::new()
                .description("Success")
                .content("application/json", json_ref(name).build()),
            None => ResponseBuilder::new().description("Success"),
        };
        op = op.response(
            match r.response {
                Some("CreatedKey" | "ImportResponse" | "ProjectResponse") if r.method == "POST" => {
                    "201"
                }
                Some("CompactAccepted") => "202",
                _ => "200",
            },
            ok.build(),
        );
        op = op.response(
            "default",
            ResponseBuilder::new()
                .description("An error (application/problem+json)")
                .content("application/problem+json", json_ref("Problem").build())
                .build(),
        );
        if r.scope != "none" && r.scope != "signature" {
            op = op
                .security(SecurityRequirement::new::<_, _, &str>("bearer", []))
                .security(SecurityRequirement::new::<_, _, &str>("api_key", []));
        }
        paths.add_path_operation(r.path, vec![method(r.method)], op.build());
    }
    let components = ComponentsBuilder::new()
        .schema_from::<Problem>()
        .schema_from::<ProjectResponse>()
        .schema_from::<ProjectList>()
        .schema_from::<KeyList>()
        .schema_from::<ImportResponse>()
        .schema_from::<RollbackRequest>()
        .schema_from::<RollbackResponse>()
        .schema_from::<CompactAccepted>()
        .schema_from::<snapkb_engine::CreateProject>()
        .schema_from::<snapkb_core::ProjectPatch>()
        .schema_from::<snapkb_engine::CreateKey>()
        .schema_from::<snapkb_engine::CreatedKey>()
        .schema_from::<snapkb_engine::KeyView>()
        .schema_from::<snapkb_engine::OperationPage>()
        .schema_from::<snapkb_engine::IngestRequest>()
        .schema_from::<snapkb_engine::EmbedRequest>()
        .schema_from::<snapkb_engine::EmbedResponse>()
        .schema_from::<snapkb_engine::EmbedInput>()
        .schema_from::<snapkb_engine::EmbeddingItem>()
        .schema_from::<snapkb_engine::EmbedUsage>()
        .schema_from::<snapkb_engine::IngestResponse>()
        .schema_from::<snapkb_engine::DocumentPage>()
        .schema_from::<snapkb_engine::DocumentView>()
        .schema_from::<snapkb_engine::QueryRequest>()
        .schema_from::<snapkb_engine::QueryResponse>()
        .schema_from::<snapkb_engine::Health>()
        .schema_from::<snapkb_engine::Usage>()
        .schema_from::<snapkb_engine::VersionPage>()
        .security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        )
        .security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
        )
        .build();
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("snapkb")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some("A multi-project knowledge base: vector, keyword and hybrid search over your documents."))
                .build(),
        )
        .paths(paths)
        .components(Some(components))
        .build()
}

pub(crate) async fn serve() -> impl IntoResponse {
    Json(openapi_document())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_documented_and_every_schema_it_names_exists() {
        let doc = openapi_document();
        let schemas = &doc.components.as_ref().unwrap().schemas;
        for r in ROUTES {
            let item = doc
                .paths
                .paths
                .get(r.path)
                .unwrap_or_else(|| panic!("{} missing", r.path));
            let json = serde_json::to_value(item).unwrap();
            assert!(
                json.get(r.method.to_lowercase()).is_some(),
                "{} {}",
                r.method,
                r.path
            );
            for name in r.request.iter().chain(r.response.iter()) {
                assert!(
                    schemas.contains_key(*name),
                    "schema {name} of {} {}",
                    r.method,
                    r.path
                );
            }
        }
        let count: usize = doc
            .paths
            .paths
            .values()
            .map(|i| serde_json::to_value(i).unwrap().as_object().unwrap().len())
            .sum();
        assert!(count >= ROUTES.len(), "{count}");
    }
}
