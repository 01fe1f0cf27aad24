//! The OpenAPI 3.1 document, generated from the route table and the request/response types
//! (their schemas come from `utoipa::ToSchema` derives), so it cannot drift from the code.

use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, HttpMethod, InfoBuilder, OpenApi, OpenApiBuilder, Paths,
    Ref, RefOr, ResponseBuilder,
    path::{OperationBuilder, ParameterBuilder, ParameterIn},
    request_body::RequestBodyBuilder,
    security::{
        ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
    },
};

use crate::{caller::Access, problem::Problem, routes::Route};

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

/// The document of `routes`.
pub(crate) fn document(routes: &[Route]) -> OpenApi {
    let mut paths = Paths::new();
    let mut components = ComponentsBuilder::new().schema_from::<Problem>();
    for r in routes {
        let mut op = OperationBuilder::new()
            .summary(Some(r.summary))
            .operation_id(Some(format!(
                "{}_{}",
                r.method.to_lowercase(),
                r.path.trim_start_matches('/').replace(['/', '{', '}'], "_")
            )))
            .tag(r.group.map_or("service", |g| g.as_str()))
            .description(Some(format!("Scope: `{}`.", r.scope.as_str())));
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
            components = (req.register)(components);
            op = op.request_body(Some(
                RequestBodyBuilder::new()
                    .content("application/json", json_ref(&(req.name)()).build())
                    .build(),
            ));
        }
        let ok = match r.response {
            Some(schema) => {
                components = (schema.register)(components);
                ResponseBuilder::new()
                    .description("Success")
                    .content("application/json", json_ref(&(schema.name)()).build())
            }
            None => ResponseBuilder::new().description("Success"),
        };
        op = op.response(r.status.as_str(), ok.build());
        op = op.response(
            "default",
            ResponseBuilder::new()
                .description("An error (application/problem+json)")
                .content("application/problem+json", json_ref("Problem").build())
                .build(),
        );
        if !matches!(r.scope, Access::Public | Access::Signature) {
            op = op
                .security(SecurityRequirement::new::<_, _, &str>("bearer", []))
                .security(SecurityRequirement::new::<_, _, &str>("api_key", []));
        }
        paths.add_path_operation(r.path, vec![method(r.method)], op.build());
    }
    let components = components
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

#[cfg(test)]
mod tests {
    use crate::{ROUTES, openapi_document};

    #[test]
    fn every_schema_reference_resolves() {
        fn refs(value: &serde_json::Value, out: &mut Vec<String>) {
            match value {
                serde_json::Value::Object(fields) => {
                    for (k, v) in fields {
                        match (k.as_str(), v.as_str()) {
                            ("$ref", Some(r)) => out.push(r.rsplit('/').next().unwrap_or(r).into()),
                            _ => refs(v, out),
                        }
                    }
                }
                serde_json::Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
                serde_json::Value::Null
                | serde_json::Value::Bool(_)
                | serde_json::Value::Number(_)
                | serde_json::Value::String(_) => {}
            }
        }
        let doc = serde_json::to_value(openapi_document()).unwrap();
        let mut found = Vec::new();
        refs(&doc, &mut found);
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        let dangling: Vec<&String> = found.iter().filter(|r| !schemas.contains_key(*r)).collect();
        assert!(dangling.is_empty(), "no schema for {dangling:?}");
        // The query request's nested settings are among them.
        assert!(schemas.contains_key("Fusion"));
    }

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
            for schema in r.request.iter().chain(r.response.iter()) {
                let name = (schema.name)();
                assert!(
                    schemas.contains_key(name.as_ref()),
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
