//! A table of bad requests, each with the status it must get — and afterwards the project's
//! data is exactly what it was.

use serde_json::{Value, json};
use snapkb_e2e::{Server, doc, vector};

const DIMS: usize = 8;

#[test]
fn bad_inputs_get_clear_errors_and_change_nothing() {
    let server = Server::temporary();
    let admin = server.admin_api();
    let created = admin.create_project("p", DIMS, json!({}));
    let secret = created["project"]["webhook_secret"]
        .as_str()
        .unwrap()
        .to_string();
    admin.ok("/v1/projects/p/documents", &json!({ "documents": (0..10).map(|i| doc(&format!("d{i}"), i, DIMS)).collect::<Vec<_>>() }));
    let snapshot = |api: &snapkb_e2e::Api| -> (Value, Value, Value) {
        let h = api.get("/v1/projects/p/health").body;
        let q = api.ok(
            "/v1/projects/p/query",
            &json!({ "vector": vector(3, DIMS), "top_k": 10 }),
        );
        (
            h["version"].clone(),
            h["documents"].clone(),
            q["results"].clone(),
        )
    };
    let before = snapshot(&admin);

    let docs = "/v1/projects/p/documents";
    let query = "/v1/projects/p/query";
    let mut wrong_dims = doc("x", 1, DIMS);
    wrong_dims["vector"] = json!(vector(1, DIMS - 1));
    let nan = format!(
        r#"{{"documents":[{{"id":"x","text":"t","vector":[NaN{}]}}]}}"#,
        ",0.5".repeat(DIMS - 1)
    );
    let huge = format!(
        r#"{{"documents":[{{"id":"x","text":"{}"}}]}}"#,
        "a".repeat(20 << 20)
    );
    let mut bad_utf8 = br#"{"documents":[{"id":"x","text":""#.to_vec();
    bad_utf8.extend_from_slice(&[0xff, 0xfe]);
    bad_utf8.extend_from_slice(br#"","vector":[1,1,1,1,1,1,1,1]}]}"#);
    let mut nested = doc("x", 1, DIMS);
    nested["metadata"] = json!({ "deep": { "a": 1 } });
    let mut hash_id = doc("x", 1, DIMS);
    hash_id["id"] = json!("a#b");
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let hook_body = json!({ "documents": [doc("d0", 0, DIMS)] }).to_string();
    let good_signature = snapkb_engine::sign_webhook(&secret, &timestamp, hook_body.as_bytes());
    let bad_signature =
        snapkb_engine::sign_webhook("not-the-secret", &timestamp, hook_body.as_bytes());
    let stale = (timestamp.parse::<u64>().unwrap() - 3600).to_string();
    let stale_signature = snapkb_engine::sign_webhook(&secret, &stale, hook_body.as_bytes());
    let hook = "/v1/projects/p/hooks/ingest";

    struct Case<'a> {
        name: &'a str,
        method: &'a str,
        path: &'a str,
        content_type: &'a str,
        body: Vec<u8>,
        headers: Vec<(&'a str, String)>,
        status: u16,
        field: Option<&'a str>,
    }
    let case = |name, method, path, content_type, body: Vec<u8>, status, field| Case {
        name,
        method,
        path,
        content_type,
        body,
        headers: vec![],
        status,
        field,
    };
    let j = |v: Value| v.to_string().into_bytes();
    let hook_case = |name, headers, status, field| Case {
        headers,
        ..case(
            name,
            "POST",
            hook,
            "application/json",
            hook_body.clone().into_bytes(),
            status,
            field,
        )
    };
    let cases = vec![
        case(
            "malformed JSON",
            "POST",
            docs,
            "application/json",
            b"{\"documents\": [".to_vec(),
            400,
            None,
        ),
        case(
            "wrong dimensions",
            "POST",
            docs,
            "application/json",
            j(json!({ "documents": [wrong_dims] })),
            422,
            Some("documents[0].vector"),
        ),
        case(
            "NaN in a vector",
            "POST",
            docs,
            "application/json",
            nan.into_bytes(),
            400,
            None,
        ),
        case(
            "20 MB body",
            "POST",
            docs,
            "application/json",
            huge.into_bytes(),
            413,
            None,
        ),
        case(
            "invalid UTF-8",
            "POST",
            docs,
            "application/json",
            bad_utf8,
            400,
            None,
        ),
        case(
            "unknown top-level field",
            "POST",
            docs,
            "application/json",
            j(json!({ "documents": [doc("x", 1, DIMS)], "extra": 1 })),
            422,
            Some("extra"),
        ),
        case(
            "unknown document field",
            "POST",
            docs,
            "application/json",
            j(json!({ "documents": [{ "id": "x", "txt": "t" }] })),
            422,
            Some("documents[0]"),
        ),
        case(
            "empty batch",
            "POST",
            docs,
            "application/json",
            j(json!({ "documents": [] })),
            422,
            Some("documents"),
        ),
        case(
            "duplicate ids",
            "POST",
            docs,
            "application/json",
            j(json!({ "documents": [doc("x", 1, DIMS), doc("x", 2, DIMS)] })),
            422,
            Some("documents[1].id"),
        ),
        case(
            "id with #",
            "POST",
            docs,
            "application/json",
            j(json!({ "documents": [hash_id] })),
            422,
            Some("documents[0].id"),
        ),
        case(
            "nested metadata",
            "POST",
            docs,
            "application/json",
            j(json!({ "documents": [nested] })),
            422,
            Some("documents[0].metadata"),
        ),
        case(
            "unsupported content type",
            "POST",
            docs,
            "application/pdf",
            b"%PDF".to_vec(),
            415,
            Some("content-type"),
        ),
        case(
            "top_k 0",
            "POST",
            query,
            "application/json",
            j(json!({ "vector": vector(1, DIMS), "top_k": 0 })),
            422,
            Some("top_k"),
        ),
        case(
            "top_k 10001",
            "POST",
            query,
            "application/json",
            j(json!({ "vector": vector(1, DIMS), "top_k": 10_001 })),
            422,
            Some("top_k"),
        ),
        case(
            "query vector of wrong size",
            "POST",
            query,
            "application/json",
            j(json!({ "vector": [1.0, 2.0] })),
            422,
            Some("vector"),
        ),
        case(
            "unknown query field",
            "POST",
            query,
            "application/json",
            j(json!({ "vector": vector(1, DIMS), "k": 3 })),
            422,
            Some("k"),
        ),
        case(
            "filter on a reserved field",
            "POST",
            query,
            "application/json",
            j(json!({ "vector": vector(1, DIMS), "filter": { "exists": { "field": "_snapkb" } } })),
            422,
            Some("filter"),
        ),
        case(
            "unknown project",
            "POST",
            "/v1/projects/nope/query",
            "application/json",
            j(json!({ "vector": vector(1, DIMS) })),
            404,
            None,
        ),
        case(
            "rollback to a version that never was",
            "POST",
            "/v1/projects/p/rollback",
            "application/json",
            j(json!({ "version": 999 })),
            404,
            None,
        ),
        hook_case(
            "webhook without signature",
            vec![],
            401,
            Some("x-snapkb-signature"),
        ),
        hook_case(
            "webhook with a bad signature",
            vec![
                ("X-Snapkb-Timestamp", timestamp.clone()),
                ("X-Snapkb-Signature", bad_signature),
            ],
            401,
            Some("x-snapkb-signature"),
        ),
        hook_case(
            "webhook with a stale timestamp",
            vec![
                ("X-Snapkb-Timestamp", stale),
                ("X-Snapkb-Signature", stale_signature),
            ],
            401,
            Some("x-snapkb-signature"),
        ),
        hook_case(
            "webhook, first delivery (content unchanged)",
            vec![
                ("X-Snapkb-Timestamp", timestamp.clone()),
                ("X-Snapkb-Signature", good_signature.clone()),
            ],
            200,
            None,
        ),
        hook_case(
            "webhook replayed",
            vec![
                ("X-Snapkb-Timestamp", timestamp.clone()),
                ("X-Snapkb-Signature", good_signature),
            ],
            409,
            None,
        ),
    ];
    let mut failures = Vec::new();
    for c in &cases {
        let headers: Vec<(&str, &str)> = c.headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = admin.send(c.method, c.path, c.content_type, &c.body, &headers);
        let field_ok = c.field.is_none_or(|f| {
            r.body["field"]
                .as_str()
                .is_some_and(|got| got.starts_with(f))
        });
        let problem_ok =
            r.status < 400 || r.header("content-type") == Some("application/problem+json");
        if r.status != c.status || !field_ok || !problem_ok {
            failures.push(format!(
                "{}: expected {} {:?}, got {} {}",
                c.name,
                c.status,
                c.field,
                r.status,
                r.text.chars().take(300).collect::<String>()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(snapshot(&admin), before, "bad requests changed the data");
}
