//! What flows into the store's two threads: the requests callers send to the writer
//! ([`Request`]), and the work the writer hands on, in order, to the applier ([`Work`]).

use std::sync::Arc;

use tokio::sync::{Notify, oneshot};

use super::bodies::{BodyRef, JournalPos};
use super::error::StoreError;
use super::in_flight;
use super::model::{Attempt, Durability, MessageId, NewMessage, NextStep, PrunePolicy};
use super::record::PayloadSource;
use super::shared_writer::Lane;

/// What an accept's metadata (names, ids, handles) is counted as in the applier's backlog:
/// about what it takes in memory, rounded up.
const ACCEPT_OVERHEAD: usize = 512;

/// One write request.
pub(crate) enum Request {
    /// Store a new message.
    Accept {
        /// Boxed: the other requests are a fraction of its size.
        msg: Box<NewMessage>,
        durability: Durability,
        reply: Reply<MessageId>,
        /// Woken once the message is in its queues.
        wake: Vec<Arc<Notify>>,
        /// Keeps the control id in the in-flight set until the message is in the database.
        in_flight: Option<in_flight::Guard>,
        /// The caller's own order, if it keeps one ([`Lane`]).
        lane: Option<Lane>,
    },
    /// Delivery bookkeeping or maintenance, passed on to the applier.
    Bookkeeping(Bookkeeping),
    /// Make everything durable.
    Flush { reply: Reply<()> },
    /// Nothing to do: wakes the writer thread to look at a deadline a caller set.
    Wake,
}

impl Request {
    /// The message bytes a request carries, for the group size cap.
    pub(crate) fn weight(&self) -> usize {
        match self {
            Request::Accept { msg, .. } => message_weight(msg),
            Request::Bookkeeping(Bookkeeping::Attempt { attempt, .. }) => {
                attempt.response.as_ref().map_or(0, Vec::len)
            }
            _ => 0,
        }
    }
}

/// The bulk bytes of a message: raw, transformed and every destination's payload.
fn message_weight(msg: &NewMessage) -> usize {
    msg.raw.len()
        + msg.transformed.as_ref().map_or(0, Vec::len)
        + msg
            .deliveries
            .iter()
            .map(|d| d.payload.len())
            .sum::<usize>()
}

/// The caller's side of a request.
pub(crate) type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// Delivery bookkeeping and maintenance: handed from the writer to the applier as they came
/// (the writer only adds its clock), and answered after the commit.
pub(crate) enum Bookkeeping {
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
    /// Give free space back to the file system.
    Reclaim { reply: Reply<bool> },
}

/// One piece of work for the database, in the writer's order.
pub(crate) enum Work {
    /// A new message, journaled (then `reply` is `None`: the writer answered) or not.
    Accept {
        id: MessageId,
        /// Boxed: the other work is a fraction of its size. Without its bulk bytes once
        /// they are journaled ([`record::drop_bulk`](super::record::drop_bulk)).
        msg: Box<NewMessage>,
        /// Where each destination's payload comes from.
        sources: Vec<PayloadSource>,
        now_ms: u64,
        /// Its journal record, which keeps its bytes (`None` without a journal).
        body: Option<BodyRef>,
        reply: Option<Reply<MessageId>>,
        /// Without a journal: the commit must be durable before `reply`.
        durable: bool,
        /// Without a journal, with `Interval`: durable within this many ms.
        max_delay_ms: Option<u64>,
        /// Woken once the message is visible in its queues.
        wake: Vec<Arc<Notify>>,
        /// Keeps the control id in the in-flight set until the message is visible.
        in_flight: Option<in_flight::Guard>,
    },
    /// Delivery bookkeeping or maintenance, with the writer's clock when it arrived.
    Bookkeeping { item: Bookkeeping, now_ms: u64 },
    /// Make the database durable and record that it holds every journal record before
    /// `upto` (the writer's position when it asked); then segments nobody refers to may go.
    Checkpoint {
        upto: Option<JournalPos>,
        replies: Vec<Reply<()>>,
    },
}

impl Work {
    /// A journaled accept: its sender was answered already, and nobody waits for this work.
    pub(crate) fn is_unawaited(&self) -> bool {
        matches!(self, Work::Accept { reply: None, .. })
    }

    /// The memory this work holds until it is applied, for the backlog cap: its bulk bytes, and
    /// for an accept a share for its metadata, so a backlog of journaled accepts (whose bytes
    /// are gone) stays bounded too.
    pub(crate) fn weight(&self) -> usize {
        match self {
            Work::Accept { msg, .. } => ACCEPT_OVERHEAD + message_weight(msg),
            Work::Bookkeeping {
                item: Bookkeeping::Attempt { attempt, .. },
                ..
            } => attempt.response.as_ref().map_or(0, Vec::len),
            _ => 0,
        }
    }
}
