//! The fast path: an accept without text or error written byte by byte from the original's
//! raw header fields, split once.

use super::answer::Ack;
use super::header_values::{next_control_id_at, now_millis, version_at_least};
use crate::hl7::buf::MessageBuf;
use crate::hl7::delimiters::Delimiters;
use crate::hl7::message::Message;

/// The original's header fields 0 to 18 as written, split once (field `n` of MSH is piece
/// `n - 1` of the segment: piece 0 is `MSH`, piece 1 the encoding characters); missing ones
/// are empty. Asking the header for each field by number scanned it from the start every
/// time, which with the allocations around it made the ACK a tenth of the engine's CPU.
fn header_pieces<'a>(original: &Message<'a>) -> [&'a [u8]; 19] {
    let header = original.header().raw();
    let separator = original.delimiters().field;
    let mut pieces: [&[u8]; 19] = [&[]; 19];
    let mut start = 0;
    let mut ends = memchr::memchr_iter(separator, header).chain(std::iter::once(header.len()));
    for slot in pieces.iter_mut() {
        let Some(end) = ends.next() else { break };
        *slot = &header[start..end];
        start = end + 1;
    }
    pieces
}

/// Component `n` (1-based) of the first repetition of a raw field.
fn component<'a>(field: &'a [u8], delimiters: &Delimiters, n: usize) -> &'a [u8] {
    let first = field
        .split(|&b| b == delimiters.repetition)
        .next()
        .unwrap_or_default();
    first
        .split(|&b| b == delimiters.component)
        .nth(n - 1)
        .unwrap_or_default()
}

/// The time `secs` (since the Unix epoch) as an HL7 timestamp, formatted once per second per
/// thread.
fn timestamp_of(secs: u64) -> std::rc::Rc<str> {
    use std::cell::RefCell;
    thread_local! {
        static LAST: RefCell<(u64, std::rc::Rc<str>)> = RefCell::new((u64::MAX, "".into()));
    }
    LAST.with_borrow_mut(|(at, text)| {
        if *at != secs {
            *at = secs;
            *text = crate::hl7::datetime::format_utc(secs).into();
        }
        std::rc::Rc::clone(text)
    })
}

/// The header fields of the acknowledgment, by MSH field number (3 to 18), with the values
/// the ACK makes up itself already written.
fn ack_header_fields<'a>(
    pieces: &[&'a [u8]; 19],
    message_type: &'a [u8],
    timestamp: &'a [u8],
    control_id: &'a [u8],
) -> [(usize, &'a [u8]); 10] {
    let field = |n: usize| pieces[n - 1];
    [
        (3, field(5)),
        (4, field(6)),
        (5, field(3)),
        (6, field(4)),
        (7, timestamp),
        (9, message_type),
        (10, control_id),
        (11, field(11)),
        (12, field(12)),
        (18, field(18)),
    ]
}

/// `MSH` and `MSA` by concatenation; `None` when the result does not parse back (a header too
/// odd for the fast path), and the caller takes the path-based one.
pub(super) fn concatenated_ack(original: &Message<'_>, ack: &Ack) -> Option<MessageBuf> {
    MessageBuf::parse(&concatenated_ack_bytes(original, ack)?).ok()
}

/// The bytes of [`concatenated_ack`], without parsing them back: every value is a raw field of
/// the parsed original (so it holds no field separator), written with the original's own
/// delimiters, so the result parses as long as no value holds a line break, which is checked.
/// `None` for such a header.
pub(super) fn concatenated_ack_bytes(original: &Message<'_>, ack: &Ack) -> Option<Vec<u8>> {
    let delimiters = original.delimiters();
    let separator = delimiters.field;
    let pieces = header_pieces(original);
    let trigger = component(pieces[8], delimiters, 2);
    let version = String::from_utf8_lossy(component(pieces[11], delimiters, 1));
    let mut message_type = b"ACK".to_vec();
    if version_at_least(&version, 2, 4) {
        message_type.push(delimiters.component);
        message_type.extend_from_slice(trigger);
        message_type.push(delimiters.component);
        message_type.extend_from_slice(b"ACK");
    } else if !trigger.is_empty() {
        message_type.push(delimiters.component);
        message_type.extend_from_slice(trigger);
    }
    let millis = now_millis();
    let timestamp = timestamp_of(millis / 1000);
    let ack_control_id = next_control_id_at(millis);
    let fields = ack_header_fields(
        &pieces,
        &message_type,
        timestamp.as_bytes(),
        ack_control_id.as_bytes(),
    );
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
    let control_id = pieces[9];
    if !control_id.is_empty() {
        bytes.push(separator);
        bytes.extend_from_slice(control_id);
    }
    if memchr::memchr2_iter(b'\r', b'\n', &bytes).count() != 1 {
        return None;
    }
    bytes.push(b'\r');
    Some(bytes)
}
