//! Duplicate detection: whether a control id was seen within the channel's window, in the
//! store or still on its way there.

use super::Pipeline;

impl Pipeline {
    /// The earlier message with this control id, if any: one stored within the window, or one
    /// still on its way to the store (sent just before on a pipelining connection).
    pub(super) fn duplicate_of(&self, control_id: &str, now: u64) -> Option<String> {
        let window = self.duplicate_window?;
        if control_id.is_empty() {
            return None;
        }
        let since = now.saturating_sub(window.as_millis() as u64);
        // In flight first: a message leaves that set only after its commit, so one that is no
        // longer in flight is in the index read next.
        if self.store.in_flight(&self.channel, control_id) {
            return Some("a message received just before, still being stored".into());
        }
        self.store
            .find_duplicate_now(&self.channel, control_id, since)
            .ok()
            .flatten()
            .map(|found| format!("message {found}"))
    }
}
