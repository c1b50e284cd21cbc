//! The ordered key-value seam under the store.
//!
//! The store needs very little from a database: named tables of byte keys and byte values,
//! point reads, range scans in key order (forward and reverse), and an *atomic* batch of puts and
//! deletes that is either durable when it returns or merely committed. Everything else (the data
//! model, indexes, counters, group commit) lives above this seam in plain Rust, so adding a
//! backend means implementing these two traits, and the same test suite covers it.
//!
//! Reads go through a [`Snapshot`] so that one API call (say, reading a message with its
//! payloads and attempts) sees one consistent state where the backend offers snapshots (redb);
//! sled has no read snapshots, and its [`Snapshot`] reads the live tree.

use std::collections::BTreeMap;
use std::ops::{Bound, ControlFlow};

use super::error::StoreError;

/// A table of the store. The name is on disk (a redb table name, a sled key prefix): never
/// rename one without a migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Table {
    /// Schema version and persisted counters.
    Meta,
    /// id → message record (`record_codec.rs`: channel, peer, times, meta, status,
    /// destinations).
    Messages,
    /// id → the raw bytes as received.
    Raw,
    /// id → the transformer's output.
    Transformed,
    /// id ‖ destination index → that destination's payload.
    Payloads,
    /// id ‖ destination index ‖ attempt number → attempt record and response bytes.
    Attempts,
    /// channel ‖ destination ‖ seq → queue entry.
    Queue,
    /// channel ‖ received time ‖ id → empty.
    ByTime,
    /// channel ‖ status ‖ id → empty.
    ByStatus,
    /// channel ‖ control id ‖ id → received time.
    ByControl,
    /// per-status message counts and queue depths → u64.
    Counts,
    /// conflict id → parked conflict record (JSON: both versions, the fields, the resolution).
    Conflicts,
}

impl Table {
    /// Every table; backends create them all at open so reads never meet a missing table.
    pub(crate) const ALL: [Table; 12] = [
        Table::Meta,
        Table::Messages,
        Table::Raw,
        Table::Transformed,
        Table::Payloads,
        Table::Attempts,
        Table::Queue,
        Table::ByTime,
        Table::ByStatus,
        Table::ByControl,
        Table::Counts,
        Table::Conflicts,
    ];

    /// The table's name on disk.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Table::Meta => "meta",
            Table::Messages => "messages",
            Table::Raw => "raw",
            Table::Transformed => "transformed",
            Table::Payloads => "payloads",
            Table::Attempts => "attempts",
            Table::Queue => "queue",
            Table::ByTime => "by_time",
            Table::ByStatus => "by_status",
            Table::ByControl => "by_control",
            Table::Counts => "counts",
            Table::Conflicts => "conflicts",
        }
    }
}

/// A key range within one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyRange {
    /// Lower bound.
    pub(crate) start: Bound<Vec<u8>>,
    /// Upper bound.
    pub(crate) end: Bound<Vec<u8>>,
}

impl KeyRange {
    /// Every key that starts with `prefix`.
    pub(crate) fn prefix(prefix: &[u8]) -> Self {
        KeyRange {
            start: Bound::Included(prefix.to_vec()),
            end: match super::keys::prefix_end(prefix) {
                Some(end) => Bound::Excluded(end),
                None => Bound::Unbounded,
            },
        }
    }
}

/// The visitor of a scan: gets each key and value in order, returns `Break` to stop early.
pub(crate) type Visit<'a> = dyn FnMut(&[u8], &[u8]) -> Result<ControlFlow<()>, StoreError> + 'a;

/// A consistent read view of the store (where the backend has snapshots).
pub(crate) trait Snapshot {
    /// The value under `key`, if any.
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// Calls `visit` for each entry in `range`, in key order (descending when `reverse`), until it
    /// returns `Break` or the range ends.
    fn scan(
        &self,
        table: Table,
        range: &KeyRange,
        reverse: bool,
        visit: &mut Visit<'_>,
    ) -> Result<(), StoreError>;
}

/// One change in a batch: a put (`Some`) or a delete (`None`).
pub(crate) type Change = Option<Vec<u8>>;

/// An atomic set of changes, ordered by table and key (which also helps a B-tree backend write
/// neighbouring pages together). Only the last change to a key is kept.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    pub(crate) changes: BTreeMap<(Table, Vec<u8>), Change>,
}

impl Batch {
    /// True when the batch changes nothing.
    pub(crate) fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

/// A storage backend: reads through snapshots, writes through atomic batches.
pub(crate) trait Kv: Send + Sync {
    /// A read view of everything committed so far.
    fn snapshot(&self) -> Result<Box<dyn Snapshot + '_>, StoreError>;

