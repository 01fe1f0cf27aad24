//! The engine: the storage ports, the embedder and the per-process caches (loaded indexes,
//! projects, verified keys) that every use case shares. Stateless in the sense that matters:
//! everything cached can be dropped and re-read from the stores at any moment.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, RwLock},
};

use bytes::Bytes;
use snapkb_core::{Config, Manifest, Principal, Project, Scope};
use snapkb_index::{Snapshot, WalSegment};
use snapkb_store::{ItemRange, MetaStore, ObjectStore};

use crate::{
    EngineError, RateStatus, TextEmbedder,
    access::Access,
    cpu::CpuPool,
    health::QueryMetrics,
    layout,
    ratelimit::RateLimiter,
    state::ProjectState,
    sync::{lock, read, write},
};

/// Asked to compact a project soon (after an ingest leaves its log over a trigger). Hosts
/// decide how: a background task in `snapkb serve`, an async invocation on Lambda.
pub trait CompactionTrigger: snapkb_store::MaybeSendSync {
    /// `force`: compact whatever the log holds, even below the project's triggers.
    fn request(&self, project: &str, force: bool);
}

/// Waiting, from the host's timer: the engine has no runtime of its own (tokio natively, the
/// platform's timer on the edge).
#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
pub trait Pause: snapkb_store::MaybeSendSync {
    async fn pause(&self, duration: std::time::Duration);
}

/// Tokio's timer.
#[cfg(feature = "tokio")]
#[derive(Debug, Default)]
pub struct TokioPause;

#[cfg(feature = "tokio")]
#[async_trait::async_trait]
impl Pause for TokioPause {
    async fn pause(&self, duration: std::time::Duration) {
        tokio::time::sleep(duration).await;
    }
}

/// No timer: a retry only yields. For hosts without one; writers that lose races then retry
/// at once instead of spreading out.
#[derive(Debug, Default)]
pub struct NoPause;

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl Pause for NoPause {
    async fn pause(&self, _duration: std::time::Duration) {}
}

/// A trigger that does nothing: compaction runs only when called.
#[derive(Debug, Default)]
pub struct NoCompactionTrigger;

impl CompactionTrigger for NoCompactionTrigger {
    fn request(&self, _project: &str, _force: bool) {}
}

pub(crate) type StateSlot = Arc<RwLock<ProjectState>>;

pub struct Engine {
    pub(crate) objects: Arc<dyn ObjectStore>,
    pub(crate) meta: Arc<dyn MetaStore>,
    pub(crate) embedder: Option<Arc<dyn TextEmbedder>>,
    pub(crate) config: Config,
    pub(crate) compaction: Arc<dyn CompactionTrigger>,
    pub(crate) pause: Arc<dyn Pause>,
    pub(crate) metrics: QueryMetrics,
    /// Query texts' vectors, so a question asked again is not embedded again.
    pub(crate) query_vectors: crate::query_vectors::QueryVectors,
    states: Mutex<HashMap<String, StateSlot>>,
    /// One commit at a time per project in this process: writers in one process queue here
    /// instead of racing on the manifest (a lost race costs a WAL object and a re-plan, and a
    /// busy process could starve one writer). Races between processes remain, and the
    /// conditional commit settles them.
    pub(crate) writers: Mutex<HashMap<String, Arc<futures::lock::Mutex<()>>>>,
    pub(crate) access: Access,
    /// Where queries' CPU work runs (bounded, off the async workers).
    pub(crate) cpu: CpuPool,
    /// Where exports delivered by link are written, if the host has such a store.
    pub(crate) downloads: Option<crate::export::Downloads>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.config)
            .field(
                "embedder",
                &self.embedder.as_ref().map(|e| e.model_id().to_string()),
            )
            .finish_non_exhaustive()
    }
}

fn default_pause() -> Arc<dyn Pause> {
    #[cfg(feature = "tokio")]
    return Arc::new(TokioPause);
    #[cfg(not(feature = "tokio"))]
    return Arc::new(NoPause);
}

