//! The writer thread: every write of the store goes through it, except `interval` accepts,
//! which their callers journal themselves under the same ledger (`ledger.rs`). It numbers new
//! messages, appends them to the journal (group commit: concurrent messages share one write and
//! one `fdatasync`), answers, and hands everything on, in order, to the applier thread, which
//! puts it into the database (`applier.rs`). It also keeps the deadlines: interval syncs,
//! checkpoints, closing full segments.
//!
//! Why a dedicated OS thread and not a tokio task: a durable append blocks in `fdatasync` for
//! milliseconds (about 5–6 ms on the reference disk), and blocking a runtime worker that long
//! would stall unrelated connections.
//!
//! The loop: wait for a request; then take every other request already waiting (up to a cap);
//! check and number the group's accepts; append them to the journal with **one** write; hand
//! the group to the applier; let go of the ledger; `fdatasync` if any of them needs it; and only
//! then answer each accept. While one group is syncing, the next requests pile up in the channel and form
//! the next group, so the number of syncs per second stays near `1 / sync time` however many
//! writers there are, and each sync carries more messages as load grows.
//!
//! Durability per request:
//! - `accept` with [`Durability::Sync`] and [`Request::Flush`] sync the journal before anyone
//!   in the group is answered; a flush also makes the database durable (a checkpoint).
//! - `accept` with [`Durability::Interval`] is written to the journal without a sync (usually
//!   by its caller) and sets a deadline; the thread has the journal synced when the deadline
//!   passes (or earlier, with the next sync).
//! - Delivery bookkeeping (attempts, replays, prunes) is not journaled: the applier answers it
//!   after its commit and makes it durable within
//!   [`BOOKKEEPING_MAX_DELAY_MS`](super::applier::BOOKKEEPING_MAX_DELAY_MS).
//! - Every 2 s while accepts come in the writer asks the applier for a checkpoint: a durable
//!   database commit that records the journal position it covers (replay at open starts
//!   there). At 64 MiB the writer starts a new journal segment.
//!
//! Without a journal (unit tests over the in-memory backend) the applier answers accepts after
//! their commit, which is durable for `sync` accepts.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::applier::Applier;
use super::background_sync::BackgroundSync;
use super::journal::Journal;
use super::kv::Kv;
use super::ledger::{APPLY_BACKLOG_BYTES, APPLY_BACKLOG_GROUPS, Ledger, SEGMENT_BYTES, Shared};
use super::model::{Durability, MessageId};
use super::ops::Counters;
use super::progress::Progress;
use super::work::{Reply, Request, Work};

/// At most this many requests go into one journal write, so one group's latency stays bounded.
const MAX_GROUP_REQUESTS: usize = 1024;
/// ... and at most about this many bytes of message content.
const MAX_GROUP_BYTES: usize = 64 * 1024 * 1024;

/// After a failed background sync, try again after this long.
const SYNC_RETRY: Duration = Duration::from_secs(1);

/// Milliseconds since the Unix epoch by the system clock (0 if the clock is before 1970).
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The writer thread's state.
pub(crate) struct Writer {
    rx: Receiver<Request>,
    /// Numbering, the journal and the way to the applier, shared with callers that journal
    /// their own `interval` accepts (`ledger.rs`).
    shared: Arc<Shared>,
    progress: Arc<Progress>,
    /// The applier, started by [`Writer::run`].
    applier: Option<Applier>,
    /// Syncs the journal for `interval` accepts, so the writer need not wait for them.
    syncer: Option<BackgroundSync>,
}

/// A group's accepts after the journal, waiting for their answer.
struct Accepted {
    reply: Reply<MessageId>,
    id: MessageId,
}

impl Writer {
    /// A writer over `kv` (through its applier), numbering messages from `counters.next_id`.
    pub(crate) fn new(
        kv: Arc<dyn Kv>,
        rx: Receiver<Request>,
        counters: Counters,
        commits: Arc<AtomicU64>,
        journal: Option<Journal>,
        progress: Arc<Progress>,
    ) -> Self {
        // Unbounded: the backlog is bounded by `Progress::wait_for_room` before anything is
        // sent, and a send must never block while the ledger is held.
        let (to_applier, from_writer) = mpsc::channel();
        let applier = Applier::new(kv, from_writer, counters, commits, Arc::clone(&progress));
        Writer {
            shared: Arc::new(Shared::new(
                counters.next_id,
                journal,
                to_applier,
                Arc::clone(&progress),
            )),
            rx,
            progress,
            applier: Some(applier),
            syncer: None,
        }
    }

    /// The store directory of the journal's segments, for the applier's checkpoints.
    pub(crate) fn with_journal_dir(mut self, dir: std::path::PathBuf) -> Self {
        if let Some(applier) = self.applier.as_mut() {
            applier.journal_dir = Some(dir);
        }
        self
    }

    /// The ledger, for callers that journal their own `interval` accepts.
    pub(crate) fn shared(&self) -> Arc<Shared> {
        Arc::clone(&self.shared)
    }

