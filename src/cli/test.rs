//! `ihub test [PATH...]` (being written).

use std::process::ExitCode;

use super::TestArgs;

/// Runs `ihub test`.
pub fn run(_args: TestArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`ihub test` is not available yet")
}
