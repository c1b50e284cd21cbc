//! The staging area of one store request ([`Tx`]) and the writer's counters: reads see the
//! request's own changes first, then the group's batch so far, then the committed snapshot.
//! The operations that use it are in `ops.rs`; the helpers here keep each index and count in
//! step with the record it describes.

use std::collections::BTreeMap;

use super::error::StoreError;
use super::keys;
use super::kv::{Batch, Change, Snapshot, Table};
use super::model::{DeliveryStatus, MessageId, MessageStatus};
use super::recent_control_ids::ControlIdEntry;
use super::record::{self, MessageRecord, QueueEntry};
use super::record_codec;

/// The writer's persisted counters. Kept in memory by the one writer (so no read-modify-write
/// race exists) and written into every batch that advances them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Counters {
    /// The next message id.
    pub(crate) next_id: MessageId,
    /// The next queue sequence number.
    pub(crate) next_seq: u64,
}

impl Counters {
    pub(super) fn take_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }
}

/// One request's view and staging area: reads see its own staged changes first, then the
/// group's batch so far, then the committed snapshot.
pub(crate) struct Tx<'a> {
    snapshot: &'a dyn Snapshot,
    batch: &'a Batch,
    staged: Staged,
    /// `Some` when journaled accepts leave their control-id index entry to the caller
    /// (the applier's [`RecentControlIds`](super::recent_control_ids::RecentControlIds)).
    deferred_control: Option<Vec<ControlIdEntry>>,
}

/// A request's changes, by table and key.
pub(crate) type Staged = BTreeMap<(Table, Vec<u8>), Change>;

impl<'a> Tx<'a> {
    pub(crate) fn new(snapshot: &'a dyn Snapshot, batch: &'a Batch) -> Self {
        Tx {
            snapshot,
            batch,
            staged: BTreeMap::new(),
            deferred_control: None,
        }
    }

    /// A `Tx` whose journaled accepts defer their control-id index entry (see
    /// [`Tx::into_parts`]).
    pub(crate) fn deferring_control_ids(snapshot: &'a dyn Snapshot, batch: &'a Batch) -> Self {
        Tx {
            deferred_control: Some(Vec::new()),
            ..Tx::new(snapshot, batch)
        }
    }

