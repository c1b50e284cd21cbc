//! The checked form of a channel test file, `channels/<id>.test.toml`: what a case sends and
//! what it expects, each expectation with the line it is written on. The `parse` module
//! builds it from the file.

use std::path::{Path, PathBuf};

use serde_json_path::JsonPath;

use crate::hl7::AckCode;

/// A test file names its channel by sitting beside it: `lab_results.test.toml` tests
/// `lab_results.toml`.
pub const TEST_SUFFIX: &str = ".test.toml";

/// A checked test file, ready to run.
#[derive(Debug, Clone)]
pub struct TestFile {
    /// The test file as named.
    pub file: PathBuf,
    /// The channel file it tests.
    pub channel: PathBuf,
    /// The cases, in file order.
    pub cases: Vec<TestCase>,
}

/// One case: a message in, and what should come out.
#[derive(Debug, Clone)]
pub struct TestCase {
    /// The case's name, unique in its file.
    pub name: String,
    /// Where the case is written (its `[[test]]` table), for the failure report.
    pub at: Location,
    /// The message to send.
    pub input: Input,
    /// The ACK code the sender should get (MSA-1), when checked.
    pub ack: Option<Checked<AckCode>>,
    /// How the message should end, when checked.
    pub status: Option<Checked<ExpectedStatus>>,
    /// What each destination should (or should not) receive.
    pub expect: Vec<Checked<Expectation>>,
}

/// A value from the file and where it is written, so a failure can point at its line.
#[derive(Debug, Clone)]
pub struct Checked<T> {
    /// The expected value.
    pub value: T,
    /// Where it is written.
    pub at: Location,
}

/// A 1-based line and column in a test file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub col: usize,
}

/// The message a case sends through the channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// HL7 v2 bytes (from `message`, normalised to `\r` segments, or an `input` file as is).
    Hl7(Vec<u8>),
    /// A JSON body, as the HTTP source takes it (from `json`, or an `input` file ending in
    /// `.json`).
    Json(Vec<u8>),
}

/// The analyst's words for how a message ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedStatus {
    /// Accepted and handed to every destination (in a test: queued; nothing is contacted).
    Sent,
    /// Stored and acknowledged, but not delivered: the filter or the transform dropped it, or
    /// it was a duplicate.
    Filtered,
    /// Stored as an error: unreadable, or a script failed.
    Error,
}

impl ExpectedStatus {
    /// As written in the file and printed in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            ExpectedStatus::Sent => "sent",
            ExpectedStatus::Filtered => "filtered",
            ExpectedStatus::Error => "error",
        }
    }
}

/// One assertion about one destination.
#[derive(Debug, Clone)]
pub struct Expectation {
    /// The destination's name in the channel.
    pub destination: String,
    /// Which of the destination's messages a value check looks at, from 1 (`nth`; default
    /// 1): the message itself comes first, then what scripts emitted, in order.
    pub nth: usize,
    /// What is asserted.
    pub check: Check,
}

/// What an expectation asserts about a destination's payload.
#[derive(Debug, Clone)]
pub enum Check {
    /// `receives = true|false`: whether anything is queued for it at all.
    Receives(bool),
    /// `count = N`: exactly this many messages are queued for it (scripts may emit more).
    Count(usize),
    /// `hl7_path = "PID-5.1"`, `equals = "…"`: the decoded value at an HL7 path.
    Hl7 {
        /// The path as written.
        path: String,
        /// The expected decoded text.
        equals: String,
    },
    /// `json_path = "$.a"`, `equals = …`: the node(s) an RFC 9535 JSONPath selects.
    Json {
        /// The parsed query.
        path: JsonPath,
        /// The query as written.
        text: String,
        /// The expected value: one node equals it, or several nodes equal it as an array.
        equals: serde_json::Value,
    },
    /// `equals_file = "…"`: the whole payload, segment separators normalised.
    File(PathBuf),
}

/// `dir/x.test.toml` → `dir/x.toml`.
pub fn sibling_channel(test_file: &Path) -> PathBuf {
    let name = test_file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let stem = name.strip_suffix(TEST_SUFFIX).unwrap_or(name);
    test_file.with_file_name(format!("{stem}.toml"))
}

/// `dir/x.toml` → `dir/x.test.toml`.
pub fn sibling_test_file(channel_file: &Path) -> PathBuf {
    let stem = channel_file
        .file_stem()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    channel_file.with_file_name(format!("{stem}{TEST_SUFFIX}"))
}

/// Inline HL7 as an analyst types it (one segment per line, any line ending, maybe blank
/// lines) → segments separated by `\r`, the last one terminated too.
pub fn normalise_segments(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 1);
    for line in text.split(['\r', '\n']) {
        if line.trim().is_empty() {
            continue;
        }
        out.push_str(line);
        out.push('\r');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_hl7_gets_carriage_return_segments_whatever_the_line_endings() {
        assert_eq!(
            normalise_segments("MSH|a\nPID|b\r\n\r\nOBX|c"),
            "MSH|a\rPID|b\rOBX|c\r"
        );
        assert_eq!(normalise_segments("MSH|a\rPID|b\r"), "MSH|a\rPID|b\r");
    }

    #[test]
    fn siblings_map_both_ways() {
        assert_eq!(
            sibling_channel(Path::new("c/lab.test.toml")),
            Path::new("c/lab.toml")
        );
        assert_eq!(
            sibling_test_file(Path::new("c/lab.toml")),
            Path::new("c/lab.test.toml")
        );
    }
}
