//! Destinations: where a channel delivers a message, and what the receiver's answer means.
//!
//! A destination sends one message and classifies the result as an [`Outcome`]: delivered,
//! worth retrying, or rejected for good. It never sleeps, retries or dead-letters by itself:
//! the delivery worker owns that, with a [`RetryPolicy`], so every kind behaves the same way
//! and every attempt is recorded in the store.
//!
//! - [`retry`]: [`RetryPolicy`], jittered exponential backoff and the dead-letter point.
//! - [`mllp`]: [`MllpDestination`], one persistent MLLP connection; the ACK decides.
//! - [`http`]: [`HttpDestination`], one request per message; the status code decides.
//! - [`fhir`]: [`FhirDestination`], a FHIR server; the status and OperationOutcome decide.
//! - [`file`](mod@file): [`FileDestination`], one file per message, written atomically.
//!
//! The kinds take plain settings structs that the channel loader fills after validation;
//! [`Destination`] is the closed enum over them, so the runtime holds one type per queue and
//! the compiler points at every `match` a new kind must join.

mod background_io;
pub mod fhir;
pub mod file;
mod file_batch;
pub mod http;
pub mod mllp;
pub mod retry;

use std::time::Duration;

pub use fhir::{FhirDestination, FhirPayload, FhirSettings};
pub use file::{FileDestination, FileFields, FileSettings, FileSetupError};
pub use http::{HttpDestination, HttpSettings, HttpSetupError};
pub use mllp::{MllpDestination, MllpSettings, MllpSetupError};
pub use retry::{InvalidRetry, RetryPolicy};

/// What became of one delivery attempt, in the terms the delivery worker acts on (Vector's
/// `RetryAction`): mark SENT, try again later, or mark ERROR now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The receiver accepted the message. `response` is what it answered (the ACK, the HTTP
    /// body), kept with the message for the analyst; `None` when there was nothing to keep.
    Delivered {
        /// The receiver's answer, if any.
        response: Option<Vec<u8>>,
    },
    /// The attempt failed in a way that may clear up (receiver down, timeout, AE, HTTP 503).
    Retry {
        /// Why, for the message's attempt history. Never contains message content we sent.
        error: String,
        /// A delay the receiver asked for (HTTP `Retry-After`); the worker waits at least this.
        after: Option<Duration>,
    },
    /// The receiver refused this message for good (AR, HTTP 400): resending it unchanged
    /// would fail again, so it goes to ERROR at once, to be fixed and replayed.
    Reject {
        /// Why, for the message's attempt history.
        error: String,
    },
}

impl Outcome {
    /// Whether the receiver took the message.
    pub fn is_delivered(&self) -> bool {
        matches!(self, Outcome::Delivered { .. })
    }

    /// A retry without a receiver-requested delay: the common case.
    pub(crate) fn retry(error: impl Into<String>) -> Outcome {
        Outcome::Retry {
            error: error.into(),
            after: None,
        }
    }

    /// A rejection.
    pub(crate) fn reject(error: impl Into<String>) -> Outcome {
        Outcome::Reject {
            error: error.into(),
        }
    }
}

/// One message to deliver, with the facts some destinations need besides the bytes (the file
/// name template, the MLLP ACK check). Borrowed, because the worker already holds them.
#[derive(Debug, Clone, Copy)]
pub struct DeliveryInput<'a> {
    /// The bytes to send: the transformed message.
    pub payload: &'a [u8],
    /// The store's id of the message.
    pub message_id: u64,
    /// MSH-10 of the payload; an MLLP receiver must echo it in MSA-2.
    pub control_id: &'a str,
    /// The channel id.
    pub channel: &'a str,
    /// MSH-9.1, e.g. `ORU`.
    pub message_type: &'a str,
    /// MSH-9.2, e.g. `R01`.
    pub trigger: &'a str,
    /// When the message was received, in milliseconds since the Unix epoch (UTC).
    pub received_ms: u64,
}

/// A built destination of any kind: what the delivery worker holds and calls.
#[derive(Debug)]
pub enum Destination {
    /// An MLLP receiver (lab, EHR interface).
    Mllp(MllpDestination),
    /// An HTTP endpoint.
    Http(HttpDestination),
    /// A directory.
    File(FileDestination),
    /// A FHIR server.
    Fhir(FhirDestination),
}

