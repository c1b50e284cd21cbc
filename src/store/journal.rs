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
//! when the current one reaches 64 MiB. A record stays where it is for as long as its message
//! is stored: the database refers to it for the message's bytes (`bodies.rs`), and a segment
//! is deleted once no stored message refers to it any more. Every couple of seconds a
//! *checkpoint* makes the database durable and records the journal position it holds
//! everything before; at open, the records after that position whose message id the database
//! does not have yet are applied again, so nothing acknowledged is lost whether the process or
//! the machine died. A torn or corrupt tail (a crash mid-`write`) fails its checksum; it was
//! never acknowledged, and it is dropped. (`ihub.journal`, the single file of earlier
//! versions, becomes segment 0.) The record format is in `journal_record.rs`.
//!
//! Before a small group, the segment is extended with zeros ahead of its records, and records
//! are written over them. For a group that will be synced ([`ZERO_AHEAD_BYTES`]): an
//! `fdatasync` that only has to write data is about half as slow on ext4 as one that also
//! commits the file's new size and blocks to the file system's journal (155 against 284 µs
//! measured on the reference disk, 231 against 412 µs while a file destination synced its
//! files), and only the first sync after each extension pays for that. For one that will not
//! ([`ZERO_AHEAD_UNSYNCED_BYTES`]): a `write` that extends a file allocates its page-cache
//! pages and reserves its blocks one call at a time, while the acknowledgement waits; over
//! zeros already there it only copies (a 6 KB record: 3.3 µs against 1.1 µs, plus 1.2 µs of
//! zeros per record written ahead in bulk). A zero tail reads as the end of the segment.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub(crate) use super::journal_record::{Entry, decode_all, encode_accept};

use super::bodies::JournalPos;

use super::error::StoreError;
use super::page_cache;

/// The single journal file of earlier versions, renamed to segment 0 at open.
const LEGACY_FILE: &str = "ihub.journal";

/// How far ahead of the records a segment that is synced is extended with zeros.
pub(crate) const ZERO_AHEAD_BYTES: u64 = 1024 * 1024;

/// ... for groups up to this size: the sync after an extension writes the zeros too, and for
/// a large group (many senders at once) the file system's commit is a small part of its
/// sync, so those zeros would only double the bytes written.
const ZERO_AHEAD_MAX_GROUP: u64 = 128 * 1024;

/// How far ahead the zeros go before a group that is not synced now (`interval`). They are
/// written while acknowledgements wait, so a little at a time: 64 KiB was as fast as 256 KiB
/// and 1 MiB, and raised p99 at 16 sequential senders least (1.27 → 1.48 ms, against 1.62 and
/// ~1.9 ms).
const ZERO_AHEAD_UNSYNCED_BYTES: u64 = 64 * 1024;

/// ... for such groups up to this size (a sender or two): what the zeros save is a cost per
/// `write`, a small part of a large group's, and each zero is one more copy (the pipelined
/// cells, whose groups are larger, lost up to 12 % with zeros before every group).
const ZERO_AHEAD_MAX_UNSYNCED_GROUP: u64 = 32 * 1024;

/// Appended bytes after which the sync thread starts writing them back, so that a sync finds
/// little left to write (see [`page_cache::start_write_back`]).
const WRITE_BACK_BYTES: u64 = 4 * 1024 * 1024;

/// Zeros written per call while extending a segment.
static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];

/// The file of segment `number`.
pub(crate) fn segment_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("journal-{number:010}.log"))
}

fn segment_number(name: &str) -> Option<u64> {
    name.strip_prefix("journal-")?
        .strip_suffix(".log")?
        .parse()
        .ok()
}

/// The segments in `dir`, oldest first.
pub(crate) fn segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, StoreError> {
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
    /// Every whole record after the position asked for, in the order it was written, with
    /// its segment number (and its offset in that segment in [`Entry::at`]).
    pub(crate) entries: Vec<(u64, Entry)>,
    /// The highest segment number present (0 if none).
    pub(crate) last_segment: u64,
}

/// Appended bytes of the open segment whose write-back should start
/// ([`page_cache::start_write_back`]).
pub(crate) struct WriteBack {
    file: Arc<File>,
    from: u64,
    to: u64,
    /// How far the segment is durable (pages before it are clean, and left alone).
    synced: Arc<AtomicU64>,
}

impl WriteBack {
    /// Starts writing the range back, without waiting for the disk.
    pub(crate) fn start(&self) {
        let synced = self.synced.load(Ordering::SeqCst);
        page_cache::start_write_back(&self.file, self.from, self.to, synced);
    }
}

/// The segment being written. Owned by the writer thread.
pub(crate) struct Journal {
    dir: PathBuf,
    /// Shared with the sync thread's jobs, which hold no descriptor of their own: a disk that
    /// stalls while they queue up cannot run the process out of descriptors.
    file: Arc<File>,
    path: PathBuf,
    number: u64,
    /// Bytes of whole records in the segment.
    len: u64,
    /// The file's size: `len` and the zeros after it.
    size: u64,
    /// Bytes of the segment known to be durable (a background sync may advance it).
    synced: Arc<AtomicU64>,
    /// Bytes of the segment whose write-back has been started ([`Journal::write_back_due`]).
    written_back: u64,
}

