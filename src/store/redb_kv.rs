//! The redb backend of the [`Kv`] seam (the default).
//!
//! redb is a copy-on-write B-tree in one file. A commit with `Durability::Immediate` writes the
//! new pages, then flips a checksummed commit slot and fsyncs, so a crash at any point leaves
//! either the old or the new state, never a mix; that is exactly the "acknowledged means
//! durable" guarantee, with one fsync per group commit. A commit with `Durability::None` is
//! visible to readers at once but only becomes durable with the next immediate commit, which is
//! what `Durability::Interval` builds on. Note the consequence: with redb a *process* crash also
//! loses non-durable commits, not only a power cut.
//!
//! Each [`Table`] is a redb table of `&[u8] → &[u8]`. Reads use redb read transactions, which are
//! real snapshots and run concurrently with the writer.

use std::cell::OnceCell;
use std::fs;
use std::ops::{Bound, ControlFlow};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use redb::{Database, ReadOnlyTable, ReadTransaction, ReadableDatabase, TableDefinition};

use super::cpu_pacing;
use super::error::StoreError;
use super::kv::{Batch, KeyRange, Kv, Snapshot, Table, Visit};

/// The database file inside the store directory.
pub(crate) const FILE_NAME: &str = "ihub.redb";

/// redb's page cache. Its default is 1 GiB, far above the engine's memory budget; the hot data
/// (queue heads, the newest messages, index pages) fits in much less, and the OS page cache still
/// holds the rest of the file.
const CACHE_BYTES: usize = 32 * 1024 * 1024;

/// Compaction rewrites the file and blocks readers while it runs, so it is only worth it when
/// much of the file is free: at least this many bytes ...
const RECLAIM_MIN_FREE_BYTES: u64 = 8 * 1024 * 1024;
/// ... and at least half of the file. Below that, redb reuses the freed pages for new writes,
/// so the file does not grow, it just does not shrink.
const RECLAIM_MIN_FREE_FRACTION: f64 = 0.5;

/// An open redb table of the store: byte keys to byte values.
type BytesTable<'txn> = redb::Table<'txn, &'static [u8], &'static [u8]>;

fn definition(table: Table) -> TableDefinition<'static, &'static [u8], &'static [u8]> {
    TableDefinition::new(table.name())
}

/// The redb-backed key-value store.
pub(crate) struct RedbKv {
    /// `compact()` needs `&mut Database`; everything else takes the read side, only long enough
    /// to begin a transaction.
    db: RwLock<Database>,
    /// The database file, for error messages and the free-space check.
    path: PathBuf,
}

impl RedbKv {
    /// Opens (or creates) `dir/ihub.redb` and creates every table, so readers never meet a
    /// missing one. Opening runs redb's repair if the last process died mid-commit.
    pub(crate) fn open(dir: &Path) -> Result<RedbKv, StoreError> {
        let open_error = |source: Arc<dyn std::error::Error + Send + Sync>| StoreError::Open {
            path: dir.to_path_buf(),
            source,
        };
        fs::create_dir_all(dir).map_err(|e| open_error(Arc::new(e)))?;
        let path = dir.join(FILE_NAME);
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(&path)
            .map_err(|e| open_error(Arc::new(e)))?;
        let txn = db.begin_write().map_err(|e| open_error(Arc::new(e)))?;
        for table in Table::ALL {
            txn.open_table(definition(table))
                .map_err(|e| open_error(Arc::new(e)))?;
        }
        txn.commit().map_err(|e| open_error(Arc::new(e)))?;
        Ok(RedbKv {
            db: RwLock::new(db),
            path,
        })
    }

    fn poisoned() -> StoreError {
        StoreError::Backend {
            op: "lock the database (a thread panicked while holding it)",
            source: Arc::new(std::io::Error::other("lock poisoned")),
        }
    }
}

/// The type of every table, opened for reading.
type ReadTable = ReadOnlyTable<&'static [u8], &'static [u8]>;

/// A redb read transaction: a consistent snapshot. Each table is opened once per snapshot, on
/// first use: opening one looks it up in the table tree and checks its definition, which cost
/// more than the read itself when the applier reads a record, a queue entry and a counter for
/// every delivery attempt (docs/performance.md, "A faster host": 2.8 % of the engine's samples
/// while a file destination drained its queue).
struct RedbSnapshot {
    txn: ReadTransaction,
    tables: [OnceCell<ReadTable>; Table::ALL.len()],
}

impl RedbSnapshot {
    fn table(&self, table: Table) -> Result<&ReadTable, StoreError> {
        let cell = &self.tables[table as usize];
        if let Some(open) = cell.get() {
            return Ok(open);
        }
        let open = self
            .txn
            .open_table(definition(table))
            .map_err(|e| StoreError::backend("open a table for reading", e))?;
        Ok(cell.get_or_init(|| open))
    }
}