    /// Applies `batch` atomically: after a crash either all of it or none of it is there. When
    /// `durable`, it (and every earlier non-durable batch) is on stable storage when this
    /// returns; otherwise it is committed and visible, and [`Kv::sync`] makes it durable later.
    fn apply(&self, batch: Batch, durable: bool) -> Result<(), StoreError>;

    /// Makes every batch applied so far durable.
    fn sync(&self) -> Result<(), StoreError>;

    /// Gives free space back to the file system, if the backend can and it is worth it now.
    /// Returns whether anything was reclaimed. The caller holds off other writes meanwhile.
    fn reclaim(&self) -> Result<bool, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_are_unique() {
        let mut names: Vec<&str> = Table::ALL.iter().map(|t| t.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Table::ALL.len());
    }

    /// A backend may keep per-table state in an array indexed by `table as usize`
    /// (`redb_kv.rs`): that needs `ALL` to list every table at its own index.
    #[test]
    fn every_table_is_listed_at_its_own_index() {
        for (index, table) in Table::ALL.iter().enumerate() {
            assert_eq!(*table as usize, index, "{table:?}");
        }
    }

    #[test]
    fn prefix_range_bounds() {
        let range = KeyRange::prefix(b"ab");
        assert_eq!(range.start, Bound::Included(b"ab".to_vec()));
        assert_eq!(range.end, Bound::Excluded(b"ac".to_vec()));
        assert_eq!(KeyRange::prefix(&[0xFF]).end, Bound::Unbounded);
    }
}

/// An in-memory [`Kv`] for unit tests of the layers above the seam (no directory, no disk):
/// it can be told to fail commits, and counts applies and syncs.
#[cfg(test)]
pub(crate) mod mem {
    use std::collections::BTreeMap;
    use std::ops::ControlFlow;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

    use super::{Batch, KeyRange, Kv, Snapshot, Table, Visit};
    use crate::store::error::StoreError;

    type Map = BTreeMap<(Table, Vec<u8>), Vec<u8>>;

    #[derive(Default)]
    pub(crate) struct MemKv {
        data: Mutex<Map>,
        pub(crate) fail_commits: AtomicBool,
        pub(crate) applies: AtomicU64,
        pub(crate) durable_applies: AtomicU64,
        pub(crate) syncs: AtomicU64,
    }

    struct MemSnapshot(Map);

    impl Snapshot for MemSnapshot {
        fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
            Ok(self.0.get(&(table, key.to_vec())).cloned())
        }

        fn scan(
            &self,
            table: Table,
            range: &KeyRange,
            reverse: bool,
            visit: &mut Visit<'_>,
        ) -> Result<(), StoreError> {
            let bounds = (range.start.clone(), range.end.clone());
            let mut entries: Vec<(&Vec<u8>, &Vec<u8>)> = self
                .0
                .iter()
                .filter(|((t, k), _)| *t == table && std::ops::RangeBounds::contains(&bounds, k))
                .map(|((_, k), v)| (k, v))
                .collect();
            if reverse {
                entries.reverse();
            }
            for (key, value) in entries {
                if visit(key, value)? == ControlFlow::Break(()) {
                    break;
                }
            }
            Ok(())
        }
    }

    impl Kv for MemKv {
        fn snapshot(&self) -> Result<Box<dyn Snapshot + '_>, StoreError> {
            let data = self.data.lock().map_err(|_| StoreError::WriterGone)?;
            Ok(Box::new(MemSnapshot(data.clone())))
        }

        fn apply(&self, batch: Batch, durable: bool) -> Result<(), StoreError> {
            if self.fail_commits.load(Ordering::SeqCst) {
                return Err(StoreError::backend(
                    "commit a write batch",
                    std::io::Error::other("disk full"),
                ));
            }
            let mut data = self.data.lock().map_err(|_| StoreError::WriterGone)?;
            for (key, change) in batch.changes {
                match change {
                    Some(value) => data.insert(key, value),
                    None => data.remove(&key),
                };
            }
            self.applies.fetch_add(1, Ordering::SeqCst);
            if durable {
                self.durable_applies.fetch_add(1, Ordering::SeqCst);
            }
            Ok(())
        }

        fn sync(&self) -> Result<(), StoreError> {
            self.syncs.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }

        fn reclaim(&self) -> Result<bool, StoreError> {
            Ok(false)
        }
    }
}
