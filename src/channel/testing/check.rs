//! Comparing what a case expects with what was [`Observed`]: one [`Failure`] per assertion
//! that does not hold, each with the line it is written on and expected vs actual.

use std::fmt::Write as _;

use serde_json_path::JsonPath;

use super::diff::line_diff;
use super::format::{Check, Checked, Expectation, Location, TestCase, normalise_segments};
use super::run::Observed;
use crate::hl7::Message;

/// One assertion of a case that does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Where the assertion is written.
    pub at: Location,
    /// What was checked: `ack`, `status`, `destination "archive" MSH-4`.
    pub what: String,
    /// Expected vs actual (or a diff), one or more lines, each ending in `\n`.
    pub detail: String,
}

/// Every assertion of `case` that does not hold for `observed`, in file order. `destinations`
/// are the channel's destination names, to tell a misspelt name from one that got nothing.
pub fn check_case(case: &TestCase, observed: &Observed, destinations: &[String]) -> Vec<Failure> {
    let mut failures = Vec::new();
    if let Some(ack) = &case.ack
        && ack.value != observed.ack
    {
        failures.push(Failure {
            at: ack.at,
            what: "ack".into(),
            detail: format!(
                "{}{}",
                expected_actual(ack.value.as_str(), observed.ack.as_str()),
                reason(observed)
            ),
        });
    }
    if let Some(status) = &case.status
        && status.value.as_str() != observed.status
    {
        failures.push(Failure {
            at: status.at,
            what: "status".into(),
            detail: format!(
                "{}{}",
                expected_actual(status.value.as_str(), observed.status),
                reason(observed)
            ),
        });
    }
    for expectation in &case.expect {
        if let Some(failure) = check_destination(expectation, observed, destinations) {
            failures.push(failure);
        }
    }
    failures
}

fn check_destination(
    expectation: &Checked<Expectation>,
    observed: &Observed,
    destinations: &[String],
) -> Option<Failure> {
    let Expectation {
        destination,
        nth,
        check,
    } = &expectation.value;
    let fail = |what: String, detail: String| {
        Some(Failure {
            at: expectation.at,
            what,
            detail,
        })
    };
    let name = format!("destination \"{destination}\"");
    if !destinations.contains(destination) {
        let known = if destinations.is_empty() {
            "it has none".to_owned()
        } else {
            format!("it has {}", quoted_list(destinations))
        };
        return fail(
            name,
            format!("the channel has no such destination ({known})\n"),
        );
    }
    let payloads = observed.payloads(destination);
    let got = || describe(&payloads, observed);
    let name = if *nth > 1 {
        format!("{name} message {nth}")
    } else {
        name
    };
    match (check, payloads.get(nth.saturating_sub(1)).copied()) {
        (Check::Receives(expected), _) => {
            let received = !payloads.is_empty();
            if *expected == received {
                return None;
            }
            let wanted = if *expected { "the message" } else { "nothing" };
            fail(name, format!("expected: {wanted}\nactual:   {}", got()))
        }
        (Check::Count(expected), _) => {
            if *expected == payloads.len() {
                return None;
            }
            fail(
                name,
                format!("expected: {}\nactual:   {}", messages(*expected), got()),
            )
        }
        (_, None) => {
            let wanted = if *nth > 1 {
                format!("at least {}", messages(*nth))
            } else {
                "the message".to_owned()
            };
            fail(name, format!("expected: {wanted}\nactual:   {}", got()))
        }
        (Check::Hl7 { path, equals }, Some(bytes)) => {
            let what = format!("{name} {path}");
            match Message::parse(bytes) {
                Err(error) => fail(what, format!("its payload is not HL7: {error}\n")),
                Ok(message) => {
                    let actual = message
                        .get(path)
                        .map(|v| v.text().into_owned())
                        .unwrap_or_default();
                    (actual != *equals).then(|| Failure {
                        at: expectation.at,
                        what,
                        detail: expected_actual(&quote(equals), &quote(&actual)),
                    })
                }
            }
        }
        (Check::Json { path, text, equals }, Some(bytes)) => {
            let what = format!("{name} {text}");
            let json = match serde_json::from_slice::<serde_json::Value>(bytes) {
                Ok(json) => json,
                Err(error) => return fail(what, format!("its payload is not JSON: {error}\n")),
            };
            match select(path, &json) {
                None => fail(
                    what,
                    expected_actual(&equals.to_string(), "nothing (the path matches no node)"),
                ),
                Some(actual) if actual != *equals => {
                    let mut detail = expected_actual(&equals.to_string(), &actual.to_string());
                    if same_text(equals, &actual) {
                        detail.push_str("note:     the values differ in type only (text vs number or true/false); quote both or neither\n");
                    }
                    fail(what, detail)
                }
                Some(_) => None,
            }
        }
        (Check::File(file), Some(bytes)) => {
            let what = format!("{name} whole output vs {}", file.display());
            let expected = match std::fs::read(file) {
                Ok(expected) => expected,
                Err(error) => return fail(what, format!("cannot read the file: {error}\n")),
            };
            let diff = whole_output_diff(&expected, bytes);
            (!diff.is_empty()).then(|| Failure {
                at: expectation.at,
                what,
                detail: format!("(- expected, + actual)\n{diff}"),
            })
        }
    }
}

