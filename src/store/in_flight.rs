//! Control ids of messages handed to the writer whose submitter has not yet seen the commit.
//!
//! A connection that pipelines submits frame N+1 before frame N is committed, so the duplicate
//! index (read from the database) cannot see frame N yet. The pipeline asks this set too: a
//! control id that is in flight on the same channel is a duplicate as surely as a stored one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// Per channel, per control id: how many submitted messages carry it and are not yet settled.
#[derive(Debug, Default)]
pub(super) struct InFlight(Mutex<HashMap<String, HashMap<String, usize>>>);

impl InFlight {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, HashMap<String, usize>>> {
        // The map stays consistent even if a holder panicked: every change is one statement.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Marks one message with `control_id` as in flight until the returned guard is dropped;
    /// `None` for an empty control id (never a duplicate).
    pub(super) fn enter(self: &Arc<Self>, channel: &str, control_id: &str) -> Option<Guard> {
        if control_id.is_empty() {
            return None;
        }
        *self
            .lock()
            .entry(channel.to_owned())
            .or_default()
            .entry(control_id.to_owned())
            .or_default() += 1;
        Some(Guard {
            set: Arc::clone(self),
            channel: channel.to_owned(),
            control_id: control_id.to_owned(),
        })
    }

    /// Whether a message of `channel` with `control_id` is in flight.
    pub(super) fn contains(&self, channel: &str, control_id: &str) -> bool {
        self.lock()
            .get(channel)
            .is_some_and(|ids| ids.contains_key(control_id))
    }
}

/// Keeps one message in the set; dropping it (the commit was seen, or nobody waits any more)
/// takes it out.
#[derive(Debug)]
pub(super) struct Guard {
    set: Arc<InFlight>,
    channel: String,
    control_id: String,
}

impl Drop for Guard {
    fn drop(&mut self) {
        let mut map = self.set.lock();
        let Some(ids) = map.get_mut(&self.channel) else {
            return;
        };
        if let Some(count) = ids.get_mut(&self.control_id) {
            *count -= 1;
            if *count == 0 {
                ids.remove(&self.control_id);
            }
        }
        if ids.is_empty() {
            map.remove(&self.channel);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_control_id_is_in_flight_until_its_last_guard_is_dropped() {
        let set = Arc::new(InFlight::default());
        assert!(set.enter("adt", "").is_none());
        let first = set.enter("adt", "C1").unwrap();
        let second = set.enter("adt", "C1").unwrap();
        assert!(set.contains("adt", "C1"));
        assert!(!set.contains("lab", "C1"));
        assert!(!set.contains("adt", "C2"));
        drop(first);
        assert!(set.contains("adt", "C1"));
        drop(second);
        assert!(!set.contains("adt", "C1"));
        assert!(set.lock().is_empty());
    }
}
