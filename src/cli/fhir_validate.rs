//! `ihub fhir validate FILE...` (being written).

use std::path::PathBuf;
use std::process::ExitCode;

/// Runs `ihub fhir validate`.
pub fn run(_files: &[PathBuf]) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`ihub fhir validate` is not available yet")
}
