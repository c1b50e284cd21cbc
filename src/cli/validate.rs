//! `ihub validate [PATH...]`: checks channel files with the code startup runs and prints every
//! problem at once.
//!
//! Exit codes follow Vector and sysexits: 0 when clean, 78 (`EX_CONFIG`) when any file has an
//! error, or a warning with `--deny-warnings`. The report goes to standard output: it is what
//! was asked for, not a failure of the command.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use super::ValidateArgs;
use crate::channel::{self, Diagnostic};

/// `EX_CONFIG` from sysexits.h: a configuration error.
const EX_CONFIG: u8 = 78;

/// Runs `ihub validate`.
pub fn run(args: ValidateArgs) -> anyhow::Result<ExitCode> {
    let mut files: Vec<PathBuf> = Vec::new();
    let mut diagnostics: Vec<Diagnostic> = Vec::new();
    // A directory is listed exactly as startup lists `--channels`; a file is taken as given,
    // so one channel can be checked on its own.
    for path in &args.paths {
        if path.is_dir() {
            match channel::channel_files(path) {
                Ok(found) => files.extend(found),
                Err(error) => diagnostics.push(error.to_diagnostic()),
            }
        } else {
            files.push(path.clone());
        }
    }
    // A file named twice (also as `./channels/a.toml`) is listed once, as the loader checks it.
    let mut seen = Vec::new();
    files.retain(|f| {
        let key = std::fs::canonicalize(f).unwrap_or_else(|_| f.clone());
        let new = !seen.contains(&key);
        seen.push(key);
        new
    });
    let (_channels, found) = channel::load_channel_files(&files);
    diagnostics.extend(found);

    let report = channel::render(&diagnostics, &files);
    let mut out = std::io::stdout().lock();
    out.write_all(report.as_bytes())
        .and_then(|()| out.flush())
        .context("cannot write the report")?;

    let errors = diagnostics.iter().any(Diagnostic::is_error);
    let warnings = diagnostics.iter().any(|d| !d.is_error());
    if errors || (args.deny_warnings && warnings) {
        Ok(ExitCode::from(EX_CONFIG))
    } else {
        Ok(ExitCode::SUCCESS)
    }
}
