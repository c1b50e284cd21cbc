//! `ihub test` as analysts run it: every sample channel's tests pass, the passing fixtures
//! pass, and every failing or malformed fixture fails with exactly the report pinned in its
//! `.stdout` file and the documented exit code (1 for a failed test, 78 for a test file or
//! channel with errors).
//!
//! Fixtures live in `tests/fixtures/channel_tests/`: `passing/` (fixture channels with their
//! tests), `failing/` and `malformed/` (test files only; they name the channel they test with
//! `channel = …`), `expected/` (whole-output files). After an intended change of wording,
//! regenerate the `.stdout` files with `IHUB_BLESS=1 cargo test --test tests channel_tests`
//! and review the diff.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const FIXTURES: &str = "tests/fixtures/channel_tests";

/// Runs `ihub test ARGS` in the crate root (where channel paths resolve).
fn ihub_test(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ihub"))
        .arg("test")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run ihub test")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("UTF-8 report")
}

/// Checks `case` (a test file or folder) against `<case>.stdout` and `code`.
fn check_pinned(case: &Path, code: i32) -> Option<String> {
    let output = ihub_test(&[case.to_str().unwrap()]);
    let actual = stdout(&output);
    let expected_path = if case.is_dir() {
        case.with_extension("stdout")
    } else {
        PathBuf::from(case.to_str().unwrap().replace(".test.toml", ".stdout"))
    };
    if std::env::var_os("IHUB_BLESS").is_some() {
        std::fs::write(&expected_path, &actual).unwrap();
    }
    let expected = std::fs::read_to_string(&expected_path)
        .unwrap_or_else(|_| panic!("missing {}", expected_path.display()));
    let mut problems = String::new();
    if actual != expected {
        problems += &format!(
            "--- {} expected:\n{expected}--- actual:\n{actual}",
            case.display()
        );
    }
    if output.status.code() != Some(code) {
        problems += &format!(
            "{}: exit {:?}, expected {code}\nstderr: {}\n",
            case.display(),
            output.status.code(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    (!problems.is_empty()).then_some(problems)
}

/// Every test file in `folder`, each against its pinned report.
fn check_folder(folder: &str, code: i32) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(FIXTURES)
        .join(folder);
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_str().unwrap().ends_with(".test.toml"))
        .map(|p| {
            Path::new(FIXTURES)
                .join(folder)
                .join(p.file_name().unwrap())
        })
        .collect();
    cases.sort();
    assert!(cases.len() >= 3, "too few cases in {}", dir.display());
    let failures: Vec<String> = cases.iter().filter_map(|c| check_pinned(c, code)).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_sample_channel_has_tests_and_they_pass() {
    let output = ihub_test(&[]);
    let report = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{report}");
    assert!(!report.contains("has no tests"), "{report}");
    assert!(report.contains("test result: ok."), "{report}");
    // Every case of every sample test file ran and passed.
    let mut cases = 0;
    for entry in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("channels")).unwrap()
    {
        let path = entry.unwrap().path();
        let Some(name) = path.file_name().unwrap().to_str() else {
            continue;
        };
        let Some(channel) = name.strip_suffix(".test.toml") else {
            continue;
        };
        let tests = ihub::channel::testing::load_test_file(&path).unwrap();
        for case in &tests.cases {
            let line = format!("test {channel}::{} ... ok\n", case.name);
            assert!(report.contains(&line), "missing {line:?} in\n{report}");
            cases += 1;
        }
    }
    assert!(cases >= 10, "only {cases} sample cases");
    assert!(
        report.contains(&format!("running {cases} tests\n")),
        "{report}"
    );
}

#[test]
fn a_channel_file_path_runs_its_sibling_tests() {
    let output = ihub_test(&["channels/lab_results.toml"]);
    let report = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{report}");
    assert!(report.contains("test lab_results::"), "{report}");
    assert!(!report.contains("test adt_to_archive::"), "{report}");
}

#[test]
fn passing_fixtures_pass_with_their_pinned_report() {
    let failures: Vec<String> = [Path::new(FIXTURES).join("passing")]
        .iter()
        .filter_map(|c| check_pinned(c, 0))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn failing_fixtures_fail_with_their_pinned_report() {
    check_folder("failing", 1);
}

#[test]
fn malformed_fixtures_are_refused_with_file_line_col() {
    check_folder("malformed", 78);
}

#[test]
fn a_path_that_names_nothing_is_an_error() {
    let output = ihub_test(&["channels/no_such_channel.toml"]);
    assert_eq!(output.status.code(), Some(78));
    let report = stdout(&output);
    assert!(
        report.starts_with("✗ channels/no_such_channel.toml\n  error: no such file or directory\n"),
        "{report}"
    );
}

#[test]
fn a_channel_without_tests_is_named_and_a_malformed_file_does_not_stop_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let channels = dir.path().join("channels");
    std::fs::create_dir(&channels).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(
        root.join("channels/adt_to_archive.toml"),
        channels.join("untested.toml"),
    )
    .unwrap();
    std::fs::copy(
        root.join("channels/lab_results.toml"),
        channels.join("lab_results.toml"),
    )
    .unwrap();
    std::fs::write(
        channels.join("lab_results.test.toml"),
        "[[test]]\nname = \"ORU is accepted\"\ninput = \"samples/oru_r01.hl7\"\nack = \"AA\"\n",
    )
    .unwrap();
    std::fs::write(channels.join("broken.test.toml"), "[[test]\n").unwrap();
    // Channel paths (the script) and inputs resolve against the working directory: the root.
    let output = ihub_test(&[channels.to_str().unwrap()]);
    let report = stdout(&output);
    assert_eq!(output.status.code(), Some(78), "{report}");
    let untested = channels.join("untested.toml");
    assert!(
        report.contains(&format!("warning: {} has no tests", untested.display())),
        "{report}"
    );
    assert!(
        report.contains("test lab_results::ORU is accepted ... ok\n"),
        "{report}"
    );
    assert!(report.contains("broken.test.toml:1:"), "{report}");
    assert!(
        report.ends_with(
            "test result: FAILED. 1 passed; 0 failed; 1 test file with errors (not run)\n"
        ),
        "{report}"
    );
}
