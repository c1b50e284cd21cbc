//! The writer thread: every write of the store goes through it (or through its state, locked
//! by a caller journaling its own `interval` accepts; see below). It numbers new messages,
//! appends them to the journal (group commit: concurrent messages share one write and one
//! `fdatasync`), answers, and hands everything on, in order, to the applier thread, which puts
//! it into the database (`applier.rs`).
//!
//! Why a dedicated OS thread and not a tokio task: a durable append blocks in `fdatasync` for
//! milliseconds (about 5–6 ms on the reference disk), and blocking a runtime worker that long
//! would stall unrelated connections.
//!
//! The loop: wait for a request; then take every other request already waiting (up to a cap);
//! check and number the group's accepts; append them to the journal with **one** write (and one
//! `fdatasync` if any of them needs it); hand the group to the applier; and only then answer
//! each accept. While one group is syncing, the next requests pile up in the channel and form
//! the next group, so the number of syncs per second stays near `1 / sync time` however many
//! writers there are, and each sync carries more messages as load grows.
//!
//! Durability per request:
//! - `accept` with [`Durability::Sync`] and [`Request::Flush`] sync the journal before anyone
//!   in the group is answered; a flush also makes the database durable (a checkpoint).
//! - `accept` with [`Durability::Interval`] is written to the journal without a sync and sets a
//!   deadline; the thread syncs the journal when the deadline passes (or earlier, with the next
//!   sync). Such accepts are usually journaled by the caller itself ([`SharedWriter::try_lead`]):
//!   when nothing it sent before waits in the thread's channel, a connection numbers, journals
//!   and forwards the frames of one read as one group on its own thread, and their answers are
//!   ready when it looks; if another connection or the thread holds the writer's state, the
//!   frames are left for that holder to journal before it lets go. On a two-core host that hop (a
//!   wake-up of the thread and one back) cost more than the work: one pipelining connection
//!   went from ~55k to ~88k messages a second.
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
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::applier::Applier;
use super::background_sync::BackgroundSync;
use super::bodies::BodyRef;
use super::error::StoreError;
use super::journal::{self, Journal, Prepared};
use super::kv::Kv;
use super::model::{Durability, MessageId};
use super::ops::{self, Counters};
use super::progress::Progress;
use super::recent_control_ids::RecentControlIds;
use super::record;
use super::shared_writer::SharedWriter;
use super::work::{Reply, Request, Work};

/// At most this many requests go into one journal write, so one group's latency stays bounded.
const MAX_GROUP_REQUESTS: usize = 1024;
/// ... and at most about this many bytes of message content.
const MAX_GROUP_BYTES: usize = 64 * 1024 * 1024;

/// The database is checkpointed this long after the first record since the last checkpoint,
/// so replay at open stays short.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(2_000);
/// A journal segment is closed once it holds this many bytes: a segment is deleted only when
/// no stored message refers to it, so smaller segments free disk space sooner, and larger
/// ones mean fewer files.
const SEGMENT_BYTES: u64 = 64 * 1024 * 1024;

/// Groups handed to the applier and not yet taken, and the message bytes they hold: when the
/// applier falls this far behind, the writer waits (and so do new accepts), which bounds the
/// memory a burst can take. The group cap is generous because at low rates a group is one
/// message and the applier takes them only every [`COALESCE`](super::applier::COALESCE); so
/// are sequential senders' accepts, each journaled as its own group by its connection, and a
/// caller journals only while the applier has room for half the cap. At 1,024 groups, 16
/// sequential connections found no room for one accept in ten (while the applier synced a
/// checkpoint) and sent it through the writer thread; at 4,096, one in fifty.
const APPLY_BACKLOG_GROUPS: usize = 4096;
/// The byte side of that cap: a journaled accept counts 512 bytes (its bytes are in the
/// journal, see [`Work::weight`]), so about 32,000 of them; an accept without a journal counts
/// its message bytes too. A checkpoint's durable commit (one every 2 s) holds the applier for
/// 20–70 ms under load (longer on a disk the journal keeps busy); at 4 MiB (a tenth of a second of intake at 100k msgs/s) the writer sometimes waited
/// for room behind one, with its lock held, and every accept waited up to 27 ms. The larger
/// cap costs ~15 MiB more memory at most.
const APPLY_BACKLOG_BYTES: u64 = 16 * 1024 * 1024;

