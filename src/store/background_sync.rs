//! `fdatasync` on a helper thread, for syncs that nobody has to wait for.
//!
//! Why: with `durability = "interval"` the writer synced the journal every `max_delay_ms`
//! itself (2–7 ms each, during which no accept was answered). Now a helper thread does it.
//! (Writing the database file back ahead of checkpoints the same way was tried and dropped: its
//! extra disk traffic slowed the journal syncs that `sync` accepts wait for.)
//!
//! Each synced journal file then drops its synced pages from the page cache (`page_cache`).
//! Between syncs the thread starts the write-back of the open segment every few megabytes
//! appended (`page_cache::start_write_back`), so that a sync finds little left to write.
//!
//! Syncing a file on this thread is safe whatever else writes to it meanwhile: it only makes
//! dirty pages durable sooner, which the kernel's own writeback may do at any moment anyway.

use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Sender};
use std::thread::JoinHandle;

use super::error::StoreError;
use super::journal::{Closed, Journal, Prepared, WriteBack};
use super::page_cache;

/// What the helper thread is asked to do.
enum Job {
    /// Sync `file`; when `progress` is given, the bytes up to `len` are then durable.
    Sync {
        file: Arc<File>,
        len: u64,
        progress: Option<Arc<AtomicU64>>,
    },
    /// Finish a journal segment the writer has moved on from ([`Closed::finish`]).
    Closed(Closed),
    /// Start writing back part of the open journal segment ([`WriteBack::start`]).
    WriteBack(WriteBack),
    /// Make the journal's next segment ([`Journal::prepare`]) and send it to `reply`.
    Prepare {
        dir: PathBuf,
        number: u64,
        reply: Sender<Result<Prepared, StoreError>>,
    },
}

/// The helper thread. Dropping it finishes the queued syncs and joins it.
pub(crate) struct BackgroundSync {
    jobs: Option<Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl BackgroundSync {
    /// Starts the helper thread, named `name`.
    pub(crate) fn start(name: &str) -> std::io::Result<BackgroundSync> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let thread = {
            std::thread::Builder::new()
                .name(name.into())
                .spawn(move || {
                    while let Ok(job) = queue.recv() {
                        let (file, len, progress) = match job {
                            Job::Sync {
                                file,
                                len,
                                progress,
                            } => (file, len, progress),
                            Job::Closed(closed) => {
                                if let Err(error) = closed.finish() {
                                    tracing::error!(%error, "A background sync of a closed store journal segment failed; the next checkpoint syncs it again.");
                                }
                                continue;
                            }
                            Job::WriteBack(range) => {
                                range.start();
                                continue;
                            }
                            Job::Prepare { dir, number, reply } => {
                                // Nobody waiting any more is fine: the writer made it itself.
                                let _ = reply.send(Journal::prepare(&dir, number));
                                continue;
                            }
                        };
                        let done = progress.as_ref().map(|p| p.load(Ordering::SeqCst));
                        if done.is_some_and(|done| done >= len) {
                            continue;
                        }
                        match file.sync_data() {
                            Ok(()) => {
                                page_cache::drop_synced(&file, len);
                                if let Some(progress) = &progress {
                                    progress.fetch_max(len, Ordering::SeqCst);
                                }
                            }
                            Err(error) => {
                                tracing::error!(%error, "A background store sync failed; the next foreground sync retries it.")
                            }
                        }
                    }
                })?
        };
        Ok(BackgroundSync {
            jobs: Some(jobs),
            thread: Some(thread),
        })
    }

    /// Queues a sync of `file`; when `progress` is given, it records that the first `len`
    /// bytes are durable once the sync succeeded.
    pub(crate) fn sync(&self, file: Arc<File>, len: u64, progress: Option<Arc<AtomicU64>>) {
        self.queue(Job::Sync {
            file,
            len,
            progress,
        });
    }

    /// Queues the sync of a journal segment the writer has moved on from
    /// ([`Journal::rotate`](super::journal::Journal::rotate)); a failure is logged, and the
    /// next durable database commit syncs the segment again before it refers to it.
    pub(crate) fn finish(&self, closed: Closed) {
        self.queue(Job::Closed(closed));
    }

    /// Queues the start of the write-back of part of the open journal segment.
    pub(crate) fn write_back(&self, range: WriteBack) {
        self.queue(Job::WriteBack(range));
    }

    /// Makes the journal segment `number` in `dir` ahead of its rotation; the answer comes on
    /// the returned channel (nothing comes if the thread is gone).
    pub(crate) fn prepare(
        &self,
        dir: PathBuf,
        number: u64,
    ) -> mpsc::Receiver<Result<Prepared, StoreError>> {
        let (reply, answer) = mpsc::channel();
        self.queue(Job::Prepare { dir, number, reply });
        answer
    }

    fn queue(&self, job: Job) {
        if let Some(jobs) = &self.jobs {
            // A gone thread (it panicked, which is logged) leaves the sync to the foreground.
            let _ = jobs.send(job);
        }
    }
}

impl Drop for BackgroundSync {
    fn drop(&mut self) {
        self.jobs = None;
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("The background store sync thread panicked.");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_sync_records_how_far_the_file_is_durable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let mut file = File::create(&path).unwrap();
        file.write_all(b"hello").unwrap();
        let progress = Arc::new(AtomicU64::new(0));
        let syncer = BackgroundSync::start("test-sync").unwrap();
        syncer.sync(Arc::new(file), 5, Some(Arc::clone(&progress)));
        drop(syncer); // waits for the queued sync
        assert_eq!(progress.load(Ordering::SeqCst), 5);
    }

    #[test]
    fn a_closed_journal_segment_is_synced_after_the_writer_moved_on() {
        use crate::store::journal::Journal;
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::start(dir.path(), 0).unwrap();
        journal.append(b"not synced yet", false).unwrap();
        let closed = journal.rotate(None).unwrap();
        let progress = Arc::clone(&closed.synced);
        assert_eq!(progress.load(Ordering::SeqCst), 0);
        // The writer goes on in the new segment meanwhile.
        journal.append(b"next", true).unwrap();
        let syncer = BackgroundSync::start("test-sync").unwrap();
        syncer.finish(closed);
        drop(syncer);
        assert_eq!(progress.load(Ordering::SeqCst), 14);
        assert!(journal.unsynced(), "the new segment is not synced by it");
    }
}
