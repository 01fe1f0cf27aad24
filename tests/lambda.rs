//! The Lambda function binaries, run as processes under an emulated Lambda host
//! (tests/lambda_host.rs) on DynamoDB Local and s3s-fs, driven with API Gateway HTTP API (v2),
//! Function URL and S3 event fixtures (tests/fixtures/lambda/).

use base64::Engine as _;
use serde_json::{Value, json};
use snapkb_e2e::{
    aws_function_env, block_on, doc,
    lambda_host::{Fault, FaultProxy, FunctionProcess, LambdaHost, Outcome},
    vector,
};

const DIMS: usize = 8;

fn fixture(name: &str) -> Value {
    let path = format!("{}/fixtures/lambda/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// An HTTP event from a fixture, for `method path?query` with a bearer token and a body.
fn http_event(
    fixture_name: &str,
    method: &str,
    path_query: &str,
    token: &str,
    body: Option<&Value>,
    base64: bool,
) -> Value {
    let mut event = fixture(fixture_name);
    let (path, query) = path_query.split_once('?').unwrap_or((path_query, ""));
    event["rawPath"] = json!(path);
    event["rawQueryString"] = json!(query);
    event["requestContext"]["http"]["method"] = json!(method);
    event["requestContext"]["http"]["path"] = json!(path);
    event["headers"]["authorization"] = json!(format!("Bearer {token}"));
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    if base64 {
        event["body"] = json!(base64::engine::general_purpose::STANDARD.encode(body.as_bytes()));
        event["isBase64Encoded"] = json!(true);
    } else {
        event["body"] = json!(body);
    }
    event
}

/// (status, JSON body) of an HTTP function's answer.
fn answer(outcome: Outcome) -> (u16, Value) {
    let Outcome::Response(r) = outcome else {
        panic!("the function failed: {outcome:?}");
    };
    let status = r["statusCode"].as_u64().unwrap() as u16;
    let text = r["body"].as_str().unwrap_or_default();
    let text = if r["isBase64Encoded"] == true {
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .unwrap(),
        )
        .unwrap()
    } else {
        text.to_string()
    };
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

struct Deployment {
    env: Vec<(String, String)>,
    admin: String,
}

/// A fresh bucket and table, an admin key, and the environment every function gets.
fn deployment(name: &str, host: &LambdaHost) -> Deployment {
    let (admin, hash) = snapkb_core::generate_secret(&snapkb_core::new_key_id());
    let mut env = aws_function_env(name);
    // As deployed: the functions read the admin key's hash from SSM at init.
    let parameter = format!("/{name}/admin-key-sha256");
    host.put_parameter(&parameter, &hash);
    env.push(("SNAPKB_ADMIN_KEY_PARAMETER".into(), parameter));
    env.push(("SNAPKB_SSM_ENDPOINT".into(), host.url()));
    env.push(("SNAPKB_COMPACT_FUNCTION".into(), "snapkb-compact".into()));
    env.push((
        "SNAPKB_LAMBDA_ENDPOINT".into(),
        format!("http://{}", host.addr),
    ));
    Deployment { env, admin }
}

impl Deployment {
    fn var(&self, name: &str) -> String {
        self.env.iter().find(|(k, _)| k == name).unwrap().1.clone()
    }

    /// The environment with `name` set to `value`.
    fn with(&self, name: &str, value: &str) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = self
            .env
            .iter()
            .filter(|(k, _)| k != name)
            .cloned()
            .collect();
        env.push((name.to_string(), value.to_string()));
        env
    }

    /// Creates project `id` for caller vectors of `DIMS` dimensions and ingests `n` documents
    /// into it through an ingest function of its own.
    fn create_project_with_documents(&self, id: &str, n: u64) {
        self.create_project(&json!({ "id": id, "embedding": { "model": null, "dims": DIMS } }));
        let host = LambdaHost::start();
        let _ingest = FunctionProcess::start(&host, "snapkb-ingest", &self.env);
        let docs: Vec<Value> = (0..n).map(|i| doc(&format!("d{i}"), i, DIMS)).collect();
        let (status, body) = post(
            &host,
            &format!("/v1/projects/{id}/documents"),
            &self.admin,
            &json!({ "documents": docs }),
        );
        assert_eq!(status, 200, "{body}");
    }

    /// Creates a project through a keys function of its own.
    fn create_project(&self, body: &Value) {
        let host = LambdaHost::start();
        let _keys = FunctionProcess::start(&host, "snapkb-keys", &self.env);
        let (status, body) = post(&host, "/v1/projects", &self.admin, body);
        assert_eq!(status, 201, "{body}");
    }
}

/// A POST through an API Gateway HTTP API event.
fn post(host: &LambdaHost, path: &str, token: &str, body: &Value) -> (u16, Value) {
    answer(host.invoke(&http_event(
        "apigw-http-v2.json",
        "POST",
        path,
        token,
        Some(body),
        false,
    )))
}

#[test]
fn http_functions_answer_api_gateway_and_function_url_events_with_their_own_routes() {
    let keys_host = LambdaHost::start();
    let d = deployment("http", &keys_host);
    let _keys = FunctionProcess::start(&keys_host, "snapkb-keys", &d.env);
    let (status, body) = post(
        &keys_host,
        "/v1/projects",
        &d.admin,
        &json!({ "id": "kb", "embedding": { "model": null, "dims": DIMS } }),
    );
    assert_eq!(status, 201, "{body}");
    let (status, body) = post(
        &keys_host,
        "/v1/projects/kb/keys",
        &d.admin,
        &json!({ "name": "app", "scopes": ["read", "write"] }),
    );
    assert_eq!(status, 201, "{body}");
    let key = body["token"].as_str().unwrap().to_string();

    // Ingest through a Function URL event with a base64 body.
    let ingest_host = LambdaHost::start();
    let _ingest = FunctionProcess::start(&ingest_host, "snapkb-ingest", &d.env);
    let docs: Vec<Value> = (0..20).map(|i| doc(&format!("d{i}"), i, DIMS)).collect();
    let (status, body) = answer(ingest_host.invoke(&http_event(
        "function-url.json",
        "POST",
        "/v1/projects/kb/documents",
        &key,
        Some(&json!({ "documents": docs })),
        true,
    )));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["documents"].as_array().unwrap().len(), 20);

    // Query through API Gateway: read-your-writes from another function's process.
    let query_host = LambdaHost::start();
    let query = FunctionProcess::start(&query_host, "snapkb-query", &d.env);
    let ask = |host: &LambdaHost, seed: u64| {
        post(
            host,
            "/v1/projects/kb/query",
            &key,
            &json!({ "vector": vector(seed, DIMS), "top_k": 3 }),
        )
    };
    let (status, body) = ask(&query_host, 7);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["results"][0]["document_id"], "d7", "{body}");

    // Each function serves only its group: the query function has no ingest route.
    let (status, _) = post(
        &query_host,
        "/v1/projects/kb/documents",
        &key,
        &json!({ "documents": [doc("x", 1, DIMS)] }),
    );
    assert!(
        status == 404 || status == 405,
        "query function answered ingest with {status}"
    );
    // Errors are problem+json with the field, as on every host.
    let (status, body) = post(
        &query_host,
        "/v1/projects/kb/query",
        &key,
        &json!({ "vector": vector(1, DIMS), "top_k": 0 }),
    );
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["field"], "top_k", "{body}");

    // The warm path: a second query with the key cached and the index current reads the
    // manifest (one GetItem) and counts the rate windows, and touches no S3 object.
    let (status, _) = ask(&query_host, 3);
    assert_eq!(status, 200);
    let metrics = query.metric_lines(4);
    for line in &metrics {
        eprintln!("query function metrics: {line}");
    }
    let warm = metrics.last().expect("an EMF line per request");
    assert_eq!(warm["Function"], "query");
    assert_eq!(warm["Project"], "kb");
    assert_eq!(warm["S3Calls"], 0, "{warm}");
    assert_eq!(warm["DynamoDBReads"], 1, "{warm}");
    let first = &metrics[0];
    assert!(
        first["S3Calls"].as_u64().unwrap() >= 1,
        "the cold query loads the log: {first}"
    );
}

