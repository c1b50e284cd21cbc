//! The sled 0.34 backend of the [`Kv`] seam (cargo feature `sled`).
//!
//! **Why the extra fsync.** sled's `flush()` makes its log "stable" with `sync_file_range(
//! WAIT_BEFORE | WRITE | WAIT_AFTER)` on Linux (`pagecache/iobuf.rs`). That call only starts and
//! waits for write-back of the dirty page-cache range: it does not flush the disk's volatile
//! write cache and does not write file metadata (a grown file's size, a new file's directory
//! entry). A power cut or VM crash can therefore lose writes that `flush()` reported as done. So
//! a durable batch here is `flush()` followed by `File::sync_data()` on every file under the
//! sled directory and `sync_all()` on every directory (for new segment, snapshot and blob files),
//! which is what `fdatasync`/`fsync` are for. It costs several syncs per group commit where redb
//! needs one, which is one reason redb is the default.
//!
//! **Layout.** One sled tree holds every [`Table`], each key prefixed with the table's name and a
//! NUL byte. One tree makes every batch a single `apply_batch`, which sled applies atomically;
//! batches across several sled trees would need its transaction API instead.
//!
//! sled has no read snapshots: a [`Snapshot`] here reads the live tree, so one API call may see a
//! write that landed between two of its reads (only the writer thread writes, and every batch is
//! atomic, so what it sees is always a committed state per key).

use std::fs;
use std::ops::{Bound, ControlFlow};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::cpu_pacing;
use super::error::StoreError;
use super::keys;
use super::kv::{Batch, KeyRange, Kv, Snapshot, Table, Visit};

/// The sled directory inside the store directory.
pub(crate) const DIR_NAME: &str = "sled";

/// sled's page cache. Its default is 1 GiB; see the redb backend for why ours is small.
const CACHE_BYTES: u64 = 32 * 1024 * 1024;

/// The sled-backed key-value store.
pub(crate) struct SledKv {
    db: sled::Db,
    /// sled's own directory: everything under it is synced by [`SledKv::sync`].
    dir: PathBuf,
}

/// `table name ‖ NUL`: the prefix of every key of `table` in the one sled tree.
fn table_prefix(table: Table) -> Vec<u8> {
    let mut prefix = table.name().as_bytes().to_vec();
    prefix.push(0);
    prefix
}

fn full_key(table: Table, key: &[u8]) -> Vec<u8> {
    let mut full = table_prefix(table);
    full.extend_from_slice(key);
    full
}

impl SledKv {
    /// Opens (or creates) `dir/sled`.
    pub(crate) fn open(dir: &Path) -> Result<SledKv, StoreError> {
        let sled_dir = dir.join(DIR_NAME);
        let open_error = |source: Arc<dyn std::error::Error + Send + Sync>| StoreError::Open {
            path: dir.to_path_buf(),
            source,
        };
        fs::create_dir_all(&sled_dir).map_err(|e| open_error(Arc::new(e)))?;
        let db = sled::Config::new()
            .path(&sled_dir)
            .cache_capacity(CACHE_BYTES)
            .open()
            .map_err(|e| open_error(Arc::new(e)))?;
        let kv = SledKv { db, dir: sled_dir };
        // A new directory must itself reach the disk, or the whole store can vanish.
        sync_dir(dir)?;
        Ok(kv)
    }
}

/// `fsync` of a directory, so the entries of files created in it are durable.
fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    fs::File::open(dir)
        .and_then(|handle| handle.sync_all())
        .map_err(|e| StoreError::io(dir, e))
}

/// `fdatasync` of every file under `dir` and `fsync` of every directory, depth first. A file
/// that vanished meanwhile (sled deletes old snapshots and blobs) is skipped: it holds nothing
/// that needs to survive.
fn sync_tree(dir: &Path) -> Result<(), StoreError> {
    let entries = fs::read_dir(dir).map_err(|e| StoreError::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| StoreError::io(dir, e))?;
        let path = entry.path();
        let file_type = entry.file_type().map_err(|e| StoreError::io(&path, e))?;
        if file_type.is_dir() {
            sync_tree(&path)?;
        } else if file_type.is_file() {
            let synced = fs::OpenOptions::new()
                .read(true)
                .open(&path)
                .and_then(|file| file.sync_data());
            match synced {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(StoreError::io(&path, e)),
            }
        }
    }
    sync_dir(dir)
}

/// The live sled tree as a (non-isolated) read view.
struct SledSnapshot<'a> {
    db: &'a sled::Db,
}

impl Snapshot for SledSnapshot<'_> {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let value = self
            .db
            .get(full_key(table, key))
            .map_err(|e| StoreError::backend("read a value", e))?;
        Ok(value.map(|v| v.to_vec()))
    }

    fn scan(
        &self,
        table: Table,
        range: &KeyRange,
        reverse: bool,
        visit: &mut Visit<'_>,
    ) -> Result<(), StoreError> {
        let prefix = table_prefix(table);
        let start = match &range.start {
            Bound::Included(key) => Bound::Included(full_key(table, key)),
            Bound::Excluded(key) => Bound::Excluded(full_key(table, key)),
            Bound::Unbounded => Bound::Included(prefix.clone()),
        };
        let end = match &range.end {
            Bound::Included(key) => Bound::Included(full_key(table, key)),
            Bound::Excluded(key) => Bound::Excluded(full_key(table, key)),
            // The prefix ends in NUL, so it always has a successor.
            Bound::Unbounded => match keys::prefix_end(&prefix) {
                Some(end) => Bound::Excluded(end),
                None => Bound::Unbounded,
            },
        };
        let iter = self.db.range::<Vec<u8>, _>((start, end));
        let mut step =
            |item: sled::Result<(sled::IVec, sled::IVec)>| -> Result<ControlFlow<()>, StoreError> {
                let (key, value) = item.map_err(|e| StoreError::backend("scan a range", e))?;
                let key = key.get(prefix.len()..).unwrap_or_default();
                visit(key, &value)
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

impl Kv for SledKv {
    fn snapshot(&self) -> Result<Box<dyn Snapshot + '_>, StoreError> {
        Ok(Box::new(SledSnapshot { db: &self.db }))
    }

    fn apply(&self, batch: Batch, durable: bool) -> Result<(), StoreError> {
        let mut sled_batch = sled::Batch::default();
        for ((table, key), change) in batch.changes {
            cpu_pacing::pace();
            let key = full_key(table, &key);
            match change {
                Some(value) => sled_batch.insert(key, value),
                None => sled_batch.remove(key),
            }
        }
        self.db
            .apply_batch(sled_batch)
            .map_err(|e| StoreError::backend("apply a write batch", e))?;
        if durable {
            self.sync()?;
        }
        Ok(())
    }

    fn sync(&self) -> Result<(), StoreError> {
        // flush() writes sled's log buffers out and waits for write-back (sync_file_range);
        // the fdatasync of every file then flushes the disk cache and the metadata, which
        // sync_file_range does not (see the module docs).
        self.db
            .flush()
            .map_err(|e| StoreError::backend("flush the log", e))?;
        sync_tree(&self.dir)
    }

    fn reclaim(&self) -> Result<bool, StoreError> {
        // sled has no compaction call: its segment cleaner rewrites and frees segments in the
        // background as they become mostly empty.
        Ok(false)
    }
}
