//! serde's error messages taken apart ([`Problem`]) and worded for analysts: TOML words
//! instead of Rust types, `did you mean`, and lists of the valid keys.

use std::ops::Range;

use super::file_check::FileCx;
use crate::channel::diagnostic::{Diagnostic, Severity};
use crate::channel::suggest::did_you_mean;

/// A serde error message taken apart. serde words these the same way since 1.0
/// (`serde::de::Error::unknown_field` and friends); a unit test pins the forms, and any
/// other message is passed through as [`Problem::Other`].
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Problem {
    UnknownField { name: String, expected: Vec<String> },
    UnknownVariant { name: String, expected: Vec<String> },
    MissingField { name: String },
    Invalid { found: String, expected: String },
    Other(String),
}

impl Problem {
    pub(super) fn parse(message: &str) -> Problem {
        let words = backticked(message);
        if message.starts_with("unknown field `") && !words.is_empty() {
            return Problem::UnknownField {
                name: words[0].clone(),
                expected: words[1..].to_vec(),
            };
        }
        if message.starts_with("unknown variant `") && !words.is_empty() {
            return Problem::UnknownVariant {
                name: words[0].clone(),
                expected: words[1..].to_vec(),
            };
        }
        if message.starts_with("missing field `") && !words.is_empty() {
            return Problem::MissingField {
                name: words[0].clone(),
            };
        }
        let invalid = message
            .strip_prefix("invalid type: ")
            .or_else(|| message.strip_prefix("invalid value: "));
        if let Some((found, expected)) = invalid.and_then(|rest| rest.rsplit_once(", expected ")) {
            return Problem::Invalid {
                found: plain_found(found),
                expected: plain_expected(expected),
            };
        }
        Problem::Other(message.trim_end().to_owned())
    }

    /// The diagnostic for this problem at `span`; `key` is the key the offending value is
    /// stored under, `extra` more keys valid where an unknown key was found.
    pub(super) fn diagnostic(
        &self,
        cx: &FileCx<'_>,
        span: Range<usize>,
        key: Option<&str>,
        extra: &[&str],
    ) -> Diagnostic {
        match self {
            Problem::UnknownField { name, expected } => {
                let mut candidates: Vec<&str> = expected.iter().map(String::as_str).collect();
                for e in extra {
                    if !candidates.contains(e) {
                        candidates.push(e);
                    }
                }
                let d = cx.at(
                    span,
                    Severity::Error,
                    format!("unknown key `{name}`, expected {}", one_of(&candidates)),
                );
                match did_you_mean(name, &candidates) {
                    Some(hit) => d.with_help(format!("did you mean `{hit}`?")),
                    None => d,
                }
            }
            Problem::UnknownVariant { name, expected } => {
                let candidates: Vec<&str> = expected.iter().map(String::as_str).collect();
                let of = key.map(|k| format!(" for `{k}`")).unwrap_or_default();
                let d = cx.at(
                    span,
                    Severity::Error,
                    format!(
                        "unknown value `{name}`{of}, expected {}",
                        one_of(&candidates)
                    ),
                );
                match did_you_mean(name, &candidates) {
                    Some(hit) => d.with_help(format!("did you mean `{hit}`?")),
                    None => d,
                }
            }
            Problem::MissingField { name } => cx.at(
                span,
                Severity::Error,
                format!("missing required key `{name}`"),
            ),
            Problem::Invalid { found, expected } => {
                let of = key.map(|k| format!(" for `{k}`")).unwrap_or_default();
                let d = cx.at(
                    span,
                    Severity::Error,
                    format!("invalid value{of}: expected {expected}, found {found}"),
                );
                if expected == "a string" && !found.starts_with("a ") {
                    d.with_help("strings are written in quotes: \"…\"")
                } else {
                    d
                }
            }
            Problem::Other(message) => cx.at(span, Severity::Error, message.clone()),
        }
    }
}

