//! `ihub hl7 get|json|ack|split` run as a user runs them: the real binary, real files.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn ihub(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ihub"))
        .args(args)
        .output()
        .expect("run ihub")
}

fn ihub_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ihub"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ihub");
    // ihub may exit before reading (a bad path is reported first); that is not a test failure.
    let _ = child.stdin.take().expect("stdin").write_all(input);
    child.wait_with_output().expect("wait for ihub")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const ORU: &str = "MSH|^~\\&|LAB|HOSP|EHR|HOSP|20240101120000||ORU^R01^ORU_R01|CTL1|P|2.5.1\rPID|1||123^^^HOSP^MR~456^^^SSA^SS||DOE^JANE\rOBR|1\rOBX|1|NM|GLU||5.4|mmol/L\rOBX|2|ST|NOTE||a\\T\\b\rOBX|3|ST|LAST||final\r";

#[test]
fn get_prints_one_line_per_path_and_message() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("two.hl7");
    let second = ORU
        .replace("CTL1", "CTL2")
        .replace("DOE^JANE", "ROE^RICHARD");
    std::fs::write(&file, format!("{ORU}{}", second.replace('\r', "\n"))).unwrap();
    let out = ihub(&[
        "hl7",
        "get",
        file.to_str().unwrap(),
        "MSH-10",
        "PID-5.1",
        "PID-3[2].1",
        "OBX[2]-5",
        "PID-30",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "CTL1\nDOE\n456\na&b\n\nCTL2\nROE\n456\na&b\n\n"
    );
}

#[test]
fn get_reads_standard_input() {
    let out = ihub_stdin(
        &["hl7", "get", "-", "MSH-3", "MSH-1", "MSH-2"],
        ORU.as_bytes(),
    );
    assert_eq!(stdout(&out), "LAB\n|\n^~\\&\n");
}

#[test]
fn get_reports_parse_errors_with_file_and_position() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.hl7");
    std::fs::write(&file, "MSH|^~\\&|LAB|HOSP\nPID|1\n").unwrap();
    let out = ihub(&["hl7", "get", file.to_str().unwrap(), "PID-5"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.starts_with(&format!(
            "error: {}:1:18: the message type (MSH-9) is missing",
            file.display()
        )),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn get_rejects_a_malformed_path_with_a_caret() {
    let out = ihub_stdin(&["hl7", "get", "-", "PID-3[2"], ORU.as_bytes());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("PID-3[2\n         ^"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn get_over_a_batch_file_reads_its_messages() {
    let out = ihub(&["hl7", "get", "samples/batch.hl7", "MSH-9.1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).lines().count(), 3);
}

#[test]
fn ack_answers_each_message() {
    let out = ihub_stdin(
        &[
            "hl7",
            "ack",
            "-",
            "--code",
            "AR",
            "--text",
            "unknown patient",
            "--error-code",
            "204",
        ],
        ORU.as_bytes(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let ack = stdout(&out);
    let segments: Vec<&str> = ack.split('\r').filter(|s| !s.is_empty()).collect();
    assert_eq!(segments.len(), 3, "{ack:?}");
    assert!(
        segments[0].starts_with("MSH|^~\\&|EHR|HOSP|LAB|HOSP|"),
        "{ack:?}"
    );
    assert_eq!(segments[1], "MSA|AR|CTL1|unknown patient");
    assert!(
        segments[2].starts_with("ERR|||204^Unknown key identifier^HL70357|E|"),
        "{ack:?}"
    );
    let bad = ihub_stdin(&["hl7", "ack", "-", "--code", "ZZ"], ORU.as_bytes());
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("unknown acknowledgment code `ZZ`"));
}

#[test]
fn json_nests_every_level() {
    let out = ihub_stdin(&["hl7", "json", "-"], ORU.as_bytes());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    assert_eq!(json["control_id"], "CTL1");
    assert_eq!(json["segments"][1]["name"], "PID");
    assert_eq!(json["segments"][1]["fields"][2][1][0][0], "456");
    assert_eq!(json["segments"][4]["fields"][4][0][0][0], "a&b");
}

#[test]
fn split_writes_one_file_per_message() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("split");
    let out = ihub(&[
        "hl7",
        "split",
        "samples/batch.hl7",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut names: Vec<_> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["000001.hl7", "000002.hl7", "000003.hl7"]);
    let first = std::fs::read(out_dir.join("000001.hl7")).unwrap();
    assert!(first.starts_with(b"MSH|") && first.ends_with(b"\r"));
    assert!(!first.windows(3).any(|w| w == b"BHS" || w == b"FHS"));
    let again = ihub(&[
        "hl7",
        "split",
        "samples/batch.hl7",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(again.status.code(), Some(1), "refuses to overwrite");
}

#[test]
fn help_lists_the_subcommands() {
    let out = ihub(&["--help"]);
    assert!(out.status.success());
    let text = stdout(&out);
    for command in ["run", "validate", "messages", "hl7", "send"] {
        assert!(text.contains(command), "{command} missing from:\n{text}");
    }
}

#[test]
fn get_streams_files_larger_than_its_read_buffer() {
    // About 9 MB: several read chunks, with message boundaries falling anywhere in them.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.hl7");
    let filler = "X".repeat(3000);
    let mut text = String::new();
    for i in 0..3000 {
        text.push_str(&format!(
            "MSH|^~\\&|LAB|H|EHR|H|20240101||ORU^R01|C{i}|P|2.5\nPID|1||{i}\nOBX|1|TX|N||{filler}\n"
        ));
    }
    std::fs::write(&file, &text).unwrap();
    let out = ihub(&["hl7", "get", file.to_str().unwrap(), "MSH-10", "PID-3"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let lines: Vec<String> = stdout(&out).lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 6000);
    assert_eq!(
        (lines[5998].as_str(), lines[5999].as_str()),
        ("C2999", "2999")
    );

    // A broken header near the end: the error names the line in the whole file.
    text.push_str("MSH|^~\\&|LAB|H|EHR|H|20240101||\nPID|1\n");
    std::fs::write(&file, &text).unwrap();
    let out = ihub(&["hl7", "get", file.to_str().unwrap(), "MSH-10"]);
    assert_eq!(out.status.code(), Some(1));
    let expected = format!(
        "{}:9001:32: the message type (MSH-9) is missing",
        file.display()
    );
    assert!(stderr(&out).contains(&expected), "{}", stderr(&out));
}
