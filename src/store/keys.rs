//! Key encodings for every table of the store.
//!
//! Both backends order keys as plain byte strings, so every number is written big-endian: then
//! byte order is numeric order, and a range scan over `channel ‖ destination ‖ seq` walks a queue
//! in FIFO order, and over `channel ‖ time ‖ id` walks a channel's history in time order.
//!
//! Strings (channel, destination, control id) are written with a 2-byte big-endian length in
//! front. That makes every composite key unambiguous whatever bytes a name holds (a channel
//! `a` with destination `bc` never collides with channel `ab` and destination `c`), at the cost of
//! ordering names by length first; nothing here ranges *across* names, only within one, so that
//! order does not matter.

use super::error::StoreError;
use super::model::{MessageId, MessageStatus};

/// `meta` table: the schema version (u32).
pub(crate) const META_SCHEMA: &[u8] = b"schema";
/// `meta` table: the next message id to hand out (u64). Persisted in every batch that uses it,
/// so ids stay strictly increasing across restarts and prunes.
pub(crate) const META_NEXT_ID: &[u8] = b"next_id";
/// `meta` table: the next queue sequence number (u64). Queue order is by this number, not by
/// message id, so a replayed message goes to the tail.
pub(crate) const META_NEXT_SEQ: &[u8] = b"next_seq";

/// `meta` table: the journal position ([`JournalPos`](super::bodies::JournalPos)) before
/// which the database holds every record, as of its last checkpoint: where replay at open
/// starts.
pub(crate) const META_JOURNAL_APPLIED: &[u8] = b"journal_applied";

/// Tag of a per-status message count in the `counts` table.
const COUNT_STATUS: u8 = 1;
/// Tag of a queue-depth count in the `counts` table.
const COUNT_QUEUE: u8 = 2;
/// Tag of a journal segment's reference count in the `counts` table.
const COUNT_SEGMENT: u8 = 3;
/// Tag of a journal segment's record count in the `counts` table.
const COUNT_SEGMENT_RECORDS: u8 = 4;

/// Refuses names longer than 65,535 bytes rather than truncating them, because a truncated
/// name would silently share keys with another. Checking costs no key: the writer checks every
/// accept before journaling it, on the acknowledgement's path.
pub(crate) fn check_str(s: &str) -> Result<u16, StoreError> {
    u16::try_from(s.len()).map_err(|_| {
        StoreError::Invalid(format!(
            "a name or control id of {} bytes is longer than 65535 bytes",
            s.len()
        ))
    })
}

/// Appends `s` with its 2-byte length (refused as [`check_str`] says).
fn put_str(key: &mut Vec<u8>, s: &str) -> Result<(), StoreError> {
    let len = check_str(s)?;
    key.extend_from_slice(&len.to_be_bytes());
    key.extend_from_slice(s.as_bytes());
    Ok(())
}

/// `messages`, `raw`, `transformed`: the message id.
pub(crate) fn message(id: MessageId) -> [u8; 8] {
    id.to_be_bytes()
}

/// `payloads`: message id ‖ destination index.
pub(crate) fn payload(id: MessageId, dest: u16) -> Vec<u8> {
    let mut key = Vec::with_capacity(10);
    key.extend_from_slice(&id.to_be_bytes());
    key.extend_from_slice(&dest.to_be_bytes());
    key
}

/// `attempts`: message id ‖ destination index ‖ attempt number, so one destination's attempts
/// are one contiguous range in the order they were made.
pub(crate) fn attempt(id: MessageId, dest: u16, number: u32) -> Vec<u8> {
    let mut key = payload(id, dest);
    key.extend_from_slice(&number.to_be_bytes());
    key
}

/// The prefix of one destination's attempts.
pub(crate) fn attempts_prefix(id: MessageId, dest: u16) -> Vec<u8> {
    payload(id, dest)
}

/// `queue`: the prefix shared by one destination's entries.
pub(crate) fn queue_prefix(channel: &str, destination: &str) -> Result<Vec<u8>, StoreError> {
    let mut key = Vec::with_capacity(4 + channel.len() + destination.len() + 8);
    put_str(&mut key, channel)?;
    put_str(&mut key, destination)?;
    Ok(key)
}

/// `queue`: channel ‖ destination ‖ sequence number.
pub(crate) fn queue(channel: &str, destination: &str, seq: u64) -> Result<Vec<u8>, StoreError> {
    let mut key = queue_prefix(channel, destination)?;
    key.extend_from_slice(&seq.to_be_bytes());
    Ok(key)
}

/// `by_time`: the prefix of one channel's time index.
pub(crate) fn by_time_prefix(channel: &str) -> Result<Vec<u8>, StoreError> {
    let mut key = Vec::with_capacity(2 + channel.len() + 16);
    put_str(&mut key, channel)?;
    Ok(key)
}

/// `by_time`: channel ‖ received time ‖ id. Listing newest first, `since` filters and pruning
/// by age are range scans over it.
pub(crate) fn by_time(channel: &str, at_ms: u64, id: MessageId) -> Result<Vec<u8>, StoreError> {
    let mut key = by_time_prefix(channel)?;
    key.extend_from_slice(&at_ms.to_be_bytes());
    key.extend_from_slice(&id.to_be_bytes());
    Ok(key)
}

/// `by_status`: the prefix of one channel's messages in one status.
pub(crate) fn by_status_prefix(
    channel: &str,
    status: MessageStatus,
) -> Result<Vec<u8>, StoreError> {
    let mut key = Vec::with_capacity(3 + channel.len() + 8);
    put_str(&mut key, channel)?;
    key.push(status.code());
    Ok(key)
}

