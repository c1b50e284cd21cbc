//! The delivery worker: one task per (channel, destination) that drains its durable queue.
//!
//! The worker alone owns retries (style.md rule 5): a destination only says what happened
//! ([`Outcome`]); the worker turns that into "sent", "try again at T" or "dead letter" with the
//! destination's [`RetryPolicy`], and records the attempt in the store before it looks at the
//! next entry. With `ordered = true` (the default) the head of the queue blocks the rest until it
//! is sent or dead-lettered, so a receiver sees messages in arrival order (ADT order matters).

use std::sync::Arc;
use std::time::{Duration, Instant};

use metrics::{Counter, Gauge, Histogram};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::channel::runner::now_ms;
use crate::destination::{DeliveryInput, Destination, Outcome, RetryPolicy};
use crate::store::{Attempt, Delivery, NextStep, Store};

/// How often an idle worker looks at its queue even without a wake-up (entries replayed through
/// the API, or retry times that came due).
const IDLE_POLL: Duration = Duration::from_secs(1);

/// The longest wait a server's `Retry-After` may impose; beyond it the backoff policy rules.
const MAX_SERVER_DELAY: Duration = Duration::from_secs(3600);

/// The worker's metric handles, registered once: a `counter!` with label strings costs two
/// `String` clones and a registry lookup on every message.
struct Meters {
    duration: Histogram,
    sent: Counter,
    retries: Counter,
    rejected: Counter,
    dequeued: Counter,
    depth: Gauge,
    oldest_age: Gauge,
}

impl Meters {
    fn new(channel: &str, destination: &str) -> Meters {
        let labels = [
            ("channel", channel.to_owned()),
            ("destination", destination.to_owned()),
        ];
        Meters {
            duration: metrics::histogram!(crate::metrics::REQUEST_DURATION, &labels),
            sent: metrics::counter!(crate::metrics::SENT, &labels),
            retries: metrics::counter!(crate::metrics::RETRIES, &labels),
            rejected: metrics::counter!(crate::metrics::REJECTED, &labels),
            dequeued: metrics::counter!(crate::metrics::DEQUEUED, &labels),
            depth: metrics::gauge!(crate::metrics::QUEUE_DEPTH, &labels),
            oldest_age: metrics::gauge!(crate::metrics::QUEUE_OLDEST_AGE, &labels),
        }
    }
}

/// Everything one worker needs.
pub struct DeliveryWorker {
    /// The channel id.
    pub channel: String,
    /// The destination's name.
    pub name: String,
    /// The destination itself.
    pub destination: Destination,
    /// Backoff and attempt limit.
    pub retry: RetryPolicy,
    /// Keep arrival order (the head blocks the queue).
    pub ordered: bool,
    /// The store holding the queue.
    pub store: Store,
    /// Woken by the pipeline when something is queued.
    pub wake: Arc<Notify>,
}

