//! The applier thread: puts the writer's work into the database, on its own core.
//!
//! Why a second thread: with the journal as the durability point, what an acknowledgement waits
//! for is one append (and one `fdatasync` for `sync` channels); the database commit (redb copies
//! the path of every B-tree it touches) is CPU work that nobody needs to wait for. The writer
//! hands each group to this thread in order and goes on journaling the next; this thread takes
//! every group that is waiting, applies them as one non-durable commit (the busier the engine,
//! the larger the commit, the cheaper each message), and then makes the results visible: it
//! wakes the delivery workers, releases the in-flight control ids and tells readers how far it
//! got ([`Progress`]).
//!
//! Durability here: accepts are durable in the journal already, and the database keeps only
//! where their records are (`bodies.rs`). Delivery bookkeeping (attempts, replays, prunes) is
//! not journaled; it is made durable by a durable commit within [`BOOKKEEPING_MAX_DELAY_MS`].
//! A [`Work::Checkpoint`] (every couple of seconds, on flush and at shutdown) makes the
//! database durable with the journal position it now holds everything before, and deletes
//! the segments no stored message refers to any more. Before any durable commit the segments
//! it refers to are synced, so the database never durably points at bytes a crash could take.
//!
//! Without a journal (unit tests over the in-memory backend) accepts are answered here, after
//! their commit, which is durable for `sync` accepts.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::bodies::{self, JournalPos};
use super::cpu_pacing;
use super::error::StoreError;
use super::in_flight;
use super::keys;
use super::kv::{Batch, Kv, Table};
use super::model::MessageId;
use super::ops::{self, Counters, Tx};
use super::progress::Progress;
use super::recent_control_ids::{self, RecentControlIds};
use super::segment_gc;
use super::work::{Bookkeeping, Reply, Work};

/// Delivery bookkeeping is durable within this delay (see the module docs).
pub(crate) const BOOKKEEPING_MAX_DELAY_MS: u64 = 200;

/// At most this many pieces of work go into one commit, so one commit's latency stays bounded.
const MAX_COMMIT_WORK: usize = 4096;

/// The applier yields its CPU now and then ([`cpu_pacing`]) while less than this many bytes
/// of messages wait for it (a journaled accept counts 512 bytes: 2,048 of them) ...
const PACE_BELOW_BACKLOG_BYTES: u64 = 1024 * 1024;
/// ... and fewer than this many groups (at sequential senders, one accept each; the writer
/// turns its callers away at 2,048).
const PACE_BELOW_BACKLOG_GROUPS: u64 = 512;

/// How long the applier waits for more work while it holds only journaled accepts (which
/// nobody waits for): at low rates, several messages share a commit; readers and delivery
/// workers see a message this much later at most.
pub(crate) const COALESCE: Duration = Duration::from_millis(2);

/// After a failed background sync, try again after this long.
const SYNC_RETRY: Duration = Duration::from_secs(1);

/// A success waiting for the commit before it may be reported.
enum Done {
    Id(Reply<MessageId>, MessageId),
    Unit(Reply<()>),
    Pruned(Reply<(u64, bool)>, (u64, bool)),
}

impl Done {
    fn send(self, result: Result<(), StoreError>) {
        // A caller that stopped waiting is not an error: the work is committed either way.
        match self {
            Done::Id(reply, id) => {
                let _ = reply.send(result.map(|()| id));
            }
            Done::Unit(reply) => {
                let _ = reply.send(result);
            }
            Done::Pruned(reply, value) => {
                let _ = reply.send(result.map(|()| value));
            }
        }
    }
}

