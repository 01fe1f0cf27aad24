//! Versions and rollback, and garbage collection of what no kept version references.
//! Rollback is a new version whose content is an older one's: history only grows, and the
//! documents roll back with the index because they are derived from it.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use snapkb_core::{Action, Manifest, Principal, Scope, now_ms};
use snapkb_store::{Condition, ItemRange};

use crate::{Engine, EngineError, commit::Guard, layout};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VersionView {
    pub version: u64,
    pub action: Action,
    pub committed_at: u64,
    pub documents: u64,
    pub chunks: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VersionPage {
    pub current: u64,
    pub versions: Vec<VersionView>,
    pub next: Option<String>,
}

/// What a GC pass removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GcReport {
    pub objects_deleted: u64,
    pub bytes_deleted: u64,
    pub versions_deleted: u64,
    pub objects_kept: u64,
    /// The pass stopped early (it ran past half the grace period); the next one continues.
    #[serde(default)]
    pub incomplete: bool,
    /// Projects whose collection failed (logged); the others were still collected.
    #[serde(default)]
    pub failed: Vec<String>,
    /// Operation-log entries past the newest [`OPERATIONS_KEPT`] of their project.
    #[serde(default)]
    pub operations_deleted: u64,
}

/// Operation-log entries kept per project (newest first); older ones go with GC.
pub const OPERATIONS_KEPT: usize = 10_000;

/// What a [`Engine::sweep`] did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SweepReport {
    /// Projects compacted to a new version.
    pub compacted: Vec<String>,
    /// Projects whose compaction failed (logged; retried on the next sweep or trigger).
    pub failed: Vec<String>,
    pub gc: GcReport,
    /// Items past their TTL removed from a store that does not expire them itself.
    #[serde(default)]
    pub expired_items: u64,
}

fn parse_version(item: &snapkb_store::Item) -> Result<Manifest, EngineError> {
    let mut m: Manifest = serde_json::from_slice(&item.value)
        .map_err(|e| EngineError::Corrupt(format!("version item {}: {e}", item.sk)))?;
    if let Some(v) = layout::version_from_sk(&item.sk) {
        m.version = v;
    }
    Ok(m)
}

