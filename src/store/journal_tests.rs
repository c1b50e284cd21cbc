//! Tests of the accept journal (`journal.rs`).

use super::*;
use crate::store::model::{MessageMeta, MessageStatus, NewMessage};

fn msg(n: u8) -> NewMessage {
    NewMessage {
        channel: "ch".into(),
        peer: "peer".into(),
        received_at_ms: 7,
        raw: vec![b'r', n].into(),
        meta: MessageMeta::default(),
        status: MessageStatus::Filtered,
        error: None,
        transformed: None,
        deliveries: Vec::new(),
    }
}

fn record(id: u64) -> Vec<u8> {
    let mut bytes = Vec::new();
    encode_accept(&mut bytes, id, 1, &msg(id as u8)).unwrap();
    bytes
}

fn ids(recovered: &Recovered) -> Vec<u64> {
    recovered.entries.iter().map(|(_, e)| e.id).collect()
}

#[test]
fn records_written_over_zeros_ahead_survive_and_the_zeros_end_the_segment() {
    let dir = tempfile::tempdir().unwrap();
    let mut journal = Journal::start(dir.path(), 0).unwrap();
    journal.append(&record(1), true).unwrap();
    journal.sync().unwrap();
    let size = || {
        std::fs::metadata(segment_path(dir.path(), 1))
            .unwrap()
            .len()
    };
    assert!(size() >= journal.len() + ZERO_AHEAD_BYTES, "zeros ahead");
    // Within the zeros: written in place, the file does not grow.
    let before = size();
    journal.append(&record(2), true).unwrap();
    journal.append(&record(3), false).unwrap();
    assert_eq!(size(), before);
    // A torn record over the zeros, as a crash mid-write leaves.
    let torn = record(4);
    journal.append(&torn[..torn.len() / 2], true).unwrap();
    drop(journal);
    let recovered = Journal::recover(dir.path(), JournalPos::default()).unwrap();
    assert_eq!(ids(&recovered), [1, 2, 3]);

    // Past the zeros, an append extends the segment as before.
    let mut journal = Journal::start(dir.path(), 1).unwrap();
    let big = vec![7u8; (ZERO_AHEAD_BYTES + 10) as usize];
    journal.append(&record(5), true).unwrap();
    let at = journal.len();
    journal.append(&big, false).unwrap();
    assert_eq!(journal.len(), at + big.len() as u64);
    journal.append(&record(6), true).unwrap();
    drop(journal);
    let second = std::fs::read(segment_path(dir.path(), 2)).unwrap();
    assert_eq!(&second[at as usize..at as usize + big.len()], &big[..]);
}

/// Without a sync next (`interval`), a small group goes over zeros written ahead;
/// a large one past them extends the segment itself, and every record reads back.
#[test]
fn unsynced_small_groups_go_over_zeros_and_large_ones_extend_the_segment() {
    let dir = tempfile::tempdir().unwrap();
    let mut journal = Journal::start(dir.path(), 0).unwrap();
    let size = || {
        std::fs::metadata(segment_path(dir.path(), 1))
            .unwrap()
            .len()
    };
    journal.append(&record(1), false).unwrap();
    assert_eq!(size(), journal.len() + ZERO_AHEAD_UNSYNCED_BYTES);
    let before = size();
    journal.append(&record(2), false).unwrap();
    assert_eq!(size(), before, "written over the zeros");

    let large: Vec<u8> = (3..3000).flat_map(record).collect();
    assert!(large.len() as u64 > ZERO_AHEAD_UNSYNCED_BYTES);
    journal.append(&large, false).unwrap();
    assert_eq!(size(), journal.len(), "no zeros after a large group");
    drop(journal);
    let recovered = Journal::recover(dir.path(), JournalPos::default()).unwrap();
    assert_eq!(ids(&recovered), (1..3000).collect::<Vec<_>>());
}

/// The write-back is asked for once per [`WRITE_BACK_BYTES`] appended, for what was
/// appended since, and starts over in the next segment.
#[test]
fn the_write_back_is_due_every_few_megabytes_of_records() {
    let dir = tempfile::tempdir().unwrap();
    let mut journal = Journal::start(dir.path(), 0).unwrap();
    let one = record(1);
    let mut appended = 0u64;
    let mut due = Vec::new();
    // Two and a half write-backs' worth: two are due, whatever the record's length.
    while appended < 2 * WRITE_BACK_BYTES + WRITE_BACK_BYTES / 2 {
        journal.append(&one, false).unwrap();
        appended += one.len() as u64;
        if let Some(job) = journal.write_back_due() {
            assert_eq!(job.synced.load(Ordering::SeqCst), 0);
            due.push((job.from, job.to));
        }
    }
    assert_eq!(due.len(), 2, "{due:?}");
    assert_eq!(due[0].0, 0);
    assert_eq!(due[1].0, due[0].1, "each range starts where the last ended");
    for (from, to) in &due {
        assert!(to - from >= WRITE_BACK_BYTES && to - from < WRITE_BACK_BYTES + one.len() as u64);
    }
    journal.rotate(None).unwrap();
    journal.append(&one, false).unwrap();
    assert!(
        journal.write_back_due().is_none(),
        "a new segment starts from nothing"
    );
}

