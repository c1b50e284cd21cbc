//! [`AcceptBatch`]: accepts staged one after another by one caller and handed to the store's
//! writer together. A connection that pipelines reads several frames at once; staged into
//! one batch, their `interval` accepts are journaled with one write, on the connection's own
//! thread, and answered before it writes its replies, instead of each frame waking the
//! writer thread and being woken back.

use std::sync::Arc;

use tokio::sync::{Notify, oneshot};

use super::error::StoreError;
use super::handle::{Accepting, Store};
use super::model::{Durability, NewMessage};
use super::shared_writer::Lane;
use super::work::Request;

/// Accepts waiting to be handed to the writer, in the order they were staged. Dropping the
/// batch hands over what it holds, so a staged message is never silently withdrawn.
pub struct AcceptBatch {
    store: Store,
    requests: Vec<Request>,
    lane: Option<Lane>,
}

impl AcceptBatch {
    pub(super) fn new(store: Store, lane: Option<Lane>) -> Self {
        AcceptBatch {
            store,
            requests: Vec::new(),
            lane,
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
        let (request, accepting) =
            self.store
                .accept_request(msg, durability, wake, in_flight, self.lane.clone());
        if let Some(request) = request {
            self.requests.push(request);
        }
        accepting
    }

    /// Hands everything staged so far to the writer; the batch stays usable. Call it before
    /// anything that waits, so earlier messages are not held up.
    pub fn send(&mut self) {
        if !self.requests.is_empty() {
            self.store
                .hand_over(std::mem::take(&mut self.requests), self.lane.as_ref());
        }
    }
}

impl Drop for AcceptBatch {
    fn drop(&mut self) {
        self.send();
    }
}

impl Store {
    /// A batch of accepts handed to the writer together ([`AcceptBatch`]), after everything
    /// handed over before it by anybody.
    pub fn batch(&self) -> AcceptBatch {
        AcceptBatch::new(self.clone(), None)
    }

    /// A batch in `lane`: after everything handed over before it in that lane, but not held
    /// up by other callers' accepts (a connection's frames; see [`Lane`]). Every batch of a
    /// caller that keeps a lane must be in it, except ones it waits for completely before
    /// handing over the next.
    pub fn batch_in(&self, lane: &Lane) -> AcceptBatch {
        AcceptBatch::new(self.clone(), Some(lane.clone()))
    }

    /// Hands accepts (in the order given) to the writer. `interval` accepts are journaled
    /// right here, on the caller's thread, when nothing sent before them (in `lane`, or by
    /// anybody without one) is still waiting for the writer thread; everything else goes
    /// through the thread's channel. A request that cannot be handed over is dropped, and its
    /// [`Accepting`] says the writer is gone.
    fn hand_over(&self, requests: Vec<Request>, lane: Option<&Lane>) {
        let Some(sender) = &self.inner.sender else {
            return;
        };
        let shared = &self.inner.shared_writer;
        let interval = requests.iter().all(|r| {
            matches!(
                r,
                Request::Accept {
                    durability: Durability::Interval { .. },
                    ..
                }
            )
        });
        let requests = if interval {
            match shared.try_lead(requests, lane) {
                Ok(wake_writer) => {
                    if wake_writer {
                        let _ = sender.send(Request::Wake);
                    }
                    return;
                }
                Err(requests) => requests,
            }
        } else {
            requests
        };
        shared.queue(requests.len(), lane);
        for request in requests {
            if sender.send(request).is_err() {
                shared.unqueue(lane);
            }
        }
    }

    /// Builds the accept request for `msg`, and the [`Accepting`] that waits for its answer.
    fn accept_request(
        &self,
        msg: NewMessage,
        durability: Durability,
        wake: Vec<Arc<Notify>>,
        in_flight: bool,
        lane: Option<Lane>,
    ) -> (Option<Request>, Accepting) {
        if self.inner.sender.is_none() {
            let gone = Accepting {
                answer: Err(StoreError::WriterGone),
            };
            return (None, gone);
        }
        let in_flight = if in_flight {
            self.inner
                .in_flight
                .enter(&msg.channel, &msg.meta.control_id)
        } else {
            None
        };
        let (reply, answer) = oneshot::channel();
        let request = Request::Accept {
            msg: Box::new(msg),
            durability,
            reply,
            wake,
            in_flight,
            lane,
        };
        (Some(request), Accepting { answer: Ok(answer) })
    }
}