impl Engine {
    pub async fn list_versions(
        &self,
        principal: &Principal,
        project: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<VersionPage, EngineError> {
        self.authorize(principal, project, Scope::Read).await?;
        let current = self.read_manifest(project).await?.version;
        let page = self.list_page(project, "ver#", after, limit).await?;
        let versions = page
            .items
            .iter()
            .map(parse_version)
            .map(|m| {
                m.map(|m| VersionView {
                    version: m.version,
                    action: m.action,
                    committed_at: m.committed_at,
                    documents: m.documents,
                    chunks: m.chunks,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(VersionPage {
            current,
            versions,
            next: page.next_after,
        })
    }

    /// Makes the project's index (and so its documents) what it was at `version`, as a new
    /// version. Fails with `NotFound` when that version is no longer kept.
    pub async fn rollback(
        &self,
        principal: &Principal,
        project: &str,
        version: u64,
    ) -> Result<u64, EngineError> {
        self.authorize(principal, project, Scope::Admin).await?;
        let item = self
            .meta
            .get(&layout::project_pk(project), &layout::version_sk(version))
            .await?
            .ok_or_else(|| {
                EngineError::not_found(format!("version {version} (it may be past retention)"))
            })?;
        let target = parse_version(&item)?;
        for key in target.objects() {
            if self.objects.head(key).await?.is_none() {
                return Err(EngineError::Conflict(format!(
                    "version {version} can no longer be restored: object {key} was collected"
                )));
            }
        }
        let mut attempts = self.commit_attempts(project).await;
        while attempts.next().await {
            let current = self.read_manifest(project).await?;
            let mut next = target.clone();
            next.version = current.version + 1;
            next.action = Action::Rollback;
            next.committed_at = now_ms();
            if self
                .commit_manifest(
                    &next,
                    current.version,
                    principal.actor(),
                    serde_json::json!({"to": version}),
                    Guard {
                        restores: Some(version),
                        ..Guard::default()
                    },
                )
                .await?
            {
                return Ok(next.version);
            }
            // Lost a race, or GC retired the version meanwhile (the commit checks it is kept).
            if self
                .meta
                .get(&layout::project_pk(project), &layout::version_sk(version))
                .await?
                .is_none()
            {
                return Err(EngineError::not_found(format!(
                    "version {version} (it may be past retention)"
                )));
            }
        }
        Err(attempts.exhausted())
    }

    /// Removes version records past the project's retention and objects that neither the
    /// current manifest nor a kept version references, once older than the grace period. The
    /// order is what makes it safe against writers committing meanwhile (see `commit::Guard`):
    /// retire version items first, then re-read every manifest that is kept, then delete only
    /// objects older than the grace period before that read, and only within half the grace
    /// period after it (a pass that runs longer stops and the next one continues).
    pub async fn gc(&self, project: &str) -> Result<GcReport, EngineError> {
        let config = self.project(project).await?;
        let keep = config.compaction.retain_versions as usize;
        let pk = layout::project_pk(project);
        let grace = self.config.gc_grace_ms;
        let mut report = GcReport::default();
        let current = self.read_manifest(project).await?.version;
        let kept = self.query_all(&pk, "ver#").await?;
        for (seen, item) in kept.iter().enumerate() {
            let version = layout::version_from_sk(&item.sk);
            if seen >= keep && version != Some(current) {
                self.meta.delete(&pk, &item.sk, Condition::None).await?;
                report.versions_deleted += 1;
            }
        }
        report.operations_deleted = self.prune_operations(&pk).await?;
        let read_at = now_ms();
        let current = self.read_manifest(project).await?;
        let mut referenced: HashSet<String> = current.objects().map(str::to_string).collect();
        for item in self.query_all(&pk, "ver#").await? {
            referenced.extend(parse_version(&item)?.objects().map(str::to_string));
        }
        let cutoff = read_at.saturating_sub(grace);
        let prefix = layout::project_prefix(project);
        let mut after: Option<String> = None;
        loop {
            let page = self.objects.list(&prefix, after.as_deref(), 1000).await?;
            for o in &page.objects {
                let young = layout::object_created_ms(&o.key).is_none_or(|t| t > cutoff);
                if referenced.contains(&o.key) || young {
                    report.objects_kept += 1;
                    continue;
                }
                if grace > 0 && now_ms().saturating_sub(read_at) > grace / 2 {
                    report.incomplete = true;
                    return Ok(report);
                }
                self.objects.delete(&o.key).await?;
                report.objects_deleted += 1;
                report.bytes_deleted += o.size;
            }
            match page.next_after {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        Ok(report)
    }

    /// Deletes a project's operation-log entries past the newest [`OPERATIONS_KEPT`].
    async fn prune_operations(&self, pk: &str) -> Result<u64, EngineError> {
        let (mut seen, mut deleted) = (0usize, 0u64);
        let mut after: Option<String> = None;
        loop {
            let range = ItemRange::new(pk, "op#").after(after.as_deref());
            let page = self.meta.query(range).await?;
            for item in &page.items {
                seen += 1;
                if seen > OPERATIONS_KEPT {
                    self.meta.delete(pk, &item.sk, Condition::None).await?;
                    deleted += 1;
                }
            }
            match page.next_after {
                Some(next) => after = Some(next),
                None => return Ok(deleted),
            }
        }
    }

    /// The periodic maintenance every host schedules (the Lambda compact function's schedule,
    /// the Worker's cron, `snapkb serve`'s timer): compacts every project whose log is past its
    /// triggers, then collects garbage. A project whose compaction fails is named in the
    /// report and does not stop the others.
    pub async fn sweep(&self) -> Result<SweepReport, EngineError> {
        let mut report = SweepReport::default();
        for project in self.list_projects(&Principal::DeploymentAdmin).await? {
            match self.compact(&project.id, false).await {
                Ok(r) if r.version.is_some() => report.compacted.push(project.id),
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(project = %project.id, error = %e, "compaction failed");
                    report.failed.push(project.id);
                }
            }
        }
        report.gc = self.gc_all().await?;
        report.expired_items = self.meta.remove_expired(now_ms() / 1000).await?;
        Ok(report)
    }

    /// GC over every project, and finishing interrupted project deletions.
    pub async fn gc_all(&self) -> Result<GcReport, EngineError> {
        self.purge_deleted_projects().await?;
        let mut total = GcReport::default();
        for p in self.list_projects(&Principal::DeploymentAdmin).await? {
            let r = match self.gc(&p.id).await {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(project = %p.id, error = %e, "garbage collection failed");
                    total.failed.push(p.id);
                    continue;
                }
            };
            total.objects_deleted += r.objects_deleted;
            total.bytes_deleted += r.bytes_deleted;
            total.versions_deleted += r.versions_deleted;
            total.objects_kept += r.objects_kept;
            total.incomplete |= r.incomplete;
            total.operations_deleted += r.operations_deleted;
        }
        Ok(total)
    }
}
