//! The engine against callers who mean harm or are merely careless: every input bounded and
//! refused by name, queries stopped at their deadline, a re-created project never mistaken
//! for the one it replaced (on another instance either), keys only for live projects, and
//! webhook deliveries claimed only when they are accepted.

mod common;

use common::{project, vector};

use std::sync::Arc;

use serde_json::{Value, json};
use snapkb_core::{Config, Limits, Principal, ProjectPatch, Quotas, RateLimits};
use snapkb_engine::{
    ChunkInput, CreateKey, CreateProject, DocumentInput, Engine, EngineError, IngestRequest,
    QueryRequest, sign_webhook,
};
use snapkb_index::{Filter, MetaValue};
use snapkb_store::{MemoryMetaStore, MemoryObjectStore, MetaStore, ObjectStore};

const ADMIN: Principal = Principal::DeploymentAdmin;

fn stores() -> (Arc<dyn ObjectStore>, Arc<dyn MetaStore>) {
    (
        Arc::new(MemoryObjectStore::default()),
        Arc::new(MemoryMetaStore::default()),
    )
}

fn engine_with(config: Config) -> Engine {
    let (objects, meta) = stores();
    Engine::new(objects, meta, config)
}

fn doc(id: &str, seed: u64) -> DocumentInput {
    DocumentInput {
        id: id.into(),
        text: Some(format!("document {id} about topic{seed}")),
        metadata: json!({ "n": seed }).as_object().unwrap().clone(),
        vector: Some(vector(seed)),
        ..Default::default()
    }
}

async fn ingest(engine: &Engine, p: &str, docs: Vec<DocumentInput>) -> Result<u64, EngineError> {
    engine
        .ingest(&ADMIN, p, IngestRequest { documents: docs })
        .await
        .map(|r| r.version)
}

async fn documents_found(engine: &Engine, p: &str) -> Result<Vec<String>, EngineError> {
    let request = QueryRequest {
        vector: Some(vector(1)),
        top_k: 100,
        ..Default::default()
    };
    let r = engine.query(&ADMIN, p, request).await?;
    let mut ids: Vec<String> = r.results.into_iter().map(|h| h.document_id).collect();
    ids.sort();
    Ok(ids)
}

/// A new key of project `p` with `scope`, as the principal its token authenticates as.
async fn key_of(e: &Engine, p: &str, scope: snapkb_core::Scope) -> Principal {
    let request = CreateKey {
        name: format!("{scope:?} key"),
        scopes: vec![scope],
        expires_in_seconds: None,
    };
    let token = e.create_key(&ADMIN, p, request).await.unwrap().token;
    e.authenticate(&token).await.unwrap()
}

/// Makes `d` a document of `n` chunks of its own, each with its vector.
fn with_chunks(d: &mut DocumentInput, n: usize) {
    d.text = None;
    d.vector = None;
    let chunks = (0..n as u64).map(|i| ChunkInput {
        text: format!("{} chunk {i}", d.id),
        vector: vector(i),
    });
    d.chunks = Some(chunks.collect());
}

fn with_limits(limits: Limits) -> Config {
    Config {
        limits,
        ..Config::default()
    }
}

fn refused_field(result: Result<u64, EngineError>) -> String {
    match result {
        Err(EngineError::Invalid { field, .. }) => field,
        other => panic!("expected a 422 naming a field, got {other:?}"),
    }
}

