//! The fast path: an accept without text or error written byte by byte from the original's
//! raw header fields, then parsed once.

use super::answer::Ack;
use super::header_values::{next_control_id, version_at_least};
use crate::hl7::buf::MessageBuf;
use crate::hl7::message::Message;

/// The header fields of the acknowledgment, by MSH field number (3 to 18).
fn ack_header_fields(original: &Message<'_>) -> [(usize, Vec<u8>); 10] {
    let header = original.header();
    let raw = |n: usize| header.field(n).raw().to_vec();
    let trigger = original.trigger_event();
    let modern = version_at_least(&original.version(), 2, 4);
    let message_type = if modern {
        format!("ACK^{trigger}^ACK")
    } else if trigger.is_empty() {
        "ACK".into()
    } else {
        format!("ACK^{trigger}")
    };
    [
        (3, raw(5)),
        (4, raw(6)),
        (5, raw(3)),
        (6, raw(4)),
        (7, crate::hl7::datetime::now_timestamp().into_bytes()),
        (9, message_type.into_bytes()),
        (10, next_control_id().into_bytes()),
        (11, raw(11)),
        (12, raw(12)),
        (18, raw(18)),
    ]
}

/// `MSH` and `MSA` by concatenation; `None` when the result does not parse back (a header too
/// odd for the fast path), and the caller takes the path-based one.
pub(super) fn concatenated_ack(original: &Message<'_>, ack: &Ack) -> Option<MessageBuf> {
    let delimiters = original.delimiters();
    let separator = delimiters.field;
    let fields = ack_header_fields(original);
    let last = fields
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(n, _)| *n)
        .max()
        .unwrap_or(2);
    let mut bytes = Vec::with_capacity(160);
    bytes.extend_from_slice(b"MSH");
    bytes.push(separator);
    bytes.extend(delimiters.encoding_characters());
    let mut next = fields.iter().peekable();
    for n in 3..=last {
        bytes.push(separator);
        if let Some((_, value)) = next.next_if(|(at, _)| *at == n) {
            bytes.extend_from_slice(value);
        }
    }
    bytes.extend_from_slice(b"\rMSA");
    bytes.push(separator);
    bytes.extend_from_slice(ack.code.as_str().as_bytes());
    let control_id = original.header().field(10).raw();
    if !control_id.is_empty() {
        bytes.push(separator);
        bytes.extend_from_slice(control_id);
    }
    bytes.push(b'\r');
    MessageBuf::parse(&bytes).ok()
}
