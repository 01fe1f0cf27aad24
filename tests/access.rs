//! Who can do what: isolation between projects (404 on every route, never another project's
//! chunks), scopes, revoked and expired keys, rate limits and quotas.

use serde_json::json;
use snapkb_e2e::{Server, doc, vector};

const DIMS: usize = 8;

#[test]
fn a_key_never_reaches_another_project() {
    let server = Server::temporary();
    let admin = server.admin_api();
    admin.create_project("alpha", DIMS, json!({}));
    admin.create_project("beta", DIMS, json!({}));
    admin.ok("/v1/projects/alpha/documents", &json!({ "documents": (0..20).map(|i| doc(&format!("a{i}"), i, DIMS)).collect::<Vec<_>>() }));
    admin.ok("/v1/projects/beta/documents", &json!({ "documents": (0..20).map(|i| doc(&format!("b{i}"), i, DIMS)).collect::<Vec<_>>() }));
    let (_, alpha_admin) = admin.create_key("alpha", &["admin"]);
    let a = admin.with_key(&alpha_admin);
    for route in snapkb_http::ROUTES {
        if !route.path.contains("{project}") {
            continue;
        }
        let path = route
            .path
            .replace("{project}", "beta")
            .replace("{document}", "b1")
            .replace("{key}", "0000000000000000");
        let r = a.send(route.method, &path, "application/json", b"{}", &[]);
        let expected = if route.scope == snapkb_http::Access::Signature {
            401
        } else {
            404
        };
        assert_eq!(r.status, expected, "{} {path}: {}", route.method, r.text);
        assert!(!r.text.contains("b1\""), "no data leaks: {}", r.text);
    }
    // Same vectors in both projects: alpha's key only ever sees alpha's chunks.
    let r = a.ok(
        "/v1/projects/alpha/query",
        &json!({ "vector": vector(3, DIMS), "top_k": 100 }),
    );
    let ids: Vec<&str> = r["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["document_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 20);
    assert!(ids.iter().all(|id| id.starts_with('a')));
    let listed = a.get("/v1/projects");
    assert_eq!(listed.body["projects"].as_array().unwrap().len(), 1);
    assert_eq!(listed.body["projects"][0]["id"], "alpha");
}

#[test]
fn scopes_revocation_and_expiry_are_enforced() {
    let server = Server::temporary();
    let admin = server.admin_api();
    admin.create_project("p", DIMS, json!({}));
    let (read_id, read) = admin.create_key("p", &["read"]);
    let (_, write) = admin.create_key("p", &["write"]);
    let (_, export) = admin.create_key("p", &["export"]);
    let body = json!({ "documents": [doc("x", 1, DIMS)] });
    let query = json!({ "vector": vector(1, DIMS) });
    let new_key = json!({ "name": "x", "scopes": ["read"] });
    let new_project = json!({ "id": "q", "embedding": { "model": null, "dims": 4 } });
    // (key, path, JSON body or none, expected status), all POSTs.
    let cases = [
        (&read, "/v1/projects/p/documents", Some(&body), 403),
        (&write, "/v1/projects/p/documents", Some(&body), 200),
        (&write, "/v1/projects/p/query", Some(&query), 403),
        (&read, "/v1/projects/p/query", Some(&query), 200),
        (&read, "/v1/projects/p/export", None, 403),
        (&export, "/v1/projects/p/export", None, 200),
        (&write, "/v1/projects/p/keys", Some(&new_key), 403),
        (&read, "/v1/projects", Some(&new_project), 403),
    ];
    for (key, path, body, status) in cases {
        let api = admin.with_key(key);
        let r = match body {
            Some(body) => api.post(path, body),
            None => api.send("POST", path, "", b"", &[]),
        };
        assert_eq!(r.status, status, "POST {path} with {key}: {}", r.text);
    }
    // Keys are listed without secrets.
    let keys = admin.get("/v1/projects/p/keys");
    assert!(!keys.text.contains(&read[22..]), "no secret in listings");
    assert!(!keys.text.contains("secret_sha256"));
    // Revoked: rejected at once (this process); rotated: old token dead, new token works.
    assert_eq!(
        admin
            .delete(&format!("/v1/projects/p/keys/{read_id}"))
            .status,
        200
    );
    let r = admin.with_key(&read).get("/v1/projects/p/health");
    assert_eq!(r.status, 401);
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    let (write_id, _) = admin.create_key("p", &["read"]);
    let rotated = admin.ok(
        &format!("/v1/projects/p/keys/{write_id}/rotate"),
        &json!({}),
    );
    assert_eq!(
        admin
            .with_key(rotated["token"].as_str().unwrap())
            .get("/v1/projects/p/health")
            .status,
        200
    );
    // Expired.
    let v = admin.ok(
        "/v1/projects/p/keys",
        &json!({ "name": "short", "scopes": ["read"], "expires_in_seconds": 1 }),
    );
    let short = admin.with_key(v["token"].as_str().unwrap());
    assert_eq!(short.get("/v1/projects/p/health").status, 200);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(short.get("/v1/projects/p/health").status, 401);
    // X-API-Key works like Bearer.
    let r = snapkb_e2e::Api::new(&server.url, "").send(
        "GET",
        "/v1/projects/p",
        "",
        b"",
        &[("X-API-Key", server.admin.as_deref().unwrap())],
    );
    assert_eq!(r.status, 200);
}

#[test]
fn rate_limits_answer_429_with_headers_and_quotas_name_the_limit() {
    let server = Server::temporary();
    let admin = server.admin_api();
    admin.create_project(
        "small",
        DIMS,
        json!({ "rate_limits": { "window_seconds": 60, "per_key": 5, "per_project": 1000 }, "quotas": { "max_documents": 3 } }),
    );
    let (_, key) = admin.create_key("small", &["read", "write"]);
    let api = admin.with_key(&key);
    for i in 0..5 {
        let r = api.get("/v1/projects/small/health");
        assert_eq!(r.status, 200);
        assert_eq!(
            r.header("ratelimit-remaining"),
            Some((4 - i).to_string().as_str())
        );
        assert_eq!(r.header("ratelimit-limit"), Some("5"));
    }
    let r = api.get("/v1/projects/small/health");
    assert_eq!(r.status, 429, "{}", r.text);
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    assert_eq!(r.header("ratelimit-remaining"), Some("0"));
    assert_eq!(r.body["type"], "https://snapkb.dev/problems/rate-limited");
    // The admin key is limited only by the project's (higher) limit.
    let docs: Vec<_> = (0..3).map(|i| doc(&format!("d{i}"), i, DIMS)).collect();
    assert_eq!(
        admin
            .post(
                "/v1/projects/small/documents",
                &json!({ "documents": docs })
            )
            .status,
        200
    );
    let r = admin.post(
        "/v1/projects/small/documents",
        &json!({ "documents": [doc("d4", 4, DIMS)] }),
    );
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(r.body["field"], "quotas.max_documents");
    assert_eq!(r.body["type"], "https://snapkb.dev/problems/quota-exceeded");
    let u = admin.get("/v1/projects/small/usage");
    assert_eq!(u.body["documents"], json!({ "used": 3, "limit": 3 }));
}
