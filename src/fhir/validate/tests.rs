//! One test per validation rule: each builds a resource that breaks exactly that rule and pins
//! the issue (severity, code, location), next to a valid resource that raises nothing.

use serde_json::{Value, json};

use super::validate;

/// (severity, code, expression) of every issue except the informational ones.
fn issues(resource: &Value) -> Vec<(String, String, String)> {
    validate(resource)
        .issue
        .into_iter()
        .filter(|i| i.severity != "information")
        .map(|i| {
            (
                i.severity,
                i.code,
                i.expression.first().cloned().unwrap_or_default(),
            )
        })
        .collect()
}

fn one(resource: Value, code: &str, expression: &str) {
    let found = issues(&resource);
    assert_eq!(
        found,
        vec![("error".to_owned(), code.to_owned(), expression.to_owned())],
        "for {resource}"
    );
}

fn observation() -> Value {
    json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"}})
}

fn patch(mut base: Value, extra: Value) -> Value {
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            base.as_object_mut().unwrap().remove(k);
        } else {
            base[k] = v.clone();
        }
    }
    base
}

#[test]
fn a_valid_resource_is_all_ok() {
    let outcome = validate(&observation());
    assert_eq!(outcome.issue.len(), 1);
    assert_eq!(outcome.issue[0].severity, "information");
    assert_eq!(outcome.issue[0].diagnostics.as_deref(), Some("All OK"));
    assert!(!outcome.has_errors());
}

#[test]
fn not_a_resource() {
    one(json!([1]), "structure", "Resource");
    one(json!({"id": "x"}), "required", "Resource");
    one(json!({"resourceType": 5}), "structure", "Resource");
    one(json!({"resourceType": "Pateint"}), "invalid", "Pateint");
}

#[test]
fn required_elements() {
    one(
        patch(observation(), json!({"status": null})),
        "required",
        "Observation.status",
    );
    one(
        patch(observation(), json!({"code": null})),
        "required",
        "Observation.code",
    );
    one(json!({"resourceType": "Bundle"}), "required", "Bundle.type");
    one(
        json!({"resourceType": "MedicationRequest", "status": "active", "intent": "order", "subject": {"reference": "Patient/1"}}),
        "required",
        "MedicationRequest.medication[x]",
    );
    // A primitive with only an extension (`_status`) is present.
    assert!(issues(&patch(observation(), json!({"status": null, "_status": {"extension": [{"url": "http://x", "valueString": "y"}]}}))).is_empty());
}

#[test]
fn cardinalities() {
    one(
        patch(observation(), json!({"status": ["final"]})),
        "structure",
        "Observation.status",
    );
    one(
        json!({"resourceType": "Patient", "name": {"family": "Doe"}}),
        "structure",
        "Patient.name",
    );
    one(
        json!({"resourceType": "Patient", "name": []}),
        "invalid",
        "Patient.name",
    );
    one(
        json!({"resourceType": "Patient", "name": [{}]}),
        "invalid",
        "Patient.name[0]",
    );
    one(
        json!({"resourceType": "OperationOutcome"}),
        "required",
        "OperationOutcome.issue",
    );
    one(
        patch(
            observation(),
            json!({"valueString": "a", "valueBoolean": true}),
        ),
        "structure",
        "Observation.value[x]",
    );
    one(
        patch(observation(), json!({"valueFoo": 1})),
        "structure",
        "Observation.valueFoo",
    );
}

#[test]
fn required_bindings() {
    one(
        json!({"resourceType": "Patient", "gender": "F"}),
        "code-invalid",
        "Patient.gender",
    );
    one(
        patch(observation(), json!({"status": "done"})),
        "code-invalid",
        "Observation.status",
    );
    one(
        json!({"resourceType": "Bundle", "type": "list"}),
        "code-invalid",
        "Bundle.type",
    );
    one(
        json!({"resourceType": "ServiceRequest", "status": "active", "intent": "wish", "subject": {"reference": "Patient/1"}}),
        "code-invalid",
        "ServiceRequest.intent",
    );
    one(
        json!({"resourceType": "Appointment", "status": "planned", "start": "2024-05-01T10:00:00Z",
               "end": "2024-05-01T10:30:00Z", "participant": [{"status": "accepted"}]}),
        "code-invalid",
        "Appointment.status",
    );
    one(
        json!({"resourceType": "Patient", "telecom": [{"system": "phone", "value": "1", "use": "cell"}]}),
        "code-invalid",
        "Patient.telecom[0].use",
    );
    // A CodeableConcept with a required binding: the code, and a coding from the system.
    let condition = |status: Value| json!({"resourceType": "Condition", "subject": {"reference": "Patient/1"}, "clinicalStatus": status});
    let system = "http://terminology.hl7.org/CodeSystem/condition-clinical";
    assert!(
        issues(&condition(
            json!({"coding": [{"system": system, "code": "active"}]})
        ))
        .is_empty()
    );
    one(
        condition(json!({"coding": [{"system": system, "code": "ongoing"}]})),
        "code-invalid",
        "Condition.clinicalStatus.coding[0].code",
    );
    one(
        condition(json!({"text": "active"})),
        "code-invalid",
        "Condition.clinicalStatus",
    );
}

