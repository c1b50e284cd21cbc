//! The records the store writes, and their encodings.
//!
//! Message records and queue entries are written in a compact binary encoding
//! (`record_codec.rs`); earlier versions wrote them as JSON, which still decodes, and attempts
//! are still JSON. Bulk bytes (raw message, transformed message, payloads, responses) are
//! stored as separate values, byte for byte, so they are never escaped and reading a list of
//! messages never touches them.

use serde::{Deserialize, Serialize};

use super::bodies::BodyRef;
use super::error::StoreError;
use super::model::{Attempt, DeliveryStatus, MessageId, MessageMeta, MessageStatus, NewMessage};

/// Where a destination's payload is stored. Without a transform (or with `send_original`) a
/// payload is byte for byte the raw or transformed message; storing it once more would double
/// the bytes written per message, so only a payload of its own gets a `payloads` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum PayloadSource {
    /// In the `payloads` table (also every record written before this field existed).
    #[default]
    Own,
    /// The raw message is the payload.
    Raw,
    /// The transformed message is the payload.
    Transformed,
}

impl PayloadSource {
    /// For `skip_serializing_if`: the default needs no bytes in the record.
    pub(crate) fn is_own(&self) -> bool {
        *self == PayloadSource::Own
    }
}

/// Where each of `msg`'s payloads will be stored, in delivery order.
pub(crate) fn payload_sources(msg: &NewMessage) -> Vec<PayloadSource> {
    msg.deliveries
        .iter()
        .map(|d| {
            // A payload that shares the received bytes is them without comparing 6 KB.
            let shared = d.payload.as_ptr() == msg.raw.as_ptr() && d.payload.len() == msg.raw.len();
            if shared || d.payload == msg.raw {
                PayloadSource::Raw
            } else if msg.transformed.as_deref() == Some(&d.payload[..]) {
                PayloadSource::Transformed
            } else {
                PayloadSource::Own
            }
        })
        .collect()
}

/// Frees `msg`'s bulk bytes (raw, transformed, payloads) once its journal record holds them:
/// the database keeps only where they are, so the work waiting for the applier need not keep
/// them in memory. Whether it was transformed stays visible (an empty `Some`).
pub(crate) fn drop_bulk(msg: &mut NewMessage) {
    msg.raw = bytes::Bytes::new();
    if let Some(transformed) = msg.transformed.as_mut() {
        *transformed = Vec::new();
    }
    for delivery in &mut msg.deliveries {
        delivery.payload = bytes::Bytes::new();
    }
}

/// One message, without its bulk bytes. Key: the message id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct MessageRecord {
    pub(crate) channel: String,
    pub(crate) peer: String,
    pub(crate) received_at_ms: u64,
    pub(crate) updated_at_ms: u64,
    pub(crate) meta: MessageMeta,
    pub(crate) status: MessageStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
    /// Whether the `transformed` table holds a value for this message.
    #[serde(default)]
    pub(crate) transformed: bool,
    /// In the channel's destination order; the index is the destination's number in the
    /// `payloads` and `attempts` keys.
    #[serde(default)]
    pub(crate) destinations: Vec<DestRecord>,
    /// Where the journal holds the bulk bytes (raw, transformed, payloads); `None`: they are
    /// in the `raw`, `transformed` and `payloads` tables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) body: Option<BodyRef>,
}

/// One destination of a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DestRecord {
    pub(crate) name: String,
    pub(crate) status: DeliveryStatus,
    /// Attempts recorded so far, across replays: the next attempt's number.
    pub(crate) attempts: u32,
    /// While queued: the sequence number of its queue entry (its place in the FIFO).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) queue_seq: Option<u64>,
    /// While queued: not to be sent before this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) not_before_ms: Option<u64>,
    /// Where its payload is stored.
    #[serde(default, skip_serializing_if = "PayloadSource::is_own")]
    pub(crate) payload: PayloadSource,
}

impl MessageRecord {
    /// The overall status implied by the destinations, or `None` when there are none (then
    /// the pipeline's status stands): `Error` if any destination is dead-lettered, `Sent` when
    /// all are sent, `Queued` otherwise.
    pub(crate) fn derived_status(&self) -> Option<MessageStatus> {
        if self.destinations.is_empty() {
            return None;
        }
        if self
            .destinations
            .iter()
            .any(|d| d.status == DeliveryStatus::Error)
        {
            Some(MessageStatus::Error)
        } else if self
            .destinations
            .iter()
            .all(|d| d.status == DeliveryStatus::Sent)
        {
            Some(MessageStatus::Sent)
        } else {
            Some(MessageStatus::Queued)
        }
    }

    /// Whether pruning must leave it alone: still waiting for a destination, or not yet
    /// through the pipeline.
    pub(crate) fn is_pending(&self) -> bool {
        matches!(self.status, MessageStatus::Received | MessageStatus::Queued)
            || self.destinations.iter().any(|d| d.queue_seq.is_some())
    }

    /// The index of destination `name`.
    pub(crate) fn destination_index(&self, name: &str) -> Option<usize> {
        self.destinations.iter().position(|d| d.name == name)
    }
}

/// One entry of a destination queue. Key: channel ‖ destination ‖ seq.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct QueueEntry {
    pub(crate) message_id: MessageId,
    /// The destination's index in the message record (locates the payload).
    pub(crate) dest_index: u16,
    /// Attempts since it was (re-)queued.
    pub(crate) attempts: u32,
    pub(crate) not_before_ms: u64,
    pub(crate) enqueued_at_ms: u64,
    pub(crate) control_id: String,
    /// Where the payload is stored (copied from the destination record).
    #[serde(default, skip_serializing_if = "PayloadSource::is_own")]
    pub(crate) payload: PayloadSource,
    /// The message's journal record, when the payload is there (copied from the record).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) body: Option<BodyRef>,
}