/// The `` `quoted` `` words of a message, in order.
fn backticked(message: &str) -> Vec<String> {
    message
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// serde's description of what it found, in TOML words.
fn plain_found(found: &str) -> String {
    let words = backticked(found);
    if let Some(rest) = found.strip_prefix("string ") {
        return format!("the string {rest}");
    }
    match (found.split(' ').next(), words.first()) {
        (Some("integer" | "floating" | "boolean"), Some(value)) => value.clone(),
        _ => match found {
            "map" => "a table".to_owned(),
            "sequence" => "an array".to_owned(),
            other => other.to_owned(),
        },
    }
}

/// serde's description of what it expected, in TOML words.
fn plain_expected(expected: &str) -> String {
    match expected {
        "u8" | "u16" | "u32" | "u64" | "usize" | "u128" => "a whole number of at least 0".into(),
        "a nonzero u32" | "a nonzero u64" | "a nonzero usize" => {
            "a whole number of at least 1".into()
        }
        "a map" => "a table".into(),
        "a sequence" => "an array".into(),
        other if other.starts_with("struct ") => "a table".into(),
        other if other.starts_with("a string") => "a string".into(),
        other => other.to_owned(),
    }
}

/// `` `a` ``, `` `a` or `b` ``, `` one of `a`, `b`, `c` ``.
pub(crate) fn one_of(names: &[&str]) -> String {
    match names {
        [] => "no keys here".to_owned(),
        [one] => format!("`{one}`"),
        [a, b] => format!("`{a}` or `{b}`"),
        many => format!("one of {}", list(many)),
    }
}

/// `` `a`, `b`, `c` ``.
pub(super) fn list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_messages_are_taken_apart() {
        assert_eq!(
            Problem::parse("unknown field `retry_count`, expected one of `attempts`, `b`"),
            Problem::UnknownField {
                name: "retry_count".into(),
                expected: vec!["attempts".into(), "b".into()]
            }
        );
        assert_eq!(
            Problem::parse("unknown field `x`, there are no fields"),
            Problem::UnknownField {
                name: "x".into(),
                expected: vec![]
            }
        );
        assert_eq!(
            Problem::parse("unknown variant `orig`, expected `original` or `enhanced`"),
            Problem::UnknownVariant {
                name: "orig".into(),
                expected: vec!["original".into(), "enhanced".into()]
            }
        );
        assert_eq!(
            Problem::parse("missing field `listen`"),
            Problem::MissingField {
                name: "listen".into()
            }
        );
        assert_eq!(
            Problem::parse("invalid type: string \"5\", expected u32"),
            Problem::Invalid {
                found: "the string \"5\"".into(),
                expected: "a whole number of at least 0".into()
            }
        );
        assert_eq!(
            Problem::parse("invalid value: integer `0`, expected a nonzero u64"),
            Problem::Invalid {
                found: "0".into(),
                expected: "a whole number of at least 1".into()
            }
        );
        assert_eq!(
            Problem::parse("something else\n"),
            Problem::Other("something else".into())
        );
    }

    #[test]
    fn serde_still_words_errors_the_way_we_parse() {
        // Pins serde's and toml's wording: if an upgrade changes it, this fails first.
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct S {
            a: std::num::NonZeroU64,
            b: Option<crate::channel::spec::AckMode>,
        }
        let e = toml::from_str::<S>("a = 1\nc = 2").unwrap_err();
        assert_eq!(e.message(), "unknown field `c`, expected `a` or `b`");
        let e = toml::from_str::<S>("b = \"x\"\na = 1").unwrap_err();
        assert_eq!(
            e.message(),
            "unknown variant `x`, expected `original` or `enhanced`"
        );
        let e = toml::from_str::<S>("a = 0").unwrap_err();
        assert_eq!(
            e.message(),
            "invalid value: integer `0`, expected a nonzero u64"
        );
        let e = toml::from_str::<S>("").unwrap_err();
        assert_eq!(e.message(), "missing field `a`");
    }
}
