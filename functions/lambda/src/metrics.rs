//! Per-request metrics as CloudWatch Embedded Metric Format lines on stdout — requests,
//! latency, client and server errors, and the S3 and DynamoDB requests each one cost, by
//! function and project, which CloudWatch turns into metrics with no API call — and the
//! request's log span (project, method).

use std::{io::Write, time::Instant};

use axum::{extract::Request, middleware::Next, response::Response};
use serde_json::json;
use tracing::Instrument;

use snapkb_aws::{CallCounter, Calls};

use crate::PendingInvocations;

/// Requests sent to the stores while one request was served: (S3, DynamoDB reads, DynamoDB
/// writes). Lambda gives a container one request at a time, so the difference is exact.
fn store_calls(before: &Calls, after: &Calls) -> (u64, u64, u64) {
    let mut totals = (0, 0, 0);
    for (name, &n) in after {
        let n = n - before.get(name).copied().unwrap_or(0);
        let (service, operation) = name.split_once('.').unwrap_or((name, ""));
        if service.eq_ignore_ascii_case("s3") {
            totals.0 += n;
        } else if matches!(operation, "GetItem" | "Query" | "BatchGetItem" | "Scan") {
            totals.1 += n;
        } else {
            totals.2 += n;
        }
    }
    totals
}

/// The project a path is about (`/v1/projects/{project}/…`), if any.
fn project_of(path: &str) -> Option<&str> {
    path.strip_prefix("/v1/projects/")?
        .split('/')
        .next()
        .filter(|p| !p.is_empty())
}

/// One EMF line: the metrics, their dimensions, and the request's properties.
fn emf_line(
    function: &str,
    project: &str,
    status: u16,
    latency_ms: f64,
    calls: (u64, u64, u64),
    request_id: &str,
) -> String {
    json!({
        "_aws": {
            "Timestamp": snapkb_core::now_ms(),
            "CloudWatchMetrics": [{
                "Namespace": "snapkb",
                "Dimensions": [["Function", "Project"], ["Function"]],
                "Metrics": [
                    { "Name": "Requests", "Unit": "Count" },
                    { "Name": "Latency", "Unit": "Milliseconds" },
                    { "Name": "ClientErrors", "Unit": "Count" },
                    { "Name": "Errors", "Unit": "Count" },
                    { "Name": "S3Calls", "Unit": "Count" },
                    { "Name": "DynamoDBReads", "Unit": "Count" },
                    { "Name": "DynamoDBWrites", "Unit": "Count" }
                ]
            }]
        },
        "Function": function,
        "Project": project,
        "Requests": 1,
        "Latency": latency_ms,
        "ClientErrors": u8::from((400..500).contains(&status)),
        "Errors": u8::from(status >= 500),
        "S3Calls": calls.0,
        "DynamoDBReads": calls.1,
        "DynamoDBWrites": calls.2,
        "status": status,
        "requestId": request_id,
    })
    .to_string()
}

pub(crate) fn layer(
    router: axum::Router,
    function: &'static str,
    pending: PendingInvocations,
    calls: CallCounter,
) -> axum::Router {
    router.layer(axum::middleware::from_fn(
        move |req: Request, next: Next| {
            let pending = pending.clone();
            let calls = calls.clone();
            async move {
                let started = Instant::now();
                let before = calls.snapshot();
                let project = project_of(req.uri().path()).unwrap_or("-").to_string();
                let request_id = lambda_http::RequestExt::lambda_context_ref(&req)
                    .map(|c| c.request_id.clone())
                    .unwrap_or_default();
                let span =
                    tracing::info_span!("request", project = %project, method = %req.method());
                let response: Response = next.run(req).instrument(span).await;
                pending.flush().await;
                let line = emf_line(
                    function,
                    &project,
                    response.status().as_u16(),
                    started.elapsed().as_secs_f64() * 1e3,
                    store_calls(&before, &calls.snapshot()),
                    &request_id,
                );
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{line}");
                response
            }
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_project_comes_from_project_paths_only() {
        assert_eq!(project_of("/v1/projects/kb/query"), Some("kb"));
        assert_eq!(project_of("/v1/projects/kb"), Some("kb"));
        assert_eq!(project_of("/v1/projects"), None);
        assert_eq!(project_of("/v1/projects/"), None);
        assert_eq!(project_of("/health"), None);
    }

    #[test]
    fn emf_lines_declare_every_metric_they_carry() {
        let line: serde_json::Value =
            serde_json::from_str(&emf_line("query", "kb", 503, 12.5, (0, 1, 2), "r-1")).unwrap();
        let declared = &line["_aws"]["CloudWatchMetrics"][0]["Metrics"];
        for metric in declared.as_array().unwrap() {
            let name = metric["Name"].as_str().unwrap();
            assert!(line[name].is_number(), "{name} has no value");
        }
        assert_eq!(line["Errors"], 1);
        assert_eq!(line["ClientErrors"], 0);
        assert_eq!(line["Project"], "kb");
        assert_eq!(line["DynamoDBWrites"], 2);
    }

    #[test]
    fn store_calls_are_split_into_s3_reads_and_writes() {
        let before = Calls::from([("DynamoDB.GetItem".to_string(), 3)]);
        let after = Calls::from([
            ("DynamoDB.GetItem".to_string(), 4),
            ("DynamoDB.UpdateItem".to_string(), 2),
            ("S3.GetObject".to_string(), 5),
        ]);
        assert_eq!(store_calls(&before, &after), (5, 1, 2));
    }
}