#[test]
fn ingest_past_the_log_trigger_invokes_compact_which_folds_the_log() {
    let host = LambdaHost::start();
    let d = deployment("compact", &host);
    d.create_project(&json!({
        "id": "kb",
        "embedding": { "model": null, "dims": DIMS },
        "compaction": { "max_wal_segments": 2 }
    }));
    let ingest_host = LambdaHost::start();
    let _ingest = FunctionProcess::start(
        &ingest_host,
        "snapkb-ingest",
        &d.with(
            "SNAPKB_LAMBDA_ENDPOINT",
            &format!("http://{}", ingest_host.addr),
        ),
    );
    for i in 0..3 {
        let (status, body) = post(
            &ingest_host,
            "/v1/projects/kb/documents",
            &d.admin,
            &json!({ "documents": [doc(&format!("d{i}"), i, DIMS)] }),
        );
        assert_eq!(status, 200, "{body}");
    }
    let invocations = ingest_host.invocations();
    let (function, payload) = invocations.last().expect("ingest invoked compact");
    assert_eq!(function, "snapkb-compact");
    assert_eq!(payload["project"], "kb");

    let compact_host = LambdaHost::start();
    let _compact = FunctionProcess::start(&compact_host, "snapkb-compact", &d.env);
    let Outcome::Response(report) = compact_host.invoke(payload) else {
        panic!("compact failed");
    };
    assert!(report["report"]["version"].as_u64().is_some(), "{report}");
    // A scheduled run finds nothing left to do and collects garbage.
    let scheduled = json!({ "version": "0", "source": "aws.events", "detail-type": "Scheduled Event", "detail": {} });
    let Outcome::Response(sweep) = compact_host.invoke(&scheduled) else {
        panic!("scheduled compact failed");
    };
    assert_eq!(sweep["compacted"], json!([]), "{sweep}");
    // A malformed invocation is a failed invocation (retried, then dead-lettered), not a panic.
    assert!(matches!(
        compact_host.invoke(&json!({ "project": 5 })),
        Outcome::Error(_)
    ));

    // The compacted index answers.
    let query_host = LambdaHost::start();
    let _query = FunctionProcess::start(&query_host, "snapkb-query", &d.env);
    let (status, body) = post(
        &query_host,
        "/v1/projects/kb/query",
        &d.admin,
        &json!({ "vector": vector(2, DIMS), "top_k": 1 }),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["results"][0]["document_id"], "d2");
}

