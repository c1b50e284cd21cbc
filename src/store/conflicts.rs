//! Parked sync conflicts: both versions of a record that conflict resolution could not choose
//! between (strategy `manual`, or `merge` with fields changed on both sides), kept until someone
//! chooses through the API or the CLI.
//!
//! Conflicts are rare and small, so their writes do not go through the writer thread's group
//! commit: each park or resolve is one durable commit of its own to the `conflicts` table, under
//! a per-store lock that makes id allocation and "resolve once" atomic. They touch no table the
//! writer writes, so the two never step on each other. Ids are never reused (conflicts are
//! never deleted), so the next id is the last key plus one.

use std::ops::ControlFlow;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::StoreError;
use super::handle::Store;
use super::keys;
use super::kv::{Batch, KeyRange, Table};
use super::writer::now_ms;

/// Identifies a parked conflict; starts at 1 and only grows.
pub type ConflictId = u64;

/// A conflict to park: what the sync job knows when resolution gives up.
#[derive(Debug, Clone, PartialEq)]
pub struct NewConflict {
    /// The entity mapping (e.g. `patient`), so a resolver knows where the record belongs.
    pub entity: String,
    /// The record's key in that entity (e.g. the MRN).
    pub record_key: String,
    /// The version both sides had at the last sync, when known.
    pub base: Option<Value>,
    /// The local version.
    pub local: Value,
    /// The remote version.
    pub remote: Value,
    /// The fields in conflict, as dotted paths.
    pub fields: Vec<String>,
}

/// How a conflict is resolved.
#[derive(Debug, Clone, PartialEq)]
pub enum ConflictChoice {
    /// Keep the local version.
    Local,
    /// Keep the remote version.
    Remote,
    /// Keep this value (a hand-made merge).
    Value(Value),
}

/// What was chosen, and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConflictResolution {
    /// `local`, `remote` or `value`.
    pub chosen: String,
    /// The resulting version, to be written to both sides.
    pub value: Value,
    /// When it was resolved (ms since the epoch).
    pub resolved_at_ms: u64,
}

/// A parked conflict as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConflictRecord {
    /// Its id.
    pub id: ConflictId,
    /// The entity mapping.
    pub entity: String,
    /// The record's key.
    pub record_key: String,
    /// The last synced version, when known.
    pub base: Option<Value>,
    /// The local version.
    pub local: Value,
    /// The remote version.
    pub remote: Value,
    /// The fields in conflict.
    pub fields: Vec<String>,
    /// When it was parked (ms since the epoch).
    pub parked_at_ms: u64,
    /// `None` while open.
    pub resolution: Option<ConflictResolution>,
}

impl ConflictRecord {
    /// True until a choice is recorded.
    pub fn is_open(&self) -> bool {
        self.resolution.is_none()
    }
}

fn encode(record: &ConflictRecord) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(record)
        .map_err(|e| StoreError::corrupt(format!("conflict {}", record.id), e))
}

fn decode(id: ConflictId, bytes: &[u8]) -> Result<ConflictRecord, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::corrupt(format!("conflict {id}"), e))
}

impl Store {
    /// Parks a conflict and returns its id once it is durable, so a sync job may move on
    /// (and acknowledge its source) knowing both versions survive a crash.
    pub async fn park_conflict(&self, conflict: NewConflict) -> Result<ConflictId, StoreError> {
        let store = self.clone();
        blocking(move || {
            let _guard = store
                .inner
                .conflict_lock
                .lock()
                .map_err(|_| StoreError::Invalid("the conflict lock is poisoned".into()))?;
            let id = last_id(&store)?.map_or(1, |last| last + 1);
            let record = ConflictRecord {
                id,
                entity: conflict.entity,
                record_key: conflict.record_key,
                base: conflict.base,
                local: conflict.local,
                remote: conflict.remote,
                fields: conflict.fields,
                parked_at_ms: now_ms(),
                resolution: None,
            };
            write(&store.inner.kv, &record)?;
            Ok(id)
        })
        .await
    }

    /// Every conflict in id order (oldest first); only the unresolved ones when `open_only`.
    pub fn conflicts(&self, open_only: bool) -> Result<Vec<ConflictRecord>, StoreError> {
        let snapshot = self.inner.kv.snapshot()?;
        let mut out = Vec::new();
        snapshot.scan(
            Table::Conflicts,
            &KeyRange::prefix(&[]),
            false,
            &mut |key, value| {
                let id = keys::read_u64(key)
                    .ok_or_else(|| StoreError::corrupt("conflict key", "not 8 bytes"))?;
                let record = decode(id, value)?;
                if !open_only || record.is_open() {
                    out.push(record);
                }
                Ok(ControlFlow::Continue(()))
            },
        )?;
        Ok(out)
    }

    /// One conflict, open or resolved; `None` when there is no such id.
    pub fn conflict(&self, id: ConflictId) -> Result<Option<ConflictRecord>, StoreError> {
        let snapshot = self.inner.kv.snapshot()?;
        snapshot
            .get(Table::Conflicts, &id.to_be_bytes())?
            .map(|bytes| decode(id, &bytes))
            .transpose()
    }

    /// Records `choice` for an open conflict (durably) and returns the resolved record.
    /// Fails with [`StoreError::ConflictNotFound`] for an unknown id and
    /// [`StoreError::ConflictResolved`] when it was resolved before: the first choice stands.
    pub async fn resolve_conflict(
        &self,
        id: ConflictId,
        choice: ConflictChoice,
    ) -> Result<ConflictRecord, StoreError> {
        let store = self.clone();
        blocking(move || {
            let _guard = store
                .inner
                .conflict_lock
                .lock()
                .map_err(|_| StoreError::Invalid("the conflict lock is poisoned".into()))?;
            let mut record = store
                .conflict(id)?
                .ok_or(StoreError::ConflictNotFound(id))?;
            if !record.is_open() {
                return Err(StoreError::ConflictResolved(id));
            }
            let (chosen, value) = match choice {
                ConflictChoice::Local => ("local", record.local.clone()),
                ConflictChoice::Remote => ("remote", record.remote.clone()),
                ConflictChoice::Value(value) => ("value", value),
            };
            record.resolution = Some(ConflictResolution {
                chosen: chosen.to_owned(),
                value,
                resolved_at_ms: now_ms(),
            });
            write(&store.inner.kv, &record)?;
            Ok(record)
        })
        .await
    }
}

/// The highest conflict id stored, if any.
fn last_id(store: &Store) -> Result<Option<ConflictId>, StoreError> {
    let snapshot = store.inner.kv.snapshot()?;
    let mut last = None;
    snapshot.scan(
        Table::Conflicts,
        &KeyRange::prefix(&[]),
        true,
        &mut |key, _| {
            last = keys::read_u64(key);
            Ok(ControlFlow::Break(()))
        },
    )?;
    Ok(last)
}

/// One durable commit of one conflict record.
fn write(kv: &Arc<dyn super::kv::Kv>, record: &ConflictRecord) -> Result<(), StoreError> {
    let mut batch = Batch::default();
    batch.changes.insert(
        (Table::Conflicts, record.id.to_be_bytes().to_vec()),
        Some(encode(record)?),
    );
    kv.apply(batch, true)
}

/// Runs a blocking store call (an fsync) off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| StoreError::backend("run a conflict write", e))?
}
