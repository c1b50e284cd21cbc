//! The path-based builders: any acknowledgment (text, ERR, rejects) set field by field, and
//! the NAK for input that did not parse; both write the ERR segment the same way.

use super::answer::{Ack, AckError};
use super::codes::{AckCode, ErrorCode, Severity};
use super::header_values::{next_control_id, version_at_least};
use crate::hl7::buf::MessageBuf;
use crate::hl7::message::Message;

/// The general builder: every field set by path (also text, ERR and rejects).
pub(super) fn build_ack_by_path(original: &Message<'_>, ack: &Ack) -> MessageBuf {
    let header = original.header();
    let mut out = MessageBuf::new(*original.delimiters());
    let raw = |n: usize| String::from_utf8_lossy(header.field(n).raw()).into_owned();
    let trigger = original.trigger_event();
    let version = original.version();
    let modern = version_at_least(&version, 2, 4);
    // The sender's component separator, not always `^`.
    let c = char::from(original.delimiters().component);
    // Every value below is either copied as written from the original (already valid in its
    // encoding) or built by us without delimiters, so set_raw cannot fail on a line break.
    let fields = [
        (3, raw(5)),
        (4, raw(6)),
        (5, raw(3)),
        (6, raw(4)),
        (7, crate::hl7::datetime::now_timestamp()),
        (
            9,
            if modern {
                format!("ACK{c}{trigger}{c}ACK")
            } else if trigger.is_empty() {
                "ACK".into()
            } else {
                format!("ACK{c}{trigger}")
            },
        ),
        (10, next_control_id()),
        (11, raw(11)),
        (12, raw(12)),
        (18, raw(18)),
    ];
    for (n, value) in fields {
        if !value.is_empty() {
            let _ = out.set_raw(&format!("MSH-{n}"), &value);
        }
    }
    let _ = out.set("MSA-1", ack.code.as_str());
    let _ = out.set_raw("MSA-2", &raw(10));
    if let Some(text) = &ack.text {
        let _ = out.set("MSA-3", text);
    }
    if !ack.code.is_accept() || ack.error.is_some() {
        let error = ack.error.clone().unwrap_or_else(|| AckError {
            code: ErrorCode::ApplicationInternalError,
            severity: Severity::Error,
            diagnostic: ack.text.clone().unwrap_or_default(),
            location: None,
        });
        write_err(&mut out, &error, version_at_least(&version, 2, 5));
    }
    out
}

/// Answers input that did not parse as a message: `AE` when its header is readable (so the
/// sender can match the NAK by MSA-2), `AR` when not even MSH-1/MSH-2 make sense. The ERR segment
/// carries the parse error (code 102, data type error, for a readable header; 207 otherwise).
pub fn build_nak(raw: &[u8], error: &crate::hl7::ParseError) -> MessageBuf {
    let body = raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw);
    let first_line = &body[..memchr::memchr2(b'\r', b'\n', body).unwrap_or(body.len())];
    let header = first_line
        .strip_prefix(b"MSH")
        .and_then(|rest| crate::hl7::Delimiters::parse(rest, 3).ok())
        .map(|(delimiters, _)| {
            (
                delimiters,
                crate::hl7::value::Segment::new(
                    first_line,
                    crate::hl7::value::Context {
                        delimiters,
                        charset: crate::hl7::Charset::Unspecified,
                    },
                ),
            )
        });
    let (code, error_code) = match header {
        Some(_) => (AckCode::AE, ErrorCode::DataTypeError),
        None => (AckCode::AR, ErrorCode::ApplicationInternalError),
    };
    let delimiters = header.map(|(d, _)| d).unwrap_or_default();
    let mut out = MessageBuf::new(delimiters);
    let text = |n: usize| {
        header
            .map(|(_, seg)| String::from_utf8_lossy(seg.field(n).raw()).into_owned())
            .unwrap_or_default()
    };
    let version = text(12);
    for (n, value) in [
        (3, text(5)),
        (4, text(6)),
        (5, text(3)),
        (6, text(4)),
        (7, crate::hl7::datetime::now_timestamp()),
        (9, "ACK".to_string()),
        (10, next_control_id()),
        (11, text(11)),
        (12, version.clone()),
    ] {
        if !value.is_empty() && !value.contains(['\r', '\n']) {
            let _ = out.set_raw(&format!("MSH-{n}"), &value);
        }
    }
    if text(11).is_empty() {
        let _ = out.set("MSH-11", "P");
    }
    if version.is_empty() {
        let _ = out.set("MSH-12", "2.5");
    }
    let _ = out.set("MSA-1", code.as_str());
    let _ = out.set_raw("MSA-2", &text(10));
    let diagnostic = error.to_string();
    let _ = out.set("MSA-3", &diagnostic);
    let ack_error = AckError {
        code: error_code,
        severity: Severity::Error,
        diagnostic,
        location: None,
    };
    let v25 = version.is_empty() || version_at_least(&version, 2, 5);
    write_err(&mut out, &ack_error, v25);
    out
}

/// Writes ERR: ERR-2/3/4/7/8 from v2.5 on, the ERR-1 composite (ELD) before.
fn write_err(out: &mut MessageBuf, error: &AckError, v25: bool) {
    let (number, name) = error.code.code_and_text();
    if v25 {
        let _ = out.set("ERR-3.1", &number.to_string());
        let _ = out.set("ERR-3.2", name);
        let _ = out.set("ERR-3.3", "HL70357");
        let _ = out.set("ERR-4", error.severity.code());
        if let Some((segment, sequence, field)) = &error.location {
            let _ = out.set("ERR-2.1", segment);
            let _ = out.set("ERR-2.2", &sequence.to_string());
            let _ = out.set("ERR-2.3", &field.to_string());
        }
        if !error.diagnostic.is_empty() {
            let _ = out.set("ERR-7", &error.diagnostic);
            let _ = out.set("ERR-8", &error.diagnostic);
        }
    } else {
        if let Some((segment, sequence, field)) = &error.location {
            let _ = out.set("ERR-1.1", segment);
            let _ = out.set("ERR-1.2", &sequence.to_string());
            let _ = out.set("ERR-1.3", &field.to_string());
        }
        let _ = out.set("ERR-1.4.1", &number.to_string());
        let _ = out.set("ERR-1.4.2", name);
        let _ = out.set("ERR-1.4.3", "HL70357");
    }
}
