//! Clinical findings: Observation, Condition, AllergyIntolerance, DiagnosticReport, Specimen.

use serde::{Deserialize, Serialize};

use super::{
    Annotation, Attachment, CodeableConcept, Extra, Identifier, Period, Quantity, Range, Reference,
};

domain_resource! {
    /// A measurement or finding: `Observation`.
    Observation = "Observation" {
        /// Business identifiers.
        identifier: Vec<Identifier>,
        /// The orders this fulfils.
        based_on: Vec<Reference>,
        /// `registered | preliminary | final | amended | …` (required by FHIR).
        status: Option<String>,
        /// Classification (`vital-signs`, `laboratory`, `exam`).
        category: Vec<CodeableConcept>,
        /// What was observed (LOINC). Required by FHIR.
        code: Option<CodeableConcept>,
        /// Who or what it is about.
        subject: Option<Reference>,
        /// The encounter it belongs to.
        encounter: Option<Reference>,
        /// `effectiveDateTime`.
        effective_date_time: Option<String>,
        /// `effectivePeriod`.
        effective_period: Option<Period>,
        /// When it was made available (instant).
        issued: Option<String>,
        /// Who is responsible.
        performer: Vec<Reference>,
        /// `valueQuantity`.
        value_quantity: Option<Quantity>,
        /// `valueCodeableConcept`.
        value_codeable_concept: Option<CodeableConcept>,
        /// `valueString`.
        value_string: Option<String>,
        /// `valueBoolean`.
        value_boolean: Option<bool>,
        /// `valueInteger`.
        value_integer: Option<i64>,
        /// `valueRange`.
        value_range: Option<Range>,
        /// Why there is no value.
        data_absent_reason: Option<CodeableConcept>,
        /// High, low, normal…
        interpretation: Vec<CodeableConcept>,
        /// Comments.
        note: Vec<Annotation>,
        /// Where on the body.
        body_site: Option<CodeableConcept>,
        /// How it was done.
        method: Option<CodeableConcept>,
        /// The specimen used.
        specimen: Option<Reference>,
        /// Normal ranges.
        reference_range: Vec<ObservationReferenceRange>,
        /// Observations grouped under this one.
        has_member: Vec<Reference>,
        /// What it was derived from.
        derived_from: Vec<Reference>,
        /// Parts measured together (blood pressure, refraction).
        component: Vec<ObservationComponent>,
    }
}

/// A normal range of an observation: `Observation.referenceRange`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObservationReferenceRange {
    /// Low bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub low: Option<Quantity>,
    /// High bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub high: Option<Quantity>,
    /// The range as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Everything else, kept verbatim.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One part of a multi-part observation: `Observation.component`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObservationComponent {
    /// What this part measures. Required by FHIR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<CodeableConcept>,
    /// `valueQuantity`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_quantity: Option<Quantity>,
    /// `valueCodeableConcept`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_codeable_concept: Option<CodeableConcept>,
    /// `valueString`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_string: Option<String>,
    /// Why there is no value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_absent_reason: Option<CodeableConcept>,
    /// High, low, normal…
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interpretation: Vec<CodeableConcept>,
    /// Everything else, kept verbatim.
    #[serde(flatten)]
    pub extra: Extra,
}

domain_resource! {
    /// A problem, diagnosis or other clinical concern: `Condition`.
    Condition = "Condition" {
        /// Business identifiers.
        identifier: Vec<Identifier>,
        /// `active | recurrence | relapse | inactive | remission | resolved`.
        clinical_status: Option<CodeableConcept>,
        /// `unconfirmed | provisional | differential | confirmed | refuted | entered-in-error`.
        verification_status: Option<CodeableConcept>,
        /// `problem-list-item | encounter-diagnosis`.
        category: Vec<CodeableConcept>,
        /// Severity.
        severity: Option<CodeableConcept>,
        /// The condition (SNOMED CT, ICD-10).
        code: Option<CodeableConcept>,
        /// Where on the body.
        body_site: Vec<CodeableConcept>,
        /// The patient (required by FHIR).
        subject: Option<Reference>,
        /// The encounter it was recorded in.
        encounter: Option<Reference>,
        /// `onsetDateTime`.
        onset_date_time: Option<String>,
        /// `abatementDateTime`.
        abatement_date_time: Option<String>,
        /// When it was first recorded.
        recorded_date: Option<String>,
        /// Who recorded it.
        recorder: Option<Reference>,
        /// Who asserted it.
        asserter: Option<Reference>,
        /// Comments.
        note: Vec<Annotation>,
    }
}

