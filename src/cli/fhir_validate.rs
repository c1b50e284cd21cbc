//! `ihub fhir validate FILE...`: validates FHIR R4 JSON files and prints one OperationOutcome
//! per file on standard output (pretty JSON, one document after another, in the order given),
//! and a one-line summary per file on standard error.
//!
//! Exit codes: 0 when no file has an `error` or `fatal` issue (warnings are fine), 1 when any
//! does (including a file that can't be read or isn't JSON). The report goes to standard
//! output: it is what was asked for, not a failure of the command.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::fhir::model::{OperationOutcome, OperationOutcomeIssue};
use crate::fhir::validate;

/// Runs `ihub fhir validate`.
pub fn run(files: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr().lock();
    let mut failed = false;
    for file in files {
        let outcome = match std::fs::read_to_string(file) {
            Ok(text) => validate::validate_str(&text),
            Err(error) => unreadable(&format!("cannot read {}: {error}", file.display())),
        };
        failed |= outcome.has_errors();
        let json = serde_json::to_string_pretty(&outcome).context("cannot write the outcome")?;
        writeln!(out, "{json}").context("cannot write the report")?;
        writeln!(err, "{}: {}", file.display(), summary(&outcome))
            .context("cannot write the summary")?;
    }
    out.flush().context("cannot write the report")?;
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn unreadable(text: &str) -> OperationOutcome {
    OperationOutcome {
        issue: vec![OperationOutcomeIssue {
            severity: "fatal".to_owned(),
            code: "not-found".to_owned(),
            diagnostics: Some(text.to_owned()),
            ..OperationOutcomeIssue::default()
        }],
        ..OperationOutcome::default()
    }
}

/// `ok`, or `2 errors, 1 warning`.
fn summary(outcome: &OperationOutcome) -> String {
    let errors = outcome.count("error") + outcome.count("fatal");
    let warnings = outcome.count("warning");
    if errors == 0 && warnings == 0 {
        return "ok".to_owned();
    }
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    format!(
        "{}, {}",
        plural(errors, "error"),
        plural(warnings, "warning")
    )
}
