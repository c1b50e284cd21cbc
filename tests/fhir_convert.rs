//! HL7 v2 → FHIR R4 (`ihub::fhir::convert`, `ihub fhir convert`) on the samples, FHIR → HL7 v2
//! (`ihub::fhir::to_hl7`) with the emitted messages validated by hl7apy, and the agreement with
//! Microsoft's FHIR-Converter on `$FHIR_CONVERTER_CORPUS_DIR` (skipped when unset).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use ihub::fhir::convert::{ConvertError, hl7v2_to_fhir};
use ihub::hl7::{Message, parse_stream};
use serde_json::{Value, json};

mod corpus;
mod mapping;
mod to_hl7;

/// The project's sample messages.
pub(crate) const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/samples");

/// Every `samples/*.hl7`, sorted.
pub(crate) fn sample_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(SAMPLES)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "hl7"))
        .collect();
    files.sort();
    assert!(files.len() >= 9, "samples/*.hl7 missing");
    files
}

/// The Bundles for every message of a file.
pub(crate) fn convert_file(path: &Path) -> Vec<Value> {
    let bytes = std::fs::read(path).unwrap();
    parse_stream(&bytes)
        .unwrap()
        .iter()
        .map(|m| hl7v2_to_fhir(m).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .collect()
}

/// The Bundle for a one-message sample.
fn convert_sample(name: &str) -> Value {
    let mut bundles = convert_file(&Path::new(SAMPLES).join(name));
    assert_eq!(bundles.len(), 1, "{name} holds one message");
    bundles.remove(0)
}

/// The resources of one type in a Bundle.
fn resources<'a>(bundle: &'a Value, kind: &str) -> Vec<&'a Value> {
    bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .filter(|r| r["resourceType"] == kind)
        .collect()
}

/// The one resource of a type.
fn only<'a>(bundle: &'a Value, kind: &str) -> &'a Value {
    let found = resources(bundle, kind);
    assert_eq!(found.len(), 1, "one {kind} expected");
    found[0]
}

/// The fullUrl of a resource.
fn full_url_of(bundle: &Value, resource: &Value) -> String {
    bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| &e["resource"] == resource)
        .map(|e| e["fullUrl"].as_str().unwrap().to_owned())
        .unwrap()
}

/// Every `reference` string anywhere in a JSON value.
fn references(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("reference", Value::String(s)) => out.push(s.clone()),
                    _ => references(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| references(v, out)),
        _ => {}
    }
}

#[test]
fn every_sample_converts_to_a_transaction_bundle_whose_references_resolve() {
    for file in sample_files() {
        for bundle in convert_file(&file) {
            assert_eq!(bundle["resourceType"], "Bundle");
            assert_eq!(bundle["type"], "transaction");
            let entries = bundle["entry"].as_array().unwrap();
            assert!(entries.len() >= 2, "{}: too few entries", file.display());
            let mut urls = HashSet::new();
            for entry in entries {
                let url = entry["fullUrl"].as_str().unwrap();
                assert!(url.starts_with("urn:uuid:") && url.len() == 45, "{url}");
                assert!(urls.insert(url.to_owned()), "duplicate fullUrl {url}");
                assert_eq!(entry["request"]["method"], "POST");
                assert_eq!(entry["request"]["url"], entry["resource"]["resourceType"]);
            }
            let mut refs = Vec::new();
            references(&bundle, &mut refs);
            assert!(!refs.is_empty());
            for r in refs {
                assert!(
                    urls.contains(&r),
                    "{}: dangling reference {r}",
                    file.display()
                );
            }
            assert_eq!(resources(&bundle, "Patient").len(), 1, "{}", file.display());
        }
    }
}

