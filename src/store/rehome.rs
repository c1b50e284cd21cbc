//! Moving message bytes out of the journal into the database, so that a journal segment does
//! not stay on disk for the sake of a few messages kept longer than the rest of it.
//!
//! Two ways in: pruning moves a message it would delete but must keep (an error kept longer,
//! a message still queued) as it passes it ([`rehome`]); and a checkpoint moves every message
//! still in a closed segment that is mostly pruned ([`compact_segment`]), which also covers
//! messages of channels that are never pruned sharing a segment with channels that are.

use std::path::Path;

use super::super::bodies::{self, BodyRef};
use super::super::journal_record::Entry;
use super::{StoreError, Table, Tx, keys, put_bytes, record_codec};
use crate::store::model::{MessageId, NewMessage};
use crate::store::record::{MessageRecord, PayloadSource, QueueEntry};

/// Moves the bytes of message `id` (its `record` as stored) from its journal record, read
/// from `journal_dir`, into the database.
pub(super) fn rehome(
    tx: &mut Tx<'_>,
    journal_dir: &Path,
    id: MessageId,
    record: MessageRecord,
) -> Result<(), StoreError> {
    let Some(at) = record.body else {
        return Ok(());
    };
    let entry = bodies::read(journal_dir, id, &at)?;
    move_in(tx, id, record, at, entry.msg)
}

/// Moves every message that still keeps its bytes in `segment` into the database; `entries`
/// are the segment's records. Returns how many were moved.
pub(crate) fn compact_segment(
    tx: &mut Tx<'_>,
    segment: u64,
    entries: Vec<Entry>,
) -> Result<u64, StoreError> {
    let mut moved = 0;
    for entry in entries {
        let Some(record) = tx.record(entry.id)? else {
            continue;
        };
        let Some(at) = record.body.filter(|at| at.segment == segment) else {
            continue;
        };
        move_in(tx, entry.id, record, at, entry.msg)?;
        moved += 1;
    }
    Ok(moved)
}

/// Puts `msg`'s bytes into the database and forgets journal record `at` in the message
/// record and its queue entries.
fn move_in(
    tx: &mut Tx<'_>,
    id: MessageId,
    mut record: MessageRecord,
    at: BodyRef,
    msg: NewMessage,
) -> Result<(), StoreError> {
    let sources: Vec<PayloadSource> = record.destinations.iter().map(|d| d.payload).collect();
    put_bytes(tx, id, msg.raw, msg.transformed, msg.deliveries, &sources)?;
    for dest in &record.destinations {
        let Some(seq) = dest.queue_seq else { continue };
        let queue_key = keys::queue(&record.channel, &dest.name, seq)?;
        if let Some(bytes) = tx.get(Table::Queue, &queue_key)? {
            let mut entry: QueueEntry = record_codec::decode_queue_entry(
                || format!("queue entry of message {id}"),
                &bytes,
            )?;
            entry.body = None;
            tx.put(
                Table::Queue,
                queue_key,
                record_codec::encode_queue_entry(&entry),
            );
        }
    }
    record.body = None;
    tx.add_segment_ref(at.segment, -1)?;
    tx.put_record(id, &record)
}
