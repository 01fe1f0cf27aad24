//! Who may do what: authentication of presented tokens (API keys and the deployment admin
//! key), authorization against a project and a scope, and the rate limits a call is admitted
//! to, with the caches that keep these off the table on the hot path. Verified keys and
//! project configurations are cached for `key_cache_ms`; revoking a key or changing a project
//! through this process takes effect at once, through another instance within that time.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, atomic::Ordering},
};

use snapkb_core::{
    ApiKey, Config, Principal, Project, RateWindow, Scope, now_ms, parse_token, secrets_match,
};
use snapkb_store::MetaStore;

use crate::{
    EngineError, RateStatus, layout,
    ratelimit::{LocalRateLimiter, RateLimiter},
    records::{parse_key, parse_project},
    sync::lock,
};

/// Authentication, authorization and rate limits, with what they remember between calls.
pub(crate) struct Access {
    meta: Arc<dyn MetaStore>,
    pub(crate) limiter: Arc<dyn RateLimiter>,
    key_cache_ms: u64,
    admin_key_sha256: Option<String>,
    /// Project configurations by id, with when they were read.
    projects: Mutex<HashMap<String, (Arc<Project>, u64)>>,
    /// Verified keys by id, with when they were read.
    keys: Mutex<HashMap<String, (ApiKey, u64)>>,
    /// Bumped whenever a key is forgotten (revoked, rotated, its project deleted): a key read
    /// from the table before that is not cached after it.
    keys_forgotten: std::sync::atomic::AtomicU64,
    /// The admin key's hash once read from the table (it never changes while running).
    admin_hash: Mutex<Option<String>>,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access")
            .field("key_cache_ms", &self.key_cache_ms)
            .finish_non_exhaustive()
    }
}

impl Access {
    /// In-process rate limits until [`Access::limiter`] is replaced.
    pub(crate) fn new(meta: Arc<dyn MetaStore>, config: &Config) -> Self {
        Access {
            meta,
            limiter: Arc::new(LocalRateLimiter::default()),
            key_cache_ms: config.key_cache_ms,
            admin_key_sha256: config.admin_key_sha256.clone(),
            projects: Mutex::default(),
            keys: Mutex::default(),
            keys_forgotten: std::sync::atomic::AtomicU64::new(0),
            admin_hash: Mutex::default(),
        }
    }

    pub(crate) fn forget_key(&self, id: &str) {
        let mut keys = lock(&self.keys);
        self.keys_forgotten.fetch_add(1, Ordering::SeqCst);
        keys.remove(id);
    }

    /// Forgets a project's configuration (it changed).
    pub(crate) fn forget_project_config(&self, id: &str) {
        lock(&self.projects).remove(id);
    }

    /// Forgets a project and every key of it (it was deleted).
    pub(crate) fn forget_project(&self, id: &str) {
        lock(&self.projects).remove(id);
        let mut keys = lock(&self.keys);
        self.keys_forgotten.fetch_add(1, Ordering::SeqCst);
        keys.retain(|_, (k, _)| k.project != id);
    }

    /// Turns a presented token into a principal. Every failure is the same `Unauthorized`.
    pub(crate) async fn authenticate(&self, token: &str) -> Result<Principal, EngineError> {
        let parsed = parse_token(token.trim()).ok_or(EngineError::Unauthorized)?;
        if let Some(admin) = self.admin_key_hash().await?
            && secrets_match(parsed.secret, &admin)
        {
            return Ok(Principal::DeploymentAdmin);
        }
        let now = now_ms();
        let cached = lock(&self.keys)
            .get(parsed.key_id)
            .filter(|(_, at)| now < at + self.key_cache_ms)
            .map(|(k, _)| k.clone());
        let key = match cached {
            Some(k) => k,
            None => {
                let forgotten = self.keys_forgotten.load(Ordering::SeqCst);
                let item = self
                    .meta
                    .get(&layout::key_pk(parsed.key_id), layout::KEY_SK)
                    .await?
                    .ok_or(EngineError::Unauthorized)?;
                let key = parse_key(&item)?;
                let mut keys = lock(&self.keys);
                // A revoke or rotate that ran while this read was in flight may have read the
                // key before it: do not keep what it replaced.
                if self.keys_forgotten.load(Ordering::SeqCst) == forgotten {
                    keys.insert(key.id.clone(), (key.clone(), now));
                }
                key
            }
        };
        if !secrets_match(parsed.secret, &key.secret_sha256) || !key.is_active(now) {
            return Err(EngineError::Unauthorized);
        }
        Ok(Principal::Key(key))
    }

    async fn admin_key_hash(&self) -> Result<Option<String>, EngineError> {
        if let Some(hash) = &self.admin_key_sha256 {
            return Ok(Some(hash.clone()));
        }
        if let Some(hash) = lock(&self.admin_hash).clone() {
            return Ok(Some(hash));
        }
        let item = self
            .meta
            .get(layout::DEPLOYMENT_PK, layout::ADMIN_SK)
            .await?;
        let hash = item.map(|i| String::from_utf8_lossy(&i.value).into_owned());
        if let Some(h) = &hash {
            *lock(&self.admin_hash) = Some(h.clone());
        }
        Ok(hash)
    }

