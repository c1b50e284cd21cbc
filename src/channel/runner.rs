//! The channel pipeline: what happens to one message between the source and the queues.
//!
//! parse → duplicate check → filter → transform → destination transforms → **store
//! (durable)** → answer. Messages emitted by scripts are stored as messages of their own, and
//! the answer waits for them too (see `channel/scripted.rs` for the semantics).
//!
//! The answer (HL7 ACK, HTTP status, file move) is decided here but given by the source only
//! after [`Pipeline::receive`] returns, and that happens only after the store has made the
//! message and its queue entries durable. Every message is stored, whatever its fate: accepted,
//! filtered, duplicate or broken, so an analyst can always find out what happened to it.
//! Scripts run on the blocking pool, never on the reactor threads that serve the sockets.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::sync::Notify;

use super::scripted::{Child, Scripted, control_id_of, run_scripts, unscripted};
use super::{AckMode, DuplicateAction};
use crate::hl7::{self, Ack, AckCode, ErrorCode, Message, MessageBuf, Severity};
use crate::script::{Filter, Payload};

pub use super::stage::{ChannelMapping, TransformStage};
use crate::store::{self, Durability, MessageMeta, MessageStatus, NewDelivery, NewMessage, Store};

/// One destination as the pipeline sees it: where to queue, what to queue, whom to wake.
pub struct Route {
    /// The destination's name, unique in the channel.
    pub name: String,
    /// Queue the message as received, skipping the channel's transform.
    pub send_original: bool,
    /// This destination's own transform (mapping and/or script), run after the channel's.
    pub transform: Option<Arc<TransformStage>>,
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
    /// The `[transform]`: its mapping and/or script.
    pub transform: Option<Arc<TransformStage>>,
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

/// The second half of [`Pipeline::submit`]: waits for the store's commit and gives the answer.
pub type Answering = Pin<Box<dyn Future<Output = Disposition> + Send>>;

impl Pipeline {
    /// Takes one HL7 message (raw bytes as framed) from `peer` through the pipeline.
    pub async fn receive(self: &Arc<Self>, raw: Bytes, peer: &str) -> Disposition {
        self.submit(raw, peer).await.await
    }

    /// The part of [`Pipeline::receive`] that must run in arrival order: parse, duplicate
    /// check, scripts, and handing the message to the store writer (which fixes its place in
    /// the queues). The returned future waits for the commit and builds the answer, so a
    /// connection can submit its next frame meanwhile; it must give the answers in order.
    /// Messages with emitted children, unreadable input and duplicates are stored completely
    /// here (the answer is then ready).
    pub async fn submit(self: &Arc<Self>, raw: Bytes, peer: &str) -> Answering {
        let received_at_ms = now_ms();
        metrics::counter!(crate::metrics::RECEIVED, "channel" => self.channel.clone()).increment(1);
        let message = match Message::parse(&raw) {
            Ok(message) => message,
            Err(error) => {
                let answer = self
                    .unreadable(raw.to_vec(), peer, received_at_ms, &error)
                    .await;
                return Box::pin(std::future::ready(answer));
            }
        };
        let meta = meta_of(&message);
        let buf = MessageBuf::from_message(&message);

        if let Some(found) = self.duplicate_of(&meta.control_id, received_at_ms) {
            metrics::counter!(crate::metrics::DUPLICATES, "channel" => self.channel.clone())
                .increment(1);
            let reason = format!("duplicate of {found} (control id seen within the window)");
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
            let answer = self
                .settle(&raw, peer, received_at_ms, meta, &buf, settled)
                .await;
            return Box::pin(std::future::ready(answer));
        }

        let original = buf.as_bytes().to_vec();
        let scripted = if self.has_scripts() {
            self.run_scripts(
                Payload::Hl7(buf.clone()),
                original.clone(),
                meta.control_id.clone(),
            )
            .await
        } else {
            unscripted(&self.routes, &original)
        };
        let staged = self.stage_scripted(
            raw.to_vec(),
            peer,
            received_at_ms,
            meta,
            &original,
            scripted,
        );
        if !staged.children.is_empty() {
            // The children are stored after the parent's commit (they name its id), and before
            // the next frame's message.
            let stored = self.finish_scripted(staged, peer, received_at_ms).await;
            let answer = self
                .answer(&buf, stored.id, stored.code, stored.status, stored.ack_text)
                .await;
            return Box::pin(std::future::ready(answer));
        }
        let this = Arc::clone(self);
        let peer = peer.to_owned();
        Box::pin(async move {
            let stored = this.finish_scripted(staged, &peer, received_at_ms).await;
            this.answer(&buf, stored.id, stored.code, stored.status, stored.ack_text)
                .await
        })
    }

