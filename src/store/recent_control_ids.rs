//! Control-id index entries of applied messages that are not in the database's `by_control`
//! table yet.
//!
//! Why deferred: control ids are random keys, so each message's index entry lands in a
//! different leaf of that B-tree, and every commit copied one leaf per message (about a sixth
//! of the engine's CPU per message at 16 × 16 pipelined connections, docs/performance.md).
//! Held here and written into the table all at once at the next checkpoint, the entries of
//! two seconds share leaves instead.
//!
//! Crash safety: only journaled accepts defer their entry, and a checkpoint writes every
//! deferred entry in the same durable commit that records the journal position, so replay at
//! open (which starts at that position) puts back any entry a crash took (see
//! `handle::replay_journal`).
//!
//! Readers ask this set *before* they take their database snapshot: an entry leaves the set
//! only after the commit that wrote it, so it is always in one or the other.

use std::collections::BTreeMap;
use std::ops::{Bound, ControlFlow};
use std::sync::{Mutex, MutexGuard};

use super::error::StoreError;
use super::keys;
use super::model::MessageId;

/// Above this many entries the applier writes them with its next commit instead of waiting
/// for the checkpoint, so the set stays small between checkpoints (two seconds of intake at
/// full speed would be over 100,000 entries; 256k of them took up to 45 MiB more memory) and
/// a store that cannot checkpoint does not grow it forever.
pub(crate) const FLUSH_ENTRIES: usize = 32 * 1024;

/// A `by_control` key and its value, the message's received time.
pub(crate) type ControlIdEntry = (Vec<u8>, u64);

/// `by_control` keys to their values (the received time), waiting for a checkpoint.
#[derive(Debug, Default)]
pub(crate) struct RecentControlIds(Mutex<BTreeMap<Vec<u8>, u64>>);

impl RecentControlIds {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<Vec<u8>, u64>> {
        // Every change is one call on the map, so it is consistent even after a panic.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds entries of a commit that just became visible.
    pub(crate) fn extend(&self, entries: Vec<ControlIdEntry>) {
        if !entries.is_empty() {
            self.lock().extend(entries);
        }
    }

    /// How many entries wait.
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// A copy of every entry, to be written by a commit (they stay readable here until
    /// [`RecentControlIds::written`]).
    pub(crate) fn snapshot(&self) -> Vec<ControlIdEntry> {
        self.lock().iter().map(|(k, v)| (k.clone(), *v)).collect()
    }

    /// Forgets the entries a commit wrote: all of them, because only the applier adds
    /// entries, and it adds none between [`RecentControlIds::snapshot`] and this.
    pub(crate) fn written(&self) {
        self.lock().clear();
    }

    /// The message ids of `channel` with `control_id` waiting here, newest first, with their
    /// received times.
    pub(crate) fn find(
        &self,
        channel: &str,
        control_id: &str,
    ) -> Result<Vec<(MessageId, u64)>, StoreError> {
        let prefix = keys::by_control_prefix(channel, control_id)?;
        let end = match keys::prefix_end(&prefix) {
            Some(end) => Bound::Excluded(end),
            None => Bound::Unbounded,
        };
        let map = self.lock();
        let mut found = Vec::new();
        for (key, at_ms) in map.range((Bound::Included(prefix), end)).rev() {
            if let Some(id) = keys::tail_u64(key) {
                found.push((id, *at_ms));
            }
        }
        Ok(found)
    }
}

/// Visits the ids of `recent` first (newest first), then those `scan` yields that were not
/// among them: the two halves of one control id's index as one list.
pub(crate) fn visit_merged(
    recent: &[(MessageId, u64)],
    scan: impl FnOnce(&mut Visit<'_>) -> Result<(), StoreError>,
    visit: &mut Visit<'_>,
) -> Result<(), StoreError> {
    for &(id, _) in recent {
        if visit(id)?.is_break() {
            return Ok(());
        }
    }
    scan(&mut |id| {
        if recent.iter().any(|&(seen, _)| seen == id) {
            return Ok(ControlFlow::Continue(()));
        }
        visit(id)
    })
}

/// What [`visit_merged`] calls per message id.
pub(crate) type Visit<'a> = dyn FnMut(MessageId) -> Result<ControlFlow<()>, StoreError> + 'a;

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(channel: &str, control_id: &str, id: MessageId, at: u64) -> ControlIdEntry {
        (keys::by_control(channel, control_id, id).unwrap(), at)
    }

    #[test]
    fn finds_a_channels_control_id_newest_first() {
        let recent = RecentControlIds::default();
        recent.extend(vec![
            entry("lab", "C1", 1, 10),
            entry("lab", "C1", 3, 30),
            entry("lab", "C12", 2, 20),
            entry("adt", "C1", 4, 40),
        ]);
        assert_eq!(recent.find("lab", "C1").unwrap(), vec![(3, 30), (1, 10)]);
        assert_eq!(recent.find("adt", "C1").unwrap(), vec![(4, 40)]);
        assert!(recent.find("lab", "C2").unwrap().is_empty());
    }

    #[test]
    fn written_entries_leave_and_later_ones_stay() {
        let recent = RecentControlIds::default();
        recent.extend(vec![entry("lab", "A", 1, 1), entry("lab", "B", 2, 2)]);
        assert_eq!(recent.snapshot().len(), 2);
        recent.written();
        assert_eq!(recent.len(), 0);
        recent.extend(vec![entry("lab", "C", 3, 3)]);
        assert_eq!(recent.find("lab", "C").unwrap(), vec![(3, 3)]);
    }

    #[test]
    fn merged_visits_skip_ids_seen_in_both() {
        let recent = vec![(9, 90), (7, 70)];
        let mut seen = Vec::new();
        visit_merged(
            &recent,
            |visit| {
                for id in [7, 5, 2] {
                    if visit(id)?.is_break() {
                        break;
                    }
                }
                Ok(())
            },
            &mut |id| {
                seen.push(id);
                Ok(if seen.len() == 3 {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                })
            },
        )
        .unwrap();
        assert_eq!(seen, vec![9, 7, 5]);
    }
}
