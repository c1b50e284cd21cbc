//! The writer thread: every write of the store goes through it, and concurrent writes share one
//! commit (group commit).
//!
//! Why a dedicated OS thread and not a tokio task: a durable commit blocks in `fsync` for
//! milliseconds (about 5–6 ms on the reference disk), and blocking a runtime worker that long
//! would stall unrelated connections. The thread owns the write side of the backend; readers go
//! to the backend directly.
//!
//! The loop: wait for a request; then take every other request already waiting (up to a cap);
//! apply each to an overlay in arrival order; append the group's accepts to the journal with
//! **one** write (and one `fdatasync` if any of them needs it); commit the whole group to the
//! database in **one** non-durable transaction; and only then answer each caller through its
//! oneshot channel. While one group is syncing, the next requests pile up in the channel and
//! form the next group, so the number of syncs per second stays near `1 / sync time` however
//! many writers there are, and each sync carries more messages as load grows.
//!
//! Durability per request:
//! - `accept` with [`Durability::Sync`] and [`Request::Flush`] sync the journal before anyone
//!   in the group is answered; a flush also makes the database durable (a checkpoint).
//! - `accept` with [`Durability::Interval`] is written to the journal without a sync and sets a
//!   deadline; the thread syncs the journal when the deadline passes (or earlier, with the next
//!   sync).
//! - Delivery bookkeeping (attempts, replays, prunes) is not journaled: it commits without
//!   syncing and is made durable by a checkpoint within [`BOOKKEEPING_MAX_DELAY_MS`]. Losing it
//!   in a crash costs at most a second delivery of a message already sent (at-least-once allows
//!   that) or a replay to redo; it never loses a message.
//! - A checkpoint (a durable database commit, then emptying the journal) also runs every
//!   2 s while accepts come in and when the journal reaches 64 MiB.
//!
//! Without a journal (unit tests over the in-memory backend) accepts make the database commit
//! durable instead, as before the journal existed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::oneshot;

use super::error::StoreError;
use super::journal::{self, Journal};
use super::kv::{Batch, Kv};
use super::model::{Attempt, Durability, MessageId, NewMessage, NextStep, PrunePolicy};
use super::ops::{self, Counters, Tx};

/// Delivery bookkeeping is durable within this delay (see the module docs).
pub(crate) const BOOKKEEPING_MAX_DELAY_MS: u64 = 200;

/// At most this many requests go into one commit, so one commit's latency stays bounded.
const MAX_GROUP_REQUESTS: usize = 1024;
/// ... and at most about this many bytes of message content.
const MAX_GROUP_BYTES: usize = 64 * 1024 * 1024;

/// With the journal, the database is made durable (a checkpoint, which empties the journal)
/// at least this often while accepts come in ...
const CHECKPOINT_INTERVAL_MS: u64 = 2_000;
/// ... and whenever the journal has grown to this many bytes, so replay at open stays short.
const CHECKPOINT_JOURNAL_BYTES: u64 = 64 * 1024 * 1024;

/// After a failed background sync, try again after this long.
const SYNC_RETRY: Duration = Duration::from_secs(1);

/// The caller's side of a request.
type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// One write request.
pub(crate) enum Request {
    /// Store a new message.
    Accept {
        msg: NewMessage,
        durability: Durability,
        reply: Reply<MessageId>,
    },
    /// Record a delivery attempt.
    Attempt {
        channel: String,
        destination: String,
        id: MessageId,
        attempt: Attempt,
        next: NextStep,
        reply: Reply<()>,
    },
    /// Re-queue a message.
    Replay {
        id: MessageId,
        destination: Option<String>,
        reply: Reply<()>,
    },
    /// Delete up to `limit` prunable messages.
    Prune {
        channel: String,
        policy: PrunePolicy,
        now_ms: u64,
        limit: usize,
        reply: Reply<(u64, bool)>,
    },
    /// Make everything durable.
    Flush { reply: Reply<()> },
    /// Give free space back to the file system.
    Reclaim { reply: Reply<bool> },
}

