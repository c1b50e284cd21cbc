//! The read side of [`Store`]: messages, lists, queue heads, counts, duplicates.
//!
//! Reads do not go through the writer thread: each call opens a snapshot of the backend (a redb
//! read transaction, which never blocks and is never blocked by the writer) and reads what it
//! needs. They are plain `fn`s because a read costs microseconds to a few milliseconds, like a
//! `HashMap` lookup behind a lock, not like network I/O.
//!
//! An accept is answered once it is in the journal and reaches the database a moment later
//! (`applier.rs`), so the public reads first wait until the database holds everything answered
//! so far (at most one commit; nothing when it has caught up). The `*_now` variants skip that
//! wait: for the delivery workers (woken once their messages are in the database) and for the
//! pipeline's duplicate check (which asks [`Store::in_flight`] for the rest).

use std::ops::ControlFlow;

use super::bodies::{self, SegmentReader};
use super::error::StoreError;
use super::handle::Store;
use super::keys;
use super::kv::{KeyRange, Snapshot, Table};
use super::model::{
    ChannelCounts, Delivery, DueDeliveries, MessageFilter, MessageId, MessageStatus,
    MessageSummary, QueueStats, StoredDelivery, StoredMessage,
};
use super::recent_control_ids::{self, Visit};
use super::record::{self, MessageRecord, PayloadSource, QueueEntry};
use super::record_codec;

fn read_record(
    snapshot: &dyn Snapshot,
    id: MessageId,
) -> Result<Option<MessageRecord>, StoreError> {
    match snapshot.get(Table::Messages, &keys::message(id))? {
        None => Ok(None),
        Some(bytes) => record_codec::decode(|| format!("message {id}"), &bytes).map(Some),
    }
}

fn summary(id: MessageId, record: MessageRecord) -> MessageSummary {
    MessageSummary {
        id,
        channel: record.channel,
        peer: record.peer,
        received_at_ms: record.received_at_ms,
        meta: record.meta,
        status: record.status,
        error: record.error,
    }
}

/// Whether a record passes every filter field (the channel is checked too, because the
/// unindexed path scans every channel).
fn matches(record: &MessageRecord, filter: &MessageFilter) -> bool {
    filter.channel.as_ref().is_none_or(|c| *c == record.channel)
        && filter.status.is_none_or(|s| s == record.status)
        && filter
            .message_type
            .as_ref()
            .is_none_or(|t| *t == record.meta.message_type)
        && filter
            .control_id
            .as_ref()
            .is_none_or(|c| *c == record.meta.control_id)
        && filter
            .since_ms
            .is_none_or(|since| record.received_at_ms >= since)
}

/// Payload bytes past which [`Store::due_deliveries_now`] takes no more entries, so a batch of
/// large messages (base64 documents of several MB) stays within the engine's memory budget.
const DUE_MAX_BYTES: usize = 8 * 1024 * 1024;

/// Turns a queue entry into a [`Delivery`] by reading its payload and header fields: from its
/// journal record (through `bodies`, which keeps the last segment open) when it is there, else
/// from the database.
fn delivery(
    snapshot: &dyn Snapshot,
    bodies: &mut SegmentReader<'_>,
    destination: &str,
    entry: QueueEntry,
) -> Result<Delivery, StoreError> {
    let missing = || {
        StoreError::corrupt(
            format!("payload of message {}", entry.message_id),
            "missing",
        )
    };
    let (payload, meta, received_at_ms) = match entry.body {
        Some(at) => {
            let msg = bodies.read(entry.message_id, &at)?.msg;
            let payload = msg
                .deliveries
                .into_iter()
                .nth(usize::from(entry.dest_index))
                .map(|d| Vec::from(d.payload))
                .ok_or_else(missing)?;
            (payload, msg.meta, msg.received_at_ms)
        }
        None => {
            let payload =
                read_payload(snapshot, entry.message_id, entry.dest_index, entry.payload)?
                    .ok_or_else(missing)?;
            let (meta, received_at_ms) = read_record(snapshot, entry.message_id)?
                .map(|r| (r.meta, r.received_at_ms))
                .unwrap_or_default();
            (payload, meta, received_at_ms)
        }
    };
    Ok(Delivery {
        message_id: entry.message_id,
        destination: destination.to_owned(),
        payload,
        attempts: entry.attempts,
        not_before_ms: entry.not_before_ms,
        control_id: entry.control_id,
        message_type: meta.message_type,
        trigger: meta.trigger,
        received_at_ms,
    })
}

