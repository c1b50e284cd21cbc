//! `ihub fhir …`: FHIR R4 tools over files.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

/// The `ihub fhir` subcommands.
#[derive(Debug, Subcommand)]
pub enum FhirCommand {
    /// Validate FHIR R4 JSON resources and print an OperationOutcome; exit non-zero on errors.
    Validate {
        /// FHIR JSON files (a resource or a Bundle each).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Convert HL7 v2 messages to FHIR R4 transaction Bundles, printed as JSON.
    Convert {
        /// The HL7 file; `-` reads standard input.
        file: PathBuf,
    },
}

/// Runs `ihub fhir …`.
pub fn run(command: FhirCommand) -> anyhow::Result<ExitCode> {
    match command {
        FhirCommand::Validate { files } => super::fhir_validate::run(&files),
        FhirCommand::Convert { file } => super::fhir_convert::run(&file),
    }
}
