//! The Cloudflare Worker under workerd (Miniflare, with R2 and D1 simulated on disk): the
//! storage adapters pass the conformance suite inside the runtime, and the HTTP suite's core
//! cases pass against the Worker — projects and keys, caller-vector ingest, queries,
//! isolation, bad input — and text through another deployment's `/v1/embed`.

use std::path::Path;

use serde_json::{Value, json};
use snapkb_e2e::{
    Api, Server, WorkerServer, doc, keyword_and_hybrid_find_their_documents, nearest,
    new_admin_key, vector, worker_bundle,
};

const DIMS: usize = 8;

const CONFORMANCE: [&str; 12] = [
    "objects_round_trip",
    "objects_put_if_absent_refuses_an_existing_object",
    "objects_put_if_absent_has_exactly_one_winner",
    "objects_ranged_reads",
    "objects_list_by_prefix_with_pagination",
    "items_round_trip_with_conditions",
    "items_conditional_put_races_have_exactly_one_winner",
    "transactions_are_all_or_nothing",
    "concurrent_transactions_commit_each_version_once",
    "counters_add_atomically",
    "queries_by_prefix_with_pagination",
    "expired_items_go_and_live_ones_stay",
];

fn field(reply: &snapkb_e2e::Reply) -> &str {
    reply.body["field"].as_str().unwrap_or_default()
}

fn assert_problem(reply: &snapkb_e2e::Reply, status: u16, field_name: Option<&str>) {
    assert_eq!(reply.status, status, "{}", reply.text);
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json"),
        "{}",
        reply.text
    );
    if let Some(name) = field_name {
        assert_eq!(field(reply), name, "{}", reply.text);
    }
}

#[test]
fn r2_and_d1_adapters_pass_the_storage_conformance_suite_inside_workerd() {
    let persist = tempfile::tempdir().unwrap();
    let worker = WorkerServer::start(&worker_bundle("worker-conformance"), persist.path(), &[]);
    let api = worker.api("none");
    for check in CONFORMANCE {
        let r = api.send(
            "POST",
            &format!("/__conformance/{check}"),
            "text/plain",
            b"",
            &[],
        );
        assert_eq!(r.status, 200, "{check}: {}", r.text);
    }
    let r = api.send(
        "POST",
        "/__conformance/no_such_check",
        "text/plain",
        b"",
        &[],
    );
    assert_eq!(
        r.status, 404,
        "an unknown check is refused, so the list above is real"
    );
}

