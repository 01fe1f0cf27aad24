//! The engine end to end on the in-memory stores, with caller vectors: the commit protocol,
//! read-your-writes, compaction, rollback, GC, export/import, isolation and concurrency.

mod common;

use common::{DIMS, caller_project, project, vector};

use std::sync::Arc;

use snapkb_core::{Config, Principal, Scope};
use snapkb_engine::{
    CreateKey, CreateProject, DocumentInput, DocumentStatus, Engine, EngineError, IngestRequest,
    Pause, QueryMode, QueryRequest,
};
use snapkb_index::{Filter, MetaValue};
use snapkb_store::{MemoryMetaStore, MemoryObjectStore, ObjectStore};

fn engine() -> (Engine, Arc<MemoryObjectStore>) {
    let objects = Arc::new(MemoryObjectStore::default());
    let config = Config {
        gc_grace_ms: 0,
        ..Config::default()
    };
    (
        Engine::new(
            objects.clone(),
            Arc::new(MemoryMetaStore::default()),
            config,
        ),
        objects,
    )
}

fn doc(id: &str, seed: u64, lang: &str) -> DocumentInput {
    DocumentInput {
        id: id.into(),
        text: Some(format!("document {id} about topic{seed}")),
        metadata: serde_json::json!({"lang": lang, "n": seed})
            .as_object()
            .unwrap()
            .clone(),
        tags: vec![format!("t{}", seed % 3)],
        vector: Some(vector(seed)),
        ..Default::default()
    }
}

async fn ingest(engine: &Engine, p: &str, docs: Vec<DocumentInput>) -> u64 {
    engine
        .ingest(
            &Principal::DeploymentAdmin,
            p,
            IngestRequest { documents: docs },
        )
        .await
        .unwrap()
        .version
}

/// A query as the deployment admin.
async fn query_as_admin(
    engine: &Engine,
    project: &str,
    request: QueryRequest,
) -> Result<snapkb_engine::QueryResponse, snapkb_engine::EngineError> {
    engine
        .query(&Principal::DeploymentAdmin, project, request)
        .await
}

