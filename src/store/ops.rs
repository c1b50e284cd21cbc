//! The store's write operations, each applied to a [`Tx`]: an overlay that reads through the
//! changes of the requests before it in the same group commit, then the committed state.
//!
//! The writer thread runs these one request at a time. A request that fails leaves nothing
//! behind (its staged changes are dropped), so one bad request does not spoil the group's
//! commit; a request that succeeds has its changes merged into the group's batch, which is
//! committed once for everyone.
//!
//! Every index and counter is maintained here, in the same batch as the record it describes,
//! so after a crash they are exactly as consistent as the records.

use std::collections::HashSet;
use std::ops::ControlFlow;
use std::path::Path;

use super::bodies::BodyRef;
use super::error::StoreError;
use super::keys;
use super::kv::{KeyRange, Table};
use super::model::{
    Attempt, DeliveryStatus, MessageId, MessageStatus, NewMessage, NextStep, PrunePolicy,
};
use super::record::{self, DestRecord, MessageRecord, PayloadSource, QueueEntry};
use super::record_codec;

pub(crate) use super::tx::{Counters, Tx};

#[path = "rehome.rs"]
mod rehome;
pub(crate) use rehome::compact_segment;
use rehome::rehome;

/// Checks everything [`accept`] could refuse, so a message is refused *before* it is
/// journaled and acknowledged: after that, applying it to the database must not fail on its
/// content.
pub(crate) fn check_accept(msg: &NewMessage) -> Result<(), StoreError> {
    // The key builders refuse only strings too long for their length prefix: checked here
    // without building the keys, since every accept passes through this on its way to the ACK.
    keys::check_str(&msg.channel)?;
    keys::check_str(&msg.meta.control_id)?;
    u16::try_from(msg.deliveries.len())
        .map_err(|_| StoreError::Invalid("more than 65535 destinations".into()))?;
    // A channel has a handful of destinations: comparing each with those before it beats
    // hashing them; a set only for the unusual many.
    let mut seen = HashSet::new();
    for (index, delivery) in msg.deliveries.iter().enumerate() {
        keys::check_str(&delivery.destination)?;
        let repeated = if msg.deliveries.len() <= 16 {
            msg.deliveries[..index]
                .iter()
                .any(|d| d.destination == delivery.destination)
        } else {
            !seen.insert(delivery.destination.as_str())
        };
        if repeated {
            return Err(StoreError::Invalid(format!(
                "two deliveries to destination {:?} in one message",
                delivery.destination
            )));
        }
    }
    Ok(())
}

