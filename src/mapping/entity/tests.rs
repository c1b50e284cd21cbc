use std::path::Path;

use serde_json::json;

use super::*;
use crate::hl7::Delimiters;
use crate::mapping::MappingSet;

const FHIR: &str = r#"
[lookup.marital]
S = "single"
M = "married"

[[entity]]
local = "patients"
remote = "Patient"

[[entity.field]]
local = "firstName"
remote = "name[0].given[0]"
required = true
transform = ["trim", "capitalize"]

[[entity.field]]
local = "lastName"
remote = "name[0].family"
transform = ["trim"]

[[entity.field]]
local = "dateOfBirth"
remote = "birthDate"
transform = [{ fn = "date_to_iso", format = "MM/DD/YYYY" }]

[[entity.field]]
local = "gender"
remote = "gender"
transform = [{ fn = "normalize_gender", to = "fhir" }]

[[entity.field]]
local = "phone"
remote = 'telecom[?(@.system=="phone")].value'
transform = ["normalize_phone"]

[[entity.field]]
local = "email"
remote = 'telecom[?(@.system=="email")].value'

[[entity.field]]
local = "marital"
remote = "maritalStatus.text"
transform = [{ fn = "lookup", table = "marital" }]

[[entity.field]]
local = "address.city"
remote = "address[0].city"

[entity.validate]
email = { format = "email" }
"address.zip" = { format = "zip" }
"#;

fn set() -> MappingSet {
    MappingSet::from_toml_str(FHIR, Path::new("inline.toml")).unwrap()
}

fn local() -> Value {
    json!({
        "firstName": "  jANE ", "lastName": "Doe", "dateOfBirth": "01/31/1980", "gender": "F",
        "phone": "(555) 234-5678", "email": "jane@example.org", "marital": "M",
        "address": {"city": "Springfield"}
    })
}

#[test]
fn pushes_a_local_record_to_a_fhir_patient() {
    let patient = set()
        .entity("patients")
        .unwrap()
        .apply(&local(), Direction::Push)
        .unwrap();
    assert_eq!(
        patient,
        json!({
            "name": [{"given": ["Jane"], "family": "Doe"}],
            "birthDate": "1980-01-31",
            "gender": "female",
            "telecom": [
                {"system": "phone", "value": "+15552345678"},
                {"system": "email", "value": "jane@example.org"}
            ],
            "maritalStatus": {"text": "married"},
            "address": [{"city": "Springfield"}]
        })
    );
}

#[test]
fn pulls_a_fhir_patient_back_to_the_local_shape() {
    let set = set();
    let patients = set.entity("Patient").unwrap();
    let patient = patients.apply(&local(), Direction::Push).unwrap();
    let back = patients.apply(&patient, Direction::Pull).unwrap();
    assert_eq!(
        back,
        json!({
            "firstName": "Jane", "lastName": "Doe", "dateOfBirth": "01/31/1980", "gender": "F",
            "phone": "+15552345678", "email": "jane@example.org", "marital": "M",
            "address": {"city": "Springfield"}
        })
    );
}

