//! The commit protocol, the one place where writers serialize. A writer takes this process's
//! turn for the project (writers in one process queue instead of racing), plans against the
//! manifest it read, writes its immutable WAL segments, and commits with one conditional
//! transaction: the manifest at the next version (expected previous version), its per-version
//! copy and its operation-log entry. A lost race (another process committed first) re-plans
//! after a jittered back-off, a bounded number of times; a caller never sees a conflict, only
//! a retryable 503 when writers keep colliding. Segments of a lost race are orphans for GC.

use serde_json::Value;
use snapkb_core::{Action, Manifest, now_ms};
use snapkb_index::{ChunkRecord, WalHeader, WalSegment};
use snapkb_store::{Condition, Item, StoreError, TransactWrite};

use crate::{
    Engine, EngineError, layout,
    oplog::op_write,
    records::encode,
    sync::{lock, write},
};

/// How many times a commit is re-planned after losing a race before giving up with 503.
const MAX_COMMIT_ATTEMPTS: u32 = 64;

/// Rows and tombstones to commit, with the counts they leave behind.
#[derive(Debug, Default)]
pub(crate) struct Change {
    pub(crate) rows: Vec<(ChunkRecord, Vec<f32>)>,
    pub(crate) tombstones: Vec<String>,
    pub(crate) documents: u64,
    pub(crate) chunks: u64,
    pub(crate) bytes: u64,
    /// A signed webhook's delivery claim, written with the commit so that a delivery refused
    /// for any reason can be sent again, and an accepted one cannot.
    pub(crate) claim: Option<Item>,
}

/// What a commit relies on that GC could take away, checked as it lands. GC deletes an
/// unreferenced object only if its name's time is older than the grace period, and only within
/// half the grace period of re-reading every manifest it keeps (versions.rs); a writer commits
/// objects it wrote only within half the grace period of their names' times. So an object GC
/// deletes was never committed by a writer after GC's read, and one committed before it is seen.
#[derive(Debug, Default)]
pub(crate) struct Guard {
    /// Keys of the objects this writer wrote and the commit references.
    pub(crate) written: Vec<String>,
    /// A kept version the commit restores (a rollback): its item must still exist when the
    /// commit lands, since GC deletes a version's item before the objects only it referenced.
    pub(crate) restores: Option<u64>,
    /// An item that must not exist yet and is written with the commit (a webhook's claim).
    pub(crate) claim: Option<Item>,
}

impl Guard {
    pub(crate) fn written(written: Vec<String>) -> Self {
        Self {
            written,
            ..Self::default()
        }
    }

    /// Refuses the commit when an object it wrote is old enough that GC may take it. A grace
    /// period of 0 (tests, single-writer maintenance) promises nothing and checks nothing.
    fn check_fresh(&self, gc_grace_ms: u64) -> Result<(), EngineError> {
        if gc_grace_ms == 0 {
            return Ok(());
        }
        let now = now_ms();
        let oldest = self
            .written
            .iter()
            .filter_map(|k| layout::object_created_ms(k))
            .min();
        match oldest {
            Some(t) if now.saturating_sub(t) > gc_grace_ms / 2 => {
                Err(EngineError::Unavailable(format!(
                    "this write took {} ms, more than half the GC grace period \
                     (SNAPKB_GC_GRACE_MS = {gc_grace_ms}); nothing was committed, retry",
                    now - t
                )))
            }
            Some(_) | None => Ok(()),
        }
    }
}

/// A manifest's two items, from one encoding: the current manifest (versioned by the manifest
/// version, the item every commit conditions on) and its per-version copy kept for rollback.
pub(crate) fn manifest_items(m: &Manifest) -> Result<(Item, Item), EngineError> {
    let value = bytes::Bytes::from(encode("manifest", m)?);
    let pk = layout::project_pk(&m.project);
    let current = Item::new(pk.clone(), layout::MANIFEST_SK, m.version, value.clone());
    let copy = Item::new(pk, layout::version_sk(m.version), 1, value);
    Ok((current, copy))
}

/// One writer's attempts at a commit, holding this process's turn for the project.
pub(crate) struct CommitAttempts<'e> {
    engine: &'e Engine,
    made: u32,
    _turn: futures::lock::OwnedMutexGuard<()>,
}

impl std::fmt::Debug for CommitAttempts<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommitAttempts")
            .field("made", &self.made)
            .finish_non_exhaustive()
    }
}

impl CommitAttempts<'_> {
    /// Whether to (re)try: backs off before every retry; `false` once the attempts are used up.
    pub(crate) async fn next(&mut self) -> bool {
        if self.made >= MAX_COMMIT_ATTEMPTS {
            return false;
        }
        if self.made > 0 {
            self.engine.back_off(self.made).await;
        }
        self.made += 1;
        true
    }

    /// The error once every attempt lost its race.
    pub(crate) fn exhausted(&self) -> EngineError {
        EngineError::Unavailable("too many concurrent writers; retry".into())
    }
}

