//! [`SharedWriter`]: the writer's state behind a lock, so that a caller can journal its own
//! `interval` accepts without the hop to the writer thread and back (see the `writer` module
//! docs), the accepts a caller left for whoever held that lock, and the counts of accepts
//! waiting (in the thread's channel or left) that keep all that in order: one for everybody,
//! and one per [`Lane`].

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

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

/// The writer's state behind a mutex, the accepts left for its holder, and how many accepts
/// wait in its channel or were left.
pub(crate) struct SharedWriter {
    state: Mutex<WriterState>,
    /// Accepts sent to the writer thread or left for the holder of the state and not yet
    /// numbered, in any lane or none (signed: tests send without counting).
    queued: AtomicI64,
    /// `interval` accepts whose caller found the state locked and left them to be journaled
    /// by whoever held it ([`SharedWriter::try_lead`]), in the order they were left.
    left: Mutex<Vec<Request>>,
}

impl SharedWriter {
    pub(super) fn new(state: WriterState) -> Self {
        SharedWriter {
            state: Mutex::new(state),
            queued: AtomicI64::new(0),
            left: Mutex::new(Vec::new()),
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
    /// or left in `lane` (or, without one, by anybody) waits to be numbered, the group fits in
    /// the journal segment, and the applier has room. If another caller or the thread holds
    /// the state, the accepts are left for it: every holder journals what was left before it
    /// lets go, and looks again after, so the caller goes on without waiting for the lock or
    /// waking the thread (at 4 and 16 sequential connections one accept in seven to five found
    /// the lock taken, and each took the hop to the thread and back).
    ///
    /// Returns the requests when they must go to the writer thread after all, else whether
    /// that thread must be woken: to see a new deadline, or to take accepts left while the
    /// applier had no room.
    pub(crate) fn try_lead(
        &self,
        requests: Vec<Request>,
        lane: Option<&Lane>,
    ) -> Result<bool, Vec<Request>> {
        if self.waiting(lane) {
            return Err(requests);
        }
        let Ok(mut state) = self.state.try_lock() else {
            self.queue(requests.len(), lane);
            self.left().extend(requests);
            return Ok(self.take_over_left());
        };
        // Checked again: the thread may have taken them from the channel and be waiting for
        // the lock to number them.
        if self.waiting(lane) || !state.can_lead(group_bytes(&requests)) {
            return Err(requests);
        }
        let before = state.deadline();
        state.handle_group(requests);
        let mut wake = deadline_moved(before, state.deadline());
        wake |= self.journal_left(&mut state).is_none_or(|moved| moved);
        drop(state);
        wake |= self.take_over_left();
        Ok(wake)
    }

    /// Journals the accepts left so far, with `state` held. Returns whether that moved the
    /// deadline earlier, or `None` if they did not fit (the segment is full or the applier
    /// has no room: the writer thread waits for that, not a caller) and are still left.
    fn journal_left(&self, state: &mut WriterState) -> Option<bool> {
        let left = std::mem::take(&mut *self.left());
        if left.is_empty() {
            return Some(false);
        }
        if !state.can_lead(group_bytes(&left)) {
            let mut still_left = self.left();
            let newer = std::mem::replace(&mut *still_left, left);
            still_left.extend(newer);
            return None;
        }
        let before = state.deadline();
        self.handle_queued(state, left);
        Some(deadline_moved(before, state.deadline()))
    }

    /// After letting go of the state: journals what was left meanwhile, for as long as the
    /// state is free (a caller that finds it taken leaves the rest to its holder, who looks
    /// after letting go too), at most [`MAX_ROUNDS_FOR_OTHERS`] times, after which the writer
    /// thread takes the rest. Returns whether the writer thread must be woken.
    pub(super) fn take_over_left(&self) -> bool {
        let mut wake = false;
        let mut rounds = 0;
        while !self.left().is_empty() {
            if rounds == MAX_ROUNDS_FOR_OTHERS {
                return true;
            }
            rounds += 1;
            let Ok(mut state) = self.state.try_lock() else {
                break;
            };
            match self.journal_left(&mut state) {
                Some(moved) => wake |= moved,
                None => return true,
            }
        }
        wake
    }

    /// For the writer thread, with the state held: journals every accept left so far, waiting
    /// for room at the applier if need be (which is why callers leave those to the thread).
    pub(super) fn journal_all_left(&self, state: &mut WriterState) {
        let left = std::mem::take(&mut *self.left());
        if !left.is_empty() {
            self.handle_queued(state, left);
        }
    }

    /// Checks, journals and forwards requests counted by [`SharedWriter::queue`] (sent to the
    /// thread or left), then takes them off the counts.
    pub(super) fn handle_queued(&self, state: &mut WriterState, group: Vec<Request>) {
        let mut accepts = 0;
        let mut lanes = Vec::new();
        for request in &group {
            if let Request::Accept { lane, .. } = request {
                accepts += 1;
                lanes.extend(lane.iter().cloned());
            }
        }
        state.handle_group(group);
        self.numbered(accepts, &lanes);
    }

    fn left(&self) -> MutexGuard<'_, Vec<Request>> {
        self.left.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// How many times in a row a caller journals what others left before it hands the rest to
/// the writer thread: with many runtime workers leaving accepts, one caller could otherwise
/// keep journaling theirs while its own connections wait.
const MAX_ROUNDS_FOR_OTHERS: usize = 4;

/// The bytes a group takes in the journal, roughly, for [`WriterState::can_lead`].
fn group_bytes(requests: &[Request]) -> usize {
    requests
        .iter()
        .map(|r| r.weight() + RECORD_HEADER_GUESS)
        .sum()
}

/// Whether the thread must be woken to see a deadline that changed from `before` to `after`.
fn deadline_moved(before: Option<Instant>, after: Option<Instant>) -> bool {
    match (before, after) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(before), Some(after)) => after < before,
    }
}
