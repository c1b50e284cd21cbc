//! The codes of an acknowledgment: MSA-1 ([`AckCode`]), the MSH-15/16 conditions
//! ([`AckCondition`]), HL7 table 0357 ([`ErrorCode`]) and ERR-4 ([`Severity`]).

use std::fmt;
use std::str::FromStr;

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
    pub(super) fn code(self) -> &'static str {
        match self {
            Severity::Error => "E",
            Severity::Warning => "W",
            Severity::Information => "I",
            Severity::Fatal => "F",
        }
    }
}