impl Engine {
    /// Takes this process's turn to commit to `project` and starts counting attempts.
    pub(crate) async fn commit_attempts(&self, project: &str) -> CommitAttempts<'_> {
        CommitAttempts {
            engine: self,
            made: 0,
            _turn: self.writers_turn(project).await,
        }
    }

    /// Waits for this process's turn to commit to `project` (see `writers`).
    async fn writers_turn(&self, project: &str) -> futures::lock::OwnedMutexGuard<()> {
        let gate = lock(&self.writers)
            .entry(project.to_string())
            .or_default()
            .clone();
        gate.lock_owned().await
    }

    /// Backs off after the `attempt`th lost commit race (1, 2, …): a random wait up to
    /// 2 ms · 2^attempt, capped at 100 ms ("full jitter"), so writers in different processes
    /// spread out instead of colliding again, and a slow one is not starved by a fast one.
    async fn back_off(&self, attempt: u32) {
        let ceiling_us = (2_000u64 << attempt.min(6)).min(100_000);
        let wait = snapkb_core::random_u64() % (ceiling_us + 1);
        self.pause
            .pause(std::time::Duration::from_micros(wait))
            .await;
    }

    /// Commits `next` on top of manifest version `expected`, with its version copy and its
    /// operation-log entry, in one transaction. `false` when another commit got there first.
    pub(crate) async fn commit_manifest(
        &self,
        next: &Manifest,
        expected: u64,
        actor: &str,
        detail: serde_json::Value,
        guard: Guard,
    ) -> Result<bool, EngineError> {
        guard.check_fresh(self.config.gc_grace_ms)?;
        let (manifest, copy) = manifest_items(next)?;
        // Backpressure before the table's item limit: a log compaction has not kept up with
        // stops taking writes (retryable) and compaction is forced.
        if manifest.value.len() > self.config.max_manifest_bytes
            && next.wal_segments() > 0
            && next.action != Action::Compact
        {
            self.compaction.request(&next.project, true);
            return Err(EngineError::Unavailable(format!(
                "project {} has {} write-ahead segments waiting for compaction; retry shortly",
                next.project,
                next.wal_segments()
            )));
        }
        let mut writes = vec![
            TransactWrite::Put {
                item: manifest,
                condition: Condition::VersionEquals(expected),
            },
            TransactWrite::Put {
                item: copy,
                condition: Condition::Absent,
            },
            op_write(
                &next.project,
                actor,
                next.action.as_str(),
                Some(next.version),
                detail,
            )?,
        ];
        if let Some(claim) = guard.claim {
            writes.push(TransactWrite::Put {
                item: claim,
                condition: Condition::Absent,
            });
        }
        if let Some(version) = guard.restores {
            writes.push(TransactWrite::Check {
                pk: layout::project_pk(&next.project),
                sk: layout::version_sk(version),
                condition: Condition::Exists,
            });
        }
        match self.meta.transact(writes).await {
            Ok(()) => Ok(true),
            Err(StoreError::ConditionFailed { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Writes the change's segments and commits them on top of `base`. `None` when another
    /// commit won the race (the caller re-plans); the segments written are then orphans for GC.
    pub(crate) async fn commit_change(
        &self,
        base: &Manifest,
        change: Change,
        action: Action,
        actor: &str,
        detail: Value,
    ) -> Result<Option<u64>, EngineError> {
        let metric = crate::state::index_metric(base.metric);
        let next_version = base.version + 1;
        let shards = base.shards.len();
        let mut per_shard: Vec<(Vec<ChunkRecord>, Vec<f32>, Vec<String>)> =
            (0..shards).map(|_| Default::default()).collect();
        for (record, vector) in change.rows {
            let s = layout::shard_of(&record.id, shards);
            per_shard[s].0.push(record);
            per_shard[s].1.extend_from_slice(&vector);
        }
        for id in change.tombstones {
            per_shard[layout::shard_of(&id, shards)].2.push(id);
        }
        let now = now_ms();
        let mut next = base.clone();
        next.version = next_version;
        next.action = action;
        next.committed_at = now;
        next.documents = change.documents;
        next.chunks = change.chunks;
        next.bytes = change.bytes;
        let mut written = Vec::new();
        for (s, (records, vectors, tombstones)) in per_shard.into_iter().enumerate() {
            if records.is_empty() && tombstones.is_empty() {
                continue;
            }
            let header = WalHeader {
                project_id: base.project.clone(),
                shard: s as u32,
                sequence: next_version,
                model_id: base.model_id.clone(),
                dims: base.dims,
                metric,
            };
            let segment = WalSegment::new(header, &records, vectors, tombstones)
                .map_err(|e| EngineError::invalid("documents", e.to_string()))?;
            let bytes = segment.encode();
            let key = layout::wal_key(&base.project, s as u32, now);
            let size = bytes.len() as u64;
            self.objects.put(&key, bytes.into()).await?;
            next.shards[s].wal.push(snapkb_core::SegmentRef {
                key: key.clone(),
                version: next_version,
                chunks: segment.chunks.len() as u64,
                tombstones: segment.tombstones.len() as u64,
                bytes: size,
            });
            written.push((s, key, std::sync::Arc::new(segment)));
        }
        let guard = Guard {
            written: written.iter().map(|(_, key, _)| key.clone()).collect(),
            claim: change.claim,
            ..Guard::default()
        };
        if !self
            .commit_manifest(&next, base.version, actor, detail, guard)
            .await?
        {
            return Ok(None);
        }
        // Read-your-writes in this process without a round trip: apply what we just wrote.
        if let Some(slot) = self.cached_state(&base.project) {
            let mut st = write(&slot);
            if st.version() == base.version {
                let mut ok = true;
                for (s, key, segment) in written {
                    if st.apply(s, key, segment).is_err() {
                        ok = false;
                        break;
                    }
                }
                if ok {
                    st.manifest = next.clone();
                } else {
                    drop(st);
                    self.forget_state(&base.project);
                }
            }
        }
        if let Ok(project) = self.project(&base.project).await
            && next.needs_compaction(&project.compaction)
        {
            self.compaction.request(&base.project, false);
        }
        Ok(Some(next_version))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use snapkb_core::{Config, Principal};
    use snapkb_store::{MemoryMetaStore, MemoryObjectStore};

    use super::*;
    use crate::testing::{doc, ingest, nearest, project};

    const GRACE_MS: u64 = 60_000;

    fn engine() -> Engine {
        Engine::new(
            Arc::new(MemoryObjectStore::default()),
            Arc::new(MemoryMetaStore::default()),
            Config {
                gc_grace_ms: GRACE_MS,
                ..Config::default()
            },
        )
    }

    /// The next version of `p` with one more (empty) segment named `key`.
    async fn next_with(e: &Engine, p: &str, key: &str) -> (Manifest, u64) {
        let current = e.read_manifest(p).await.unwrap();
        let mut next = current.clone();
        next.version += 1;
        next.shards[0].wal.push(snapkb_core::SegmentRef {
            key: key.into(),
            version: next.version,
            chunks: 0,
            tombstones: 0,
            bytes: 0,
        });
        (next, current.version)
    }

    #[tokio::test]
    async fn a_writer_never_commits_an_object_gc_may_already_have_taken() {
        let e = engine();
        project(&e, "p", false).await;
        let commit_written_at = |at: u64| {
            let e = &e;
            async move {
                let key = layout::wal_key("p", 0, at);
                let (next, expected) = next_with(e, "p", &key).await;
                let guard = Guard::written(vec![key]);
                let result = e.commit_manifest(&next, expected, "t", Value::Null, guard);
                (result.await, expected)
            }
        };
        let (refused, expected) = commit_written_at(now_ms() - GRACE_MS / 2 - 1_000).await;
        assert!(
            matches!(refused, Err(EngineError::Unavailable(_))),
            "{refused:?}"
        );
        assert_eq!(e.read_manifest("p").await.unwrap().version, expected);
        let (committed, _) = commit_written_at(now_ms()).await;
        assert!(matches!(committed, Ok(true)), "{committed:?}");
    }

    #[tokio::test]
    async fn gc_keeps_young_objects_and_what_it_reads_as_kept_and_takes_old_orphans() {
        let e = engine();
        project(&e, "p", false).await;
        ingest(&e, "p", vec![doc("a", 1)]).await;
        let orphan = |at: u64| layout::wal_key("p", 0, at);
        let old = orphan(now_ms() - GRACE_MS - 1_000);
        let young = orphan(now_ms() - GRACE_MS / 2);
        for key in [&old, &young] {
            e.objects
                .put(key, bytes::Bytes::from_static(b"x"))
                .await
                .unwrap();
        }
        let report = e.gc("p").await.unwrap();
        assert_eq!((report.objects_deleted, report.incomplete), (1, false));
        assert!(e.objects.get(&young).await.is_ok(), "young orphans stay");
        assert!(e.objects.get(&old).await.is_err(), "old orphans go");
        assert_eq!(
            nearest(&e, "p", 1, 1).await.len(),
            1,
            "referenced objects stay"
        );
    }

    #[tokio::test]
    async fn a_rollback_to_a_version_gc_retired_meanwhile_commits_nothing() {
        let e = engine();
        project(&e, "p", false).await;
        ingest(&e, "p", vec![doc("a", 1)]).await;
        let target = e.read_manifest("p").await.unwrap();
        ingest(&e, "p", vec![doc("b", 2)]).await;
        // GC retires the target's version item after the rollback read it.
        e.meta
            .delete(
                &layout::project_pk("p"),
                &layout::version_sk(target.version),
                Condition::None,
            )
            .await
            .unwrap();
        let current = e.read_manifest("p").await.unwrap();
        let mut next = target.clone();
        next.version = current.version + 1;
        let guard = Guard {
            restores: Some(target.version),
            ..Guard::default()
        };
        let landed = e
            .commit_manifest(&next, current.version, "t", Value::Null, guard)
            .await;
        assert!(matches!(landed, Ok(false)), "{landed:?}");
        let rollback = e
            .rollback(&Principal::DeploymentAdmin, "p", target.version)
            .await;
        assert!(
            matches!(rollback, Err(EngineError::NotFound { .. })),
            "{rollback:?}"
        );
    }
}