#[test]
fn every_field_error_is_reported_at_once() {
    let mut bad = local();
    bad["firstName"] = json!("   ");
    bad["phone"] = json!("555-12");
    bad["dateOfBirth"] = json!("1980-01-31");
    bad["email"] = json!("not-an-email");
    bad["address"]["zip"] = json!("1234");
    let errors = set()
        .entity("patients")
        .unwrap()
        .apply(&bad, Direction::Push)
        .unwrap_err();
    let got: Vec<(&str, &str)> = errors
        .errors
        .iter()
        .map(|e| (e.field.as_str(), e.function.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("address.zip", "format"),
            ("email", "format"),
            ("firstName", "required"),
            ("dateOfBirth", "date_to_iso"),
            ("phone", "normalize_phone"),
        ]
    );
    let text = errors.to_string();
    assert!(text.starts_with("5 field errors"), "{text}");
    assert!(
        text.contains(r#"field "phone": normalize_phone: "555-12" has 5 digits"#),
        "{text}"
    );
}

#[test]
fn a_batch_goes_on_past_a_bad_record() {
    let mut bad = local();
    bad["gender"] = json!("X");
    let outcome = set()
        .entity("patients")
        .unwrap()
        .apply_batch(&[local(), bad, local()], Direction::Push);
    assert_eq!(
        outcome.mapped.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
        [0, 2]
    );
    assert_eq!(outcome.failed.len(), 1);
    assert_eq!(outcome.failed[0].0, 1);
    assert_eq!(outcome.failed[0].1.errors[0].function, "normalize_gender");
}

#[test]
fn lookups_can_be_added_after_loading() {
    let mut set = set();
    let mut extra = LookupTables::new();
    extra.insert(
        "marital".into(),
        [("M".to_string(), "wed".to_string())].into(),
    );
    set.add_lookups(extra);
    let patient = set
        .entity("patients")
        .unwrap()
        .apply(&local(), Direction::Push)
        .unwrap();
    assert_eq!(patient["maritalStatus"]["text"], json!("wed"));
}

const HL7: &str = r#"
[[entity]]
local = "patients"
remote = "ADT_A01"

[[entity.field]]
local = "mrn"
remote = "PID-3.1"
required = true

[[entity.field]]
local = "lastName"
remote = "PID-5.1"

[[entity.field]]
local = "firstName"
remote = "PID-5.2"
transform = ["capitalize"]

[[entity.field]]
local = "dateOfBirth"
remote = "PID-7"
transform = ["iso_to_hl7_ts"]

[[entity.field]]
local = "gender"
remote = "PID-8"
transform = [{ fn = "normalize_gender", to = "hl7" }]

[[entity.field]]
local = "visits"
remote = "PV1-19"
transform = ["to_string"]
"#;

#[test]
fn maps_a_record_to_an_hl7_message_and_back() {
    let set = MappingSet::from_toml_str(HL7, Path::new("hl7.toml")).unwrap();
    let patients = set.entity("patients").unwrap();
    let record = json!({
        "mrn": "12345", "lastName": "O^Brien", "firstName": "jane",
        "dateOfBirth": "1980-01-31", "gender": "female", "visits": 3
    });
    let mut msg = MessageBuf::new(Delimiters::default());
    patients.apply_to_hl7(&record, &mut msg).unwrap();
    assert_eq!(msg.get("PID-3.1").unwrap().text(), "12345");
    assert_eq!(msg.get("PID-5.1").unwrap().text(), "O^Brien");
    assert_eq!(msg.get("PID-7").unwrap().text(), "19800131");
    assert_eq!(msg.get("PID-8").unwrap().text(), "F");
    assert_eq!(msg.get("PV1-19").unwrap().text(), "3");

    let back = patients.from_hl7(&msg.as_message()).unwrap();
    assert_eq!(
        back,
        json!({
            "mrn": "12345", "lastName": "O^Brien", "firstName": "Jane",
            "dateOfBirth": "1980-01-31", "gender": "female", "visits": 3
        })
    );
}

#[test]
fn hl7_errors_name_the_field() {
    let set = MappingSet::from_toml_str(HL7, Path::new("hl7.toml")).unwrap();
    let patients = set.entity("patients").unwrap();
    let err = patients
        .from_hl7(
            &crate::hl7::Message::parse(
                b"MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5\rPID|1||||DOE^JOHN||19801331",
            )
            .unwrap(),
        )
        .unwrap_err();
    let got: Vec<(&str, &str)> = err
        .errors
        .iter()
        .map(|e| (e.field.as_str(), e.function.as_str()))
        .collect();
    assert_eq!(got, [("mrn", "required"), ("dateOfBirth", "hl7_ts_to_iso")]);
    assert!(err.errors[0].message.contains("`PID-3.1` has no value"));

    let mut msg = MessageBuf::new(Delimiters::default());
    let err = patients
        .apply_to_hl7(&json!({"mrn": {"id": 1}}), &mut msg)
        .unwrap_err();
    assert_eq!(err.errors[0].function, "write");
    assert!(
        err.errors[0]
            .message
            .contains("an object cannot be written to an HL7 field")
    );
    let err = patients
        .apply(&json!({"mrn": "1"}), Direction::Push)
        .unwrap_err();
    assert!(
        err.errors[0].message.contains("use apply_to_hl7/from_hl7"),
        "{err}"
    );
}

#[test]
fn a_push_only_entity_refuses_pull() {
    let text = "[[entity]]\nlocal = \"a\"\nremote = \"B\"\ndirection = \"push\"\n[[entity.field]]\nlocal = \"x\"\nremote = \"y\"\n";
    let set = MappingSet::from_toml_str(text, Path::new("p.toml")).unwrap();
    let a = set.entity("a").unwrap();
    assert_eq!(
        a.apply(&json!({"x": 1}), Direction::Push).unwrap(),
        json!({"y": 1})
    );
    let err = a.apply(&json!({"y": 1}), Direction::Pull).unwrap_err();
    assert!(err.to_string().contains("entity `a` does not map pull"));
}