/// A group buffer up to this size is kept for the next group; a larger one (a burst of big
/// messages) is freed.
const KEEP_GROUP_BUFFER: usize = 4 * 1024 * 1024;

/// Bytes a journal record takes beyond its message's bulk bytes (framing, ids, the JSON
/// header), as a guess for sizing a group's buffer.
pub(super) const RECORD_HEADER_GUESS: usize = 512;

/// After a failed background sync, try again after this long.
const SYNC_RETRY: Duration = Duration::from_secs(1);

/// Milliseconds since the Unix epoch by the system clock (0 if the clock is before 1970).
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The writer thread: its channel, and the state it shares with callers that journal their
/// own `interval` accepts (see [`SharedWriter::try_lead`]).
pub(crate) struct Writer {
    rx: Receiver<Request>,
    shared: Arc<SharedWriter>,
}

/// Everything the writer numbers, journals and forwards with.
pub(super) struct WriterState {
    /// The next message id.
    next_id: MessageId,
    /// The accept journal; `None` only in unit tests over an in-memory backend.
    journal: Option<Journal>,
    /// When the oldest unsynced journal record must be synced, if there is one.
    journal_sync_by: Option<Instant>,
    /// When the next checkpoint is due, once a record was written since the last one.
    checkpoint_by: Option<Instant>,
    progress: Arc<Progress>,
    /// The applier, started by [`Writer::run`].
    applier: Option<Applier>,
    /// Where the applier's work goes; dropped at shutdown so that it finishes.
    to_applier: Option<SyncSender<(u64, Vec<Work>)>>,
    /// Syncs the journal for `interval` accepts, so the writer need not wait for them.
    syncer: Option<BackgroundSync>,
    /// The journal's next segment, being made ahead by the syncer.
    next_segment: Option<mpsc::Receiver<Result<Prepared, StoreError>>>,
    /// The current segment's length past which the next one is made ahead: half a segment,
    /// so that it is ready long before it is needed, and a store that rotates early (a flush
    /// with little written) makes none it will not soon use.
    prepare_next_at: u64,
    /// The applier's thread, unparked when it is handed work that somebody waits for.
    applier_thread: Option<std::thread::Thread>,
    /// The journal bytes of a group, kept between groups (see [`KEEP_GROUP_BUFFER`]).
    records: Vec<u8>,
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
        let (to_applier, from_writer) = mpsc::sync_channel(APPLY_BACKLOG_GROUPS);
        let applier = Applier::new(kv, from_writer, counters, commits, Arc::clone(&progress));
        let state = WriterState {
            to_applier: Some(to_applier),
            next_id: counters.next_id,
            journal,
            journal_sync_by: None,
            checkpoint_by: None,
            progress,
            applier: Some(applier),
            syncer: None,
            next_segment: None,
            prepare_next_at: SEGMENT_BYTES / 2,
            applier_thread: None,
            records: Vec::new(),
        };
        Writer {
            rx,
            shared: Arc::new(SharedWriter::new(state)),
        }
    }

    /// The state shared with callers, for [`SharedWriter::try_lead`] and
    /// [`SharedWriter::queue`].
    pub(crate) fn shared(&self) -> Arc<SharedWriter> {
        Arc::clone(&self.shared)
    }

    /// The store directory of the journal's segments, for the applier's checkpoints.
    pub(crate) fn with_journal_dir(self, dir: std::path::PathBuf) -> Self {
        if let Some(applier) = self.shared.lock().applier.as_mut() {
            applier.journal_dir = Some(dir);
        }
        self
    }

    /// The set the applier keeps deferred control-id index entries in, shared with readers.
    pub(crate) fn with_recent_control_ids(self, recent: Arc<RecentControlIds>) -> Self {
        if let Some(applier) = self.shared.lock().applier.as_mut() {
            applier.recent_control_ids = recent;
        }
        self
    }

    /// Runs until every sender is gone, then makes everything durable and returns (after the
    /// applier has finished).
    pub(crate) fn run(self) {
        let Some(applier) = self.shared.lock().start() else {
            return;
        };
        self.serve();
        // Shutdown: what callers left is journaled, the journal synced, then the applier
        // checkpoints everything.
        let mut state = self.shared.lock();
        self.shared.journal_all_left(&mut state);
        state.sync_journal();
        let checkpoint = state.checkpoint(Vec::new());
        state.forward(vec![checkpoint]);
        state.to_applier = None;
        drop(state);
        if applier.join().is_err() {
            tracing::error!("Store applier thread panicked.");
        }
    }

    fn serve(&self) {
        loop {
            // Deadlines are checked before every group, so a steady stream of requests cannot
            // postpone them.
            let deadline = {
                let mut state = self.shared.lock();
                state.run_due();
                // Left by callers while the applier had no room (they woke the thread).
                self.shared.journal_all_left(&mut state);
                state.deadline()
            };
            // Left while the state was held just now: the deadline may have moved.
            if self.shared.take_over_left() {
                continue;
            }
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
            let mut state = self.shared.lock();
            state.run_due();
            // Left before these were sent, or meanwhile: either way ahead of them in a lane.
            self.shared.journal_all_left(&mut state);
            self.shared.handle_queued(&mut state, group);
            drop(state);
            self.shared.take_over_left();
        }
    }
}

