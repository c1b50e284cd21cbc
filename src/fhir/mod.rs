//! FHIR R4 (4.0.1): thin resource models that keep every element they don't model, validation
//! into an OperationOutcome, the seed's conversions, HL7 v2 ⇄ FHIR, and a FHIR client with SMART
//! Backend Services auth.

pub mod bundle;
pub mod client;
pub mod convert;
pub mod eye_exam;
pub mod model;
pub mod patient;
pub mod smart;
pub mod to_hl7;
pub mod validate;
