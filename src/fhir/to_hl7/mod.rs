//! FHIR R4 → HL7 v2.5.1: a Patient as ADT A04/A08 (`createHL7ADTMessage`), a ServiceRequest as
//! ORM^O01, and the seed's local patient read back out of an HL7 message
//! (`extractPatientFromHL7`).
//!
//! Systems go back the way [`crate::fhir::convert`] brought them in: `urn:oid:<oid>` becomes an
//! HD of `&<oid>&ISO`, `urn:id:<name>` (the default local prefix) the namespace `<name>`, and the
//! well-known code system URIs their table 0396 names (`http://loinc.org` → `LN`).
//!
//! # Layout
//! - `fields`: FHIR datatypes written into HL7 fields (CX, XPN, XAD, XTN, CWE, XCN).
//! - `adt`: Patient → ADT, with the PID builder the ORM shares.
//! - `orm`: ServiceRequest → ORM^O01.
//! - `extract`: PID → [`LocalPatient`](crate::fhir::patient::LocalPatient).

mod adt;
mod extract;
mod fields;
mod orm;

pub use adt::create_hl7_adt_message;
pub use extract::extract_patient_from_hl7;
pub use orm::service_request_to_orm;

/// Why a FHIR resource could not be written as HL7 v2.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ToHl7Error {
    /// The input is not the resource the function converts.
    #[error("expected a {expected} resource, found {found:?}")]
    WrongResource {
        /// The resourceType wanted.
        expected: &'static str,
        /// The resourceType given (empty when there was none).
        found: String,
    },
    /// An element HL7 v2 requires is missing.
    #[error("{element} is missing, but {needed_for} needs it")]
    Missing {
        /// The FHIR path, e.g. `Patient.name`.
        element: &'static str,
        /// The HL7 field that needs it, e.g. `PID-5`.
        needed_for: &'static str,
    },
    /// The trigger event is not one this message type is built for.
    #[error("event {event:?} is not supported: use one of {supported}")]
    UnsupportedEvent {
        /// The event asked for.
        event: String,
        /// The events that are supported.
        supported: &'static str,
    },
    /// An element holds a value with no HL7 v2 form.
    #[error("{element}: {value:?} is {reason}")]
    Invalid {
        /// The FHIR path.
        element: String,
        /// The value.
        value: String,
        /// Why it cannot be written.
        reason: &'static str,
    },
    /// Writing a value into the message failed (a bug in the mapping, named by its path).
    #[error("cannot write {0}")]
    Write(#[from] crate::hl7::PathError),
}
