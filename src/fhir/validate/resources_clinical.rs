//! Rule tables for the clinical resources: Observation, Condition, AllergyIntolerance,
//! DiagnosticReport, Specimen (FHIR R4 4.0.1).

use super::invariants;
use super::schema::*;
use super::valuesets as vs;

const ONSET: &[(&str, Ty)] = &[
    ("DateTime", DATE_TIME),
    ("Age", QUANTITY),
    ("Period", PERIOD),
    ("Range", RANGE),
    ("String", STRING),
];

pub(super) static OBSERVATION: ResourceDef = ResourceDef {
    name: "Observation",
    elements: &[
        list("identifier", IDENTIFIER),
        list("basedOn", REFERENCE),
        list("partOf", REFERENCE),
        req("status", Ty::Code(&vs::OBSERVATION_STATUS)),
        list("category", CC),
        req("code", CC),
        opt("subject", REFERENCE),
        list("focus", REFERENCE),
        opt("encounter", REFERENCE),
        opt(
            "effective",
            Ty::Choice(&[
                ("DateTime", DATE_TIME),
                ("Period", PERIOD),
                ("Timing", Ty::Any),
                ("Instant", INSTANT),
            ]),
        ),
        opt("issued", INSTANT),
        list("performer", REFERENCE),
        opt("value", Ty::Choice(VALUE_TYPES)),
        opt("dataAbsentReason", CC),
        list("interpretation", CC),
        list("note", ANNOTATION),
        opt("bodySite", CC),
        opt("method", CC),
        opt("specimen", REFERENCE),
        opt("device", REFERENCE),
        list("referenceRange", Ty::Type(&REFERENCE_RANGE)),
        list("hasMember", REFERENCE),
        list("derivedFrom", REFERENCE),
        list("component", Ty::Type(&COMPONENT)),
    ],
    invariant: Some(invariants::obs_6),
};
static REFERENCE_RANGE: Complex = Complex {
    elements: &[
        opt("low", QUANTITY),
        opt("high", QUANTITY),
        opt("type", CC),
        list("appliesTo", CC),
        opt("age", RANGE),
        opt("text", STRING),
    ],
    invariant: None,
};
static COMPONENT: Complex = Complex {
    elements: &[
        req("code", CC),
        opt("value", Ty::Choice(VALUE_TYPES)),
        opt("dataAbsentReason", CC),
        list("interpretation", CC),
        list("referenceRange", Ty::Type(&REFERENCE_RANGE)),
    ],
    invariant: Some(invariants::obs_6),
};

pub(super) static CONDITION: ResourceDef = ResourceDef {
    name: "Condition",
    elements: &[
        list("identifier", IDENTIFIER),
        opt("clinicalStatus", Ty::Concept(&vs::CONDITION_CLINICAL)),
        opt(
            "verificationStatus",
            Ty::Concept(&vs::CONDITION_VERIFICATION),
        ),
        list("category", CC),
        opt("severity", CC),
        opt("code", CC),
        list("bodySite", CC),
        req("subject", REFERENCE),
        opt("encounter", REFERENCE),
        opt("onset", Ty::Choice(ONSET)),
        opt("abatement", Ty::Choice(ONSET)),
        opt("recordedDate", DATE_TIME),
        opt("recorder", REFERENCE),
        opt("asserter", REFERENCE),
        list("stage", Ty::Any),
        list("evidence", Ty::Any),
        list("note", ANNOTATION),
    ],
    invariant: Some(invariants::con_5),
};

pub(super) static ALLERGY_INTOLERANCE: ResourceDef = ResourceDef {
    name: "AllergyIntolerance",
    elements: &[
        list("identifier", IDENTIFIER),
        opt("clinicalStatus", Ty::Concept(&vs::ALLERGY_CLINICAL)),
        opt("verificationStatus", Ty::Concept(&vs::ALLERGY_VERIFICATION)),
        opt("type", Ty::Code(&vs::ALLERGY_TYPE)),
        list("category", Ty::Code(&vs::ALLERGY_CATEGORY)),
        opt("criticality", Ty::Code(&vs::ALLERGY_CRITICALITY)),
        opt("code", CC),
        req("patient", REFERENCE),
        opt("encounter", REFERENCE),
        opt("onset", Ty::Choice(ONSET)),
        opt("recordedDate", DATE_TIME),
        opt("recorder", REFERENCE),
        opt("asserter", REFERENCE),
        opt("lastOccurrence", DATE_TIME),
        list("note", ANNOTATION),
        list("reaction", Ty::Type(&REACTION)),
    ],
    invariant: Some(invariants::ait_1_2),
};
static REACTION: Complex = Complex {
    elements: &[
        opt("substance", CC),
        some("manifestation", CC),
        opt("description", STRING),
        opt("onset", DATE_TIME),
        opt("severity", Ty::Code(&vs::REACTION_SEVERITY)),
        opt("exposureRoute", CC),
        list("note", ANNOTATION),
    ],
    invariant: None,
};

pub(super) static DIAGNOSTIC_REPORT: ResourceDef = ResourceDef {
    name: "DiagnosticReport",
    elements: &[
        list("identifier", IDENTIFIER),
        list("basedOn", REFERENCE),
        req("status", Ty::Code(&vs::DIAGNOSTIC_REPORT_STATUS)),
        list("category", CC),
        req("code", CC),
        opt("subject", REFERENCE),
        opt("encounter", REFERENCE),
        opt(
            "effective",
            Ty::Choice(&[("DateTime", DATE_TIME), ("Period", PERIOD)]),
        ),
        opt("issued", INSTANT),
        list("performer", REFERENCE),
        list("resultsInterpreter", REFERENCE),
        list("specimen", REFERENCE),
        list("result", REFERENCE),
        list("imagingStudy", REFERENCE),
        list("media", Ty::Type(&MEDIA)),
        opt("conclusion", STRING),
        list("conclusionCode", CC),
        list("presentedForm", ATTACHMENT),
    ],
    invariant: None,
};
static MEDIA: Complex = Complex {
    elements: &[opt("comment", STRING), req("link", REFERENCE)],
    invariant: None,
};

pub(super) static SPECIMEN: ResourceDef = ResourceDef {
    name: "Specimen",
    elements: &[
        list("identifier", IDENTIFIER),
        opt("accessionIdentifier", IDENTIFIER),
        opt("status", Ty::Code(&vs::SPECIMEN_STATUS)),
        opt("type", CC),
        opt("subject", REFERENCE),
        opt("receivedTime", DATE_TIME),
        list("parent", REFERENCE),
        list("request", REFERENCE),
        opt("collection", Ty::Type(&COLLECTION)),
        list("processing", Ty::Any),
        list("container", Ty::Any),
        list("condition", CC),
        list("note", ANNOTATION),
    ],
    invariant: None,
};
static COLLECTION: Complex = Complex {
    elements: &[
        opt("collector", REFERENCE),
        opt(
            "collected",
            Ty::Choice(&[("DateTime", DATE_TIME), ("Period", PERIOD)]),
        ),
        opt("duration", QUANTITY),
        opt("quantity", QUANTITY),
        opt("method", CC),
        opt("bodySite", CC),
        opt(
            "fastingStatus",
            Ty::Choice(&[("CodeableConcept", CC), ("Duration", QUANTITY)]),
        ),
    ],
    invariant: None,
};
