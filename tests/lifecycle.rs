//! A project's whole life over HTTP: create, keys, ingest (caller vectors and real model text),
//! query in every mode, documents, health, usage, versions, rollback, export/import, SSE,
//! deletion; and the server's own routes.

use serde_json::json;
use snapkb_e2e::{
    Server, count_objects, doc, keyword_and_hybrid_find_their_documents, nearest, objects, vector,
};

const DIMS: usize = 16;

#[test]
fn a_project_lives_its_whole_life_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let admin = server.admin_api();
    let created = admin.create_project("kb", DIMS, json!({ "name": "Knowledge" }));
    assert_eq!(created["project"]["id"], "kb");
    assert_eq!(created["stats"]["version"], 1);
    let (_, writer) = admin.create_key("kb", &["read", "write"]);
    let api = admin.with_key(&writer);

    let docs: Vec<_> = (0..50).map(|i| doc(&format!("d{i}"), i, DIMS)).collect();
    let r = api.ok("/v1/projects/kb/documents", &json!({ "documents": docs }));
    assert_eq!(r["version"], 2);
    assert_eq!(r["documents"].as_array().unwrap().len(), 50);
    assert_eq!(nearest(&api, "kb", 17, DIMS, 1), vec!["d17"]);

    // Keyword, hybrid and filtered queries.
    keyword_and_hybrid_find_their_documents(&api, "kb", DIMS);
    let r = api.ok(
        "/v1/projects/kb/query",
        &json!({ "vector": vector(1, DIMS), "top_k": 100, "filter": { "and": [
            { "eq": { "field": "group", "value": "g1" } },
            { "range": { "field": "seed", "lt": 30 } },
            { "in": { "field": "tags", "values": ["t1"] } }
        ] } }),
    );
    let hits = r["results"].as_array().unwrap();
    assert_eq!(hits.len(), 8, "seeds 1,5,…,29");
    assert!(hits.iter().all(|h| h["metadata"]["group"] == "g1" && h["metadata"]["seed"].as_u64().unwrap() < 30));

    // Re-ingesting unchanged content commits nothing; a change bumps the document's version.
    let ingest_d3 = |seed| {
        let r = api.ok(
            "/v1/projects/kb/documents",
            &json!({ "documents": [doc("d3", seed, DIMS)] }),
        );
        (
            r["version"].as_u64(),
            r["documents"][0]["status"].as_str().map(str::to_string),
        )
    };
    assert_eq!(ingest_d3(3), (Some(2), Some("unchanged".into())));
    assert_eq!(ingest_d3(1003), (Some(3), Some("updated".into())));
    assert_eq!(nearest(&api, "kb", 1003, DIMS, 1), vec!["d3"]);

    // Documents.
    let page = api.get("/v1/projects/kb/documents?limit=20");
    assert_eq!(page.body["documents"].as_array().unwrap().len(), 20);
    let next = page.body["next"].as_str().unwrap();
    let page2 = api.get(&format!("/v1/projects/kb/documents?limit=100&after={next}"));
    assert_eq!(page2.body["documents"].as_array().unwrap().len(), 30);
    let d3 = api.get("/v1/projects/kb/documents/d3");
    assert_eq!((d3.status, d3.body["version"].as_u64()), (200, Some(2)));
    assert_eq!(d3.body["chunks"][0]["text"], "document d3 about topic1003");

    // Delete a document.
    let r = api.delete("/v1/projects/kb/documents/d9");
    assert_eq!((r.status, r.body["version"].as_u64()), (200, Some(4)));
    assert!(!nearest(&api, "kb", 9, DIMS, 5).contains(&"d9".to_string()));
    assert_eq!(api.get("/v1/projects/kb/documents/d9").status, 404);

    // Health, usage, versions.
    let h = api.get("/v1/projects/kb/health");
    assert_eq!(h.body["status"], "healthy", "{}", h.text);
    assert_eq!(
        (h.body["documents"].as_u64(), h.body["version"].as_u64()),
        (Some(49), Some(4))
    );
    assert!(h.body["queries"]["count"].as_u64().unwrap() >= 5);
    let u = api.get("/v1/projects/kb/usage");
    assert_eq!(u.body["documents"]["used"], 49);
    assert!(u.body["rate_limit_key"]["remaining"].as_u64().is_some());
    assert!(u.header("ratelimit-remaining").is_some());
    let v = api.get("/v1/projects/kb/versions");
    assert_eq!(v.body["current"], 4);
    assert_eq!(v.body["versions"][0]["action"], "delete");

    // Rollback needs admin; it brings d9 and the old d3 back.
    assert_eq!(
        api.post("/v1/projects/kb/rollback", &json!({ "version": 2 }))
            .status,
        403
    );
    let r = admin.ok("/v1/projects/kb/rollback", &json!({ "version": 2 }));
    assert_eq!(r["version"], 5);
    assert_eq!(nearest(&api, "kb", 9, DIMS, 1), vec!["d9"]);
    assert_eq!(nearest(&api, "kb", 3, DIMS, 1), vec!["d3"]);

    // SSE: one event per result, then `done`.
    let sse = api.send(
        "POST",
        "/v1/projects/kb/query",
        "application/json",
        json!({ "vector": vector(7, DIMS), "top_k": 3 })
            .to_string()
            .as_bytes(),
        &[("Accept", "text/event-stream")],
    );
    assert_eq!(sse.status, 200);
    assert!(
        sse.header("content-type")
            .unwrap()
            .starts_with("text/event-stream")
    );
    assert_eq!(sse.text.matches("event: result").count(), 3, "{}", sse.text);
    assert!(sse.text.contains("event: done"));

    // Export, then import into a new project: same answers, no re-embedding.
    let archive = admin.send("POST", "/v1/projects/kb/export", "", b"", &[]);
    assert_eq!(archive.status, 200);
    let imported = admin.send(
        "POST",
        "/v1/projects/import?id=kb-copy",
        "application/x-ndjson",
        archive.text.as_bytes(),
        &[],
    );
    assert_eq!(imported.status, 201, "{}", imported.text);
    for seed in [1, 9, 20, 33] {
        assert_eq!(
            nearest(&admin, "kb", seed, DIMS, 5),
            nearest(&admin, "kb-copy", seed, DIMS, 5)
        );
    }

    // The operation log names who did what.
    let ops = admin.get("/v1/projects/kb/operations");
    let actions: Vec<&str> = ops.body["operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"rollback")
            && actions.contains(&"ingest")
            && actions.contains(&"key.create"),
        "{actions:?}"
    );

    // Delete the project: everything goes.
    assert_eq!(admin.delete("/v1/projects/kb").status, 204);
    assert_eq!(admin.get("/v1/projects/kb").status, 404);
    assert_eq!(
        api.get("/v1/projects/kb/health").status,
        401,
        "its keys are gone too"
    );
    assert_eq!(
        count_objects(&*objects(dir.path()), "projects/kb/"),
        0,
        "no object of the project is left"
    );
    assert!(server.stop(), "graceful shutdown on SIGTERM");
}

