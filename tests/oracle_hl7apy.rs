//! Oracle: the sample messages, and the ACKs `ihub hl7 ack` builds for them, must pass strict
//! validation by hl7apy (a Python HL7 package written independently of this crate), run through
//! `tests/oracle/hl7apy_validate.py`.
//!
//! Python is `$IHUB_PYTHON` if set (`.ci/run` points it at a venv with hl7apy), else `python3`.
//! Where hl7apy cannot be imported the tests print `skipped: …` with the reason and pass.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/oracle/hl7apy_validate.py"
);
const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/samples");

/// Files that hold several messages; hl7apy validates one message per file.
const MULTI_MESSAGE: &[&str] = &["batch.hl7", "stream.hl7"];

/// Samples that are valid v2.5.1 but that hl7apy 1.3.5 cannot accept as a whole message, with
/// the reason. Their ACKs are still validated.
const HL7APY_CANNOT_VALIDATE: &[(&str, &str)] = &[(
    "orm_o01.hl7",
    "hl7apy validates the ORM_O01 OBR/RQD/RQ1/RXO/ODS/ODT choice group as a sequence and so \
     demands all six segments; no ORM^O01 carrying an OBR passes (crs4/hl7apy#151)",
)];

/// The `ihub hl7 ack` variants whose output must validate: (file label, extra arguments).
const ACK_CASES: &[(&str, &[&str])] = &[
    ("aa", &["--code", "AA"]),
    ("ae", &["--code", "AE", "--text", "Required field missing"]),
    ("ar", &["--code", "AR"]),
];

/// The interpreter to run the oracle with.
fn python() -> String {
    std::env::var("IHUB_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

/// `Err(reason)` when `python` cannot import hl7apy.
fn hl7apy_available(python: &str) -> Result<(), String> {
    let output = Command::new(python)
        .args(["-c", "import hl7apy"])
        .output()
        .map_err(|error| format!("cannot run {python}: {error}"))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr.lines().last().unwrap_or("import failed").trim();
    Err(format!("{python}: {last}"))
}

/// Returns the interpreter, or `None` after printing why the test is skipped.
pub(crate) fn oracle_python() -> Option<String> {
    let python = python();
    match hl7apy_available(&python) {
        Ok(()) => Some(python),
        Err(reason) => {
            println!("skipped: hl7apy not installed ({reason})");
            None
        }
    }
}

/// Every single-message `samples/*.hl7`, sorted.
fn single_message_samples() -> Vec<PathBuf> {
    let mut samples: Vec<PathBuf> = fs::read_dir(SAMPLES)
        .expect("read samples/")
        .map(|entry| entry.expect("read samples/ entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "hl7"))
        .filter(|path| !MULTI_MESSAGE.contains(&file_name(path)))
        .collect();
    samples.sort();
    assert!(!samples.is_empty(), "no samples/*.hl7 found");
    samples
}

fn file_name(path: &Path) -> &str {
    path.file_name()
        .and_then(|name| name.to_str())
        .unwrap_or("")
}

/// hl7apy 1.3.5 reads every component of OBX-5 as ST, whatever OBX-2 says, and in strict mode
/// ST may hold at most 199 characters, so an encapsulated document (OBX-2 = ED) of any real size
/// never parses. This copy cuts the ED data component (OBX-5.5) to 64 characters and leaves
/// everything else as it was.
/// Assumes the default delimiters `|` and `^`, which every sample uses.
fn shorten_ed_data(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for segment in message.split(['\r', '\n']).filter(|s| !s.is_empty()) {
        let mut fields: Vec<String> = segment.split('|').map(str::to_owned).collect();
        let is_ed =
            fields.first().is_some_and(|f| f == "OBX") && fields.get(2).is_some_and(|f| f == "ED");
        if is_ed && let Some(value) = fields.get_mut(5) {
            let shortened = value
                .split('^')
                .enumerate()
                .map(|(i, component)| match component.get(..64) {
                    Some(head) if i == 4 => head,
                    _ => component,
                })
                .collect::<Vec<_>>()
                .join("^");
            *value = shortened;
        }
        out.push_str(&fields.join("|"));
        out.push('\r');
    }
    out
}

/// Runs the oracle over `files` and panics with its report if any file fails.
pub(crate) fn assert_valid(python: &str, files: &[PathBuf], what: &str) {
    let output = Command::new(python)
        .arg(SCRIPT)
        .args(files)
        .output()
        .expect("run tests/oracle/hl7apy_validate.py");
    let report = String::from_utf8_lossy(&output.stdout);
    let errors = String::from_utf8_lossy(&output.stderr);
    print!("{report}");
    assert!(
        output.status.success(),
        "hl7apy rejected {what}:\n{report}{errors}"
    );
}

#[test]
fn samples_pass_hl7apy_strict_validation() {
    let Some(python) = oracle_python() else {
        return;
    };
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let mut files = Vec::new();
    for sample in single_message_samples() {
        let name = file_name(&sample);
        if let Some((_, reason)) = HL7APY_CANNOT_VALIDATE.iter().find(|(n, _)| *n == name) {
            println!("note: {name} is not validated as a whole message: {reason}");
            continue;
        }
        let text = fs::read_to_string(&sample).expect("read sample");
        let shortened = shorten_ed_data(&text);
        if shortened.trim_end() == text.replace('\n', "\r").trim_end() {
            files.push(sample);
        } else {
            println!(
                "note: {name} is validated with its OBX-5 ED data cut short (see shorten_ed_data)"
            );
            let copy = dir.path().join(name);
            fs::write(&copy, shortened).expect("write shortened sample");
            files.push(copy);
        }
    }
    assert_valid(&python, &files, "a sample message");
}

#[test]
fn acks_pass_hl7apy_strict_validation() {
    let Some(python) = oracle_python() else {
        return;
    };
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let mut files = Vec::new();
    for sample in single_message_samples() {
        let stem = sample
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("sample");
        for (label, args) in ACK_CASES {
            let output = Command::new(env!("CARGO_BIN_EXE_ihub"))
                .args(["hl7", "ack"])
                .arg(&sample)
                .args(*args)
                .output()
                .expect("run ihub hl7 ack");
            assert!(
                output.status.success() && !output.stdout.is_empty(),
                "ihub hl7 ack {} {} failed ({}):\n{}",
                sample.display(),
                args.join(" "),
                output.status,
                String::from_utf8_lossy(&output.stderr),
            );
            let ack = dir.path().join(format!("{stem}.ack-{label}.hl7"));
            fs::write(&ack, &output.stdout).expect("write ACK");
            files.push(ack);
        }
    }
    assert_valid(&python, &files, "an ACK built by `ihub hl7 ack`");
}

#[test]
fn shorten_ed_data_cuts_only_the_ed_data_component() {
    let long = "A".repeat(300);
    let message = format!(
        "MSH|^~\\&|X\rOBX|1|ED|18842-5^Discharge summary^LN||APP^AP^PDF^Base64^{long}||||||F\rOBX|2|ST|x||{long}\r"
    );
    let shortened = shorten_ed_data(&message);
    let expected = format!(
        "MSH|^~\\&|X\rOBX|1|ED|18842-5^Discharge summary^LN||APP^AP^PDF^Base64^{}||||||F\rOBX|2|ST|x||{long}\r",
        "A".repeat(64)
    );
    assert_eq!(shortened, expected);
}