/// The applier's state.
pub(crate) struct Applier {
    kv: Arc<dyn Kv>,
    rx: Receiver<(u64, Vec<Work>)>,
    counters: Counters,
    /// Commits made (for tests and metrics: how well commits batch).
    commits: Arc<AtomicU64>,
    progress: Arc<Progress>,
    /// The store directory, where journal segments are deleted; `None` without a journal.
    pub(crate) journal_dir: Option<PathBuf>,
    /// When the oldest non-durable commit must be made durable, if there is one.
    durable_by: Option<Instant>,
    /// Whether a commit since the last durable one was not durable.
    dirty: bool,
    /// Journal segments that commits since the last durable one refer to: synced before the
    /// next durable commit.
    referenced: BTreeSet<u64>,
    /// A journaled message could not be applied: keep the journal, so the next open retries.
    keep_journal: bool,
    /// Control-id index entries of journaled accepts, written at the next checkpoint.
    pub(crate) recent_control_ids: Arc<RecentControlIds>,
}

/// What one commit asks for beyond its changes.
#[derive(Default)]
struct Needs {
    durable: bool,
    delay_ms: Option<u64>,
    checkpoints: Vec<(Option<JournalPos>, Vec<Reply<()>>)>,
    reclaims: Vec<Reply<bool>>,
    wake: Vec<Arc<Notify>>,
    in_flight: Vec<in_flight::Guard>,
    journaled: bool,
}

fn min_delay(slot: &mut Option<u64>, ms: u64) {
    *slot = Some(slot.map_or(ms, |d| d.min(ms)));
}

impl Applier {
    /// An applier taking the writer's numbered groups from `rx`.
    pub(crate) fn new(
        kv: Arc<dyn Kv>,
        rx: Receiver<(u64, Vec<Work>)>,
        counters: Counters,
        commits: Arc<AtomicU64>,
        progress: Arc<Progress>,
    ) -> Applier {
        Applier {
            kv,
            rx,
            counters,
            commits,
            progress,
            journal_dir: None,
            durable_by: None,
            dirty: false,
            referenced: BTreeSet::new(),
            keep_journal: false,
            recent_control_ids: Arc::default(),
        }
    }

