//! HL7 v2 → FHIR R4: one message becomes one transaction Bundle that a FHIR server accepts as
//! it is, built from the parsed message (no templates).
//!
//! | HL7 v2 | FHIR R4 |
//! |---|---|
//! | PID | Patient (conditional create on its MR identifier: `ifNoneExist`) |
//! | PV1, PV2 | Encounter (status from the ADT event: A01 in-progress, A04 arrived, A03 finished…) |
//! | NK1 / AL1 / DG1 | RelatedPerson / AllergyIntolerance / Condition |
//! | ORU, OUL: OBR + OBX + SPM | DiagnosticReport + Observations + Specimen (ED → `presentedForm`) |
//! | ORM, OML: ORC + OBR | ServiceRequest |
//! | SIU: SCH + AIS/AIL/AIP | Appointment (status from the event: S12 booked, S15 cancelled…) |
//! | MDM: TXA + OBX | DocumentReference with the document as an Attachment |
//!
//! Every entry is a `POST` with a `urn:uuid:` full URL, and references between entries use those
//! URLs, which the server rewrites. Identifier systems come from the assigning authority (CX-4):
//! `urn:oid:<oid>` when it carries an ISO OID, else [`ConvertOptions::local_system_prefix`] +
//! the namespace (`urn:id:RGH`); local coding systems get the same prefix.
//!
//! # Layout
//! - `message`: the walk over the segments and the order groups.
//! - `context`: options, Bundle entries, labelled segments, timestamp fields.
//! - `datatypes`, `identifiers`, `codes`, `datetime`: XPN, XAD, XTN, XCN, PL, CX, EI, CWE and
//!   DTM as FHIR datatypes.
//! - `patient`, `encounter`, `clinical`, `observation`, `results`, `orders`, `appointment`,
//!   `document`: one per resource family.

mod appointment;
mod clinical;
mod codes;
mod context;
mod datatypes;
pub(crate) mod datetime;
mod document;
mod encounter;
mod error;
mod identifiers;
mod message;
mod observation;
mod orders;
mod patient;
mod results;

pub use context::ConvertOptions;
pub use error::ConvertError;

use crate::hl7::Message;

/// Converts one HL7 v2 message into a FHIR R4 transaction Bundle with the default options.
pub fn hl7v2_to_fhir(message: &Message<'_>) -> Result<serde_json::Value, ConvertError> {
    hl7v2_to_fhir_with(message, &ConvertOptions::default())
}

/// Converts one HL7 v2 message into a FHIR R4 transaction Bundle, with the systems for local
/// identifiers and the offset for timestamps without one taken from `options`.
pub fn hl7v2_to_fhir_with(
    message: &Message<'_>,
    options: &ConvertOptions,
) -> Result<serde_json::Value, ConvertError> {
    message::convert(message, options)
}
