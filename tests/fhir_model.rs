//! FHIR R4 models and validation from the outside: every file of an external FHIR corpus
//! ($FHIR_CORPUS_DIR) round-trips through the typed models to equal JSON, and
//! `ihub fhir validate` passes the samples in `samples/fhir/` and pins the issues of the
//! invalid ones in `samples/fhir/invalid/`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ihub::fhir::model::Resource;
use serde_json::Value;

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            json_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
}

/// Reads JSON the way the corpus stores it: some files start with a UTF-8 BOM.
fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::from_str(text.trim_start_matches('\u{feff}')).unwrap()
}

#[test]
fn corpus_round_trips_through_the_typed_models() {
    let Some(dir) = std::env::var_os("FHIR_CORPUS_DIR") else {
        eprintln!("skipped: set FHIR_CORPUS_DIR to a folder of FHIR R4 JSON resources");
        return;
    };
    let mut files = Vec::new();
    json_files(Path::new(&dir), &mut files);
    assert!(!files.is_empty(), "no .json files under {dir:?}");
    let mut failures = Vec::new();
    for file in &files {
        let original = read_json(file);
        match Resource::from_json(original.clone()) {
            Ok(resource) => {
                let written = resource.to_json().unwrap();
                if written != original {
                    failures.push(format!(
                        "{}: JSON differs after a round trip",
                        file.display()
                    ));
                }
            }
            Err(error) => failures.push(format!("{}: {error}", file.display())),
        }
    }
    eprintln!(
        "{} corpus files round-tripped",
        files.len() - failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn ihub(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ihub"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run ihub")
}

/// The OperationOutcomes `ihub fhir validate` printed, one per file.
fn outcomes(output: &Output) -> Vec<Value> {
    serde_json::Deserializer::from_slice(&output.stdout)
        .into_iter::<Value>()
        .map(Result::unwrap)
        .collect()
}

/// (severity, code, expression) of each issue.
fn issues(outcome: &Value) -> Vec<(String, String, String)> {
    outcome["issue"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["severity"].as_str().unwrap().to_owned(),
                i["code"].as_str().unwrap().to_owned(),
                i["expression"][0].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

fn triple(s: &str, c: &str, e: &str) -> (String, String, String) {
    (s.to_owned(), c.to_owned(), e.to_owned())
}

#[test]
fn valid_samples_pass_with_exit_0() {
    let mut files = Vec::new();
    for entry in std::fs::read_dir("samples/fhir").unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            files.push(path.to_str().unwrap().to_owned());
        }
    }
    files.sort();
    assert!(files.len() >= 3, "{files:?}");
    let mut args = vec!["fhir", "validate"];
    args.extend(files.iter().map(String::as_str));
    let out = ihub(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let outcomes = outcomes(&out);
    assert_eq!(outcomes.len(), files.len());
    for (file, outcome) in files.iter().zip(&outcomes) {
        assert_eq!(outcome["resourceType"], "OperationOutcome");
        assert_eq!(
            issues(outcome),
            vec![triple("information", "informational", "")],
            "{file}"
        );
        assert!(stderr.contains(&format!("{file}: ok")), "{stderr}");
        // The samples round-trip through the typed models too.
        let original = read_json(Path::new(file));
        assert_eq!(
            Resource::from_json(original.clone())
                .unwrap()
                .to_json()
                .unwrap(),
            original
        );
    }
}

#[test]
fn invalid_patient_pins_every_issue_and_exits_1() {
    let out = ihub(&[
        "fhir",
        "validate",
        "samples/fhir/invalid/patient_bad_fields.json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let outcome = &outcomes(&out)[0];
    assert_eq!(
        issues(outcome),
        vec![
            triple("error", "value", "Patient.id"),
            triple("error", "structure", "Patient.name"),
            triple("error", "invariant", "Patient.telecom[0]"),
            triple("error", "code-invalid", "Patient.gender"),
            triple("error", "value", "Patient.birthDate"),
            triple("error", "invalid", "Patient.managingOrganization.reference"),
        ]
    );
    let diagnostics = outcome["issue"][3]["diagnostics"].as_str().unwrap();
    assert!(
        diagnostics.contains("\"F\"") && diagnostics.contains("administrative-gender"),
        "{diagnostics}"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("patient_bad_fields.json: 6 errors, 0 warnings")
    );
}

#[test]
fn invalid_transaction_locates_issues_inside_entries() {
    let out = ihub(&[
        "fhir",
        "validate",
        "samples/fhir/invalid/transaction_bad_entries.json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        issues(&outcomes(&out)[0]),
        vec![
            triple("error", "code-invalid", "Bundle.entry[1].resource.status"),
            triple("error", "value", "Bundle.entry[1].resource.issued"),
            triple(
                "error",
                "required",
                "Bundle.entry[2].resource.participant[0].status"
            ),
            triple("error", "invariant", "Bundle.entry[2].resource"),
            triple("error", "invariant", "Bundle.entry[2]"),
            triple(
                "error",
                "not-found",
                "Bundle.entry[1].resource.subject.reference"
            ),
        ]
    );
}

#[test]
fn unreadable_and_non_json_files_are_fatal() {
    let out = ihub(&[
        "fhir",
        "validate",
        "samples/fhir/patient.json",
        "samples/fhir/invalid/not_json.json",
        "samples/fhir/does-not-exist.json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let outcomes = outcomes(&out);
    assert_eq!(outcomes.len(), 3);
    assert_eq!(issues(&outcomes[1]), vec![triple("fatal", "structure", "")]);
    assert!(
        outcomes[1]["issue"][0]["diagnostics"]
            .as_str()
            .unwrap()
            .contains("line 2")
    );
    assert_eq!(issues(&outcomes[2]), vec![triple("fatal", "not-found", "")]);
}