/// `by_status`: channel ‖ status ‖ id, so "the errors of this channel" is a range scan.
pub(crate) fn by_status(
    channel: &str,
    status: MessageStatus,
    id: MessageId,
) -> Result<Vec<u8>, StoreError> {
    let mut key = by_status_prefix(channel, status)?;
    key.extend_from_slice(&id.to_be_bytes());
    Ok(key)
}

/// `by_control`: the prefix of one control id's messages in one channel.
pub(crate) fn by_control_prefix(channel: &str, control_id: &str) -> Result<Vec<u8>, StoreError> {
    let mut key = Vec::with_capacity(4 + channel.len() + control_id.len() + 8);
    put_str(&mut key, channel)?;
    put_str(&mut key, control_id)?;
    Ok(key)
}

/// `by_control`: channel ‖ control id ‖ id, valued with the received time: duplicate
/// detection is one reverse scan that stops at the first (newest) entry.
pub(crate) fn by_control(
    channel: &str,
    control_id: &str,
    id: MessageId,
) -> Result<Vec<u8>, StoreError> {
    let mut key = by_control_prefix(channel, control_id)?;
    key.extend_from_slice(&id.to_be_bytes());
    Ok(key)
}

/// `counts`: how many of a channel's messages are in `status`.
pub(crate) fn count_status(channel: &str, status: MessageStatus) -> Result<Vec<u8>, StoreError> {
    let mut key = vec![COUNT_STATUS];
    put_str(&mut key, channel)?;
    key.push(status.code());
    Ok(key)
}

/// `counts`: how many entries one destination's queue holds (kept as a counter so
/// `/metrics` does not scan a deep queue on every scrape).
pub(crate) fn count_queue(channel: &str, destination: &str) -> Result<Vec<u8>, StoreError> {
    let mut key = vec![COUNT_QUEUE];
    put_str(&mut key, channel)?;
    put_str(&mut key, destination)?;
    Ok(key)
}

/// `counts`: how many stored messages keep their bodies in journal segment `segment` (it is
/// deleted when none does).
pub(crate) fn count_segment(segment: u64) -> Vec<u8> {
    let mut key = vec![COUNT_SEGMENT];
    key.extend_from_slice(&segment.to_be_bytes());
    key
}

/// `counts`: how many messages were ever stored with their bodies in journal segment
/// `segment` (so that a mostly pruned segment can be told from a small one).
pub(crate) fn count_segment_records(segment: u64) -> Vec<u8> {
    let mut key = vec![COUNT_SEGMENT_RECORDS];
    key.extend_from_slice(&segment.to_be_bytes());
    key
}

/// The smallest key greater than every key that starts with `prefix`: the exclusive upper bound
/// of a prefix scan. `None` when the prefix is all `0xFF` (then the scan is unbounded above).
pub(crate) fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// Reads a big-endian u64 from exactly 8 bytes.
pub(crate) fn read_u64(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

/// The big-endian u64 that ends `key` (the id or sequence number of composite keys).
pub(crate) fn tail_u64(key: &[u8]) -> Option<u64> {
    let start = key.len().checked_sub(8)?;
    read_u64(&key[start..])
}

/// The time and id that end a `by_time` key.
pub(crate) fn tail_time_id(key: &[u8]) -> Option<(u64, MessageId)> {
    let start = key.len().checked_sub(16)?;
    Some((
        read_u64(&key[start..start + 8])?,
        read_u64(&key[start + 8..])?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_sort_numerically() {
        let a = queue("ch", "dest", 9).unwrap();
        let b = queue("ch", "dest", 10).unwrap();
        let c = queue("ch", "dest", 256).unwrap();
        assert!(a < b && b < c);
        assert_eq!(tail_u64(&c), Some(256));
        let t1 = by_time("ch", 1_000, 7).unwrap();
        let t2 = by_time("ch", 1_001, 3).unwrap();
        assert!(t1 < t2);
        assert_eq!(tail_time_id(&t2), Some((1_001, 3)));
    }

    #[test]
    fn names_do_not_collide() {
        let a = queue_prefix("a", "bc").unwrap();
        let b = queue_prefix("ab", "c").unwrap();
        assert_ne!(a, b);
        assert!(!queue("a", "bc", 1).unwrap().starts_with(&b));
        // A channel whose name starts like another's is a different prefix too.
        assert!(
            !by_time(&"x".repeat(2), 1, 1)
                .unwrap()
                .starts_with(&by_time_prefix("x").unwrap())
        );
    }

    #[test]
    fn overlong_names_are_refused() {
        let long = "x".repeat(70_000);
        assert!(matches!(
            queue_prefix(&long, "d"),
            Err(StoreError::Invalid(_))
        ));
        assert!(queue_prefix(&"x".repeat(65_535), "d").is_ok());
    }

    #[test]
    fn prefix_end_bounds_the_prefix() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(&[1, 0xFF]), Some(vec![2]));
        assert_eq!(prefix_end(&[0xFF, 0xFF]), None);
        let prefix = queue_prefix("ch", "d").unwrap();
        let end = prefix_end(&prefix).unwrap();
        assert!(queue("ch", "d", u64::MAX).unwrap() < end);
        assert!(queue("ch", "d", 0).unwrap() >= prefix);
    }

    #[test]
    fn short_keys_do_not_panic() {
        assert_eq!(tail_u64(b"short"), None);
        assert_eq!(tail_time_id(&[0; 15]), None);
        assert_eq!(read_u64(&[1, 2, 3]), None);
    }
}
