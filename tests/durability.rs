//! No acknowledged write is lost: read-your-writes, eight concurrent writers, and `kill -9` in
//! the middle of an ingest loop followed by a restart (with GC removing what the crash left).

use std::sync::{Arc, Mutex};

use serde_json::json;
use snapkb_e2e::{Server, block_on, doc, nearest, objects};

const DIMS: usize = 8;

#[test]
fn a_query_after_an_ingest_response_sees_the_write() {
    let server = Server::temporary();
    let admin = server.admin_api();
    admin.create_project("ryw", DIMS, json!({}));
    for i in 0..40u64 {
        let r = admin.ok(
            "/v1/projects/ryw/documents",
            &json!({ "documents": [doc(&format!("d{i}"), i, DIMS)] }),
        );
        let version = r["version"].as_u64().unwrap();
        let q = admin.ok(
            "/v1/projects/ryw/query",
            &json!({ "vector": snapkb_e2e::vector(i, DIMS), "top_k": 1 }),
        );
        assert!(q["version"].as_u64().unwrap() >= version);
        assert_eq!(q["results"][0]["document_id"], format!("d{i}"));
    }
}

#[test]
fn eight_concurrent_writers_lose_nothing_and_duplicate_nothing() {
    let server = Server::temporary();
    let admin = server.admin_api();
    admin.create_project("busy", DIMS, json!({}));
    let threads: Vec<_> = (0..8u64)
        .map(|w| {
            let api = admin.clone();
            std::thread::spawn(move || {
                let mut versions = Vec::new();
                for i in 0..200u64 {
                    let seed = w * 10_000 + i;
                    let r = api.ok(
                        "/v1/projects/busy/documents",
                        &json!({ "documents": [doc(&format!("w{w}-{i}"), seed, DIMS)] }),
                    );
                    versions.push(r["version"].as_u64().unwrap());
                }
                versions
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in threads {
        let versions = t.join().unwrap();
        assert!(
            versions.windows(2).all(|v| v[0] < v[1]),
            "a writer's versions only grow"
        );
        all.extend(versions);
    }
    all.sort_unstable();
    all.dedup();
    assert_eq!(
        all.len(),
        1600,
        "every acknowledged write has its own version"
    );
    let mut ids = Vec::new();
    let mut after = String::new();
    loop {
        let page = admin.get(&format!(
            "/v1/projects/busy/documents?limit=1000&after={after}"
        ));
        for d in page.body["documents"].as_array().unwrap() {
            ids.push(d["id"].as_str().unwrap().to_string());
        }
        match page.body["next"].as_str() {
            Some(n) => after = n.to_string(),
            None => break,
        }
    }
    let count = ids.len();
    ids.dedup();
    assert_eq!((count, ids.len()), (1600, 1600));
    for w in 0..8u64 {
        for i in [0u64, 99, 199] {
            let found = nearest(&admin, "busy", w * 10_000 + i, DIMS, 5);
            assert!(
                found.contains(&format!("w{w}-{i}")),
                "w{w}-{i} searchable: {found:?}"
            );
        }
    }
    let h = admin.get("/v1/projects/busy/health");
    assert_eq!(h.body["chunks"], 1600);
}

#[test]
fn kill_9_during_ingest_loses_no_acknowledged_document_and_gc_removes_orphans() {
    let dir = tempfile::tempdir().unwrap();
    let grace = [("SNAPKB_GC_GRACE_MS", "0")];
    let server = Server::start_with(dir.path(), &grace);
    let admin_key = server.admin.clone().unwrap();
    let admin = server.admin_api();
    admin.create_project("crash", DIMS, json!({}));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let writer = {
        let api = admin.clone();
        let acked = acked.clone();
        std::thread::spawn(move || {
            for i in 0u64.. {
                let body = json!({ "documents": [doc(&format!("d{i}"), i, DIMS)] }).to_string();
                match api.try_send(
                    "POST",
                    "/v1/projects/crash/documents",
                    "application/json",
                    body.as_bytes(),
                    &[],
                ) {
                    Some(r) if r.status == 200 => acked.lock().unwrap().push(i),
                    Some(r) => panic!("unexpected {}: {}", r.status, r.text),
                    None => return,
                }
            }
        })
    };
    while acked.lock().unwrap().len() < 150 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    server.kill();
    writer.join().unwrap();
    let acked = acked.lock().unwrap().clone();
    // What a crash between writing a segment and committing it leaves behind.
    let orphan = "projects/crash/s0/wal/0000000000001-deadbeef0000.wal";
    let store = objects(dir.path());
    block_on(store.put(orphan, b"an uncommitted segment".to_vec().into())).unwrap();

    let restarted = Server::start_with(dir.path(), &grace);
    assert!(
        restarted.admin.is_none(),
        "the admin key is printed on first start only"
    );
    let admin = restarted.api(&admin_key);
    assert!(
        block_on(store.head(orphan)).unwrap().is_none(),
        "GC at start removed the orphan"
    );
    let h = admin.get("/v1/projects/crash/health");
    assert_eq!(h.status, 200, "{}", h.text);
    let documents = h.body["documents"].as_u64().unwrap();
    assert!(
        documents >= acked.len() as u64,
        "{documents} documents, {} acknowledged",
        acked.len()
    );
    for &i in &acked {
        let r = admin.get(&format!("/v1/projects/crash/documents/d{i}"));
        assert_eq!(r.status, 200, "acknowledged d{i} lost");
    }
    for &i in acked.iter().step_by(15) {
        assert!(nearest(&admin, "crash", i, DIMS, 5).contains(&format!("d{i}")));
    }
    // And the project keeps working.
    admin.ok(
        "/v1/projects/crash/documents",
        &json!({ "documents": [doc("after", 99_999, DIMS)] }),
    );
    assert_eq!(nearest(&admin, "crash", 99_999, DIMS, 1), vec!["after"]);
}
