//! The binary encodings of a [`MessageRecord`], the value of the `messages` table, and of a
//! [`QueueEntry`], the value of the `queue` table.
//!
//! Why not JSON: a record is written at every accept and rewritten at every delivery attempt,
//! and the applier copies the B-tree leaves that hold it at every commit. As JSON (field names
//! included) a typical record took ~350 bytes and its encoding a few per cent of the engine's
//! CPU; this encoding is about a third of the size. Records written by earlier versions are
//! JSON and start with `{`; this one starts with [`VERSION`], so both decode. The same holds
//! for queue entries, written at every accept to a destination and read at every delivery.
//!
//! Layout: the version byte, then the fields in declaration order. Strings are a LEB128
//! length and their UTF-8 bytes; integers are LEB128; an `Option` is a 0/1 byte and the value;
//! enums are their one-byte codes.

use super::bodies::BodyRef;
use super::error::StoreError;
use super::model::{DeliveryStatus, MessageMeta, MessageStatus};
use super::record::{self, DestRecord, MessageRecord, PayloadSource, QueueEntry};

/// The first byte of a binary record (a JSON record starts with `{`).
pub(super) const VERSION: u8 = 1;

/// Encodes `record`.
pub(crate) fn encode(record: &MessageRecord) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    out.push(VERSION);
    put_str(&mut out, &record.channel);
    put_str(&mut out, &record.peer);
    put_uint(&mut out, record.received_at_ms);
    put_uint(&mut out, record.updated_at_ms);
    put_outcome(
        &mut out,
        &record.meta,
        record.status,
        record.error.as_deref(),
        record.transformed,
    );
    put_uint(&mut out, record.destinations.len() as u64);
    for dest in &record.destinations {
        put_str(&mut out, &dest.name);
        out.push(delivery_code(dest.status));
        put_uint(&mut out, u64::from(dest.attempts));
        put_opt(&mut out, dest.queue_seq);
        put_opt(&mut out, dest.not_before_ms);
        out.push(payload_code(dest.payload));
    }
    put_body(&mut out, record.body);
    out
}

/// Decodes a record in either encoding; `what` names it (never its content) in the error.
pub(crate) fn decode(
    what: impl FnOnce() -> String,
    bytes: &[u8],
) -> Result<MessageRecord, StoreError> {
    decode_either(what, bytes, decode_binary)
}

/// Binary after [`VERSION`], JSON (of earlier versions) otherwise.
fn decode_either<T: for<'de> serde::Deserialize<'de>>(
    what: impl FnOnce() -> String,
    bytes: &[u8],
    binary: fn(&[u8]) -> Option<T>,
) -> Result<T, StoreError> {
    match bytes.first() {
        Some(&VERSION) => {
            binary(&bytes[1..]).ok_or_else(|| StoreError::corrupt(what(), "bad binary record"))
        }
        _ => record::from_json(what, bytes),
    }
}

fn decode_binary(bytes: &[u8]) -> Option<MessageRecord> {
    let mut r = Reader { bytes, at: 0 };
    let channel = r.string()?;
    let peer = r.string()?;
    let received_at_ms = r.uint()?;
    let updated_at_ms = r.uint()?;
    let (meta, status, error, transformed) = r.outcome()?;
    let count = usize::try_from(r.uint()?).ok()?;
    // Each destination takes at least six bytes: a bad count cannot make a huge allocation.
    let mut destinations = Vec::with_capacity(count.min(r.remaining() / 6));
    for _ in 0..count {
        destinations.push(DestRecord {
            name: r.string()?,
            status: delivery_from_code(r.byte()?)?,
            attempts: u32::try_from(r.uint()?).ok()?,
            queue_seq: r.opt()?,
            not_before_ms: r.opt()?,
            payload: payload_from_code(r.byte()?)?,
        });
    }
    let body = r.body()?;
    (r.remaining() == 0).then_some(MessageRecord {
        channel,
        peer,
        received_at_ms,
        updated_at_ms,
        meta,
        status,
        error,
        transformed,
        destinations,
        body,
    })
}

/// Encodes a queue entry.
pub(crate) fn encode_queue_entry(entry: &QueueEntry) -> Vec<u8> {
    let mut out = Vec::with_capacity(48 + entry.control_id.len());
    out.push(VERSION);
    put_uint(&mut out, entry.message_id);
    put_uint(&mut out, u64::from(entry.dest_index));
    put_uint(&mut out, u64::from(entry.attempts));
    put_uint(&mut out, entry.not_before_ms);
    put_uint(&mut out, entry.enqueued_at_ms);
    put_str(&mut out, &entry.control_id);
    out.push(payload_code(entry.payload));
    put_body(&mut out, entry.body);
    out
}

