//! Why a message could not be converted, naming the segment and field.

/// A message the converter cannot turn into FHIR.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    /// The message type (MSH-9) has no mapping and carries no patient (PID) to convert.
    #[error("MSH-9: message type {message_type} has no FHIR mapping")]
    Unsupported {
        /// MSH-9 as `TYPE^EVENT`.
        message_type: String,
    },
    /// A segment the mapping needs is missing.
    #[error("{segment} segment missing: {needed_for}")]
    MissingSegment {
        /// The segment name.
        segment: &'static str,
        /// What it is needed for.
        needed_for: &'static str,
    },
    /// A field holds a value that cannot be converted.
    #[error("{location}: {value:?} is {reason}")]
    Invalid {
        /// Segment and field, e.g. `PID-7` or `OBX[3]-14`.
        location: String,
        /// The value as written.
        value: String,
        /// Why it cannot be converted.
        reason: String,
    },
}
