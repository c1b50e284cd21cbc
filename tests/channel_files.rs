//! Channel files as users meet them: every sample in `channels/` loads clean, every valid
//! fixture loads clean, and every invalid or warning fixture yields exactly the report pinned
//! in its `.stderr` file; and the real `ihub validate` binary exits as documented.
//!
//! The `.stderr` files are the rendered report with the fixture path as given here (relative
//! to the crate root, the working directory of tests). After an intended change of wording,
//! regenerate them with `IHUB_BLESS=1 cargo test --test tests channel_files` and review the diff.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use ihub::channel::{
    AckMode, DestinationKind, Durability, FhirAuthSpec, FhirConvert, SourceSpec, channel_files,
    load_channel_file, load_channel_files, load_channels, render,
};
use ihub::fhir::smart::SmartAlgorithm;

const FIXTURES: &str = "tests/fixtures/channels";

/// Loads `case` (a channel file, or a folder of them) the way `ihub validate` does and
/// returns the report.
fn report_for(case: &Path) -> String {
    let files = if case.is_dir() {
        channel_files(case).expect("list fixture folder")
    } else {
        vec![case.to_path_buf()]
    };
    let (_, diagnostics) = load_channel_files(&files);
    render(&diagnostics, &files)
}

/// Every case in `folder` (each `*.toml` file and each subfolder) against its `.stderr`.
fn check_pinned(folder: &str) {
    let dir = Path::new(FIXTURES).join(folder);
    let bless = std::env::var_os("IHUB_BLESS").is_some();
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixture folder")
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() || p.extension().is_some_and(|e| e == "toml"))
        .collect();
    cases.sort();
    assert!(!cases.is_empty(), "no cases in {}", dir.display());
    let mut failures = Vec::new();
    for case in &cases {
        let expected_path = case.with_extension("stderr");
        let actual = report_for(case);
        if bless {
            std::fs::write(&expected_path, &actual).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path)
            .unwrap_or_else(|_| panic!("missing {}", expected_path.display()));
        if actual != expected {
            failures.push(format!(
                "--- {} expected:\n{expected}--- actual:\n{actual}",
                case.display()
            ));
        }
    }
    // No orphaned expectations: each .stderr belongs to a case.
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "stderr") {
            let toml = path.with_extension("toml");
            let folder = path.with_extension("");
            assert!(
                toml.is_file() || folder.is_dir(),
                "{} has no case",
                path.display()
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_sample_channel_is_clean() {
    let (channels, diagnostics) = load_channels(Path::new("channels"));
    assert!(
        diagnostics.is_empty(),
        "{}",
        render(&diagnostics, &channel_files(Path::new("channels")).unwrap())
    );
    let ids: Vec<&str> = channels.iter().map(|c| c.id.as_str()).collect();
    assert!(ids.contains(&"lab_results"), "{ids:?}");
    assert!(ids.contains(&"adt_to_archive"), "{ids:?}");
    // Sorted by id, and every sample port on 127.0.0.1 and distinct.
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted);
    let mut ports = Vec::new();
    for c in &channels {
        if let Some(addr) = c.source.listen() {
            assert!(addr.ip().is_loopback(), "{}: {addr}", c.id);
            assert!(
                !ports.contains(&addr.port()),
                "{}: port {addr} reused",
                c.id
            );
            ports.push(addr.port());
        }
    }
}

#[test]
fn the_lab_results_channel_from_the_issue_means_what_it_says() {
    let spec = load_channel_file(Path::new("channels/lab_results.toml")).unwrap();
    assert_eq!(spec.id.as_str(), "lab_results");
    assert_eq!(
        spec.description,
        "Lab results to the archive and the EHR interface"
    );
    assert!(spec.enabled);
    assert_eq!(spec.durability, Durability::Sync);
    let SourceSpec::Mllp(source) = &spec.source else {
        panic!("{:?}", spec.source)
    };
    assert_eq!(source.listen, "127.0.0.1:2575".parse().unwrap());
    assert_eq!(source.ack, AckMode::Original);
    assert_eq!(spec.filter.as_deref(), Some(r#"msg.type == "ORU""#));
    assert_eq!(
        spec.transform.as_deref(),
        Some(Path::new("scripts/stamp_facility.rhai"))
    );
    assert_eq!(spec.destinations.len(), 2);
    let archive = &spec.destinations[0];
    assert_eq!(archive.name, "archive");
    let DestinationKind::File(file) = &archive.kind else {
        panic!("{:?}", archive.kind)
    };
    assert_eq!(file.directory, Path::new("out/lab_results"));
    assert_eq!(file.filename, "{message_id}.hl7");
    let ehr = &spec.destinations[1];
    assert_eq!(ehr.name, "ehr_interface");
    let DestinationKind::Mllp(mllp) = &ehr.kind else {
        panic!("{:?}", ehr.kind)
    };
    assert_eq!(mllp.endpoint, "127.0.0.1:6661");
    assert_eq!(ehr.retry.attempts, 5);
    assert_eq!(ehr.retry.initial_backoff, Duration::from_secs(1));
    assert_eq!(ehr.retry.max_backoff, Duration::from_secs(10));
    assert!(ehr.ordered);
    assert!(!ehr.send_original);
}

#[test]
fn the_stamp_script_is_exactly_what_the_issue_asks() {
    let text = std::fs::read_to_string("scripts/stamp_facility.rhai").unwrap();
    let code: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with("//"))
        .collect();
    assert_eq!(code, vec![r#"msg.set("MSH-4", "LENSWORKS");"#]);
}

#[test]
fn valid_fixtures_are_clean() {
    let dir = Path::new(FIXTURES).join("valid");
    let (channels, diagnostics) = load_channels(&dir);
    let files = channel_files(&dir).unwrap();
    assert!(diagnostics.is_empty(), "{}", render(&diagnostics, &files));
    assert_eq!(channels.len(), files.len());
    // `*.test.toml` is not a channel, even in a folder of channels.
    assert!(
        files
            .iter()
            .all(|f| !f.to_string_lossy().ends_with(".test.toml"))
    );
    assert!(
        channels
            .iter()
            .all(|c| c.id.as_str() != "not_a_channel.test")
    );
    let everything = channels
        .iter()
        .find(|c| c.id.as_str() == "everything")
        .unwrap();
    assert!(!everything.enabled);
    assert_eq!(
        everything.durability,
        Durability::Interval {
            flush_interval: Duration::from_millis(20)
        }
    );
    assert_eq!(everything.limits.max_call_depth, 16);
    assert_eq!(everything.limits.timeout, Duration::from_millis(200));
    let SourceSpec::Mllp(mllp) = &everything.source else {
        panic!()
    };
    assert_eq!(mllp.ack, AckMode::Enhanced);
    assert!(mllp.tls.as_ref().unwrap().client_ca.is_some());

    let fhir = channels
        .iter()
        .find(|c| c.id.as_str() == "hl7_to_fhir")
        .unwrap();
    let DestinationKind::Fhir(smart) = &fhir.destinations[0].kind else {
        panic!("{:?}", fhir.destinations[0].kind)
    };
    assert_eq!(fhir.destinations[0].type_name(), "fhir");
    assert_eq!(smart.convert, FhirConvert::Hl7v2ToFhir);
    assert!(smart.conditional_create);
    assert_eq!(smart.timeout, Duration::from_secs(20));
    let FhirAuthSpec::Smart(settings) = &smart.auth else {
        panic!("{:?}", smart.auth)
    };
    assert_eq!(settings.algorithm, SmartAlgorithm::Es384);
    assert_eq!(
        settings.token_endpoint.as_deref(),
        Some("https://auth.example.org/token")
    );
    assert_eq!(settings.scope, "system/*.cruds");
    let DestinationKind::Fhir(open) = &fhir.destinations[1].kind else {
        panic!()
    };
    assert_eq!(open.convert, FhirConvert::None);
    assert_eq!(open.auth, FhirAuthSpec::None);
    assert!(!open.conditional_create);
    assert_eq!(open.timeout, Duration::from_secs(30));
}

#[test]
fn invalid_fixtures_yield_exactly_their_diagnostics() {
    check_pinned("invalid");
}

#[test]
fn warning_fixtures_yield_exactly_their_diagnostics() {
    check_pinned("warnings");
}

#[test]
fn invalid_fixtures_never_build_a_channel() {
    let dir = Path::new(FIXTURES).join("invalid");
    for file in channel_files(&dir).unwrap() {
        let result = load_channel_file(&file);
        let Err(diagnostics) = result else {
            // Only the same_port pair is valid file by file; it lives in a subfolder.
            panic!("{} loaded", file.display());
        };
        assert!(
            diagnostics.iter().any(|d| d.is_error()),
            "{}",
            file.display()
        );
    }
    let (channels, _) = load_channels(&dir.join("same_port"));
    let ids: Vec<&str> = channels.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, vec!["off"], "the two that clash are not started");
}

fn ihub(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ihub"))
        .args(args)
        .output()
        .expect("run ihub")
}

#[test]
fn ihub_validate_exits_78_with_the_summary_on_errors() {
    let out = ihub(&["validate", "tests/fixtures/channels/invalid/same_port"]);
    assert_eq!(out.status.code(), Some(78));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        stdout.lines().last(),
        Some("3 channel files: 1 ok, 2 with 2 errors and 0 warnings.")
    );
    assert!(stdout.contains("✗ tests/fixtures/channels/invalid/same_port/lab_in.toml"));
    assert!(stdout.contains("✓ tests/fixtures/channels/invalid/same_port/off.toml"));
    // The binary prints what the library renders: one code path.
    assert_eq!(
        stdout,
        report_for(Path::new("tests/fixtures/channels/invalid/same_port"))
    );
}

#[test]
fn ihub_validate_defaults_to_the_channels_folder_and_exits_0_when_clean() {
    let out = ihub(&["validate"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("✓ channels/lab_results.toml"), "{stdout}");
    assert!(stdout.ends_with(" ok.\n"), "{stdout}");
}

#[test]
fn ihub_validate_takes_files_and_folders_and_deny_warnings_fails_on_warnings() {
    let warn = "tests/fixtures/channels/warnings/no_destinations.toml";
    let out = ihub(&["validate", warn, "channels/lab_results.toml"]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        stdout.lines().last(),
        Some("2 channel files: 1 ok, 1 with 0 errors and 1 warning.")
    );
    // The same file twice, spelled differently, is one channel, not a duplicate id.
    let out = ihub(&["validate", "channels", "./channels/lab_results.toml"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = ihub(&["validate", "--deny-warnings", warn]);
    assert_eq!(out.status.code(), Some(78));
    let out = ihub(&[
        "validate",
        "--deny-warnings",
        "tests/fixtures/channels/valid",
    ]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn ihub_validate_reports_paths_that_do_not_exist() {
    let out = ihub(&["validate", "tests/fixtures/channels/nowhere.toml"]);
    assert_eq!(out.status.code(), Some(78));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout
            .starts_with("✗ tests/fixtures/channels/nowhere.toml\n  error: cannot read the file:"),
        "{stdout}"
    );
}

#[test]
fn the_reference_in_channels_readme_uses_only_real_keys() {
    // The annotated reference is a channel file; whatever the schema rejects in it is a
    // documentation bug. Its certificate paths are examples and do not exist here.
    let readme = std::fs::read_to_string("channels/README.md").unwrap();
    let start = readme
        .find("```toml\n# channels/<id>.toml")
        .expect("reference block")
        + 8;
    let end = start + readme[start..].find("```").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("reference.toml");
    std::fs::write(&file, &readme[start..end]).unwrap();
    let (_, diagnostics) = load_channel_files(std::slice::from_ref(&file));
    let unexpected: Vec<_> = diagnostics
        .iter()
        .filter(|d| {
            !(d.message.contains("certificate not found")
                || d.message.contains("private key not found")
                || d.message.starts_with("`flush_interval_ms` has no effect"))
        })
        .collect();
    assert!(unexpected.is_empty(), "{}", render(&diagnostics, &[file]));
    // And it shows every key that exists: each one the schema knows appears in it.
    for key in ihub::channel::config::TOP_LEVEL_KEYS {
        assert!(
            readme.contains(&format!("\n{key} ="))
                || readme.contains(&format!("[{key}]"))
                || readme.contains(&format!("[[{key}]]")),
            "{key}"
        );
    }
}

/// Checks `value` against `schema` (the subset of JSON Schema that schemars emits: `type`,
/// `properties`, `required`, `additionalProperties`, `enum`, `const`, `oneOf`/`anyOf`/`allOf`,
/// `$ref` into `definitions`/`$defs`, `items`, `minimum`/`maximum`, `format` ignored) and
/// returns every problem, as `path: what`.
fn schema_problems(
    root: &serde_json::Value,
    schema: &serde_json::Value,
    value: &serde_json::Value,
    path: &str,
) -> Vec<String> {
    use serde_json::Value;
    let mut problems = Vec::new();
    let Some(schema) = schema.as_object() else {
        return problems; // `true`
    };
    if let Some(Value::String(reference)) = schema.get("$ref") {
        let name = reference.rsplit('/').next().unwrap();
        let target = root
            .get("definitions")
            .or_else(|| root.get("$defs"))
            .and_then(|d| d.get(name))
            .unwrap_or_else(|| panic!("unresolved {reference}"));
        problems.extend(schema_problems(root, target, value, path));
    }
    if let Some(types) = schema.get("type") {
        let names: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let fits = names.iter().any(|t| match *t {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "boolean" => value.is_boolean(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "null" => value.is_null(),
            _ => false,
        });
        if !fits {
            problems.push(format!("{path}: expected {names:?}, found {value}"));
            return problems;
        }
    }
    if let Some(Value::Array(allowed)) = schema.get("enum")
        && !allowed.contains(value)
    {
        problems.push(format!("{path}: {value} is not one of {allowed:?}"));
    }
    if let Some(expected) = schema.get("const")
        && expected != value
    {
        problems.push(format!("{path}: expected {expected}, found {value}"));
    }
    if let Some(n) = value.as_f64() {
        if let Some(min) = schema.get("minimum").and_then(Value::as_f64)
            && n < min
        {
            problems.push(format!("{path}: {n} is below the minimum {min}"));
        }
        if let Some(max) = schema.get("maximum").and_then(Value::as_f64)
            && n > max
        {
            problems.push(format!("{path}: {n} is above the maximum {max}"));
        }
    }
    for (key, mode) in [("oneOf", 1usize), ("anyOf", 0)] {
        if let Some(Value::Array(options)) = schema.get(key) {
            let results: Vec<Vec<String>> = options
                .iter()
                .map(|o| schema_problems(root, o, value, path))
                .collect();
            let passing = results.iter().filter(|r| r.is_empty()).count();
            let ok = if mode == 1 {
                passing == 1
            } else {
                passing >= 1
            };
            if !ok {
                problems.push(format!("{path}: {passing} of the {key} alternatives match"));
                // The closest alternative says what is wrong (as an editor shows it).
                // An alternative of another type (`null` for an optional table) is the farthest.
                let wrong_type = format!("{path}: expected [");
                let closest = results
                    .into_iter()
                    .min_by_key(|r| (r.iter().any(|p| p.starts_with(&wrong_type)), r.len()));
                if let Some(closest) = closest {
                    problems.extend(closest);
                }
            }
        }
    }
    if let Some(Value::Array(all)) = schema.get("allOf") {
        for s in all {
            problems.extend(schema_problems(root, s, value, path));
        }
    }
    if let Some(object) = value.as_object() {
        let properties = schema.get("properties").and_then(Value::as_object);
        if let Some(Value::Array(required)) = schema.get("required") {
            for key in required.iter().filter_map(Value::as_str) {
                if !object.contains_key(key) {
                    problems.push(format!("{path}: missing `{key}`"));
                }
            }
        }
        for (key, v) in object {
            let sub = format!("{path}.{key}");
            match properties.and_then(|p| p.get(key)) {
                Some(s) => problems.extend(schema_problems(root, s, v, &sub)),
                None => match schema.get("additionalProperties") {
                    Some(Value::Bool(false)) => problems.push(format!("{sub}: unknown key")),
                    Some(s @ Value::Object(_)) => {
                        problems.extend(schema_problems(root, s, v, &sub));
                    }
                    _ => {}
                },
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, v) in array.iter().enumerate() {
            problems.extend(schema_problems(root, items, v, &format!("{path}[{i}]")));
        }
    }
    problems
}

/// A channel file as the JSON value a TOML editor checks against the schema.
fn as_json(file: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(file).unwrap();
    let value: toml::Value = toml::from_str(&text).unwrap();
    serde_json::to_value(value).unwrap()
}

#[test]
fn every_sample_and_valid_fixture_matches_the_schema_and_mistakes_do_not() {
    let schema = ihub::channel::channel_schema();
    let mut files = channel_files(Path::new("channels")).unwrap();
    files.extend(channel_files(&Path::new(FIXTURES).join("valid")).unwrap());
    assert!(files.len() >= 5);
    for file in &files {
        let problems = schema_problems(&schema, &schema, &as_json(file), "$");
        assert!(problems.is_empty(), "{}: {problems:#?}", file.display());
    }
    // The checker can fail: mistakes the loader rejects, the schema rejects too.
    for (file, expected) in [
        ("unknown_retry_key.toml", "unknown key"),
        ("unknown_source_type.toml", "alternatives match"),
        (
            "destination_transform_mistakes.toml",
            ".scirpt: unknown key",
        ),
        ("limits_too_high.toml", "above the maximum"),
        ("wrong_types.toml", "expected"),
    ] {
        let path = Path::new(FIXTURES).join("invalid").join(file);
        let problems = schema_problems(&schema, &schema, &as_json(&path), "$");
        assert!(
            problems.iter().any(|p| p.contains(expected)),
            "{file}: {problems:#?}"
        );
    }
}

#[test]
fn ihub_schema_prints_the_schema() {
    let out = Command::new(env!("CARGO_BIN_EXE_ihub"))
        .arg("schema")
        .output()
        .unwrap();
    assert!(out.status.success());
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed, ihub::channel::channel_schema());
    assert_eq!(
        printed["$schema"],
        "http://json-schema.org/draft-07/schema#"
    );
}
