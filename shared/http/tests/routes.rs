//! Each function group's router serves exactly its routes from the table, and every route in
//! the table is served by the group it names.

use std::sync::Arc;

use axum::{body::Body, http::Request};
use snapkb_core::Config;
use snapkb_engine::Engine;
use snapkb_http::{Group, ROUTES, router};
use snapkb_store::{MemoryMetaStore, MemoryObjectStore};
use tower::ServiceExt;

fn engine() -> Arc<Engine> {
    Arc::new(Engine::new(
        Arc::new(MemoryObjectStore::default()),
        Arc::new(MemoryMetaStore::default()),
        Config::default(),
    ))
}

/// Whether the router has a handler for this method and path (anything but the fallback's
/// "no such route" or 405).
async fn served(app: &axum::Router, method: &str, path: &str) -> bool {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .body(Body::from("{}"))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    status != 405 && !String::from_utf8_lossy(&body).contains("no such route")
}

fn concrete(path: &str) -> String {
    path.replace("{project}", "p")
        .replace("{key}", "k")
        .replace("{document}", "d")
}

#[tokio::test]
async fn each_group_serves_exactly_its_routes() {
    let engine = engine();
    for group in Group::ALL {
        let app = router(engine.clone(), &[group]);
        for route in ROUTES {
            let expected = route.group.is_none_or(|g| g == group);
            assert_eq!(
                served(&app, route.method, &concrete(route.path)).await,
                expected,
                "{} {} in the {} function",
                route.method,
                route.path,
                group.as_str()
            );
        }
        assert!(!served(&app, "GET", "/v1/elsewhere").await);
        assert!(!served(&app, "PUT", "/v1/projects/p/query").await);
    }
}

#[test]
fn every_fixed_name_under_projects_is_a_reserved_project_id() {
    for route in ROUTES {
        let Some(rest) = route.path.strip_prefix("/v1/projects/") else {
            continue;
        };
        let first = rest.split('/').next().unwrap_or_default();
        if !first.starts_with('{') {
            assert!(
                snapkb_core::RESERVED_PROJECT_IDS.contains(&first),
                "{} {} shadows a project named `{first}`",
                route.method,
                route.path
            );
        }
    }
}
