//! Numbering and journaling accepts: the state the writer thread and the callers that journal
//! their own `interval` accepts share, behind one mutex.
//!
//! Why callers journal their own: an `interval` accept waits for no disk sync, only for its
//! `write` to the journal (a few microseconds). Sending it to the writer thread and waiting for
//! the answer cost two thread wake-ups per message, which on a small virtual machine were more
//! than the rest of the accept. So such an accept takes the mutex on the caller's thread,
//! numbers itself, appends its record, hands its work to the applier and is answered at once.
//! `sync` accepts still go to the writer thread, whose group commit shares one `fdatasync`
//! among all the messages that arrived meanwhile (it syncs *outside* the mutex, so callers
//! journaling their own never wait for a disk sync).
//!
//! Order: a caller journals its own accept only when no accept sent to the writer is still
//! waiting to be numbered, so a connection's messages keep their order whichever way each one
//! goes. It also declines when the applier is far behind: the writer then holds the message
//! until there is room, so a burst cannot fill memory.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::bodies::BodyRef;
use super::error::StoreError;
use super::in_flight;
use super::journal::{self, Journal};
use super::model::{MessageId, NewMessage};
use super::ops;
use super::progress::Progress;
use super::work::Work;

/// Groups handed to the applier and not yet taken, and the message bytes they hold: when the
/// applier falls this far behind, the writer waits (and so do new accepts), which bounds the
/// memory a burst can take. The group cap is generous because at low rates a group is one
/// message and the applier takes them only every [`COALESCE`](super::applier::COALESCE).
pub(crate) const APPLY_BACKLOG_GROUPS: u64 = 1024;
/// The byte side of that cap (about 700 messages of 6 KB).
pub(crate) const APPLY_BACKLOG_BYTES: u64 = 4 * 1024 * 1024;

/// A journal segment is closed once it holds this many bytes: a segment is deleted only when
/// no stored message refers to it, so smaller segments free disk space sooner, and larger
/// ones mean fewer files.
pub(crate) const SEGMENT_BYTES: u64 = 64 * 1024 * 1024;

/// The database is checkpointed this long after the first record since the last checkpoint,
/// so replay at open stays short.
pub(crate) const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(2_000);

/// The state behind the mutex.
pub(crate) struct Ledger {
    /// The next message id.
    pub(crate) next_id: MessageId,
    /// The accept journal; `None` only in unit tests over an in-memory backend.
    pub(crate) journal: Option<Journal>,
    /// When the oldest unsynced journal record must be synced, if there is one.
    pub(crate) journal_sync_by: Option<Instant>,
    /// When the next checkpoint is due, once a record was written since the last one.
    pub(crate) checkpoint_by: Option<Instant>,
    /// Where the applier's work goes; `None` once the writer has shut it down.
    pub(crate) to_applier: Option<Sender<(u64, Vec<Work>)>>,
    /// The applier's thread, unparked when it is handed work that somebody waits for.
    pub(crate) applier_thread: Option<std::thread::Thread>,
    progress: Arc<Progress>,
}

impl Ledger {
    /// After records were appended: notes that `interval` records wait for a sync within
    /// `delay_ms`, and that a checkpoint is due. Returns whether a deadline was set that the
    /// writer thread does not know about yet.
    pub(crate) fn note_written(&mut self, delay_ms: Option<u64>) -> bool {
        let mut new_deadline = false;
        if let Some(ms) = delay_ms
            && self.journal.as_ref().is_some_and(Journal::unsynced)
        {
            let deadline = Instant::now() + Duration::from_millis(ms);
            new_deadline |= self.journal_sync_by.is_none_or(|d| deadline < d);
            self.journal_sync_by = Some(self.journal_sync_by.map_or(deadline, |d| d.min(deadline)));
        }
        if self.checkpoint_by.is_none() {
            self.checkpoint_by = Some(Instant::now() + CHECKPOINT_INTERVAL);
            new_deadline = true;
        }
        new_deadline
    }

    /// Checks and numbers one accept and encodes its journal record at the end of `records`,
    /// which go to the journal at `start`. Returns its id and where its record will be.
    pub(crate) fn number(
        &mut self,
        records: &mut Vec<u8>,
        start: Option<super::bodies::JournalPos>,
        now_ms: u64,
        msg: &NewMessage,
    ) -> Result<(MessageId, Option<BodyRef>), StoreError> {
        ops::check_accept(msg)?;
        let id = self.next_id;
        let mut body = None;
        if let Some(start) = start {
            let mark = records.len();
            if let Err(error) = journal::encode_accept(records, id, now_ms, msg) {
                records.truncate(mark);
                return Err(error);
            }
            body = Some(BodyRef {
                segment: start.segment,
                offset: start.offset + mark as u64,
                len: u32::try_from(records.len() - mark).unwrap_or(u32::MAX),
            });
        }
        self.next_id += 1;
        Ok((id, body))
    }