impl Request {
    /// The message bytes a request carries, for the group size cap.
    fn weight(&self) -> usize {
        match self {
            Request::Accept { msg, .. } => {
                msg.raw.len()
                    + msg.transformed.as_ref().map_or(0, Vec::len)
                    + msg
                        .deliveries
                        .iter()
                        .map(|d| d.payload.len())
                        .sum::<usize>()
            }
            Request::Attempt { attempt, .. } => attempt.response.as_ref().map_or(0, Vec::len),
            _ => 0,
        }
    }
}

/// A success waiting for the group's commit before it may be reported.
enum Done {
    Id(Reply<MessageId>, MessageId),
    Unit(Reply<()>),
    Pruned(Reply<(u64, bool)>, (u64, bool)),
}

impl Done {
    fn send_ok(self) {
        // A caller that stopped waiting (its future was dropped) is not an error: the write
        // is committed either way.
        match self {
            Done::Id(reply, id) => {
                let _ = reply.send(Ok(id));
            }
            Done::Unit(reply) => {
                let _ = reply.send(Ok(()));
            }
            Done::Pruned(reply, value) => {
                let _ = reply.send(Ok(value));
            }
        }
    }

    fn send_err(self, error: StoreError) {
        match self {
            Done::Id(reply, _) => {
                let _ = reply.send(Err(error));
            }
            Done::Unit(reply) => {
                let _ = reply.send(Err(error));
            }
            Done::Pruned(reply, _) => {
                let _ = reply.send(Err(error));
            }
        }
    }
}

/// Milliseconds since the Unix epoch by the system clock (0 if the clock is before 1970).
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The writer thread's state.
pub(crate) struct Writer {
    kv: Arc<dyn Kv>,
    rx: Receiver<Request>,
    counters: Counters,
    /// Commits made (exposed for tests and metrics: how well group commit batches).
    commits: Arc<AtomicU64>,
    /// The accept journal; `None` only in unit tests over an in-memory backend, where accepts
    /// are made durable by durable database commits as before the journal existed.
    journal: Option<Journal>,
    /// When the oldest non-durable database commit must be made durable, if there is one.
    durable_by: Option<Instant>,
    /// When the oldest unsynced journal record must be synced, if there is one.
    journal_sync_by: Option<Instant>,
}

/// What one group asks for beyond its changes.
#[derive(Default)]
struct Needs {
    /// An accept with [`Durability::Sync`]: durable before anyone is answered.
    sync: bool,
    /// The shortest `max_delay_ms` of the group's interval accepts.
    accept_delay_ms: Option<u64>,
    /// The shortest delay of the group's bookkeeping (attempts, replays, prunes).
    bookkeeping_delay_ms: Option<u64>,
    /// Callers of [`Request::Flush`]: everything durable, database included.
    flushes: Vec<Reply<()>>,
}

fn min_delay(slot: &mut Option<u64>, ms: u64) {
    *slot = Some(slot.map_or(ms, |d| d.min(ms)));
}

fn earlier(slot: &mut Option<Instant>, deadline: Instant) {
    *slot = Some(slot.map_or(deadline, |d| d.min(deadline)));
}

impl Writer {
    pub(crate) fn new(
        kv: Arc<dyn Kv>,
        rx: Receiver<Request>,
        counters: Counters,
        commits: Arc<AtomicU64>,
        journal: Option<Journal>,
    ) -> Self {
        Writer {
            kv,
            rx,
            counters,
            commits,
            journal,
            durable_by: None,
            journal_sync_by: None,
        }
    }

