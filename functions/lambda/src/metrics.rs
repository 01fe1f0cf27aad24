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

/// Requests sent while one request was served, by operation. Lambda gives a container one
/// request at a time, so the difference is exact.
fn calls_between(before: &Calls, after: &Calls) -> Calls {
    after
        .iter()
        .map(|(name, &n)| (name.clone(), n - before.get(name).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect()
}

/// Those requests as (S3, DynamoDB reads, DynamoDB writes).
fn store_calls(calls: &Calls) -> (u64, u64, u64) {
    let mut totals = (0, 0, 0);
    for (name, &n) in calls {
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

/// One EMF line: the metrics, their dimensions, and the request's properties (`Calls`, the
/// requests by operation, is a property: searchable in Logs Insights, not a metric).
fn emf_line(
    function: &str,
    project: &str,
    status: u16,
    latency_ms: f64,
    calls: &Calls,
    request_id: &str,
) -> String {
    let totals = store_calls(calls);
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
        "S3Calls": totals.0,
        "DynamoDBReads": totals.1,
        "DynamoDBWrites": totals.2,
        "Calls": calls,
        "status": status,
        "requestId": request_id,
    })
    .to_string()
}

fn print_line(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
}

/// The metric line of one event of an event function (compact, s3-trigger): status 200 when
/// it was handled, 500 when it failed (and Lambda will retry it).
pub(crate) fn event_line(
    function: &str,
    handled: bool,
    started: Instant,
    before: &Calls,
    calls: &CallCounter,
    request_id: &str,
) {
    print_line(&emf_line(
        function,
        "-",
        if handled { 200 } else { 500 },
        started.elapsed().as_secs_f64() * 1e3,
        &calls_between(before, &calls.snapshot()),
        request_id,
    ));
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
                print_line(&emf_line(
                    function,
                    &project,
                    response.status().as_u16(),
                    started.elapsed().as_secs_f64() * 1e3,
                    &calls_between(&before, &calls.snapshot()),
                    &request_id,
                ));
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
        let calls = Calls::from([
            ("DynamoDB.GetItem".to_string(), 1),
            ("DynamoDB.UpdateItem".to_string(), 2),
        ]);
        let line: serde_json::Value =
            serde_json::from_str(&emf_line("query", "kb", 503, 12.5, &calls, "r-1")).unwrap();
        let declared = &line["_aws"]["CloudWatchMetrics"][0]["Metrics"];
        for metric in declared.as_array().unwrap() {
            let name = metric["Name"].as_str().unwrap();
            assert!(line[name].is_number(), "{name} has no value");
        }
        assert_eq!(line["Errors"], 1);
        assert_eq!(line["ClientErrors"], 0);
        assert_eq!(line["Project"], "kb");
        assert_eq!(line["DynamoDBWrites"], 2);
        assert_eq!(line["Calls"]["DynamoDB.UpdateItem"], 2);
    }

    #[test]
    fn store_calls_are_split_into_s3_reads_and_writes() {
        let before = Calls::from([("DynamoDB.GetItem".to_string(), 3)]);
        let after = Calls::from([
            ("DynamoDB.GetItem".to_string(), 4),
            ("DynamoDB.UpdateItem".to_string(), 2),
            ("S3.GetObject".to_string(), 5),
        ]);
        let during = calls_between(&before, &after);
        assert_eq!(during.len(), 3);
        assert_eq!(store_calls(&during), (5, 1, 2));
    }
}
