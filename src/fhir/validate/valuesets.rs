//! The FHIR R4 value sets that elements bind with strength *required*: a code outside them is
//! an error. Each list is the complete expansion from the R4 specification.

/// A required value set: its name for messages, the code system codings must use when the
/// element is a CodeableConcept, and its codes.
pub(super) struct ValueSet {
    pub name: &'static str,
    pub system: &'static str,
    pub codes: &'static [&'static str],
}

macro_rules! value_set {
    ($const:ident, $name:literal, $system:literal, [$($code:literal),+ $(,)?]) => {
        pub(super) static $const: ValueSet =
            ValueSet { name: $name, system: $system, codes: &[$($code),+] };
    };
}

value_set!(
    ADMINISTRATIVE_GENDER,
    "administrative-gender",
    "http://hl7.org/fhir/administrative-gender",
    ["male", "female", "other", "unknown"]
);
value_set!(
    OBSERVATION_STATUS,
    "observation-status",
    "http://hl7.org/fhir/observation-status",
    [
        "registered",
        "preliminary",
        "final",
        "amended",
        "corrected",
        "cancelled",
        "entered-in-error",
        "unknown"
    ]
);
value_set!(
    DIAGNOSTIC_REPORT_STATUS,
    "diagnostic-report-status",
    "http://hl7.org/fhir/diagnostic-report-status",
    [
        "registered",
        "partial",
        "preliminary",
        "final",
        "amended",
        "corrected",
        "appended",
        "cancelled",
        "entered-in-error",
        "unknown"
    ]
);
value_set!(
    APPOINTMENT_STATUS,
    "appointmentstatus",
    "http://hl7.org/fhir/appointmentstatus",
    [
        "proposed",
        "pending",
        "booked",
        "arrived",
        "fulfilled",
        "cancelled",
        "noshow",
        "entered-in-error",
        "checked-in",
        "waitlist"
    ]
);
value_set!(
    PARTICIPANT_REQUIRED,
    "participantrequired",
    "http://hl7.org/fhir/participantrequired",
    ["required", "optional", "information-only"]
);
value_set!(
    PARTICIPATION_STATUS,
    "participationstatus",
    "http://hl7.org/fhir/participationstatus",
    ["accepted", "declined", "tentative", "needs-action"]
);
value_set!(
    ENCOUNTER_STATUS,
    "encounter-status",
    "http://hl7.org/fhir/encounter-status",
    [
        "planned",
        "arrived",
        "triaged",
        "in-progress",
        "onleave",
        "finished",
        "cancelled",
        "entered-in-error",
        "unknown"
    ]
);
value_set!(
    ENCOUNTER_LOCATION_STATUS,
    "encounter-location-status",
    "http://hl7.org/fhir/encounter-location-status",
    ["planned", "active", "reserved", "completed"]
);
value_set!(
    BUNDLE_TYPE,
    "bundle-type",
    "http://hl7.org/fhir/bundle-type",
    [
        "document",
        "message",
        "transaction",
        "transaction-response",
        "batch",
        "batch-response",
        "history",
        "searchset",
        "collection"
    ]
);
value_set!(
    HTTP_VERB,
    "http-verb",
    "http://hl7.org/fhir/http-verb",
    ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"]
);
value_set!(
    SEARCH_ENTRY_MODE,
    "search-entry-mode",
    "http://hl7.org/fhir/search-entry-mode",
    ["match", "include", "outcome"]
);
value_set!(
    ISSUE_SEVERITY,
    "issue-severity",
    "http://hl7.org/fhir/issue-severity",
    ["fatal", "error", "warning", "information"]
);
value_set!(
    ISSUE_TYPE,
    "issue-type",
    "http://hl7.org/fhir/issue-type",
    [
        "invalid",
        "structure",
        "required",
        "value",
        "invariant",
        "security",
        "login",
        "unknown",
        "expired",
        "forbidden",
        "suppressed",
        "processing",
        "not-supported",
        "duplicate",
        "multiple-matches",
        "not-found",
        "deleted",
        "too-long",
        "code-invalid",
        "extension",
        "too-costly",
        "business-rule",
        "conflict",
        "transient",
        "lock-error",
        "no-store",
        "exception",
        "timeout",
        "incomplete",
        "throttled",
        "informational"
    ]
);
value_set!(
    MEDICATION_REQUEST_STATUS,
    "medicationrequest-status",
    "http://hl7.org/fhir/CodeSystem/medicationrequest-status",
    [
        "active",
        "on-hold",
        "cancelled",
        "completed",
        "entered-in-error",
        "stopped",
        "draft",
        "unknown"
    ]
);
value_set!(
    MEDICATION_REQUEST_INTENT,
    "medicationrequest-intent",
    "http://hl7.org/fhir/CodeSystem/medicationrequest-intent",
    [
        "proposal",
        "plan",
        "order",
        "original-order",
        "reflex-order",
        "filler-order",
        "instance-order",
        "option"
    ]
);
value_set!(
    REQUEST_PRIORITY,
    "request-priority",
    "http://hl7.org/fhir/request-priority",
    ["routine", "urgent", "asap", "stat"]
);
value_set!(
    REQUEST_STATUS,
    "request-status",
    "http://hl7.org/fhir/request-status",
    [
        "draft",
        "active",
        "on-hold",
        "revoked",
        "completed",
        "entered-in-error",
        "unknown"
    ]
);
value_set!(
    REQUEST_INTENT,
    "request-intent",
    "http://hl7.org/fhir/request-intent",
    [
        "proposal",
        "plan",
        "directive",
        "order",
        "original-order",
        "reflex-order",
        "filler-order",
        "instance-order",
        "option"
    ]
);
value_set!(
    MEDICATION_STATUS,
    "medication-status",
    "http://hl7.org/fhir/CodeSystem/medication-status",
    ["active", "inactive", "entered-in-error"]
);
value_set!(
    DOCUMENT_REFERENCE_STATUS,
    "document-reference-status",
    "http://hl7.org/fhir/document-reference-status",
    ["current", "superseded", "entered-in-error"]
);
value_set!(
    COMPOSITION_STATUS,
    "composition-status",
    "http://hl7.org/fhir/composition-status",
    ["preliminary", "final", "amended", "entered-in-error"]
);
value_set!(
    DOCUMENT_RELATIONSHIP_TYPE,
    "document-relationship-type",
    "http://hl7.org/fhir/document-relationship-type",
    ["replaces", "transforms", "signs", "appends"]
);
value_set!(
    SPECIMEN_STATUS,
    "specimen-status",
    "http://hl7.org/fhir/specimen-status",
    [
        "available",
        "unavailable",
        "unsatisfactory",
        "entered-in-error"
    ]
);
value_set!(
    ALLERGY_TYPE,
    "allergy-intolerance-type",
    "http://hl7.org/fhir/allergy-intolerance-type",
    ["allergy", "intolerance"]
);
value_set!(
    ALLERGY_CATEGORY,
    "allergy-intolerance-category",
    "http://hl7.org/fhir/allergy-intolerance-category",
    ["food", "medication", "environment", "biologic"]
);
value_set!(
    ALLERGY_CRITICALITY,
    "allergy-intolerance-criticality",
    "http://hl7.org/fhir/allergy-intolerance-criticality",
    ["low", "high", "unable-to-assess"]
);
value_set!(
    REACTION_SEVERITY,
    "reaction-event-severity",
    "http://hl7.org/fhir/reaction-event-severity",
    ["mild", "moderate", "severe"]
);
value_set!(
    ALLERGY_CLINICAL,
    "allergyintolerance-clinical",
    "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
    ["active", "inactive", "resolved"]
);
value_set!(
    ALLERGY_VERIFICATION,
    "allergyintolerance-verification",
    "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification",
    ["unconfirmed", "confirmed", "refuted", "entered-in-error"]
);
value_set!(
    CONDITION_CLINICAL,
    "condition-clinical",
    "http://terminology.hl7.org/CodeSystem/condition-clinical",
    [
        "active",
        "recurrence",
        "relapse",
        "inactive",
        "remission",
        "resolved"
    ]
);
value_set!(
    CONDITION_VERIFICATION,
    "condition-ver-status",
    "http://terminology.hl7.org/CodeSystem/condition-ver-status",
    [
        "unconfirmed",
        "provisional",
        "differential",
        "confirmed",
        "refuted",
        "entered-in-error"
    ]
);
value_set!(
    LINK_TYPE,
    "link-type",
    "http://hl7.org/fhir/link-type",
    ["replaced-by", "replaces", "refer", "seealso"]
);
value_set!(
    IDENTIFIER_USE,
    "identifier-use",
    "http://hl7.org/fhir/identifier-use",
    ["usual", "official", "temp", "secondary", "old"]
);
value_set!(
    NAME_USE,
    "name-use",
    "http://hl7.org/fhir/name-use",
    [
        "usual",
        "official",
        "temp",
        "nickname",
        "anonymous",
        "old",
        "maiden"
    ]
);
value_set!(
    CONTACT_POINT_SYSTEM,
    "contact-point-system",
    "http://hl7.org/fhir/contact-point-system",
    ["phone", "fax", "email", "pager", "url", "sms", "other"]
);
value_set!(
    CONTACT_POINT_USE,
    "contact-point-use",
    "http://hl7.org/fhir/contact-point-use",
    ["home", "work", "temp", "old", "mobile"]
);
value_set!(
    ADDRESS_USE,
    "address-use",
    "http://hl7.org/fhir/address-use",
    ["home", "work", "temp", "old", "billing"]
);
value_set!(
    ADDRESS_TYPE,
    "address-type",
    "http://hl7.org/fhir/address-type",
    ["postal", "physical", "both"]
);
value_set!(
    QUANTITY_COMPARATOR,
    "quantity-comparator",
    "http://hl7.org/fhir/quantity-comparator",
    ["<", "<=", ">=", ">"]
);
value_set!(
    NARRATIVE_STATUS,
    "narrative-status",
    "http://hl7.org/fhir/narrative-status",
    ["generated", "extensions", "additional", "empty"]
);
