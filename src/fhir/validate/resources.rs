//! Rule tables for the people, organization, workflow and infrastructure resources: their
//! elements, cardinalities and required bindings (FHIR R4 4.0.1). Elements not listed are not
//! checked beyond their common parts; the tables cover what integrations send.

use super::invariants;
use super::schema::*;
use super::valuesets as vs;

const GENDER: Ty = Ty::Code(&vs::ADMINISTRATIVE_GENDER);

pub(super) static PATIENT: ResourceDef = ResourceDef {
    name: "Patient",
    elements: &[
        list("identifier", IDENTIFIER),
        opt("active", BOOLEAN),
        list("name", HUMAN_NAME),
        list("telecom", CONTACT_POINT),
        opt("gender", GENDER),
        opt("birthDate", DATE),
        opt(
            "deceased",
            Ty::Choice(&[("Boolean", BOOLEAN), ("DateTime", DATE_TIME)]),
        ),
        list("address", ADDRESS),
        opt("maritalStatus", CC),
        opt(
            "multipleBirth",
            Ty::Choice(&[("Boolean", BOOLEAN), ("Integer", INTEGER)]),
        ),
        list("photo", ATTACHMENT),
        list("contact", Ty::Type(&PATIENT_CONTACT)),
        list("communication", Ty::Type(&COMMUNICATION)),
        list("generalPractitioner", REFERENCE),
        opt("managingOrganization", REFERENCE),
        list("link", Ty::Type(&PATIENT_LINK)),
    ],
    invariant: None,
};
static PATIENT_CONTACT: Complex = Complex {
    elements: &[
        list("relationship", CC),
        opt("name", HUMAN_NAME),
        list("telecom", CONTACT_POINT),
        opt("address", ADDRESS),
        opt("gender", GENDER),
        opt("organization", REFERENCE),
        opt("period", PERIOD),
    ],
    invariant: Some(invariants::pat_1),
};
static COMMUNICATION: Complex = Complex {
    elements: &[req("language", CC), opt("preferred", BOOLEAN)],
    invariant: None,
};
static PATIENT_LINK: Complex = Complex {
    elements: &[
        req("other", REFERENCE),
        req("type", Ty::Code(&vs::LINK_TYPE)),
    ],
    invariant: None,
};

pub(super) static PRACTITIONER: ResourceDef = ResourceDef {
    name: "Practitioner",
    elements: &[
        list("identifier", IDENTIFIER),
        opt("active", BOOLEAN),
        list("name", HUMAN_NAME),
        list("telecom", CONTACT_POINT),
        list("address", ADDRESS),
        opt("gender", GENDER),
        opt("birthDate", DATE),
        list("photo", ATTACHMENT),
        list("qualification", Ty::Type(&QUALIFICATION)),
        list("communication", CC),
    ],
    invariant: None,
};
static QUALIFICATION: Complex = Complex {
    elements: &[
        list("identifier", IDENTIFIER),
        req("code", CC),
        opt("period", PERIOD),
        opt("issuer", REFERENCE),
    ],
    invariant: None,
};

pub(super) static ORGANIZATION: ResourceDef = ResourceDef {
    name: "Organization",
    elements: &[
        list("identifier", IDENTIFIER),
        opt("active", BOOLEAN),
        list("type", CC),
        opt("name", STRING),
        list("alias", STRING),
        list("telecom", CONTACT_POINT),
        list("address", ADDRESS),
        opt("partOf", REFERENCE),
        list("contact", Ty::Type(&ORGANIZATION_CONTACT)),
        list("endpoint", REFERENCE),
    ],
    invariant: None,
};
static ORGANIZATION_CONTACT: Complex = Complex {
    elements: &[
        opt("purpose", CC),
        opt("name", HUMAN_NAME),
        list("telecom", CONTACT_POINT),
        opt("address", ADDRESS),
    ],
    invariant: None,
};

pub(super) static RELATED_PERSON: ResourceDef = ResourceDef {
    name: "RelatedPerson",
    elements: &[
        list("identifier", IDENTIFIER),
        opt("active", BOOLEAN),
        req("patient", REFERENCE),
        list("relationship", CC),
        list("name", HUMAN_NAME),
        list("telecom", CONTACT_POINT),
        opt("gender", GENDER),
        opt("birthDate", DATE),
        list("address", ADDRESS),
        list("photo", ATTACHMENT),
        opt("period", PERIOD),
        list("communication", Ty::Type(&COMMUNICATION)),
    ],
    invariant: None,
};