#[test]
fn text_documents_are_chunked_and_embedded_by_the_model() {
    let server = Server::temporary();
    let admin = server.admin_api();
    admin.ok("/v1/projects", &json!({ "id": "notes" }));
    let md = "# Coffee\n\nEspresso is brewed by forcing hot water through finely ground coffee.\n\n# Bread\n\nSourdough rises with wild yeast from a starter.\n";
    let r = admin.send(
        "POST",
        "/v1/projects/notes/documents?id=guide",
        "text/markdown",
        md.as_bytes(),
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["documents"][0]["chunks"], 2);
    let r = admin.ok(
        "/v1/projects/notes/query",
        &json!({ "text": "how is bread leavened?", "mode": "vector", "top_k": 1 }),
    );
    assert!(
        r["results"][0]["text"]
            .as_str()
            .unwrap()
            .contains("Sourdough"),
        "{r}"
    );
    // The same text again: nothing to embed, nothing to commit.
    let again = admin.send(
        "POST",
        "/v1/projects/notes/documents?id=guide",
        "text/markdown",
        md.as_bytes(),
        &[],
    );
    assert_eq!(again.body["documents"][0]["status"], "unchanged");
    assert_eq!(again.body["embedded"], 0);
}

#[test]
fn the_service_routes_answer_without_a_key() {
    let server = Server::temporary();
    let anon = server.api("");
    assert_eq!(anon.get("/healthz").status, 200);
    let spec = anon.get("/openapi.json");
    assert_eq!(spec.status, 200);
    for route in snapkb_http::ROUTES {
        assert!(
            spec.body["paths"][route.path][route.method.to_lowercase()].is_object(),
            "{} {}",
            route.method,
            route.path
        );
    }
    assert_eq!(anon.get("/v1/projects").status, 401);
    assert_eq!(anon.get("/nope").status, 404);
}