/// The JSON part of an attempt; the response bytes follow it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct AttemptHeader {
    at_ms: u64,
    ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    duration_ms: u64,
    /// Distinguishes "no response" from an empty one.
    has_response: bool,
}

/// Serializes a record as JSON.
pub(crate) fn to_json<T: Serialize>(what: &str, value: &T) -> Result<Vec<u8>, StoreError> {
    // Serializing these plain structs cannot fail in practice (string keys, no maps with
    // non-string keys), but the error is still reported, not unwrapped.
    serde_json::to_vec(value).map_err(|e| StoreError::corrupt(what, e))
}

/// Deserializes a JSON record, naming it (never its content) if it does not decode.
pub(crate) fn from_json<T: for<'de> Deserialize<'de>>(
    what: impl FnOnce() -> String,
    bytes: &[u8],
) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::corrupt(what(), e))
}

/// An attempt as `u32 header length ‖ JSON header ‖ response bytes`.
pub(crate) fn encode_attempt(attempt: &Attempt) -> Result<Vec<u8>, StoreError> {
    let header = AttemptHeader {
        at_ms: attempt.at_ms,
        ok: attempt.ok,
        error: attempt.error.clone(),
        duration_ms: attempt.duration_ms,
        has_response: attempt.response.is_some(),
    };
    let json = to_json("attempt", &header)?;
    let len = u32::try_from(json.len())
        .map_err(|_| StoreError::Invalid("attempt error text is too long".into()))?;
    let response = attempt.response.as_deref().unwrap_or_default();
    let mut out = Vec::with_capacity(4 + json.len() + response.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(response);
    Ok(out)
}

/// The inverse of [`encode_attempt`].
pub(crate) fn decode_attempt(id: MessageId, bytes: &[u8]) -> Result<Attempt, StoreError> {
    let what = || format!("attempt of message {id}");
    let (len, rest) = bytes
        .split_first_chunk::<4>()
        .ok_or_else(|| StoreError::corrupt(what(), "shorter than its length prefix"))?;
    let len =
        usize::try_from(u32::from_be_bytes(*len)).map_err(|e| StoreError::corrupt(what(), e))?;
    let json = rest
        .get(..len)
        .ok_or_else(|| StoreError::corrupt(what(), "header runs past the end"))?;
    let header: AttemptHeader = from_json(what, json)?;
    let response = rest.get(len..).unwrap_or_default();
    Ok(Attempt {
        at_ms: header.at_ms,
        ok: header.ok,
        response: header.has_response.then(|| response.to_vec()),
        error: header.error,
        duration_ms: header.duration_ms,
    })
}

/// A counter value (u64 big-endian); a missing counter is zero.
pub(crate) fn decode_counter(what: &str, bytes: Option<&[u8]>) -> Result<u64, StoreError> {
    match bytes {
        None => Ok(0),
        Some(bytes) => super::keys::read_u64(bytes)
            .ok_or_else(|| StoreError::corrupt(what, "not an 8-byte counter")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dest(status: DeliveryStatus) -> DestRecord {
        DestRecord {
            name: "d".into(),
            status,
            attempts: 0,
            queue_seq: None,
            not_before_ms: None,
            payload: PayloadSource::Own,
        }
    }

    fn record(dests: Vec<DestRecord>) -> MessageRecord {
        MessageRecord {
            channel: "c".into(),
            peer: "p".into(),
            received_at_ms: 1,
            updated_at_ms: 1,
            meta: MessageMeta::default(),
            status: MessageStatus::Queued,
            error: None,
            transformed: false,
            destinations: dests,
            body: None,
        }
    }

    #[test]
    fn derived_status_follows_the_destinations() {
        use DeliveryStatus::*;
        assert_eq!(record(vec![]).derived_status(), None);
        assert_eq!(
            record(vec![dest(Sent), dest(Queued)]).derived_status(),
            Some(MessageStatus::Queued)
        );
        assert_eq!(
            record(vec![dest(Sent), dest(Sent)]).derived_status(),
            Some(MessageStatus::Sent)
        );
        assert_eq!(
            record(vec![dest(Error), dest(Queued)]).derived_status(),
            Some(MessageStatus::Error)
        );
    }

    #[test]
    fn attempts_round_trip_with_binary_responses() {
        for response in [None, Some(vec![]), Some(b"MSA|AA|1\r\x00\xff".to_vec())] {
            let attempt = Attempt {
                at_ms: 5,
                ok: response.is_some(),
                response: response.clone(),
                error: Some("timeout \"quoted\"".into()),
                duration_ms: 7,
            };
            let bytes = encode_attempt(&attempt).unwrap();
            assert_eq!(decode_attempt(1, &bytes).unwrap(), attempt);
        }
    }

    #[test]
    fn truncated_attempts_are_errors_not_panics() {
        let bytes = encode_attempt(&Attempt {
            at_ms: 1,
            ok: true,
            response: None,
            error: None,
            duration_ms: 1,
        })
        .unwrap();
        for cut in 0..bytes.len() {
            assert!(decode_attempt(1, &bytes[..cut]).is_err(), "cut at {cut}");
        }
        assert!(decode_attempt(1, &[0xff, 0xff, 0xff, 0xff, b'{']).is_err());
    }

    #[test]
    fn counters_decode() {
        assert_eq!(decode_counter("c", None).unwrap(), 0);
        assert_eq!(decode_counter("c", Some(&7u64.to_be_bytes())).unwrap(), 7);
        assert!(decode_counter("c", Some(b"x")).is_err());
    }
}
