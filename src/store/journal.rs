//! The accept journal: an append-only, checksummed log of accepted messages, and the durability
//! point of an accept.
//!
//! Why: a durable commit of the database costs far more CPU than the disk sync itself (redb
//! copies the leaf-to-root path of every table it touches). So a group of accepts is one
//! sequential `write` to the journal (and, for [`Durability::Sync`](super::Durability::Sync),
//! one `fdatasync`), which is what the acknowledgement waits for; the database gets the same
//! changes afterwards, on its own thread, as cheap non-durable commits, and is made durable now
//! and then by a *checkpoint*.
//!
//! The journal is a series of segment files, `journal-<n>.log`. The writer starts a new segment
//! every couple of seconds; once the database has applied everything of an older segment and
//! made it durable, that segment is deleted. At open, every record of every segment whose
//! message id the database does not have yet is applied again, so nothing acknowledged is lost
//! whether the process or the machine died. A torn or corrupt tail (a crash mid-`write`) fails
//! its checksum; it was never acknowledged, and it is dropped. (`ihub.journal`, the single file
//! of earlier versions, is read as segment 0.) The record format is in `journal_record.rs`.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub(crate) use super::journal_record::{Entry, decode_all, encode_accept};

use super::error::StoreError;

/// The single journal file of earlier versions, read as segment 0.
const LEGACY_FILE: &str = "ihub.journal";

fn segment_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("journal-{number:010}.log"))
}

fn segment_number(name: &str) -> Option<u64> {
    if name == LEGACY_FILE {
        return Some(0);
    }
    name.strip_prefix("journal-")?
        .strip_suffix(".log")?
        .parse()
        .ok()
}

/// The segments in `dir`, oldest first.
fn segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, StoreError> {
    let mut found = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| StoreError::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| StoreError::io(dir, e))?;
        if let Some(number) = entry.file_name().to_str().and_then(segment_number) {
            found.push((number, entry.path()));
        }
    }
    found.sort();
    Ok(found)
}

/// Makes a new directory entry durable (a synced file whose name is lost is lost too).
fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io(dir, e))
}

/// What [`Journal::recover`] found.
pub(crate) struct Recovered {
    /// Every whole record, in the order it was written.
    pub(crate) entries: Vec<Entry>,
    /// The highest segment number present (0 if none).
    pub(crate) last_segment: u64,
}

/// The segment being written. Owned by the writer thread.
pub(crate) struct Journal {
    dir: PathBuf,
    file: File,
    path: PathBuf,
    number: u64,
    /// Bytes of whole records in the segment.
    len: u64,
    /// Bytes of the segment known to be durable (a background sync may advance it).
    synced: Arc<AtomicU64>,
}

impl Journal {
    /// Reads every segment in `dir`, oldest first, each up to its first torn or corrupt record.
    pub(crate) fn recover(dir: &Path) -> Result<Recovered, StoreError> {
        let mut entries = Vec::new();
        let mut last_segment = 0;
        for (number, path) in segments(dir)? {
            let mut bytes = Vec::new();
            File::open(&path)
                .and_then(|mut f| f.read_to_end(&mut bytes))
                .map_err(|e| StoreError::io(&path, e))?;
            let (found, good) = decode_all(&bytes);
            if good < bytes.len() {
                tracing::warn!(
                    path = %path.display(),
                    cut_bytes = bytes.len() - good,
                    "A store journal segment ended in a torn record (a crash mid-write); it was never acknowledged and is dropped."
                );
            }
            entries.extend(found);
            last_segment = last_segment.max(number);
        }
        Ok(Recovered {
            entries,
            last_segment,
        })
    }

    /// Deletes every segment through `after` (the database holds their records durably now)
    /// and starts segment `after + 1`.
    pub(crate) fn start(dir: &Path, after: u64) -> Result<Journal, StoreError> {
        remove_segments(dir, after)?;
        let number = after + 1;
        let path = segment_path(dir, number);
        let file = create(&path)?;
        sync_dir(dir)?;
        Ok(Journal {
            dir: dir.to_path_buf(),
            file,
            path,
            number,
            len: 0,
            synced: Arc::default(),
        })
    }

    /// The number of the segment being written.
    pub(crate) fn number(&self) -> u64 {
        self.number
    }

    /// Bytes of records in the current segment.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Whether something was appended that is not known to be durable.
    pub(crate) fn unsynced(&self) -> bool {
        self.synced.load(Ordering::SeqCst) < self.len
    }

