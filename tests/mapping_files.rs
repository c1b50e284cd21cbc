//! `mappings/`: the sample mapping loads and maps a local patient to a FHIR Patient and back,
//! and `mappings/README.md` documents every transform function with an example.

use std::path::Path;

use ihub::fhir::patient::LocalPatient;
use ihub::mapping::transform::FUNCTION_NAMES;
use ihub::mapping::{Direction, MappingSet};
use serde_json::json;

fn mappings_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/mappings"))
}

#[test]
fn the_sample_patient_mapping_round_trips_a_local_patient() {
    let set = MappingSet::load(&mappings_dir().join("patient.toml")).unwrap();
    let patients = set.entity("patients").unwrap();
    let local = json!({
        "id": "p1", "mrn": " A1234 ", "firstName": "jane", "lastName": "DOE",
        "dateOfBirth": "1980-01-31", "gender": "F", "email": "Jane@Example.org",
        "phone": "555.234.5678",
        "address": {"lines": ["1 Main St"], "city": "springfield", "state": "il",
                    "postalCode": "62701-1234", "country": "us"}
    });
    let patient = patients.apply(&local, Direction::Push).unwrap();
    assert_eq!(
        patient,
        json!({
            "resourceType": "Patient",
            "id": "p1",
            "identifier": [{"system": "urn:ihub:mrn", "value": "A1234"}],
            "name": [{"given": ["Jane"], "family": "Doe"}],
            "birthDate": "1980-01-31",
            "gender": "female",
            "telecom": [
                {"system": "phone", "value": "+15552345678"},
                {"system": "email", "value": "jane@example.org"}
            ],
            "address": [{"line": ["1 Main St"], "city": "Springfield", "state": "IL",
                         "postalCode": "62701", "country": "USA"}]
        })
    );
    let back = patients.apply(&patient, Direction::Pull).unwrap();
    let back: LocalPatient = serde_json::from_value(back).unwrap();
    assert_eq!(back.first_name.as_deref(), Some("Jane"));
    assert_eq!(back.gender.as_deref(), Some("female"));
    assert_eq!(back.phone.as_deref(), Some("+15552345678"));
    let address = back.address.unwrap();
    assert_eq!(address.country.as_deref(), Some("US"));
    assert_eq!(address.postal_code, None, "postalCode is mapped push only");
}

#[test]
fn the_sample_rejects_a_bad_record_with_every_reason() {
    let set = MappingSet::load(&mappings_dir().join("patient.toml")).unwrap();
    let bad = json!({"firstName": "Jane", "email": "nope", "phone": "12", "gender": "X"});
    let errors = set
        .entity("patients")
        .unwrap()
        .apply(&bad, Direction::Push)
        .unwrap_err();
    let fields: Vec<&str> = errors.errors.iter().map(|e| e.field.as_str()).collect();
    for f in ["mrn", "lastName", "email", "phone", "gender"] {
        assert!(fields.contains(&f), "{f} missing from {errors}");
    }
}

#[test]
fn every_mapping_file_here_loads() {
    let mut n = 0;
    for entry in std::fs::read_dir(mappings_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            MappingSet::load(&path).unwrap_or_else(|e| panic!("{e}"));
            n += 1;
        }
    }
    assert!(n >= 1);
}

#[test]
fn the_readme_documents_every_function_with_an_example() {
    let readme = std::fs::read_to_string(mappings_dir().join("README.md")).unwrap();
    for name in FUNCTION_NAMES {
        let row = readme
            .lines()
            .find(|l| l.starts_with(&format!("| `{name}` |")))
            .unwrap_or_else(|| panic!("mappings/README.md has no table row for `{name}`"));
        let cells: Vec<&str> = row.split(" | ").collect();
        assert!(
            cells.len() >= 3 && cells[2].contains('→'),
            "`{name}` has no example: {row}"
        );
    }
}