    /// Runs until every sender is gone, then makes everything durable and returns (after the
    /// applier has finished).
    pub(crate) fn run(mut self) {
        let applier = self.applier.take().map(|applier| {
            std::thread::Builder::new()
                .name("ihub-store-apply".into())
                .spawn(move || applier.run())
        });
        let applier = match applier {
            Some(Ok(handle)) => handle,
            Some(Err(error)) => {
                tracing::error!(%error, "Cannot start the store's applier thread.");
                return;
            }
            None => return,
        };
        let journaling = {
            let mut ledger = self.shared.lock();
            ledger.applier_thread = Some(applier.thread().clone());
            ledger.journal.is_some()
        };
        if journaling {
            match BackgroundSync::start("ihub-store-jsync") {
                Ok(syncer) => self.syncer = Some(syncer),
                Err(error) => {
                    tracing::warn!(%error, "No background journal sync; the writer syncs itself.")
                }
            }
        }
        self.serve();
        // Shutdown: the journal is synced, then the applier checkpoints everything; no caller
        // journals its own accept after this (the applier's channel is closed).
        {
            let mut ledger = self.shared.lock();
            sync_journal(&mut ledger);
            let checkpoint = checkpoint(&mut ledger, Vec::new());
            ledger.forward(vec![checkpoint]);
            ledger.to_applier = None;
        }
        if applier.join().is_err() {
            tracing::error!("Store applier thread panicked.");
        }
    }

    fn serve(&mut self) {
        loop {
            // Deadlines are checked before every group, so a steady stream of requests cannot
            // postpone them.
            let deadline = {
                let mut ledger = self.shared.lock();
                let now = Instant::now();
                if ledger.journal_sync_by.is_some_and(|d| d <= now) {
                    self.sync_journal_in_background(&mut ledger);
                }
                if ledger.checkpoint_by.is_some_and(|d| d <= now) {
                    let checkpoint = checkpoint(&mut ledger, Vec::new());
                    ledger.forward(vec![checkpoint]);
                }
                [ledger.journal_sync_by, ledger.checkpoint_by]
                    .into_iter()
                    .flatten()
                    .min()
            };
            let first = match deadline {
                Some(deadline) => {
                    match self
                        .rx
                        .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                    {
                        Ok(request) => request,
                        Err(RecvTimeoutError::Timeout) => continue,
                        Err(RecvTimeoutError::Disconnected) => return,
                    }
                }
                None => match self.rx.recv() {
                    Ok(request) => request,
                    Err(_) => return,
                },
            };
            let mut bytes = first.weight();
            let mut group = vec![first];
            while group.len() < MAX_GROUP_REQUESTS && bytes < MAX_GROUP_BYTES {
                match self.rx.try_recv() {
                    Ok(request) => {
                        bytes += request.weight();
                        group.push(request);
                    }
                    Err(_) => break,
                }
            }
            self.handle_group(group);
        }
    }

    /// Hands the due journal sync to the helper thread (or syncs here without one).
    fn sync_journal_in_background(&self, ledger: &mut Ledger) {
        let (Some(journal), Some(syncer)) = (ledger.journal.as_ref(), self.syncer.as_ref()) else {
            sync_journal(ledger);
            return;
        };
        match journal.sync_job() {
            Ok(job) => {
                syncer.sync(job.file, job.len, Some(job.synced));
                ledger.journal_sync_by = None;
            }
            Err(_) => sync_journal(ledger),
        }
    }