domain_resource! {
    /// An allergy or intolerance: `AllergyIntolerance`.
    AllergyIntolerance = "AllergyIntolerance" {
        /// Business identifiers.
        identifier: Vec<Identifier>,
        /// `active | inactive | resolved`.
        clinical_status: Option<CodeableConcept>,
        /// `unconfirmed | confirmed | refuted | entered-in-error`.
        verification_status: Option<CodeableConcept>,
        /// `allergy | intolerance`.
        #[serde(rename = "type")]
        type_: Option<String>,
        /// `food | medication | environment | biologic`.
        category: Vec<String>,
        /// `low | high | unable-to-assess`.
        criticality: Option<String>,
        /// The substance.
        code: Option<CodeableConcept>,
        /// The patient (required by FHIR).
        patient: Option<Reference>,
        /// The encounter it was recorded in.
        encounter: Option<Reference>,
        /// `onsetDateTime`.
        onset_date_time: Option<String>,
        /// When it was recorded.
        recorded_date: Option<String>,
        /// Who recorded it.
        recorder: Option<Reference>,
        /// Who asserted it.
        asserter: Option<Reference>,
        /// Comments.
        note: Vec<Annotation>,
        /// Reactions seen.
        reaction: Vec<AllergyIntoleranceReaction>,
    }
}

/// One adverse reaction: `AllergyIntolerance.reaction`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AllergyIntoleranceReaction {
    /// The specific substance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub substance: Option<CodeableConcept>,
    /// Signs and symptoms (at least one, by FHIR).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub manifestation: Vec<CodeableConcept>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// When it started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onset: Option<String>,
    /// `mild | moderate | severe`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    /// Everything else, kept verbatim.
    #[serde(flatten)]
    pub extra: Extra,
}

domain_resource! {
    /// A report grouping results with a conclusion: `DiagnosticReport`.
    DiagnosticReport = "DiagnosticReport" {
        /// Business identifiers.
        identifier: Vec<Identifier>,
        /// The orders this fulfils.
        based_on: Vec<Reference>,
        /// `registered | partial | preliminary | final | …` (required by FHIR).
        status: Option<String>,
        /// Service category.
        category: Vec<CodeableConcept>,
        /// What the report is (LOINC). Required by FHIR.
        code: Option<CodeableConcept>,
        /// Who or what it is about.
        subject: Option<Reference>,
        /// The encounter it belongs to.
        encounter: Option<Reference>,
        /// `effectiveDateTime`.
        effective_date_time: Option<String>,
        /// `effectivePeriod`.
        effective_period: Option<Period>,
        /// When it was released (instant).
        issued: Option<String>,
        /// Who is responsible.
        performer: Vec<Reference>,
        /// Who interpreted the results.
        results_interpreter: Vec<Reference>,
        /// Specimens used.
        specimen: Vec<Reference>,
        /// The Observations reported.
        result: Vec<Reference>,
        /// The conclusion as text.
        conclusion: Option<String>,
        /// Coded conclusions.
        conclusion_code: Vec<CodeableConcept>,
        /// The whole report (PDF…).
        presented_form: Vec<Attachment>,
    }
}

domain_resource! {
    /// A sample for analysis: `Specimen`.
    Specimen = "Specimen" {
        /// Business identifiers.
        identifier: Vec<Identifier>,
        /// The lab's accession number.
        accession_identifier: Option<Identifier>,
        /// `available | unavailable | unsatisfactory | entered-in-error`.
        status: Option<String>,
        /// Kind of specimen (blood, urine).
        #[serde(rename = "type")]
        type_: Option<CodeableConcept>,
        /// Where it came from.
        subject: Option<Reference>,
        /// When the lab received it.
        received_time: Option<String>,
        /// Specimens it came from.
        parent: Vec<Reference>,
        /// The orders it was collected for.
        request: Vec<Reference>,
        /// Collection details.
        collection: Option<SpecimenCollection>,
        /// Comments.
        note: Vec<Annotation>,
    }
}

/// How a specimen was collected: `Specimen.collection`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpecimenCollection {
    /// Who collected it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collector: Option<Reference>,
    /// `collectedDateTime`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collected_date_time: Option<String>,
    /// `collectedPeriod`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collected_period: Option<Period>,
    /// How much.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<Quantity>,
    /// Collection technique.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<CodeableConcept>,
    /// Where on the body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_site: Option<CodeableConcept>,
    /// Everything else, kept verbatim.
    #[serde(flatten)]
    pub extra: Extra,
}
