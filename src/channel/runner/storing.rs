//! The storing half of the pipeline: a message (and what its scripts emitted) handed to the
//! store writer with the status the scripts decided, the wait for the commit, and the
//! wake-ups of the destinations that got something.

use bytes::Bytes;
use std::sync::Arc;

use crate::channel::scripted::{Child, Scripted, control_id_of};
use crate::hl7::{AckCode, Message, MessageBuf};
use crate::script::Payload;
use crate::store::{self, AcceptBatch, MessageMeta, MessageStatus, NewDelivery, NewMessage};

use super::{Disposition, Pipeline};

impl Pipeline {
    /// Stores a message (and what its scripts emitted) as the scripts decided, and wakes the
    /// destinations that got something. `original` is what "changed by the transform" is
    /// measured against.
    pub(super) async fn store_scripted(
        &self,
        raw: Bytes,
        peer: &str,
        received_at_ms: u64,
        meta: MessageMeta,
        original: &[u8],
        scripted: Scripted,
    ) -> StoredOutcome {
        // The temporary batch hands the message over at the end of the statement.
        let staged = self.stage_scripted(
            &mut self.store.batch(),
            raw,
            peer,
            received_at_ms,
            meta,
            original,
            scripted,
        );
        self.finish_scripted(staged, peer, received_at_ms).await
    }

    /// The in-order half of [`Pipeline::store_scripted`]: stages the message in `batch`, which
    /// hands it to the writer.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn stage_scripted(
        &self,
        batch: &mut AcceptBatch,
        raw: Bytes,
        peer: &str,
        received_at_ms: u64,
        meta: MessageMeta,
        original: &[u8],
        scripted: Scripted,
    ) -> Staged {
        match scripted {
            Scripted::Error(reason) => {
                metrics::counter!(crate::metrics::ERRORS, "channel" => self.channel.clone(), "stage" => "processing", "error_type" => "script").increment(1);
                let id = self.record_into(
                    batch,
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
                let id = self.record_into(
                    batch,
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
                let id = self.record_into(
                    batch,
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

    /// The waiting half of [`Pipeline::store_scripted`]: the commit, then the enqueued counts
    /// and the emitted messages. (The store wakes the destinations' workers once the message
    /// is in their queues.)
    pub(super) async fn finish_scripted(
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
            self.count_enqueued(&woken);
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
                child.message.to_bytes().into(),
                &format!("emitted by message {parent} from {peer}"),
                received_at_ms,
                meta,
                status,
                reason,
                None,
                child.deliveries,
            )
            .await?;
        self.count_enqueued(&woken);
        Ok(id)
    }

    /// Counts what was queued for the named destinations (the store wakes their workers).
    fn count_enqueued(&self, names: &[String]) {
        let counters = self.meters.enqueued(&self.channel, &self.routes);
        for (route, counter) in self.routes.iter().zip(counters) {
            if names.contains(&route.name) {
                counter.increment(1);
            }
        }
    }

    /// Hands a message to the store writer now; the result resolves when it is durable.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn record(
        &self,
        raw: Bytes,
        peer: &str,
        received_at_ms: u64,
        meta: MessageMeta,
        status: MessageStatus,
        error: Option<String>,
        transformed: Option<Vec<u8>>,
        deliveries: Vec<NewDelivery>,
    ) -> store::Accepting {
        // The temporary batch hands the message over at the end of the statement.
        self.record_into(
            &mut self.store.batch(),
            raw,
            peer,
            received_at_ms,
            meta,
            status,
            error,
            transformed,
            deliveries,
        )
    }

    /// [`Pipeline::record`] into `batch`, which hands it to the writer with the messages
    /// staged with it.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn record_into(
        &self,
        batch: &mut AcceptBatch,
        raw: Bytes,
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
        let detects_duplicates = self.duplicate_window.is_some();
        batch.stage(message, self.durability, wake, detects_duplicates)
    }

    /// Stores a message that goes to no destination (a duplicate, filtered, or failed in a
    /// script) and answers it.
    pub(super) async fn settle(
        &self,
        raw: Bytes,
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
                raw,
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
}

/// How a message that goes to no destination ends: its status and stored reason, the ACK code,
/// and the text (if any) the ACK carries.
pub(super) struct Settled {
    pub(super) status: MessageStatus,
    pub(super) reason: String,
    pub(super) code: AckCode,
    pub(super) ack_text: Option<String>,
}

/// A message handed to the writer, with what to do once it is committed.
pub(super) struct Staged {
    pub(super) id: store::Accepting,
    pub(super) status: MessageStatus,
    pub(super) code: AckCode,
    pub(super) ack_text: Option<String>,
    /// The destinations to wake after the commit.
    pub(super) woken: Vec<String>,
    /// Emitted messages, stored after the commit.
    pub(super) children: Vec<Child>,
}

/// How storing a message ended: its id (or the store's error), status, and the answer.
pub(super) struct StoredOutcome {
    pub(super) id: Result<store::MessageId, store::StoreError>,
    pub(super) status: MessageStatus,
    pub(super) code: AckCode,
    pub(super) ack_text: Option<String>,
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
pub(super) fn meta_of(message: &Message<'_>) -> MessageMeta {
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