    /// Takes one JSON message (from the HTTP source) through the pipeline. Scripts see it as
    /// `msg`, a map; without scripts it is stored and queued byte for byte as received.
    pub async fn receive_json(self: &Arc<Self>, body: Vec<u8>, peer: &str) -> Disposition {
        let received_at_ms = now_ms();
        metrics::counter!(crate::metrics::RECEIVED, "channel" => self.channel.clone()).increment(1);
        let meta = MessageMeta {
            message_type: "JSON".into(),
            trigger: String::new(),
            control_id: String::new(),
            patient_id: String::new(),
        };
        let scripted = if !self.has_scripts() {
            unscripted(&self.routes, &body)
        } else {
            match serde_json::from_slice::<serde_json::Value>(&body) {
                Ok(value) => {
                    self.run_scripts(Payload::Json(value), body.clone(), String::new())
                        .await
                }
                Err(error) => Scripted::Error(format!("the body is not valid JSON: {error}")),
            }
        };
        let stored = self
            .store_scripted(body.clone(), peer, received_at_ms, meta, &body, scripted)
            .await;
        match stored.id {
            Ok(id) => {
                self.count_ack(stored.code);
                Disposition {
                    ack: None,
                    code: stored.code,
                    message_id: Some(id),
                    status: stored.status,
                }
            }
            Err(error) => self.store_failed(error, None),
        }
    }

    /// Whether any script runs on this channel's messages.
    fn has_scripts(&self) -> bool {
        self.filter.is_some()
            || self.transform.is_some()
            || self.routes.iter().any(|r| r.transform.is_some())
    }

    /// Runs the scripts on the blocking pool: off the reactor, with their own limits.
    async fn run_scripts(
        self: &Arc<Self>,
        original: Payload,
        received: Vec<u8>,
        control_id: String,
    ) -> Scripted {
        let this = Arc::clone(self);
        let task = tokio::task::spawn_blocking(move || {
            run_scripts(
                this.filter.as_deref(),
                this.transform.as_deref(),
                &this.routes,
                original,
                &received,
                &control_id,
            )
        });
        match task.await {
            Ok(scripted) => scripted,
            Err(join) => Scripted::Error(format!("the script task failed: {join}")),
        }
    }

    /// Stores a message (and what its scripts emitted) as the scripts decided, and wakes the
    /// destinations that got something. `original` is what "changed by the transform" is
    /// measured against.
    async fn store_scripted(
        &self,
        raw: Vec<u8>,
        peer: &str,
        received_at_ms: u64,
        meta: MessageMeta,
        original: &[u8],
        scripted: Scripted,
    ) -> StoredOutcome {
        let staged = self.stage_scripted(raw, peer, received_at_ms, meta, original, scripted);
        self.finish_scripted(staged, peer, received_at_ms).await
    }

    /// The in-order half of [`Pipeline::store_scripted`]: hands the message to the writer.
    fn stage_scripted(
        &self,
        raw: Vec<u8>,
        peer: &str,
        received_at_ms: u64,
        meta: MessageMeta,
        original: &[u8],
        scripted: Scripted,
    ) -> Staged {
        match scripted {
            Scripted::Error(reason) => {
                metrics::counter!(crate::metrics::ERRORS, "channel" => self.channel.clone(), "stage" => "processing", "error_type" => "script").increment(1);
                let id = self.record(
                    raw,
                    peer,
                    received_at_ms,
                    meta,
                    MessageStatus::Error,
                    Some(reason.clone()),
                    None,
                    Vec::new(),
                );
                Staged {
                    id,
                    status: MessageStatus::Error,
                    code: self.error_code(),
                    // The sender is told the first line only: a mapping's field errors follow
                    // on further lines and show values (patient data), which stay in the store.
                    ack_text: reason.lines().next().map(str::to_string),
                    woken: Vec::new(),
                    children: Vec::new(),
                }
            }
            Scripted::Filtered { reason, children } => {
                metrics::counter!(crate::metrics::FILTERED, "channel" => self.channel.clone())
                    .increment(1);
                let reason = with_emitted(reason, children.len());
                let id = self.record(
                    raw,
                    peer,
                    received_at_ms,
                    meta,
                    MessageStatus::Filtered,
                    Some(reason),
                    None,
                    Vec::new(),
                );
                Staged {
                    id,
                    status: MessageStatus::Filtered,
                    code: self.accept_code(),
                    ack_text: None,
                    woken: Vec::new(),
                    children,
                }
            }
            Scripted::Continue {
                transformed,
                deliveries,
                dropped_by,
                children,
            } => {
                let transformed = transformed.filter(|t| t.as_slice() != original);
                let (status, reason) =
                    settled_status(&deliveries, &dropped_by, self.routes.is_empty());
                if status == MessageStatus::Filtered {
                    metrics::counter!(crate::metrics::FILTERED, "channel" => self.channel.clone())
                        .increment(1);
                }
                let reason = match reason {
                    Some(r) => Some(with_emitted(r, children.len())),
                    None if !children.is_empty() => {
                        Some(with_emitted(String::new(), children.len()))
                    }
                    None => None,
                };
                let woken: Vec<String> = deliveries.iter().map(|d| d.destination.clone()).collect();
                let id = self.record(
                    raw,
                    peer,
                    received_at_ms,
                    meta,
                    status,
                    reason,
                    transformed,
                    deliveries,
                );
                Staged {
                    id,
                    status,
                    code: self.accept_code(),
                    ack_text: None,
                    woken,
                    children,
                }
            }
        }
    }

