//! [`AcceptBatch`]: accepts staged one after another by one caller and handed to the store's
//! writer together. A connection that pipelines reads several frames at once; staged into
//! one batch, their `interval` accepts are journaled with one write, on the connection's own
//! thread, and answered before it writes its replies, instead of each frame waking the
//! writer thread and being woken back.

use std::sync::Arc;

use tokio::sync::Notify;

use super::handle::{Accepting, Store};
use super::model::{Durability, NewMessage};
use super::work::Request;

/// Accepts waiting to be handed to the writer, in the order they were staged. Dropping the
/// batch hands over what it holds, so a staged message is never silently withdrawn.
pub struct AcceptBatch {
    store: Store,
    requests: Vec<Request>,
}

impl AcceptBatch {
    pub(super) fn new(store: Store) -> Self {
        AcceptBatch {
            store,
            requests: Vec::new(),
        }
    }

    /// Stages one message, as [`Store::submit_waking`] would submit it. Its place in the
    /// queues is fixed by the order of staging; it reaches the writer with [`AcceptBatch::send`]
    /// (or when the batch is dropped), and the [`Accepting`] resolves after that.
    pub fn stage(
        &mut self,
        msg: NewMessage,
        durability: Durability,
        wake: Vec<Arc<Notify>>,
        in_flight: bool,
    ) -> Accepting {
        let (request, accepting) = self.store.accept_request(msg, durability, wake, in_flight);
        if let Some(request) = request {
            self.requests.push(request);
        }
        accepting
    }

    /// Hands everything staged so far to the writer; the batch stays usable. Call it before
    /// anything that waits, so earlier messages are not held up.
    pub fn send(&mut self) {
        if !self.requests.is_empty() {
            self.store.hand_over(std::mem::take(&mut self.requests));
        }
    }
}

impl Drop for AcceptBatch {
    fn drop(&mut self) {
        self.send();
    }
}
