//! Running one case: the input goes through the channel's real [`Pipeline`] and what the
//! store then holds (status, error, and each destination's queued payload) is read back.

use std::sync::Arc;

use bytes::Bytes;

use super::format::{ExpectedStatus, Input, TestCase};
use crate::channel::runner::Pipeline;
use crate::hl7::AckCode;
use crate::store::{MessageFilter, MessageId, MessageStatus, Store, StoredMessage};

/// The peer name the store records for test messages.
pub const TEST_PEER: &str = "ihub-test";

/// What happened to a case's message: what the sender was told and what each destination
/// would receive.
#[derive(Debug, Clone)]
pub struct Observed {
    /// MSA-1 of the answer.
    pub ack: AckCode,
    /// How the message ended, in the test file's words (`sent`, `filtered`, `error`), or
    /// `not stored`.
    pub status: &'static str,
    /// The reason stored with the message (filtered, error), for the report.
    pub reason: Option<String>,
    /// Every queue entry, as (destination, payload): the message's own first (in channel
    /// order), then those of the messages its scripts emitted, in the order they were stored.
    pub deliveries: Vec<(String, Vec<u8>)>,
}

impl Observed {
    /// The payloads queued for `destination`, in order.
    pub fn payloads(&self, destination: &str) -> Vec<&[u8]> {
        self.deliveries
            .iter()
            .filter(|(name, _)| name == destination)
            .map(|(_, payload)| payload.as_slice())
            .collect()
    }
}

/// Sends `case`'s input through `pipeline` and reads back what the store kept.
pub async fn observe(
    case: &TestCase,
    pipeline: &Arc<Pipeline>,
    store: &Store,
) -> anyhow::Result<Observed> {
    let disposition = match &case.input {
        Input::Hl7(bytes) => {
            pipeline
                .receive(Bytes::copy_from_slice(bytes), TEST_PEER)
                .await
        }
        Input::Json(bytes) => pipeline.receive_json(bytes.clone(), TEST_PEER).await,
    };
    let Some(id) = disposition.message_id else {
        return Ok(Observed {
            ack: disposition.code,
            status: "not stored",
            reason: Some("the message could not be stored".into()),
            deliveries: Vec::new(),
        });
    };
    let stored = store
        .message(id)?
        .ok_or_else(|| anyhow::anyhow!("message {id} is not in the test store"))?;
    // The store is this case's alone, so every other message in it was emitted by a script
    // while this one went through; ids grow in the order messages are stored.
    let mut ids: Vec<MessageId> = store
        .list(&MessageFilter {
            channel: Some(pipeline.channel.clone()),
            limit: Some(MessageFilter::MAX_LIMIT),
            ..MessageFilter::default()
        })?
        .into_iter()
        .map(|summary| summary.id)
        .filter(|other| *other != id)
        .collect();
    ids.sort_unstable();
    let mut deliveries: Vec<(String, Vec<u8>)> = Vec::new();
    let mut take = |message: StoredMessage| {
        deliveries.extend(
            message
                .destinations
                .into_iter()
                .map(|d| (d.destination, d.payload)),
        );
    };
    let (status, reason) = (status_word(stored.status), stored.error.clone());
    take(stored);
    for other in ids {
        if let Some(message) = store.message(other)? {
            take(message);
        }
    }
    Ok(Observed {
        ack: disposition.code,
        status,
        reason,
        deliveries,
    })
}

/// The store's status in the test file's words: with no workers, "sent" is "queued".
fn status_word(status: MessageStatus) -> &'static str {
    match status {
        MessageStatus::Filtered => ExpectedStatus::Filtered.as_str(),
        MessageStatus::Error => ExpectedStatus::Error.as_str(),
        MessageStatus::Queued | MessageStatus::Sent => ExpectedStatus::Sent.as_str(),
        MessageStatus::Received => MessageStatus::Received.as_str(),
    }
}
