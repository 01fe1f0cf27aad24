//! Compaction: folds a shard's write-ahead tail into a new base snapshot — inserting the new
//! rows into a copy of the base graph, or rebuilding the graph when too much of it is deleted —
//! writes it under a new key and moves the manifest with a conditional write. Commits that land
//! meanwhile stay in the log on top of the new base; a lost race leaves an orphan for GC.

use serde::{Deserialize, Serialize};
use snapkb_core::{Action, Manifest, SnapshotRef, now_ms};
use snapkb_index::{
    ChunkRecord, ChunkTableBuilder, Hnsw, HnswParams, Snapshot, SnapshotInfo,
    keyword::{Bm25Builder, Bm25Params},
};

use crate::{
    Engine, EngineError,
    commit::Guard,
    layout,
    records::to_value,
    state::{ShardParts, index_metric},
    sync::read,
};

/// What a compaction did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompactionReport {
    /// The manifest version the compaction committed (`None`: nothing to do, or lost a race).
    pub version: Option<u64>,
    pub shards: Vec<ShardCompaction>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardCompaction {
    pub shard: u32,
    pub rows: u64,
    pub live: u64,
    pub rebuilt: bool,
    pub bytes: u64,
}

/// A row that stays in the snapshot only to keep the graph connected: no text, no metadata,
/// an id no chunk can have.
fn placeholder(row: u32) -> ChunkRecord {
    ChunkRecord {
        id: format!("\u{1}deleted#{row}"),
        document_id: String::new(),
        text: String::new(),
        context: String::new(),
        ordinal: 0,
        attributes: Default::default(),
    }
}

/// Builds the new base of one shard. Rows that are no longer live become placeholders (and stay
/// deleted in the graph) unless the graph is rebuilt.
pub(crate) fn build_snapshot(
    info: SnapshotInfo,
    manifest: &Manifest,
    params: HnswParams,
    parts: &ShardParts,
    rebuild_fraction: f64,
    threads: usize,
) -> Result<(Snapshot, bool), EngineError> {
    let metric = index_metric(manifest.metric);
    let dims = manifest.dims as usize;
    let base_rows = parts.base.as_ref().map_or(0, |b| b.chunks.len());
    let base_dead = (0..base_rows as u32)
        .filter(|&r| !parts.base_live(r))
        .count();
    let tail_live: Vec<(u32, u32)> = parts
        .tail_rows
        .iter()
        .enumerate()
        .filter(|(i, _)| !parts.tail_dead.contains(*i as u32))
        .map(|(_, r)| *r)
        .collect();
    let total = base_rows + tail_live.len();
    let rebuild =
        parts.base.is_none() || (total > 0 && base_dead as f64 / total as f64 > rebuild_fraction);
    let mut table = ChunkTableBuilder::default();
    let mut keywords = Bm25Builder::with_analyzer(crate::state::keyword_analyzer(manifest.keyword));
    let mut new_vectors: Vec<f32> = Vec::with_capacity(tail_live.len() * dims);
    let mut index = match (&parts.base, rebuild) {
        (Some(base), false) => {
            let mut index = base.vectors.clone();
            for row in 0..base_rows as u32 {
                if parts.base_live(row) {
                    table.push_row(&base.chunks, row)?;
                    keywords.add(&base.chunks.keyword_text(row).unwrap_or_default());
                } else {
                    table.push(&placeholder(row))?;
                    keywords.add("");
                    if !index.is_deleted(row) {
                        index.delete(row)?;
                    }
                }
            }
            index
        }
        (base, _) => {
            let mut index = Hnsw::new(dims, metric, params)?;
            if let Some(base) = base {
                for row in (0..base_rows as u32).filter(|&r| parts.base_live(r)) {
                    table.push_row(&base.chunks, row)?;
                    keywords.add(&base.chunks.keyword_text(row).unwrap_or_default());
                    new_vectors.extend_from_slice(base.vectors.vector(row).unwrap_or_default());
                }
            }
            index.reserve(total);
            index
        }
    };
    for &(seg, row) in &tail_live {
        let segment = &parts.segments[seg as usize];
        table.push_row(&segment.chunks, row)?;
        keywords.add(&segment.chunks.keyword_text(row).unwrap_or_default());
        new_vectors.extend_from_slice(segment.vector(row).unwrap_or_default());
    }
    if !new_vectors.is_empty() {
        index.insert_batch(&new_vectors, threads)?;
    }
    let snapshot = Snapshot::new(
        info,
        table.build()?,
        index,
        keywords.build(Bm25Params::default())?,
    )?;
    Ok((snapshot, rebuild))
}

impl Engine {
    /// Asks the host to compact `project` now, whatever its log holds (admin scope).
    pub async fn request_compaction(
        &self,
        principal: &snapkb_core::Principal,
        project: &str,
    ) -> Result<(), EngineError> {
        self.authorize(principal, project, snapkb_core::Scope::Admin)
            .await?;
        self.compaction.request(project, true);
        self.log_op(
            project,
            principal.actor(),
            "compact.request",
            serde_json::json!({}),
        )
        .await
    }

