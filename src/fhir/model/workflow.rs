//! Care delivery and orders: Encounter, Appointment, ServiceRequest, Medication,
//! MedicationRequest, DocumentReference.

use serde::{Deserialize, Serialize};

use super::{
    Annotation, Attachment, CodeableConcept, Coding, Extra, Identifier, Period, Reference,
};

domain_resource! {
    /// A visit, stay or contact: `Encounter`.
    Encounter = "Encounter" {
        /// Business identifiers (visit number).
        identifier: Vec<Identifier>,
        /// `planned | arrived | triaged | in-progress | onleave | finished | cancelled | …`.
        status: Option<String>,
        /// Inpatient, outpatient, emergency… (v3 ActCode). Required by FHIR.
        class: Option<Coding>,
        /// Specific kinds of encounter.
        #[serde(rename = "type")]
        type_: Vec<CodeableConcept>,
        /// Broad service category.
        service_type: Option<CodeableConcept>,
        /// Urgency.
        priority: Option<CodeableConcept>,
        /// The patient.
        subject: Option<Reference>,
        /// Staff involved.
        participant: Vec<EncounterParticipant>,
        /// Start and end.
        period: Option<Period>,
        /// Why it happened (coded).
        reason_code: Vec<CodeableConcept>,
        /// Where the patient was.
        location: Vec<EncounterLocation>,
        /// The organization responsible.
        service_provider: Option<Reference>,
        /// The encounter this is part of.
        part_of: Option<Reference>,
    }
}

/// Someone involved in an encounter: `Encounter.participant`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EncounterParticipant {
    /// Role (attender, admitter…).
    #[serde(default, skip_serializing_if = "Vec::is_empty", rename = "type")]
    pub type_: Vec<CodeableConcept>,
    /// When they were involved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<Period>,
    /// Who.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub individual: Option<Reference>,
    /// Everything else, kept verbatim.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A place the patient was during an encounter: `Encounter.location`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EncounterLocation {
    /// The Location. Required by FHIR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Reference>,
    /// `planned | active | reserved | completed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// When.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<Period>,
    /// Everything else, kept verbatim.
    #[serde(flatten)]
    pub extra: Extra,
}

domain_resource! {
    /// A booked or proposed meeting: `Appointment`.
    Appointment = "Appointment" {
        /// Business identifiers.
        identifier: Vec<Identifier>,
        /// `proposed | pending | booked | arrived | fulfilled | cancelled | noshow | …`.
        status: Option<String>,
        /// Specific services.
        service_type: Vec<CodeableConcept>,
        /// Style of appointment (routine, walk-in…).
        appointment_type: Option<CodeableConcept>,
        /// Why (coded).
        reason_code: Vec<CodeableConcept>,
        /// Priority (0 = undefined, 1 = highest).
        priority: Option<u32>,
        /// Shown on a subject line.
        description: Option<String>,
        /// Start (instant).
        start: Option<String>,
        /// End (instant).
        end: Option<String>,
        /// Length in minutes.
        minutes_duration: Option<u32>,
        /// When it was created.
        created: Option<String>,
        /// Extra comments.
        comment: Option<String>,
        /// Who takes part (at least one, by FHIR).
        participant: Vec<AppointmentParticipant>,
    }
}

/// Someone or something taking part in an appointment: `Appointment.participant`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppointmentParticipant {
    /// Role.
    #[serde(default, skip_serializing_if = "Vec::is_empty", rename = "type")]
    pub type_: Vec<CodeableConcept>,
    /// Who or what (Patient, Practitioner, Location…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<Reference>,
    /// `required | optional | information-only`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<String>,
    /// `accepted | declined | tentative | needs-action`. Required by FHIR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// When they take part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<Period>,
    /// Everything else, kept verbatim.
    #[serde(flatten)]
    pub extra: Extra,
}