#[test]
fn s3_trigger_ingests_inbox_objects_then_removes_them_and_fails_on_bad_ones() {
    let host = LambdaHost::start();
    let d = deployment("inbox", &host);
    let bucket = d.var("SNAPKB_BUCKET");
    d.create_project(&json!({ "id": "notes" }));

    let objects = snapkb_e2e::aws_objects(&bucket);
    let key = "inbox/notes/guides/coffee beans.md";
    block_on(
        objects.put(
            key,
            "# Coffee\n\nEspresso is brewed by forcing hot water through finely ground coffee.\n"
                .as_bytes()
                .to_vec()
                .into(),
        ),
    )
    .unwrap();
    let bad = "inbox/notes/scan.pdf";
    block_on(objects.put(bad, b"%PDF-1.7".to_vec().into())).unwrap();

    let event = |raw_key: &str| {
        let mut e = fixture("s3-object-created.json");
        e["Records"][0]["s3"]["bucket"]["name"] = json!(bucket);
        e["Records"][0]["s3"]["bucket"]["arn"] = json!(format!("arn:aws:s3:::{bucket}"));
        e["Records"][0]["s3"]["object"]["key"] = json!(raw_key);
        e
    };
    let trigger_host = LambdaHost::start();
    let _trigger = FunctionProcess::start(&trigger_host, "snapkb-s3-trigger", &d.env);
    // S3 URL-encodes keys in events, spaces as '+'.
    let Outcome::Response(done) = trigger_host.invoke(&event("inbox/notes/guides/coffee+beans.md"))
    else {
        panic!("s3-trigger failed");
    };
    assert_eq!(
        done["ingested"][0]["document"], "guides/coffee beans.md",
        "{done}"
    );
    assert!(
        block_on(objects.head(key)).unwrap().is_none(),
        "the inbox object is removed"
    );

    let Outcome::Error(error) = trigger_host.invoke(&event("inbox/notes/scan.pdf")) else {
        panic!("an unsupported file must fail the invocation");
    };
    assert!(
        error.to_string().contains("unsupported file type"),
        "{error}"
    );
    assert!(
        block_on(objects.head(bad)).unwrap().is_some(),
        "a failed object stays in the inbox"
    );

    let query_host = LambdaHost::start();
    let _query = FunctionProcess::start(&query_host, "snapkb-query", &d.env);
    let (status, body) = post(
        &query_host,
        "/v1/projects/notes/query",
        &d.admin,
        &json!({ "text": "how is espresso made?", "top_k": 1 }),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["results"][0]["document_id"], "guides/coffee beans.md",
        "{body}"
    );
    assert_eq!(
        body["results"][0]["metadata"]["source"],
        format!("s3://{bucket}/{key}"),
        "{body}"
    );
}