    /// Runs until every sender is gone, then makes everything durable and returns.
    pub(crate) fn run(mut self) {
        loop {
            // Deadlines are checked before every group, so a steady stream of requests cannot
            // postpone them.
            let now = Instant::now();
            if self.durable_by.is_some_and(|d| d <= now) {
                self.checkpoint();
            }
            if self.journal_sync_by.is_some_and(|d| d <= now) {
                self.sync_journal();
            }
            let deadline = match (self.durable_by, self.journal_sync_by) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let first = match deadline {
                Some(deadline) => {
                    let wait = deadline.saturating_duration_since(Instant::now());
                    match self.rx.recv_timeout(wait) {
                        Ok(request) => request,
                        Err(RecvTimeoutError::Timeout) => continue,
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
                None => match self.rx.recv() {
                    Ok(request) => request,
                    Err(_) => break,
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
            self.commit_group(group);
        }
        // Shutdown: whatever is not durable yet is made durable now.
        if self.durable_by.is_some() || self.journal.as_ref().is_some_and(|j| j.len() > 0) {
            if let Err(error) = self.kv.sync() {
                tracing::error!(%error, "Store sync at shutdown failed.");
                self.sync_journal();
            } else if let Some(journal) = self.journal.as_mut()
                && let Err(error) = journal.reset()
            {
                tracing::error!(%error, "Emptying the store journal at shutdown failed.");
            }
        }
    }

    /// Makes the database durable and empties the journal, whose records it now holds.
    fn checkpoint(&mut self) {
        match self.kv.sync() {
            Ok(()) => {
                self.durable_by = None;
                if let Some(journal) = self.journal.as_mut() {
                    match journal.reset() {
                        Ok(()) => self.journal_sync_by = None,
                        Err(error) => tracing::error!(%error, "Emptying the store journal failed."),
                    }
                }
            }
            Err(error) => {
                tracing::error!(%error, "Store background sync failed; retrying.");
                self.durable_by = Some(Instant::now() + SYNC_RETRY);
            }
        }
    }

    /// Syncs journal records whose durability deadline has passed.
    fn sync_journal(&mut self) {
        let Some(journal) = self.journal.as_mut() else {
            self.journal_sync_by = None;
            return;
        };
        match journal.sync() {
            Ok(()) => self.journal_sync_by = None,
            Err(error) => {
                tracing::error!(%error, "Store journal sync failed; retrying.");
                self.journal_sync_by = Some(Instant::now() + SYNC_RETRY);
            }
        }
    }

    /// Applies a group of requests, journals its accepts, and commits them once.
    fn commit_group(&mut self, group: Vec<Request>) {
        let snapshot = match self.kv.snapshot() {
            Ok(snapshot) => snapshot,
            Err(error) => {
                for request in group {
                    fail(request, error.clone());
                }
                return;
            }
        };
        let now = now_ms();
        let journaling = self.journal.is_some();
        let mut records = Vec::new();
        let mut batch = Batch::default();
        let mut counters = self.counters;
        let mut done = Vec::with_capacity(group.len());
        let mut needs = Needs::default();
        let mut reclaims = Vec::new();

        for request in group {
            // Each request stages into its own overlay; only a success is merged.
            let mut tx = Tx::new(snapshot.as_ref(), &batch);
            let mut next = counters;
            let outcome = match request {
                Request::Accept {
                    msg,
                    durability,
                    reply,
                } => {
                    let mark = records.len();
                    let journaled = if journaling {
                        journal::encode_accept(&mut records, next.next_id, now, &msg)
                    } else {
                        Ok(())
                    };
                    match journaled.and_then(|()| ops::accept(&mut tx, &mut next, msg, now)) {
                        Ok(id) => {
                            match durability {
                                Durability::Sync => needs.sync = true,
                                Durability::Interval { max_delay_ms } => {
                                    min_delay(&mut needs.accept_delay_ms, max_delay_ms)
                                }
                            }
                            Ok(Done::Id(reply, id))
                        }
                        Err(e) => {
                            records.truncate(mark);
                            Err((Done::Id(reply, 0), e))
                        }
                    }
                }
                Request::Attempt {
                    channel,
                    destination,
                    id,
                    attempt,
                    next: step,
                    reply,
                } => match ops::record_attempt(
                    &mut tx,
                    &channel,
                    &destination,
                    id,
                    &attempt,
                    step,
                    now,
                ) {
                    Ok(()) => {
                        min_delay(&mut needs.bookkeeping_delay_ms, BOOKKEEPING_MAX_DELAY_MS);
                        Ok(Done::Unit(reply))
                    }
                    Err(e) => Err((Done::Unit(reply), e)),
                },
                Request::Replay {
                    id,
                    destination,
                    reply,
                } => match ops::replay(&mut tx, &mut next, id, destination.as_deref(), now) {
                    Ok(()) => {
                        min_delay(&mut needs.bookkeeping_delay_ms, BOOKKEEPING_MAX_DELAY_MS);
                        Ok(Done::Unit(reply))
                    }
                    Err(e) => Err((Done::Unit(reply), e)),
                },
                Request::Prune {
                    channel,
                    policy,
                    now_ms,
                    limit,
                    reply,
                } => match ops::prune_chunk(&mut tx, &channel, &policy, now_ms, limit) {
                    Ok(result) => {
                        min_delay(&mut needs.bookkeeping_delay_ms, BOOKKEEPING_MAX_DELAY_MS);
                        Ok(Done::Pruned(reply, result))
                    }
                    Err(e) => Err((Done::Pruned(reply, (0, true)), e)),
                },
                Request::Flush { reply } => {
                    needs.flushes.push(reply);
                    continue;
                }
                Request::Reclaim { reply } => {
                    reclaims.push(reply);
                    continue;
                }
            };
            match outcome {
                Ok(success) => {
                    let staged: BTreeMap<_, _> = tx.into_staged();
                    batch.changes.extend(staged);
                    counters = next;
                    done.push(success);
                }
                // A failed request changed nothing; tell its caller now.
                Err((failed, error)) => failed.send_err(error),
            }
        }
        // redb cannot compact while a read transaction is open.
        drop(snapshot);

        // Ids and sequence numbers handed out in this group are never handed out again, even
        // if its commit failed: a failed fsync leaves it unknown whether the batch reached the
        // disk, and reusing an id could pair a new message with a stale index entry.
        self.counters = counters;
        let result = if journaling {
            self.commit_journaled(&records, batch, &needs)
        } else {
            self.commit_direct(batch, &needs)
        };
        match result {
            Ok(()) => {
                done.into_iter().for_each(Done::send_ok);
                for reply in needs.flushes {
                    let _ = reply.send(Ok(()));
                }
            }
            Err(error) => {
                tracing::error!(%error, requests = done.len(), "Store commit failed.");
                for failed in done {
                    failed.send_err(error.clone());
                }
                for reply in needs.flushes {
                    let _ = reply.send(Err(error.clone()));
                }
            }
        }

        if !reclaims.is_empty() {
            let result = self.kv.reclaim();
            for reply in reclaims {
                let _ = reply.send(result.clone());
            }
        }
    }

    /// With the journal: the accepts' records are written (and synced, if one of them or a
    /// flush asks for it) *before* the database sees the batch, so nothing is visible to
    /// readers (and delivered) that a crash could take back; the database commit itself is not
    /// durable, a checkpoint makes it so later.
    fn commit_journaled(
        &mut self,
        records: &[u8],
        batch: Batch,
        needs: &Needs,
    ) -> Result<(), StoreError> {
        let Some(journal) = self.journal.as_mut() else {
            return Ok(());
        };
        journal.append(records)?;
        if needs.sync || !needs.flushes.is_empty() {
            journal.sync()?;
            self.journal_sync_by = None;
        } else if let Some(ms) = needs.accept_delay_ms
            && journal.unsynced()
        {
            earlier(
                &mut self.journal_sync_by,
                Instant::now() + Duration::from_millis(ms),
            );
        }
        let journal_len = journal.len();
        if !batch.is_empty() {
            self.kv.apply(batch, false)?;
            self.commits.fetch_add(1, Ordering::Relaxed);
            let delay = match (records.is_empty(), needs.bookkeeping_delay_ms) {
                (false, Some(ms)) => ms.min(CHECKPOINT_INTERVAL_MS),
                (false, None) => CHECKPOINT_INTERVAL_MS,
                (true, Some(ms)) => ms,
                (true, None) => CHECKPOINT_INTERVAL_MS,
            };
            earlier(
                &mut self.durable_by,
                Instant::now() + Duration::from_millis(delay),
            );
        }
        if !needs.flushes.is_empty() || journal_len >= CHECKPOINT_JOURNAL_BYTES {
            if self.durable_by.is_some() {
                self.kv.sync()?;
            }
            self.durable_by = None;
            if let Some(journal) = self.journal.as_mut() {
                journal.reset()?;
            }
        }
        Ok(())
    }

    /// Without a journal: the database commit is the durability point.
    fn commit_direct(&mut self, batch: Batch, needs: &Needs) -> Result<(), StoreError> {
        let durable = needs.sync || !needs.flushes.is_empty();
        if !batch.is_empty() {
            self.kv.apply(batch, durable)?;
            self.commits.fetch_add(1, Ordering::Relaxed);
        } else if durable && self.durable_by.is_some() {
            self.kv.sync()?;
        }
        if durable {
            self.durable_by = None;
        } else if let Some(ms) = [needs.accept_delay_ms, needs.bookkeeping_delay_ms]
            .into_iter()
            .flatten()
            .min()
        {
            earlier(
                &mut self.durable_by,
                Instant::now() + Duration::from_millis(ms),
            );
        }
        Ok(())
    }
}

/// Answers a request that could not even be attempted.
fn fail(request: Request, error: StoreError) {
    match request {
        Request::Accept { reply, .. } => {
            let _ = reply.send(Err(error));
        }
        Request::Attempt { reply, .. }
        | Request::Replay { reply, .. }
        | Request::Flush { reply } => {
            let _ = reply.send(Err(error));
        }
        Request::Prune { reply, .. } => {
            let _ = reply.send(Err(error));
        }
        Request::Reclaim { reply } => {
            let _ = reply.send(Err(error));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;
    use crate::store::kv::mem::MemKv;
    use crate::store::model::{MessageMeta, MessageStatus, NewDelivery};

    fn msg(n: u32, destinations: &[&str]) -> NewMessage {
        NewMessage {
            channel: "ch".into(),
            peer: "peer".into(),
            received_at_ms: u64::from(n),
            raw: format!("raw {n}").into_bytes(),
            meta: MessageMeta::default(),
            status: MessageStatus::Queued,
            error: None,
            transformed: None,
            deliveries: destinations
                .iter()
                .map(|d| NewDelivery {
                    destination: (*d).into(),
                    payload: b"p".to_vec(),
                })
                .collect(),
        }
    }

    /// Queues `requests` *before* the writer starts, so they form one group deterministically.
    fn run_group(
        kv: &Arc<MemKv>,
        requests: Vec<Request>,
    ) -> (
        mpsc::Sender<Request>,
        std::thread::JoinHandle<()>,
        Arc<AtomicU64>,
    ) {
        let (sender, receiver) = mpsc::channel();
        for request in requests {
            sender.send(request).unwrap();
        }
        let commits = Arc::new(AtomicU64::new(0));
        let counters = Counters {
            next_id: 1,
            next_seq: 1,
        };
        let writer = Writer::new(
            Arc::clone(kv) as Arc<dyn Kv>,
            receiver,
            counters,
            Arc::clone(&commits),
            None,
        );
        (sender, std::thread::spawn(move || writer.run()), commits)
    }

    fn accept(
        n: u32,
        destinations: &[&str],
        durability: Durability,
    ) -> (Request, oneshot::Receiver<Result<MessageId, StoreError>>) {
        let (reply, answer) = oneshot::channel();
        let request = Request::Accept {
            msg: msg(n, destinations),
            durability,
            reply,
        };
        (request, answer)
    }

    #[test]
    fn a_group_commits_once_and_a_bad_request_spoils_nothing() {
        let kv = Arc::new(MemKv::default());
        let (good1, answer1) = accept(1, &["a"], Durability::Sync);
        let (bad, bad_answer) = accept(2, &["a", "a"], Durability::Sync);
        let (good2, answer2) = accept(3, &["a"], Durability::Sync);
        let (sender, handle, commits) = run_group(&kv, vec![good1, bad, good2]);
        assert_eq!(answer1.blocking_recv().unwrap().unwrap(), 1);
        assert!(matches!(
            bad_answer.blocking_recv().unwrap(),
            Err(StoreError::Invalid(_))
        ));
        // The failed request took no id.
        assert_eq!(answer2.blocking_recv().unwrap().unwrap(), 2);
        assert_eq!(commits.load(Ordering::SeqCst), 1);
        assert_eq!(kv.durable_applies.load(Ordering::SeqCst), 1);
        drop(sender);
        handle.join().unwrap();
    }

    #[test]
    fn a_failed_commit_fails_every_waiter_and_its_ids_are_not_reused() {
        let kv = Arc::new(MemKv::default());
        kv.fail_commits.store(true, Ordering::SeqCst);
        let (first, answer1) = accept(1, &[], Durability::Sync);
        let (second, answer2) = accept(2, &[], Durability::Sync);
        let (sender, handle, commits) = run_group(&kv, vec![first, second]);
        assert!(matches!(
            answer1.blocking_recv().unwrap(),
            Err(StoreError::Backend { .. })
        ));
        assert!(matches!(
            answer2.blocking_recv().unwrap(),
            Err(StoreError::Backend { .. })
        ));
        assert_eq!(commits.load(Ordering::SeqCst), 0);

        kv.fail_commits.store(false, Ordering::SeqCst);
        let (third, answer3) = accept(3, &[], Durability::Sync);
        sender.send(third).unwrap();
        assert_eq!(
            answer3.blocking_recv().unwrap().unwrap(),
            3,
            "ids 1 and 2 went to the failed commit"
        );
        drop(sender);
        handle.join().unwrap();
    }

    #[test]
    fn interval_commits_are_synced_by_their_deadline_and_at_shutdown() {
        let kv = Arc::new(MemKv::default());
        let (request, answer) = accept(1, &[], Durability::Interval { max_delay_ms: 10 });
        let (sender, handle, _) = run_group(&kv, vec![request]);
        answer.blocking_recv().unwrap().unwrap();
        assert_eq!(
            kv.durable_applies.load(Ordering::SeqCst),
            0,
            "committed without a sync"
        );
        let deadline = Instant::now() + Duration::from_secs(5);
        while kv.syncs.load(Ordering::SeqCst) == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(
            kv.syncs.load(Ordering::SeqCst),
            1,
            "synced after max_delay_ms"
        );

        let (request, answer) = accept(
            2,
            &[],
            Durability::Interval {
                max_delay_ms: 60_000,
            },
        );
        sender.send(request).unwrap();
        answer.blocking_recv().unwrap().unwrap();
        drop(sender);
        handle.join().unwrap();
        assert_eq!(kv.syncs.load(Ordering::SeqCst), 2, "synced at shutdown");
    }

    #[test]
    fn flush_syncs_only_when_something_is_pending() {
        let kv = Arc::new(MemKv::default());
        let (reply, answer) = oneshot::channel();
        let (sender, handle, _) = run_group(&kv, vec![Request::Flush { reply }]);
        answer.blocking_recv().unwrap().unwrap();
        assert_eq!(kv.syncs.load(Ordering::SeqCst), 0);
        let (request, answer) = accept(
            1,
            &[],
            Durability::Interval {
                max_delay_ms: 60_000,
            },
        );
        sender.send(request).unwrap();
        answer.blocking_recv().unwrap().unwrap();
        let (reply, answer) = oneshot::channel();
        sender.send(Request::Flush { reply }).unwrap();
        answer.blocking_recv().unwrap().unwrap();
        assert_eq!(kv.syncs.load(Ordering::SeqCst), 1);
        drop(sender);
        handle.join().unwrap();
        assert_eq!(
            kv.syncs.load(Ordering::SeqCst),
            1,
            "nothing left to sync at shutdown"
        );
    }
}
