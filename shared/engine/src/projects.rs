//! Projects: create (with its first manifest), list, show with stats, update, and delete with
//! all its data. Creation is one transaction; deletion first hides the project atomically,
//! then removes its objects and items, and keeps the id taken until that is done.

use serde::{Deserialize, Serialize};
use snapkb_core::{
    Action, ChunkingConfig, CompactionConfig, EmbeddingConfig, IndexConfig, KeywordConfig,
    Manifest, Principal, Project, ProjectPatch, Quotas, RateLimits, Scope, ShardState, now_ms,
};
use snapkb_store::{Condition, Item, ItemRange, StoreError, TransactWrite};

use crate::{
    Engine, EngineError,
    commit::manifest_items,
    layout,
    oplog::op_write,
    records::{encode, parse_project, to_value},
};

/// What a caller sends to create a project; everything but the id has a default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProject {
    pub id: String,
    pub name: Option<String>,
    pub embedding: Option<EmbeddingConfig>,
    pub chunking: Option<ChunkingConfig>,
    pub keyword: Option<KeywordConfig>,
    pub index: Option<IndexConfig>,
    pub quotas: Option<Quotas>,
    pub rate_limits: Option<RateLimits>,
    pub compaction: Option<CompactionConfig>,
}

/// Counts and index state shown with a project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProjectStats {
    pub version: u64,
    pub documents: u64,
    pub chunks: u64,
    pub bytes: u64,
    pub wal_segments: u64,
    pub wal_chunks: u64,
    pub committed_at: u64,
}

impl ProjectStats {
    pub(crate) fn of(m: &Manifest) -> Self {
        Self {
            version: m.version,
            documents: m.documents,
            chunks: m.chunks,
            bytes: m.bytes,
            wal_segments: m.wal_segments() as u64,
            wal_chunks: m.wal_chunks(),
            committed_at: m.committed_at,
        }
    }
}

/// A project write that lost to another change of the project is a conflict to retry.
fn changed_meanwhile(e: StoreError) -> EngineError {
    match e {
        StoreError::ConditionFailed { .. } => {
            EngineError::Conflict("the project changed meanwhile; retry".into())
        }
        StoreError::NotFound { .. }
        | StoreError::Invalid(_)
        | StoreError::Throttled
        | StoreError::Unavailable(_)
        | StoreError::Backend(_) => e.into(),
    }
}

/// How long an import may run before a sweep takes it for abandoned (a crash mid-import) and
/// removes what it wrote.
pub(crate) const ABANDONED_IMPORT_MS: u64 = 24 * 60 * 60 * 1000;

fn project_item(p: &Project, version: u64) -> Result<Item, EngineError> {
    Ok(Item::new(
        layout::PROJECTS_PK,
        p.id.clone(),
        version,
        encode("project", p)?,
    ))
}

impl Engine {
    pub async fn create_project(
        &self,
        principal: &Principal,
        request: CreateProject,
    ) -> Result<(Project, ProjectStats), EngineError> {
        self.create_project_item(principal, request, None).await
    }

