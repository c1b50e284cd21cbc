//! [`Store`]: the handle the engine, the API and the CLI hold. Opening, the write API (which
//! goes through the writer thread) and shutdown live here; the read API is in `query.rs`.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::task::{Context, Poll};
use std::thread::JoinHandle;

use tokio::sync::{Notify, oneshot};

use super::bodies::{self, BodyRef, JournalPos};
use super::error::StoreError;
use super::in_flight::InFlight;
use super::journal::{self, Journal};
use super::keys;
use super::kv::{Batch, Kv, Snapshot, Table};
use super::model::{
    Attempt, Backend, DiskUsage, Durability, MessageId, NewMessage, NextStep, PrunePolicy,
};
use super::ops::{self, Counters, Tx};
use super::progress::Progress;
use super::recent_control_ids::RecentControlIds;
use super::record;
use super::redb_kv::RedbKv;
use super::shared_writer::SharedWriter;
use super::work::{Bookkeeping, Request};
use super::writer::Writer;

/// The schema this build writes. Bump it (with a migration) when a key or record layout
/// changes incompatibly. Version 2 keeps message bytes in the journal (`bodies.rs`), which
/// version 1 builds cannot read; version 3 writes message records in binary
/// (`record_codec.rs`), which version 2 builds cannot read.
const SCHEMA_VERSION: u32 = 3;
/// The oldest schema this build reads (as it is: versions 2 and 3 only added to it).
const OLDEST_SCHEMA_READ: u32 = 1;

/// Messages deleted per writer request while pruning: small enough that accepts queued behind
/// a prune wait for one short commit, not for the whole prune.
const PRUNE_CHUNK: usize = 500;

