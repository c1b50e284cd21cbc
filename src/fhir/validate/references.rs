//! Reference syntax (<http://hl7.org/fhir/R4/references.html#literal>): `Type/id` with an
//! optional `/_history/vid`, a conditional `Type?search` (transactions), an absolute URL,
//! `urn:uuid:` / `urn:oid:`, or `#id` for a contained resource; and the R4 resource type names.

use std::sync::LazyLock;

use regex::Regex;

use super::primitives::{clip, is_id};

/// Every resource type of FHIR R4 (4.0.1).
const RESOURCE_TYPES: &[&str] = &[
    "Account",
    "ActivityDefinition",
    "AdverseEvent",
    "AllergyIntolerance",
    "Appointment",
    "AppointmentResponse",
    "AuditEvent",
    "Basic",
    "Binary",
    "BiologicallyDerivedProduct",
    "BodyStructure",
    "Bundle",
    "CapabilityStatement",
    "CarePlan",
    "CareTeam",
    "CatalogEntry",
    "ChargeItem",
    "ChargeItemDefinition",
    "Claim",
    "ClaimResponse",
    "ClinicalImpression",
    "CodeSystem",
    "Communication",
    "CommunicationRequest",
    "CompartmentDefinition",
    "Composition",
    "ConceptMap",
    "Condition",
    "Consent",
    "Contract",
    "Coverage",
    "CoverageEligibilityRequest",
    "CoverageEligibilityResponse",
    "DetectedIssue",
    "Device",
    "DeviceDefinition",
    "DeviceMetric",
    "DeviceRequest",
    "DeviceUseStatement",
    "DiagnosticReport",
    "DocumentManifest",
    "DocumentReference",
    "EffectEvidenceSynthesis",
    "Encounter",
    "Endpoint",
    "EnrollmentRequest",
    "EnrollmentResponse",
    "EpisodeOfCare",
    "EventDefinition",
    "Evidence",
    "EvidenceVariable",
    "ExampleScenario",
    "ExplanationOfBenefit",
    "FamilyMemberHistory",
    "Flag",
    "Goal",
    "GraphDefinition",
    "Group",
    "GuidanceResponse",
    "HealthcareService",
    "ImagingStudy",
    "Immunization",
    "ImmunizationEvaluation",
    "ImmunizationRecommendation",
    "ImplementationGuide",
    "InsurancePlan",
    "Invoice",
    "Library",
    "Linkage",
    "List",
    "Location",
    "Measure",
    "MeasureReport",
    "Media",
    "Medication",
    "MedicationAdministration",
    "MedicationDispense",
    "MedicationKnowledge",
    "MedicationRequest",
    "MedicationStatement",
    "MedicinalProduct",
    "MedicinalProductAuthorization",
    "MedicinalProductContraindication",
    "MedicinalProductIndication",
    "MedicinalProductIngredient",
    "MedicinalProductInteraction",
    "MedicinalProductManufactured",
    "MedicinalProductPackaged",
    "MedicinalProductPharmaceutical",
    "MedicinalProductUndesirableEffect",
    "MessageDefinition",
    "MessageHeader",
    "MolecularSequence",
    "NamingSystem",
    "NutritionOrder",
    "Observation",
    "ObservationDefinition",
    "OperationDefinition",
    "OperationOutcome",
    "Organization",
    "OrganizationAffiliation",
    "Parameters",
    "Patient",
    "PaymentNotice",
    "PaymentReconciliation",
    "Person",
    "PlanDefinition",
    "Practitioner",
    "PractitionerRole",
    "Procedure",
    "Provenance",
    "Questionnaire",
    "QuestionnaireResponse",
    "RelatedPerson",
    "RequestGroup",
    "ResearchDefinition",
    "ResearchElementDefinition",
    "ResearchStudy",
    "ResearchSubject",
    "RiskAssessment",
    "RiskEvidenceSynthesis",
    "Schedule",
    "SearchParameter",
    "ServiceRequest",
    "Slot",
    "Specimen",
    "SpecimenDefinition",
    "StructureDefinition",
    "StructureMap",
    "Subscription",
    "Substance",
    "SubstanceNucleicAcid",
    "SubstancePolymer",
    "SubstanceProtein",
    "SubstanceReferenceInformation",
    "SubstanceSourceMaterial",
    "SubstanceSpecification",
    "SupplyDelivery",
    "SupplyRequest",
    "Task",
    "TerminologyCapabilities",
    "TestReport",
    "TestScript",
    "ValueSet",
    "VerificationResult",
    "VisionPrescription",
];

