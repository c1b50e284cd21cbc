//! Which test files `ihub test PATH...` runs, and loading each with its channel.
//!
//! A PATH may be a test file (`x.test.toml`), a channel file (its sibling `x.test.toml` is
//! run), or a directory (every `*.test.toml` in it; channel files there without tests are
//! listed so the report can say so).

use std::path::{Path, PathBuf};

use super::format::{TEST_SUFFIX, TestFile, sibling_test_file};
use super::parse::load_test_file;
use super::pipeline::Scripts;
use crate::channel::{ChannelSpec, Diagnostic, Severity, channel_files, load_channel_file};

/// The test files to run, and what was wrong with the paths given.
#[derive(Debug, Default)]
pub struct Plan {
    /// Test files, in the order given (each directory's sorted by name), each once.
    pub files: Vec<PathBuf>,
    /// Paths that name nothing to run.
    pub problems: Vec<Diagnostic>,
    /// Channel files in the directories given that have no test file.
    pub untested: Vec<PathBuf>,
}

/// Finds the test files `paths` name.
pub fn discover(paths: &[PathBuf]) -> Plan {
    let mut plan = Plan::default();
    let mut seen: Vec<PathBuf> = Vec::new();
    let mut add = |plan: &mut Plan, file: PathBuf| {
        let key = std::fs::canonicalize(&file).unwrap_or_else(|_| file.clone());
        if !seen.contains(&key) {
            seen.push(key);
            plan.files.push(file);
        }
    };
    for path in paths {
        if path.is_dir() {
            match test_files_in(path) {
                Ok(found) => found.into_iter().for_each(|f| add(&mut plan, f)),
                Err(error) => plan.problems.push(Diagnostic::file_level(
                    path,
                    Severity::Error,
                    format!("cannot read the directory: {error}"),
                )),
            }
            if let Ok(channels) = channel_files(path) {
                plan.untested.extend(
                    channels
                        .into_iter()
                        .filter(|c| !sibling_test_file(c).is_file()),
                );
            }
        } else if is_test_file(path) {
            if path.is_file() {
                add(&mut plan, path.clone());
            } else {
                plan.problems.push(Diagnostic::file_level(
                    path,
                    Severity::Error,
                    "no such test file",
                ));
            }
        } else {
            let tests = sibling_test_file(path);
            if tests.is_file() {
                add(&mut plan, tests);
            } else if !path.exists() {
                plan.problems.push(Diagnostic::file_level(
                    path,
                    Severity::Error,
                    "no such file or directory",
                ));
            } else {
                plan.problems.push(
                    Diagnostic::file_level(path, Severity::Error, "this channel has no tests")
                        .with_help(format!("write them in {}", tests.display())),
                );
            }
        }
    }
    plan
}

fn is_test_file(path: &Path) -> bool {
    path.to_str().is_some_and(|p| p.ends_with(TEST_SUFFIX))
}

fn test_files_in(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if is_test_file(&path) && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// A test file ready to run: its cases, its channel, and the channel's compiled scripts.
pub struct Suite {
    /// The cases.
    pub tests: TestFile,
    /// The channel they test.
    pub channel: ChannelSpec,
    /// The channel's filter and transform.
    pub scripts: Scripts,
}

/// Loads a test file and its channel, with every problem of both.
pub fn load_suite(file: &Path) -> Result<Suite, Vec<Diagnostic>> {
    let tests = load_test_file(file)?;
    let channel = load_channel_file(&tests.channel).map_err(|mut diagnostics| {
        diagnostics.insert(
            0,
            Diagnostic::file_level(
                file,
                Severity::Error,
                format!(
                    "cannot run these tests: the channel {} has errors",
                    tests.channel.display()
                ),
            ),
        );
        diagnostics
    })?;
    let scripts = Scripts::compile(&channel).map_err(|error| {
        vec![Diagnostic::file_level(
            &tests.channel,
            Severity::Error,
            format!("cannot compile the channel's scripts: {error:#}"),
        )]
    })?;
    Ok(Suite {
        tests,
        channel,
        scripts,
    })
}
