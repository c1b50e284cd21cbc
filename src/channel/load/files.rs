//! Which files in a folder are channels, and loading them: one file, or a set checked
//! across files too.

use std::path::{Path, PathBuf};

use super::cross_check::cross_check;
use super::file_check::{Checked, check_text};
use crate::channel::diagnostic::{Diagnostic, Severity};
use crate::channel::spec::ChannelSpec;

/// Channel files end in this; `<name>.test.toml` beside them are channel tests.
pub(super) const CHANNEL_SUFFIX: &str = ".toml";
/// Channel test files (for `ihub test`), skipped when loading channels.
pub(super) const TEST_SUFFIX: &str = ".test.toml";

/// The channels directory could not be listed.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the channels directory {}: {source}", dir.display())]
pub struct ChannelDirError {
    /// The directory as named.
    pub dir: PathBuf,
    /// The operating system's reason.
    #[source]
    pub source: std::io::Error,
}

impl ChannelDirError {
    /// The same problem as a diagnostic on the directory, for the report.
    pub fn to_diagnostic(&self) -> Diagnostic {
        Diagnostic::file_level(
            &self.dir,
            Severity::Error,
            format!("cannot read the channels directory: {}", self.source),
        )
    }
}

/// The channel files in `dir`: every `*.toml` except `*.test.toml`, sorted by name (which
/// is the channel id order). Subdirectories are not searched.
pub fn channel_files(dir: &Path) -> Result<Vec<PathBuf>, ChannelDirError> {
    let fail = |source| ChannelDirError {
        dir: dir.to_path_buf(),
        source,
    };
    let entries = std::fs::read_dir(dir).map_err(fail)?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(fail)?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.ends_with(CHANNEL_SUFFIX) || name.ends_with(TEST_SUFFIX) {
            continue;
        }
        // A directory named `x.toml` is not a channel; following symlinks is intended.
        if entry.path().is_file() {
            files.push(dir.join(name));
        }
    }
    files.sort();
    Ok(files)
}

/// Loads every channel in `dir` (see [`channel_files`]), sorted by id. Returns the channels
/// that have no errors, and every diagnostic (errors and warnings) of every file. This is
/// what startup and `ihub validate` run.
pub fn load_channels(dir: &Path) -> (Vec<ChannelSpec>, Vec<Diagnostic>) {
    match channel_files(dir) {
        Ok(files) => load_channel_files(&files),
        Err(error) => (Vec::new(), vec![error.to_diagnostic()]),
    }
}

/// Loads the given channel files as one set: each file is checked on its own, then across
/// the set (two channels on one port, one id twice, one folder polled twice). A channel
/// with any error, its own or shared, is left out of the result. Specs come sorted by id;
/// diagnostics in the order of `files`, each file's in reading order.
pub fn load_channel_files(files: &[PathBuf]) -> (Vec<ChannelSpec>, Vec<Diagnostic>) {
    let mut checked: Vec<Checked> = Vec::new();
    // The same file named twice (`channels/a.toml`, `./channels/a.toml`) is checked once,
    // rather than reported as two channels with one id.
    let mut seen: Vec<PathBuf> = Vec::new();
    for file in files {
        let key = std::fs::canonicalize(file).unwrap_or_else(|_| file.clone());
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        checked.push(check_file(file));
    }
    cross_check(&mut checked);
    let mut specs = Vec::new();
    let mut diagnostics = Vec::new();
    for c in checked {
        let mut mine = c.diagnostics;
        mine.sort_by_key(|d| (d.line, d.col));
        if let Some(spec) = c.spec
            && !mine.iter().any(Diagnostic::is_error)
        {
            specs.push(spec);
        }
        diagnostics.extend(mine);
    }
    specs.sort_by(|a, b| a.id.cmp(&b.id));
    (specs, diagnostics)
}

/// Loads one channel file on its own (no cross-file checks; a reload checks those with
/// [`load_channels`]). `Err` holds every diagnostic when there is at least one error;
/// warnings of a good file are in [`ChannelSpec::warnings`].
pub fn load_channel_file(path: &Path) -> Result<ChannelSpec, Vec<Diagnostic>> {
    let checked = check_file(path);
    let mut diagnostics = checked.diagnostics;
    diagnostics.sort_by_key(|d| (d.line, d.col));
    match checked.spec {
        Some(spec) if !diagnostics.iter().any(Diagnostic::is_error) => Ok(spec),
        _ => Err(diagnostics),
    }
}

/// Reads and checks one file.
fn check_file(path: &Path) -> Checked {
    let empty = |diagnostic: Diagnostic| Checked {
        file: path.to_path_buf(),
        id: None,
        spec: None,
        diagnostics: vec![diagnostic],
        enabled: false,
        listen: None,
        polled: None,
    };
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if name.ends_with(TEST_SUFFIX) {
        return empty(
            Diagnostic::file_level(
                path,
                Severity::Error,
                "this is a channel test file (for `ihub test`), not a channel",
            )
            .with_help(format!(
                "validate the channel it tests: {}",
                name.trim_end_matches(TEST_SUFFIX).to_owned() + CHANNEL_SUFFIX
            )),
        );
    }
    match std::fs::read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => check_text(path, &text),
            Err(e) => empty(Diagnostic::file_level(
                path,
                Severity::Error,
                format!(
                    "not UTF-8 text (invalid byte at offset {}); TOML files must be UTF-8",
                    e.utf8_error().valid_up_to()
                ),
            )),
        },
        Err(e) => empty(Diagnostic::file_level(
            path,
            Severity::Error,
            format!("cannot read the file: {e}"),
        )),
    }
}