/// The durable message store: messages with every stage's content, per-destination FIFO queues,
/// attempts, counts and the duplicate index.
///
/// Cheap to clone (an `Arc` inside); `Send + Sync`. Writes go to one writer thread that batches
/// concurrent requests into one commit; reads go straight to the backend. Dropping the last
/// clone stops the writer, makes everything durable and closes the database (blocking briefly),
/// so the same directory can be opened again afterwards.
#[derive(Clone)]
pub struct Store {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) kv: Arc<dyn Kv>,
    pub(super) sender: Option<mpsc::Sender<Request>>,
    /// The writer's state, for `interval` accepts journaled on the caller's thread.
    pub(super) shared_writer: Arc<SharedWriter>,
    writer: Option<JoinHandle<()>>,
    commits: Arc<AtomicU64>,
    /// How far the database has caught up with what the writer answered (for reads).
    pub(super) progress: Arc<Progress>,
    pub(super) in_flight: Arc<InFlight>,
    /// Control-id index entries not in the database yet (readers ask it first).
    pub(super) recent_control_ids: Arc<RecentControlIds>,
    backend: Backend,
    pub(super) dir: PathBuf,
    /// Serialises conflict writes (id allocation and resolve-once), which bypass the writer.
    pub(super) conflict_lock: std::sync::Mutex<()>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the channel ends the writer's loop; joining waits for its final sync and for
        // its handle on the database, so the files are closed when the last Store is gone.
        self.sender = None;
        if let Some(writer) = self.writer.take()
            && writer.join().is_err()
        {
            tracing::error!("Store writer thread panicked.");
        }
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.inner.backend)
            .field("dir", &self.inner.dir)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the store in `dir` (created if missing) with `backend`, recovering from a crash if
    /// the last process died mid-write, and starts its writer thread.
    ///
    /// Each backend keeps its own file(s) in `dir` (`ihub.redb`, or `sled/`), so switching
    /// backends starts from an empty store rather than misreading the other's files.
    pub fn open(dir: &Path, backend: Backend) -> Result<Store, StoreError> {
        let kv: Arc<dyn Kv> = match backend {
            Backend::Redb => Arc::new(RedbKv::open(dir)?),
            #[cfg(feature = "sled")]
            Backend::Sled => Arc::new(super::sled_kv::SledKv::open(dir)?),
        };
        let (mut counters, applied) = init_schema(kv.as_ref())?;
        let recovered = Journal::recover(dir, applied)?;
        replay_journal(kv.as_ref(), dir, &mut counters, recovered.entries)?;
        // Never below the applied position: records there would be skipped at the next open
        // (only possible if segment files were deleted by hand).
        let journal = Journal::start(dir, recovered.last_segment.max(applied.segment))?;
        let commits = Arc::new(AtomicU64::new(0));
        let progress = Arc::new(Progress::default());
        let recent_control_ids = Arc::new(RecentControlIds::default());
        let (sender, receiver) = mpsc::channel();
        let writer = Writer::new(
            Arc::clone(&kv),
            receiver,
            counters,
            Arc::clone(&commits),
            Some(journal),
            Arc::clone(&progress),
        )
        .with_journal_dir(dir.to_path_buf())
        .with_recent_control_ids(Arc::clone(&recent_control_ids));
        let shared_writer = writer.shared();
        let handle = std::thread::Builder::new()
            .name("ihub-store-writer".into())
            .spawn(move || writer.run())
            .map_err(|e| StoreError::Open {
                path: dir.to_path_buf(),
                source: Arc::new(e),
            })?;
        tracing::debug!(backend = %backend, dir = %dir.display(), "Store opened.");
        Ok(Store {
            inner: Arc::new(Inner {
                kv,
                sender: Some(sender),
                shared_writer,
                writer: Some(handle),
                commits,
                progress,
                in_flight: Arc::default(),
                recent_control_ids,
                backend,
                dir: dir.to_path_buf(),
                conflict_lock: std::sync::Mutex::new(()),
            }),
        })
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.inner.backend
    }

    /// The store directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// The sizes of the store's files now: the database and the journal segments.
    pub fn disk_usage(&self) -> Result<DiskUsage, StoreError> {
        let dir = &self.inner.dir;
        let mut usage = DiskUsage::default();
        for (_, path) in journal::segments(dir)? {
            // A segment deleted meanwhile simply does not count.
            if let Ok(meta) = std::fs::metadata(&path) {
                usage.journal_bytes += meta.len();
                usage.journal_segments += 1;
            }
        }
        usage.database_bytes = match self.inner.backend {
            Backend::Redb => file_size(&dir.join(super::redb_kv::FILE_NAME))?,
            #[cfg(feature = "sled")]
            Backend::Sled => tree_size(&dir.join(super::sled_kv::DIR_NAME))?,
        };
        Ok(usage)
    }

    /// Write transactions committed since open: with group commit this grows much more slowly
    /// than the number of writes under concurrency (a test and a metric watch it).
    pub fn commit_count(&self) -> u64 {
        self.inner.commits.load(Ordering::Relaxed)
    }

    /// Sends a request to the writer and waits for its answer.
    async fn request<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Request,
    ) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        let sender = self.inner.sender.as_ref().ok_or(StoreError::WriterGone)?;
        sender
            .send(make(reply))
            .map_err(|_| StoreError::WriterGone)?;
        answer.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Stores a message and puts its deliveries at the tail of their destination queues.
    /// Returns its id only when the message and its queue entries are durable (with
    /// [`Durability::Sync`]; see [`Durability::Interval`] for the other). Concurrent callers
    /// share one commit and one sync (group commit).
    pub async fn accept(
        &self,
        msg: NewMessage,
        durability: Durability,
    ) -> Result<MessageId, StoreError> {
        self.submit(msg, durability).await
    }

    /// [`Store::accept`] in two halves: the message is handed to the writer *now*, so messages
    /// submitted one after another get ids, and queue places, in that order; the returned
    /// [`Accepting`] resolves when it is durable, as `accept` does. A connection that pipelines
    /// submits its frames in order and waits for several commits at once.
    pub fn submit(&self, msg: NewMessage, durability: Durability) -> Accepting {
        self.submit_waking(msg, durability, Vec::new(), true)
    }

    /// [`Store::submit`], and `wake` is notified once the message is in its queues (which is a
    /// moment after it is durable: a delivery worker woken by the answer could miss it).
    /// `in_flight`: whether [`Store::in_flight`] should see its control id until it is in the
    /// database; only a channel that detects duplicates asks, so the others skip the
    /// bookkeeping.
    pub fn submit_waking(
        &self,
        msg: NewMessage,
        durability: Durability,
        wake: Vec<Arc<Notify>>,
        in_flight: bool,
    ) -> Accepting {
        // Dropping the batch hands the message over.
        self.batch().stage(msg, durability, wake, in_flight)
    }

    /// Records a delivery attempt of `message_id` to `destination`, and moves its queue entry:
    /// [`NextStep::Sent`] and [`NextStep::DeadLetter`] remove it and set that destination's
    /// status; [`NextStep::RetryAt`] keeps its place with the new not-before time. The message's
    /// own status follows (`Error` if any destination is dead, `Sent` when all are sent).
    ///
    /// Committed (visible) when this returns; durable within 200 ms or with the next durable
    /// commit, whichever comes first: losing it in a crash means one more delivery of an already
    /// sent message, which at-least-once delivery allows.
    pub async fn record_attempt(
        &self,
        channel: &str,
        destination: &str,
        message_id: MessageId,
        attempt: Attempt,
        next: NextStep,
    ) -> Result<(), StoreError> {
        self.request(|reply| {
            Request::Bookkeeping(Bookkeeping::Attempt {
                channel: channel.to_owned(),
                destination: destination.to_owned(),
                id: message_id,
                attempt,
                next,
                reply,
            })
        })
        .await
    }

    /// Queues a message again at the tail: for every destination, or for one. A destination
    /// where it is still queued keeps its place. Attempts start again from zero (the history is
    /// kept).
    pub async fn replay(&self, id: MessageId, destination: Option<&str>) -> Result<(), StoreError> {
        self.request(|reply| {
            Request::Bookkeeping(Bookkeeping::Replay {
                id,
                destination: destination.map(str::to_owned),
                reply,
            })
        })
        .await
    }

    /// Deletes the channel's messages that `policy` no longer keeps, oldest first, and returns
    /// how many. Messages still queued are never deleted.
    ///
    /// The work is cut into chunks of 500 messages, each its own commit, so accepts are not held
    /// up. Freed space is reused by new writes at once; the file itself shrinks only when that
    /// is cheap enough: redb compacts when at least half of the file (and at least 8 MiB) is
    /// free and no read is in progress, and readers wait while it runs; sled has no compaction
    /// and frees segments in the background.
    pub async fn prune(
        &self,
        channel: &str,
        policy: &PrunePolicy,
        now_ms: u64,
    ) -> Result<u64, StoreError> {
        let mut deleted = 0;
        loop {
            let (count, done) = self
                .request(|reply| {
                    Request::Bookkeeping(Bookkeeping::Prune {
                        channel: channel.to_owned(),
                        policy: *policy,
                        now_ms,
                        limit: PRUNE_CHUNK,
                        reply,
                    })
                })
                .await?;
            deleted += count;
            if done {
                break;
            }
        }
        if deleted > 0 {
            // Pruning is rare: make the deletions durable now (one sync), then reclaim.
            self.flush().await?;
            let reclaimed = self
                .request(|reply| Request::Bookkeeping(Bookkeeping::Reclaim { reply }))
                .await?;
            tracing::debug!(channel, deleted, reclaimed, "Store pruned.");
        }
        Ok(deleted)
    }

    /// Whether a message of `channel` with `control_id` was submitted and is not in the
    /// database yet: the duplicate check's complement to the stored index, for messages a
    /// pipelining connection sent before this one, and for answered messages the database has
    /// not caught up with.
    pub fn in_flight(&self, channel: &str, control_id: &str) -> bool {
        self.inner.in_flight.contains(channel, control_id)
    }

    /// Makes everything committed so far durable (for shutdown, or before a backup).
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.request(|reply| Request::Flush { reply }).await
    }
}

