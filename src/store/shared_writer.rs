//! [`SharedWriter`]: the writer's state behind a lock, so that a caller can journal its own
//! `interval` accepts without the hop to the writer thread and back (see the `writer` module
//! docs), and the counts of accepts waiting in the thread's channel that keep that in order:
//! one for everybody, and one per [`Lane`].

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::work::Request;
use super::writer::{RECORD_HEADER_GUESS, WriterState};

/// One caller's order of hand-overs, kept across its batches: a connection's frames. A batch
/// in a lane is journaled on the caller's thread when nothing *of that lane* waits in the
/// writer thread's channel; other callers' accepts waiting there (which it may overtake: they
/// were not answered yet, so no sender can have seen them first) do not send it there too.
/// Without a lane a batch waits behind everything in the channel.
///
/// Why: with one count for everybody, one accept that had to go through the thread (its
/// lock was busy for a moment) sent every other connection's accepts the same way until the
/// thread had caught up; at 16 sequential connections a third of all accepts took that hop.
#[derive(Clone, Default)]
pub struct Lane(Arc<AtomicI64>);

impl Lane {
    fn add(&self, accepts: i64) {
        self.0.fetch_add(accepts, Ordering::SeqCst);
    }

    fn waiting(&self) -> bool {
        self.0.load(Ordering::SeqCst) > 0
    }
}

/// The writer's state behind a mutex, and how many accepts wait in its channel.
pub(crate) struct SharedWriter {
    state: Mutex<WriterState>,
    /// Accepts sent to the writer thread and not yet numbered, in any lane or none (signed:
    /// tests send without counting).
    queued: AtomicI64,
}

impl SharedWriter {
    pub(super) fn new(state: WriterState) -> Self {
        SharedWriter {
            state: Mutex::new(state),
            queued: AtomicI64::new(0),
        }
    }

    /// The state, for the writer thread (which waits for a caller that holds it).
    pub(super) fn lock(&self) -> MutexGuard<'_, WriterState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts accepts (of `lane`, if any) about to be sent to the writer thread (undone by the
    /// thread once it has numbered them).
    pub(crate) fn queue(&self, accepts: usize, lane: Option<&Lane>) {
        let accepts = i64::try_from(accepts).unwrap_or(i64::MAX);
        self.queued.fetch_add(accepts, Ordering::SeqCst);
        if let Some(lane) = lane {
            lane.add(accepts);
        }
    }

    /// Called by the writer thread once it has numbered `accepts` of those; `lanes` holds the
    /// lane of each of them that has one.
    pub(super) fn numbered(&self, accepts: usize, lanes: &[Lane]) {
        for lane in lanes {
            lane.add(-1);
        }
        self.queued
            .fetch_sub(i64::try_from(accepts).unwrap_or(i64::MAX), Ordering::SeqCst);
    }

    /// Takes back [`SharedWriter::queue`] for an accept that could not be sent.
    pub(crate) fn unqueue(&self, lane: Option<&Lane>) {
        if let Some(lane) = lane {
            lane.add(-1);
        }
        self.queued.fetch_sub(1, Ordering::SeqCst);
    }

    /// Whether accepts that `lane` (or, without one, anybody) sent wait in the channel.
    fn waiting(&self, lane: Option<&Lane>) -> bool {
        match lane {
            Some(lane) => lane.waiting(),
            None => self.queued.load(Ordering::SeqCst) > 0,
        }
    }

    /// Journals `interval` accepts on the caller's thread, as one group, with no hop to the
    /// writer thread and back, when that keeps every order: nothing sent to the writer thread
    /// in `lane` (or, without one, by anybody) waits to be numbered, nobody else holds the
    /// writer's state, the group fits in the journal segment, and the applier has room.
    /// Returns the requests when they must go to the writer thread after all, else whether
    /// that thread must be woken to see a new deadline.
    pub(crate) fn try_lead(
        &self,
        requests: Vec<Request>,
        lane: Option<&Lane>,
    ) -> Result<bool, Vec<Request>> {
        if self.waiting(lane) {
            return Err(requests);
        }
        let Ok(mut state) = self.state.try_lock() else {
            return Err(requests);
        };
        let bytes = requests
            .iter()
            .map(|r| r.weight() + RECORD_HEADER_GUESS)
            .sum();
        // Checked again: the thread may have taken them from the channel and be waiting for
        // the lock to number them.
        if self.waiting(lane) || !state.can_lead(bytes) {
            return Err(requests);
        }
        let before = state.deadline();
        state.handle_group(requests);
        let after = state.deadline();
        Ok(match (before, after) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(before), Some(after)) => after < before,
        })
    }
}