#[test]
fn primitive_formats() {
    one(
        json!({"resourceType": "Patient", "birthDate": "1980-13-01"}),
        "value",
        "Patient.birthDate",
    );
    one(
        json!({"resourceType": "Patient", "birthDate": 1980}),
        "structure",
        "Patient.birthDate",
    );
    one(
        patch(
            observation(),
            json!({"effectiveDateTime": "2024-05-01T10:00"}),
        ),
        "value",
        "Observation.effectiveDateTime",
    );
    one(
        patch(observation(), json!({"issued": "2024-05-01"})),
        "value",
        "Observation.issued",
    );
    one(
        json!({"resourceType": "Patient", "id": "p_1"}),
        "value",
        "Patient.id",
    );
    one(
        json!({"resourceType": "Patient", "identifier": [{"system": "http://a b"}]}),
        "value",
        "Patient.identifier[0].system",
    );
    one(
        json!({"resourceType": "Patient", "active": "true"}),
        "structure",
        "Patient.active",
    );
    one(
        json!({"resourceType": "Patient", "name": [{"family": ""}]}),
        "value",
        "Patient.name[0].family",
    );
    one(
        patch(observation(), json!({"valueQuantity": {"value": "5"}})),
        "structure",
        "Observation.valueQuantity.value",
    );
    one(
        json!({"resourceType": "Appointment", "status": "proposed", "minutesDuration": 0, "participant": [{"status": "accepted"}]}),
        "value",
        "Appointment.minutesDuration",
    );
    one(
        json!({"resourceType": "Patient", "language": "en  US"}),
        "value",
        "Patient.language",
    );
}

#[test]
fn references() {
    let with = |r: &str| patch(observation(), json!({"subject": {"reference": r}}));
    for good in [
        "Patient/1",
        "https://x.org/fhir/Patient/1",
        "urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0",
    ] {
        assert!(issues(&with(good)).is_empty(), "{good}");
    }
    one(with("Patient"), "invalid", "Observation.subject.reference");
    one(
        with("patient/1"),
        "invalid",
        "Observation.subject.reference",
    );
    // ref-1: a local reference needs the contained resource.
    one(with("#p"), "invariant", "Observation.subject.reference");
    let contained = patch(
        with("#p"),
        json!({"contained": [{"resourceType": "Patient", "id": "p"}]}),
    );
    assert!(issues(&contained).is_empty(), "{:?}", issues(&contained));
}

#[test]
fn contained_resources() {
    // dom-2: no nesting.
    let nested = patch(
        observation(),
        json!({"contained": [{"resourceType": "Patient", "id": "p", "contained": [{"resourceType": "Patient", "id": "q"}]}]}),
    );
    one(nested, "invariant", "Observation.contained[0].contained");
    // Contained resources are validated like any other.
    one(
        patch(
            observation(),
            json!({"contained": [{"resourceType": "Patient", "id": "p", "gender": "x"}]}),
        ),
        "code-invalid",
        "Observation.contained[0].gender",
    );
    let no_id = issues(&patch(
        observation(),
        json!({"contained": [{"resourceType": "Patient"}]}),
    ));
    assert_eq!(
        no_id,
        vec![(
            "warning".into(),
            "required".into(),
            "Observation.contained[0]".into()
        )]
    );
}

#[test]
fn datatype_invariants() {
    one(
        json!({"resourceType": "Patient", "telecom": [{"value": "555"}]}),
        "invariant",
        "Patient.telecom[0]",
    );
    one(
        patch(
            observation(),
            json!({"valueQuantity": {"value": 1, "code": "mg"}}),
        ),
        "invariant",
        "Observation.valueQuantity",
    );
    one(
        patch(
            observation(),
            json!({"effectivePeriod": {"start": "2024-05-02", "end": "2024-05-01T10:00:00Z"}}),
        ),
        "invariant",
        "Observation.effectivePeriod",
    );
    one(
        json!({"resourceType": "Patient", "extension": [{"url": "http://x"}]}),
        "invariant",
        "Patient.extension[0]",
    );
    one(
        json!({"resourceType": "Patient", "extension": [{"valueString": "a"}]}),
        "required",
        "Patient.extension[0].url",
    );
    one(
        json!({"resourceType": "Patient", "contact": [{"gender": "male"}]}),
        "invariant",
        "Patient.contact[0]",
    );
    one(
        json!({"resourceType": "Patient", "text": {"status": "generated", "div": "<p>x</p>"}}),
        "value",
        "Patient.text.div",
    );
    one(
        patch(observation(), json!({"note": [{"time": "2024-01-01"}]})),
        "required",
        "Observation.note[0].text",
    );
}

