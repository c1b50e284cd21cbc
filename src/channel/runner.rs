//! The channel pipeline: what happens to one message between the source and the queues.
//!
//! parse → duplicate check → filter → transform → **store (durable)** → answer.
//!
//! The answer (HL7 ACK, HTTP status, file move) is decided here but given by the source only
//! after [`Pipeline::receive`] returns, and that happens only after the store has made the
//! message and its queue entries durable. Every message is stored, whatever its fate: accepted,
//! filtered, duplicate or broken, so an analyst can always find out what happened to it.
//! Scripts run on the blocking pool, never on the reactor threads that serve the sockets.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::sync::Notify;

use super::{AckMode, DuplicateAction};
use crate::hl7::{self, Ack, AckCode, ErrorCode, Message, MessageBuf, Severity};
use crate::script::{Filter, Transform, TransformOutcome};
use crate::store::{self, Durability, MessageMeta, MessageStatus, NewDelivery, NewMessage, Store};

/// One destination as the pipeline sees it: where to queue, what to queue, whom to wake.
pub struct Route {
    /// The destination's name, unique in the channel.
    pub name: String,
    /// Queue the message as received, skipping the channel's transform.
    pub send_original: bool,
    /// Woken when something is queued for this destination.
    pub wake: Arc<Notify>,
}

/// Everything the pipeline of one channel needs, built from a validated channel file.
pub struct Pipeline {
    /// The channel id.
    pub channel: String,
    /// The store every message goes to.
    pub store: Store,
    /// The `[filter] accept` expression.
    pub filter: Option<Arc<Filter>>,
    /// The `[transform] script`.
    pub transform: Option<Arc<Transform>>,
    /// The destinations, in file order.
    pub routes: Vec<Route>,
    /// When the ACK may be sent.
    pub durability: Durability,
    /// Original or enhanced acknowledgments.
    pub ack_mode: AckMode,
    /// How far back duplicate control ids are looked for; `None` turns the check off.
    pub duplicate_window: Option<Duration>,
    /// What to do with a duplicate.
    pub duplicate_action: DuplicateAction,
}

/// What the source should answer.
#[derive(Debug, Clone)]
pub struct Disposition {
    /// The ACK to send back, or `None` when the sender asked for none (enhanced mode, MSH-15).
    pub ack: Option<Bytes>,
    /// MSA-1 of that ACK (also for HTTP status mapping).
    pub code: AckCode,
    /// The stored message's id, when storing succeeded.
    pub message_id: Option<store::MessageId>,
    /// How the message ended in the pipeline.
    pub status: MessageStatus,
}

impl Disposition {
    /// True when the message was stored and accepted (also filtered or duplicate messages).
    pub fn accepted(&self) -> bool {
        self.code.is_accept()
    }
}

