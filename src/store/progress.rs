//! How far the database has caught up with the journal, so a reader sees what was acknowledged.
//!
//! The writer answers an accept once it is in the journal; the applier thread puts it into the
//! database a moment later. Work goes to the applier in numbered groups: the writer counts a
//! group as *forwarded* before it answers anyone in it, the applier counts it as *applied* once
//! its commit is visible. A reader that must see everything acknowledged so far (the API, the
//! CLI, tests) waits until `applied` reaches the `forwarded` it saw when it started; the wait is
//! at most one database commit, and nothing at all when the applier has caught up.
//!
//! It also counts the message bytes handed to the applier and not yet applied: the writer
//! waits when they pass a cap, so a burst cannot fill memory faster than the database takes it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// The longest a reader waits for the applier. Past it the reader goes on with what is there
/// (the applier is stuck or gone; its errors are logged).
const MAX_WAIT: Duration = Duration::from_secs(5);

/// Shared between the writer, the applier and every reader.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    forwarded: AtomicU64,
    applied: AtomicU64,
    /// Message bytes forwarded and not yet applied.
    backlog_bytes: AtomicU64,
    lock: Mutex<()>,
    changed: Condvar,
}

impl Progress {
    /// Numbers the next group handed to the applier (call before answering anyone in it).
    pub(crate) fn forward(&self) -> u64 {
        self.forwarded.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Counts `bytes` of message content as handed to the applier (see [`Progress::applied`]).
    pub(crate) fn add_backlog(&self, bytes: u64) {
        self.backlog_bytes.fetch_add(bytes, Ordering::SeqCst);
    }

    /// Whether fewer than `bytes` bytes and `groups` groups wait for the applier.
    pub(crate) fn has_room(&self, bytes: u64, groups: u64) -> bool {
        self.backlog_bytes.load(Ordering::SeqCst) <= bytes
            && self
                .forwarded
                .load(Ordering::SeqCst)
                .saturating_sub(self.applied.load(Ordering::SeqCst))
                < groups
    }

    /// Waits while more than `limit` bytes wait for the applier (at most [`MAX_WAIT`] at a
    /// time: a stuck applier is logged by the readers, and the writer must not hang for good).
    pub(crate) fn wait_for_room(&self, limit: u64) {
        if self.backlog_bytes.load(Ordering::SeqCst) <= limit {
            return;
        }
        let deadline = Instant::now() + MAX_WAIT;
        let mut guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        while self.backlog_bytes.load(Ordering::SeqCst) > limit {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            guard = match self.changed.wait_timeout(guard, left) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }

    /// Marks every group up to `group` as visible to readers, and `bytes` of the backlog as
    /// applied.
    pub(crate) fn applied(&self, group: u64, bytes: u64) {
        self.applied.fetch_max(group, Ordering::SeqCst);
        // Saturating: never below zero, whatever the order of the counts.
        let _ = self
            .backlog_bytes
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |b| {
                Some(b.saturating_sub(bytes))
            });
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        self.changed.notify_all();
    }

    /// Waits until every group forwarded before this call is visible.
    pub(crate) fn catch_up(&self) {
        let target = self.forwarded.load(Ordering::SeqCst);
        if self.applied.load(Ordering::SeqCst) >= target {
            return;
        }
        let deadline = Instant::now() + MAX_WAIT;
        let mut guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        while self.applied.load(Ordering::SeqCst) < target {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                tracing::warn!("The store's database is behind its journal; reading what it has.");
                return;
            }
            guard = match self.changed.wait_timeout(guard, left) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_reader_waits_for_the_groups_forwarded_before_it() {
        let progress = Arc::new(Progress::default());
        progress.catch_up();
        let group = progress.forward();
        let applier = {
            let progress = Arc::clone(&progress);
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                progress.applied(group, 0);
            })
        };
        let started = Instant::now();
        progress.catch_up();
        assert!(started.elapsed() >= Duration::from_millis(40));
        assert!(progress.applied.load(Ordering::SeqCst) >= group);
        applier.join().unwrap();
    }

    #[test]
    fn the_writer_waits_while_the_backlog_is_over_its_cap() {
        let progress = Arc::new(Progress::default());
        progress.add_backlog(100);
        progress.wait_for_room(100);
        progress.add_backlog(1);
        let applier = {
            let progress = Arc::clone(&progress);
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                progress.applied(0, 60);
            })
        };
        let started = Instant::now();
        progress.wait_for_room(100);
        assert!(started.elapsed() >= Duration::from_millis(40));
        assert_eq!(progress.backlog_bytes.load(Ordering::SeqCst), 41);
        applier.join().unwrap();
    }
}