    /// Checks that `principal` can see `project` (else `NotFound`, never revealing that it
    /// exists) and has `scope` (else `Forbidden`).
    pub(crate) async fn authorize(
        &self,
        principal: &Principal,
        project: &str,
        scope: Scope,
    ) -> Result<Arc<Project>, EngineError> {
        if !principal.sees(project) {
            return Err(EngineError::not_found(format!("project `{project}`")));
        }
        let mut p = self.project(project).await?;
        if let Principal::Key(key) = principal
            && !key.generation.is_empty()
            && key.generation != p.generation
        {
            // Either this process's configuration is of an earlier project with this id (read
            // it again), or the key is of an earlier project, cached past its deletion.
            self.forget_project_config(project);
            p = self.project(project).await?;
            if key.generation != p.generation {
                self.forget_key(&key.id);
                return Err(EngineError::Unauthorized);
            }
        }
        if !principal.allows(project, scope) {
            return Err(EngineError::Forbidden {
                scope: scope.as_str(),
            });
        }
        Ok(p)
    }

    /// Checks that `principal` is the deployment admin (else `Forbidden`): creating and
    /// importing projects.
    pub(crate) fn require_deployment_admin(
        &self,
        principal: &Principal,
    ) -> Result<(), EngineError> {
        match principal {
            Principal::DeploymentAdmin => Ok(()),
            Principal::Key(_) => Err(EngineError::Forbidden {
                scope: "deployment admin",
            }),
        }
    }

    /// A project's configuration (cached for `key_cache_ms`).
    pub(crate) async fn project(&self, id: &str) -> Result<Arc<Project>, EngineError> {
        let now = now_ms();
        if let Some((p, at)) = lock(&self.projects).get(id)
            && now < at + self.key_cache_ms
        {
            return Ok(p.clone());
        }
        let item = self.meta.get(layout::PROJECTS_PK, id).await?;
        let project = item
            .map(|i| parse_project(&i))
            .transpose()?
            .filter(Project::is_live)
            .ok_or_else(|| EngineError::not_found(format!("project `{id}`")))?;
        let project = Arc::new(project);
        lock(&self.projects).insert(id.to_string(), (project.clone(), now));
        Ok(project)
    }

    /// Counts a request of `principal` against `project`'s limits; `RateLimited` once either
    /// the key's or the project's window is used up. The deployment admin counts only
    /// against the project.
    pub(crate) async fn check_rate(
        &self,
        principal: &Principal,
        project: &str,
    ) -> Result<RateStatus, EngineError> {
        let limits = self.project(project).await?.rate_limits;
        let window = RateWindow::at(now_ms(), limits.window_seconds);
        let mut status = RateStatus {
            limit: limits.per_project,
            remaining: limits.per_project,
            reset_after: window.reset_after,
        };
        let mut counters = vec![(
            "project",
            layout::rate_pk("project", project),
            limits.per_project,
        )];
        if let Principal::Key(key) = principal {
            counters.push(("key", layout::rate_pk("key", &key.id), limits.per_key));
        }
        for (scope, counter, limit) in counters {
            let used = self
                .limiter
                .hit(&counter, window, limits.window_seconds)
                .await?;
            if used > u64::from(limit) {
                return Err(EngineError::RateLimited {
                    scope,
                    limit,
                    window_seconds: limits.window_seconds,
                    retry_after: window.reset_after,
                });
            }
            let remaining = (u64::from(limit) - used) as u32;
            if remaining < status.remaining {
                status = RateStatus {
                    limit,
                    remaining,
                    reset_after: window.reset_after,
                };
            }
        }
        Ok(status)
    }

    /// Remaining requests for the key and the project in the current window, without counting.
    pub(crate) async fn rate_usage(
        &self,
        principal: &Principal,
        project: &str,
    ) -> Result<(Option<RateStatus>, RateStatus), EngineError> {
        let limits = self.project(project).await?.rate_limits;
        let window = RateWindow::at(now_ms(), limits.window_seconds);
        let status = |limit: u32, used: u64| RateStatus {
            limit,
            remaining: u64::from(limit).saturating_sub(used) as u32,
            reset_after: window.reset_after,
        };
        let used = self
            .limiter
            .peek(&layout::rate_pk("project", project), window)
            .await?;
        let project_status = status(limits.per_project, used);
        let key_status = match principal {
            Principal::Key(key) => {
                let used = self
                    .limiter
                    .peek(&layout::rate_pk("key", &key.id), window)
                    .await?;
                Some(status(limits.per_key, used))
            }
            Principal::DeploymentAdmin => None,
        };
        Ok((key_status, project_status))
    }
}