    /// The waiting half of [`Pipeline::store_scripted`]: the commit, then the wake-ups (a
    /// worker woken earlier could miss the message) and the emitted messages.
    async fn finish_scripted(
        &self,
        staged: Staged,
        peer: &str,
        received_at_ms: u64,
    ) -> StoredOutcome {
        let Staged {
            id,
            status,
            code,
            ack_text,
            woken,
            children,
        } = staged;
        let id = id.await;
        if id.is_ok() {
            self.wake(&woken);
        }
        let stored = StoredOutcome {
            id,
            status,
            code,
            ack_text,
        };
        let parent = match &stored.id {
            Ok(id) => *id,
            Err(_) => return stored,
        };
        for child in children {
            if let Err(error) = self.store_child(child, parent, peer, received_at_ms).await {
                return StoredOutcome {
                    id: Err(error),
                    ..stored
                };
            }
        }
        stored
    }

    /// Stores one emitted message, linked to its parent through the peer it names.
    async fn store_child(
        &self,
        child: Child,
        parent: store::MessageId,
        peer: &str,
        received_at_ms: u64,
    ) -> Result<store::MessageId, store::StoreError> {
        let meta = match &child.message {
            Payload::Hl7(buf) => meta_of(&buf.as_message()),
            Payload::Json(_) => MessageMeta {
                message_type: "JSON".into(),
                control_id: control_id_of(&child.message),
                ..MessageMeta::default()
            },
        };
        let (status, reason) =
            settled_status(&child.deliveries, &child.dropped_by, self.routes.is_empty());
        let woken: Vec<String> = child
            .deliveries
            .iter()
            .map(|d| d.destination.clone())
            .collect();
        let id = self
            .record(
                child.message.to_bytes(),
                &format!("emitted by message {parent} from {peer}"),
                received_at_ms,
                meta,
                status,
                reason,
                None,
                child.deliveries,
            )
            .await?;
        self.wake(&woken);
        Ok(id)
    }

    /// Counts what was queued for the named destinations (the store wakes their workers).
    fn wake(&self, names: &[String]) {
        for route in self.routes.iter().filter(|r| names.contains(&r.name)) {
            metrics::counter!(crate::metrics::ENQUEUED, "channel" => self.channel.clone(), "destination" => route.name.clone()).increment(1);
        }
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

    /// Hands a message to the store writer now; the result resolves when it is durable.
    #[allow(clippy::too_many_arguments)]
    fn record(
        &self,
        raw: Vec<u8>,
        peer: &str,
        received_at_ms: u64,
        meta: MessageMeta,
        status: MessageStatus,
        error: Option<String>,
        transformed: Option<Vec<u8>>,
        deliveries: Vec<NewDelivery>,
    ) -> store::Accepting {
        // Each destination's worker is woken by the store once the message is in its queue.
        let wake = deliveries
            .iter()
            .filter_map(|d| self.routes.iter().find(|r| r.name == d.destination))
            .map(|r| Arc::clone(&r.wake))
            .collect();
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
        self.store.submit_waking(message, self.durability, wake)
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

    /// The earlier message with this control id, if any: one stored within the window, or one
    /// still on its way to the store (sent just before on a pipelining connection).
    fn duplicate_of(&self, control_id: &str, now: u64) -> Option<String> {
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

/// A message handed to the writer, with what to do once it is committed.
struct Staged {
    id: store::Accepting,
    status: MessageStatus,
    code: AckCode,
    ack_text: Option<String>,
    /// The destinations to wake after the commit.
    woken: Vec<String>,
    /// Emitted messages, stored after the commit.
    children: Vec<Child>,
}

/// How storing a message ended: its id (or the store's error), status, and the answer.
struct StoredOutcome {
    id: Result<store::MessageId, store::StoreError>,
    status: MessageStatus,
    code: AckCode,
    ack_text: Option<String>,
}

/// The status of a message that reached the destinations' transforms: QUEUED when some
/// destination takes it, FILTERED when every destination transform dropped it, SENT when the
/// channel has no destinations. The reason lists the destinations that dropped it.
fn settled_status(
    deliveries: &[NewDelivery],
    dropped_by: &[String],
    no_routes: bool,
) -> (MessageStatus, Option<String>) {
    let reason = (!dropped_by.is_empty()).then(|| {
        format!(
            "dropped by destination transforms: {}",
            dropped_by.join("; ")
        )
    });
    if !deliveries.is_empty() {
        (MessageStatus::Queued, reason)
    } else if no_routes {
        (MessageStatus::Sent, reason)
    } else {
        (MessageStatus::Filtered, reason)
    }
}

/// `reason`, noting how many messages the scripts emitted (stored as their own messages).
fn with_emitted(reason: String, emitted: usize) -> String {
    match (emitted, reason.is_empty()) {
        (0, _) => reason,
        (n, true) => format!("the scripts emitted {n} messages"),
        (n, false) => format!("{reason}; the scripts emitted {n} messages"),
    }
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