impl WriterState {
    /// Starts the applier and the journal's sync thread; `None` if the applier cannot start.
    fn start(&mut self) -> Option<std::thread::JoinHandle<()>> {
        let applier = self.applier.take().map(|applier| {
            std::thread::Builder::new()
                .name("ihub-store-apply".into())
                .spawn(move || applier.run())
        });
        let applier = match applier {
            Some(Ok(handle)) => handle,
            Some(Err(error)) => {
                tracing::error!(%error, "Cannot start the store's applier thread.");
                return None;
            }
            None => return None,
        };
        self.applier_thread = Some(applier.thread().clone());
        if self.journal.is_some() {
            match BackgroundSync::start("ihub-store-jsync") {
                Ok(syncer) => self.syncer = Some(syncer),
                Err(error) => {
                    tracing::warn!(%error, "No background journal sync; the writer syncs itself.")
                }
            }
        }
        Some(applier)
    }

    /// Whether a caller may journal `bytes` of messages here: there is a journal, the group
    /// will not fill its segment (starting the next one syncs the directory, which is the
    /// thread's to wait for, not a runtime worker's), and the applier has room.
    pub(super) fn can_lead(&self, bytes: usize) -> bool {
        let room_in_segment = self.journal.as_ref().is_some_and(|j| {
            j.len()
                .saturating_add(u64::try_from(bytes).unwrap_or(u64::MAX))
                < SEGMENT_BYTES
        });
        room_in_segment
            && self.to_applier.is_some()
            && self
                .progress
                .has_room(APPLY_BACKLOG_BYTES, APPLY_BACKLOG_GROUPS as u64 / 2)
    }

    /// Runs the journal sync and the checkpoint whose time has come.
    fn run_due(&mut self) {
        let now = Instant::now();
        if self.journal_sync_by.is_some_and(|d| d <= now) {
            self.sync_journal_in_background();
        }
        if self.checkpoint_by.is_some_and(|d| d <= now) {
            let checkpoint = self.checkpoint(Vec::new());
            self.forward(vec![checkpoint]);
        }
    }

    /// The earliest deadline.
    pub(super) fn deadline(&self) -> Option<Instant> {
        [self.journal_sync_by, self.checkpoint_by]
            .into_iter()
            .flatten()
            .min()
    }