async fn query(engine: &Engine, p: &str, seed: u64, k: usize) -> Vec<String> {
    query_as_admin(
        engine,
        p,
        QueryRequest {
            vector: Some(vector(seed)),
            top_k: k,
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .results
    .into_iter()
    .map(|h| h.document_id)
    .collect()
}

#[tokio::test]
async fn ingest_is_visible_to_the_next_query_and_unchanged_documents_are_skipped() {
    let (e, _) = engine();
    project(&e, "p").await;
    let v = ingest(
        &e,
        "p",
        (0..20)
            .map(|i| doc(&format!("d{i}"), i, if i % 2 == 0 { "en" } else { "de" }))
            .collect(),
    )
    .await;
    assert_eq!(v, 2);
    assert_eq!(query(&e, "p", 7, 1).await, vec!["d7"]);
    let again = e
        .ingest(
            &Principal::DeploymentAdmin,
            "p",
            IngestRequest {
                documents: vec![doc("d7", 7, "de")],
            },
        )
        .await
        .unwrap();
    assert_eq!(again.version, 2, "nothing to commit");
    assert_eq!(again.documents[0].status, DocumentStatus::Unchanged);
    let changed = e
        .ingest(
            &Principal::DeploymentAdmin,
            "p",
            IngestRequest {
                documents: vec![doc("d7", 99, "de")],
            },
        )
        .await
        .unwrap();
    assert_eq!(changed.documents[0].status, DocumentStatus::Updated);
    assert_eq!(changed.documents[0].version, 2);
    assert_eq!(query(&e, "p", 99, 1).await, vec!["d7"]);
    let (_, stats) = e
        .get_project(&Principal::DeploymentAdmin, "p")
        .await
        .unwrap();
    assert_eq!((stats.documents, stats.chunks), (20, 20));
}

#[tokio::test]
async fn filters_keyword_and_hybrid_queries_respect_metadata_and_tags() {
    let (e, _) = engine();
    project(&e, "p").await;
    ingest(
        &e,
        "p",
        (0..30)
            .map(|i| doc(&format!("d{i}"), i, if i % 2 == 0 { "en" } else { "de" }))
            .collect(),
    )
    .await;
    let filtered = query_as_admin(
        &e,
        "p",
        QueryRequest {
            vector: Some(vector(3)),
            top_k: 30,
            filter: Some(Filter::And(vec![
                Filter::Eq {
                    field: "lang".into(),
                    value: MetaValue::Text("en".into()),
                },
                Filter::Range {
                    field: "n".into(),
                    gt: None,
                    gte: Some(MetaValue::Int(10)),
                    lt: None,
                    lte: None,
                },
            ])),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(filtered.results.len(), 10);
    assert!(
        filtered
            .results
            .iter()
            .all(|h| h.metadata["lang"] == MetaValue::Text("en".into()))
    );
    let keyword = query_as_admin(
        &e,
        "p",
        QueryRequest {
            text: Some("topic17".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(keyword.mode, QueryMode::Keyword);
    assert_eq!(keyword.results[0].document_id, "d17");
    let hybrid = query_as_admin(
        &e,
        "p",
        QueryRequest {
            text: Some("topic5".into()),
            vector: Some(vector(5)),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(hybrid.mode, QueryMode::Hybrid);
    assert_eq!(hybrid.results[0].document_id, "d5");
    let tags = query_as_admin(
        &e,
        "p",
        QueryRequest {
            vector: Some(vector(1)),
            top_k: 100,
            filter: Some(Filter::In {
                field: "tags".into(),
                values: vec![MetaValue::Text("t1".into())],
            }),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(tags.results.len(), 10);
}

#[tokio::test]
async fn compaction_keeps_results_and_deletions_and_rollback_restores_documents() {
    let (e, objects) = engine();
    project(&e, "p").await;
    for batch in 0..4u64 {
        ingest(
            &e,
            "p",
            (0..25)
                .map(|i| doc(&format!("d{}", batch * 25 + i), batch * 25 + i, "en"))
                .collect(),
        )
        .await;
    }
    e.delete_document(&Principal::DeploymentAdmin, "p", "d10")
        .await
        .unwrap();
    let before: Vec<Vec<String>> =
        futures::future::join_all((0..20).map(|s| query(&e, "p", s, 5))).await;
    let before_compaction = e.read_version("p").await;
    let report = e.compact("p", true).await.unwrap();
    assert!(report.version.is_some());
    let after: Vec<Vec<String>> =
        futures::future::join_all((0..20).map(|s| query(&e, "p", s, 5))).await;
    assert_eq!(before, after, "compaction changes no result");
    assert!(!after.iter().flatten().any(|d| d == "d10"));
    // Updates after compaction land in the new log on top of the new base.
    ingest(&e, "p", vec![doc("d3", 1234, "en")]).await;
    assert_eq!(query(&e, "p", 1234, 1).await, vec!["d3"]);
    let report = e.compact("p", true).await.unwrap();
    assert!(report.version.is_some());
    assert_eq!(query(&e, "p", 1234, 1).await, vec!["d3"]);
    // Roll back to before the first compaction: d3 has its old vector again.
    let v = e
        .rollback(&Principal::DeploymentAdmin, "p", before_compaction)
        .await
        .unwrap();
    assert_eq!(query(&e, "p", 3, 1).await, vec!["d3"]);
    let doc3 = e
        .get_document(&Principal::DeploymentAdmin, "p", "d3")
        .await
        .unwrap();
    assert_eq!(doc3.version, 1);
    let versions = e
        .list_versions(&Principal::DeploymentAdmin, "p", None, 100)
        .await
        .unwrap();
    assert_eq!(versions.current, v);
    assert_eq!(versions.versions[0].action, "rollback");
    // An orphan (a crash between segment write and commit) is collected; referenced objects stay.
    objects
        .put(
            "projects/p/s0/wal/0000000000001-dead.wal",
            bytes::Bytes::from_static(b"x"),
        )
        .await
        .unwrap();
    let gc = e.gc("p").await.unwrap();
    assert_eq!(gc.objects_deleted, 1);
    assert_eq!(query(&e, "p", 3, 1).await, vec!["d3"]);
}

/// Eight writers, 25 ingests each, spread over `engines` (processes sharing the stores).
/// Returns every version a writer was answered with, after checking each writer's grow.
async fn eight_writers(engines: &[Arc<Engine>]) -> Vec<u64> {
    let tasks: Vec<_> = (0..8u64)
        .map(|w| {
            let e = engines[w as usize % engines.len()].clone();
            tokio::spawn(async move {
                let mut versions = Vec::new();
                for i in 0..25u64 {
                    let n = w * 1000 + i;
                    versions.push(ingest(&e, "p", vec![doc(&format!("w{w}-{i}"), n, "en")]).await);
                }
                versions
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        let v = t.await.unwrap();
        assert!(
            v.windows(2).all(|w| w[0] < w[1]),
            "a writer's versions grow"
        );
        all.extend(v);
    }
    all
}

async fn assert_all_two_hundred_are_searchable(e: &Engine) {
    let page = e
        .list_documents(&Principal::DeploymentAdmin, "p", None, 1000)
        .await
        .unwrap();
    assert_eq!(page.documents.len(), 200);
    for w in 0..8u64 {
        assert_eq!(
            query(e, "p", w * 1000 + 7, 1).await,
            vec![format!("w{w}-7")]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writers_in_one_process_take_turns_and_write_no_orphans() {
    let (e, objects) = engine();
    let e = Arc::new(e);
    project(&e, "p").await;
    let mut all = eight_writers(std::slice::from_ref(&e)).await;
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 200, "every commit got its own version");
    let wal = objects.list("projects/p/", None, 10_000).await.unwrap();
    let wal = wal
        .objects
        .iter()
        .filter(|o| o.key.ends_with(".wal"))
        .count();
    assert_eq!(
        wal, 200,
        "no commit lost a race, so no WAL object is an orphan"
    );
    assert_all_two_hundred_are_searchable(&e).await;
}

/// Tokio's timer, remembering every back-off it was asked for.
#[derive(Default)]
struct RecordedPauses(std::sync::Mutex<Vec<std::time::Duration>>);

#[async_trait::async_trait]
impl Pause for RecordedPauses {
    async fn pause(&self, duration: std::time::Duration) {
        self.0.lock().unwrap().push(duration);
        tokio::time::sleep(duration).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writers_in_two_processes_race_back_off_and_lose_nothing() {
    let objects = Arc::new(MemoryObjectStore::default());
    let meta = Arc::new(MemoryMetaStore::default());
    let pauses = Arc::new(RecordedPauses::default());
    let process = || {
        Arc::new(
            Engine::new(objects.clone(), meta.clone(), Config::default())
                .with_pause(pauses.clone()),
        )
    };
    let engines = [process(), process()];
    project(&engines[0], "p").await;
    let mut all = eight_writers(&engines).await;
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 200, "every commit got its own version");
    for e in &engines {
        assert_all_two_hundred_are_searchable(e).await;
    }
    let pauses = pauses.0.lock().unwrap();
    assert!(!pauses.is_empty(), "the two processes raced at least once");
    assert!(
        pauses
            .iter()
            .all(|d| *d <= std::time::Duration::from_millis(100)),
        "back-offs stay under the cap: {pauses:?}"
    );
}

#[tokio::test]
async fn keys_see_only_their_project_and_scopes_are_enforced() {
    let (e, _) = engine();
    project(&e, "a").await;
    project(&e, "b").await;
    ingest(&e, "b", vec![doc("secret", 1, "en")]).await;
    let read = e
        .create_key(
            &Principal::DeploymentAdmin,
            "a",
            CreateKey {
                name: "r".into(),
                scopes: vec![Scope::Read],
                expires_in_seconds: None,
            },
        )
        .await
        .unwrap();
    let principal = e.authenticate(&read.token).await.unwrap();
    let err = e
        .query(
            &principal,
            "b",
            QueryRequest {
                vector: Some(vector(1)),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::NotFound { .. }), "{err:?}");
    let err = e
        .ingest(
            &principal,
            "a",
            IngestRequest {
                documents: vec![doc("x", 1, "en")],
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, EngineError::Forbidden { scope: "write" }),
        "{err:?}"
    );
    let results = e
        .query(
            &principal,
            "a",
            QueryRequest {
                vector: Some(vector(1)),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(results.results.is_empty());
    e.revoke_key(&Principal::DeploymentAdmin, "a", &read.key.id)
        .await
        .unwrap();
    assert!(matches!(
        e.authenticate(&read.token).await,
        Err(EngineError::Unauthorized)
    ));
    let rotated_from = e
        .create_key(
            &Principal::DeploymentAdmin,
            "a",
            CreateKey {
                name: "w".into(),
                scopes: vec![Scope::Write],
                expires_in_seconds: None,
            },
        )
        .await
        .unwrap();
    let rotated = e
        .rotate_key(&Principal::DeploymentAdmin, "a", &rotated_from.key.id)
        .await
        .unwrap();
    assert!(e.authenticate(&rotated_from.token).await.is_err());
    assert!(e.authenticate(&rotated.token).await.is_ok());
}

#[tokio::test]
async fn export_then_import_reproduces_documents_and_results() {
    let (e, _) = engine();
    project(&e, "src").await;
    ingest(
        &e,
        "src",
        (0..40).map(|i| doc(&format!("d{i}"), i, "en")).collect(),
    )
    .await;
    let archive = e.export(&Principal::DeploymentAdmin, "src").await.unwrap();
    let (p, _) = e
        .import(&Principal::DeploymentAdmin, "copy", &archive)
        .await
        .unwrap();
    assert_eq!(p.embedding.dims, DIMS as u32);
    for s in 0..10 {
        assert_eq!(query(&e, "src", s, 5).await, query(&e, "copy", s, 5).await);
    }
    let (_, stats) = e
        .get_project(&Principal::DeploymentAdmin, "copy")
        .await
        .unwrap();
    assert_eq!((stats.documents, stats.chunks), (40, 40));
    let same = e
        .ingest(
            &Principal::DeploymentAdmin,
            "copy",
            IngestRequest {
                documents: vec![doc("d5", 5, "en")],
            },
        )
        .await
        .unwrap();
    assert_eq!(
        same.documents[0].status,
        DocumentStatus::Unchanged,
        "imported documents keep their hashes"
    );
    let bad = e
        .import(
            &Principal::DeploymentAdmin,
            "broken",
            b"{\"format\":\"nope\"}\n",
        )
        .await;
    assert!(matches!(bad, Err(EngineError::Invalid { .. })));
    assert!(
        e.get_project(&Principal::DeploymentAdmin, "broken")
            .await
            .is_err(),
        "nothing half-made"
    );
}

#[tokio::test]
async fn quotas_reject_writes_that_would_pass_them() {
    let (e, _) = engine();
    e.create_project(
        &Principal::DeploymentAdmin,
        CreateProject {
            quotas: Some(snapkb_core::Quotas {
                max_documents: 3,
                ..Default::default()
            }),
            ..caller_project("q")
        },
    )
    .await
    .unwrap();
    ingest(
        &e,
        "q",
        (0..3).map(|i| doc(&format!("d{i}"), i, "en")).collect(),
    )
    .await;
    let err = e
        .ingest(
            &Principal::DeploymentAdmin,
            "q",
            IngestRequest {
                documents: vec![doc("d9", 9, "en")],
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, EngineError::Quota(ref q) if q.field == "quotas.max_documents"),
        "{err:?}"
    );
}

/// A log that compaction has not kept up with stops taking writes (503, retry) before its
/// manifest outgrows a DynamoDB item, and takes them again once compacted; nothing is lost.
#[tokio::test]
async fn an_uncompacted_log_pushes_back_before_the_manifest_outgrows_an_item() {
    let objects = Arc::new(MemoryObjectStore::default());
    let engine = Engine::new(
        objects,
        Arc::new(MemoryMetaStore::default()),
        Config {
            max_manifest_bytes: 4096,
            ..Config::default()
        },
    );
    project(&engine, "p").await;
    let mut accepted = 0;
    let refused = loop {
        let request = IngestRequest {
            documents: vec![doc(&format!("d{accepted}"), accepted, "en")],
        };
        match engine
            .ingest(&Principal::DeploymentAdmin, "p", request)
            .await
        {
            Ok(_) => accepted += 1,
            Err(e) => break e,
        }
        assert!(accepted < 1000, "never pushed back");
    };
    assert!(
        matches!(refused, EngineError::Unavailable(_)),
        "{refused:?}"
    );
    assert!(accepted > 5, "pushed back too early: {accepted}");
    engine.compact("p", true).await.unwrap();
    ingest(&engine, "p", vec![doc("after", 999, "en")]).await;
    for i in (0..accepted).step_by(3) {
        assert_eq!(query(&engine, "p", i, 1).await, vec![format!("d{i}")]);
    }
    assert_eq!(query(&engine, "p", 999, 1).await, vec!["after"]);
}

#[tokio::test]
async fn hybrid_fusion_follows_its_weights_and_bad_settings_name_their_field() {
    use snapkb_engine::{Fusion, FusionMethod, FusionWeights};
    let (e, _) = engine();
    project(&e, "p").await;
    ingest(
        &e,
        "p",
        (0..30).map(|i| doc(&format!("d{i}"), i, "en")).collect(),
    )
    .await;
    // The vector points at d5, the words at d17: the weights decide which comes first.
    let first = |fusion: Fusion| {
        let e = &e;
        async move {
            query_as_admin(
                e,
                "p",
                QueryRequest {
                    text: Some("topic17".into()),
                    vector: Some(vector(5)),
                    fusion: Some(fusion),
                    ..Default::default()
                },
            )
            .await
            .map(|r| r.results[0].document_id.clone())
        }
    };
    for method in [FusionMethod::Rrf, FusionMethod::Weighted] {
        for (weights, expected) in [((1.0, 0.0), "d5"), ((0.0, 1.0), "d17")] {
            let fusion = Fusion {
                method,
                weights: Some(FusionWeights {
                    vector: weights.0,
                    keyword: weights.1,
                }),
                ..Default::default()
            };
            assert_eq!(
                first(fusion).await.unwrap(),
                expected,
                "{method:?} {weights:?}"
            );
        }
    }
    let bad = [
        (
            Fusion {
                k: Some(-1.0),
                ..Default::default()
            },
            "fusion.k",
        ),
        (
            Fusion {
                method: FusionMethod::Weighted,
                k: Some(20.0),
                ..Default::default()
            },
            "fusion.k",
        ),
        (
            Fusion {
                weights: Some(FusionWeights {
                    vector: 0.0,
                    keyword: 0.0,
                }),
                ..Default::default()
            },
            "fusion.weights",
        ),
        (
            Fusion {
                weights: Some(FusionWeights {
                    vector: f32::NAN,
                    keyword: 1.0,
                }),
                ..Default::default()
            },
            "fusion.weights.vector",
        ),
        (
            Fusion {
                candidates: Some(3),
                ..Default::default()
            },
            "fusion.candidates",
        ),
    ];
    for (fusion, field) in bad {
        match first(fusion.clone()).await {
            Err(EngineError::Invalid { field: f, .. }) => assert_eq!(f, field, "{fusion:?}"),
            other => panic!("{fusion:?} gave {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_project_without_a_stemmer_matches_words_only_as_written() {
    use snapkb_core::{KeywordConfig, Stemmer};
    let (e, _) = engine();
    for (id, stemmer) in [("english", Stemmer::English), ("none", Stemmer::None)] {
        e.create_project(
            &Principal::DeploymentAdmin,
            CreateProject {
                keyword: Some(KeywordConfig { stemmer }),
                ..caller_project(id)
            },
        )
        .await
        .unwrap();
        let mut d = doc("d", 1, "en");
        d.text = Some("the tables were vacuumed".into());
        ingest(&e, id, vec![d]).await;
    }
    let hits = |project: &'static str, words: &'static str| {
        let e = &e;
        async move {
            query_as_admin(
                e,
                project,
                QueryRequest {
                    text: Some(words.into()),
                    mode: Some(QueryMode::Keyword),
                    ..Default::default()
                },
            )
            .await
            .unwrap()
            .results
            .len()
        }
    };
    assert_eq!(hits("english", "vacuuming table").await, 1);
    assert_eq!(hits("none", "vacuuming table").await, 0);
    assert_eq!(hits("none", "vacuumed").await, 1);
    // "the" is a stop word in English only.
    assert_eq!(hits("english", "the").await, 0);
    assert_eq!(hits("none", "the").await, 1);
    // Compaction rebuilds the keyword index with the same setting.
    for id in ["english", "none"] {
        e.compact(id, true).await.unwrap();
    }
    assert_eq!(hits("none", "vacuuming").await, 0);
    assert_eq!(hits("english", "vacuuming").await, 1);
}

#[tokio::test]
async fn a_passage_of_a_document_with_other_matching_passages_ranks_above_a_lone_one() {
    use snapkb_engine::{ChunkInput, QueryMode};
    let (e, _) = engine();
    project(&e, "p").await;
    let chunks = |texts: &[&str]| {
        Some(
            texts
                .iter()
                .enumerate()
                .map(|(i, t)| ChunkInput {
                    text: t.to_string(),
                    vector: vector(i as u64),
                })
                .collect(),
        )
    };
    // `lone` has the single best match for "replication"; `guide` matches it in three places,
    // each a little less well; `other` is noise.
    let docs = vec![
        DocumentInput {
            id: "lone".into(),
            chunks: chunks(&["replication replication"]),
            ..Default::default()
        },
        DocumentInput {
            id: "guide".into(),
            chunks: chunks(&[
                "replication slots and standby servers",
                "replication lag on the standby",
                "replication of some tables only",
            ]),
            ..Default::default()
        },
        DocumentInput {
            id: "other".into(),
            chunks: chunks(&["vacuum and analyze", "indexes and plans"]),
            ..Default::default()
        },
    ];
    ingest(&e, "p", docs).await;
    let first = |boost: Option<f32>| {
        let e = &e;
        async move {
            query_as_admin(
                e,
                "p",
                QueryRequest {
                    text: Some("replication".into()),
                    mode: Some(QueryMode::Keyword),
                    top_k: 2,
                    document_boost: boost,
                    ..Default::default()
                },
            )
            .await
        }
    };
    let plain = first(Some(0.0)).await.unwrap();
    assert_eq!(plain.results[0].document_id, "lone");
    assert!(plain.results[0].score > plain.results[1].score);
    let ranked = first(None).await.unwrap();
    assert_eq!(ranked.results.len(), 2);
    assert_eq!(ranked.results[0].document_id, "guide");
    // The hits keep their own BM25 scores; only the order changed.
    assert!(
        ranked
            .results
            .iter()
            .all(|h| h.document_id != "guide" || h.score < plain.results[0].score)
    );
    for bad in [-0.1, 10.5, f32::INFINITY] {
        match first(Some(bad)).await {
            Err(EngineError::Invalid { field, .. }) => assert_eq!(field, "document_boost"),
            other => panic!("{bad} gave {other:?}"),
        }
    }
}