    /// The committed state under the overlay (for scans, which see only committed entries).
    pub(super) fn snapshot(&self) -> &'a dyn Snapshot {
        self.snapshot
    }

    /// The changes this request made, for merging into the group's batch.
    pub(crate) fn into_staged(self) -> Staged {
        self.staged
    }

    /// The changes this request made, and the control-id index entries it deferred.
    pub(crate) fn into_parts(self) -> (Staged, Vec<ControlIdEntry>) {
        (self.staged, self.deferred_control.unwrap_or_default())
    }

    /// Indexes message `id` under its control id: deferred for a journaled accept when this
    /// `Tx` defers, else staged.
    pub(super) fn index_control_id(&mut self, key: Vec<u8>, received_at_ms: u64, journaled: bool) {
        match self.deferred_control.as_mut() {
            Some(deferred) if journaled => deferred.push((key, received_at_ms)),
            _ => self.put(Table::ByControl, key, received_at_ms.to_be_bytes().to_vec()),
        }
    }

    pub(super) fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let full = (table, key.to_vec());
        if let Some(change) = self.staged.get(&full) {
            return Ok(change.clone());
        }
        if let Some(change) = self.batch.changes.get(&full) {
            return Ok(change.clone());
        }
        self.snapshot.get(table, key)
    }

    pub(super) fn put(&mut self, table: Table, key: impl Into<Vec<u8>>, value: Vec<u8>) {
        self.staged.insert((table, key.into()), Some(value));
    }

    pub(super) fn delete(&mut self, table: Table, key: impl Into<Vec<u8>>) {
        self.staged.insert((table, key.into()), None);
    }

    pub(super) fn record(&self, id: MessageId) -> Result<Option<MessageRecord>, StoreError> {
        match self.get(Table::Messages, &keys::message(id))? {
            None => Ok(None),
            Some(bytes) => record_codec::decode(|| format!("message {id}"), &bytes).map(Some),
        }
    }

    pub(super) fn put_record(
        &mut self,
        id: MessageId,
        record: &MessageRecord,
    ) -> Result<(), StoreError> {
        self.put(
            Table::Messages,
            keys::message(id),
            record_codec::encode(record),
        );
        Ok(())
    }

    /// Adds `delta` to a counter in the `counts` table (saturating at zero: a counter is a
    /// convenience for the dashboard, and must never make a request fail).
    pub(super) fn add_count(&mut self, key: Vec<u8>, delta: i64) -> Result<(), StoreError> {
        let current = record::decode_counter("count", self.get(Table::Counts, &key)?.as_deref())?;
        let next = current.saturating_add_signed(delta);
        self.put(Table::Counts, key, next.to_be_bytes().to_vec());
        Ok(())
    }

    /// Counts one stored message more (`delta` 1) or less (-1) whose body is in journal
    /// `segment`; the count's key goes when it reaches zero.
    pub(super) fn add_segment_ref(&mut self, segment: u64, delta: i64) -> Result<(), StoreError> {
        let key = keys::count_segment(segment);
        let current = record::decode_counter("count", self.get(Table::Counts, &key)?.as_deref())?;
        match current.saturating_add_signed(delta) {
            0 => self.delete(Table::Counts, key),
            next => self.put(Table::Counts, key, next.to_be_bytes().to_vec()),
        }
        Ok(())
    }

    pub(super) fn put_counters(&mut self, counters: &Counters) {
        self.put(
            Table::Meta,
            keys::META_NEXT_ID,
            counters.next_id.to_be_bytes().to_vec(),
        );
        self.put(
            Table::Meta,
            keys::META_NEXT_SEQ,
            counters.next_seq.to_be_bytes().to_vec(),
        );
    }

    /// Moves a message to `status`, keeping the status index and the counts in step.
    pub(super) fn set_status(
        &mut self,
        id: MessageId,
        record: &mut MessageRecord,
        status: MessageStatus,
    ) -> Result<(), StoreError> {
        if record.status == status {
            return Ok(());
        }
        self.delete(
            Table::ByStatus,
            keys::by_status(&record.channel, record.status, id)?,
        );
        self.put(
            Table::ByStatus,
            keys::by_status(&record.channel, status, id)?,
            Vec::new(),
        );
        self.add_count(keys::count_status(&record.channel, record.status)?, -1)?;
        self.add_count(keys::count_status(&record.channel, status)?, 1)?;
        record.status = status;
        Ok(())
    }

    /// Puts a message at the tail of one destination's queue.
    pub(super) fn enqueue(
        &mut self,
        counters: &mut Counters,
        id: MessageId,
        record: &mut MessageRecord,
        index: usize,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        let dest_index = u16::try_from(index)
            .map_err(|_| StoreError::Invalid("more than 65535 destinations".into()))?;
        let seq = counters.take_seq();
        let channel = record.channel.clone();
        let Some(dest) = record.destinations.get_mut(index) else {
            return Err(StoreError::corrupt(
                format!("message {id}"),
                "destination index out of range",
            ));
        };
        let entry = QueueEntry {
            message_id: id,
            dest_index,
            attempts: 0,
            not_before_ms: 0,
            enqueued_at_ms: now_ms,
            control_id: record.meta.control_id.clone(),
            payload: dest.payload,
            body: record.body,
        };
        dest.status = DeliveryStatus::Queued;
        dest.queue_seq = Some(seq);
        dest.not_before_ms = Some(0);
        let queue_key = keys::queue(&channel, &dest.name, seq)?;
        let count_key = keys::count_queue(&channel, &dest.name)?;
        self.put(
            Table::Queue,
            queue_key,
            record_codec::encode_queue_entry(&entry),
        );
        self.add_count(count_key, 1)
    }
}