/// Milliseconds since the Unix epoch, the store's clock.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Pipeline {
    /// Takes one HL7 message (raw bytes as framed) from `peer` through the pipeline.
    pub async fn receive(self: &Arc<Self>, raw: Bytes, peer: &str) -> Disposition {
        let received_at_ms = now_ms();
        metrics::counter!(crate::metrics::RECEIVED, "channel" => self.channel.clone()).increment(1);
        let message = match Message::parse(&raw) {
            Ok(message) => message,
            Err(error) => {
                return self
                    .unreadable(raw.to_vec(), peer, received_at_ms, &error)
                    .await;
            }
        };
        let meta = meta_of(&message);
        let mut buf = MessageBuf::from_message(&message);

        if let Some(found) = self.duplicate_of(&meta.control_id, received_at_ms) {
            metrics::counter!(crate::metrics::DUPLICATES, "channel" => self.channel.clone())
                .increment(1);
            let reason =
                format!("duplicate of message {found} (control id seen within the window)");
            let code = match self.duplicate_action {
                DuplicateAction::Ack => self.accept_code(),
                DuplicateAction::Reject => self.reject_code(),
            };
            let settled = Settled {
                status: MessageStatus::Filtered,
                reason: reason.clone(),
                code,
                ack_text: Some(reason),
            };
            return self
                .settle(&raw, peer, received_at_ms, meta, &buf, settled)
                .await;
        }

        // Filter and transform run user scripts: off the reactor, with their own limits.
        let scripted = if self.filter.is_none() && self.transform.is_none() {
            // Nothing to run: no need to leave the reactor thread.
            Ok((Scripted::Continue, buf))
        } else {
            let this = Arc::clone(self);
            tokio::task::spawn_blocking(move || this.run_scripts(buf)).await
        };
        let (outcome, after) = match scripted {
            Ok(result) => result,
            Err(join) => (
                Scripted::Error(format!("the script task failed: {join}")),
                MessageBuf::from_message(&message),
            ),
        };
        buf = after;
        match outcome {
            Scripted::Filtered(reason) => {
                metrics::counter!(crate::metrics::FILTERED, "channel" => self.channel.clone())
                    .increment(1);
                let settled = Settled {
                    status: MessageStatus::Filtered,
                    reason,
                    code: self.accept_code(),
                    ack_text: None,
                };
                self.settle(&raw, peer, received_at_ms, meta, &buf, settled)
                    .await
            }
            Scripted::Error(reason) => {
                metrics::counter!(crate::metrics::ERRORS, "channel" => self.channel.clone(), "stage" => "processing", "error_type" => "script").increment(1);
                let settled = Settled {
                    status: MessageStatus::Error,
                    reason: reason.clone(),
                    code: self.error_code(),
                    ack_text: Some(reason),
                };
                self.settle(&raw, peer, received_at_ms, meta, &buf, settled)
                    .await
            }
            Scripted::Continue => {
                let transformed = buf.as_bytes().to_vec();
                let original = message.to_bytes();
                let deliveries = self
                    .routes
                    .iter()
                    .map(|route| NewDelivery {
                        destination: route.name.clone(),
                        payload: if route.send_original {
                            original.clone()
                        } else {
                            transformed.clone()
                        },
                    })
                    .collect::<Vec<_>>();
                let changed = transformed != original;
                let status = if deliveries.is_empty() {
                    MessageStatus::Sent
                } else {
                    MessageStatus::Queued
                };
                let stored = self.record(
                    raw.to_vec(),
                    peer,
                    received_at_ms,
                    meta,
                    status,
                    None,
                    changed.then_some(transformed),
                    deliveries,
                );
                let stored = stored.await;
                if stored.is_ok() {
                    for route in &self.routes {
                        metrics::counter!(crate::metrics::ENQUEUED, "channel" => self.channel.clone(), "destination" => route.name.clone()).increment(1);
                        route.wake.notify_one();
                    }
                }
                self.answer(&buf, stored, self.accept_code(), status, None)
                    .await
            }
        }
    }

    /// Takes one JSON message (from the HTTP source) through the pipeline. The channel's filter and
    /// transform work on HL7 and are not applied; JSON is stored and queued as received.
    pub async fn receive_json(self: &Arc<Self>, body: Vec<u8>, peer: &str) -> Disposition {
        let received_at_ms = now_ms();
        metrics::counter!(crate::metrics::RECEIVED, "channel" => self.channel.clone()).increment(1);
        let meta = MessageMeta {
            message_type: "JSON".into(),
            trigger: String::new(),
            control_id: String::new(),
            patient_id: String::new(),
        };
        let deliveries = self
            .routes
            .iter()
            .map(|route| NewDelivery {
                destination: route.name.clone(),
                payload: body.clone(),
            })
            .collect::<Vec<_>>();
        let status = if deliveries.is_empty() {
            MessageStatus::Sent
        } else {
            MessageStatus::Queued
        };
        let code = self.accept_code();
        match self
            .record(
                body,
                peer,
                received_at_ms,
                meta,
                status,
                None,
                None,
                deliveries,
            )
            .await
        {
            Ok(id) => {
                for route in &self.routes {
                    route.wake.notify_one();
                }
                Disposition {
                    ack: None,
                    code,
                    message_id: Some(id),
                    status,
                }
            }
            Err(error) => self.store_failed(error, None),
        }
    }

    /// Runs the filter, then the transform, on the blocking pool.
    fn run_scripts(&self, mut buf: MessageBuf) -> (Scripted, MessageBuf) {
        if let Some(filter) = &self.filter {
            match filter.accepts(&buf) {
                Ok(true) => {}
                Ok(false) => {
                    return (
                        Scripted::Filtered("the channel filter did not accept it".into()),
                        buf,
                    );
                }
                Err(error) => return (Scripted::Error(format!("filter: {error}")), buf),
            }
        }
        if let Some(transform) = &self.transform {
            match transform.apply(&mut buf) {
                Ok(TransformOutcome::Continue) => {}
                Ok(TransformOutcome::Dropped(reason)) => {
                    return (
                        Scripted::Filtered(format!("dropped by the transform: {reason}")),
                        buf,
                    );
                }
                Err(error) => return (Scripted::Error(format!("transform: {error}")), buf),
            }
        }
        (Scripted::Continue, buf)
    }

    /// Input that is not a readable message: stored as ERROR, answered AE or AR.
    async fn unreadable(
        &self,
        raw: Vec<u8>,
        peer: &str,
        received_at_ms: u64,
        error: &hl7::ParseError,
    ) -> Disposition {
        metrics::counter!(crate::metrics::ERRORS, "channel" => self.channel.clone(), "stage" => "receiving", "error_type" => "parse").increment(1);
        let nak = hl7::build_nak(&raw, error);
        let code = nak
            .get("MSA-1")
            .ok()
            .and_then(|v| v.text().parse::<AckCode>().ok())
            .unwrap_or(AckCode::AR);
        let meta = MessageMeta {
            message_type: String::new(),
            trigger: String::new(),
            control_id: nak
                .get("MSA-2")
                .map(|v| v.text().into_owned())
                .unwrap_or_default(),
            patient_id: String::new(),
        };
        let stored = self
            .record(
                raw,
                peer,
                received_at_ms,
                meta,
                MessageStatus::Error,
                Some(error.to_string()),
                None,
                Vec::new(),
            )
            .await;
        let code = if self.ack_mode == AckMode::Enhanced {
            enhanced(code)
        } else {
            code
        };
        match stored {
            Ok(id) => {
                self.count_ack(code);
                Disposition {
                    ack: Some(Bytes::from(nak_with_code(&nak, code))),
                    code,
                    message_id: Some(id),
                    status: MessageStatus::Error,
                }
            }
            Err(store_error) => self.store_failed(store_error, None),
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn record(
        &self,
        raw: Vec<u8>,
        peer: &str,
        received_at_ms: u64,
        meta: MessageMeta,
        status: MessageStatus,
        error: Option<String>,
        transformed: Option<Vec<u8>>,
        deliveries: Vec<NewDelivery>,
    ) -> Result<store::MessageId, store::StoreError> {
        let message = NewMessage {
            channel: self.channel.clone(),
            peer: peer.to_string(),
            received_at_ms,
            raw,
            meta,
            status,
            error,
            transformed,
            deliveries,
        };
        self.store.accept(message, self.durability).await
    }

    /// Stores a message that goes to no destination (a duplicate, filtered, or failed in a
    /// script) and answers it.
    async fn settle(
        &self,
        raw: &[u8],
        peer: &str,
        received_at_ms: u64,
        meta: MessageMeta,
        buf: &MessageBuf,
        settled: Settled,
    ) -> Disposition {
        let Settled {
            status,
            reason,
            code,
            ack_text,
        } = settled;
        let stored = self
            .record(
                raw.to_vec(),
                peer,
                received_at_ms,
                meta,
                status,
                Some(reason),
                None,
                Vec::new(),
            )
            .await;
        self.answer(buf, stored, code, status, ack_text).await
    }

    /// Builds the ACK once the message is stored (or the NAK if storing failed).
    async fn answer(
        &self,
        buf: &MessageBuf,
        stored: Result<store::MessageId, store::StoreError>,
        code: AckCode,
        status: MessageStatus,
        text: Option<String>,
    ) -> Disposition {
        let original = buf.as_message();
        let id = match stored {
            Ok(id) => id,
            Err(error) => return self.store_failed(error, Some(&original)),
        };
        let mut ack = Ack::new(code);
        if let Some(text) = text {
            ack = if code.is_accept() {
                ack.with_text(text)
            } else {
                ack.with_text(text.clone()).with_error(
                    ErrorCode::ApplicationInternalError,
                    Severity::Error,
                    text,
                )
            };
        }
        self.count_ack(code);
        let bytes = ack
            .wanted(&original)
            .then(|| Bytes::from(hl7::build_ack(&original, &ack).into_bytes()));
        Disposition {
            ack: bytes,
            code,
            message_id: Some(id),
            status,
        }
    }

    /// The store could not make the message durable: the sender must send it again, so the
    /// answer is a NAK (AE/CE: "try again"), never an accept.
    fn store_failed(
        &self,
        error: store::StoreError,
        original: Option<&Message<'_>>,
    ) -> Disposition {
        tracing::error!(channel = %self.channel, %error, "Could not store a message; answering with an error so the sender retries.");
        metrics::counter!(crate::metrics::ERRORS, "channel" => self.channel.clone(), "stage" => "receiving", "error_type" => "store").increment(1);
        let code = self.error_code();
        let ack = Ack::new(code).with_error(
            ErrorCode::ApplicationInternalError,
            Severity::Error,
            "the message could not be stored; send it again",
        );
        let bytes = original.map(|m| Bytes::from(hl7::build_ack(m, &ack).into_bytes()));
        self.count_ack(code);
        Disposition {
            ack: bytes,
            code,
            message_id: None,
            status: MessageStatus::Error,
        }
    }

    fn duplicate_of(&self, control_id: &str, now: u64) -> Option<store::MessageId> {
        let window = self.duplicate_window?;
        if control_id.is_empty() {
            return None;
        }
        let since = now.saturating_sub(window.as_millis() as u64);
        self.store
            .find_duplicate(&self.channel, control_id, since)
            .ok()
            .flatten()
    }

    fn accept_code(&self) -> AckCode {
        match self.ack_mode {
            AckMode::Original => AckCode::AA,
            AckMode::Enhanced => AckCode::CA,
        }
    }

    fn error_code(&self) -> AckCode {
        match self.ack_mode {
            AckMode::Original => AckCode::AE,
            AckMode::Enhanced => AckCode::CE,
        }
    }

    fn reject_code(&self) -> AckCode {
        match self.ack_mode {
            AckMode::Original => AckCode::AR,
            AckMode::Enhanced => AckCode::CR,
        }
    }

    fn count_ack(&self, code: AckCode) {
        metrics::counter!(crate::metrics::ACKS_SENT, "channel" => self.channel.clone(), "code" => code.as_str()).increment(1);
    }

    /// The routes by name, for the delivery workers.
    pub fn wakers(&self) -> HashMap<String, Arc<Notify>> {
        self.routes
            .iter()
            .map(|r| (r.name.clone(), r.wake.clone()))
            .collect()
    }
}

/// How a message that goes to no destination ends: its status and stored reason, the ACK code,
/// and the text (if any) the ACK carries.
struct Settled {
    status: MessageStatus,
    reason: String,
    code: AckCode,
    ack_text: Option<String>,
}

/// The result of running a channel's scripts.
enum Scripted {
    Continue,
    Filtered(String),
    Error(String),
}

/// The metadata kept beside a message for lists and searches.
fn meta_of(message: &Message<'_>) -> MessageMeta {
    MessageMeta {
        message_type: message.message_type().into_owned(),
        trigger: message.trigger_event().into_owned(),
        control_id: message.control_id().into_owned(),
        patient_id: message
            .get("PID-3.1")
            .map(|v| v.text().into_owned())
            .unwrap_or_default(),
    }
}

fn enhanced(code: AckCode) -> AckCode {
    match code {
        AckCode::AA => AckCode::CA,
        AckCode::AE => AckCode::CE,
        AckCode::AR => AckCode::CR,
        other => other,
    }
}

fn nak_with_code(nak: &MessageBuf, code: AckCode) -> Vec<u8> {
    let mut nak = nak.clone();
    let _ = nak.set("MSA-1", code.as_str());
    nak.into_bytes()
}
