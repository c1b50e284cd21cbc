//! `ihub test`'s run and report, in libtest's shape: problems with the files first, then
//! `running N tests`, one `test <channel>::<case> ... ok|FAILED` line per case as it finishes,
//! each failure in full, and `test result: ok. N passed; M failed`.

use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::check::{Failure, check_case};
use super::format::{Location, TestCase};
use super::pipeline::{ScratchDir, pipeline};
use super::run::observe;
use super::suite::{Suite, discover, load_suite};
use crate::channel::{Diagnostic, render};

/// Exit code when every test passed.
pub const EXIT_OK: u8 = 0;
/// Exit code when a test failed.
pub const EXIT_FAILED: u8 = 1;
/// Exit code when a test file (or its channel) has errors, so some tests could not run:
/// `EX_CONFIG` from sysexits.h, as `ihub validate` uses. It wins over [`EXIT_FAILED`].
pub const EXIT_CONFIG: u8 = 78;

/// The counts of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Cases whose every assertion held.
    pub passed: usize,
    /// Cases with at least one failed assertion.
    pub failed: usize,
    /// Test files that could not be run (their own errors, their channel's, or a bad path).
    pub broken: usize,
}

impl Summary {
    /// The process exit code: [`EXIT_CONFIG`], else [`EXIT_FAILED`], else [`EXIT_OK`].
    pub fn exit_code(&self) -> u8 {
        if self.broken > 0 {
            EXIT_CONFIG
        } else if self.failed > 0 {
            EXIT_FAILED
        } else {
            EXIT_OK
        }
    }
}

/// A failed case, kept for the `failures:` section.
struct FailedCase {
    title: String,
    file: PathBuf,
    at: Location,
    failures: Vec<Failure>,
}

/// Runs every case of every test file `paths` name (see [`discover`]) through its channel's
/// real pipeline, writing the report to `out` as it goes.
pub async fn run_tests(paths: &[PathBuf], out: &mut dyn Write) -> std::io::Result<Summary> {
    let plan = discover(paths);
    let mut summary = Summary::default();
    let mut problems: Vec<Diagnostic> = plan.problems;
    summary.broken += problems.len();
    let mut suites: Vec<Suite> = Vec::new();
    for file in &plan.files {
        match load_suite(file) {
            Ok(suite) => suites.push(suite),
            Err(diagnostics) => {
                summary.broken += 1;
                problems.extend(diagnostics);
            }
        }
    }
    for channel in &plan.untested {
        writeln!(
            out,
            "warning: {} has no tests (write them in {})",
            channel.display(),
            super::format::sibling_test_file(channel).display()
        )?;
    }
    if !problems.is_empty() {
        out.write_all(render_problems(&problems).as_bytes())?;
    }
    let total: usize = suites.iter().map(|s| s.tests.cases.len()).sum();
    writeln!(
        out,
        "\nrunning {total} {}",
        if total == 1 { "test" } else { "tests" }
    )?;
    let mut failed: Vec<FailedCase> = Vec::new();
    for suite in &suites {
        let scratch = ScratchDir::new()?;
        for (index, case) in suite.tests.cases.iter().enumerate() {
            let title = format!("{}::{}", suite.channel.id, case.name);
            let failures = run_case(suite, case, &scratch, index).await;
            if failures.is_empty() {
                summary.passed += 1;
                writeln!(out, "test {title} ... ok")?;
            } else {
                summary.failed += 1;
                writeln!(out, "test {title} ... FAILED")?;
                failed.push(FailedCase {
                    title,
                    file: suite.tests.file.clone(),
                    at: case.at,
                    failures,
                });
            }
            out.flush()?;
        }
    }
    out.write_all(render_failures(&failed).as_bytes())?;
    writeln!(out, "\n{}", result_line(&summary))?;
    out.flush()?;
    Ok(summary)
}

/// One case on a fresh store: its failures, or one failure saying why it could not run.
async fn run_case(
    suite: &Suite,
    case: &TestCase,
    scratch: &ScratchDir,
    index: usize,
) -> Vec<Failure> {
    let cannot_run = |error: anyhow::Error| {
        vec![Failure {
            at: case.at,
            what: "the case could not run".into(),
            detail: format!("{error:#}\n"),
        }]
    };
    let store = match scratch.store(&format!("case-{index}")) {
        Ok(store) => store,
        Err(error) => return cannot_run(error),
    };
    let pipeline = pipeline(&suite.channel, &suite.scripts, &store);
    let observed = match observe(case, &pipeline, &store).await {
        Ok(observed) => observed,
        Err(error) => return cannot_run(error),
    };
    let destinations: Vec<String> = suite
        .channel
        .destinations
        .iter()
        .map(|d| d.name.clone())
        .collect();
    check_case(case, &observed, &destinations)
}

/// The diagnostics as `ihub validate` shows them, without its summary line (which counts
/// channel files).
fn render_problems(problems: &[Diagnostic]) -> String {
    let report = render(problems, &[]);
    let body = report.trim_end_matches('\n');
    match body.rfind('\n') {
        Some(end) => format!("{}\n", &body[..end]),
        None => String::new(),
    }
}

fn render_failures(failed: &[FailedCase]) -> String {
    let mut out = String::new();
    if failed.is_empty() {
        return out;
    }
    out.push_str("\nfailures:\n");
    for case in failed {
        let _ = writeln!(out, "\n---- {} ----", case.title);
        let _ = writeln!(out, "  --> {}", at(&case.file, case.at));
        for failure in &case.failures {
            let _ = writeln!(out, "{}, at {}", failure.what, at(&case.file, failure.at));
            for line in failure.detail.lines() {
                let _ = writeln!(out, "  {line}");
            }
        }
    }
    out.push_str("\nfailures:\n");
    for case in failed {
        let _ = writeln!(out, "    {}", case.title);
    }
    out
}

fn at(file: &Path, location: Location) -> String {
    format!("{}:{}:{}", file.display(), location.line, location.col)
}

fn result_line(summary: &Summary) -> String {
    let verdict = if summary.exit_code() == EXIT_OK {
        "ok"
    } else {
        "FAILED"
    };
    let mut line = format!(
        "test result: {verdict}. {} passed; {} failed",
        summary.passed, summary.failed
    );
    if summary.broken > 0 {
        let _ = write!(
            line,
            "; {} test {} with errors (not run)",
            summary.broken,
            if summary.broken == 1 { "file" } else { "files" }
        );
    }
    line
}