    /// Runs until the writer is gone, then makes everything durable and returns.
    pub(crate) fn run(mut self) {
        loop {
            if self.durable_by.is_some_and(|d| d <= Instant::now()) {
                let _ = self.sync_db();
            }
            let first = match self.durable_by {
                Some(deadline) => {
                    match self
                        .rx
                        .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                    {
                        Ok(group) => group,
                        Err(RecvTimeoutError::Timeout) => continue,
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
                None => match self.rx.recv() {
                    Ok(group) => group,
                    Err(_) => break,
                },
            };
            let (mut last, mut work) = first;
            // Nobody waits for journaled accepts, so while the work holds nothing else, wait a
            // moment for more: one commit for several messages instead of one each. The thread
            // parks rather than waiting on the channel, so the messages that arrive meanwhile
            // do not wake it one by one (at a few thousand messages a second those wake-ups
            // cost more CPU than the commit); the writer unparks it for work somebody waits for.
            if work.iter().all(Work::is_unawaited) {
                std::thread::park_timeout(COALESCE);
            }
            while work.len() < MAX_COMMIT_WORK {
                match self.rx.try_recv().ok() {
                    Some((group, more)) => {
                        last = group;
                        work.extend(more);
                    }
                    None => break,
                }
            }
            let bytes = work.iter().map(|w| w.weight() as u64).sum();
            self.apply(work, last, bytes);
        }
        if self.dirty
            && let Err(error) = self.sync_db()
        {
            tracing::error!(%error, "Store sync at shutdown failed.");
        }
    }

    /// Makes the database durable.
    fn sync_db(&mut self) -> Result<(), StoreError> {
        self.commit_durably(Batch::default())
    }

    /// Commits `batch` durably, which makes every earlier commit durable too, after syncing
    /// the journal segments they refer to.
    fn commit_durably(&mut self, batch: Batch) -> Result<(), StoreError> {
        let synced = match &self.journal_dir {
            Some(dir) => bodies::sync_segments(dir, self.referenced.iter().copied()),
            None => Ok(()),
        };
        let committed = synced.and_then(|()| {
            if batch.is_empty() {
                self.kv.sync()
            } else {
                self.kv.apply(batch, true)
            }
        });
        match committed {
            Ok(()) => {
                self.durable_by = None;
                self.dirty = false;
                self.referenced.clear();
                Ok(())
            }
            Err(error) => {
                tracing::error!(%error, "Store background sync failed; retrying.");
                self.durable_by = Some(Instant::now() + SYNC_RETRY);
                Err(error)
            }
        }
    }

    /// Applies `work` (every group up to `group`, holding `bytes` of messages), then tells
    /// readers.
    fn apply(&mut self, work: Vec<Work>, group: u64, bytes: u64) {
        cpu_pacing::set(
            self.progress
                .has_room(PACE_BELOW_BACKLOG_BYTES, PACE_BELOW_BACKLOG_GROUPS),
        );
        // A prune scans the committed state, which does not show changes staged before it in
        // the same commit: it starts a commit of its own.
        let mut chunk = Vec::with_capacity(work.len());
        for item in work {
            if is_prune(&item) && !chunk.is_empty() {
                self.commit(std::mem::take(&mut chunk));
            }
            chunk.push(item);
        }
        self.commit(chunk);
        self.progress.applied(group, bytes);
    }

    /// Applies `work` as one commit, then answers, wakes and checkpoints.
    fn commit(&mut self, work: Vec<Work>) {
        let kv = Arc::clone(&self.kv);
        let snapshot = kv.snapshot();
        if let Err(error) = &snapshot {
            tracing::error!(%error, "Cannot read the store to apply its writes.");
        }
        let mut batch = Batch::default();
        // A prune deletes index entries, so the deferred ones must be in the table first; and
        // a store that cannot checkpoint must not defer without bound.
        let flush_recent = work.iter().any(is_prune)
            || self.recent_control_ids.len() >= recent_control_ids::FLUSH_ENTRIES;
        if flush_recent {
            add_control_ids(&mut batch, self.recent_control_ids.snapshot());
        }
        let mut counters = self.counters;
        let mut done = Vec::with_capacity(work.len());
        let mut needs = Needs::default();
        let mut deferred = Vec::new();
        for item in work {
            cpu_pacing::pace();
            let snapshot = match &snapshot {
                Ok(snapshot) => snapshot.as_ref(),
                Err(error) => {
                    self.keep_journal |= fail(item, error.clone(), &mut needs);
                    continue;
                }
            };
            let mut tx = Tx::deferring_control_ids(snapshot, &batch);
            let mut next = counters;
            // A failed request changed nothing (its caller was told); neither did work that
            // was only noted in `needs`.
            if let Some(Ok(success)) = self.stage(&mut tx, &mut next, item, &mut needs) {
                let (staged, control_ids): (BTreeMap<_, _>, _) = tx.into_parts();
                batch.changes.extend(staged);
                deferred.extend(control_ids);
                counters = next;
                if let Some(success) = success {
                    done.push(success);
                }
            }
        }
        // redb cannot compact while a read transaction is open.
        drop(snapshot);
        self.counters = counters;

        let result = if batch.is_empty() {
            Ok(())
        } else {
            let applied = if needs.durable {
                self.commit_durably(batch)
            } else {
                self.kv.apply(batch, false)
            };
            if applied.is_ok() {
                self.commits.fetch_add(1, Ordering::Relaxed);
                if !needs.durable {
                    self.dirty = true;
                    // Bookkeeping (and, without a journal, `interval` accepts) must be durable
                    // within its delay. Journaled accepts need no deadline of their own: the
                    // journal holds them, and replay at open starts before them until a
                    // checkpoint covers them.
                    if let Some(delay) = needs.delay_ms {
                        let deadline = Instant::now() + Duration::from_millis(delay);
                        self.durable_by =
                            Some(self.durable_by.map_or(deadline, |d| d.min(deadline)));
                    }
                }
            }
            applied
        };
        if let Err(error) = &result {
            tracing::error!(%error, requests = done.len(), "Store commit failed.");
            if needs.journaled {
                tracing::error!(
                    "Acknowledged messages are in the store journal but not in the database; they are applied at the next start."
                );
                self.keep_journal = true;
            }
        }
        if result.is_ok() {
            if flush_recent {
                self.recent_control_ids.written();
            }
            // Before the in-flight guards go: a duplicate check must find these somewhere.
            self.recent_control_ids.extend(deferred);
        }
        for success in done {
            success.send(result.clone());
        }
        drop(needs.in_flight);
        for wake in &needs.wake {
            wake.notify_one();
        }

        for (through, replies) in needs.checkpoints {
            self.checkpoint(through, replies);
        }
        if !needs.reclaims.is_empty() {
            let reclaimed = self.kv.reclaim();
            for reply in needs.reclaims {
                let _ = reply.send(reclaimed.clone());
            }
        }
    }

    /// A durable commit that records `upto` as applied (or, without a journal, only if
    /// anything is not durable yet), then the journal segments nobody refers to are deleted.
    fn checkpoint(&mut self, upto: Option<JournalPos>, replies: Vec<Reply<()>>) {
        // A journaled message that could not be applied must be replayed at the next open:
        // the position stays where it was.
        let upto = upto.filter(|_| !self.keep_journal);
        let synced = match upto {
            Some(upto) => {
                let mut batch = Batch::default();
                batch.changes.insert(
                    (Table::Meta, keys::META_JOURNAL_APPLIED.to_vec()),
                    Some(upto.encode()),
                );
                // Replay at open starts at `upto`, so every deferred index entry of the
                // accepts before it goes into this commit.
                add_control_ids(&mut batch, self.recent_control_ids.snapshot());
                let committed = self.commit_durably(batch);
                if committed.is_ok() {
                    self.recent_control_ids.written();
                }
                committed
            }
            None if self.dirty || self.durable_by.is_some() => self.sync_db(),
            None => Ok(()),
        };
        if synced.is_ok()
            && let (Some(upto), Some(dir)) = (upto, &self.journal_dir)
        {
            match segment_gc::tidy(self.kv.as_ref(), dir, upto.segment) {
                Ok(tidied) => {
                    self.dirty |= tidied.committed();
                    if let Some((segment, messages)) = tidied.compacted {
                        tracing::info!(
                            segment,
                            messages,
                            "Moved the last messages of a mostly pruned journal segment into the database."
                        );
                    }
                }
                Err(error) => {
                    tracing::error!(%error, "Cannot tidy the store journal's segments.");
                }
            }
        }
        for reply in replies {
            let _ = reply.send(synced.clone());
        }
    }

    /// Stages one piece of work. `Some(Ok(done))`: merge its changes (and report `done` after
    /// the commit); `Some(Err(()))`: it failed and its caller was told; `None`: nothing to
    /// stage (it was noted in `needs`).
    fn stage(
        &mut self,
        tx: &mut Tx<'_>,
        next: &mut Counters,
        item: Work,
        needs: &mut Needs,
    ) -> Option<Result<Option<Done>, ()>> {
        let (result, on_error): (Result<Option<Done>, StoreError>, Option<Done>) = match item {
            Work::Accept {
                id,
                msg,
                sources,
                now_ms,
                body,
                reply,
                durable,
                max_delay_ms,
                wake,
                in_flight,
            } => {
                needs.in_flight.extend(in_flight);
                match ops::accept(tx, next, id, *msg, &sources, now_ms, body) {
                    Ok(id) => {
                        if let Some(at) = body {
                            self.referenced.insert(at.segment);
                        }
                        needs.wake.extend(wake);
                        needs.durable |= durable;
                        if let Some(ms) = max_delay_ms {
                            min_delay(&mut needs.delay_ms, ms);
                        }
                        match reply {
                            Some(reply) => (Ok(Some(Done::Id(reply, id))), None),
                            None => {
                                needs.journaled = true;
                                (Ok(None), None)
                            }
                        }
                    }
                    Err(error) => {
                        if reply.is_none() {
                            tracing::error!(%error, id, "A journaled message cannot be applied to the database; it stays in the journal.");
                            self.keep_journal = true;
                        }
                        (Err(error), reply.map(|r| Done::Id(r, id)))
                    }
                }
            }
            Work::Bookkeeping { item, now_ms } => {
                if !matches!(item, Bookkeeping::Reclaim { .. }) {
                    min_delay(&mut needs.delay_ms, BOOKKEEPING_MAX_DELAY_MS);
                }
                match item {
                    Bookkeeping::Attempt {
                        channel,
                        destination,
                        id,
                        attempt,
                        next: step,
                        reply,
                    } => match ops::record_attempt(
                        tx,
                        &channel,
                        &destination,
                        id,
                        &attempt,
                        step,
                        now_ms,
                    ) {
                        Ok(()) => (Ok(Some(Done::Unit(reply))), None),
                        Err(e) => (Err(e), Some(Done::Unit(reply))),
                    },
                    Bookkeeping::Replay {
                        id,
                        destination,
                        reply,
                    } => match ops::replay(tx, next, id, destination.as_deref(), now_ms) {
                        Ok(()) => (Ok(Some(Done::Unit(reply))), None),
                        Err(e) => (Err(e), Some(Done::Unit(reply))),
                    },
                    Bookkeeping::Prune {
                        channel,
                        policy,
                        now_ms,
                        limit,
                        reply,
                    } => match ops::prune_chunk(
                        tx,
                        &channel,
                        &policy,
                        now_ms,
                        limit,
                        self.journal_dir.as_deref(),
                    ) {
                        Ok(value) => (Ok(Some(Done::Pruned(reply, value))), None),
                        Err(e) => (Err(e), Some(Done::Pruned(reply, (0, true)))),
                    },
                    Bookkeeping::Reclaim { reply } => {
                        needs.reclaims.push(reply);
                        return None;
                    }
                }
            }
            Work::Checkpoint { upto, replies } => {
                needs.checkpoints.push((upto, replies));
                return None;
            }
        };
        match result {
            Ok(done) => Some(Ok(done)),
            Err(error) => {
                if let Some(failed) = on_error {
                    failed.send(Err(error));
                }
                Some(Err(()))
            }
        }
    }
}

fn is_prune(work: &Work) -> bool {
    matches!(
        work,
        Work::Bookkeeping {
            item: Bookkeeping::Prune { .. },
            ..
        }
    )
}

/// Stages deferred control-id index entries into `batch`.
fn add_control_ids(batch: &mut Batch, entries: Vec<recent_control_ids::ControlIdEntry>) {
    for (key, received_at_ms) in entries {
        batch.changes.insert(
            (Table::ByControl, key),
            Some(received_at_ms.to_be_bytes().to_vec()),
        );
    }
}

/// Answers work that could not even be attempted. True if it was a journaled accept (which
/// the journal must then keep).
fn fail(item: Work, error: StoreError, needs: &mut Needs) -> bool {
    match item {
        Work::Accept {
            reply, in_flight, ..
        } => {
            needs.in_flight.extend(in_flight);
            match reply {
                Some(reply) => {
                    let _ = reply.send(Err(error));
                }
                None => return true,
            }
        }
        Work::Bookkeeping { item, .. } => match item {
            Bookkeeping::Attempt { reply, .. } | Bookkeeping::Replay { reply, .. } => {
                let _ = reply.send(Err(error));
            }
            Bookkeeping::Prune { reply, .. } => {
                let _ = reply.send(Err(error));
            }
            Bookkeeping::Reclaim { reply } => {
                let _ = reply.send(Err(error));
            }
        },
        Work::Checkpoint { replies, .. } => {
            for reply in replies {
                let _ = reply.send(Err(error.clone()));
            }
        }
    }
    false
}