/// The next segment made ahead is the one the rotation moves to; one made for another
/// number is not used; and one never used reads as empty after a crash.
#[test]
fn a_rotation_moves_to_the_segment_made_ahead_and_an_unused_one_reads_as_empty() {
    let dir = tempfile::tempdir().unwrap();
    let mut journal = Journal::start(dir.path(), 0).unwrap();
    journal.append(&record(1), false).unwrap();
    let (at, number) = journal.next_segment();
    assert_eq!(number, 2);
    let prepared = Journal::prepare(&at, number).unwrap();
    assert!(
        segment_path(dir.path(), 2).is_file(),
        "made before the rotation"
    );
    journal.rotate(Some(prepared)).unwrap();
    assert_eq!(journal.position().segment, 2);
    journal.append(&record(2), false).unwrap();

    // Made for a number the rotation does not want: it makes the right one itself.
    let wrong = Journal::prepare(dir.path(), 9).unwrap();
    journal.rotate(Some(wrong)).unwrap();
    assert_eq!(journal.position().segment, 3);
    journal.append(&record(3), false).unwrap();
    // The next one made ahead, and then the process dies before it is used.
    let (at, number) = journal.next_segment();
    drop(Journal::prepare(&at, number).unwrap());
    drop(journal);

    let recovered = Journal::recover(dir.path(), JournalPos::default()).unwrap();
    assert_eq!(ids(&recovered), [1, 2, 3]);
    let segments: Vec<u64> = recovered.entries.iter().map(|(n, _)| *n).collect();
    assert_eq!(segments, [1, 2, 3]);
    assert_eq!(recovered.last_segment, 9, "every segment file is seen");
    // Starting after the last one leaves the unused ones alone and empty.
    let journal = Journal::start(dir.path(), recovered.last_segment).unwrap();
    assert_eq!(journal.position().segment, 10);
    assert_eq!(
        std::fs::metadata(segment_path(dir.path(), 4))
            .unwrap()
            .len(),
        0
    );
}

#[test]
fn segments_survive_reopen_in_order_and_a_torn_tail_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let recovered = Journal::recover(dir.path(), JournalPos::default()).unwrap();
    assert!(recovered.entries.is_empty());
    let mut journal = Journal::start(dir.path(), recovered.last_segment).unwrap();
    journal.append(&record(1), true).unwrap();
    let first = journal.position().segment;
    let closed = journal.rotate(None).unwrap();
    assert_eq!(first + 1, journal.position().segment);
    assert!(
        closed.synced.load(Ordering::SeqCst) < closed.len,
        "not synced yet"
    );
    closed.finish().unwrap();
    let closed = first;
    let second_at = journal.position();
    journal.append(&record(2), false).unwrap();
    journal.sync().unwrap();
    // A torn half record after it, as a crash mid-write leaves.
    let half = record(3);
    journal.append(&half[..half.len() / 2], false).unwrap();
    drop(journal);

    let recovered = Journal::recover(dir.path(), JournalPos::default()).unwrap();
    assert_eq!(ids(&recovered), [1, 2]);
    assert_eq!(recovered.last_segment, closed + 1);
    let (segment, second) = &recovered.entries[1];
    assert_eq!((*segment, second.at), (second_at.segment, second_at.offset));

    // Reading from a position skips what is before it, in older segments too.
    let from_second = Journal::recover(dir.path(), second_at).unwrap();
    assert_eq!(ids(&from_second), [2]);
    assert_eq!(from_second.entries[0].1.at, second_at.offset);
    let past_the_end = JournalPos {
        segment: second_at.segment,
        offset: 1 << 20,
    };
    assert!(
        Journal::recover(dir.path(), past_the_end)
            .unwrap()
            .entries
            .is_empty()
    );

    // Removing the closed segment keeps the newer one; starting keeps both.
    remove_segment(dir.path(), closed).unwrap();
    remove_segment(dir.path(), closed).unwrap();
    let recovered = Journal::recover(dir.path(), JournalPos::default()).unwrap();
    assert_eq!(ids(&recovered), [2]);
    let journal = Journal::start(dir.path(), closed + 1).unwrap();
    assert_eq!(journal.position().segment, closed + 2);
    assert_eq!(
        ids(&Journal::recover(dir.path(), JournalPos::default()).unwrap()),
        [2]
    );
}

#[test]
fn the_single_file_of_earlier_versions_becomes_segment_zero() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(LEGACY_FILE), record(9)).unwrap();
    let recovered = Journal::recover(dir.path(), JournalPos::default()).unwrap();
    assert_eq!(ids(&recovered), [9]);
    assert_eq!(recovered.entries[0].0, 0);
    assert_eq!(recovered.last_segment, 0);
    assert!(!dir.path().join(LEGACY_FILE).exists());
    assert!(segment_path(dir.path(), 0).exists());
}