#[tokio::test]
async fn metadata_tags_and_chunks_past_their_limits_are_refused_naming_the_field() {
    let limits = Limits::default();
    let e = engine_with(Config::default());
    project(&e, "p").await;
    let mut wide = doc("wide", 1);
    wide.metadata = (0..=limits.max_metadata_keys)
        .map(|i| (format!("k{i}"), json!(i)))
        .collect();
    assert_eq!(
        refused_field(ingest(&e, "p", vec![doc("ok", 0), wide]).await),
        "documents[1].metadata"
    );
    let mut heavy = doc("heavy", 1);
    heavy.metadata = json!({ "blob": "x".repeat(limits.max_metadata_bytes) })
        .as_object()
        .unwrap()
        .clone();
    assert_eq!(
        refused_field(ingest(&e, "p", vec![heavy]).await),
        "documents[0].metadata"
    );
    let mut tagged = doc("tagged", 1);
    tagged.tags = (0..=limits.max_tags).map(|i| format!("t{i}")).collect();
    assert_eq!(
        refused_field(ingest(&e, "p", vec![tagged]).await),
        "documents[0].tags"
    );
    let mut chunked = doc("chunked", 1);
    with_chunks(&mut chunked, limits.max_chunks_per_document + 1);
    assert_eq!(
        refused_field(ingest(&e, "p", vec![chunked]).await),
        "documents[0].chunks"
    );
    assert!(
        documents_found(&e, "p").await.unwrap().is_empty(),
        "a refused request writes nothing"
    );
}

#[tokio::test]
async fn a_documents_metadata_is_stored_once_however_many_chunks_it_has() {
    let (objects, meta) = stores();
    let e = Engine::new(objects.clone(), meta, Config::default());
    project(&e, "p").await;
    let blob = "x".repeat(8000);
    let mut d = doc("big", 1);
    d.metadata = json!({ "blob": blob, "kind": "manual" })
        .as_object()
        .unwrap()
        .clone();
    d.tags = vec!["t".into()];
    with_chunks(&mut d, 2000);
    ingest(&e, "p", vec![d]).await.unwrap();
    let stored = |objects: Arc<dyn ObjectStore>| async move {
        let page = objects.list("projects/p/", None, 1000).await.unwrap();
        page.objects.iter().map(|o| o.size).sum::<u64>()
    };
    // 2,000 chunks × 8 KB of metadata would be 16 MB copied; stored once, the segment is the
    // chunk rows (ids, texts, 8-dim vectors) plus one copy.
    let wal_bytes = stored(objects.clone()).await;
    assert!(wal_bytes < 400_000, "WAL segments hold {wal_bytes} bytes");
    e.compact("p", true).await.unwrap();
    let after = stored(objects.clone()).await;
    assert!(
        after < 2 * wal_bytes + 400_000,
        "after compaction {after} bytes"
    );
    let document = e.get_document(&ADMIN, "p", "big").await.unwrap();
    assert_eq!(document.chunk_count, 2000);
    assert_eq!(document.metadata["blob"], MetaValue::Text(blob.clone()));
    let chunks = document.chunks.unwrap();
    let in_order = (0..2000).map(|i| format!("big chunk {i}"));
    assert!(chunks.iter().map(|c| c.text.clone()).eq(in_order));
    let filter = Filter::Eq {
        field: "kind".into(),
        value: MetaValue::Text("manual".into()),
    };
    assert_eq!(filtered(&e, filter).await.unwrap(), 10);
}

fn or_of(n: usize) -> Filter {
    Filter::Or(
        (0..n)
            .map(|i| Filter::Eq {
                field: "n".into(),
                value: MetaValue::Int(i as i64),
            })
            .collect(),
    )
}

async fn filtered(e: &Engine, filter: Filter) -> Result<usize, EngineError> {
    let request = QueryRequest {
        vector: Some(vector(1)),
        top_k: 10,
        filter: Some(filter),
        ..Default::default()
    };
    Ok(e.query(&ADMIN, "p", request).await?.results.len())
}

