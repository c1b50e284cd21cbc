//! `ihub schema` (being written).

use std::process::ExitCode;

/// Runs `ihub schema`.
pub fn run() -> anyhow::Result<ExitCode> {
    anyhow::bail!("`ihub schema` is not available yet")
}