/// Stores a new message as `id` (handed out by the writer when it journaled it) with its queue
/// entries. Returns its id. With `body`, the message's bytes stay in that journal record and
/// the database stores only where it is (then `msg` need not hold them any more); without,
/// they go into the database. `sources` says where each payload comes from
/// ([`record::payload_sources`] of the message as it was received).
pub(crate) fn accept(
    tx: &mut Tx<'_>,
    counters: &mut Counters,
    id: MessageId,
    msg: NewMessage,
    sources: &[PayloadSource],
    now_ms: u64,
    body: Option<BodyRef>,
) -> Result<MessageId, StoreError> {
    check_accept(&msg)?;
    if sources.len() != msg.deliveries.len() {
        return Err(StoreError::Invalid(format!(
            "{} payload sources for {} deliveries",
            sources.len(),
            msg.deliveries.len()
        )));
    }
    counters.next_id = counters.next_id.max(id.saturating_add(1));
    let status = if msg.deliveries.is_empty() {
        msg.status
    } else {
        MessageStatus::Queued
    };
    let mut record = MessageRecord {
        channel: msg.channel,
        peer: msg.peer,
        received_at_ms: msg.received_at_ms,
        updated_at_ms: now_ms,
        meta: msg.meta,
        status,
        error: msg.error,
        transformed: msg.transformed.is_some(),
        destinations: msg
            .deliveries
            .iter()
            .zip(sources)
            .map(|(d, source)| DestRecord {
                name: d.destination.clone(),
                status: DeliveryStatus::Queued,
                attempts: 0,
                queue_seq: None,
                not_before_ms: None,
                payload: *source,
            })
            .collect(),
        body,
    };
    match body {
        Some(at) => {
            tx.add_segment_ref(at.segment, 1)?;
            tx.add_count(keys::count_segment_records(at.segment), 1)?;
        }
        None => put_bytes(tx, id, msg.raw, msg.transformed, msg.deliveries, sources)?,
    }
    for index in 0..record.destinations.len() {
        // Queue age counts from now, by the writer's clock (the received time is the caller's).
        tx.enqueue(counters, id, &mut record, index, now_ms)?;
    }
    let channel = record.channel.clone();
    tx.put(
        Table::ByTime,
        keys::by_time(&channel, record.received_at_ms, id)?,
        Vec::new(),
    );
    tx.put(
        Table::ByStatus,
        keys::by_status(&channel, status, id)?,
        Vec::new(),
    );
    if !record.meta.control_id.is_empty() {
        tx.index_control_id(
            keys::by_control(&channel, &record.meta.control_id, id)?,
            record.received_at_ms,
            body.is_some(),
        );
    }
    tx.add_count(keys::count_status(&channel, status)?, 1)?;
    tx.put_record(id, &record)?;
    tx.put_counters(counters);
    Ok(id)
}

/// Puts a message's bulk bytes into the database: raw, transformed, and each payload that is
/// its own.
pub(super) fn put_bytes(
    tx: &mut Tx<'_>,
    id: MessageId,
    raw: bytes::Bytes,
    transformed: Option<Vec<u8>>,
    deliveries: Vec<super::model::NewDelivery>,
    sources: &[PayloadSource],
) -> Result<(), StoreError> {
    let key = keys::message(id);
    tx.put(Table::Raw, key, Vec::from(raw));
    if let Some(transformed) = transformed {
        tx.put(Table::Transformed, key, transformed);
    }
    for (index, delivery) in deliveries.into_iter().enumerate() {
        let dest_index = u16::try_from(index)
            .map_err(|_| StoreError::Invalid("more than 65535 destinations".into()))?;
        if sources.get(index) == Some(&PayloadSource::Own) {
            tx.put(
                Table::Payloads,
                keys::payload(id, dest_index),
                Vec::from(delivery.payload),
            );
        }
    }
    Ok(())
}