pub(super) static ENCOUNTER: ResourceDef = ResourceDef {
    name: "Encounter",
    elements: &[
        list("identifier", IDENTIFIER),
        req("status", Ty::Code(&vs::ENCOUNTER_STATUS)),
        list("statusHistory", Ty::Type(&ENCOUNTER_STATUS_HISTORY)),
        req("class", CODING),
        list("type", CC),
        opt("serviceType", CC),
        opt("priority", CC),
        opt("subject", REFERENCE),
        list("episodeOfCare", REFERENCE),
        list("basedOn", REFERENCE),
        list("participant", Ty::Type(&ENCOUNTER_PARTICIPANT)),
        list("appointment", REFERENCE),
        opt("period", PERIOD),
        opt("length", QUANTITY),
        list("reasonCode", CC),
        list("reasonReference", REFERENCE),
        list("diagnosis", Ty::Type(&ENCOUNTER_DIAGNOSIS)),
        list("account", REFERENCE),
        opt("hospitalization", Ty::Any),
        list("location", Ty::Type(&ENCOUNTER_LOCATION)),
        opt("serviceProvider", REFERENCE),
        opt("partOf", REFERENCE),
    ],
    invariant: None,
};
static ENCOUNTER_STATUS_HISTORY: Complex = Complex {
    elements: &[
        req("status", Ty::Code(&vs::ENCOUNTER_STATUS)),
        req("period", PERIOD),
    ],
    invariant: None,
};
static ENCOUNTER_PARTICIPANT: Complex = Complex {
    elements: &[
        list("type", CC),
        opt("period", PERIOD),
        opt("individual", REFERENCE),
    ],
    invariant: None,
};
static ENCOUNTER_DIAGNOSIS: Complex = Complex {
    elements: &[
        req("condition", REFERENCE),
        opt("use", CC),
        opt("rank", POSITIVE_INT),
    ],
    invariant: None,
};
static ENCOUNTER_LOCATION: Complex = Complex {
    elements: &[
        req("location", REFERENCE),
        opt("status", Ty::Code(&vs::ENCOUNTER_LOCATION_STATUS)),
        opt("physicalType", CC),
        opt("period", PERIOD),
    ],
    invariant: None,
};

pub(super) static APPOINTMENT: ResourceDef = ResourceDef {
    name: "Appointment",
    elements: &[
        list("identifier", IDENTIFIER),
        req("status", Ty::Code(&vs::APPOINTMENT_STATUS)),
        opt("cancelationReason", CC),
        list("serviceCategory", CC),
        list("serviceType", CC),
        list("specialty", CC),
        opt("appointmentType", CC),
        list("reasonCode", CC),
        list("reasonReference", REFERENCE),
        opt("priority", UNSIGNED_INT),
        opt("description", STRING),
        list("supportingInformation", REFERENCE),
        opt("start", INSTANT),
        opt("end", INSTANT),
        opt("minutesDuration", POSITIVE_INT),
        list("slot", REFERENCE),
        opt("created", DATE_TIME),
        opt("comment", STRING),
        opt("patientInstruction", STRING),
        list("basedOn", REFERENCE),
        some("participant", Ty::Type(&APPOINTMENT_PARTICIPANT)),
        list("requestedPeriod", PERIOD),
    ],
    invariant: Some(invariants::app_2_3),
};
static APPOINTMENT_PARTICIPANT: Complex = Complex {
    elements: &[
        list("type", CC),
        opt("actor", REFERENCE),
        opt("required", Ty::Code(&vs::PARTICIPANT_REQUIRED)),
        req("status", Ty::Code(&vs::PARTICIPATION_STATUS)),
        opt("period", PERIOD),
    ],
    invariant: None,
};

