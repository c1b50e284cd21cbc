//! Reading a channel test file: the raw serde structs (unknown keys rejected, every value
//! with its span) and the checks that turn them into a [`TestFile`].
//!
//! Everything an analyst can get wrong in the file is found here, before anything runs, and
//! reported as a [`Diagnostic`] with file, line, column and a caret: a TOML syntax error, an
//! unknown key, a case with two inputs or none, an expectation that asserts nothing, a bad ACK
//! code, an HL7 path or JSONPath that does not parse.

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json_path::JsonPath;
use toml::Spanned;

use super::format::{
    Check, Checked, Expectation, ExpectedStatus, Input, Location, TestCase, TestFile,
    normalise_segments, sibling_channel,
};
use crate::channel::{Diagnostic, Severity};
use crate::hl7::AckCode;

/// `[channel] = "…"` and `[[test]]`: the whole file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    /// The channel file to test, when it is not the sibling `<stem>.toml`.
    channel: Option<Spanned<String>>,
    /// The cases, in file order.
    #[serde(default)]
    test: Vec<Spanned<RawCase>>,
}

/// One `[[test]]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase {
    name: Spanned<String>,
    input: Option<Spanned<String>>,
    message: Option<Spanned<String>>,
    json: Option<Spanned<String>>,
    ack: Option<Spanned<String>>,
    status: Option<Spanned<String>>,
    #[serde(default)]
    expect: Vec<Spanned<RawExpect>>,
}

/// One `[[test.expect]]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpect {
    destination: Spanned<String>,
    #[serde(alias = "path")]
    hl7_path: Option<Spanned<String>>,
    json_path: Option<Spanned<String>>,
    equals: Option<Spanned<toml::Value>>,
    equals_file: Option<Spanned<String>>,
    receives: Option<Spanned<bool>>,
    count: Option<Spanned<u32>>,
    nth: Option<Spanned<u32>>,
}

/// Reads and checks the test file `path`. `Err` holds every problem found.
pub fn load_test_file(path: &Path) -> Result<TestFile, Vec<Diagnostic>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![Diagnostic::file_level(
            path,
            Severity::Error,
            format!("cannot read the test file: {e}"),
        )]
    })?;
    parse_test_file(path, &text)
}

/// Checks `text`, the contents of test file `path`. Files named in it (`input`,
/// `equals_file`) are read now, relative to the working directory, like a channel's paths.
pub fn parse_test_file(path: &Path, text: &str) -> Result<TestFile, Vec<Diagnostic>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // Syntax first, worded as the channel loader words it; then keys and types.
    toml::de::DeTable::parse(text).map_err(|error| {
        let span = error.span().unwrap_or(0..0);
        let message = format!("invalid TOML: {}", error.message().trim_end());
        let diagnostic = Diagnostic::at(path, text, span, Severity::Error, message);
        // The usual cause: HL7 pasted into a "basic" string, where `\&` is not an escape.
        vec![if error.message().contains("escape") {
            diagnostic.with_help("write HL7 in a literal string: '…', or '''…''' for several lines")
        } else {
            diagnostic
        }]
    })?;
    let raw: RawFile = toml::from_str(text).map_err(|error| {
        let span = error.span().unwrap_or(0..0);
        vec![Diagnostic::at(
            path,
            text,
            span,
            Severity::Error,
            error.message().trim_end().to_owned(),
        )]
    })?;
    let mut cx = Cx {
        file: path,
        text,
        problems: Vec::new(),
    };
    let channel = match &raw.channel {
        Some(channel) => PathBuf::from(channel.get_ref()),
        None => sibling_channel(path),
    };
    if raw.test.is_empty() {
        cx.problems.push(
            Diagnostic::file_level(path, Severity::Error, "no test cases")
                .with_help("add a `[[test]]` table with a name, an input and what to expect"),
        );
    }
    let mut cases: Vec<TestCase> = Vec::new();
    let mut names: Vec<&str> = Vec::new();
    for raw_case in &raw.test {
        let name = raw_case.get_ref().name.get_ref().as_str();
        let case = cx.case(raw_case);
        if names.contains(&name) {
            let span = raw_case.get_ref().name.span();
            cx.error(span, format!("two cases are named \"{name}\""));
        }
        names.push(name);
        cases.extend(case);
    }
    if cx.problems.is_empty() {
        Ok(TestFile {
            file: path.to_path_buf(),
            channel,
            cases,
        })
    } else {
        Err(cx.problems)
    }
}