impl Destination {
    /// Sends one message and classifies the result. `&mut` because an MLLP destination owns
    /// its connection; callers deliver one message at a time per destination anyway (order).
    pub async fn send(&mut self, delivery: &DeliveryInput<'_>) -> Outcome {
        match self {
            Destination::Mllp(mllp) => mllp.send(delivery.payload, delivery.control_id).await,
            Destination::Http(http) => http.send(delivery.payload).await,
            Destination::Fhir(fhir) => fhir.send(delivery.payload).await,
            Destination::File(file) => {
                let received = file::format_received(delivery.received_ms);
                file.send(delivery.payload, &file_fields(delivery, &received))
                    .await
            }
        }
    }
}

impl Destination {
    /// How many due messages the worker may hand over in one [`Destination::send_batch`]:
    /// a file destination shares one directory sync among them; the others take one at a
    /// time (an MLLP or HTTP receiver answers each message by itself).
    pub fn batch_limit(&self) -> usize {
        match self {
            Destination::File(_) => FILE_BATCH_LIMIT,
            _ => 1,
        }
    }

    /// Sends several messages in queue order; one outcome per message attempted, stopping
    /// after the first that is not delivered (the rest stay queued, untouched).
    pub async fn send_batch(&mut self, deliveries: &[DeliveryInput<'_>]) -> Vec<Outcome> {
        let Destination::File(file) = self else {
            let mut outcomes = Vec::with_capacity(deliveries.len());
            for delivery in deliveries {
                let outcome = self.send(delivery).await;
                let delivered = outcome.is_delivered();
                outcomes.push(outcome);
                if !delivered {
                    break;
                }
            }
            return outcomes;
        };
        let received: Vec<String> = deliveries
            .iter()
            .map(|d| file::format_received(d.received_ms))
            .collect();
        let items: Vec<(&[u8], FileFields<'_>)> = deliveries
            .iter()
            .zip(&received)
            .map(|(d, received)| (d.payload, file_fields(d, received)))
            .collect();
        file.send_batch(&items).await
    }
}

/// What a file name template may use of `delivery`; `received` is its received time as
/// [`file::format_received`] gives it.
fn file_fields<'a>(delivery: &DeliveryInput<'a>, received: &'a str) -> FileFields<'a> {
    FileFields {
        message_id: delivery.message_id,
        control_id: delivery.control_id,
        channel: delivery.channel,
        message_type: delivery.message_type,
        trigger: delivery.trigger,
        received,
    }
}

/// Most files one batch writes before their shared directory sync: large enough to spread
/// that sync thin, small enough that a batch's attempts are recorded within tens of ms.
const FILE_BATCH_LIMIT: usize = 64;

/// An error and its sources joined with `: `, because the top-level `Display` of most errors
/// (ours, reqwest's, io's wrappers) leaves out the cause an operator needs.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // Some wrappers repeat their source's text; say it once.
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn error_chain_names_every_cause_once() {
        let inner = std::io::Error::other("disk full");
        assert_eq!(error_chain(&Outer(inner)), "outer: disk full");
        let plain = std::io::Error::other("alone");
        assert_eq!(error_chain(&plain), "alone");
    }

    #[test]
    fn send_futures_can_move_between_threads() {
        // The runtime spawns one delivery task per queue; that needs `Send` futures. This
        // fails to compile, not at run time, if a kind ever holds something thread-bound.
        fn assert_send<T: Send>(_: &T) {}
        let mut dest = Destination::File(
            FileDestination::new(FileSettings {
                directory: "unused".into(),
                filename: file::DEFAULT_FILENAME.into(),
            })
            .unwrap(),
        );
        let input = DeliveryInput {
            payload: b"MSH|",
            message_id: 1,
            control_id: "1",
            channel: "c",
            message_type: "ADT",
            trigger: "A01",
            received_ms: 0,
        };
        // Created but never polled: no file is written.
        let future = dest.send(&input);
        assert_send(&future);
    }

    #[test]
    fn outcome_helpers() {
        assert_eq!(
            Outcome::retry("down"),
            Outcome::Retry {
                error: "down".into(),
                after: None
            }
        );
        assert_eq!(
            Outcome::reject("bad"),
            Outcome::Reject {
                error: "bad".into()
            }
        );
    }
}