/// True for an R4 resource type name.
pub(super) fn is_resource_type(name: &str) -> bool {
    RESOURCE_TYPES.contains(&name)
}

static UUID: LazyLock<Regex> = LazyLock::new(|| {
    // A constant pattern, exercised by the unit tests.
    #[allow(clippy::expect_used)]
    Regex::new(
        r"^urn:uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
    )
    .expect("valid uuid regex")
});
static SCHEME: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::expect_used)]
    Regex::new(r"^[A-Za-z][A-Za-z0-9+.\-]*:").expect("valid scheme regex")
});

/// Checks the syntax of `Reference.reference`; the error says what was expected.
pub(super) fn check(reference: &str) -> Result<(), String> {
    let bad = |why: &str| {
        Err(format!(
            "\"{}\" is not a valid reference: {why}",
            clip(reference)
        ))
    };
    if reference.is_empty() || reference.chars().any(char::is_whitespace) {
        return bad("it is empty or contains whitespace");
    }
    if let Some(id) = reference.strip_prefix('#') {
        return if id.is_empty() || is_id(id) {
            Ok(())
        } else {
            bad("`#` must be followed by an id")
        };
    }
    if reference.starts_with("urn:uuid:") {
        return if UUID.is_match(reference) {
            Ok(())
        } else {
            bad("malformed urn:uuid")
        };
    }
    if SCHEME.is_match(reference) {
        return Ok(()); // an absolute URL or URN
    }
    let (resource_part, search) = match reference.split_once('?') {
        Some((t, q)) => (t, Some(q)),
        None => (reference, None),
    };
    if let Some(query) = search {
        // A conditional reference: `Patient?identifier=http://x|123`.
        return if is_resource_type(resource_part) && !query.is_empty() {
            Ok(())
        } else {
            bad("a conditional reference is `Type?search`, with an R4 resource type")
        };
    }
    let parts: Vec<&str> = reference.split('/').collect();
    let well_formed = match parts.as_slice() {
        [t, id] => is_resource_type(t) && is_id(id),
        [t, id, "_history", version] => is_resource_type(t) && is_id(id) && is_id(version),
        _ => false,
    };
    if well_formed {
        Ok(())
    } else {
        bad("expected Type/id, an absolute URL, urn:uuid:…, or #id")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_every_reference_form() {
        for good in [
            "Patient/123",
            "Patient/a.b-c/_history/2",
            "https://fhir.example.org/R4/Patient/123",
            "urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0",
            "urn:oid:1.2.3",
            "#med1",
            "#",
            "Patient?identifier=http://hospital.example.org/mrn|123",
        ] {
            assert!(check(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn rejects_malformed_references() {
        for bad in [
            "Patient",
            "Pateint/123",
            "Patient/12_3",
            "Patient/1/2",
            "urn:uuid:not-a-uuid",
            "#bad id",
            "Patient 123",
            "",
            "Unknown?x=1",
        ] {
            assert!(check(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn knows_r4_resource_types() {
        let mut sorted = RESOURCE_TYPES.to_vec();
        sorted.dedup();
        assert_eq!(sorted.len(), RESOURCE_TYPES.len(), "no duplicates");
        assert!(
            RESOURCE_TYPES.windows(2).all(|w| w[0] < w[1]),
            "kept in order"
        );
        assert!(is_resource_type("VisionPrescription"));
        assert!(!is_resource_type("Patients"));
    }
}