    /// Hands work to the applier, numbered; wakes it at once if somebody waits for the work.
    fn forward(&self, work: Vec<Work>) {
        if work.is_empty() {
            return;
        }
        let bytes = work.iter().map(|w| w.weight() as u64).sum();
        let awaited = !work.iter().all(Work::is_unawaited);
        self.progress.wait_for_room(APPLY_BACKLOG_BYTES);
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

    /// A checkpoint up to where the journal is now (everything before it has been handed to
    /// the applier).
    fn checkpoint(&mut self, replies: Vec<Reply<()>>) -> Work {
        self.checkpoint_by = None;
        Work::Checkpoint {
            upto: self.journal.as_ref().map(Journal::position),
            replies,
        }
    }

    /// Checks and journals a group of requests, hands it to the applier, answers its accepts.
    pub(super) fn handle_group(&mut self, group: Vec<Request>) {
        let now = now_ms();
        let journaling = self.journal.is_some();
        // Where this group's records will go.
        let start = self.journal.as_ref().map(Journal::position);
        // The last group's buffer, sized for this whole group up front: growing it copied
        // every record again, and a fresh one per group was a large allocation each time.
        let mut records = std::mem::take(&mut self.records);
        records.clear();
        if journaling {
            records.reserve(group.iter().map(|r| r.weight() + RECORD_HEADER_GUESS).sum());
        }
        let mut work = Vec::with_capacity(group.len());
        let mut accepted = Vec::new();
        let mut flushes = Vec::new();
        let mut sync = false;
        let mut delay_ms: Option<u64> = None;

        for request in group {
            match request {
                Request::Accept {
                    msg,
                    durability,
                    reply,
                    wake,
                    in_flight,
                    lane: _,
                } => {
                    if let Err(error) = ops::check_accept(&msg) {
                        let _ = reply.send(Err(error));
                        continue;
                    }
                    let mut msg = msg;
                    let id = self.next_id;
                    let mut body = None;
                    let sources = match start {
                        Some(start) => {
                            let mark = records.len();
                            let sources = match journal::encode_accept(&mut records, id, now, &msg)
                            {
                                Ok(sources) => sources,
                                Err(error) => {
                                    records.truncate(mark);
                                    let _ = reply.send(Err(error));
                                    continue;
                                }
                            };
                            body = Some(BodyRef {
                                segment: start.segment,
                                offset: start.offset + mark as u64,
                                len: u32::try_from(records.len() - mark).unwrap_or(u32::MAX),
                            });
                            // The journal record holds the bytes now; the applier needs only
                            // where they are.
                            record::drop_bulk(&mut msg);
                            sources
                        }
                        None => record::payload_sources(&msg),
                    };
                    self.next_id += 1;
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
                        sources,
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
                Request::Wake => {}
            }
        }

        let journaled = self.journal_group(&records, sync || !flushes.is_empty());
        if records.capacity() <= KEEP_GROUP_BUFFER {
            self.records = records;
        }
        if journaling && let Err(error) = journaled {
            tracing::error!(%error, messages = accepted.len(), "Store journal write failed.");
            for failed in accepted.drain(..) {
                let _ = failed.reply.send(Err(error.clone()));
            }
            // Their records may have reached the file: the next open applies what did.
            work.retain(|w| !matches!(w, Work::Accept { .. }));
        } else if journaling && !accepted.is_empty() {
            if let Some(ms) = delay_ms
                && !sync
                && self.journal.as_ref().is_some_and(Journal::unsynced)
            {
                let deadline = Instant::now() + Duration::from_millis(ms);
                self.journal_sync_by =
                    Some(self.journal_sync_by.map_or(deadline, |d| d.min(deadline)));
            }
            if self.checkpoint_by.is_none() {
                self.checkpoint_by = Some(Instant::now() + CHECKPOINT_INTERVAL);
            }
        }

        // A flush (pruning makes one) closes the segment too, so that a segment nothing
        // refers to any more can be deleted now rather than when it is full. A full segment
        // is left to the timed checkpoint: at full speed one fills several times a second,
        // and each checkpoint's syncs held the applier for up to hundreds of milliseconds on
        // a fast disk that the journal keeps busy (docs/performance.md, "Another host"); the
        // control-id entries that checkpoints write are bounded by
        // `recent_control_ids::FLUSH_ENTRIES` instead.
        let full = self
            .journal
            .as_ref()
            .is_some_and(|j| j.len() >= SEGMENT_BYTES || (!flushes.is_empty() && j.len() > 0));
        if full {
            self.rotate();
        } else {
            self.prepare_next_segment();
        }
        if !flushes.is_empty() {
            work.push(self.checkpoint(flushes));
        }

        // Numbered before anyone is answered, so a reader that saw an answer waits for it.
        self.forward(work);
        for done in accepted {
            let _ = done.reply.send(Ok(done.id));
        }
    }
}

#[path = "writer_journal.rs"]
mod journal_upkeep;

#[cfg(test)]
#[path = "writer_tests.rs"]
mod tests;