/// One destination's payload, wherever `source` says it is stored.
fn read_payload(
    snapshot: &dyn Snapshot,
    id: MessageId,
    dest_index: u16,
    source: PayloadSource,
) -> Result<Option<Vec<u8>>, StoreError> {
    match source {
        PayloadSource::Own => snapshot.get(Table::Payloads, &keys::payload(id, dest_index)),
        PayloadSource::Raw => snapshot.get(Table::Raw, &keys::message(id)),
        PayloadSource::Transformed => snapshot.get(Table::Transformed, &keys::message(id)),
    }
}

fn decode_entry(value: &[u8]) -> Result<QueueEntry, StoreError> {
    record_codec::decode_queue_entry(|| "queue entry".to_owned(), value)
}

impl Store {
    /// Everything stored about one message: raw and transformed content, metadata, peer,
    /// times, status, error, and per destination its status, payload and every attempt.
    /// `None` when there is no such message (never stored, or pruned).
    pub fn message(&self, id: MessageId) -> Result<Option<StoredMessage>, StoreError> {
        self.inner.progress.catch_up();
        let snapshot = self.inner.kv.snapshot()?;
        let snapshot = snapshot.as_ref();
        let Some(record) = read_record(snapshot, id)? else {
            return Ok(None);
        };
        // From the journal: everything at once; from the database: the raw and transformed
        // bytes now, each payload of its own below.
        let mut journaled = match record.body {
            Some(at) => Some(bodies::read(&self.inner.dir, id, &at)?.msg),
            None => None,
        };
        let (raw, transformed) = match journaled.as_mut() {
            Some(msg) => (
                Vec::from(std::mem::take(&mut msg.raw)),
                msg.transformed.take(),
            ),
            None => {
                let key = keys::message(id);
                let raw = snapshot.get(Table::Raw, &key)?.ok_or_else(|| {
                    StoreError::corrupt(format!("raw content of message {id}"), "missing")
                })?;
                let transformed = if record.transformed {
                    snapshot.get(Table::Transformed, &key)?
                } else {
                    None
                };
                (raw, transformed)
            }
        };
        let mut destinations = Vec::with_capacity(record.destinations.len());
        for (index, dest) in record.destinations.iter().enumerate() {
            let dest_index = u16::try_from(index).map_err(|_| {
                StoreError::corrupt(format!("message {id}"), "too many destinations")
            })?;
            let payload = match (&mut journaled, dest.payload) {
                (Some(msg), _) => msg
                    .deliveries
                    .get_mut(index)
                    .map(|d| Vec::from(std::mem::take(&mut d.payload)))
                    .unwrap_or_default(),
                (None, PayloadSource::Raw) => raw.clone(),
                (None, source) => {
                    read_payload(snapshot, id, dest_index, source)?.unwrap_or_default()
                }
            };
            let mut attempts = Vec::with_capacity(dest.attempts as usize);
            snapshot.scan(
                Table::Attempts,
                &KeyRange::prefix(&keys::attempts_prefix(id, dest_index)),
                false,
                &mut |_, value| {
                    attempts.push(record::decode_attempt(id, value)?);
                    Ok(ControlFlow::Continue(()))
                },
            )?;
            destinations.push(StoredDelivery {
                destination: dest.name.clone(),
                status: dest.status,
                payload,
                attempts,
                not_before_ms: dest.not_before_ms.filter(|_| dest.queue_seq.is_some()),
            });
        }
        Ok(Some(StoredMessage {
            id,
            channel: record.channel,
            peer: record.peer,
            received_at_ms: record.received_at_ms,
            updated_at_ms: record.updated_at_ms,
            raw,
            meta: record.meta,
            status: record.status,
            error: record.error,
            transformed,
            destinations,
        }))
    }