/// The file being checked and what was found wrong in it so far.
struct Cx<'a> {
    file: &'a Path,
    text: &'a str,
    problems: Vec<Diagnostic>,
}

impl Cx<'_> {
    fn error(&mut self, span: Range<usize>, message: impl Into<String>) -> &mut Diagnostic {
        self.problems.push(Diagnostic::at(
            self.file,
            self.text,
            span,
            Severity::Error,
            message,
        ));
        let last = self.problems.len() - 1;
        &mut self.problems[last]
    }

    /// The span of character `position` of a string value, when the value is written
    /// without escapes (so source and value line up); else the whole value.
    fn inside_string(&self, value: &Spanned<String>, position: usize) -> Range<usize> {
        let span = value.span();
        let written = self.text.get(span.clone()).unwrap_or_default();
        let bare = written.get(1..written.len().saturating_sub(1));
        if bare == Some(value.get_ref().as_str()) && position < value.get_ref().len() {
            let start = span.start + 1 + position;
            start..start + 1
        } else {
            span
        }
    }

    fn locate(&self, span: &Range<usize>) -> Location {
        let d = Diagnostic::at(self.file, self.text, span.clone(), Severity::Error, "");
        Location {
            line: d.line,
            col: d.col,
        }
    }

    fn case(&mut self, raw: &Spanned<RawCase>) -> Option<TestCase> {
        let before = self.problems.len();
        let case = raw.get_ref();
        let name_span = case.name.span();
        if case.name.get_ref().trim().is_empty() {
            self.error(name_span.clone(), "a case needs a name");
        }
        let input = self.input(case, &name_span);
        let ack = case
            .ack
            .as_ref()
            .and_then(|ack| match ack.get_ref().parse::<AckCode>() {
                Ok(code) => Some(Checked {
                    value: code,
                    at: self.locate(&ack.span()),
                }),
                Err(_) => {
                    self.error(ack.span(), format!("unknown ACK code `{}`", ack.get_ref()))
                        .help = Some(
                        "one of AA, AE, AR (original mode) or CA, CE, CR (enhanced mode)".into(),
                    );
                    None
                }
            });
        let status = case.status.as_ref().and_then(|status| {
            let value = match status.get_ref().as_str() {
                "sent" => ExpectedStatus::Sent,
                "filtered" => ExpectedStatus::Filtered,
                "error" => ExpectedStatus::Error,
                other => {
                    self.error(status.span(), format!("unknown status `{other}`"))
                        .help = Some("one of `sent`, `filtered`, `error`".into());
                    return None;
                }
            };
            Some(Checked {
                value,
                at: self.locate(&status.span()),
            })
        });
        let expect: Vec<Checked<Expectation>> = case
            .expect
            .iter()
            .filter_map(|e| self.expectation(e))
            .collect();
        if case.ack.is_none() && case.status.is_none() && case.expect.is_empty() {
            self.error(
                name_span.clone(),
                format!("case \"{}\" checks nothing", case.name.get_ref()),
            )
            .help = Some("add `ack = \"AA\"`, `status = \"sent\"` or a `[[test.expect]]`".into());
        }
        if self.problems.len() > before {
            return None;
        }
        Some(TestCase {
            name: case.name.get_ref().clone(),
            at: self.locate(&name_span),
            input: input?,
            ack,
            status,
            expect,
        })
    }

    fn input(&mut self, case: &RawCase, name_span: &Range<usize>) -> Option<Input> {
        let given: Vec<&Spanned<String>> = [&case.input, &case.message, &case.json]
            .into_iter()
            .flatten()
            .collect();
        match given.as_slice() {
            [] => {
                self.error(
                    name_span.clone(),
                    format!("case \"{}\" has no input", case.name.get_ref()),
                )
                .help = Some(
                    "give one of `input = \"file\"`, `message = '''…'''`, `json = '''…'''`".into(),
                );
                None
            }
            [_] => {
                if let Some(message) = &case.message {
                    Some(Input::Hl7(
                        normalise_segments(message.get_ref()).into_bytes(),
                    ))
                } else if let Some(json) = &case.json {
                    if let Err(error) = serde_json::from_str::<serde_json::Value>(json.get_ref()) {
                        self.error(json.span(), format!("`json` is not valid JSON: {error}"));
                        return None;
                    }
                    Some(Input::Json(json.get_ref().clone().into_bytes()))
                } else {
                    let file = case.input.as_ref()?;
                    match std::fs::read(file.get_ref()) {
                        Ok(bytes) if file.get_ref().ends_with(".json") => Some(Input::Json(bytes)),
                        Ok(bytes) => Some(Input::Hl7(bytes)),
                        Err(e) => {
                            self.error(
                                file.span(),
                                format!("cannot read input file {}: {e}", file.get_ref()),
                            )
                            .help = Some(
                                "paths are relative to the working directory, like a channel's"
                                    .into(),
                            );
                            None
                        }
                    }
                }
            }
            [_, second, ..] => {
                self.error(
                    second.span(),
                    "a case takes one input: `input`, `message` or `json`",
                );
                None
            }
        }
    }

    fn expectation(&mut self, raw: &Spanned<RawExpect>) -> Option<Checked<Expectation>> {
        let e = raw.get_ref();
        let destination = e.destination.get_ref().clone();
        let kinds = [
            e.hl7_path.as_ref().map(Spanned::span),
            e.json_path.as_ref().map(Spanned::span),
            e.equals_file.as_ref().map(Spanned::span),
            e.receives.as_ref().map(Spanned::span),
            e.count.as_ref().map(Spanned::span),
        ];
        let mut given: Vec<Range<usize>> = kinds.into_iter().flatten().collect();
        given.sort_by_key(|span| span.start);
        const ONE_OF: &str = "one of `hl7_path` + `equals`, `json_path` + `equals`, `equals_file`, `receives`, `count`";
        if given.is_empty() {
            self.error(
                e.destination.span(),
                format!("expectation for destination \"{destination}\" checks nothing"),
            )
            .help = Some(format!("give {ONE_OF}"));
            return None;
        }
        if given.len() > 1 {
            self.error(given[1].clone(), "an expectation checks one thing")
                .help = Some(format!(
                "give {ONE_OF}; add another `[[test.expect]]` for more"
            ));
            return None;
        }
        let needs_equals = e.hl7_path.is_some() || e.json_path.is_some();
        let nth = match &e.nth {
            None => 1,
            Some(nth) if e.receives.is_some() || e.count.is_some() => {
                self.error(
                    nth.span(),
                    "`nth` goes with `hl7_path`, `json_path` or `equals_file`",
                );
                return None;
            }
            Some(nth) if *nth.get_ref() == 0 => {
                self.error(nth.span(), "`nth` counts from 1 (the first message)");
                return None;
            }
            Some(nth) => *nth.get_ref() as usize,
        };
        match (&e.equals, needs_equals) {
            (None, true) => {
                self.error(given[0].clone(), "a path needs `equals = …`");
                return None;
            }
            (Some(equals), false) => {
                self.error(
                    equals.span(),
                    "`equals` goes with `hl7_path` or `json_path`",
                );
                return None;
            }
            _ => {}
        }
        let check = if let Some(path) = &e.hl7_path {
            if let Err(error) = crate::hl7::Path::parse(path.get_ref()) {
                let span = self.inside_string(path, error.position);
                self.error(span, format!("not an HL7 path: {}", error.message))
                    .help = Some("paths look like `PID-5.1`, `PID-3[2].4`, `OBX[3]-5`".into());
                return None;
            }
            let equals = e.equals.as_ref()?;
            let Some(text) = equals.get_ref().as_str() else {
                self.error(equals.span(), "an HL7 value is text: write it in quotes");
                return None;
            };
            Check::Hl7 {
                path: path.get_ref().clone(),
                equals: text.to_owned(),
            }
        } else if let Some(path) = &e.json_path {
            let query = match JsonPath::parse(path.get_ref()) {
                Ok(query) => query,
                Err(error) => {
                    self.error(path.span(), format!("not a JSONPath (RFC 9535): {error}"));
                    return None;
                }
            };
            let equals = e.equals.as_ref()?;
            let Ok(value) = serde_json::to_value(equals.get_ref()) else {
                self.error(equals.span(), "this value has no JSON form");
                return None;
            };
            Check::Json {
                path: query,
                text: path.get_ref().clone(),
                equals: value,
            }
        } else if let Some(file) = &e.equals_file {
            if let Err(e) = std::fs::metadata(file.get_ref()) {
                self.error(file.span(), format!("cannot read {}: {e}", file.get_ref()))
                    .help =
                    Some("paths are relative to the working directory, like a channel's".into());
                return None;
            }
            Check::File(PathBuf::from(file.get_ref()))
        } else if let Some(count) = &e.count {
            Check::Count(*count.get_ref() as usize)
        } else {
            Check::Receives(e.receives.as_ref().is_some_and(|r| *r.get_ref()))
        };
        Some(Checked {
            value: Expectation {
                destination,
                nth,
                check,
            },
            at: self.locate(&raw.span()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<TestFile, Vec<Diagnostic>> {
        parse_test_file(Path::new("channels/x.test.toml"), text)
    }

    fn errors(text: &str) -> Vec<(usize, usize, String)> {
        parse(text)
            .unwrap_err()
            .into_iter()
            .map(|d| (d.line, d.col, d.message))
            .collect()
    }

    #[test]
    fn a_full_case_is_read_with_its_locations() {
        let file = parse(
            "[[test]]\nname = \"one\"\nmessage = '''\nMSH|^~\\&|A\nPID|1\n'''\nack = \"CA\"\nstatus = \"filtered\"\n\
             [[test.expect]]\ndestination = \"d\"\npath = \"PID-1\"\nequals = \"1\"\n\
             [[test.expect]]\ndestination = \"d\"\njson_path = \"$.a\"\nequals = [1, \"x\"]\n",
        )
        .unwrap();
        assert_eq!(file.channel, Path::new("channels/x.toml"));
        let case = &file.cases[0];
        assert_eq!(case.at, Location { line: 2, col: 8 });
        assert_eq!(case.input, Input::Hl7(b"MSH|^~\\&|A\rPID|1\r".to_vec()));
        assert_eq!(case.ack.as_ref().unwrap().value, AckCode::CA);
        assert_eq!(
            case.status.as_ref().unwrap().value,
            ExpectedStatus::Filtered
        );
        assert_eq!(case.expect[0].at.line, 9);
        assert!(
            matches!(&case.expect[0].value.check, Check::Hl7 { path, equals } if path == "PID-1" && equals == "1")
        );
        assert!(
            matches!(&case.expect[1].value.check, Check::Json { equals, .. } if *equals == serde_json::json!([1, "x"]))
        );
    }

    #[test]
    fn a_named_channel_replaces_the_sibling() {
        let file = parse(
            "channel = \"elsewhere/c.toml\"\n[[test]]\nname = \"n\"\njson = '{}'\nack = \"AA\"\n",
        )
        .unwrap();
        assert_eq!(file.channel, Path::new("elsewhere/c.toml"));
        assert_eq!(file.cases[0].input, Input::Json(b"{}".to_vec()));
    }

    #[test]
    fn unknown_keys_are_refused_at_their_line_and_column() {
        let found = errors("[[test]]\nname = \"n\"\njson = '{}'\n  acks = \"AA\"\n");
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].0, found[0].1), (4, 3));
        assert!(found[0].2.starts_with("unknown field `acks`"), "{found:?}");
    }

    #[test]
    fn every_semantic_problem_is_reported_at_once() {
        let found = errors(
            "[[test]]\nname = \"a\"\njson = 'nope'\nack = \"AA\"\n\
             [[test]]\nname = \"a\"\njson = '{}'\nack = \"AA\"\n\
             [[test]]\nname = \"b\"\njson = '{}'\n[[test.expect]]\ndestination = \"d\"\nreceives = true\nequals_file = \"x\"\n",
        );
        let lines: Vec<usize> = found.iter().map(|f| f.0).collect();
        assert_eq!(lines, vec![3, 6, 15], "{found:?}");
        assert!(found[0].2.starts_with("`json` is not valid JSON"));
        assert_eq!(found[1].2, "two cases are named \"a\"");
        assert_eq!(found[2].2, "an expectation checks one thing");
    }

    #[test]
    fn a_file_without_cases_is_an_error() {
        let found = errors("# nothing yet\n");
        assert_eq!(found, vec![(0, 0, "no test cases".to_owned())]);
    }
}
