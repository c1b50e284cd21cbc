//! HL7 v2: parse, read, change, build and acknowledge messages.
//!
//! A [`Message`] borrows the bytes it was parsed from and decodes a value only when it is read,
//! so parsing allocates one small vector per message and nothing per field. [`MessageBuf`] is
//! the owned, editable form used to change or build messages.
//!
//! ```
//! use ihub::hl7::Message;
//! let msg = Message::parse(b"MSH|^~\\&|LAB|HOSP|EHR|HOSP|20240101||ORU^R01|42|P|2.5\rPID|1||123^^^HOSP^MR||DOE^JANE")?;
//! assert_eq!(msg.control_id(), "42");
//! assert_eq!(msg.get("PID-5.2")?.text(), "JANE");
//! assert_eq!(msg.get("PID-3.4")?.text(), "HOSP");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Layout
//! - `message`: [`Message`], parsing and header accessors.
//! - `value`: [`Segment`] and [`Value`], the lazy views.
//! - `delimiters`, `charset`, `escape`: MSH-1/MSH-2, MSH-18, and escape sequences.
//! - `path`: [`Path`] (`PID-3[2].4.2`).
//! - `buf`: [`MessageBuf`], setting values and building messages.
//! - `ack`: ACK/NAK in original and enhanced mode.
//! - `batch`: streams and FHS/BHS batches.
//! - `json`: the message as nested JSON arrays.
//! - `datetime`: HL7 timestamps.

mod ack;
mod batch;
mod buf;
mod charset;
mod datetime;
mod delimiters;
mod error;
mod escape;
mod json;
mod message;
mod path;
#[cfg(test)]
mod proptests;
mod value;

pub use ack::{
    Ack, AckCode, AckCondition, AckError, ErrorCode, Severity, build_ack, build_ack_bytes,
    build_nak,
};
pub use batch::{Batch, BatchFile, build_batch, parse_batch, parse_stream};
pub use buf::MessageBuf;
pub use charset::Charset;
pub use datetime::{format_utc, now_timestamp};
pub use delimiters::Delimiters;
pub use error::{ParseError, PathError};
pub use escape::{escape, unescape};
pub use json::to_json;
pub use message::Message;
pub use path::Path;
pub use value::{Segment, Value};