    /// Messages matching `filter`, newest first, at most `filter.limit` (default 100).
    ///
    /// With a channel, an index narrows the scan: the control-id index when `control_id` is
    /// set, else the status index when `status` is set, else the channel's time index (which
    /// also stops at `since_ms`). Without a channel every message is scanned newest first until
    /// the limit is reached, which is fine for a dashboard but slow on a large store with a
    /// rare filter.
    pub fn list(&self, filter: &MessageFilter) -> Result<Vec<MessageSummary>, StoreError> {
        self.inner.progress.catch_up();
        let limit = filter.effective_limit();
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        // Read before the snapshot (see `recent_control_ids.rs`).
        let recent = match (&filter.channel, &filter.control_id) {
            (Some(channel), Some(control_id)) => {
                self.inner.recent_control_ids.find(channel, control_id)?
            }
            _ => Vec::new(),
        };
        let snapshot = self.inner.kv.snapshot()?;
        let snapshot = snapshot.as_ref();

        let Some(channel) = &filter.channel else {
            snapshot.scan(
                Table::Messages,
                &KeyRange::prefix(&[]),
                true,
                &mut |key, value| {
                    let Some(id) = keys::read_u64(key) else {
                        return Ok(ControlFlow::Continue(()));
                    };
                    let record = record_codec::decode(|| format!("message {id}"), value)?;
                    if matches(&record, filter) {
                        out.push(summary(id, record));
                    }
                    Ok(if out.len() >= limit {
                        ControlFlow::Break(())
                    } else {
                        ControlFlow::Continue(())
                    })
                },
            )?;
            return Ok(out);
        };

        // Index entries end with the message id; the record decides the other filters.
        let mut visit = |id: MessageId| -> Result<ControlFlow<()>, StoreError> {
            if let Some(record) = read_record(snapshot, id)?
                && matches(&record, filter)
            {
                out.push(summary(id, record));
            }
            Ok(if out.len() >= limit {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            })
        };
        if let Some(control_id) = &filter.control_id {
            let prefix = keys::by_control_prefix(channel, control_id)?;
            let scan = |by_id: &mut Visit<'_>| {
                snapshot.scan(
                    Table::ByControl,
                    &KeyRange::prefix(&prefix),
                    true,
                    &mut |key, _| match keys::tail_u64(key) {
                        Some(id) => by_id(id),
                        None => Ok(ControlFlow::Continue(())),
                    },
                )
            };
            recent_control_ids::visit_merged(&recent, scan, &mut visit)?;
            return Ok(out);
        }
        let (table, prefix) = match filter.status {
            Some(status) => (Table::ByStatus, keys::by_status_prefix(channel, status)?),
            None => (Table::ByTime, keys::by_time_prefix(channel)?),
        };
        let by_time = table == Table::ByTime;
        snapshot.scan(table, &KeyRange::prefix(&prefix), true, &mut |key, _| {
            if by_time
                && let (Some(since), Some((at_ms, _))) = (filter.since_ms, keys::tail_time_id(key))
                && at_ms < since
            {
                // The time index is in time order: everything after this is older.
                return Ok(ControlFlow::Break(()));
            }
            match keys::tail_u64(key) {
                Some(id) => visit(id),
                None => Ok(ControlFlow::Continue(())),
            }
        })?;
        Ok(out)
    }

    /// The head of a destination's FIFO queue, even when its not-before time is still in the
    /// future: in an ordered queue nothing behind it goes first (the delivery worker reads
    /// the same through `Store::due_deliveries_now`).
    pub fn next_delivery(
        &self,
        channel: &str,
        destination: &str,
    ) -> Result<Option<Delivery>, StoreError> {
        self.inner.progress.catch_up();
        let snapshot = self.inner.kv.snapshot()?;
        let snapshot = snapshot.as_ref();
        let mut head = None;
        snapshot.scan(
            Table::Queue,
            &KeyRange::prefix(&keys::queue_prefix(channel, destination)?),
            false,
            &mut |_, value| {
                head = Some(decode_entry(value)?);
                Ok(ControlFlow::Break(()))
            },
        )?;
        head.map(|entry| {
            delivery(
                snapshot,
                &mut SegmentReader::new(&self.inner.dir),
                destination,
                entry,
            )
        })
        .transpose()
    }

    /// Up to `limit` entries of a destination's queue that are due at `now_ms`, in queue
    /// order, skipping those waiting for a retry time: for destinations with `ordered = false`.
    pub fn ready_deliveries(
        &self,
        channel: &str,
        destination: &str,
        now_ms: u64,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        self.inner.progress.catch_up();
        Ok(self
            .due_deliveries_now(channel, destination, now_ms, limit, false)?
            .ready)
    }

    /// What a delivery worker can send now, in queue order, at most `limit` entries (and no
    /// more once their payloads reach [`DUE_MAX_BYTES`]; at least one is always taken): with
    /// `ordered`, the head and the entries right behind it while each is due (an entry waiting
    /// for a retry time stops the run, so nothing overtakes it); without, every due entry.
    /// Without waiting for the database to catch up with the journal, like the other `_now`
    /// reads. An entry's bytes are read only when it is taken.
    pub(crate) fn due_deliveries_now(
        &self,
        channel: &str,
        destination: &str,
        now_ms: u64,
        limit: usize,
        ordered: bool,
    ) -> Result<DueDeliveries, StoreError> {
        let snapshot = self.inner.kv.snapshot()?;
        let snapshot = snapshot.as_ref();
        let mut due = DueDeliveries::default();
        if limit == 0 {
            return Ok(due);
        }
        let mut bytes = 0;
        let mut bodies = SegmentReader::new(&self.inner.dir);
        snapshot.scan(
            Table::Queue,
            &KeyRange::prefix(&keys::queue_prefix(channel, destination)?),
            false,
            &mut |_, value| {
                let entry = decode_entry(value)?;
                if entry.not_before_ms > now_ms {
                    if ordered {
                        due.blocked_until_ms = Some(entry.not_before_ms);
                        return Ok(ControlFlow::Break(()));
                    }
                    return Ok(ControlFlow::Continue(()));
                }
                let taken = delivery(snapshot, &mut bodies, destination, entry)?;
                bytes += taken.payload.len();
                due.ready.push(taken);
                Ok(if due.ready.len() >= limit || bytes >= DUE_MAX_BYTES {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                })
            },
        )?;
        Ok(due)
    }

    /// A destination queue's depth (a counter, no scan) and when its oldest entry was queued.
    pub fn queue_stats(&self, channel: &str, destination: &str) -> Result<QueueStats, StoreError> {
        self.inner.progress.catch_up();
        self.queue_stats_now(channel, destination)
    }

    /// [`Store::queue_stats`] without waiting for the database to catch up with the journal: for the
    /// delivery workers, which are woken only once their messages are in it.
    pub(crate) fn queue_stats_now(
        &self,
        channel: &str,
        destination: &str,
    ) -> Result<QueueStats, StoreError> {
        let snapshot = self.inner.kv.snapshot()?;
        let snapshot = snapshot.as_ref();
        let depth = record::decode_counter(
            "queue depth",
            snapshot
                .get(Table::Counts, &keys::count_queue(channel, destination)?)?
                .as_deref(),
        )?;
        let mut oldest = None;
        snapshot.scan(
            Table::Queue,
            &KeyRange::prefix(&keys::queue_prefix(channel, destination)?),
            false,
            &mut |_, value| {
                oldest = Some(decode_entry(value)?.enqueued_at_ms);
                Ok(ControlFlow::Break(()))
            },
        )?;
        Ok(QueueStats {
            depth,
            oldest_enqueued_ms: oldest,
        })
    }

    /// How many of the channel's stored messages are in each status (counters, no scan).
    pub fn channel_counts(&self, channel: &str) -> Result<ChannelCounts, StoreError> {
        self.inner.progress.catch_up();
        let snapshot = self.inner.kv.snapshot()?;
        let mut counts = ChannelCounts::default();
        for status in MessageStatus::ALL {
            let value = snapshot.get(Table::Counts, &keys::count_status(channel, status)?)?;
            counts.set(
                status,
                record::decode_counter("message count", value.as_deref())?,
            );
        }
        Ok(counts)
    }

    /// The newest message of `channel` with this control id received at or after `since_ms`:
    /// the duplicate check. An empty control id never matches (no MSH-10, no identity).
    pub fn find_duplicate(
        &self,
        channel: &str,
        control_id: &str,
        since_ms: u64,
    ) -> Result<Option<MessageId>, StoreError> {
        self.inner.progress.catch_up();
        self.find_duplicate_now(channel, control_id, since_ms)
    }

    /// [`Store::find_duplicate`] without waiting for the database to catch up: for the
    /// pipeline, which asks [`Store::in_flight`] for what is answered but not in it yet.
    pub(crate) fn find_duplicate_now(
        &self,
        channel: &str,
        control_id: &str,
        since_ms: u64,
    ) -> Result<Option<MessageId>, StoreError> {
        if control_id.is_empty() {
            return Ok(None);
        }
        // The recent entries first: one leaves that set only once the database has it.
        let recent = self.inner.recent_control_ids.find(channel, control_id)?;
        if let Some(&(id, _)) = recent.iter().find(|&&(_, at_ms)| at_ms >= since_ms) {
            return Ok(Some(id));
        }
        let snapshot = self.inner.kv.snapshot()?;
        let mut found = None;
        snapshot.scan(
            Table::ByControl,
            &KeyRange::prefix(&keys::by_control_prefix(channel, control_id)?),
            true,
            &mut |key, value| {
                let at_ms = keys::read_u64(value).unwrap_or(0);
                if at_ms >= since_ms {
                    found = keys::tail_u64(key);
                    return Ok(ControlFlow::Break(()));
                }
                Ok(ControlFlow::Continue(()))
            },
        )?;
        Ok(found)
    }
}
