//! [`Payload`]: a message as scripts take and produce it: HL7 v2 or JSON.

use crate::hl7::MessageBuf;

/// One message going into or out of a script.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// An HL7 v2 message; scripts see it as the `Message` type.
    Hl7(MessageBuf),
    /// A JSON document; scripts see an object as a Rhai map, an array as an array.
    Json(serde_json::Value),
}

impl Payload {
    /// The bytes a destination sends: the HL7 message with `\r` after each segment, or
    /// compact JSON.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Payload::Hl7(buf) => buf.as_bytes().to_vec(),
            // Serializing a `Value` cannot fail (its map keys are strings).
            Payload::Json(value) => serde_json::to_vec(value).unwrap_or_default(),
        }
    }
}
