//! Where a request's CPU-heavy work runs and for how long. Natively it runs on tokio's blocking
//! pool, so the async workers stay free for `/healthz` and every other request; at most
//! `2 × cores` such tasks run at once and at most `cores` of them for one project, so one
//! tenant's queries cannot take every slot. Each task carries a [`Deadline`] it checks as it
//! scans. On the edge (one thread per request) the work runs inline.

use snapkb_core::now_ms;

use crate::EngineError;

/// When a request's work must stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Deadline {
    at_ms: u64,
    after_ms: u64,
}

impl Deadline {
    /// `ms` from now.
    pub(crate) fn after(ms: u64) -> Self {
        Self {
            at_ms: now_ms().saturating_add(ms),
            after_ms: ms,
        }
    }

    pub(crate) fn passed(&self) -> bool {
        now_ms() >= self.at_ms
    }

    /// The error of work stopped at this deadline.
    pub(crate) fn expired(&self) -> EngineError {
        EngineError::Timeout {
            after_ms: self.after_ms,
        }
    }

    pub(crate) fn check(&self) -> Result<(), EngineError> {
        if self.passed() {
            Err(self.expired())
        } else {
            Ok(())
        }
    }

    /// What is left of it, for waits.
    #[cfg(feature = "tokio")]
    fn remaining(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.at_ms.saturating_sub(now_ms()))
    }
}

/// The bounded pool of CPU slots (see the module docs). Clones share the slots.
#[derive(Clone)]
pub(crate) struct CpuPool {
    cores: usize,
    #[cfg(feature = "tokio")]
    all: std::sync::Arc<tokio::sync::Semaphore>,
    #[cfg(feature = "tokio")]
    per_project: std::sync::Arc<
        std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<tokio::sync::Semaphore>>>,
    >,
}

impl std::fmt::Debug for CpuPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CpuPool")
            .field("cores", &self.cores)
            .finish_non_exhaustive()
    }
}

impl Default for CpuPool {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self {
            cores,
            #[cfg(feature = "tokio")]
            all: std::sync::Arc::new(tokio::sync::Semaphore::new(2 * cores)),
            #[cfg(feature = "tokio")]
            per_project: std::sync::Arc::default(),
        }
    }
}

impl CpuPool {
    /// Runs `work` for `project` in a slot, waiting for one no longer than `deadline`.
    #[cfg(feature = "tokio")]
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        project: &str,
        deadline: Deadline,
        work: impl FnOnce() -> Result<T, EngineError> + Send + 'static,
    ) -> Result<T, EngineError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return work();
        }
        let mine = crate::sync::lock(&self.per_project)
            .entry(project.to_string())
            .or_insert_with(|| std::sync::Arc::new(tokio::sync::Semaphore::new(self.cores)))
            .clone();
        let permits = async {
            let project = mine.acquire_owned().await;
            let all = self.all.clone().acquire_owned().await;
            (project, all)
        };
        let (Ok(project_permit), Ok(all_permit)) =
            tokio::time::timeout(deadline.remaining(), permits)
                .await
                .map_err(|_| deadline.expired())?
        else {
            return Err(EngineError::Internal("the CPU pool was closed".into()));
        };
        tokio::task::spawn_blocking(move || {
            let _held = (project_permit, all_permit);
            deadline.check()?;
            work()
        })
        .await
        .map_err(|e| EngineError::Internal(format!("a query task failed: {e}")))?
    }

    /// Runs `work` inline: without tokio there is no pool to move it to.
    #[cfg(not(feature = "tokio"))]
    pub(crate) async fn run<T>(
        &self,
        _project: &str,
        deadline: Deadline,
        work: impl FnOnce() -> Result<T, EngineError>,
    ) -> Result<T, EngineError> {
        deadline.check()?;
        work()
    }
}