#[test]
fn a_function_whose_table_is_unreachable_answers_a_retryable_503() {
    let host = LambdaHost::start();
    let d = deployment("down", &host);
    // Nothing listens on port 9: every DynamoDB attempt (and its retries) is refused.
    let env = d.with("SNAPKB_DYNAMODB_ENDPOINT", "http://127.0.0.1:9");
    let _query = FunctionProcess::start(&host, "snapkb-query", &env);
    let (key, _) = snapkb_core::generate_secret(&snapkb_core::new_key_id());
    let Outcome::Response(r) = host.invoke(&http_event(
        "apigw-http-v2.json",
        "POST",
        "/v1/projects/kb/query",
        &key,
        Some(&json!({ "vector": vector(1, DIMS), "top_k": 1 })),
        false,
    )) else {
        panic!("the function must answer, not fail");
    };
    assert_eq!(r["statusCode"], 503, "{r}");
    let retry_after = r["headers"]["retry-after"].as_str().unwrap_or_default();
    assert!(retry_after.parse::<u64>().is_ok(), "Retry-After: {r}");
    assert!(
        r["body"].as_str().unwrap().contains("problem")
            || r["headers"]["content-type"]
                .as_str()
                .unwrap()
                .contains("problem+json"),
        "{r}"
    );
}

