//! Deleting journal segments that no stored message refers to, and emptying the ones that
//! are mostly pruned. Run by the applier after each checkpoint's durable commit.
//!
//! Why here and not in pruning alone: a segment holds the messages of every channel that
//! wrote during its time, and channels prune on their own schedules (or never). When few
//! messages of a closed segment are left, their bytes are moved into the database, so a
//! channel that keeps everything does not keep 64 MiB segments alive for the few messages it
//! has in each.

use std::path::Path;

use super::error::StoreError;
use super::journal;
use super::keys;
use super::kv::{Batch, Kv, Table};
use super::ops::{self, Tx};
use super::record;

/// A closed segment is emptied (its remaining messages' bytes moved into the database) when at
/// most one in this many of its messages is still stored.
const COMPACT_WHEN_ONE_IN: u64 = 8;

/// What [`tidy`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Tidied {
    /// Segments deleted.
    pub(crate) removed: Vec<u64>,
    /// A segment emptied, and how many messages were moved out of it; it is deleted at the
    /// next checkpoint, once the move is durable.
    pub(crate) compacted: Option<(u64, u64)>,
}

impl Tidied {
    /// Whether it committed anything (not durably).
    pub(crate) fn committed(&self) -> bool {
        !self.removed.is_empty() || self.compacted.is_some()
    }
}

/// Deletes the closed segments (numbered below `current`) that nothing refers to by the
/// durable state just committed, and empties at most one mostly pruned segment. Its commits
/// are not durable: a crash before the next durable commit only means the work is done
/// again.
pub(crate) fn tidy(kv: &dyn Kv, dir: &Path, current: u64) -> Result<Tidied, StoreError> {
    let mut tidied = Tidied::default();
    let mut sparse = None;
    {
        let snapshot = kv.snapshot()?;
        let count = |key: Vec<u8>| -> Result<u64, StoreError> {
            record::decode_counter("count", snapshot.get(Table::Counts, &key)?.as_deref())
        };
        for (number, _) in journal::segments(dir)? {
            if number >= current {
                break;
            }
            let refs = count(keys::count_segment(number))?;
            if refs == 0 {
                journal::remove_segment(dir, number)?;
                tidied.removed.push(number);
            } else if sparse.is_none()
                && refs.saturating_mul(COMPACT_WHEN_ONE_IN)
                    <= count(keys::count_segment_records(number))?
            {
                sparse = Some(number);
            }
        }
    }
    let mut batch = Batch::default();
    for number in &tidied.removed {
        batch
            .changes
            .insert((Table::Counts, keys::count_segment_records(*number)), None);
    }
    if let Some(number) = sparse {
        let entries = journal::read_segment(dir, number)?;
        let snapshot = kv.snapshot()?;
        let mut tx = Tx::new(snapshot.as_ref(), &batch);
        let moved = ops::compact_segment(&mut tx, number, entries)?;
        let staged = tx.into_staged();
        drop(snapshot);
        batch.changes.extend(staged);
        tidied.compacted = Some((number, moved));
    }
    if !batch.is_empty() {
        kv.apply(batch, false)?;
    }
    Ok(tidied)
}
