//! `CallCounter`: an SDK interceptor counting the requests the AWS stores send, by service and
//! operation, retries included — how the warm-path economy (one GetItem per warm query) is
//! measured and reported.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
};

use aws_sdk_s3::config::{
    ConfigBag, Intercept, RuntimeComponents, interceptors::BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::{box_error::BoxError, client::orchestrator::Metadata};

/// Requests sent, by `"Service.Operation"` (`"DynamoDB.GetItem"`, `"S3.GetObject"`).
pub type Calls = BTreeMap<String, u64>;

/// Shared by every client of one `AwsStores`; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct CallCounter {
    calls: Arc<Mutex<Calls>>,
}

impl CallCounter {
    /// The counts so far.
    pub fn snapshot(&self) -> Calls {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The counts so far, then starts again from zero.
    pub fn take(&self) -> Calls {
        std::mem::take(&mut *self.calls.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "snapkb.CallCounter"
    }

    // Once per attempt, so retries count as the requests they are.
    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let name = cfg.load::<Metadata>().map_or_else(
            || "unknown".to_string(),
            |m| format!("{}.{}", m.service(), m.name()),
        );
        *self
            .calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(name)
            .or_default() += 1;
        Ok(())
    }
}