impl Engine {
    /// An engine over two stores, with in-process rate limits and no background compaction.
    pub fn new(objects: Arc<dyn ObjectStore>, meta: Arc<dyn MetaStore>, config: Config) -> Self {
        let access = Access::new(meta.clone(), &config);
        Self {
            objects,
            meta,
            embedder: None,
            config,
            compaction: Arc::new(NoCompactionTrigger),
            pause: default_pause(),
            metrics: QueryMetrics::default(),
            query_vectors: Default::default(),
            states: Mutex::new(HashMap::new()),
            writers: Mutex::new(HashMap::new()),
            access,
            cpu: CpuPool::default(),
            downloads: None,
        }
    }

    pub fn with_embedder(mut self, embedder: Arc<dyn TextEmbedder>) -> Self {
        self.embedder = Some(embedder);
        self
    }

    pub fn with_rate_limiter(mut self, limiter: Arc<dyn RateLimiter>) -> Self {
        self.access.limiter = limiter;
        self
    }

    pub fn with_compaction_trigger(mut self, trigger: Arc<dyn CompactionTrigger>) -> Self {
        self.compaction = trigger;
        self
    }

    /// Exports can be delivered as a download link to an object in `links`; with
    /// `by_default`, every export is unless the request asks for the stream (hosts whose
    /// responses are bounded, like Lambda's 6 MB).
    pub fn with_download_links(
        mut self,
        links: Arc<dyn snapkb_store::DownloadLinks>,
        by_default: bool,
    ) -> Self {
        self.downloads = Some(crate::export::Downloads { links, by_default });
        self
    }

    /// Whether an export that does not say how it wants the archive gets a link.
    pub fn exports_by_link(&self) -> bool {
        self.downloads.as_ref().is_some_and(|d| d.by_default)
    }