    /// Compacts every shard of `project` whose log is past its triggers (or every shard with a
    /// log when `force`).
    pub async fn compact(
        &self,
        project_id: &str,
        force: bool,
    ) -> Result<CompactionReport, EngineError> {
        let project = self.project(project_id).await?;
        let manifest = self.read_manifest(project_id).await?;
        let due = |m: &Manifest| force || m.needs_compaction(&project.compaction);
        if !due(&manifest) || manifest.wal_segments() == 0 {
            return Ok(CompactionReport {
                version: None,
                shards: Vec::new(),
            });
        }
        let slot = self.state_at(manifest).await?;
        // The cache may already be newer than the manifest just read (writers keep
        // committing); its manifest describes exactly what it holds, so compact that.
        let (manifest, parts): (Manifest, Vec<(usize, ShardParts)>) = {
            let st = read(&slot);
            let manifest = st.manifest.clone();
            let parts = manifest
                .shards
                .iter()
                .enumerate()
                .filter(|(_, s)| !s.wal.is_empty())
                .filter_map(|(i, _)| Some((i, st.shard_parts(i)?)))
                .collect();
            (manifest, parts)
        };
        let params = HnswParams::new(project.index.m, project.index.ef_construction);
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(4);
        let mut built = Vec::new();
        let mut report = Vec::new();
        for (shard, p) in &parts {
            let info = SnapshotInfo {
                project_id: project_id.to_string(),
                shard: *shard as u32,
                manifest_version: manifest.version,
                model_id: manifest.model_id.clone(),
            };
            let (snapshot, rebuilt) = build_snapshot(
                info,
                &manifest,
                params,
                p,
                project.compaction.rebuild_deleted_fraction,
                threads,
            )?;
            let bytes = snapshot.encode();
            // Named when written, not when the compaction started: GC's grace period runs
            // from the name's time, and the commit must land within half of it (commit.rs).
            let key = layout::snapshot_key(project_id, *shard as u32, now_ms());
            let size = bytes.len() as u64;
            self.objects.put(&key, bytes.into()).await?;
            report.push(ShardCompaction {
                shard: *shard as u32,
                rows: snapshot.chunks.len() as u64,
                live: snapshot.live_len() as u64,
                rebuilt,
                bytes: size,
            });
            built.push((
                *shard,
                SnapshotRef {
                    key,
                    version: manifest.version,
                    rows: snapshot.chunks.len() as u64,
                    bytes: size,
                },
            ));
        }
        let mut attempts = self.commit_attempts(project_id).await;
        while attempts.next().await {
            let current = self.read_manifest(project_id).await?;
            let mut next = current.clone();
            for (shard, snap) in &built {
                let (was, now_shard) = (&manifest.shards[*shard], &current.shards[*shard]);
                let extends = now_shard.base == was.base
                    && now_shard.wal.len() >= was.wal.len()
                    && now_shard
                        .wal
                        .iter()
                        .zip(&was.wal)
                        .all(|(a, b)| a.key == b.key);
                if !extends {
                    // A rollback or another compaction got there first; ours is an orphan now.
                    return Ok(CompactionReport {
                        version: None,
                        shards: report,
                    });
                }
                next.shards[*shard].base = Some(snap.clone());
                next.shards[*shard].wal = now_shard.wal[was.wal.len()..].to_vec();
            }
            next.version = current.version + 1;
            next.action = Action::Compact;
            next.committed_at = now_ms();
            let detail = to_value("compaction report", &report)?;
            if self
                .commit_manifest(
                    &next,
                    current.version,
                    "compactor",
                    detail,
                    Guard::written(built.iter().map(|(_, snap)| snap.key.clone()).collect()),
                )
                .await?
            {
                let version = next.version;
                // Warm the cache with the new base so the next query does not pay for it;
                // writers need not wait for that.
                drop(attempts);
                self.state_at(next).await?;
                return Ok(CompactionReport {
                    version: Some(version),
                    shards: report,
                });
            }
        }
        Err(attempts.exhausted())
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{doc, engine, ingest, nearest, project};

    #[tokio::test]
    async fn compaction_folds_the_log_into_a_base_and_answers_stay_the_same() {
        let engine = engine();
        project(&engine, "p", false).await;
        for batch in 0..3u64 {
            let docs = (0..10)
                .map(|i| doc(&format!("d{batch}-{i}"), batch * 10 + i))
                .collect();
            ingest(&engine, "p", docs).await;
        }
        let before = nearest(&engine, "p", 7, 5).await;
        let report = engine.compact("p", true).await.unwrap();
        let version = report.version.expect("a compaction commits");
        let manifest = engine.read_manifest("p").await.unwrap();
        assert_eq!(manifest.version, version);
        assert_eq!(manifest.wal_segments(), 0, "the log is folded");
        assert!(manifest.shards[0].base.is_some());
        assert_eq!(manifest.chunks, 30);
        assert_eq!(nearest(&engine, "p", 7, 5).await, before);
    }

    #[tokio::test]
    async fn a_log_below_the_triggers_is_compacted_only_when_forced() {
        let engine = engine();
        project(&engine, "p", false).await;
        ingest(&engine, "p", vec![doc("a", 1)]).await;
        let report = engine.compact("p", false).await.unwrap();
        assert_eq!(report.version, None);
        assert!(report.shards.is_empty());
        assert!(engine.compact("p", true).await.unwrap().version.is_some());
        let nothing_left = engine.compact("p", true).await.unwrap();
        assert_eq!(
            nothing_left.version, None,
            "an empty log has nothing to fold"
        );
    }

    #[tokio::test]
    async fn deletions_survive_compaction() {
        let engine = engine();
        project(&engine, "p", false).await;
        ingest(&engine, "p", vec![doc("a", 1), doc("b", 2), doc("c", 3)]).await;
        engine
            .delete_document(&snapkb_core::Principal::DeploymentAdmin, "p", "b")
            .await
            .unwrap();
        engine.compact("p", true).await.unwrap();
        let hits = nearest(&engine, "p", 2, 10).await;
        assert_eq!(hits.len(), 2, "{hits:?}");
        assert!(hits.iter().all(|id| !id.starts_with('b')), "{hits:?}");
    }
}