    /// Checks and journals a group of requests, hands it to the applier, answers its accepts.
    ///
    /// The ledger is held while the group is numbered, appended and forwarded (those must
    /// happen together and in order), but not while it waits for room at the applier or for
    /// the `fdatasync` of its `sync` accepts: callers journaling their own accepts take the
    /// ledger on runtime threads, which must not wait for the disk.
    fn handle_group(&mut self, group: Vec<Request>) {
        self.progress
            .wait_for_room(APPLY_BACKLOG_BYTES, APPLY_BACKLOG_GROUPS);
        self.presync_full_segment();
        let now = now_ms();
        let mut ledger = self.shared.lock();
        let journaling = ledger.journal.is_some();
        // Where this group's records will go.
        let start = ledger.journal.as_ref().map(Journal::position);
        let mut records = Vec::new();
        let mut work = Vec::with_capacity(group.len());
        let mut accepted = Vec::new();
        let mut flushes = Vec::new();
        let mut sync = false;
        let mut delay_ms: Option<u64> = None;
        let mut numbered = 0;

        for request in group {
            match request {
                Request::Accept {
                    msg,
                    durability,
                    reply,
                    wake,
                    in_flight,
                } => {
                    numbered += 1;
                    let (id, body) = match ledger.number(&mut records, start, now, &msg) {
                        Ok(numbered) => numbered,
                        Err(error) => {
                            let _ = reply.send(Err(error));
                            continue;
                        }
                    };
                    let max_delay_ms = match durability {
                        Durability::Sync => {
                            sync = true;
                            None
                        }
                        Durability::Interval { max_delay_ms } => {
                            delay_ms = Some(delay_ms.map_or(max_delay_ms, |d| d.min(max_delay_ms)));
                            Some(max_delay_ms)
                        }
                    };
                    let reply = if journaling {
                        accepted.push(Accepted { reply, id });
                        None
                    } else {
                        Some(reply)
                    };
                    work.push(Work::Accept {
                        id,
                        msg,
                        now_ms: now,
                        body,
                        reply,
                        durable: !journaling && durability == Durability::Sync,
                        max_delay_ms: if journaling { None } else { max_delay_ms },
                        wake,
                        in_flight,
                    });
                }
                Request::Bookkeeping(item) => work.push(Work::Bookkeeping { item, now_ms: now }),
                Request::Flush { reply } => flushes.push(reply),
                Request::Tick => {}
            }
        }
        self.shared.numbered_queued(numbered);

        // A flush is rare (pruning, shutdown, backups): it syncs while holding the ledger.
        let appended = match ledger.journal.as_mut() {
            Some(journal) => journal.append(&records).and_then(|()| {
                if flushes.is_empty() {
                    Ok(())
                } else {
                    journal.sync()
                }
            }),
            None => Ok(()),
        };
        if let Err(error) = appended {
            tracing::error!(%error, messages = accepted.len(), "Store journal write failed.");
            for failed in accepted.drain(..) {
                let _ = failed.reply.send(Err(error.clone()));
            }
            // Their records may have reached the file: the next open applies what did.
            work.retain(|w| !matches!(w, Work::Accept { .. }));
        } else if journaling && !accepted.is_empty() {
            ledger.note_written(if sync { None } else { delay_ms });
        }

        // A flush (pruning makes one) closes the segment too, so that a segment nothing
        // refers to any more can be deleted now rather than when it is full.
        let full = ledger
            .journal
            .as_ref()
            .is_some_and(|j| j.len() >= SEGMENT_BYTES || (!flushes.is_empty() && j.len() > 0));
        if full {
            rotate(&mut ledger);
        }
        if !flushes.is_empty() || full {
            let checkpoint = checkpoint(&mut ledger, flushes);
            work.push(checkpoint);
        }

        // The `sync` accepts' records are synced after the ledger is let go; what the applier
        // commits meanwhile is not durable, and a durable commit syncs the segments it refers
        // to first, so the database never durably holds a record the journal could lose.
        let sync_job = if sync && !accepted.is_empty() {
            ledger.journal.as_ref().map(Journal::sync_job)
        } else {
            None
        };
        // Numbered before anyone is answered, so a reader that saw an answer waits for it.
        ledger.forward(work);
        drop(ledger);

        if let Some(job) = sync_job
            && let Err(error) = job.and_then(|job| job.run())
        {
            // The messages are in the database already (not durably); their senders are told
            // the store failed and send them again.
            tracing::error!(%error, messages = accepted.len(), "Store journal sync failed.");
            for failed in accepted.drain(..) {
                let _ = failed.reply.send(Err(error.clone()));
            }
        }
        for done in accepted {
            let _ = done.reply.send(Ok(done.id));
        }
    }

    /// Syncs a segment that is due to be closed before the ledger is taken, so that closing
    /// it (which syncs it) under the ledger is short.
    fn presync_full_segment(&self) {
        let job = {
            let ledger = self.shared.lock();
            match ledger.journal.as_ref() {
                Some(journal) if journal.len() >= SEGMENT_BYTES && journal.unsynced() => {
                    journal.sync_job().ok()
                }
                _ => None,
            }
        };
        if let Some(job) = job {
            // A failure here is found again by the sync under the ledger.
            let _ = job.run();
        }
    }
}

/// Syncs the journal now (shutdown, or without a helper thread).
fn sync_journal(ledger: &mut Ledger) {
    let Some(journal) = ledger.journal.as_mut() else {
        ledger.journal_sync_by = None;
        return;
    };
    match journal.sync() {
        Ok(()) => ledger.journal_sync_by = None,
        Err(error) => {
            tracing::error!(%error, "Store journal sync failed; retrying.");
            ledger.journal_sync_by = Some(Instant::now() + SYNC_RETRY);
        }
    }
}

/// A checkpoint up to where the journal is now (everything before it has been handed to the
/// applier).
fn checkpoint(ledger: &mut Ledger, replies: Vec<Reply<()>>) -> Work {
    ledger.checkpoint_by = None;
    Work::Checkpoint {
        upto: ledger.journal.as_ref().map(Journal::position),
        replies,
    }
}

/// Closes the current journal segment and starts the next.
fn rotate(ledger: &mut Ledger) {
    let Some(journal) = ledger.journal.as_mut() else {
        return;
    };
    match journal.rotate() {
        Ok(_) => ledger.journal_sync_by = None,
        Err(error) => {
            tracing::error!(%error, "Cannot start a new store journal segment; retrying at the next group.");
        }
    }
}

#[cfg(test)]
#[path = "writer_tests.rs"]
mod tests;
