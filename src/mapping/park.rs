//! [`settle`]: conflict resolution with its consequence. What [`resolve`] cannot choose is
//! parked in the store as a CONFLICT (both versions, durably), to be resolved later through
//! `POST /api/conflicts/{id}/resolve` or `ihub conflicts resolve`.

use serde_json::Value;

use super::conflict::{Resolution, Strategy, resolve};
use super::direction::Direction;
use crate::store::{ConflictId, NewConflict, Store, StoreError};

/// What a sync job does with a record after [`settle`].
#[derive(Debug, Clone, PartialEq)]
pub enum Settled {
    /// Write this version to both sides.
    Resolved(Value),
    /// Leave both sides as they are: the record waits for a person as this conflict.
    Parked(ConflictId),
}

/// The record's identity for [`settle`]: which entity mapping and which record of it.
#[derive(Debug, Clone, Copy)]
pub struct RecordRef<'a> {
    /// The entity mapping's name.
    pub entity: &'a str,
    /// The record's key in it.
    pub key: &'a str,
}

/// Resolves `local` against `remote` with `strategy`; a conflict is parked in `store` and its
/// id returned once durable.
pub async fn settle(
    store: &Store,
    record: RecordRef<'_>,
    base: Option<&Value>,
    local: &Value,
    remote: &Value,
    strategy: Strategy,
    direction: Direction,
) -> Result<Settled, StoreError> {
    match resolve(base, local, remote, strategy, direction) {
        Resolution::Resolved(value) => Ok(Settled::Resolved(value)),
        Resolution::Conflict {
            local,
            remote,
            fields,
        } => {
            let id = store
                .park_conflict(NewConflict {
                    entity: record.entity.to_owned(),
                    record_key: record.key.to_owned(),
                    base: base.cloned(),
                    local,
                    remote,
                    fields,
                })
                .await?;
            Ok(Settled::Parked(id))
        }
    }
}
