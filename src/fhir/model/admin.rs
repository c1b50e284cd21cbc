//! People and organizations: Patient, Practitioner, Organization, RelatedPerson.

use super::{Address, Attachment, CodeableConcept, ContactPoint, HumanName, Identifier, Reference};

domain_resource! {
    /// A person receiving care: `Patient`.
    Patient = "Patient" {
        /// Business identifiers (MRN, national id).
        identifier: Vec<Identifier>,
        /// Whether the record is in active use.
        active: Option<bool>,
        /// Names.
        name: Vec<HumanName>,
        /// Phones, emails.
        telecom: Vec<ContactPoint>,
        /// `male | female | other | unknown`.
        gender: Option<String>,
        /// Date of birth (FHIR `date`).
        birth_date: Option<String>,
        /// `deceasedBoolean`.
        deceased_boolean: Option<bool>,
        /// `deceasedDateTime`.
        deceased_date_time: Option<String>,
        /// Addresses.
        address: Vec<Address>,
        /// Marital status.
        marital_status: Option<CodeableConcept>,
        /// Photos.
        photo: Vec<Attachment>,
        /// The patient's nominated primary care providers.
        general_practitioner: Vec<Reference>,
        /// The organization that holds the record.
        managing_organization: Option<Reference>,
    }
}

domain_resource! {
    /// A clinician or other person involved in care: `Practitioner`.
    Practitioner = "Practitioner" {
        /// Business identifiers (NPI, licence numbers).
        identifier: Vec<Identifier>,
        /// Whether the record is in active use.
        active: Option<bool>,
        /// Names.
        name: Vec<HumanName>,
        /// Phones, emails.
        telecom: Vec<ContactPoint>,
        /// Addresses.
        address: Vec<Address>,
        /// `male | female | other | unknown`.
        gender: Option<String>,
        /// Date of birth.
        birth_date: Option<String>,
    }
}

domain_resource! {
    /// A hospital, department, payer or other group: `Organization`.
    Organization = "Organization" {
        /// Business identifiers.
        identifier: Vec<Identifier>,
        /// Whether the record is in active use.
        active: Option<bool>,
        /// Kinds of organization.
        #[serde(rename = "type")]
        type_: Vec<CodeableConcept>,
        /// Name.
        name: Option<String>,
        /// Other names.
        alias: Vec<String>,
        /// Phones, emails.
        telecom: Vec<ContactPoint>,
        /// Addresses.
        address: Vec<Address>,
        /// The organization this one is part of.
        part_of: Option<Reference>,
    }
}

domain_resource! {
    /// A person related to a patient (next of kin, guarantor): `RelatedPerson`.
    RelatedPerson = "RelatedPerson" {
        /// Business identifiers.
        identifier: Vec<Identifier>,
        /// Whether the record is in active use.
        active: Option<bool>,
        /// The patient this person is related to (required by FHIR).
        patient: Option<Reference>,
        /// How they are related.
        relationship: Vec<CodeableConcept>,
        /// Names.
        name: Vec<HumanName>,
        /// Phones, emails.
        telecom: Vec<ContactPoint>,
        /// `male | female | other | unknown`.
        gender: Option<String>,
        /// Date of birth.
        birth_date: Option<String>,
        /// Addresses.
        address: Vec<Address>,
    }
}