#[test]
fn projects_keys_vector_ingest_and_queries_work_on_the_worker() {
    let persist = tempfile::tempdir().unwrap();
    let (worker, admin_key) = worker_with_admin(persist.path());
    assert_eq!(worker.api("none").get("/healthz").status, 200);
    let admin = worker.api(&admin_key);

    // Projects and keys (the keys group).
    let created = admin.create_project("kb", DIMS, json!({ "name": "Edge" }));
    assert_eq!(created["project"]["id"], "kb");
    admin.create_project("other", DIMS, json!({}));
    let (_, writer) = admin.create_key("kb", &["read", "write"]);
    let (_, reader) = admin.create_key("kb", &["read"]);
    let (_, other_key) = admin.create_key("other", &["read", "write"]);
    let api = admin.with_key(&writer);

    // Caller-vector ingest and every query mode a deployment without a model serves.
    let docs: Vec<Value> = (0..30).map(|i| doc(&format!("d{i}"), i, DIMS)).collect();
    let r = api.ok("/v1/projects/kb/documents", &json!({ "documents": docs }));
    assert_eq!(r["documents"].as_array().unwrap().len(), 30);
    let read = admin.with_key(&reader);
    assert_eq!(nearest(&read, "kb", 17, DIMS, 1), vec!["d17"]);
    keyword_and_hybrid_find_their_documents(&read, "kb", DIMS);
    let r = read.ok(
        "/v1/projects/kb/query",
        &json!({ "vector": vector(2, DIMS), "top_k": 50,
                 "filter": { "eq": { "field": "group", "value": "g2" } } }),
    );
    let hits = r["results"].as_array().unwrap();
    assert!(!hits.is_empty() && hits.iter().all(|h| h["metadata"]["group"] == "g2"));
    let r = read.get("/v1/projects/kb/documents/d3");
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(api.delete("/v1/projects/kb/documents/d3").status, 200);
    assert_eq!(read.get("/v1/projects/kb/documents/d3").status, 404);

    // Isolation: a key never reaches another project; a read key cannot write.
    let intruder = admin.with_key(&other_key);
    assert_eq!(intruder.get("/v1/projects/kb").status, 404);
    let r = intruder.post(
        "/v1/projects/kb/query",
        &json!({ "vector": vector(1, DIMS) }),
    );
    assert_eq!(r.status, 404, "{}", r.text);
    assert!(nearest(&intruder, "other", 1, DIMS, 5).is_empty());
    let r = read.post(
        "/v1/projects/kb/documents",
        &json!({ "documents": [doc("x", 1, DIMS)] }),
    );
    assert_problem(&r, 403, None);
    assert_eq!(
        worker.api("sk_not_a_key").get("/v1/projects/kb").status,
        401
    );

    // Bad input: clear problems naming the field, and nothing changes.
    let before = read.get("/v1/projects/kb").body["stats"].clone();
    let r = api.send(
        "POST",
        "/v1/projects/kb/documents",
        "application/json",
        b"{\"documents\": [",
        &[],
    );
    assert_problem(&r, 400, None);
    let mut wrong = doc("w", 1, DIMS);
    wrong["vector"] = json!(vector(1, DIMS + 1));
    let r = api.post(
        "/v1/projects/kb/documents",
        &json!({ "documents": [wrong] }),
    );
    assert_problem(&r, 422, Some("documents[0].vector"));
    let r = read.post("/v1/projects/kb/query", &json!({ "vector": vector(1, 3) }));
    assert_problem(&r, 422, Some("vector"));
    let r = read.post("/v1/projects/kb/query", &json!({ "top_k": 5 }));
    assert_problem(&r, 422, Some("text"));
    let r = admin.post(
        "/v1/projects",
        &json!({ "id": "Bad Id!", "embedding": { "model": null, "dims": 4 } }),
    );
    assert_problem(&r, 422, Some("id"));
    assert_eq!(read.get("/v1/projects/kb").body["stats"], before);

    // No model and no SNAPKB_EMBED_URL: a model project cannot be created, /v1/embed says why.
    let r = admin.post("/v1/projects", &json!({ "id": "texts" }));
    assert_problem(&r, 422, Some("embedding.model"));
    let r = read.post("/v1/embed", &json!({ "input": "hello" }));
    assert_problem(&r, 422, Some("input"));

    // Export stays on the regional deployment: the Worker does not mount it.
    assert_eq!(admin.post("/v1/projects/kb/export", &json!({})).status, 404);
}