/// Throttling and 5xx answers from S3 and DynamoDB, and an S3 body that breaks off (a fault
/// proxy in front of each server), are retried inside the function: the query answers as if
/// nothing happened, and the metrics count exactly the extra attempts.
#[test]
fn throttling_5xx_and_broken_bodies_are_retried_and_the_query_answers() {
    let host = LambdaHost::start();
    let d = deployment("faults", &host);
    d.create_project_with_documents("kb", 20);

    // The same cold query, once direct and once through the faults.
    let cold_query = |env: &[(String, String)]| {
        let h = LambdaHost::start();
        let f = FunctionProcess::start(&h, "snapkb-query", env);
        let (status, body) = post(
            &h,
            "/v1/projects/kb/query",
            &d.admin,
            &json!({ "vector": vector(7, DIMS), "top_k": 1 }),
        );
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["results"][0]["document_id"], "d7", "{body}");
        let line = f.metric_lines(1).pop().expect("a metric line");
        let dynamodb =
            line["DynamoDBReads"].as_u64().unwrap() + line["DynamoDBWrites"].as_u64().unwrap();
        (line["S3Calls"].as_u64().unwrap(), dynamodb)
    };
    let direct = cold_query(&d.env);
    let endpoint = |name: &str| d.var(name);
    let ddb = FaultProxy::start(
        &endpoint("SNAPKB_DYNAMODB_ENDPOINT"),
        &[Fault::DynamoDbThrottling, Fault::InternalError],
    );
    let s3 = FaultProxy::start(
        &endpoint("SNAPKB_S3_ENDPOINT"),
        &[Fault::S3SlowDown, Fault::InternalError, Fault::CutBody],
    );
    let faulty = Deployment {
        env: d.with("SNAPKB_DYNAMODB_ENDPOINT", &ddb.url),
        admin: d.admin.clone(),
    };
    let through_faults = cold_query(&faulty.with("SNAPKB_S3_ENDPOINT", &s3.url));
    assert_eq!(
        through_faults.0,
        direct.0 + 3,
        "S3: two failed attempts, a body that broke off, then success"
    );
    assert_eq!(
        through_faults.1,
        direct.1 + 2,
        "DynamoDB: two failed attempts, then success"
    );
}

/// Rate windows are counters in the table, so a key's limit holds across containers: two
/// query functions share it, and the one that passes it answers 429 with the headers.
#[test]
fn rate_limits_hold_across_function_containers() {
    let host = LambdaHost::start();
    let d = deployment("rate", &host);
    d.create_project(&json!({
        "id": "kb",
        "embedding": { "model": null, "dims": DIMS },
        "rate_limits": { "window_seconds": 3600, "per_key": 3, "per_project": 1000 }
    }));
    let keys = FunctionProcess::start(&host, "snapkb-keys", &d.env);
    let (status, body) = post(
        &host,
        "/v1/projects/kb/keys",
        &d.admin,
        &json!({ "name": "app", "scopes": ["read"] }),
    );
    assert_eq!(status, 201, "{body}");
    drop(keys);
    let key = body["token"].as_str().unwrap().to_string();
    let containers: Vec<(LambdaHost, FunctionProcess)> = (0..2)
        .map(|_| {
            let h = LambdaHost::start();
            let f = FunctionProcess::start(&h, "snapkb-query", &d.env);
            (h, f)
        })
        .collect();
    let query = |h: &LambdaHost| {
        let outcome = h.invoke(&http_event(
            "apigw-http-v2.json",
            "POST",
            "/v1/projects/kb/query",
            &key,
            Some(&json!({ "mode": "keyword", "text": "anything", "top_k": 1 })),
            false,
        ));
        let Outcome::Response(r) = outcome else {
            panic!("{outcome:?}")
        };
        r
    };
    let statuses: Vec<u64> = [0, 1, 0]
        .iter()
        .map(|&c| query(&containers[c].0)["statusCode"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, vec![200, 200, 200]);
    let limited = query(&containers[1].0);
    assert_eq!(limited["statusCode"], 429, "{limited}");
    assert!(limited["headers"]["retry-after"].is_string(), "{limited}");
    assert_eq!(limited["headers"]["ratelimit-remaining"], "0", "{limited}");
}

#[test]
fn exports_are_links_to_the_bucket_and_imports_read_an_archive_uploaded_there() {
    let host = LambdaHost::start();
    let d = deployment("archives", &host);
    d.create_project_with_documents("src", 3);

    // Responses stop at 6 MB on Lambda: the archive is written to the bucket and linked.
    let export_host = LambdaHost::start();
    let _export = FunctionProcess::start(&export_host, "snapkb-export", &d.env);
    let (status, link) = post(
        &export_host,
        "/v1/projects/src/export",
        &d.admin,
        &json!({}),
    );
    assert_eq!(status, 200, "{link}");
    let object = link["object"].as_str().unwrap().to_string();
    assert!(object.starts_with("exports/src/"), "{link}");
    assert!(link["expires_at_ms"].as_u64().unwrap() > snapkb_core::now_ms());
    let url = link["url"].as_str().unwrap();
    assert!(url.contains("X-Amz-Signature="), "a presigned URL: {url}");
    let archive = ureq::get(url)
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    assert_eq!(archive.len() as u64, link["bytes"].as_u64().unwrap());
    let lines: Vec<Value> = archive
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["source_project"], "src", "{}", lines[0]);
    assert_eq!(lines.len(), 4, "a header and one line per chunk");

    // An archive too large for a request is uploaded under imports/ and imported from there.
    let objects = snapkb_e2e::aws_objects(&d.var("SNAPKB_BUCKET"));
    block_on(objects.put("imports/src.jsonl", archive.clone().into_bytes().into())).unwrap();
    let (status, body) = post(
        &export_host,
        "/v1/projects/import?id=copy&object=imports/src.jsonl",
        &d.admin,
        &json!({}),
    );
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["project"]["id"], "copy", "{body}");
    // The copy holds the same chunks; a stream is still there for whoever asks for it.
    let (status, copied) = post(
        &export_host,
        "/v1/projects/copy/export?delivery=stream",
        &d.admin,
        &json!({}),
    );
    assert_eq!(status, 200);
    let copied = copied
        .as_str()
        .expect("the archive as the body")
        .to_string();
    assert_eq!(copied.lines().count(), 4, "{copied}");
    assert_eq!(
        copied.lines().skip(1).collect::<Vec<_>>(),
        archive.lines().skip(1).collect::<Vec<_>>()
    );

    // Only objects under imports/ can be imported, and only ones that exist.
    for (object, field) in [
        (object.as_str(), "object"),
        ("imports/missing.jsonl", "object"),
        ("imports/../projects/src/x", "object"),
    ] {
        let (status, body) = post(
            &export_host,
            &format!("/v1/projects/import?id=other&object={object}"),
            &d.admin,
            &json!({}),
        );
        assert_eq!(status, 422, "{object}: {body}");
        assert_eq!(body["field"], field, "{body}");
    }
}