#[test]
fn bad_input_is_an_error_naming_segment_and_field() {
    let convert = |text: &str| hl7v2_to_fhir(&Message::parse(text.as_bytes()).unwrap());
    let msh = "MSH|^~\\&|A|B|C|D|20250101||";
    let err = convert(&format!(
        "{msh}ADT^A01|1|P|2.5.1\rPID|1||9^^^H^MR||DOE^J||12/25/1974|F"
    ))
    .unwrap_err();
    assert!(
        matches!(&err, ConvertError::Invalid { location, .. } if location == "PID-7"),
        "{err}"
    );
    assert!(
        err.to_string()
            .starts_with("PID-7: \"12/25/1974\" is not an HL7 date/time"),
        "{err}"
    );
    let err = convert(&format!(
        "{msh}ADT^A01|1|P|2.5.1\rPID|1||9^^^H^MR||DOE^J|||Q"
    ))
    .unwrap_err();
    assert!(err.to_string().starts_with("PID-8: \"Q\""), "{err}");
    let err = convert(&format!(
        "{msh}ORU^R01|1|P|2.5.1\rPID|1||9\rOBR|1||F|X^Y^LN\rOBX|1|NM|A^B^LN||1\rOBX|2|NM|A^B^LN||2||||||F|||2025-01-01"
    ))
    .unwrap_err();
    assert!(
        err.to_string().starts_with("OBX[2]-14: \"2025-01-01\""),
        "{err}"
    );
    let err = convert(&format!(
        "{msh}ORU^R01|1|P|2.5.1\rPID|1||9\rOBR|1||F\rOBX|1|NM|A^B^LN||1"
    ))
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("OBR-4: \"\" is empty, but DiagnosticReport.code needs it"),
        "{err}"
    );
    let err = convert(&format!("{msh}ACK^A01|1|P|2.5.1\rMSA|AA|9")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "MSH-9: message type ACK^A01 has no FHIR mapping"
    );
    let err = convert(&format!("{msh}ADT^A01|1|P|2.5.1\rEVN|A01")).unwrap_err();
    assert!(
        matches!(err, ConvertError::MissingSegment { segment: "PID", .. }),
        "{err}"
    );
    let err = convert(&format!("{msh}MDM^T02|1|P|2.5.1\rPID|1||9")).unwrap_err();
    assert!(
        matches!(err, ConvertError::MissingSegment { segment: "TXA", .. }),
        "{err}"
    );
}

/// Runs `ihub fhir convert` with the given arguments.
fn ihub_convert(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ihub"))
        .args(["fhir", "convert"])
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn cli_prints_a_bundle_per_message_and_an_array_for_a_stream() {
    let one = ihub_convert(&[&format!("{SAMPLES}/adt_a04.hl7")]);
    assert!(
        one.status.success(),
        "{}",
        String::from_utf8_lossy(&one.stderr)
    );
    let bundle: Value = serde_json::from_slice(&one.stdout).unwrap();
    assert_eq!(bundle["type"], "transaction");
    assert!(
        String::from_utf8_lossy(&one.stdout).contains("\n  \"entry\""),
        "pretty JSON"
    );

    let stream = ihub_convert(&[&format!("{SAMPLES}/stream.hl7")]);
    assert!(stream.status.success());
    let bundles: Value = serde_json::from_slice(&stream.stdout).unwrap();
    let bundles = bundles.as_array().unwrap();
    assert_eq!(bundles.len(), 3);
    let statuses: Vec<&Value> = bundles
        .iter()
        .map(|b| &only(b, "Encounter")["status"])
        .collect();
    assert_eq!(
        statuses,
        [
            &json!("arrived"),
            &json!("in-progress"),
            &json!("in-progress")
        ]
    );

    let batch = ihub_convert(&[&format!("{SAMPLES}/batch.hl7")]);
    let bundles: Value = serde_json::from_slice(&batch.stdout).unwrap();
    assert_eq!(
        bundles.as_array().unwrap().len(),
        3,
        "FHS/BHS batch: one Bundle per message"
    );
}

#[test]
fn cli_reports_the_message_and_field_it_cannot_convert() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.hl7");
    let good = std::fs::read_to_string(format!("{SAMPLES}/adt_a04.hl7")).unwrap();
    let bad =
        "MSH|^~\\&|A|B|C|D|20250101||ADT^A04|CTRL9|P|2.5.1\rPID|1||9^^^H^MR||DOE^J||1990-01-01\r";
    std::fs::write(&file, format!("{good}\n{bad}")).unwrap();
    let out = ihub_convert(&[file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stdout.is_empty(),
        "nothing printed when a message fails"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("message 2 (MSH-10 \"CTRL9\") cannot be converted"),
        "{stderr}"
    );
    assert!(stderr.contains("PID-7"), "{stderr}");
}