impl DeliveryWorker {
    /// Runs until `stop` is cancelled. An attempt in flight is finished and recorded first, so a
    /// stop never loses track of a message.
    pub async fn run(mut self, stop: CancellationToken) {
        let meters = Meters::new(&self.channel, &self.name);
        loop {
            if stop.is_cancelled() {
                return;
            }
            let now = now_ms();
            let due = self.store.due_deliveries_now(
                &self.channel,
                &self.name,
                now,
                self.destination.batch_limit(),
                self.ordered,
            );
            let wait = match due {
                Ok(due) if !due.ready.is_empty() => {
                    self.deliver(due.ready, &meters).await;
                    continue;
                }
                Ok(due) => due.blocked_until_ms.map_or(IDLE_POLL, |at| {
                    Duration::from_millis(at.saturating_sub(now)).min(IDLE_POLL)
                }),
                Err(error) => {
                    tracing::error!(channel = %self.channel, destination = %self.name, %error, "Cannot read the delivery queue.");
                    IDLE_POLL
                }
            };
            self.report_queue(&meters);
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Sends due messages (one, or a batch where the destination takes batches), then records
    /// every attempt. The attempts go to the store together, so they share one commit.
    async fn deliver(&mut self, deliveries: Vec<Delivery>, meters: &Meters) {
        let inputs: Vec<DeliveryInput<'_>> = deliveries
            .iter()
            .map(|delivery| DeliveryInput {
                payload: &delivery.payload,
                message_id: delivery.message_id,
                control_id: &delivery.control_id,
                channel: &self.channel,
                message_type: &delivery.message_type,
                trigger: &delivery.trigger,
                received_ms: delivery.received_at_ms,
            })
            .collect();
        let started = Instant::now();
        let at_ms = now_ms();
        let outcomes = match inputs.as_slice() {
            [one] => vec![self.destination.send(one).await],
            many => self.destination.send_batch(many).await,
        };
        // In a batch, each message's attempt took as long as the whole batch.
        let elapsed = started.elapsed();
        let records: Vec<_> = deliveries
            .iter()
            .zip(outcomes)
            .map(|(delivery, outcome)| {
                meters.duration.record(elapsed.as_secs_f64());
                let (attempt, next) = self.judge(delivery, outcome, at_ms, elapsed, meters);
                if matches!(next, NextStep::Sent | NextStep::DeadLetter) {
                    meters.dequeued.increment(1);
                }
                (delivery.message_id, attempt, next)
            })
            .collect();
        let (store, channel, name) = (&self.store, self.channel.as_str(), self.name.as_str());
        let recorded = records.into_iter().map(|(id, attempt, next)| async move {
            (
                id,
                store.record_attempt(channel, name, id, attempt, next).await,
            )
        });
        let mut failed = false;
        for (message_id, result) in futures_util::future::join_all(recorded).await {
            if let Err(error) = result {
                // The attempt is lost but the entry is still queued: it will be sent again
                // (at-least-once), which the receiver can recognise by the control id.
                tracing::error!(channel = %self.channel, destination = %self.name, message_id, %error, "Cannot record a delivery attempt.");
                failed = true;
            }
        }
        if failed {
            tokio::time::sleep(IDLE_POLL).await;
        }
    }

    /// What an outcome means for the message: its attempt record and the queue's next step,
    /// by the destination's retry policy.
    fn judge(
        &self,
        delivery: &Delivery,
        outcome: Outcome,
        at_ms: u64,
        elapsed: Duration,
        meters: &Meters,
    ) -> (Attempt, NextStep) {
        let attempt_number = delivery.attempts + 1;
        let failed = |error: String| Attempt {
            at_ms,
            ok: false,
            response: None,
            error: Some(error),
            duration_ms: elapsed.as_millis() as u64,
        };
        match outcome {
            Outcome::Delivered { response } => {
                meters.sent.increment(1);
                (
                    Attempt {
                        at_ms,
                        ok: true,
                        response,
                        error: None,
                        duration_ms: elapsed.as_millis() as u64,
                    },
                    NextStep::Sent,
                )
            }
            Outcome::Retry { error, after } => {
                let next = match self.retry.next_delay(attempt_number) {
                    Some(delay) => {
                        meters.retries.increment(1);
                        // A server may ask for a later retry (Retry-After); honour it, within reason.
                        let delay =
                            after.map_or(delay, |server| server.min(MAX_SERVER_DELAY).max(delay));
                        NextStep::RetryAt(now_ms() + delay.as_millis() as u64)
                    }
                    None => {
                        meters.rejected.increment(1);
                        tracing::warn!(channel = %self.channel, destination = %self.name, message_id = delivery.message_id, control_id = %delivery.control_id, "Delivery failed after the last attempt; the message is in ERROR and can be replayed.");
                        NextStep::DeadLetter
                    }
                };
                (failed(error), next)
            }
            Outcome::Reject { error } => {
                meters.rejected.increment(1);
                tracing::warn!(channel = %self.channel, destination = %self.name, message_id = delivery.message_id, control_id = %delivery.control_id, "The destination rejected the message; it is in ERROR and can be replayed.");
                (failed(error), NextStep::DeadLetter)
            }
        }
    }

    fn report_queue(&self, meters: &Meters) {
        if let Ok(stats) = self.store.queue_stats_now(&self.channel, &self.name) {
            meters.depth.set(stats.depth as f64);
            let age = stats
                .oldest_enqueued_ms
                .map_or(0.0, |t| now_ms().saturating_sub(t) as f64 / 1000.0);
            meters.oldest_age.set(age);
        }
    }
}