/// A message handed to the writer by [`Store::submit`]: resolves to its id once it is durable
/// (or committed, with [`Durability::Interval`]). Dropping it does not withdraw the message.
#[derive(Debug)]
#[must_use = "the message is stored anyway; await this to know when it is durable"]
pub struct Accepting {
    pub(super) answer: Result<oneshot::Receiver<Result<MessageId, StoreError>>, StoreError>,
}

impl Future for Accepting {
    type Output = Result<MessageId, StoreError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.answer {
            Ok(answer) => Pin::new(answer)
                .poll(cx)
                .map(|got| got.map_err(|_| StoreError::WriterGone)?),
            Err(error) => Poll::Ready(Err(error.clone())),
        }
    }
}

/// The size of a file, 0 if it does not exist.
fn file_size(path: &Path) -> Result<u64, StoreError> {
    match std::fs::metadata(path) {
        Ok(meta) => Ok(meta.len()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(StoreError::io(path, e)),
    }
}

/// The total size of the files under `dir`.
#[cfg(feature = "sled")]
fn tree_size(dir: &Path) -> Result<u64, StoreError> {
    let mut total = 0;
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(StoreError::io(dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| StoreError::io(dir, e))?;
        let meta = entry
            .metadata()
            .map_err(|e| StoreError::io(entry.path(), e))?;
        total += if meta.is_dir() {
            tree_size(&entry.path())?
        } else {
            meta.len()
        };
    }
    Ok(total)
}

/// Applies the journal's accepts that the database does not hold yet (its durable state ends
/// before them: their ids are not below the next id it persisted), durably, in journal order.
/// Their bytes stay in the journal; the segments are synced first, since a process that died
/// may have left them in the page cache only.
fn replay_journal(
    kv: &dyn Kv,
    dir: &Path,
    counters: &mut Counters,
    entries: Vec<(u64, journal::Entry)>,
) -> Result<(), StoreError> {
    let snapshot = kv.snapshot()?;
    let mut batch = Batch::default();
    let mut replayed = 0u64;
    let mut segments = std::collections::BTreeSet::new();
    for (segment, entry) in entries {
        if entry.id < counters.next_id {
            // In the database already (a durable commit after the last checkpoint took it),
            // but its control-id index entry waited for the checkpoint the crash prevented.
            restore_control_id(snapshot.as_ref(), &mut batch, entry.id, &entry.msg)?;
            continue;
        }
        let mut next = *counters;
        let mut tx = Tx::new(snapshot.as_ref(), &batch);
        let body = BodyRef {
            segment,
            offset: entry.at,
            len: entry.len,
        };
        match ops::accept(
            &mut tx,
            &mut next,
            entry.id,
            entry.msg,
            &entry.sources,
            entry.now_ms,
            Some(body),
        ) {
            Ok(_) => {
                let staged = tx.into_staged();
                batch.changes.extend(staged);
                *counters = next;
                replayed += 1;
                segments.insert(segment);
            }
            // It was valid when it was accepted; if it is not now, report it and go on.
            Err(error) => {
                tracing::error!(%error, id = entry.id, "Cannot replay a journaled message.")
            }
        }
    }
    drop(snapshot);
    if batch.is_empty() {
        return Ok(());
    }
    bodies::sync_segments(dir, segments)?;
    kv.apply(batch, true)?;
    if replayed > 0 {
        tracing::info!(
            messages = replayed,
            "Store recovered messages from its journal."
        );
    }
    Ok(())
}

/// Puts back the control-id index entry of message `id`, journaled as `msg`, unless it was
/// pruned since.
fn restore_control_id(
    snapshot: &dyn Snapshot,
    batch: &mut Batch,
    id: MessageId,
    msg: &NewMessage,
) -> Result<(), StoreError> {
    if msg.meta.control_id.is_empty()
        || snapshot.get(Table::Messages, &keys::message(id))?.is_none()
    {
        return Ok(());
    }
    batch.changes.insert(
        (
            Table::ByControl,
            keys::by_control(&msg.channel, &msg.meta.control_id, id)?,
        ),
        Some(msg.received_at_ms.to_be_bytes().to_vec()),
    );
    Ok(())
}

/// Checks the schema version (writing this build's into a new or older store) and loads the
/// counters and the journal position the database holds everything before.
fn init_schema(kv: &dyn Kv) -> Result<(Counters, JournalPos), StoreError> {
    let snapshot = kv.snapshot()?;
    let schema = snapshot.get(Table::Meta, keys::META_SCHEMA)?;
    let applied = match snapshot.get(Table::Meta, keys::META_JOURNAL_APPLIED)? {
        None => JournalPos::default(),
        Some(bytes) => JournalPos::decode(&bytes)
            .ok_or_else(|| StoreError::corrupt("applied journal position", "not 16 bytes"))?,
    };
    let next_id = record::decode_counter(
        "next message id",
        snapshot.get(Table::Meta, keys::META_NEXT_ID)?.as_deref(),
    )?;
    let next_seq = record::decode_counter(
        "next queue sequence",
        snapshot.get(Table::Meta, keys::META_NEXT_SEQ)?.as_deref(),
    )?;
    drop(snapshot);
    let found = match schema {
        Some(bytes) => Some(
            <[u8; 4]>::try_from(bytes.as_slice())
                .map(u32::from_be_bytes)
                .map_err(|_| StoreError::corrupt("schema version", "not 4 bytes"))?,
        ),
        None => None,
    };
    match found {
        Some(found) if !(OLDEST_SCHEMA_READ..=SCHEMA_VERSION).contains(&found) => {
            return Err(StoreError::Schema {
                found,
                expected: SCHEMA_VERSION,
            });
        }
        Some(SCHEMA_VERSION) => {}
        _ => {
            let mut batch = Batch::default();
            batch.changes.insert(
                (Table::Meta, keys::META_SCHEMA.to_vec()),
                Some(SCHEMA_VERSION.to_be_bytes().to_vec()),
            );
            kv.apply(batch, true)?;
        }
    }
    // Ids and sequence numbers start at 1, so 0 never names a message.
    let counters = Counters {
        next_id: next_id.max(1),
        next_seq: next_seq.max(1),
    };
    Ok((counters, applied))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_is_clone_send_sync() {
        fn assert_traits<T: Clone + Send + Sync + 'static>() {}
        assert_traits::<Store>();
        assert_traits::<StoreError>();
    }
}