impl Journal {
    /// Reads the records from `from` on, segment by segment, each segment up to its first torn
    /// or corrupt record.
    pub(crate) fn recover(dir: &Path, from: JournalPos) -> Result<Recovered, StoreError> {
        let legacy = dir.join(LEGACY_FILE);
        if legacy.exists() {
            let zero = segment_path(dir, 0);
            std::fs::rename(&legacy, &zero).map_err(|e| StoreError::io(&legacy, e))?;
            sync_dir(dir)?;
        }
        let mut entries = Vec::new();
        let mut last_segment = 0;
        for (number, path) in segments(dir)? {
            last_segment = last_segment.max(number);
            if number < from.segment {
                continue;
            }
            let start = if number == from.segment {
                from.offset
            } else {
                0
            };
            let mut bytes = Vec::new();
            File::open(&path)
                .and_then(|mut f| {
                    f.seek(SeekFrom::Start(start))?;
                    f.read_to_end(&mut bytes)
                })
                .map_err(|e| StoreError::io(&path, e))?;
            let (found, good) = decode_all(&bytes);
            // Zeros after the records are the room made for the next ones, not a torn write.
            if bytes[good..].iter().any(|&b| b != 0) {
                tracing::warn!(
                    path = %path.display(),
                    cut_bytes = bytes.len() - good,
                    "A store journal segment ended in a torn record (a crash mid-write); it was never acknowledged and is dropped."
                );
            }
            entries.extend(found.into_iter().map(|mut entry| {
                entry.at += start;
                (number, entry)
            }));
        }
        Ok(Recovered {
            entries,
            last_segment,
        })
    }

    /// Starts segment `after + 1` (older segments stay: stored messages refer to them).
    pub(crate) fn start(dir: &Path, after: u64) -> Result<Journal, StoreError> {
        let Prepared {
            number,
            path,
            file,
            len,
        } = Journal::prepare(dir, after + 1)?;
        Ok(Journal {
            dir: dir.to_path_buf(),
            file: Arc::new(file),
            path,
            number,
            len,
            size: len,
            synced: Arc::default(),
            written_back: len,
        })
    }

    /// Makes segment `number` in `dir`, its name durable, for [`Journal::start`] or a later
    /// [`Journal::rotate`].
    pub(crate) fn prepare(dir: &Path, number: u64) -> Result<Prepared, StoreError> {
        let path = segment_path(dir, number);
        let (file, len) = create(&path)?;
        sync_dir(dir)?;
        Ok(Prepared {
            number,
            path,
            file,
            len,
        })
    }

    /// The directory of the segments and the number the next one will have.
    pub(crate) fn next_segment(&self) -> (PathBuf, u64) {
        (self.dir.clone(), self.number + 1)
    }

    /// Bytes of records in the current segment.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Whether something was appended that is not known to be durable.
    pub(crate) fn unsynced(&self) -> bool {
        self.synced.load(Ordering::SeqCst) < self.len
    }

    /// What a background sync of the current segment needs: the file, the length it will
    /// cover, and where to record that it did.
    pub(crate) fn sync_job(&self) -> (Arc<File>, u64, Arc<AtomicU64>) {
        (Arc::clone(&self.file), self.len, Arc::clone(&self.synced))
    }

    /// Once [`WRITE_BACK_BYTES`] or more were appended since the last call that returned
    /// something: the range written since, for the sync thread to start writing back.
    pub(crate) fn write_back_due(&mut self) -> Option<WriteBack> {
        if self.len.saturating_sub(self.written_back) < WRITE_BACK_BYTES {
            return None;
        }
        let from = std::mem::replace(&mut self.written_back, self.len);
        Some(WriteBack {
            file: Arc::clone(&self.file),
            from,
            to: self.len,
            synced: Arc::clone(&self.synced),
        })
    }

