//! What to acknowledge with ([`Ack`], [`AckError`]), and [`build_ack`], which takes the fast
//! path by concatenation when it can and the path-based builder otherwise.

use super::by_path::build_ack_by_path;
use super::codes::{AckCode, AckCondition, ErrorCode, Severity};
use super::concatenated::{concatenated_ack, concatenated_ack_bytes};
use crate::hl7::buf::MessageBuf;
use crate::hl7::message::Message;

/// The error reported in the ERR segment of a NAK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckError {
    /// Table 0357 code.
    pub code: ErrorCode,
    /// ERR-4.
    pub severity: Severity,
    /// A sentence for the sender's interface analyst (ERR-7 / ERR-8).
    pub diagnostic: String,
    /// Where the error is: segment name, its 1-based position in the message, field number.
    pub location: Option<(String, usize, usize)>,
}

/// What to acknowledge with: the code, optional text, the error for a NAK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    /// MSA-1.
    pub code: AckCode,
    /// MSA-3 text (also the diagnostic of the ERR segment when no error is given).
    pub text: Option<String>,
    /// The ERR segment's contents; when the code is not an accept and this is `None`, an ERR
    /// with code 207 (application internal error) and the text is written.
    pub error: Option<AckError>,
}

impl Ack {
    /// An acknowledgment with only a code.
    pub fn new(code: AckCode) -> Ack {
        Ack {
            code,
            text: None,
            error: None,
        }
    }

    /// Adds MSA-3 text.
    pub fn with_text(mut self, text: impl Into<String>) -> Ack {
        self.text = Some(text.into());
        self
    }

    /// Adds the error for the ERR segment.
    pub fn with_error(
        mut self,
        code: ErrorCode,
        severity: Severity,
        diagnostic: impl Into<String>,
    ) -> Ack {
        self.error = Some(AckError {
            code,
            severity,
            diagnostic: diagnostic.into(),
            location: None,
        });
        self
    }

    /// Whether the sender of `original` wants this acknowledgment: always in original mode; in
    /// enhanced mode as MSH-15 says (no value means always).
    pub fn wanted(&self, original: &Message<'_>) -> bool {
        if !self.code.is_enhanced() {
            return true;
        }
        let condition = AckCondition::parse(&original.header().field(15).text());
        condition.is_none_or(|c| c.wants(self.code.is_accept()))
    }
}

/// Builds the acknowledgment of `original`.
///
/// The common case (an accept without text or error) is written byte by byte from the
/// original's raw header fields and parsed once; path-based setters re-split the growing
/// message for every field and cost more than parsing the whole original did.
pub fn build_ack(original: &Message<'_>, ack: &Ack) -> MessageBuf {
    if ack.code.is_accept()
        && ack.text.is_none()
        && ack.error.is_none()
        && let Some(out) = concatenated_ack(original, ack)
    {
        return out;
    }
    build_ack_by_path(original, ack)
}

/// [`build_ack`] as wire bytes, which is what a receiver sends: the fast path's bytes are
/// not parsed back into a message only to be written out again.
pub fn build_ack_bytes(original: &Message<'_>, ack: &Ack) -> Vec<u8> {
    if ack.code.is_accept()
        && ack.text.is_none()
        && ack.error.is_none()
        && let Some(bytes) = concatenated_ack_bytes(original, ack)
    {
        return bytes;
    }
    build_ack_by_path(original, ack).into_bytes()
}
