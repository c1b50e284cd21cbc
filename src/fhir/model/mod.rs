//! Lean FHIR R4 (4.0.1) resource models.
//!
//! Hand-written serde structs rather than a generated-model crate: the generated crates are
//! tens of megabytes of source (minutes per clean build on two cores), none tracks R4 4.0.1
//! and is maintained, and they drop elements they don't know. Here every resource and datatype
//! types the elements the engine's mappings use and keeps everything else in a flattened
//! `extra` map, so `extension`, `modifierExtension`, `_element` primitive extensions and
//! elements from newer IGs pass through untouched: JSON read and written again is equal.
//!
//! [`Resource`] dispatches on `resourceType`; types not modelled here stay
//! [`Resource::Other`] as plain JSON. Validation does not use these types (it must work on
//! input they cannot read): see [`crate::fhir::validate`].

#[macro_use]
mod macros;

mod admin;
mod clinical;
mod datatypes;
mod infrastructure;
mod resource;
mod workflow;

pub use admin::{Organization, Patient, Practitioner, RelatedPerson};
pub use clinical::{
    AllergyIntolerance, AllergyIntoleranceReaction, Condition, DiagnosticReport, Observation,
    ObservationComponent, ObservationReferenceRange, Specimen, SpecimenCollection,
};
pub use datatypes::{
    Address, Annotation, Attachment, CodeableConcept, Coding, ContactPoint, Extra, HumanName,
    Identifier, Meta, Narrative, Period, Quantity, Range, Ratio, Reference,
};
pub use infrastructure::{
    Bundle, BundleEntry, BundleEntryRequest, BundleEntryResponse, BundleEntrySearch, BundleLink,
    OperationOutcome, OperationOutcomeIssue,
};
pub use resource::{Absent, FhirResource, ModelError, Resource, TypeTag, is_absent};
pub use workflow::{
    Appointment, AppointmentParticipant, DocumentReference, DocumentReferenceContent, Encounter,
    EncounterLocation, EncounterParticipant, Medication, MedicationRequest, ServiceRequest,
};
