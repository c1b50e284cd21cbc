//! [`SharedWriter`]: the writer's state behind a lock, so that a caller can journal its own
//! `interval` accepts without the hop to the writer thread and back (see the `writer` module
//! docs), and the count of accepts waiting in the thread's channel that keeps that in order.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, MutexGuard};

use super::work::Request;
use super::writer::{RECORD_HEADER_GUESS, WriterState};

/// The writer's state behind a mutex, and how many accepts wait in its channel.
pub(crate) struct SharedWriter {
    state: Mutex<WriterState>,
    /// Accepts sent to the writer thread and not yet numbered (signed: tests send without
    /// counting).
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

    /// Counts accepts about to be sent to the writer thread (undone by the thread once it
    /// has numbered it).
    pub(crate) fn queue(&self, accepts: usize) {
        self.queued
            .fetch_add(i64::try_from(accepts).unwrap_or(i64::MAX), Ordering::SeqCst);
    }

    /// Called by the writer thread once it has numbered `accepts` of those.
    pub(super) fn numbered(&self, accepts: usize) {
        self.queued
            .fetch_sub(i64::try_from(accepts).unwrap_or(i64::MAX), Ordering::SeqCst);
    }

    /// Takes back [`SharedWriter::queue`] for an accept that could not be sent.
    pub(crate) fn unqueue(&self) {
        self.queued.fetch_sub(1, Ordering::SeqCst);
    }

    /// Journals `interval` accepts on the caller's thread, as one group, with no hop to the
    /// writer thread and back, when that keeps every order: nothing sent to the writer thread
    /// waits to be numbered, nobody else holds the writer's state, the group fits in the
    /// journal segment, and the applier has room.
    /// Returns the requests when they must go to the writer thread after all, else whether
    /// that thread must be woken to see a new deadline.
    pub(crate) fn try_lead(&self, requests: Vec<Request>) -> Result<bool, Vec<Request>> {
        if self.queued.load(Ordering::SeqCst) > 0 {
            return Err(requests);
        }
        let Ok(mut state) = self.state.try_lock() else {
            return Err(requests);
        };
        let bytes = requests
            .iter()
            .map(|r| r.weight() + RECORD_HEADER_GUESS)
            .sum();
        if self.queued.load(Ordering::SeqCst) > 0 || !state.can_lead(bytes) {
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