#[tokio::test]
async fn filters_past_their_limits_are_refused_before_any_row_is_read() {
    let limits = Limits::default();
    let e = engine_with(Config::default());
    project(&e, "p").await;
    ingest(&e, "p", (0..20).map(|i| doc(&format!("d{i}"), i)).collect())
        .await
        .unwrap();
    assert_eq!(filtered(&e, or_of(10)).await.unwrap(), 10);
    let too_wide = or_of(100_000);
    let mut too_deep = Filter::Exists { field: "n".into() };
    for _ in 0..limits.max_filter_depth {
        too_deep = Filter::Not(Box::new(too_deep));
    }
    let too_long = Filter::In {
        field: "n".into(),
        values: (0..=limits.max_filter_values as i64)
            .map(MetaValue::Int)
            .collect(),
    };
    for (what, f) in [
        ("clauses", too_wide),
        ("levels", too_deep),
        ("values", too_long),
    ] {
        match filtered(&e, f).await {
            Err(EngineError::Invalid { field, reason }) => {
                assert_eq!(field, "filter");
                assert!(reason.contains(what), "{reason}");
            }
            other => panic!("{what}: expected a 422, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_query_still_scanning_at_its_deadline_is_stopped_with_a_timeout() {
    let e = engine_with(with_limits(Limits {
        query_deadline_ms: 1,
        ..Limits::default()
    }));
    project(&e, "p").await;
    for batch in 0..4u64 {
        let docs = (0..2500)
            .map(|i| doc(&format!("d{batch}-{i}"), batch * 10_000 + i))
            .collect();
        ingest(&e, "p", docs).await.unwrap();
    }
    e.compact("p", true).await.unwrap();
    // 10,000 chunks × 256 clauses that never match: far more than a millisecond of scanning.
    let never = Filter::Or(
        (0..255)
            .map(|i| Filter::Eq {
                field: "n".into(),
                value: MetaValue::Text(format!("no{i}")),
            })
            .collect(),
    );
    match filtered(&e, never).await {
        Err(EngineError::Timeout { after_ms: 1 }) => {}
        other => panic!("expected a timeout, got {other:?}"),
    }
}

#[tokio::test]
async fn a_re_created_project_never_serves_the_old_projects_chunks_on_another_instance() {
    let (objects, meta) = stores();
    let config = Config {
        gc_grace_ms: 0,
        ..Config::default()
    };
    let a = Engine::new(objects.clone(), meta.clone(), config.clone());
    let b = Engine::new(objects, meta, config);
    project(&a, "p").await;
    for i in 0..5 {
        ingest(&a, "p", vec![doc(&format!("old{i}"), i)])
            .await
            .unwrap();
    }
    let old_principal = key_of(&a, "p", snapkb_core::Scope::Read).await;
    assert_eq!(documents_found(&a, "p").await.unwrap().len(), 5);
    // Another instance deletes the project and a new tenant gets the same id.
    b.delete_project(&ADMIN, "p").await.unwrap();
    project(&b, "p").await;
    ingest(&b, "p", vec![doc("new", 1)]).await.unwrap();
    // Instance `a` still has the old index, configuration and key cached. It may ask for one
    // retry while it notices; it never answers with the old tenant's chunks.
    let mut answers = Vec::new();
    for _ in 0..2 {
        match documents_found(&a, "p").await {
            Ok(ids) => answers.push(ids),
            Err(EngineError::Unavailable(_)) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(
        answers.last(),
        Some(&vec!["new".to_string()]),
        "{answers:?}"
    );
    assert!(answers.iter().all(|ids| ids == &["new"]), "{answers:?}");
    ingest(&a, "p", vec![doc("new2", 2)]).await.unwrap();
    // The old tenant's key, still in `a`'s cache, does not open the new project.
    let request = QueryRequest {
        vector: Some(vector(1)),
        ..Default::default()
    };
    for _ in 0..2 {
        match a.query(&old_principal, "p", request.clone()).await {
            Err(EngineError::Unauthorized | EngineError::Unavailable(_)) => {}
            other => panic!("the old key must not read the new project: {other:?}"),
        }
    }
    assert!(matches!(
        a.query(&old_principal, "p", request).await,
        Err(EngineError::Unauthorized)
    ));
}

#[tokio::test]
async fn a_key_is_never_made_for_a_project_that_is_being_deleted() {
    let (objects, meta) = stores();
    let e = Engine::new(objects, meta.clone(), Config::default());
    project(&e, "p").await;
    // What a deletion leaves while its purge runs: the project item marked deleted.
    let mut item = meta.get("projects", "p").await.unwrap().unwrap();
    let mut stored: serde_json::Value = serde_json::from_slice(&item.value).unwrap();
    stored["deleted_at"] = json!(1);
    item.value = serde_json::to_vec(&stored).unwrap().into();
    item.version += 1;
    meta.put(item, snapkb_store::Condition::None).await.unwrap();
    let made = e
        .create_key(
            &ADMIN,
            "p",
            CreateKey {
                name: "late".into(),
                scopes: vec![snapkb_core::Scope::Read],
                expires_in_seconds: None,
            },
        )
        .await;
    assert!(
        matches!(made, Err(EngineError::NotFound { .. })),
        "{made:?}"
    );
}

fn signed(e_secret: &str, body: &str) -> (String, String) {
    let timestamp = (snapkb_core::now_ms() / 1000).to_string();
    let signature = sign_webhook(e_secret, &timestamp, body.as_bytes());
    (timestamp, signature)
}

#[tokio::test]
async fn a_refused_webhook_delivery_can_be_sent_again_and_an_accepted_one_cannot() {
    let e = engine_with(Config::default());
    project(&e, "p").await;
    let secret = e.project("p").await.unwrap().webhook_secret.clone();
    let quota = |max_documents| ProjectPatch {
        quotas: Some(Quotas {
            max_documents,
            ..Quotas::default()
        }),
        ..Default::default()
    };
    e.update_project(&ADMIN, "p", quota(0)).await.unwrap();
    let body = json!({ "documents": [serde_json::to_value(doc("d", 1)).unwrap()] }).to_string();
    let (timestamp, signature) = signed(&secret, &body);
    let deliver = || async {
        let delivery = e
            .verify_webhook("p", Some(&timestamp), Some(&signature), body.as_bytes())
            .await?;
        let request: IngestRequest = serde_json::from_str(&body).unwrap();
        e.ingest_webhook(delivery, request).await
    };
    assert!(matches!(deliver().await, Err(EngineError::Quota(_))));
    e.update_project(&ADMIN, "p", quota(10)).await.unwrap();
    assert_eq!(
        deliver().await.unwrap().documents.len(),
        1,
        "the re-sent delivery lands"
    );
    assert!(
        matches!(deliver().await, Err(EngineError::Conflict(_))),
        "a replay does not"
    );
}

#[tokio::test]
async fn webhooks_of_one_project_do_not_use_up_another_projects_rate_limit() {
    let e = engine_with(Config::default());
    let one_per_window = ProjectPatch {
        rate_limits: Some(RateLimits {
            per_key: 1,
            ..RateLimits::default()
        }),
        ..Default::default()
    };
    for p in ["a", "b"] {
        project(&e, p).await;
        e.update_project(&ADMIN, p, one_per_window.clone())
            .await
            .unwrap();
    }
    for p in ["a", "b"] {
        let secret = e.project(p).await.unwrap().webhook_secret.clone();
        let body = format!("{{\"documents\": [], \"n\": \"{p}\"}}");
        let (timestamp, signature) = signed(&secret, &body);
        let delivery = e
            .verify_webhook(p, Some(&timestamp), Some(&signature), body.as_bytes())
            .await
            .unwrap();
        e.check_rate(&delivery.principal, p)
            .await
            .unwrap_or_else(|err| panic!("project {p}'s first delivery was limited: {err:?}"));
    }
}

#[tokio::test]
async fn a_webhook_for_an_unknown_project_is_answered_like_a_bad_signature() {
    let e = engine_with(Config::default());
    project(&e, "p").await;
    let (timestamp, signature) = signed("not the secret", "{}");
    for p in ["p", "nope"] {
        let r = e
            .verify_webhook(p, Some(&timestamp), Some(&signature), b"{}")
            .await;
        assert!(
            matches!(&r, Err(EngineError::BadSignature(reason)) if reason == "signature does not match"),
            "{p}: {r:?}"
        );
    }
}

#[tokio::test]
async fn a_project_cannot_be_named_after_a_route() {
    let e = engine_with(Config::default());
    let made = e
        .create_project(
            &ADMIN,
            CreateProject {
                id: "import".into(),
                ..Default::default()
            },
        )
        .await;
    assert!(
        matches!(&made, Err(EngineError::Invalid { field, .. }) if field == "id"),
        "{made:?}"
    );
}

#[tokio::test]
async fn a_project_key_may_tighten_its_limits_but_only_the_deployment_admin_may_raise_them() {
    let e = engine_with(Config::default());
    project(&e, "p").await;
    let project_admin = key_of(&e, "p", snapkb_core::Scope::Admin).await;
    let defaults = Quotas::default();
    let quota = |max_documents| ProjectPatch {
        quotas: Some(Quotas {
            max_documents,
            ..defaults
        }),
        ..Default::default()
    };
    e.update_project(&project_admin, "p", quota(10))
        .await
        .expect("tightening is the project's own business");
    let raised = e.update_project(&project_admin, "p", quota(u64::MAX)).await;
    assert!(
        matches!(&raised, Err(EngineError::Invalid { field, .. }) if field == "quotas.max_documents"),
        "{raised:?}"
    );
    let compaction = ProjectPatch {
        compaction: Some(snapkb_core::CompactionConfig {
            max_wal_segments: 1,
            ..Default::default()
        }),
        ..Default::default()
    };
    let busier = e
        .update_project(&project_admin, "p", compaction.clone())
        .await;
    assert!(
        matches!(&busier, Err(EngineError::Invalid { field, .. }) if field == "compaction.max_wal_segments"),
        "{busier:?}"
    );
    e.update_project(&ADMIN, "p", quota(u64::MAX / 2))
        .await
        .expect("the deployment admin raises");
    e.update_project(&ADMIN, "p", compaction).await.unwrap();
}

#[tokio::test]
async fn an_import_gets_the_checks_an_ingest_gets() {
    let e = engine_with(Config::default());
    project(&e, "p").await;
    let mut two_chunks = doc("d", 1);
    with_chunks(&mut two_chunks, 2);
    ingest(&e, "p", vec![two_chunks]).await.unwrap();
    let archive = String::from_utf8(e.export(&ADMIN, "p").await.unwrap()).unwrap();
    let lines: Vec<Value> = archive
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "a header and two chunks");
    let tampered = |edit: &dyn Fn(&mut Vec<Value>)| {
        let mut lines = lines.clone();
        edit(&mut lines);
        lines
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    };
    let e = &e;
    let import = |archive: String| async move {
        match e.import(&ADMIN, "copy", archive.as_bytes()).await {
            Err(EngineError::Invalid { field, .. }) => field,
            other => panic!("expected a 422, got {other:?}"),
        }
    };
    // Chunks of one document that disagree on its size would make the counts underflow.
    let sizes = tampered(&|l| l[2]["doc"]["bytes"] = json!(1_000_000));
    assert_eq!(import(sizes).await, "archive.line[3].doc");
    // A document id with `#` (which separates chunk ids) is refused as ingest refuses it.
    let hashed = tampered(&|l| {
        for chunk in &mut l[1..] {
            let id = chunk["id"].as_str().unwrap().replacen("d#", "d#x#", 1);
            chunk["id"] = json!(id);
            chunk["document_id"] = json!("d#x");
        }
    });
    assert_eq!(import(hashed).await, "archive.line[2].document_id");
    let wide = tampered(&|l| {
        l[1]["metadata"] = (0..100).map(|i| (format!("k{i}"), json!(i))).collect();
    });
    assert_eq!(import(wide).await, "archive.line[2].metadata");
    // An export cut short (its last line never arrived) is refused whole.
    let cut = tampered(&|l| {
        l.pop();
    });
    assert_eq!(import(cut).await, "archive");
    assert!(matches!(
        e.project("copy").await,
        Err(EngineError::NotFound { .. })
    ));
}

#[tokio::test]
async fn the_sweep_removes_expired_items_and_prunes_the_operation_log() {
    let (objects, meta) = stores();
    let e = Engine::new(objects, meta.clone(), Config::default());
    project(&e, "p").await;
    meta.add("rate#key#gone", "1", 1, Some(1)).await.unwrap();
    for i in 0..snapkb_engine::OPERATIONS_KEPT as u64 + 5 {
        let sk = format!("op#{:020}#x", u64::MAX - i);
        meta.put(
            snapkb_store::Item::new(
                snapkb_engine::layout::project_pk("p"),
                sk,
                1,
                b"{}".to_vec(),
            ),
            snapkb_store::Condition::None,
        )
        .await
        .unwrap();
    }
    let report = e.sweep().await.unwrap();
    assert!(report.expired_items >= 1, "{report:?}");
    assert!(meta.get("rate#key#gone", "1").await.unwrap().is_none());
    // 10,005 entries written here and the create's own: the six oldest are past the newest
    // 10,000.
    assert_eq!(report.gc.operations_deleted, 6, "{report:?}");
}

#[tokio::test]
async fn a_crashed_import_stays_unseen_and_a_sweep_removes_it_once_abandoned() {
    let (objects, meta) = stores();
    let e = Engine::new(objects, meta.clone(), Config::default());
    // What a crash mid-import leaves: a project marked as being imported.
    for (id, started) in [("stale", 1u64), ("running", snapkb_core::now_ms())] {
        project(&e, id).await;
        let mut item = meta.get("projects", id).await.unwrap().unwrap();
        let mut stored: Value = serde_json::from_slice(&item.value).unwrap();
        stored["importing_since"] = json!(started);
        item.value = serde_json::to_vec(&stored).unwrap().into();
        item.version += 1;
        meta.put(item, snapkb_store::Condition::None).await.unwrap();
    }
    let fresh = Engine::new(
        Arc::new(MemoryObjectStore::default()),
        meta.clone(),
        Config::default(),
    );
    for id in ["stale", "running"] {
        assert!(matches!(
            fresh.get_project(&ADMIN, id).await,
            Err(EngineError::NotFound { .. })
        ));
    }
    assert!(fresh.list_projects(&ADMIN).await.unwrap().is_empty());
    fresh.sweep().await.unwrap();
    assert!(
        meta.get("projects", "stale").await.unwrap().is_none(),
        "abandoned: removed"
    );
    assert!(
        meta.get("projects", "running").await.unwrap().is_some(),
        "running: kept"
    );
}

#[tokio::test]
async fn a_rotated_webhook_secret_refuses_deliveries_signed_with_the_old_one() {
    let e = engine_with(Config::default());
    project(&e, "p").await;
    let old = e.project("p").await.unwrap().webhook_secret.clone();
    let rotated = e.rotate_webhook_secret(&ADMIN, "p").await.unwrap();
    assert_ne!(rotated.webhook_secret, old);
    let body = "{\"documents\": []}";
    let (timestamp, signature) = signed(&old, body);
    assert!(matches!(
        e.verify_webhook("p", Some(&timestamp), Some(&signature), body.as_bytes())
            .await,
        Err(EngineError::BadSignature(_))
    ));
    let (timestamp, signature) = signed(&rotated.webhook_secret, body);
    e.verify_webhook("p", Some(&timestamp), Some(&signature), body.as_bytes())
        .await
        .expect("the new secret signs");
}