/// Records one delivery attempt and moves the queue entry as `next` says.
pub(crate) fn record_attempt(
    tx: &mut Tx<'_>,
    channel: &str,
    destination: &str,
    id: MessageId,
    attempt: &Attempt,
    next: NextStep,
    now_ms: u64,
) -> Result<(), StoreError> {
    let not_queued = || StoreError::NotQueued {
        id,
        destination: destination.to_owned(),
    };
    let mut record = tx.record(id)?.ok_or(StoreError::NotFound(id))?;
    if record.channel != channel {
        return Err(not_queued());
    }
    let index =
        record
            .destination_index(destination)
            .ok_or_else(|| StoreError::UnknownDestination {
                id,
                destination: destination.to_owned(),
            })?;
    let dest_index = u16::try_from(index).map_err(|_| not_queued())?;
    let Some(dest) = record.destinations.get_mut(index) else {
        return Err(not_queued());
    };
    let seq = dest.queue_seq.ok_or_else(not_queued)?;
    let queue_key = keys::queue(channel, destination, seq)?;
    let entry_bytes = tx.get(Table::Queue, &queue_key)?.ok_or_else(not_queued)?;

    tx.put(
        Table::Attempts,
        keys::attempt(id, dest_index, dest.attempts),
        record::encode_attempt(attempt)?,
    );
    dest.attempts = dest.attempts.saturating_add(1);
    match next {
        NextStep::RetryAt(not_before_ms) => {
            // Only a retry keeps the entry, so only a retry needs it decoded.
            let mut entry: QueueEntry = record_codec::decode_queue_entry(
                || format!("queue entry of message {id}"),
                &entry_bytes,
            )?;
            entry.attempts = entry.attempts.saturating_add(1);
            entry.not_before_ms = not_before_ms;
            dest.not_before_ms = Some(not_before_ms);
            tx.put(
                Table::Queue,
                queue_key,
                record_codec::encode_queue_entry(&entry),
            );
        }
        NextStep::Sent | NextStep::DeadLetter => {
            dest.queue_seq = None;
            dest.not_before_ms = None;
            dest.status = if next == NextStep::Sent {
                DeliveryStatus::Sent
            } else {
                DeliveryStatus::Error
            };
            tx.delete(Table::Queue, queue_key);
            tx.add_count(keys::count_queue(channel, destination)?, -1)?;
            if next == NextStep::DeadLetter {
                let reason = attempt.error.as_deref().unwrap_or("gave up");
                record.error = Some(format!("destination {destination}: {reason}"));
            }
        }
    }
    if let Some(status) = record.derived_status() {
        tx.set_status(id, &mut record, status)?;
    }
    record.updated_at_ms = now_ms;
    tx.put_record(id, &record)
}

/// Puts a message back at the tail of one destination's queue, or of all of them. A
/// destination that is still queued keeps its place (replaying it twice does not send twice).
pub(crate) fn replay(
    tx: &mut Tx<'_>,
    counters: &mut Counters,
    id: MessageId,
    destination: Option<&str>,
    now_ms: u64,
) -> Result<(), StoreError> {
    let mut record = tx.record(id)?.ok_or(StoreError::NotFound(id))?;
    if record.destinations.is_empty() {
        return Err(StoreError::NothingToReplay(id));
    }
    let targets: Vec<usize> =
        match destination {
            Some(name) => vec![record.destination_index(name).ok_or_else(|| {
                StoreError::UnknownDestination {
                    id,
                    destination: name.to_owned(),
                }
            })?],
            None => (0..record.destinations.len()).collect(),
        };
    for index in targets {
        let queued = record
            .destinations
            .get(index)
            .is_some_and(|d| d.queue_seq.is_some());
        if !queued {
            tx.enqueue(counters, id, &mut record, index, now_ms)?;
        }
    }
    if let Some(status) = record.derived_status() {
        tx.set_status(id, &mut record, status)?;
        if status != MessageStatus::Error {
            record.error = None;
        }
    }
    record.updated_at_ms = now_ms;
    tx.put_record(id, &record)?;
    tx.put_counters(counters);
    Ok(())
}