    /// Hands work to the applier, numbered; wakes it at once if somebody waits for the work.
    /// The caller has made room for it (see [`Progress::wait_for_room`]).
    pub(crate) fn forward(&self, work: Vec<Work>) {
        if work.is_empty() {
            return;
        }
        let bytes = work.iter().map(|w| w.weight() as u64).sum();
        let awaited = !work.iter().all(Work::is_unawaited);
        self.progress.add_backlog(bytes);
        let group = self.progress.forward();
        let sent = self
            .to_applier
            .as_ref()
            .is_some_and(|to| to.send((group, work)).is_ok());
        if !sent {
            tracing::error!("The store's applier thread is gone.");
            // Readers must not wait for work that nobody will apply.
            self.progress.applied(group, bytes);
        } else if awaited && let Some(thread) = &self.applier_thread {
            thread.unpark();
        }
    }
}

/// The ledger, and the count callers update without taking its mutex.
pub(crate) struct Shared {
    ledger: Mutex<Ledger>,
    /// Accepts sent to the writer thread and not numbered yet.
    queued_accepts: AtomicUsize,
}

/// What a caller that tried to journal its own accept gets back.
pub(crate) enum Inline {
    /// Journaled (or refused with an error); `tick` asks to wake the writer thread, which has
    /// a new deadline or a full segment to see to.
    Done {
        result: Result<MessageId, StoreError>,
        tick: bool,
    },
    /// Not now (see the module comment): send it to the writer thread.
    Declined {
        msg: Box<NewMessage>,
        wake: Vec<Arc<Notify>>,
        in_flight: Option<in_flight::Guard>,
    },
}

impl Shared {
    /// A ledger numbering from `next_id`, journaling to `journal`, forwarding to `to_applier`.
    pub(crate) fn new(
        next_id: MessageId,
        journal: Option<Journal>,
        to_applier: Sender<(u64, Vec<Work>)>,
        progress: Arc<Progress>,
    ) -> Shared {
        Shared {
            ledger: Mutex::new(Ledger {
                next_id,
                journal,
                journal_sync_by: None,
                checkpoint_by: None,
                to_applier: Some(to_applier),
                applier_thread: None,
                progress,
            }),
            queued_accepts: AtomicUsize::new(0),
        }
    }

    /// The ledger, also after a panic elsewhere while it was held (its fields stay consistent:
    /// every change is a single assignment after the fallible step).
    pub(crate) fn lock(&self) -> MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts an accept about to be sent to the writer thread (before it is sent).
    pub(crate) fn queue_accept(&self) {
        self.queued_accepts.fetch_add(1, Ordering::SeqCst);
    }

    /// Counts `n` accepts the writer thread has numbered (while holding the ledger).
    pub(crate) fn numbered_queued(&self, n: usize) {
        let _ = self
            .queued_accepts
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |q| {
                Some(q.saturating_sub(n))
            });
    }

    /// Journals an `interval` accept on the caller's thread, if it may (see the module
    /// comment): numbered, appended without a sync (durable within `max_delay_ms`), handed to
    /// the applier.
    pub(crate) fn accept_inline(
        &self,
        msg: Box<NewMessage>,
        max_delay_ms: u64,
        wake: Vec<Arc<Notify>>,
        in_flight: Option<in_flight::Guard>,
    ) -> Inline {
        let mut ledger = self.lock();
        let may = ledger.journal.is_some()
            && ledger.to_applier.is_some()
            && self.queued_accepts.load(Ordering::SeqCst) == 0
            && ledger
                .progress
                .has_room(APPLY_BACKLOG_BYTES, APPLY_BACKLOG_GROUPS);
        if !may {
            return Inline::Declined {
                msg,
                wake,
                in_flight,
            };
        }
        let now = super::writer::now_ms();
        let start = ledger.journal.as_ref().map(Journal::position);
        let mut record = Vec::with_capacity(msg.raw.len() + 256);
        let (id, body) = match ledger.number(&mut record, start, now, &msg) {
            Ok(numbered) => numbered,
            Err(error) => {
                return Inline::Done {
                    result: Err(error),
                    tick: false,
                };
            }
        };
        let appended = match ledger.journal.as_mut() {
            Some(journal) => journal.append(&record),
            None => Ok(()),
        };
        if let Err(error) = appended {
            // The id is used up (ids are never reused); the record is not in the journal.
            tracing::error!(%error, "Store journal write failed.");
            return Inline::Done {
                result: Err(error),
                tick: false,
            };
        }
        let mut tick = ledger.note_written(Some(max_delay_ms));
        tick |= ledger.journal.as_ref().is_some_and(|j| {
            j.len() >= SEGMENT_BYTES && j.len() - (record.len() as u64) < SEGMENT_BYTES
        });
        ledger.forward(vec![Work::Accept {
            id,
            msg,
            now_ms: now,
            body,
            reply: None,
            durable: false,
            max_delay_ms: None,
            wake,
            in_flight,
        }]);
        Inline::Done {
            result: Ok(id),
            tick,
        }
    }
}
