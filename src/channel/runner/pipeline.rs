//! The pipeline's public face: the types a channel is built from and answered with, and the
//! entry points that take one message through (parse, duplicate check, scripts, then the
//! storing and answering halves in the sibling modules).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::sync::Notify;

use super::answering::AnswerFrom;
use super::storing::{Settled, meta_of};
use crate::channel::scripted::{Scripted, run_scripts, unscripted};
use crate::channel::stage::TransformStage;
use crate::channel::{AckMode, DuplicateAction};
use crate::hl7::{AckCode, Message, MessageBuf};
use crate::script::{Filter, Payload};
use crate::store::{self, AcceptBatch, Durability, MessageMeta, MessageStatus, Store};

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
    /// The per-message counters (`Default::default()`).
    pub meters: super::IntakeMeters,
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
        let mut batch = self.store.batch();
        let answering = self.submit_into(raw, peer, &mut batch).await;
        batch.send();
        answering
    }

    /// [`Pipeline::submit`] with the store's part staged in `batch`: the caller submits the
    /// frames it has, one after another, then sends the batch, and the store journals them
    /// together. Whatever must wait (scripts, a duplicate's or an unreadable message's
    /// answer, emitted children) sends what the batch holds first, so order is kept.
    pub async fn submit_into(
        self: &Arc<Self>,
        raw: Bytes,
        peer: &str,
        batch: &mut AcceptBatch,
    ) -> Answering {
        let received_at_ms = now_ms();
        self.meters.received(&self.channel).increment(1);
        let message = match Message::parse(&raw) {
            Ok(message) => message,
            Err(error) => {
                batch.send();
                let answer = self.unreadable(raw, peer, received_at_ms, &error).await;
                return Box::pin(std::future::ready(answer));
            }
        };
        let meta = meta_of(&message);
        // The parsed copy is the received bytes themselves (no BOM, every segment ended by
        // one `\r`), so a payload equal to it can share them.
        let canonical = message.is_canonical() && message.as_bytes().len() == raw.len();
        let scripts = self.has_scripts();

        if let Some(found) = self.duplicate_of(&meta.control_id, received_at_ms) {
            batch.send();
            let buf = MessageBuf::from_message(&message);
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
                .settle(raw, peer, received_at_ms, meta, &buf, settled)
                .await;
            return Box::pin(std::future::ready(answer));
        }

        // Without scripts, a message whose parsed form is the frame itself (as usual) needs no
        // copy: its payloads share the frame, and its plain accept is written now, from the
        // header already split.
        let (answer_from, scripted, original) = if !scripts && canonical {
            let answer_from = self.prepared_accept(&message, raw.clone());
            (
                answer_from,
                unscripted(&self.routes, raw.clone()),
                raw.clone(),
            )
        } else {
            // The message as parsed: what scripts start from, and what a payload equal to it
            // is compared with.
            let buf = MessageBuf::from_message(&message);
            let original = Bytes::copy_from_slice(buf.as_bytes());
            let scripted = if scripts {
                batch.send();
                self.run_scripts(
                    Payload::Hl7(buf.clone()),
                    original.clone(),
                    meta.control_id.clone(),
                )
                .await
            } else {
                unscripted(&self.routes, original.clone())
            };
            (AnswerFrom::Copy(buf), scripted, original)
        };
        let staged =
            self.stage_scripted(batch, raw, peer, received_at_ms, meta, &original, scripted);
        if !staged.children.is_empty() {
            batch.send();
            // The children are stored after the parent's commit (they name its id), and before
            // the next frame's message.
            let stored = self.finish_scripted(staged, peer, received_at_ms).await;
            let answer = self.answer_from(&answer_from, stored).await;
            return Box::pin(std::future::ready(answer));
        }
        let this = Arc::clone(self);
        let peer = peer.to_owned();
        Box::pin(async move {
            let stored = this.finish_scripted(staged, &peer, received_at_ms).await;
            this.answer_from(&answer_from, stored).await
        })
    }

    /// Takes one JSON message (from the HTTP source) through the pipeline. Scripts see it as
    /// `msg`, a map; without scripts it is stored and queued byte for byte as received.
    pub async fn receive_json(self: &Arc<Self>, body: Vec<u8>, peer: &str) -> Disposition {
        let received_at_ms = now_ms();
        self.meters.received(&self.channel).increment(1);
        let meta = MessageMeta {
            message_type: "JSON".into(),
            trigger: String::new(),
            control_id: String::new(),
            patient_id: String::new(),
        };
        let body = Bytes::from(body);
        let scripted = if !self.has_scripts() {
            unscripted(&self.routes, body.clone())
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
        received: Bytes,
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

    /// The routes by name, for the delivery workers.
    pub fn wakers(&self) -> HashMap<String, Arc<Notify>> {
        self.routes
            .iter()
            .map(|r| (r.name.clone(), r.wake.clone()))
            .collect()
    }
}