/// Deletes up to `limit` prunable messages of `channel`, oldest first. Returns how many were
/// deleted and whether the scan reached messages that the policy keeps (then there is nothing
/// more to prune; otherwise the caller asks again, so one prune never holds the writer long).
///
/// A message the policy would prune but must keep (still queued, or an error kept longer)
/// has its bytes moved from the journal (in `journal_dir`) into the database on the way, so
/// it does not keep its journal segment alive; each counts towards `limit`.
pub(crate) fn prune_chunk(
    tx: &mut Tx<'_>,
    channel: &str,
    policy: &PrunePolicy,
    now_ms: u64,
    limit: usize,
    journal_dir: Option<&Path>,
) -> Result<(u64, bool), StoreError> {
    let age_cutoff = policy.max_age_ms.map(|age| now_ms.saturating_sub(age));
    let error_cutoff = policy
        .error_max_age_ms
        .map(|age| now_ms.saturating_sub(age));
    let mut total = 0u64;
    for status in MessageStatus::ALL {
        total += record::decode_counter(
            "count",
            tx.get(Table::Counts, &keys::count_status(channel, status)?)?
                .as_deref(),
        )?;
    }
    // The oldest `excess` messages are beyond the newest `max_messages`.
    let excess = policy
        .max_messages
        .map_or(0, |keep| total.saturating_sub(keep));
    if age_cutoff.is_none() && excess == 0 && error_cutoff.is_none() {
        return Ok((0, true));
    }

    let snapshot = tx.snapshot();
    let mut position = 0u64;
    let mut deleted = 0u64;
    let mut rehomed = 0u64;
    let mut done = true;
    let mut failure = None;
    let range = KeyRange::prefix(&keys::by_time_prefix(channel)?);
    snapshot.scan(Table::ByTime, &range, false, &mut |key, _| {
        let Some((at_ms, id)) = keys::tail_time_id(key) else {
            return Ok(ControlFlow::Continue(()));
        };
        let too_old = age_cutoff.is_some_and(|cutoff| at_ms < cutoff);
        let beyond = position < excess;
        position += 1;
        // Everything from here on is newer: if no rule can reach this message, none can reach
        // the rest.
        if !too_old && !beyond && error_cutoff.is_none_or(|cutoff| at_ms >= cutoff) {
            return Ok(ControlFlow::Break(()));
        }
        let Some(record) = tx.record(id)? else {
            return Ok(ControlFlow::Continue(()));
        };
        let prunable = !record.is_pending()
            && match error_cutoff {
                Some(cutoff) if record.status == MessageStatus::Error => at_ms < cutoff,
                _ => too_old || beyond,
            };
        let outcome = if prunable {
            delete_message(tx, id, &record).map(|()| deleted += 1)
        } else if (too_old || beyond)
            && record.body.is_some()
            && let Some(dir) = journal_dir
        {
            rehome(tx, dir, id, record).map(|()| rehomed += 1)
        } else {
            return Ok(ControlFlow::Continue(()));
        };
        if let Err(e) = outcome {
            failure = Some(e);
            return Ok(ControlFlow::Break(()));
        }
        if deleted + rehomed >= limit as u64 {
            done = false;
            return Ok(ControlFlow::Break(()));
        }
        Ok(ControlFlow::Continue(()))
    })?;
    match failure {
        Some(e) => Err(e),
        None => Ok((deleted, done)),
    }
}

/// Deletes a message, its bulk bytes, attempts and index entries.
fn delete_message(
    tx: &mut Tx<'_>,
    id: MessageId,
    record: &MessageRecord,
) -> Result<(), StoreError> {
    let key = keys::message(id);
    tx.delete(Table::Messages, key);
    match record.body {
        Some(at) => tx.add_segment_ref(at.segment, -1)?,
        None => {
            tx.delete(Table::Raw, key);
            if record.transformed {
                tx.delete(Table::Transformed, key);
            }
        }
    }
    for (index, dest) in record.destinations.iter().enumerate() {
        let dest_index = u16::try_from(index)
            .map_err(|_| StoreError::corrupt(format!("message {id}"), "too many destinations"))?;
        if dest.payload == PayloadSource::Own && record.body.is_none() {
            tx.delete(Table::Payloads, keys::payload(id, dest_index));
        }
        // Attempts are numbered 0..attempts, so they are deleted by key without a scan.
        for number in 0..dest.attempts {
            tx.delete(Table::Attempts, keys::attempt(id, dest_index, number));
        }
    }
    let channel = &record.channel;
    tx.delete(
        Table::ByTime,
        keys::by_time(channel, record.received_at_ms, id)?,
    );
    tx.delete(
        Table::ByStatus,
        keys::by_status(channel, record.status, id)?,
    );
    if !record.meta.control_id.is_empty() {
        tx.delete(
            Table::ByControl,
            keys::by_control(channel, &record.meta.control_id, id)?,
        );
    }
    tx.add_count(keys::count_status(channel, record.status)?, -1)
}