pub(super) static SERVICE_REQUEST: ResourceDef = ResourceDef {
    name: "ServiceRequest",
    elements: &[
        list("identifier", IDENTIFIER),
        list("instantiatesCanonical", CANONICAL),
        list("instantiatesUri", URI),
        list("basedOn", REFERENCE),
        list("replaces", REFERENCE),
        opt("requisition", IDENTIFIER),
        req("status", Ty::Code(&vs::REQUEST_STATUS)),
        req("intent", Ty::Code(&vs::REQUEST_INTENT)),
        list("category", CC),
        opt("priority", Ty::Code(&vs::REQUEST_PRIORITY)),
        opt("doNotPerform", BOOLEAN),
        opt("code", CC),
        list("orderDetail", CC),
        opt(
            "quantity",
            Ty::Choice(&[("Quantity", QUANTITY), ("Ratio", RATIO), ("Range", RANGE)]),
        ),
        req("subject", REFERENCE),
        opt("encounter", REFERENCE),
        opt(
            "occurrence",
            Ty::Choice(&[
                ("DateTime", DATE_TIME),
                ("Period", PERIOD),
                ("Timing", Ty::Any),
            ]),
        ),
        opt(
            "asNeeded",
            Ty::Choice(&[("Boolean", BOOLEAN), ("CodeableConcept", CC)]),
        ),
        opt("authoredOn", DATE_TIME),
        opt("requester", REFERENCE),
        opt("performerType", CC),
        list("performer", REFERENCE),
        list("locationCode", CC),
        list("locationReference", REFERENCE),
        list("reasonCode", CC),
        list("reasonReference", REFERENCE),
        list("insurance", REFERENCE),
        list("supportingInfo", REFERENCE),
        list("specimen", REFERENCE),
        list("bodySite", CC),
        list("note", ANNOTATION),
        opt("patientInstruction", STRING),
        list("relevantHistory", REFERENCE),
    ],
    invariant: None,
};

pub(super) static MEDICATION: ResourceDef = ResourceDef {
    name: "Medication",
    elements: &[
        list("identifier", IDENTIFIER),
        opt("code", CC),
        opt("status", Ty::Code(&vs::MEDICATION_STATUS)),
        opt("manufacturer", REFERENCE),
        opt("form", CC),
        opt("amount", RATIO),
        list("ingredient", Ty::Type(&INGREDIENT)),
        opt("batch", Ty::Type(&BATCH)),
    ],
    invariant: None,
};
static INGREDIENT: Complex = Complex {
    elements: &[
        req(
            "item",
            Ty::Choice(&[("CodeableConcept", CC), ("Reference", REFERENCE)]),
        ),
        opt("isActive", BOOLEAN),
        opt("strength", RATIO),
    ],
    invariant: None,
};
static BATCH: Complex = Complex {
    elements: &[opt("lotNumber", STRING), opt("expirationDate", DATE_TIME)],
    invariant: None,
};

pub(super) static MEDICATION_REQUEST: ResourceDef = ResourceDef {
    name: "MedicationRequest",
    elements: &[
        list("identifier", IDENTIFIER),
        req("status", Ty::Code(&vs::MEDICATION_REQUEST_STATUS)),
        opt("statusReason", CC),
        req("intent", Ty::Code(&vs::MEDICATION_REQUEST_INTENT)),
        list("category", CC),
        opt("priority", Ty::Code(&vs::REQUEST_PRIORITY)),
        opt("doNotPerform", BOOLEAN),
        opt(
            "reported",
            Ty::Choice(&[("Boolean", BOOLEAN), ("Reference", REFERENCE)]),
        ),
        req(
            "medication",
            Ty::Choice(&[("CodeableConcept", CC), ("Reference", REFERENCE)]),
        ),
        req("subject", REFERENCE),
        opt("encounter", REFERENCE),
        list("supportingInformation", REFERENCE),
        opt("authoredOn", DATE_TIME),
        opt("requester", REFERENCE),
        opt("performer", REFERENCE),
        opt("performerType", CC),
        opt("recorder", REFERENCE),
        list("reasonCode", CC),
        list("reasonReference", REFERENCE),
        list("instantiatesCanonical", CANONICAL),
        list("instantiatesUri", URI),
        list("basedOn", REFERENCE),
        opt("groupIdentifier", IDENTIFIER),
        opt("courseOfTherapyType", CC),
        list("insurance", REFERENCE),
        list("note", ANNOTATION),
        list("dosageInstruction", Ty::Any),
        opt("dispenseRequest", Ty::Any),
        opt("substitution", Ty::Any),
        opt("priorPrescription", REFERENCE),
        list("detectedIssue", REFERENCE),
        list("eventHistory", REFERENCE),
    ],
    invariant: None,
};

