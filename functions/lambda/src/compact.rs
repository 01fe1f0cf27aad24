//! The compact function's handler. `{"project": "kb", "force": false}` (ingest's asynchronous
//! invocation) compacts that project; any other event (an EventBridge schedule) compacts every
//! project that is due and collects garbage. Safe to run at any time and concurrently: a
//! compaction commits by a conditional manifest move, so a losing run changes nothing.

use serde_json::{Value, json};

use crate::Function;

/// What an invocation asks for.
#[derive(Debug, PartialEq)]
enum Job {
    Project { id: String, force: bool },
    Sweep,
}

fn job(event: &Value) -> Result<Job, String> {
    match event.get("project") {
        None => Ok(Job::Sweep),
        Some(Value::String(id)) => Ok(Job::Project {
            id: id.clone(),
            force: match event.get("force") {
                None => false,
                Some(Value::Bool(b)) => *b,
                Some(other) => return Err(format!("`force` must be true or false, not {other}")),
            },
        }),
        Some(other) => Err(format!("`project` must be a project id, not {other}")),
    }
}

pub async fn handle(function: &Function, event: Value) -> Result<Value, lambda_runtime::Error> {
    let engine = &function.engine;
    match job(&event)? {
        Job::Project { id, force } => {
            let report = engine.compact(&id, force).await?;
            tracing::info!(project = %id, version = report.version, "compact");
            Ok(json!({ "project": id, "report": report }))
        }
        Job::Sweep => {
            let report = engine.sweep().await?;
            tracing::info!(?report, "scheduled compaction");
            if !report.failed.is_empty() {
                return Err(format!("compaction failed for {:?}", report.failed).into());
            }
            Ok(json!({ "compacted": report.compacted, "gc": report.gc }))
        }
    }
}

pub async fn run() -> Result<(), lambda_runtime::Error> {
    crate::serve_events("compact", false, |function, event: Value| async move {
        handle(&function, event).await
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_name_a_project_or_sweep() {
        assert_eq!(
            job(&json!({ "project": "kb" })),
            Ok(Job::Project {
                id: "kb".into(),
                force: false
            })
        );
        assert_eq!(
            job(&json!({ "project": "kb", "force": true })),
            Ok(Job::Project {
                id: "kb".into(),
                force: true
            })
        );
        let scheduled =
            json!({ "source": "aws.events", "detail-type": "Scheduled Event", "detail": {} });
        assert_eq!(job(&scheduled), Ok(Job::Sweep));
        assert!(
            job(&json!({ "project": 7 }))
                .unwrap_err()
                .contains("project")
        );
        assert!(
            job(&json!({ "project": "kb", "force": "yes" }))
                .unwrap_err()
                .contains("force")
        );
    }
}