    /// Creates a project; with `importing_since`, one that stays unseen until an import has
    /// filled it ([`Engine::finish_import`]).
    pub(crate) async fn create_project_item(
        &self,
        principal: &Principal,
        request: CreateProject,
        importing_since: Option<u64>,
    ) -> Result<(Project, ProjectStats), EngineError> {
        self.require_deployment_admin(principal)?;
        let now = now_ms();
        let project = Project {
            name: request.name.unwrap_or_else(|| request.id.clone()),
            id: request.id,
            embedding: request.embedding.unwrap_or_default(),
            chunking: request.chunking.unwrap_or_default(),
            keyword: request.keyword.unwrap_or_default(),
            index: request.index.unwrap_or_default(),
            quotas: request.quotas.unwrap_or_default(),
            rate_limits: request.rate_limits.unwrap_or_default(),
            compaction: request.compaction.unwrap_or_default(),
            created_at: now,
            webhook_secret: snapkb_core::random_hex(32),
            generation: snapkb_core::random_hex(8),
            deleted_at: None,
            importing_since,
        };
        project.validate()?;
        if let Some(model) = project.model_id()
            && self.embedder.as_ref().is_none_or(|e| e.model_id() != model)
        {
            return Err(EngineError::invalid(
                "embedding.model",
                "this deployment has no embedding model; create the project with `\"model\": null` and send vectors",
            ));
        }
        let manifest = Manifest {
            project: project.id.clone(),
            version: 1,
            action: Action::Create,
            committed_at: now,
            model_id: project.model_id().unwrap_or("caller").to_string(),
            dims: project.embedding.dims,
            metric: project.embedding.metric,
            keyword: project.keyword,
            shards: vec![ShardState::default(); project.index.shards as usize],
            documents: 0,
            chunks: 0,
            bytes: 0,
            generation: project.generation.clone(),
        };
        let (current, copy) = manifest_items(&manifest)?;
        let writes = vec![
            TransactWrite::Put {
                item: project_item(&project, 1)?,
                condition: Condition::Absent,
            },
            TransactWrite::Put {
                item: current,
                condition: Condition::Absent,
            },
            TransactWrite::Put {
                item: copy,
                condition: Condition::Absent,
            },
            op_write(
                &project.id,
                principal.actor(),
                "project.create",
                Some(1),
                serde_json::json!({}),
            )?,
        ];
        match self.meta.transact(writes).await {
            Ok(()) => {}
            Err(StoreError::ConditionFailed { .. }) => {
                let existing = self.meta.get(layout::PROJECTS_PK, &project.id).await?;
                let deleting = existing
                    .map(|i| parse_project(&i))
                    .transpose()?
                    .is_some_and(|p| p.deleted_at.is_some());
                return Err(EngineError::Conflict(if deleting {
                    format!(
                        "project `{}` is still being deleted; retry shortly",
                        project.id
                    )
                } else {
                    format!("project `{}` already exists", project.id)
                }));
            }
            Err(e) => return Err(e.into()),
        }
        Ok((project, ProjectStats::of(&manifest)))
    }

    pub async fn list_projects(&self, principal: &Principal) -> Result<Vec<Project>, EngineError> {
        match principal {
            Principal::Key(key) => Ok(self
                .project(&key.project)
                .await
                .map(|p| vec![(*p).clone()])
                .unwrap_or_default()),
            Principal::DeploymentAdmin => {
                let mut projects = Vec::new();
                for item in self.query_all(layout::PROJECTS_PK, "").await? {
                    let p = parse_project(&item)?;
                    if p.is_live() {
                        projects.push(p);
                    }
                }
                Ok(projects)
            }
        }
    }

    pub async fn get_project(
        &self,
        principal: &Principal,
        id: &str,
    ) -> Result<(Project, ProjectStats), EngineError> {
        let project = self.authorize(principal, id, Scope::Read).await?;
        let manifest = self.read_manifest(id).await?;
        Ok(((*project).clone(), ProjectStats::of(&manifest)))
    }

    /// Gives the project a new webhook secret; deliveries signed with the old one are refused
    /// from now on (on other instances within `key_cache_ms`).
    pub async fn rotate_webhook_secret(
        &self,
        principal: &Principal,
        id: &str,
    ) -> Result<Project, EngineError> {
        self.authorize(principal, id, Scope::Admin).await?;
        let project = self
            .change_project(id, |p| {
                p.webhook_secret = snapkb_core::random_hex(32);
                Ok(())
            })
            .await?;
        self.log_op(
            id,
            principal.actor(),
            "project.webhook_secret.rotate",
            serde_json::json!({}),
        )
        .await?;
        Ok(project)
    }

    /// Makes an imported project visible, after its last commit.
    pub(crate) async fn finish_import(&self, id: &str) -> Result<Project, EngineError> {
        self.change_project(id, |p| {
            p.importing_since = None;
            Ok(())
        })
        .await
    }

    /// Reads project `id`, applies `change`, and writes it over the version it read (a
    /// conflict to retry when another change landed first); this process forgets its cached
    /// copy at once.
    async fn change_project(
        &self,
        id: &str,
        change: impl FnOnce(&mut Project) -> Result<(), EngineError>,
    ) -> Result<Project, EngineError> {
        let item = self.project_item(id).await?;
        let mut project = parse_project(&item)?;
        change(&mut project)?;
        self.meta
            .put(
                project_item(&project, item.version + 1)?,
                Condition::VersionEquals(item.version),
            )
            .await
            .map_err(changed_meanwhile)?;
        self.access.forget_project_config(id);
        Ok(project)
    }