#[test]
fn resource_invariants() {
    one(
        patch(
            observation(),
            json!({"valueString": "a", "dataAbsentReason": {"text": "x"}}),
        ),
        "invariant",
        "Observation",
    );
    let appointment = |extra: Value| {
        patch(
            json!({"resourceType": "Appointment", "status": "booked", "participant": [{"status": "accepted"}]}),
            extra,
        )
    };
    assert!(
        issues(&appointment(
            json!({"start": "2024-05-01T10:00:00Z", "end": "2024-05-01T10:30:00Z"})
        ))
        .is_empty()
    );
    let only_start = issues(&appointment(json!({"start": "2024-05-01T10:00:00Z"})));
    assert_eq!(
        only_start,
        vec![("error".into(), "invariant".into(), "Appointment".into())]
    );
    one(appointment(json!({})), "invariant", "Appointment");
    let verification = json!({"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "entered-in-error"}]});
    let clinical = json!({"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]});
    one(
        json!({"resourceType": "Condition", "subject": {"reference": "Patient/1"}, "verificationStatus": verification, "clinicalStatus": clinical}),
        "invariant",
        "Condition",
    );
    one(
        json!({"resourceType": "AllergyIntolerance", "patient": {"reference": "Patient/1"}}),
        "invariant",
        "AllergyIntolerance",
    );
}

#[test]
fn bundles_recurse_with_locations() {
    let bundle = json!({"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0", "resource": {"resourceType": "Patient"}},
        {"resource": {"resourceType": "Patient"}},
        {"resource": {"resourceType": "Observation", "code": {"text": "x"}}}
    ]});
    one(bundle, "required", "Bundle.entry[2].resource.status");
}

#[test]
fn bundle_invariants() {
    let entry = |extra: Value| {
        patch(
            json!({"fullUrl": "urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0", "resource": {"resourceType": "Patient"}}),
            extra,
        )
    };
    let bundle = |kind: &str, entries: Vec<Value>| json!({"resourceType": "Bundle", "type": kind, "entry": entries});
    one(
        patch(
            bundle("collection", vec![]),
            json!({"entry": null, "total": 1}),
        ),
        "invariant",
        "Bundle.total",
    );
    one(
        bundle(
            "collection",
            vec![entry(json!({"search": {"mode": "match"}}))],
        ),
        "invariant",
        "Bundle.entry[0].search",
    );
    one(
        bundle("transaction", vec![entry(json!({}))]),
        "invariant",
        "Bundle.entry[0]",
    );
    one(
        bundle(
            "collection",
            vec![entry(
                json!({"request": {"method": "POST", "url": "Patient"}}),
            )],
        ),
        "invariant",
        "Bundle.entry[0]",
    );
    one(
        bundle("batch-response", vec![entry(json!({}))]),
        "invariant",
        "Bundle.entry[0]",
    );
    one(
        bundle("collection", vec![entry(json!({})), entry(json!({}))]),
        "invariant",
        "Bundle.entry[1].fullUrl",
    );
    one(
        bundle(
            "transaction",
            vec![entry(
                json!({"request": {"method": "PATCHY", "url": "Patient"}}),
            )],
        ),
        "code-invalid",
        "Bundle.entry[0].request.method",
    );
}

#[test]
fn transaction_references_must_resolve() {
    let obs = |reference: &str| json!({"resource": {"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "subject": {"reference": reference}}, "request": {"method": "POST", "url": "Observation"}});
    let patient = json!({"fullUrl": "urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0", "resource": {"resourceType": "Patient"}, "request": {"method": "POST", "url": "Patient"}});
    let good = json!({"resourceType": "Bundle", "type": "transaction", "entry": [patient, obs("urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0")]});
    assert!(issues(&good).is_empty(), "{:?}", issues(&good));
    let bad = json!({"resourceType": "Bundle", "type": "transaction", "entry": [patient, obs("urn:uuid:11111111-1cbf-4d64-b04d-cd9187a4c6e0")]});
    one(
        bad,
        "not-found",
        "Bundle.entry[1].resource.subject.reference",
    );
}

#[test]
fn parse_errors_are_fatal_with_line_and_column() {
    let outcome = super::validate_str("{\n  \"resourceType\": \"Patient\",\n}");
    assert_eq!(outcome.issue[0].severity, "fatal");
    assert!(
        outcome.issue[0]
            .diagnostics
            .as_deref()
            .unwrap()
            .contains("line 3"),
        "{outcome:?}"
    );
    assert!(outcome.has_errors());
}
