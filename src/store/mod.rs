//! The durable store: messages with every stage's content, per-destination FIFO queues with
//! retries and dead letters, attempts, counts, the duplicate index, and pruning.
//!
//! Everything persistent goes through [`Store`]. Its guarantee is the engine's: **acknowledged
//! means durable**. [`Store::accept`] returns only after the message and its queue entries are
//! on disk (fsync), and concurrent accepts share one write and one sync (group commit), so
//! durability costs one disk sync per batch, not per message. The durability point is an
//! append-only, segmented journal (`journal`); a second thread puts the same changes into the
//! database as cheap non-durable commits, and a periodic checkpoint makes them durable and
//! records how far the journal is applied, which is where replay at open starts. The message
//! bytes themselves stay in the journal (`bodies`): the database keeps where each record is, and
//! a segment is deleted once no stored message refers to it. Reads see everything acknowledged
//! (they wait, briefly, for the database to catch up: `progress`).
//!
//! Layers, bottom up:
//! - `kv`: a small ordered key-value seam (named tables, get, range scans both ways, atomic
//!   batches with a durability flag), with two backends: `redb_kv` (the default) and `sled_kv`
//!   (cargo feature `sled`; made durable by an explicit fdatasync, see its docs).
//! - `keys`: big-endian key encodings, so range scans walk queues and histories in order.
//! - `record` and `record_codec`: the stored records (binary metadata, JSON in stores written
//!   by earlier versions; bulk bytes kept as separate raw values).
//! - `tx`: one request's staging area over the group's batch and the committed state.
//! - `recent_control_ids`: control-id index entries waiting for the next checkpoint.
//! - `ops`: the write operations, with every index and counter kept in the same batch.
//! - `journal` and `journal_record`: the checksummed accept log that an acknowledgement waits
//!   for: its segment files, and the format of one record.
//! - `bodies`: where a message's bytes are in the journal, and reading them back.
//! - `rehome` (under `ops`) and `segment_gc`: moving the bytes of long-kept messages into the
//!   database, and deleting or emptying segments nothing (or little) refers to.
//! - `writer`: the writer thread: numbering, the journal's group commit, answers.
//! - `applier`: the applier thread: database commits, wake-ups, checkpoints.
//! - `work`: the requests into the writer and the work it hands to the applier.
//! - `progress`: how far the database has caught up, for readers.
//! - `background_sync`: journal syncs nobody waits for (`interval` accepts).
//! - `page_cache`: synced journal pages leave the page cache (drop-behind).
//! - `handle` and `query`: the [`Store`] API, writes and reads.
//! - `conflicts`: parked sync conflicts (both versions of a record) and their resolution.
//! - `model`: the public types; no storage-crate type appears in this module's API, so a
//!   PostgreSQL backend can sit behind the same API later.
//!
//! ```no_run
//! # async fn demo() -> Result<(), ihub::store::StoreError> {
//! use ihub::store::*;
//!
//! let store = Store::open(std::path::Path::new("data"), Backend::Redb)?;
//! let id = store
//!     .accept(
//!         NewMessage {
//!             channel: "adt".into(),
//!             peer: "10.0.0.5:51234".into(),
//!             received_at_ms: 1_700_000_000_000,
//!             raw: bytes::Bytes::from_static(b"MSH|^~\\&|..."),
//!             meta: MessageMeta::default(),
//!             status: MessageStatus::Queued,
//!             error: None,
//!             transformed: None,
//!             deliveries: vec![NewDelivery { destination: "ehr".into(), payload: b"MSH|...".to_vec().into() }],
//!         },
//!         Durability::Sync,
//!     )
//!     .await?; // on disk now: safe to send the ACK
//! let head = store.next_delivery("adt", "ehr")?.expect("queued");
//! assert_eq!(head.message_id, id);
//! # Ok(()) }
//! ```

mod accept_batch;
mod applier;
mod background_sync;
mod bodies;
mod conflicts;
mod cpu_pacing;
mod error;
mod handle;
mod in_flight;
mod journal;
mod journal_record;
mod keys;
mod kv;
mod model;
mod ops;
mod page_cache;
mod progress;
mod query;
mod recent_control_ids;
mod record;
mod record_codec;
mod redb_kv;
mod segment_gc;
mod shared_writer;
#[cfg(feature = "sled")]
mod sled_kv;
mod tx;
mod work;
mod writer;

pub use accept_batch::AcceptBatch;
pub use conflicts::{ConflictChoice, ConflictId, ConflictRecord, ConflictResolution, NewConflict};
pub use error::{Source, StoreError};
pub use handle::{Accepting, Store};
pub use model::{
    Attempt, Backend, ChannelCounts, Delivery, DeliveryStatus, DiskUsage, DueDeliveries,
    Durability, MessageFilter, MessageId, MessageMeta, MessageStatus, MessageSummary, NewDelivery,
    NewMessage, NextStep, PrunePolicy, QueueStats, StoredDelivery, StoredMessage, UnknownBackend,
    UnknownStatus,
};
pub use shared_writer::Lane;