    /// Appends whole records with one `write`, a small group over zeros written ahead (see the
    /// module docs); `will_sync`: the caller syncs them next. On failure the bytes written
    /// are zeroed again where possible; the next append goes to the same place either way,
    /// so a later record never follows a torn one.
    pub(crate) fn append(&mut self, records: &[u8], will_sync: bool) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let end = self.len + records.len() as u64;
        let (max_group, ahead) = if will_sync {
            (ZERO_AHEAD_MAX_GROUP, ZERO_AHEAD_BYTES)
        } else {
            (ZERO_AHEAD_MAX_UNSYNCED_GROUP, ZERO_AHEAD_UNSYNCED_BYTES)
        };
        if end > self.size
            && records.len() as u64 <= max_group
            && let Err(error) = self.zero_ahead(end + ahead)
        {
            // Only a saving: the records can still go in (and say so if they cannot).
            tracing::debug!(%error, "Cannot write zeros ahead of the store journal's records.");
        }
        match self.file.write_all_at(records, self.len) {
            Ok(()) => {
                self.len = end;
                self.size = self.size.max(end);
                Ok(())
            }
            Err(error) => {
                self.size = self.size.max(end);
                if let Err(zero) = self.write_zeros(self.len, end) {
                    tracing::error!(%zero, "Cannot clear a failed write from the store journal.");
                }
                Err(StoreError::io(&self.path, error))
            }
        }
    }

    /// Extends the segment with zeros up to `to`.
    fn zero_ahead(&mut self, to: u64) -> std::io::Result<()> {
        self.write_zeros(self.size, to)?;
        self.size = to;
        Ok(())
    }

    fn write_zeros(&self, from: u64, to: u64) -> std::io::Result<()> {
        let mut at = from;
        while at < to {
            let n = (to - at).min(ZEROS.len() as u64) as usize;
            self.file.write_all_at(&ZEROS[..n], at)?;
            at += n as u64;
        }
        Ok(())
    }

    /// Makes every appended record durable (`fdatasync`), then lets the page cache drop all but
    /// the newest of them.
    pub(crate) fn sync(&mut self) -> Result<(), StoreError> {
        if !self.unsynced() {
            return Ok(());
        }
        self.file
            .sync_data()
            .map_err(|e| StoreError::io(&self.path, e))?;
        self.synced.fetch_max(self.len, Ordering::SeqCst);
        page_cache::drop_synced(&self.file, self.len);
        Ok(())
    }

    /// Where the next record will go.
    pub(crate) fn position(&self) -> JournalPos {
        JournalPos {
            segment: self.number,
            offset: self.len,
        }
    }

    /// Starts the next segment and returns the one just closed, which the caller syncs
    /// ([`Closed::finish`], or on a helper thread): at 400 MB/s of messages a segment fills
    /// every fraction of a second, and its last unsynced megabytes took the writer tens of
    /// milliseconds to sync, during which no accept was answered.
    ///
    /// Nothing waits for that sync. Every record a `sync` accept or a flush was answered for
    /// was synced before the answer; recovery reads each segment on its own, so a crash that
    /// tears the closed segment's unsynced tail loses only `interval` accepts within their
    /// window; and a durable database commit syncs every segment it refers to first.
    ///
    /// `prepared` is the next segment if it was made ahead ([`Journal::prepare`]); otherwise
    /// it is made here, with the directory sync that can take the writer tens of milliseconds
    /// while the disk is busy writing back (13–17 ms were measured), and every accept waits.
    pub(crate) fn rotate(&mut self, prepared: Option<Prepared>) -> Result<Closed, StoreError> {
        let number = self.number + 1;
        let Prepared {
            path, file, len, ..
        } = match prepared {
            Some(next) if next.number == number => next,
            _ => Journal::prepare(&self.dir, number)?,
        };
        let closed = Closed {
            path: std::mem::replace(&mut self.path, path),
            file: std::mem::replace(&mut self.file, Arc::new(file)),
            len: self.len,
            synced: std::mem::take(&mut self.synced),
        };
        self.number = number;
        self.len = len;
        self.size = len;
        self.written_back = len;
        Ok(closed)
    }
}

/// The segment after the current one, created and its name made durable ahead of time, off
/// the writer (an unused one is harmless: recovery reads it as empty, and it is deleted like
/// any segment nothing refers to).
pub(crate) struct Prepared {
    number: u64,
    path: PathBuf,
    file: File,
    len: u64,
}

/// A segment the writer has moved on from, whose tail may not be durable yet.
pub(crate) struct Closed {
    path: PathBuf,
    file: Arc<File>,
    /// Bytes of records in it.
    len: u64,
    /// How many of them are known to be durable.
    pub(crate) synced: Arc<AtomicU64>,
}

impl Closed {
    /// Syncs whatever is not durable yet and drops the segment from the page cache.
    pub(crate) fn finish(self) -> Result<(), StoreError> {
        if self.synced.load(Ordering::SeqCst) < self.len {
            self.file
                .sync_data()
                .map_err(|e| StoreError::io(&self.path, e))?;
            self.synced.fetch_max(self.len, Ordering::SeqCst);
        }
        page_cache::drop_closed(&self.file);
        Ok(())
    }
}

/// Opens a new segment, and its length (zero, unless the file was there already: then its
/// records are kept and the next go after them).
fn create(path: &Path) -> Result<(File, u64), StoreError> {
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| StoreError::io(path, e))?;
    let len = file.metadata().map_err(|e| StoreError::io(path, e))?.len();
    Ok((file, len))
}

/// Every whole record of segment `number`.
pub(crate) fn read_segment(dir: &Path, number: u64) -> Result<Vec<Entry>, StoreError> {
    let path = segment_path(dir, number);
    let bytes = std::fs::read(&path).map_err(|e| StoreError::io(&path, e))?;
    Ok(decode_all(&bytes).0)
}

/// Deletes segment `number`, which no stored message refers to any more. Not synced: a
/// deletion lost in a crash only leaves a file nobody reads, deleted again at a later
/// checkpoint.
pub(crate) fn remove_segment(dir: &Path, number: u64) -> Result<(), StoreError> {
    let path = segment_path(dir, number);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StoreError::io(&path, e)),
    }
}

#[cfg(test)]
#[path = "journal_tests.rs"]
mod tests;
