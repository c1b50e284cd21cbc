//! Acknowledgments: ACK and NAK in original mode (AA/AE/AR) and enhanced mode (CA/CE/CR).
//!
//! The ACK answers in the sender's own delimiters and version: MSH-3/4 and MSH-5/6 of the
//! original are swapped, MSH-11 and MSH-12 are copied, MSA-2 is the original MSH-10. When the
//! message is not accepted, an ERR segment carries the error code from HL7 table 0357, the
//! severity and the diagnostic text (in ERR-3/4/7 from v2.5 on, in ERR-1 before).
//!
//! Enhanced mode lets the sender say when it wants an accept acknowledgment (MSH-15: `AL` always,
//! `NE` never, `ER` only on error, `SU` only on success): see [`AckCondition`] and
//! [`Ack::wanted`].

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use super::buf::MessageBuf;
use super::message::Message;

/// MSA-1: the acknowledgment code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AckCode {
    /// Original mode: application accept.
    AA,
    /// Original mode: application error (the sender may resend after fixing it).
    AE,
    /// Original mode: application reject (do not resend as is).
    AR,
    /// Enhanced mode: commit accept (the message is safely stored).
    CA,
    /// Enhanced mode: commit error.
    CE,
    /// Enhanced mode: commit reject.
    CR,
}

impl AckCode {
    /// True for AA and CA.
    pub fn is_accept(self) -> bool {
        matches!(self, AckCode::AA | AckCode::CA)
    }

    /// True for the enhanced-mode codes CA, CE and CR.
    pub fn is_enhanced(self) -> bool {
        matches!(self, AckCode::CA | AckCode::CE | AckCode::CR)
    }

    /// The code as written in MSA-1.
    pub fn as_str(self) -> &'static str {
        match self {
            AckCode::AA => "AA",
            AckCode::AE => "AE",
            AckCode::AR => "AR",
            AckCode::CA => "CA",
            AckCode::CE => "CE",
            AckCode::CR => "CR",
        }
    }
}

impl fmt::Display for AckCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AckCode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s.to_ascii_uppercase().as_str() {
            "AA" => AckCode::AA,
            "AE" => AckCode::AE,
            "AR" => AckCode::AR,
            "CA" => AckCode::CA,
            "CE" => AckCode::CE,
            "CR" => AckCode::CR,
            _ => {
                return Err(format!(
                    "unknown acknowledgment code `{s}`: expected AA, AE, AR, CA, CE or CR"
                ));
            }
        })
    }
}

/// MSH-15/MSH-16: when the sender wants an acknowledgment (HL7 table 0155).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckCondition {
    /// `AL`: always.
    Always,
    /// `NE`: never.
    Never,
    /// `ER`: only when the message is not accepted.
    ErrorOnly,
    /// `SU`: only when the message is accepted.
    SuccessOnly,
}

impl AckCondition {
    /// Reads MSH-15 or MSH-16; empty or unknown values mean `None` (the sender did not say).
    pub fn parse(value: &str) -> Option<AckCondition> {
        match value.trim() {
            "AL" => Some(AckCondition::Always),
            "NE" => Some(AckCondition::Never),
            "ER" => Some(AckCondition::ErrorOnly),
            "SU" => Some(AckCondition::SuccessOnly),
            _ => None,
        }
    }

    /// Whether an acknowledgment with this outcome is wanted.
    pub fn wants(self, accepted: bool) -> bool {
        match self {
            AckCondition::Always => true,
            AckCondition::Never => false,
            AckCondition::ErrorOnly => !accepted,
            AckCondition::SuccessOnly => accepted,
        }
    }
}

/// HL7 table 0357: message error condition codes, for ERR-3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// 0: message accepted.
    MessageAccepted,
    /// 100: segment sequence error.
    SegmentSequenceError,
    /// 101: required field missing.
    RequiredFieldMissing,
    /// 102: data type error.
    DataTypeError,
    /// 103: table value not found.
    TableValueNotFound,
    /// 104: value too long.
    ValueTooLong,
    /// 200: unsupported message type.
    UnsupportedMessageType,
    /// 201: unsupported event code.
    UnsupportedEventCode,
    /// 202: unsupported processing id.
    UnsupportedProcessingId,
    /// 203: unsupported version id.
    UnsupportedVersionId,
    /// 204: unknown key identifier.
    UnknownKeyIdentifier,
    /// 205: duplicate key identifier.
    DuplicateKeyIdentifier,
    /// 206: application record locked.
    ApplicationRecordLocked,
    /// 207: application internal error.
    ApplicationInternalError,
}

