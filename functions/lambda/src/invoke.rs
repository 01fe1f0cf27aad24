//! Compaction on Lambda: ingest asks the compact function to run by an asynchronous `Invoke`
//! (`InvocationType=Event`) each time a commit leaves a log past its triggers, and waits for
//! the API to accept it before answering.

use std::sync::{Arc, Mutex};

use crate::LambdaSettings;
use aws_sdk_lambda::{primitives::Blob, types::InvocationType};
use snapkb_engine::CompactionTrigger;
use tokio::task::JoinHandle;

/// Invocations sent during the current request.
#[derive(Debug, Clone, Default)]
pub struct PendingInvocations {
    handles: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl PendingInvocations {
    fn push(&self, handle: JoinHandle<()>) {
        self.handles
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(handle);
    }

    /// Waits for every invocation sent so far to be accepted (or to fail: a failed request
    /// is logged; the scheduled compaction catches up).
    pub async fn flush(&self) {
        let handles = std::mem::take(&mut *self.handles.lock().unwrap_or_else(|e| e.into_inner()));
        for handle in handles {
            let _ = handle.await;
        }
    }
}

#[derive(Debug)]
pub(crate) struct CompactInvoker {
    client: aws_sdk_lambda::Client,
    function: String,
    pending: PendingInvocations,
}

impl CompactInvoker {
    pub(crate) async fn new(
        settings: &LambdaSettings,
        function: &str,
        pending: PendingInvocations,
    ) -> Self {
        let sdk =
            snapkb_aws::sdk_config(&settings.aws.region(), settings.lambda_endpoint.as_deref())
                .await;
        Self {
            client: aws_sdk_lambda::Client::new(&sdk),
            function: function.to_string(),
            pending,
        }
    }
}

impl CompactionTrigger for CompactInvoker {
    fn request(&self, project: &str, force: bool) {
        let payload = serde_json::json!({ "project": project, "force": force });
        let send = self
            .client
            .invoke()
            .function_name(&self.function)
            .invocation_type(InvocationType::Event)
            .payload(Blob::new(payload.to_string()))
            .send();
        let project = project.to_string();
        self.pending.push(tokio::spawn(async move {
            match send.await {
                Ok(_) => tracing::info!(project = %project, "compaction requested"),
                Err(e) => {
                    tracing::warn!(project = %project, error = %aws_sdk_lambda::error::DisplayErrorContext(&e), "cannot invoke the compact function; the scheduled run will compact")
                }
            }
        }));
    }
}