fn as_slice_bound(bound: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    bound.as_ref().map(Vec::as_slice)
}

impl Snapshot for RedbSnapshot {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let value = self
            .table(table)?
            .get(key)
            .map_err(|e| StoreError::backend("read a value", e))?;
        Ok(value.map(|guard| guard.value().to_vec()))
    }

    fn scan(
        &self,
        table: Table,
        range: &KeyRange,
        reverse: bool,
        visit: &mut Visit<'_>,
    ) -> Result<(), StoreError> {
        let bounds = (as_slice_bound(&range.start), as_slice_bound(&range.end));
        let iter = self
            .table(table)?
            .range::<&[u8]>(bounds)
            .map_err(|e| StoreError::backend("scan a range", e))?;
        let mut step =
            |item: Result<_, redb::StorageError>| -> Result<ControlFlow<()>, StoreError> {
                let (key, value): (redb::AccessGuard<&[u8]>, redb::AccessGuard<&[u8]>) =
                    item.map_err(|e| StoreError::backend("scan a range", e))?;
                visit(key.value(), value.value())
            };
        if reverse {
            for item in iter.rev() {
                if step(item)?.is_break() {
                    break;
                }
            }
        } else {
            for item in iter {
                if step(item)?.is_break() {
                    break;
                }
            }
        }
        Ok(())
    }
}

impl Kv for RedbKv {
    fn snapshot(&self) -> Result<Box<dyn Snapshot + '_>, StoreError> {
        let db = self.db.read().map_err(|_| Self::poisoned())?;
        let txn = db
            .begin_read()
            .map_err(|e| StoreError::backend("begin a read transaction", e))?;
        Ok(Box::new(RedbSnapshot {
            txn,
            tables: Default::default(),
        }))
    }

    fn apply(&self, batch: Batch, durable: bool) -> Result<(), StoreError> {
        let db = self.db.read().map_err(|_| Self::poisoned())?;
        let mut txn = db
            .begin_write()
            .map_err(|e| StoreError::backend("begin a write transaction", e))?;
        txn.set_durability(if durable {
            redb::Durability::Immediate
        } else {
            redb::Durability::None
        })
        .map_err(|e| StoreError::backend("set the commit durability", e))?;
        {
            // The batch is sorted by table, so each table is opened once.
            let mut open: Option<(Table, BytesTable)> = None;
            for ((table, key), change) in &batch.changes {
                cpu_pacing::pace();
                if open.as_ref().map(|(current, _)| current) != Some(table) {
                    // Close the previous table before opening the next.
                    drop(open.take());
                    let handle = txn
                        .open_table(definition(*table))
                        .map_err(|e| StoreError::backend("open a table for writing", e))?;
                    open = Some((*table, handle));
                }
                if let Some((_, handle)) = open.as_mut() {
                    match change {
                        Some(value) => {
                            handle
                                .insert(key.as_slice(), value.as_slice())
                                .map_err(|e| StoreError::backend("write a value", e))?;
                        }
                        None => {
                            handle
                                .remove(key.as_slice())
                                .map_err(|e| StoreError::backend("delete a value", e))?;
                        }
                    }
                }
            }
        }
        txn.commit()
            .map_err(|e| StoreError::backend("commit a write batch", e))
    }

    fn sync(&self) -> Result<(), StoreError> {
        // An empty immediate commit makes every earlier non-durable commit durable: redb
        // persists the whole state reachable from the new commit slot.
        self.apply(Batch::default(), true)
    }

    fn reclaim(&self) -> Result<bool, StoreError> {
        let mut db = self.db.write().map_err(|_| Self::poisoned())?;
        let free = {
            let txn = db
                .begin_write()
                .map_err(|e| StoreError::backend("begin a write transaction", e))?;
            let stats = txn
                .stats()
                .map_err(|e| StoreError::backend("read database statistics", e))?;
            txn.abort()
                .map_err(|e| StoreError::backend("abort a transaction", e))?;
            stats.fragmented_bytes()
        };
        let file_len = fs::metadata(&self.path)
            .map_err(|e| StoreError::io(&self.path, e))?
            .len();
        let worth_it = free >= RECLAIM_MIN_FREE_BYTES
            && free as f64 >= file_len as f64 * RECLAIM_MIN_FREE_FRACTION;
        if !worth_it {
            return Ok(false);
        }
        match db.compact() {
            Ok(compacted) => Ok(compacted),
            // A reader still holds a snapshot: try again at the next prune rather than wait.
            Err(redb::CompactionError::TransactionInProgress) => Ok(false),
            Err(e) => Err(StoreError::backend("compact the database file", e)),
        }
    }
}