domain_resource! {
    /// An order for a test, procedure or referral: `ServiceRequest`.
    ServiceRequest = "ServiceRequest" {
        /// Business identifiers (placer/filler order numbers).
        identifier: Vec<Identifier>,
        /// What this fulfils.
        based_on: Vec<Reference>,
        /// The composite request id.
        requisition: Option<Identifier>,
        /// `draft | active | on-hold | revoked | completed | entered-in-error | unknown`.
        status: Option<String>,
        /// `proposal | plan | directive | order | original-order | …`.
        intent: Option<String>,
        /// Classification.
        category: Vec<CodeableConcept>,
        /// `routine | urgent | asap | stat`.
        priority: Option<String>,
        /// What is requested (LOINC, SNOMED CT).
        code: Option<CodeableConcept>,
        /// Who or what it is for (required by FHIR).
        subject: Option<Reference>,
        /// The encounter it was ordered in.
        encounter: Option<Reference>,
        /// `occurrenceDateTime`.
        occurrence_date_time: Option<String>,
        /// `occurrencePeriod`.
        occurrence_period: Option<Period>,
        /// When it was signed.
        authored_on: Option<String>,
        /// Who asked for it.
        requester: Option<Reference>,
        /// Who should do it.
        performer: Vec<Reference>,
        /// Why (coded).
        reason_code: Vec<CodeableConcept>,
        /// Why (references).
        reason_reference: Vec<Reference>,
        /// Specimens for the lab.
        specimen: Vec<Reference>,
        /// Where on the body.
        body_site: Vec<CodeableConcept>,
        /// Comments.
        note: Vec<Annotation>,
        /// Instructions for the patient.
        patient_instruction: Option<String>,
    }
}

domain_resource! {
    /// A medicinal product: `Medication`.
    Medication = "Medication" {
        /// Business identifiers.
        identifier: Vec<Identifier>,
        /// The product (RxNorm, SNOMED CT).
        code: Option<CodeableConcept>,
        /// `active | inactive | entered-in-error`.
        status: Option<String>,
        /// The manufacturer.
        manufacturer: Option<Reference>,
        /// Dose form.
        form: Option<CodeableConcept>,
    }
}

domain_resource! {
    /// A prescription or medication order: `MedicationRequest`.
    MedicationRequest = "MedicationRequest" {
        /// Business identifiers.
        identifier: Vec<Identifier>,
        /// `active | on-hold | cancelled | completed | entered-in-error | stopped | draft | unknown`.
        status: Option<String>,
        /// `proposal | plan | order | original-order | reflex-order | …`.
        intent: Option<String>,
        /// Inpatient, outpatient, community…
        category: Vec<CodeableConcept>,
        /// `routine | urgent | asap | stat`.
        priority: Option<String>,
        /// `medicationCodeableConcept`.
        medication_codeable_concept: Option<CodeableConcept>,
        /// `medicationReference`.
        medication_reference: Option<Reference>,
        /// The patient (required by FHIR).
        subject: Option<Reference>,
        /// The encounter it was ordered in.
        encounter: Option<Reference>,
        /// When it was written.
        authored_on: Option<String>,
        /// Who wrote it.
        requester: Option<Reference>,
        /// Why (coded).
        reason_code: Vec<CodeableConcept>,
        /// Comments.
        note: Vec<Annotation>,
    }
}

domain_resource! {
    /// A document (PDF, CDA, image) and its metadata: `DocumentReference`.
    DocumentReference = "DocumentReference" {
        /// The document's own identifier.
        master_identifier: Option<Identifier>,
        /// Other identifiers.
        identifier: Vec<Identifier>,
        /// `current | superseded | entered-in-error`.
        status: Option<String>,
        /// `preliminary | final | amended | entered-in-error`.
        doc_status: Option<String>,
        /// Kind of document (LOINC).
        #[serde(rename = "type")]
        type_: Option<CodeableConcept>,
        /// Categorization.
        category: Vec<CodeableConcept>,
        /// Who or what it is about.
        subject: Option<Reference>,
        /// When it was indexed (instant).
        date: Option<String>,
        /// Authors.
        author: Vec<Reference>,
        /// Who keeps it.
        custodian: Option<Reference>,
        /// Description.
        description: Option<String>,
        /// The document itself (at least one, by FHIR).
        content: Vec<DocumentReferenceContent>,
    }
}

/// One copy of the document: `DocumentReference.content`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentReferenceContent {
    /// Where it is, or the bytes. Required by FHIR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment: Option<Attachment>,
    /// Format code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<Coding>,
    /// Everything else, kept verbatim.
    #[serde(flatten)]
    pub extra: Extra,
}