impl ErrorCode {
    /// The code with this table 0357 number, if there is one.
    pub fn from_number(number: u16) -> Option<ErrorCode> {
        use ErrorCode::*;
        [
            MessageAccepted,
            SegmentSequenceError,
            RequiredFieldMissing,
            DataTypeError,
            TableValueNotFound,
            ValueTooLong,
            UnsupportedMessageType,
            UnsupportedEventCode,
            UnsupportedProcessingId,
            UnsupportedVersionId,
            UnknownKeyIdentifier,
            DuplicateKeyIdentifier,
            ApplicationRecordLocked,
            ApplicationInternalError,
        ]
        .into_iter()
        .find(|c| c.code_and_text().0 == number)
    }

    /// The numeric code and its text, as table 0357 gives them.
    pub fn code_and_text(self) -> (u16, &'static str) {
        match self {
            ErrorCode::MessageAccepted => (0, "Message accepted"),
            ErrorCode::SegmentSequenceError => (100, "Segment sequence error"),
            ErrorCode::RequiredFieldMissing => (101, "Required field missing"),
            ErrorCode::DataTypeError => (102, "Data type error"),
            ErrorCode::TableValueNotFound => (103, "Table value not found"),
            ErrorCode::ValueTooLong => (104, "Value too long"),
            ErrorCode::UnsupportedMessageType => (200, "Unsupported message type"),
            ErrorCode::UnsupportedEventCode => (201, "Unsupported event code"),
            ErrorCode::UnsupportedProcessingId => (202, "Unsupported processing id"),
            ErrorCode::UnsupportedVersionId => (203, "Unsupported version id"),
            ErrorCode::UnknownKeyIdentifier => (204, "Unknown key identifier"),
            ErrorCode::DuplicateKeyIdentifier => (205, "Duplicate key identifier"),
            ErrorCode::ApplicationRecordLocked => (206, "Application record locked"),
            ErrorCode::ApplicationInternalError => (207, "Application internal error"),
        }
    }
}

/// ERR-4: how bad the error is (HL7 table 0516).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// `E`: the message was not processed.
    Error,
    /// `W`: processed, with a warning.
    Warning,
    /// `I`: for information.
    Information,
    /// `F`: fatal, the receiver cannot go on.
    Fatal,
}

impl Severity {
    fn code(self) -> &'static str {
        match self {
            Severity::Error => "E",
            Severity::Warning => "W",
            Severity::Information => "I",
            Severity::Fatal => "F",
        }
    }
}

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
        (7, super::datetime::now_timestamp().into_bytes()),
        (9, message_type.into_bytes()),
        (10, next_control_id().into_bytes()),
        (11, raw(11)),
        (12, raw(12)),
        (18, raw(18)),
    ]
}