fn embedding(api: &Api, text: &str) -> Vec<f64> {
    let r = api.ok(
        "/v1/embed",
        &json!({ "input": [text], "model": "all-MiniLM-L6-v2" }),
    );
    assert_eq!(r["object"], "list");
    assert_eq!(r["data"][0]["index"], 0);
    r["data"][0]["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

#[test]
fn the_worker_embeds_text_through_another_deployments_embed_route() {
    // A regional deployment with the model serves /v1/embed to any read key.
    let dir = tempfile::tempdir().unwrap();
    let regional = Server::start(dir.path());
    let regional_admin = regional.admin_api();
    regional_admin.create_project("home", DIMS, json!({}));
    let (_, embed_key) = regional_admin.create_key("home", &["read"]);
    let direct = embedding(&regional_admin.with_key(&embed_key), "edge functions");
    assert_eq!(direct.len(), 384);
    let norm: f64 = direct.iter().map(|x| x * x).sum::<f64>().sqrt();
    assert!((norm - 1.0).abs() < 1e-3, "unit length, got {norm}");
    let r = regional_admin.with_key(&embed_key).post(
        "/v1/embed",
        &json!({ "input": ["a", "b"], "model": "text-embedding-3-small" }),
    );
    assert_problem(&r, 422, Some("model"));

    // The Worker embeds through it: a model project, text ingest, text queries.
    let persist = tempfile::tempdir().unwrap();
    let (admin_key, hash) = new_admin_key();
    let embed_url = format!("{}/v1/embed", regional.url);
    let worker = WorkerServer::start(
        &worker_bundle("worker"),
        persist.path(),
        &[
            ("SNAPKB_ADMIN_KEY_SHA256", &hash),
            ("SNAPKB_EMBED_URL", &embed_url),
            ("SNAPKB_EMBED_TOKEN", &embed_key),
        ],
    );
    let admin = worker.api(&admin_key);
    admin.ok("/v1/projects", &json!({ "id": "texts" }));
    let (_, writer) = admin.create_key("texts", &["read", "write"]);
    let api = admin.with_key(&writer);
    api.ok(
        "/v1/projects/texts/documents",
        &json!({ "documents": [
            { "id": "cats", "text": "Cats are small domesticated felines that purr and chase mice." },
            { "id": "rust", "text": "Rust is a systems programming language focused on memory safety." },
            { "id": "bread", "text": "Sourdough bread rises with wild yeast and lactic acid bacteria." }
        ] }),
    );
    let r = api.ok(
        "/v1/projects/texts/query",
        &json!({ "text": "a compiled language that prevents memory bugs", "mode": "vector", "top_k": 1 }),
    );
    assert_eq!(r["results"][0]["document_id"], "rust", "{r}");
    let r = api.ok(
        "/v1/projects/texts/query",
        &json!({ "text": "kitten", "top_k": 1 }),
    );
    assert_eq!(r["mode"], "hybrid");
    assert_eq!(r["results"][0]["document_id"], "cats", "{r}");
    let through_worker = embedding(&api, "edge functions");
    let drift: f64 = direct
        .iter()
        .zip(&through_worker)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(
        drift < 1e-5,
        "the Worker relays the same vector, drift {drift}"
    );
    worker.stop();

    // The same data on a Worker without an embedding URL: text queries get a clear 422,
    // keyword queries still work.
    let worker = WorkerServer::start(
        &worker_bundle("worker"),
        persist.path(),
        &[("SNAPKB_ADMIN_KEY_SHA256", &hash)],
    );
    let api = worker.api(&writer);
    let r = api.post("/v1/projects/texts/query", &json!({ "text": "kitten" }));
    assert_problem(&r, 422, Some("text"));
    let r = api.ok(
        "/v1/projects/texts/query",
        &json!({ "text": "sourdough", "mode": "keyword" }),
    );
    assert_eq!(r["results"][0]["document_id"], "bread");
}

#[test]
fn the_cron_sweep_compacts_projects_past_their_triggers() {
    let persist = tempfile::tempdir().unwrap();
    let (worker, admin_key) = worker_with_admin(persist.path());
    let admin = worker.api(&admin_key);
    admin.create_project("swept", DIMS, json!({}));
    for batch in 0..3u64 {
        let docs: Vec<Value> = (0..2)
            .map(|i| doc(&format!("d{batch}-{i}"), batch * 2 + i, DIMS))
            .collect();
        admin.ok(
            "/v1/projects/swept/documents",
            &json!({ "documents": docs }),
        );
    }
    let health = || admin.get("/v1/projects/swept/health").body;
    assert_eq!(health()["wal_segments"], 3, "below the default triggers");
    let r = admin.patch(
        "/v1/projects/swept",
        &json!({ "compaction": { "max_wal_segments": 1, "max_wal_chunks": 20000,
                 "rebuild_deleted_fraction": 0.2, "retain_versions": 20 } }),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let r = admin.get("/cdn-cgi/handler/scheduled?cron=*/10+*+*+*+*");
    assert_eq!(r.status, 200, "{}", r.text);
    let h = health();
    assert_eq!(h["wal_segments"], 0, "the sweep compacted the log: {h}");
    assert_eq!(h["chunks"], 6, "{h}");
    assert_eq!(nearest(&admin, "swept", 5, DIMS, 1), vec!["d2-1"]);
}

/// The Worker bundle on `persist`, with a new deployment admin key.
fn worker_with_admin(persist: &Path) -> (WorkerServer, String) {
    let (admin_key, hash) = new_admin_key();
    let worker = WorkerServer::start(
        &worker_bundle("worker"),
        persist,
        &[("SNAPKB_ADMIN_KEY_SHA256", &hash)],
    );
    (worker, admin_key)
}