#[test]
fn a_body_past_what_lambda_carries_is_refused_with_a_413_naming_the_limit() {
    let host = LambdaHost::start();
    let d = deployment("bodies", &host);
    d.create_project(&json!({ "id": "kb", "embedding": { "model": null, "dims": DIMS } }));
    let ingest_host = LambdaHost::start();
    let _ingest = FunctionProcess::start(&ingest_host, "snapkb-ingest", &d.env);
    // 4.5 MiB: under the 6 MB an invocation carries, over the 4 MiB a function takes, whose
    // base64 form (5.6 MB) still fits.
    let text = "word ".repeat(900 * 1024);
    let (status, body) = post(
        &ingest_host,
        "/v1/projects/kb/documents",
        &d.admin,
        &json!({ "documents": [{ "id": "big", "text": text }] }),
    );
    assert_eq!(status, 413, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("SNAPKB_MAX_BODY_BYTES")),
        "{body}"
    );
    // Set above what Lambda carries, a function refuses to start.
    let (config, _) = snapkb_lambda::LambdaSettings::from_vars([(
        "SNAPKB_MAX_BODY_BYTES".to_string(),
        (5 << 20).to_string(),
    )])
    .map(|(c, s)| (Some(c), s))
    .unwrap_or_else(|e| {
        assert!(e.to_string().contains("SNAPKB_MAX_BODY_BYTES"), "{e}");
        (None, Default::default())
    });
    assert!(config.is_none(), "5 MiB bodies cannot reach a function");
}
