//! `ihub fhir convert FILE` (being written).

use std::path::Path;
use std::process::ExitCode;

/// Runs `ihub fhir convert`.
pub fn run(_file: &Path) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`ihub fhir convert` is not available yet")
}
