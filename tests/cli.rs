//! The `snapkb` command as a user runs it: against a server process, over HTTP.

use std::process::{Command, Output};

use serde_json::Value;
use snapkb_e2e::{Server, binary};

fn snapkb(server: &Server, key: &str, args: &[&str]) -> Output {
    Command::new(binary())
        .args(args)
        .env("SNAPKB_URL", &server.url)
        .env("SNAPKB_KEY", key)
        .output()
        .expect("run snapkb")
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "snapkb failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs a `--json` command that must succeed and parses what it printed.
fn snapkb_json(server: &Server, key: &str, args: &[&str]) -> Value {
    serde_json::from_str(&ok(snapkb(server, key, args))).expect("JSON output")
}

#[test]
fn the_cli_creates_ingests_queries_and_round_trips_a_project() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let admin = server.admin.clone().unwrap();
    let samples = concat!(env!("CARGO_MANIFEST_DIR"), "/../samples");
    ok(snapkb(
        &server,
        &admin,
        &["project", "create", "docs", "--name", "Docs"],
    ));
    assert!(ok(snapkb(&server, &admin, &["project", "list"])).contains("docs"));

    let first: Value = snapkb_json(&server, &admin, &["ingest", "docs", samples, "--json"]);
    assert_eq!(
        (first["created"].as_u64(), first["unchanged"].as_u64()),
        (Some(10), Some(0)),
        "{first}"
    );
    let again: Value = snapkb_json(&server, &admin, &["ingest", "docs", samples, "--json"]);
    assert_eq!(
        (again["created"].as_u64(), again["unchanged"].as_u64()),
        (Some(0), Some(10)),
        "re-runs skip unchanged files"
    );
    let excluded: Value = snapkb_json(
        &server,
        &admin,
        &["ingest", "docs", samples, "--exclude", "c*.md", "--json"],
    );
    assert_eq!(
        excluded["unchanged"].as_u64(),
        Some(9),
        "--exclude leaves coffee.md out"
    );

    let table = ok(snapkb(
        &server,
        &admin,
        &[
            "query",
            "docs",
            "how do plants make sugar from sunlight?",
            "--top-k",
            "3",
        ],
    ));
    assert!(
        table
            .lines()
            .nth(1)
            .is_some_and(|l| l.contains("photosynthesis.md")),
        "{table}"
    );
    let json: Value = snapkb_json(
        &server,
        &admin,
        &[
            "query",
            "docs",
            "espresso pressure",
            "--json",
            "--mode",
            "keyword",
        ],
    );
    assert_eq!(json["results"][0]["document_id"], "coffee.md");

    let key = ok(snapkb(
        &server,
        &admin,
        &[
            "keys", "create", "docs", "--name", "reader", "--scopes", "read",
        ],
    ));
    let token = key
        .split_whitespace()
        .find(|w| w.starts_with("skb_"))
        .expect("token printed once")
        .to_string();
    let denied = snapkb(&server, &token, &["ingest", "docs", samples]);
    assert!(!denied.status.success());
    assert!(
        String::from_utf8_lossy(&denied.stderr).contains("403"),
        "{}",
        String::from_utf8_lossy(&denied.stderr)
    );

    let archive = dir.path().join("docs.jsonl");
    ok(snapkb(
        &server,
        &admin,
        &["export", "docs", "-o", archive.to_str().unwrap()],
    ));
    ok(snapkb(
        &server,
        &admin,
        &["import", archive.to_str().unwrap(), "--id", "docs-copy"],
    ));
    let copy: Value = snapkb_json(
        &server,
        &admin,
        &[
            "query",
            "docs-copy",
            "espresso pressure",
            "--json",
            "--mode",
            "keyword",
        ],
    );
    assert_eq!(copy["results"][0]["document_id"], "coffee.md");

    // An archive already in the deployment's object store under imports/ is imported from there.
    server.put_object("imports/docs.jsonl", std::fs::read(&archive).unwrap());
    ok(snapkb(
        &server,
        &admin,
        &[
            "import",
            "--id",
            "docs-object",
            "--object",
            "imports/docs.jsonl",
        ],
    ));
    let health: Value = snapkb_json(&server, &admin, &["health", "docs-object"]);
    assert_eq!(health["documents"], 10, "{health}");
    let outside = snapkb(
        &server,
        &admin,
        &["import", "--id", "other", "--object", "projects/docs/x"],
    );
    assert!(
        String::from_utf8_lossy(&outside.stderr).contains("`object`"),
        "{}",
        String::from_utf8_lossy(&outside.stderr)
    );

    assert!(ok(snapkb(&server, &admin, &["versions", "docs"])).contains("current version"));
    let health: Value = snapkb_json(&server, &admin, &["health", "docs"]);
    assert_eq!(health["documents"], 10);
    let missing = snapkb(&server, &admin, &["query", "nope", "x"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("404"));
}

/// `snapkb admin-key` makes the key a deployment is configured with by hash: a server given
/// only the hash accepts the key (and prints no key of its own), and refuses another.
#[test]
fn admin_key_prints_a_key_whose_hash_configures_a_deployment() {
    let out = ok(Command::new(binary())
        .arg("admin-key")
        .output()
        .expect("run snapkb admin-key"));
    let field = |name: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in {out}"))
            .to_string()
    };
    let (key, sha256) = (field("key="), field("sha256="));
    assert_eq!(sha256.len(), 64);
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(dir.path(), &[("SNAPKB_ADMIN_KEY_SHA256", &sha256)]);
    assert_eq!(
        server.admin, None,
        "the configured hash replaces a generated key"
    );
    ok(snapkb(&server, &key, &["project", "create", "kb"]));
    let last = if key.ends_with('0') { '1' } else { '0' };
    let other = format!("{}{last}", &key[..key.len() - 1]);
    let refused = snapkb(&server, &other, &["project", "list"]);
    assert!(!refused.status.success());
}