    pub fn with_pause(mut self, pause: Arc<dyn Pause>) -> Self {
        self.pause = pause;
        self
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Turns a presented token into a principal. Every failure is the same `Unauthorized`.
    pub async fn authenticate(&self, token: &str) -> Result<Principal, EngineError> {
        self.access.authenticate(token).await
    }

    /// Checks that `principal` can see `project` (else `NotFound`, never revealing that it
    /// exists) and has `scope` (else `Forbidden`); the project's configuration.
    pub async fn authorize(
        &self,
        principal: &Principal,
        project: &str,
        scope: Scope,
    ) -> Result<Arc<Project>, EngineError> {
        self.access.authorize(principal, project, scope).await
    }

    /// Checks that `principal` is the deployment admin (else `Forbidden`).
    pub fn require_deployment_admin(&self, principal: &Principal) -> Result<(), EngineError> {
        self.access.require_deployment_admin(principal)
    }

    /// A project's configuration (cached for `key_cache_ms`).
    pub async fn project(&self, id: &str) -> Result<Arc<Project>, EngineError> {
        self.access.project(id).await
    }

    /// The tighter of the key's and the project's rate-limit state, without counting a request
    /// (for the headers of routes that read the limits).
    pub async fn rate_status(
        &self,
        principal: &Principal,
        project: &str,
    ) -> Result<RateStatus, EngineError> {
        let (key, project) = self.access.rate_usage(principal, project).await?;
        Ok(match key {
            Some(key) if key.remaining < project.remaining => key,
            Some(_) | None => project,
        })
    }

    /// Counts a request of `principal` against `project`'s rate limits.
    pub async fn check_rate(
        &self,
        principal: &Principal,
        project: &str,
    ) -> Result<RateStatus, EngineError> {
        self.access.check_rate(principal, project).await
    }

    /// A page of a project's items under `prefix` for a listing route: `limit` is clamped to
    /// 1..=1000.
    pub(crate) async fn list_page(
        &self,
        project: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<snapkb_store::QueryPage, EngineError> {
        let pk = layout::project_pk(project);
        let range = ItemRange::new(&pk, prefix).after(after);
        Ok(self.meta.query(range.limit(limit.clamp(1, 1000))).await?)
    }

    /// Every item of a partition under a sort-key prefix, all pages.
    pub(crate) async fn query_all(
        &self,
        pk: &str,
        prefix: &str,
    ) -> Result<Vec<snapkb_store::Item>, EngineError> {
        let mut items = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self
                .meta
                .query(ItemRange::new(pk, prefix).after(after.as_deref()))
                .await?;
            items.extend(page.items);
            match page.next_after {
                Some(next) => after = Some(next),
                None => return Ok(items),
            }
        }
    }

    /// The current manifest (consistent read); `NotFound` for unknown projects.
    pub(crate) async fn read_manifest(&self, project: &str) -> Result<Manifest, EngineError> {
        let item = self.manifest_item(project).await?;
        Self::parse_manifest(project, &item)
    }

    async fn manifest_item(&self, project: &str) -> Result<snapkb_store::Item, EngineError> {
        self.meta
            .get(&layout::project_pk(project), layout::MANIFEST_SK)
            .await?
            .ok_or_else(|| EngineError::not_found(format!("project `{project}`")))
    }

    fn parse_manifest(project: &str, item: &snapkb_store::Item) -> Result<Manifest, EngineError> {
        let mut manifest: Manifest = serde_json::from_slice(&item.value)
            .map_err(|e| EngineError::Corrupt(format!("manifest of `{project}`: {e}")))?;
        manifest.version = item.version;
        Ok(manifest)
    }

    /// The current manifest version of a project.
    pub async fn read_version(&self, project: &str) -> u64 {
        self.read_manifest(project).await.map_or(0, |m| m.version)
    }

    /// The loaded index of a project at its current version (or newer).
    /// Every query starts here: the consistent read of the manifest item is kept, but its JSON
    /// is parsed only when the cache is behind the item's version.
    ///
    /// `project` is the configuration the caller was authorized against; the index must be of
    /// the same incarnation. A project deleted and re-created under the same id has a new
    /// generation, so neither a cached index of the old one (here or on another instance) nor
    /// a cached configuration of it is ever served for the new one.
    pub(crate) async fn state(&self, project: &Project) -> Result<StateSlot, EngineError> {
        let id = project.id.as_str();
        let item = self.manifest_item(id).await?;
        if let Some(slot) = self.cached_state(id) {
            let st = read(&slot);
            if st.version() == item.version && st.manifest.generation == project.generation {
                drop(st);
                return Ok(slot);
            }
        }
        let manifest = Self::parse_manifest(id, &item)?;
        if manifest.generation != project.generation {
            // The configuration this request was authorized with is of an earlier project with
            // this id: read it again on the retry.
            self.access.forget_project_config(id);
            return Err(EngineError::Unavailable(format!(
                "project `{id}` was re-created meanwhile; retry"
            )));
        }
        self.state_at(manifest).await
    }

    pub(crate) fn cached_state(&self, project: &str) -> Option<StateSlot> {
        lock(&self.states).get(project).cloned()
    }

    pub(crate) fn forget_state(&self, project: &str) {
        lock(&self.states).remove(project);
    }

    /// Brings the cached index to `manifest` (applying only new segments when it can).
    pub(crate) async fn state_at(&self, manifest: Manifest) -> Result<StateSlot, EngineError> {
        let project = manifest.project.clone();
        let slot = self.cached_state(&project);
        if let Some(slot) = &slot {
            let (current, missing) = {
                let st = read(slot);
                let same = st.manifest.generation == manifest.generation;
                if same && st.version() >= manifest.version {
                    return Ok(slot.clone());
                }
                let missing: Option<Vec<(usize, snapkb_core::SegmentRef)>> =
                    (same && st.extends_to(&manifest)).then(|| {
                        st.missing_segments(&manifest)
                            .into_iter()
                            .map(|(s, r)| (s, r.clone()))
                            .collect()
                    });
                (st.version(), missing)
            };
            if let Some(missing) = missing {
                let mut fetched = Vec::with_capacity(missing.len());
                for (shard, segment) in &missing {
                    fetched.push((
                        *shard,
                        segment.key.clone(),
                        self.load_segment(&manifest, &segment.key).await?,
                    ));
                }
                let mut st = write(slot);
                if st.version() == current && st.manifest.generation == manifest.generation {
                    for (shard, key, segment) in fetched {
                        st.apply(shard, key, segment)?;
                    }
                    st.manifest = manifest;
                    return Ok(slot.clone());
                }
                if st.manifest.generation == manifest.generation && st.version() >= manifest.version
                {
                    return Ok(slot.clone());
                }
                // Someone else moved it meanwhile in another direction: load from scratch.
            }
        }
        let fresh = self.load_state(manifest, slot.as_ref()).await?;
        let mut states = lock(&self.states);
        match states.get(&project) {
            Some(existing) => {
                let mut st = write(existing);
                // A newer version of this incarnation, or any version of a newer one (this
                // load read the manifest just now).
                if st.manifest.generation != fresh.manifest.generation
                    || st.version() < fresh.version()
                {
                    *st = fresh;
                }
                drop(st);
                Ok(existing.clone())
            }
            None => {
                let slot = Arc::new(RwLock::new(fresh));
                states.insert(project, slot.clone());
                Ok(slot)
            }
        }
    }

    pub(crate) async fn load_state(
        &self,
        manifest: Manifest,
        previous: Option<&StateSlot>,
    ) -> Result<ProjectState, EngineError> {
        let mut bases = Vec::with_capacity(manifest.shards.len());
        for (s, shard) in manifest.shards.iter().enumerate() {
            let Some(base) = &shard.base else {
                bases.push(None);
                continue;
            };
            let reused = previous.and_then(|p| {
                let st = read(p);
                st.base(s)
                    .filter(|(k, _)| *k == base.key)
                    .map(|(_, snap)| snap.clone())
            });
            let snapshot = match reused {
                Some(s) => s,
                None => {
                    let bytes = self.objects.get(&base.key).await?;
                    let snapshot = Snapshot::decode(bytes)?;
                    check_snapshot(&manifest, &snapshot, &base.key)?;
                    Arc::new(snapshot)
                }
            };
            bases.push(Some((base.key.clone(), snapshot)));
        }
        let mut state = ProjectState::new(manifest.clone(), bases)?;
        for (s, shard) in manifest.shards.iter().enumerate() {
            for w in &shard.wal {
                let reused = previous.and_then(|p| read(p).segment(s, &w.key).cloned());
                let segment = match reused {
                    Some(seg) => seg,
                    None => self.load_segment(&manifest, &w.key).await?,
                };
                state.apply(s, w.key.clone(), segment)?;
            }
        }
        Ok(state)
    }

    async fn load_segment(
        &self,
        manifest: &Manifest,
        key: &str,
    ) -> Result<Arc<WalSegment>, EngineError> {
        let bytes: Bytes = self.objects.get(key).await?;
        let segment = WalSegment::decode(bytes)?;
        let h = &segment.header;
        if h.project_id != manifest.project || h.dims != manifest.dims {
            return Err(EngineError::Corrupt(format!(
                "segment {key} belongs to project `{}` with {} dims",
                h.project_id, h.dims
            )));
        }
        Ok(Arc::new(segment))
    }
}

fn check_snapshot(manifest: &Manifest, snapshot: &Snapshot, key: &str) -> Result<(), EngineError> {
    if snapshot.info.project_id != manifest.project
        || snapshot.vectors.dims() != manifest.dims as usize
    {
        return Err(EngineError::Corrupt(format!(
            "snapshot {key} belongs to project `{}` with {} dims",
            snapshot.info.project_id,
            snapshot.vectors.dims()
        )));
    }
    Ok(())
}