    /// The stored item of project `id` (its version is the optimistic-concurrency token).
    pub(crate) async fn project_item(&self, id: &str) -> Result<Item, EngineError> {
        self.meta
            .get(layout::PROJECTS_PK, id)
            .await?
            .ok_or_else(|| EngineError::not_found(format!("project `{id}`")))
    }

    pub async fn update_project(
        &self,
        principal: &Principal,
        id: &str,
        patch: ProjectPatch,
    ) -> Result<Project, EngineError> {
        self.authorize(principal, id, Scope::Admin).await?;
        let updated = self
            .change_project(id, |current| {
                let updated = current.patched(patch.clone())?;
                if let (Principal::Key(_), Some(field)) = (principal, current.loosened(&updated)) {
                    return Err(EngineError::invalid(
                        field,
                        "only the deployment admin may raise a project's limits; a project \
                         key may only tighten them",
                    ));
                }
                *current = updated;
                Ok(())
            })
            .await?;
        self.log_op(
            id,
            principal.actor(),
            "project.update",
            to_value("patch", &patch)?,
        )
        .await?;
        Ok(updated)
    }

    /// Deletes a project: hidden at once (one transaction), then its objects and items are
    /// removed. If removal is interrupted, [`Engine::purge_deleted_projects`] finishes it.
    pub async fn delete_project(&self, principal: &Principal, id: &str) -> Result<(), EngineError> {
        self.authorize(principal, id, Scope::Admin).await?;
        self.remove_project(id).await
    }

    /// Hides project `id` at once (one transaction), then removes its objects and items.
    pub(crate) async fn remove_project(&self, id: &str) -> Result<(), EngineError> {
        let item = self.project_item(id).await?;
        let mut project = parse_project(&item)?;
        project.deleted_at = Some(now_ms());
        self.meta
            .transact(vec![
                TransactWrite::Put {
                    item: project_item(&project, item.version + 1)?,
                    condition: Condition::VersionEquals(item.version),
                },
                TransactWrite::Delete {
                    pk: layout::project_pk(id),
                    sk: layout::MANIFEST_SK.into(),
                    condition: Condition::None,
                },
            ])
            .await
            .map_err(changed_meanwhile)?;
        self.forget_project(id);
        self.purge_project(id).await
    }

    pub(crate) fn forget_project(&self, id: &str) {
        self.access.forget_project(id);
        self.forget_state(id);
        self.metrics.forget(id);
        self.query_vectors.forget_project(id);
    }

    /// Removes every object and item of a project marked deleted, then the project item.
    async fn purge_project(&self, id: &str) -> Result<(), EngineError> {
        let prefix = layout::project_prefix(id);
        loop {
            let page = self.objects.list(&prefix, None, 1000).await?;
            if page.objects.is_empty() {
                break;
            }
            for o in &page.objects {
                self.objects.delete(&o.key).await?;
            }
        }
        let pk = layout::project_pk(id);
        loop {
            let page = self.meta.query(ItemRange::new(&pk, "").limit(100)).await?;
            if page.items.is_empty() {
                break;
            }
            for item in &page.items {
                if let Some(key_id) = item.sk.strip_prefix("key#") {
                    self.meta
                        .delete(&layout::key_pk(key_id), layout::KEY_SK, Condition::None)
                        .await?;
                }
                self.meta.delete(&pk, &item.sk, Condition::None).await?;
            }
        }
        self.meta
            .delete(layout::PROJECTS_PK, id, Condition::None)
            .await?;
        Ok(())
    }

    /// Finishes deletions that were interrupted (run by GC).
    pub async fn purge_deleted_projects(&self) -> Result<usize, EngineError> {
        let mut purged = 0;
        let abandoned_before = now_ms().saturating_sub(ABANDONED_IMPORT_MS);
        for item in self.query_all(layout::PROJECTS_PK, "").await? {
            let p = parse_project(&item)?;
            let abandoned = p.importing_since.is_some_and(|t| t < abandoned_before);
            if p.deleted_at.is_some() || abandoned {
                self.purge_project(&item.sk).await?;
                purged += 1;
            }
        }
        Ok(purged)
    }
}