/// `MSH` and `MSA` by concatenation; `None` when the result does not parse back (a header too
/// odd for the fast path), and the caller takes the path-based one.
fn concatenated_ack(original: &Message<'_>, ack: &Ack) -> Option<MessageBuf> {
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

/// The general builder: every field set by path (also text, ERR and rejects).
fn build_ack_by_path(original: &Message<'_>, ack: &Ack) -> MessageBuf {
    let header = original.header();
    let mut out = MessageBuf::new(*original.delimiters());
    let raw = |n: usize| String::from_utf8_lossy(header.field(n).raw()).into_owned();
    let trigger = original.trigger_event();
    let version = original.version();
    let modern = version_at_least(&version, 2, 4);
    // Every value below is either copied as written from the original (already valid in its
    // encoding) or built by us without delimiters, so set_raw cannot fail on a line break.
    let fields = [
        (3, raw(5)),
        (4, raw(6)),
        (5, raw(3)),
        (6, raw(4)),
        (7, super::datetime::now_timestamp()),
        (
            9,
            if modern {
                format!("ACK^{trigger}^ACK")
            } else if trigger.is_empty() {
                "ACK".into()
            } else {
                format!("ACK^{trigger}")
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
pub fn build_nak(raw: &[u8], error: &super::ParseError) -> MessageBuf {
    let body = raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw);
    let first_line = &body[..memchr::memchr2(b'\r', b'\n', body).unwrap_or(body.len())];
    let header = first_line
        .strip_prefix(b"MSH")
        .and_then(|rest| super::Delimiters::parse(rest, 3).ok())
        .map(|(delimiters, _)| {
            (
                delimiters,
                super::value::Segment::new(
                    first_line,
                    super::value::Context {
                        delimiters,
                        charset: super::Charset::Unspecified,
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
        (7, super::datetime::now_timestamp()),
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

/// Whether a version string such as `2.5.1` is at least `major.minor`.
fn version_at_least(version: &str, major: u32, minor: u32) -> bool {
    let mut parts = version
        .split('.')
        .map(|p| p.trim().parse::<u32>().unwrap_or(0));
    let found = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    found >= (major, minor)
}

/// A fresh MSH-10 for messages we originate: time-based, unique within the process, and at most
/// 20 characters (the v2.5 length of MSH-10).
fn next_control_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("IH{millis}{:04}", n % 10_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORU: &[u8] = b"MSH|^~\\&|LAB|LABFAC|EHR|EHRFAC|20240101120000||ORU^R01^ORU_R01|CTRL42|P|2.5.1|||AL|NE\rPID|1||123\r";

    fn ack_of(input: &[u8], ack: Ack) -> MessageBuf {
        build_ack(&Message::parse(input).unwrap(), &ack)
    }

    /// The ACK's bytes with MSH-7 and MSH-10 (time and a fresh control id) blanked.
    fn comparable(ack: &MessageBuf) -> Vec<u8> {
        let mut ack = MessageBuf::parse(ack.as_bytes()).unwrap();
        ack.set_raw("MSH-7", "T").unwrap();
        ack.set_raw("MSH-10", "C").unwrap();
        ack.into_bytes()
    }

    #[test]
    fn concatenated_ack_equals_the_path_built_one() {
        let inputs: [&[u8]; 5] = [
            ORU,
            b"MSH|^~\\&|A|B|C|D|20240101||ADT^A01|X1|P|2.3\rPID|1\r",
            b"MSH|^~\\&|||||||ADT|X2|P\r",
            b"MSH#$%*!#A#B#C#D###ORM$O01#X3#P#2.5#######UNICODE UTF-8\r",
            b"MSH|^~\\&#|A^X&Y|B|||||ADT^A04|X5\r",
        ];
        for input in inputs {
            let original = Message::parse(input).unwrap();
            let ack = Ack::new(AckCode::AA);
            let fast = concatenated_ack(&original, &ack).expect("fast path");
            let slow = build_ack_by_path(&original, &ack);
            assert_eq!(
                String::from_utf8_lossy(&comparable(&fast)),
                String::from_utf8_lossy(&comparable(&slow)),
                "for {:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn accept_swaps_parties_and_echoes_the_control_id() {
        let a = ack_of(ORU, Ack::new(AckCode::AA));
        let m = a.as_message();
        assert_eq!(
            (m.sending_application(), m.sending_facility()),
            ("EHR".into(), "EHRFAC".into())
        );
        assert_eq!(
            (m.receiving_application(), m.receiving_facility()),
            ("LAB".into(), "LABFAC".into())
        );
        assert_eq!(m.get("MSH-9").unwrap().text(), "ACK^R01^ACK");
        assert_eq!(m.version(), "2.5.1");
        assert_eq!(m.processing_id(), "P");
        assert_eq!(m.get("MSA-1").unwrap().text(), "AA");
        assert_eq!(m.get("MSA-2").unwrap().text(), "CTRL42");
        assert!(m.segment("ERR").is_none());
        assert!(m.control_id().len() <= 20);
        assert_ne!(m.control_id(), "CTRL42");
    }

    #[test]
    fn error_acks_carry_an_err_segment() {
        let a = ack_of(
            ORU,
            Ack::new(AckCode::AE).with_text("PID-3 missing").with_error(
                ErrorCode::RequiredFieldMissing,
                Severity::Error,
                "PID-3 is required",
            ),
        );
        let m = a.as_message();
        assert_eq!(m.get("MSA-3").unwrap().text(), "PID-3 missing");
        assert_eq!(
            m.get("ERR-3").unwrap().text(),
            "101^Required field missing^HL70357"
        );
        assert_eq!(m.get("ERR-4").unwrap().text(), "E");
        assert_eq!(m.get("ERR-7").unwrap().text(), "PID-3 is required");
        let a = ack_of(ORU, Ack::new(AckCode::AR).with_text("bad^thing"));
        assert_eq!(a.get("ERR-3.1").unwrap().text(), "207");
        assert_eq!(a.get("ERR-7").unwrap().text(), "bad^thing");
    }

    #[test]
    fn older_versions_use_err_1() {
        let a = ack_of(
            b"MSH|^~\\&|A|B|C|D|1||ADT^A01|9|P|2.3\r",
            Ack::new(AckCode::AE),
        );
        assert_eq!(a.get("MSH-9").unwrap().text(), "ACK^A01");
        assert_eq!(
            a.get("ERR-1.4").unwrap().text(),
            "207&Application internal error&HL70357"
        );
    }

    #[test]
    fn the_ack_uses_the_senders_delimiters() {
        let a = ack_of(
            b"MSH!@#$%!A!B!C!D!1!!ADT@A01!9!P!2.5\r",
            Ack::new(AckCode::AA),
        );
        assert!(a.as_bytes().starts_with(b"MSH!@#$%!C!D!A!B!"), "{a}");
        assert_eq!(a.get("MSA-2").unwrap().text(), "9");
    }

    #[test]
    fn enhanced_mode_honours_msh15() {
        let m = Message::parse(ORU).unwrap();
        assert!(Ack::new(AckCode::CA).wanted(&m));
        let never = Message::parse(b"MSH|^~\\&|A|B|C|D|1||ADT^A01|9|P|2.5|||NE|NE\r").unwrap();
        assert!(!Ack::new(AckCode::CA).wanted(&never));
        assert!(
            Ack::new(AckCode::AA).wanted(&never),
            "original mode always answers"
        );
        let errors = Message::parse(b"MSH|^~\\&|A|B|C|D|1||ADT^A01|9|P|2.5|||ER\r").unwrap();
        assert!(!Ack::new(AckCode::CA).wanted(&errors));
        assert!(Ack::new(AckCode::CE).wanted(&errors));
        let success = Message::parse(b"MSH|^~\\&|A|B|C|D|1||ADT^A01|9|P|2.5|||SU\r").unwrap();
        assert!(Ack::new(AckCode::CA).wanted(&success));
        assert!(!Ack::new(AckCode::CR).wanted(&success));
    }

    #[test]
    fn unreadable_input_gets_a_nak() {
        let raw = b"MSH|^~\\&|LAB|LF|EHR|EF|20240101||";
        let error = Message::parse(raw).unwrap_err();
        let nak = build_nak(raw, &error);
        let m = nak.as_message();
        assert_eq!(m.get("MSA-1").unwrap().text(), "AE");
        assert_eq!(m.sending_application(), "EHR");
        assert_eq!(m.receiving_application(), "LAB");
        assert!(m.get("MSA-3").unwrap().text().contains("MSH-9"));
        assert_eq!(m.get("ERR-3.1").unwrap().text(), "102");
        let garbage = b"hello there";
        let nak = build_nak(garbage, &Message::parse(garbage).unwrap_err());
        assert_eq!(nak.get("MSA-1").unwrap().text(), "AR");
        assert_eq!(nak.get("ERR-3.1").unwrap().text(), "207");
        assert!(
            Message::parse(nak.as_bytes()).is_ok(),
            "the NAK itself is a valid message"
        );
    }

    #[test]
    fn codes_parse_from_text() {
        assert_eq!("ce".parse::<AckCode>(), Ok(AckCode::CE));
        assert!("XX".parse::<AckCode>().is_err());
    }
}