/// Decodes a queue entry in either encoding.
pub(crate) fn decode_queue_entry(
    what: impl FnOnce() -> String,
    bytes: &[u8],
) -> Result<QueueEntry, StoreError> {
    decode_either(what, bytes, decode_binary_entry)
}

fn decode_binary_entry(bytes: &[u8]) -> Option<QueueEntry> {
    let mut r = Reader { bytes, at: 0 };
    let entry = QueueEntry {
        message_id: r.uint()?,
        dest_index: u16::try_from(r.uint()?).ok()?,
        attempts: u32::try_from(r.uint()?).ok()?,
        not_before_ms: r.uint()?,
        enqueued_at_ms: r.uint()?,
        control_id: r.string()?,
        payload: payload_from_code(r.byte()?)?,
        body: r.body()?,
    };
    (r.remaining() == 0).then_some(entry)
}

fn put_body(out: &mut Vec<u8>, body: Option<BodyRef>) {
    match body {
        Some(body) => {
            out.push(1);
            put_uint(out, body.segment);
            put_uint(out, body.offset);
            put_uint(out, u64::from(body.len));
        }
        None => out.push(0),
    }
}

fn delivery_code(status: DeliveryStatus) -> u8 {
    match status {
        DeliveryStatus::Queued => 1,
        DeliveryStatus::Sent => 2,
        DeliveryStatus::Error => 3,
    }
}

fn delivery_from_code(code: u8) -> Option<DeliveryStatus> {
    Some(match code {
        1 => DeliveryStatus::Queued,
        2 => DeliveryStatus::Sent,
        3 => DeliveryStatus::Error,
        _ => return None,
    })
}

pub(super) fn payload_code(source: PayloadSource) -> u8 {
    match source {
        PayloadSource::Own => 0,
        PayloadSource::Raw => 1,
        PayloadSource::Transformed => 2,
    }
}

pub(super) fn payload_from_code(code: u8) -> Option<PayloadSource> {
    Some(match code {
        0 => PayloadSource::Own,
        1 => PayloadSource::Raw,
        2 => PayloadSource::Transformed,
        _ => return None,
    })
}

/// Writes what a message's header said and what became of it: the fields a database record
/// and a journal record share, in this order (read back by [`Reader::outcome`]).
pub(super) fn put_outcome(
    out: &mut Vec<u8>,
    meta: &MessageMeta,
    status: MessageStatus,
    error: Option<&str>,
    transformed: bool,
) {
    put_str(out, &meta.message_type);
    put_str(out, &meta.trigger);
    put_str(out, &meta.control_id);
    put_str(out, &meta.patient_id);
    out.push(status.code());
    match error {
        Some(error) => {
            out.push(1);
            put_str(out, error);
        }
        None => out.push(0),
    }
    out.push(u8::from(transformed));
}

pub(super) fn put_uint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

