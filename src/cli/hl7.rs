//! `ihub hl7 …`: placeholder.

use std::process::ExitCode;

use super::Hl7Command;

/// Runs one `ihub hl7` subcommand.
pub fn run(_cmd: Hl7Command) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not implemented yet")
}