/// The nodes `path` selects: one node as itself, several as an array, none as `None`.
fn select(path: &JsonPath, json: &serde_json::Value) -> Option<serde_json::Value> {
    let nodes = path.query(json).all();
    match nodes.as_slice() {
        [] => None,
        [one] => Some((*one).clone()),
        many => Some(serde_json::Value::Array(
            many.iter().map(|v| (*v).clone()).collect(),
        )),
    }
}

/// The line diff of a payload against the expected file: as pretty JSON when both are JSON
/// (so key order and spacing do not matter), else as text with any segment separator.
pub fn whole_output_diff(expected: &[u8], actual: &[u8]) -> String {
    if let (Ok(e), Ok(a)) = (
        serde_json::from_slice::<serde_json::Value>(expected),
        serde_json::from_slice::<serde_json::Value>(actual),
    ) {
        let e = serde_json::to_string_pretty(&e).unwrap_or_default();
        let a = serde_json::to_string_pretty(&a).unwrap_or_default();
        let (e, a): (Vec<&str>, Vec<&str>) = (e.lines().collect(), a.lines().collect());
        return line_diff(&e, &a, "");
    }
    let e = normalise_segments(&String::from_utf8_lossy(expected));
    let a = normalise_segments(&String::from_utf8_lossy(actual));
    let e: Vec<&str> = e.split_terminator('\r').collect();
    let a: Vec<&str> = a.split_terminator('\r').collect();
    line_diff(&e, &a, "")
}

/// `"1042"` and `1042`: the same text, one quoted.
fn same_text(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    a.is_string() != b.is_string() && text(a) == text(b)
}

fn expected_actual(expected: &str, actual: &str) -> String {
    format!("expected: {expected}\nactual:   {actual}\n")
}

fn quote(text: &str) -> String {
    format!("{text:?}")
}

fn quoted_list(names: &[String]) -> String {
    let mut out = String::new();
    for (i, name) in names.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "\"{name}\"");
    }
    out
}

/// What a destination got, for `actual:`: `nothing (the message is filtered)` with the
/// reason, or `2 messages (1609 bytes, 880 bytes)`.
fn describe(payloads: &[&[u8]], observed: &Observed) -> String {
    if payloads.is_empty() {
        return format!("nothing{}\n{}", status_note(observed), reason(observed));
    }
    let sizes: Vec<String> = payloads
        .iter()
        .map(|p| format!("{} bytes", p.len()))
        .collect();
    format!("{} ({})\n", messages(payloads.len()), sizes.join(", "))
}

fn messages(n: usize) -> String {
    if n == 1 {
        "1 message".to_owned()
    } else {
        format!("{n} messages")
    }
}

/// ` (the message was filtered)` when the status explains why nothing was queued.
fn status_note(observed: &Observed) -> String {
    if observed.status == "sent" {
        String::new()
    } else {
        format!(" (the message is {})", observed.status)
    }
}