pub(super) fn put_str(out: &mut Vec<u8>, s: &str) {
    put_uint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

fn put_opt(out: &mut Vec<u8>, value: Option<u64>) {
    match value {
        Some(value) => {
            out.push(1);
            put_uint(out, value);
        }
        None => out.push(0),
    }
}

/// A cursor over a binary record; every read is `None` past the end.
pub(super) struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    /// Reads `bytes` from the start.
    pub(super) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, at: 0 }
    }

    pub(super) fn remaining(&self) -> usize {
        self.bytes.len() - self.at
    }

    pub(super) fn byte(&mut self) -> Option<u8> {
        let b = *self.bytes.get(self.at)?;
        self.at += 1;
        Some(b)
    }

    pub(super) fn uint(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            value |= u64::from(b & 0x7f).checked_shl(shift)?;
            if b & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    pub(super) fn string(&mut self) -> Option<String> {
        let len = usize::try_from(self.uint()?).ok()?;
        let end = self.at.checked_add(len)?;
        let s = std::str::from_utf8(self.bytes.get(self.at..end)?).ok()?;
        self.at = end;
        Some(s.to_owned())
    }

    /// What [`put_outcome`] wrote: the header's fields, the status, the error and whether
    /// the message was transformed.
    pub(super) fn outcome(&mut self) -> Option<(MessageMeta, MessageStatus, Option<String>, bool)> {
        let meta = MessageMeta {
            message_type: self.string()?,
            trigger: self.string()?,
            control_id: self.string()?,
            patient_id: self.string()?,
        };
        let status = MessageStatus::from_code(self.byte()?)?;
        let error = match self.byte()? {
            0 => None,
            1 => Some(self.string()?),
            _ => return None,
        };
        let transformed = match self.byte()? {
            0 => false,
            1 => true,
            _ => return None,
        };
        Some((meta, status, error, transformed))
    }

    fn body(&mut self) -> Option<Option<BodyRef>> {
        match self.byte()? {
            0 => Some(None),
            1 => Some(Some(BodyRef {
                segment: self.uint()?,
                offset: self.uint()?,
                len: u32::try_from(self.uint()?).ok()?,
            })),
            _ => None,
        }
    }

    fn opt(&mut self) -> Option<Option<u64>> {
        match self.byte()? {
            0 => Some(None),
            1 => Some(Some(self.uint()?)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> MessageRecord {
        MessageRecord {
            channel: "lab".into(),
            peer: "10.0.0.5:51234".into(),
            received_at_ms: 1_764_800_000_123,
            updated_at_ms: 1_764_800_000_456,
            meta: MessageMeta {
                message_type: "ORU".into(),
                trigger: "R01".into(),
                control_id: "CTRL\u{e9}1".into(),
                patient_id: "MRN7".into(),
            },
            status: MessageStatus::Queued,
            error: Some("destination ehr: refused".into()),
            transformed: true,
            destinations: vec![
                DestRecord {
                    name: "archive".into(),
                    status: DeliveryStatus::Sent,
                    attempts: 1,
                    queue_seq: None,
                    not_before_ms: None,
                    payload: PayloadSource::Raw,
                },
                DestRecord {
                    name: "ehr".into(),
                    status: DeliveryStatus::Queued,
                    attempts: 300,
                    queue_seq: Some(u64::MAX),
                    not_before_ms: Some(0),
                    payload: PayloadSource::Transformed,
                },
                DestRecord {
                    name: "x".into(),
                    status: DeliveryStatus::Error,
                    attempts: 0,
                    queue_seq: None,
                    not_before_ms: None,
                    payload: PayloadSource::Own,
                },
            ],
            body: Some(BodyRef {
                segment: 12,
                offset: 64 * 1024 * 1024 + 3,
                len: u32::MAX,
            }),
        }
    }

    #[test]
    fn every_field_round_trips() {
        let record = full();
        let bytes = encode(&record);
        assert_eq!(decode(|| "m".into(), &bytes).unwrap(), record);
        let bare = MessageRecord {
            error: None,
            destinations: Vec::new(),
            body: None,
            transformed: false,
            ..record
        };
        assert_eq!(decode(|| "m".into(), &encode(&bare)).unwrap(), bare);
    }

    #[test]
    fn json_records_of_earlier_versions_still_decode() {
        let record = full();
        let json = record::to_json("m", &record).unwrap();
        assert_eq!(json[0], b'{');
        assert_eq!(decode(|| "m".into(), &json).unwrap(), record);
        assert!(
            encode(&record).len() * 2 < json.len(),
            "much smaller than JSON"
        );
    }

    #[test]
    fn queue_entries_round_trip_and_json_ones_still_decode() {
        let entry = QueueEntry {
            message_id: 1 << 40,
            dest_index: u16::MAX,
            attempts: 3,
            not_before_ms: 1_764_800_000_999,
            enqueued_at_ms: 0,
            control_id: "C\u{e9}".into(),
            payload: PayloadSource::Raw,
            body: Some(BodyRef {
                segment: 1,
                offset: 2,
                len: 3,
            }),
        };
        let bytes = encode_queue_entry(&entry);
        assert_eq!(decode_queue_entry(|| "q".into(), &bytes).unwrap(), entry);
        let json = record::to_json("q", &entry).unwrap();
        assert_eq!(decode_queue_entry(|| "q".into(), &json).unwrap(), entry);
        let own = QueueEntry {
            payload: PayloadSource::Own,
            body: None,
            ..entry
        };
        assert_eq!(
            decode_queue_entry(|| "q".into(), &encode_queue_entry(&own)).unwrap(),
            own
        );
        for cut in 1..bytes.len() {
            assert!(decode_queue_entry(|| "q".into(), &bytes[..cut]).is_err());
        }
    }

    #[test]
    fn damaged_records_are_errors_naming_the_record() {
        let bytes = encode(&full());
        for cut in 1..bytes.len() {
            let error = decode(|| "message 9".into(), &bytes[..cut]).unwrap_err();
            assert!(error.to_string().contains("message 9"), "{error}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode(|| "m".into(), &longer).is_err());
        let mut bad_status = bytes;
        // channel "lab" (1 + 3), peer (1 + 14), two times (6 + 6), four meta strings.
        let status_at = 1 + 4 + 15 + 6 + 6 + 4 + 4 + 8 + 5;
        assert_eq!(bad_status[status_at], MessageStatus::Queued.code());
        bad_status[status_at] = 99;
        assert!(decode(|| "m".into(), &bad_status).is_err());
    }
}