pub(super) static DOCUMENT_REFERENCE: ResourceDef = ResourceDef {
    name: "DocumentReference",
    elements: &[
        opt("masterIdentifier", IDENTIFIER),
        list("identifier", IDENTIFIER),
        req("status", Ty::Code(&vs::DOCUMENT_REFERENCE_STATUS)),
        opt("docStatus", Ty::Code(&vs::COMPOSITION_STATUS)),
        opt("type", CC),
        list("category", CC),
        opt("subject", REFERENCE),
        opt("date", INSTANT),
        list("author", REFERENCE),
        opt("authenticator", REFERENCE),
        opt("custodian", REFERENCE),
        list("relatesTo", Ty::Type(&RELATES_TO)),
        opt("description", STRING),
        list("securityLabel", CC),
        some("content", Ty::Type(&DOCUMENT_CONTENT)),
        opt("context", Ty::Any),
    ],
    invariant: None,
};
static RELATES_TO: Complex = Complex {
    elements: &[
        req("code", Ty::Code(&vs::DOCUMENT_RELATIONSHIP_TYPE)),
        req("target", REFERENCE),
    ],
    invariant: None,
};
static DOCUMENT_CONTENT: Complex = Complex {
    elements: &[req("attachment", ATTACHMENT), opt("format", CODING)],
    invariant: None,
};

pub(super) static BUNDLE: ResourceDef = ResourceDef {
    name: "Bundle",
    elements: &[
        opt("identifier", IDENTIFIER),
        req("type", Ty::Code(&vs::BUNDLE_TYPE)),
        opt("timestamp", INSTANT),
        opt("total", UNSIGNED_INT),
        list("link", Ty::Type(&BUNDLE_LINK)),
        list("entry", Ty::Type(&BUNDLE_ENTRY)),
        opt("signature", Ty::Any),
    ],
    invariant: Some(invariants::bundle),
};
static BUNDLE_LINK: Complex = Complex {
    elements: &[req("relation", STRING), req("url", URI)],
    invariant: None,
};
static BUNDLE_ENTRY: Complex = Complex {
    elements: &[
        list("link", Ty::Type(&BUNDLE_LINK)),
        opt("fullUrl", URI),
        opt("resource", Ty::Resource),
        opt("search", Ty::Type(&BUNDLE_SEARCH)),
        opt("request", Ty::Type(&BUNDLE_REQUEST)),
        opt("response", Ty::Type(&BUNDLE_RESPONSE)),
    ],
    invariant: None,
};
static BUNDLE_SEARCH: Complex = Complex {
    elements: &[
        opt("mode", Ty::Code(&vs::SEARCH_ENTRY_MODE)),
        opt("score", DECIMAL),
    ],
    invariant: None,
};
static BUNDLE_REQUEST: Complex = Complex {
    elements: &[
        req("method", Ty::Code(&vs::HTTP_VERB)),
        req("url", URI),
        opt("ifNoneMatch", STRING),
        opt("ifModifiedSince", INSTANT),
        opt("ifMatch", STRING),
        opt("ifNoneExist", STRING),
    ],
    invariant: None,
};
static BUNDLE_RESPONSE: Complex = Complex {
    elements: &[
        req("status", STRING),
        opt("location", URI),
        opt("etag", STRING),
        opt("lastModified", INSTANT),
        opt("outcome", Ty::Resource),
    ],
    invariant: None,
};

pub(super) static OPERATION_OUTCOME: ResourceDef = ResourceDef {
    name: "OperationOutcome",
    elements: &[some("issue", Ty::Type(&ISSUE))],
    invariant: None,
};
static ISSUE: Complex = Complex {
    elements: &[
        req("severity", Ty::Code(&vs::ISSUE_SEVERITY)),
        req("code", Ty::Code(&vs::ISSUE_TYPE)),
        opt("details", CC),
        opt("diagnostics", STRING),
        list("location", STRING),
        list("expression", STRING),
    ],
    invariant: None,
};