/// `reason: …` with the reason the store kept, when there is one.
fn reason(observed: &Observed) -> String {
    observed
        .reason
        .as_ref()
        .map(|r| format!("reason:   {r}\n"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::testing::parse::parse_test_file;
    use crate::hl7::AckCode;

    fn case(text: &str) -> TestCase {
        let file = parse_test_file(std::path::Path::new("t.test.toml"), text).unwrap();
        file.cases.into_iter().next().unwrap()
    }

    fn observed(payload: Option<&str>) -> Observed {
        Observed {
            ack: AckCode::AA,
            status: if payload.is_some() {
                "sent"
            } else {
                "filtered"
            },
            reason: payload
                .is_none()
                .then(|| "the channel filter did not accept it".into()),
            deliveries: payload
                .map(|p| vec![("d".to_owned(), p.as_bytes().to_vec())])
                .unwrap_or_default(),
        }
    }

    const HEAD: &str = "[[test]]\nname = \"n\"\njson = '{}'\n";
    const MSG: &str =
        "MSH|^~\\&|A|LENSWORKS|C|D|20250101||ORU^R01|1|P|2.5\rPID|1||42^^^H^MR||DOE^JANE\r";

    fn destinations() -> Vec<String> {
        vec!["d".to_owned()]
    }

    #[test]
    fn holding_assertions_give_no_failures() {
        let c = case(&format!(
            "{HEAD}ack = \"AA\"\nstatus = \"sent\"\n[[test.expect]]\ndestination = \"d\"\nhl7_path = \"PID-5.2\"\nequals = \"JANE\"\n\
             [[test.expect]]\ndestination = \"d\"\nreceives = true\n"
        ));
        assert_eq!(
            check_case(&c, &observed(Some(MSG)), &destinations()),
            vec![]
        );
    }

    #[test]
    fn each_broken_assertion_is_one_failure_with_its_line() {
        let c = case(&format!(
            "{HEAD}ack = \"AE\"\n[[test.expect]]\ndestination = \"d\"\nhl7_path = \"MSH-4\"\nequals = \"ELSEWHERE\"\n"
        ));
        let failures = check_case(&c, &observed(Some(MSG)), &destinations());
        assert_eq!(failures.len(), 2);
        assert_eq!((failures[0].what.as_str(), failures[0].at.line), ("ack", 4));
        assert_eq!(failures[0].detail, "expected: AE\nactual:   AA\n");
        assert_eq!(failures[1].what, "destination \"d\" MSH-4");
        assert_eq!(
            failures[1].detail,
            "expected: \"ELSEWHERE\"\nactual:   \"LENSWORKS\"\n"
        );
    }

    #[test]
    fn a_destination_that_got_nothing_says_why() {
        let c = case(&format!(
            "{HEAD}[[test.expect]]\ndestination = \"d\"\nhl7_path = \"MSH-4\"\nequals = \"X\"\n"
        ));
        let failures = check_case(&c, &observed(None), &destinations());
        assert_eq!(
            failures[0].detail,
            "expected: the message\nactual:   nothing (the message is filtered)\nreason:   the channel filter did not accept it\n"
        );
    }

    #[test]
    fn json_paths_select_one_node_or_several() {
        let c = case(&format!(
            "{HEAD}[[test.expect]]\ndestination = \"d\"\njson_path = \"$.a[*].b\"\nequals = [1, 2]\n\
             [[test.expect]]\ndestination = \"d\"\njson_path = \"$.a[0].b\"\nequals = 1\n\
             [[test.expect]]\ndestination = \"d\"\njson_path = \"$.z\"\nequals = 1\n"
        ));
        let failures = check_case(
            &c,
            &observed(Some(r#"{"a":[{"b":1},{"b":2}]}"#)),
            &destinations(),
        );
        assert_eq!(failures.len(), 1, "{failures:?}");
        assert_eq!(failures[0].what, "destination \"d\" $.z");
    }

    #[test]
    fn whole_output_ignores_segment_separators_and_json_layout() {
        assert_eq!(
            whole_output_diff(b"MSH|1\r\nPID|2\r\n", b"MSH|1\rPID|2"),
            ""
        );
        assert_eq!(
            whole_output_diff(b"{\"a\": 1, \"b\": [2]}", b"{\"b\":[2],\"a\":1}"),
            ""
        );
        assert_eq!(
            whole_output_diff(b"MSH|1\nPID|2\n", b"MSH|1\rPID|3\r"),
            "  MSH|1\n- PID|2\n+ PID|3\n"
        );
    }
}
