//! `ihub send`: placeholder until the MLLP client lands.

use std::process::ExitCode;

use super::SendArgs;

/// Sends the files and prints each ACK (or load figures).
pub fn run(_args: SendArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("send is not implemented yet")
}