    /// What a background sync of the current segment needs: a second handle on the file, the
    /// length it will cover, and where to record that it did.
    pub(crate) fn sync_job(&self) -> Result<(File, u64, Arc<AtomicU64>), StoreError> {
        let file = self
            .file
            .try_clone()
            .map_err(|e| StoreError::io(&self.path, e))?;
        Ok((file, self.len, Arc::clone(&self.synced)))
    }

    /// Appends whole records with one `write`. On failure the segment is cut back to where it
    /// was, so a later append never follows a torn record.
    pub(crate) fn append(&mut self, records: &[u8]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        match self.file.write_all(records) {
            Ok(()) => {
                self.len += records.len() as u64;
                Ok(())
            }
            Err(error) => {
                if let Err(cut) = self.file.set_len(self.len) {
                    tracing::error!(%cut, "Cannot cut the store journal back after a failed write.");
                }
                Err(StoreError::io(&self.path, error))
            }
        }
    }

    /// Makes every appended record durable (`fdatasync`).
    pub(crate) fn sync(&mut self) -> Result<(), StoreError> {
        if !self.unsynced() {
            return Ok(());
        }
        self.file
            .sync_data()
            .map_err(|e| StoreError::io(&self.path, e))?;
        self.synced.fetch_max(self.len, Ordering::SeqCst);
        Ok(())
    }

    /// Syncs the current segment and starts the next one. Returns the number of the segment
    /// just closed: it may be deleted once the database holds its records durably.
    pub(crate) fn rotate(&mut self) -> Result<u64, StoreError> {
        self.sync()?;
        let number = self.number + 1;
        let path = segment_path(&self.dir, number);
        let file = create(&path)?;
        sync_dir(&self.dir)?;
        let closed = self.number;
        self.file = file;
        self.path = path;
        self.number = number;
        self.len = 0;
        self.synced = Arc::default();
        Ok(closed)
    }
}

fn create(path: &Path) -> Result<File, StoreError> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| StoreError::io(path, e))
}

/// Deletes the segments numbered up to `through`. Not synced: a deletion lost in a crash only
/// means records the database already holds are read, and skipped, at the next open.
pub(crate) fn remove_segments(dir: &Path, through: u64) -> Result<(), StoreError> {
    for (number, path) in segments(dir)? {
        if number > through {
            break;
        }
        std::fs::remove_file(&path).map_err(|e| StoreError::io(&path, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::model::{MessageMeta, MessageStatus, NewMessage};

    fn msg(n: u8) -> NewMessage {
        NewMessage {
            channel: "ch".into(),
            peer: "peer".into(),
            received_at_ms: 7,
            raw: vec![b'r', n],
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

    #[test]
    fn segments_survive_reopen_in_order_and_a_torn_tail_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let recovered = Journal::recover(dir.path()).unwrap();
        assert!(recovered.entries.is_empty());
        let mut journal = Journal::start(dir.path(), recovered.last_segment).unwrap();
        journal.append(&record(1)).unwrap();
        let closed = journal.rotate().unwrap();
        assert_eq!(closed + 1, journal.number());
        journal.append(&record(2)).unwrap();
        journal.sync().unwrap();
        // A torn half record after it, as a crash mid-write leaves.
        let half = record(3);
        journal.append(&half[..half.len() / 2]).unwrap();
        drop(journal);

        let recovered = Journal::recover(dir.path()).unwrap();
        let ids: Vec<u64> = recovered.entries.iter().map(|e| e.id).collect();
        assert_eq!(ids, [1, 2]);
        assert_eq!(recovered.last_segment, closed + 1);

        // Removing the closed segment keeps the newer one.
        remove_segments(dir.path(), closed).unwrap();
        let ids: Vec<u64> = Journal::recover(dir.path())
            .unwrap()
            .entries
            .iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(ids, [2]);

        // Starting after replay removes everything older.
        let journal = Journal::start(dir.path(), closed + 1).unwrap();
        assert!(Journal::recover(dir.path()).unwrap().entries.is_empty());
        assert_eq!(journal.number(), closed + 2);
    }

    #[test]
    fn the_single_file_of_earlier_versions_is_read_as_segment_zero() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(LEGACY_FILE), record(9)).unwrap();
        let recovered = Journal::recover(dir.path()).unwrap();
        assert_eq!(recovered.entries.len(), 1);
        assert_eq!(recovered.last_segment, 0);
        Journal::start(dir.path(), 0).unwrap();
        assert!(!dir.path().join(LEGACY_FILE).exists());
    }
}
