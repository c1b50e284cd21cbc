//! FHIR R4 primitive types and their lexical rules, from the regular expressions the
//! specification gives for each type (<http://hl7.org/fhir/R4/datatypes.html#primitive>), plus
//! a calendar check the regexes can't make (no 31 February).

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

/// A FHIR primitive type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Prim {
    Boolean,
    Integer,
    UnsignedInt,
    PositiveInt,
    Decimal,
    String,
    Markdown,
    Code,
    Id,
    Uri,
    Url,
    Canonical,
    Base64Binary,
    Date,
    DateTime,
    Instant,
    Time,
    Xhtml,
}

impl Prim {
    /// The type's name in the specification, for messages.
    pub(super) fn name(self) -> &'static str {
        match self {
            Prim::Boolean => "boolean",
            Prim::Integer => "integer",
            Prim::UnsignedInt => "unsignedInt",
            Prim::PositiveInt => "positiveInt",
            Prim::Decimal => "decimal",
            Prim::String => "string",
            Prim::Markdown => "markdown",
            Prim::Code => "code",
            Prim::Id => "id",
            Prim::Uri => "uri",
            Prim::Url => "url",
            Prim::Canonical => "canonical",
            Prim::Base64Binary => "base64Binary",
            Prim::Date => "date",
            Prim::DateTime => "dateTime",
            Prim::Instant => "instant",
            Prim::Time => "time",
            Prim::Xhtml => "xhtml",
        }
    }
}

/// What is wrong with a primitive value.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum PrimError {
    /// The JSON type is wrong (a number where a string belongs): issue type `structure`.
    Shape(String),
    /// The JSON type is right but the text or number is not allowed: issue type `value`.
    Value(String),
}

const YEAR: &str = r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)";
const TIME: &str = r"([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?";
const ZONE: &str = r"(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))";

fn full(pattern: &str) -> Regex {
    // The patterns are constants of this file, checked by the unit tests.
    #[allow(clippy::expect_used)]
    Regex::new(&format!("^(?:{pattern})$")).expect("valid FHIR primitive regex")
}

static DATE: LazyLock<Regex> = LazyLock::new(|| {
    full(&format!(
        r"{YEAR}(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1]))?)?"
    ))
});
static DATE_TIME: LazyLock<Regex> = LazyLock::new(|| {
    full(&format!(
        r"{YEAR}(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])(T{TIME}{ZONE})?)?)?"
    ))
});
static INSTANT: LazyLock<Regex> = LazyLock::new(|| {
    full(&format!(
        r"{YEAR}-(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|3[0-1])T{TIME}{ZONE}"
    ))
});
static TIME_RE: LazyLock<Regex> = LazyLock::new(|| full(TIME));
// `\s` and `\S` in the specification are Java's ASCII classes, not Unicode ones: a narrow
// no-break space (U+202F) is a valid part of a string.
const WS: &str = r"[ \t\n\x0B\f\r]";
const NON_WS: &str = r"[^ \t\n\x0B\f\r]";

static CODE: LazyLock<Regex> = LazyLock::new(|| full(&format!("{NON_WS}+({WS}{NON_WS}+)*")));
static ID: LazyLock<Regex> = LazyLock::new(|| full(r"[A-Za-z0-9\-\.]{1,64}"));
static URI: LazyLock<Regex> = LazyLock::new(|| full(&format!("{NON_WS}*")));
static BASE64: LazyLock<Regex> =
    LazyLock::new(|| full(&format!(r"({WS}*([0-9a-zA-Z\+/=]){{4}}{WS}*)+")));
static STRING: LazyLock<Regex> = LazyLock::new(|| full(&format!(r"([ \r\n\t]|{NON_WS})+")));

/// The regex of the id type, for reference checks.
pub(super) fn is_id(text: &str) -> bool {
    ID.is_match(text)
}

/// Checks one JSON value against a primitive type.
pub(super) fn check(prim: Prim, value: &Value) -> Result<(), PrimError> {
    let name = prim.name();
    match prim {
        Prim::Boolean => match value {
            Value::Bool(_) => Ok(()),
            other => Err(shape(name, "true or false", other)),
        },
        Prim::Integer | Prim::UnsignedInt | Prim::PositiveInt => {
            let Some(n) = value.as_i64().filter(|_| !value.is_f64()) else {
                return Err(shape(name, "a JSON integer", value));
            };
            let min = match prim {
                Prim::PositiveInt => 1,
                Prim::UnsignedInt => 0,
                _ => i64::from(i32::MIN),
            };
            if n < min || n > i64::from(i32::MAX) {
                return Err(PrimError::Value(format!(
                    "{n} is out of range for {name} ({min} to {})",
                    i32::MAX
                )));
            }
            Ok(())
        }
        Prim::Decimal => match value {
            Value::Number(_) => Ok(()),
            other => Err(shape(name, "a JSON number", other)),
        },
        _ => {
            let Value::String(text) = value else {
                return Err(shape(name, "a JSON string", value));
            };
            check_text(prim, text)
        }
    }
}

fn check_text(prim: Prim, text: &str) -> Result<(), PrimError> {
    let regex: &Regex = match prim {
        Prim::String | Prim::Markdown => &STRING,
        Prim::Code => &CODE,
        Prim::Id => &ID,
        Prim::Uri | Prim::Url | Prim::Canonical => &URI,
        Prim::Base64Binary => &BASE64,
        Prim::Date => &DATE,
        Prim::DateTime => &DATE_TIME,
        Prim::Instant => &INSTANT,
        Prim::Time => &TIME_RE,
        Prim::Xhtml => {
            return if text.trim_start().starts_with("<div") {
                Ok(())
            } else {
                Err(PrimError::Value(
                    "xhtml must be a single <div> element".to_owned(),
                ))
            };
        }
        _ => return Ok(()),
    };
    if text.is_empty() {
        return Err(PrimError::Value(format!(
            "an empty string is not a valid {}; leave the element out instead",
            prim.name()
        )));
    }
    if !regex.is_match(text) {
        return Err(PrimError::Value(format!(
            "\"{}\" is not a valid {}",
            clip(text),
            prim.name()
        )));
    }
    if matches!(prim, Prim::Date | Prim::DateTime | Prim::Instant) && !real_day(text) {
        return Err(PrimError::Value(format!(
            "\"{}\" is not a day of the calendar",
            clip(text)
        )));
    }
    Ok(())
}

/// False for a full date the calendar lacks (2023-02-30); partial dates are fine.
fn real_day(text: &str) -> bool {
    let (Some(y), Some(m), Some(d)) = (text.get(0..4), text.get(5..7), text.get(8..10)) else {
        return true;
    };
    let (Ok(y), Ok(m), Ok(d)) = (y.parse::<i32>(), m.parse::<u8>(), d.parse::<u8>()) else {
        return true;
    };
    time::Month::try_from(m)
        .and_then(|m| time::Date::from_calendar_date(y, m, d))
        .is_ok()
}

fn shape(name: &str, expected: &str, found: &Value) -> PrimError {
    let kind = match found {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    };
    PrimError::Shape(format!("{name} must be {expected}, found {kind}"))
}

/// Values quoted in messages are cut short: they may be long, and the message is about form.
pub(super) fn clip(text: &str) -> String {
    const MAX: usize = 60;
    if text.chars().count() <= MAX {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(MAX).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(prim: Prim, value: Value) -> bool {
        check(prim, &value).is_ok()
    }

    #[test]
    fn dates_follow_the_spec_regex_and_the_calendar() {
        for good in ["2024", "2024-02", "2024-02-29", "1905-08-23"] {
            assert!(ok(Prim::Date, json!(good)), "{good}");
        }
        for bad in [
            "24-01-01",
            "2024-13",
            "2024-1-5",
            "2023-02-29",
            "2024-01-01T10:00:00Z",
            "",
        ] {
            assert!(!ok(Prim::Date, json!(bad)), "{bad}");
        }
    }

    #[test]
    fn date_times_need_a_zone_when_they_have_a_time() {
        assert!(ok(Prim::DateTime, json!("2024-05-01T13:45:00+02:00")));
        assert!(ok(Prim::DateTime, json!("2024-05-01")));
        assert!(ok(Prim::DateTime, json!("2024-05-01T13:45:00.123Z")));
        assert!(!ok(Prim::DateTime, json!("2024-05-01T13:45:00")));
        assert!(!ok(Prim::DateTime, json!("2024-05-01T13:45Z")));
        assert!(!ok(Prim::DateTime, json!("2024-04-31T10:00:00Z")));
    }

    #[test]
    fn instants_are_complete() {
        assert!(ok(Prim::Instant, json!("2024-05-01T13:45:00Z")));
        assert!(!ok(Prim::Instant, json!("2024-05-01")));
        assert!(!ok(Prim::Instant, json!("2024-05-01T13:45:00")));
    }

    #[test]
    fn times() {
        assert!(ok(Prim::Time, json!("23:59:60")));
        assert!(!ok(Prim::Time, json!("24:00:00")));
    }

    #[test]
    fn ids_codes_uris() {
        assert!(ok(Prim::Id, json!("abc-1.2")));
        assert!(!ok(Prim::Id, json!("abc_1")));
        assert!(!ok(Prim::Id, json!("a".repeat(65))));
        assert!(ok(Prim::Code, json!("entered-in-error")));
        assert!(ok(Prim::Code, json!("mm[Hg]")));
        assert!(!ok(Prim::Code, json!(" final")));
        assert!(!ok(Prim::Code, json!("a  b")));
        assert!(ok(Prim::Uri, json!("http://loinc.org")));
        assert!(!ok(Prim::Uri, json!("http://a b")));
        assert!(!ok(Prim::Uri, json!("")));
    }

    #[test]
    fn numbers_and_booleans_are_json_types_not_strings() {
        assert!(ok(Prim::Boolean, json!(true)));
        assert!(!ok(Prim::Boolean, json!("true")));
        assert!(ok(Prim::Decimal, json!(1.5)));
        assert!(ok(Prim::Decimal, json!(2)));
        assert!(!ok(Prim::Decimal, json!("1.5")));
        assert!(ok(Prim::Integer, json!(-3)));
        assert!(!ok(Prim::Integer, json!(1.5)));
        assert!(!ok(Prim::Integer, json!(3_000_000_000_i64)));
        assert!(ok(Prim::UnsignedInt, json!(0)));
        assert!(!ok(Prim::UnsignedInt, json!(-1)));
        assert!(ok(Prim::PositiveInt, json!(1)));
        assert!(!ok(Prim::PositiveInt, json!(0)));
    }

    #[test]
    fn strings_base64_xhtml() {
        assert!(ok(Prim::String, json!("Jane")));
        assert!(!ok(Prim::String, json!("")));
        assert!(!ok(Prim::String, json!(5)));
        assert!(ok(Prim::String, json!("Acme\u{202f}Healthcare")));
        assert!(!ok(Prim::String, json!("form\u{000c}feed")));
        assert!(ok(Prim::Base64Binary, json!("SGVsbG8=")));
        assert!(!ok(Prim::Base64Binary, json!("not base64!")));
        assert!(ok(
            Prim::Xhtml,
            json!("<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>")
        ));
        assert!(!ok(Prim::Xhtml, json!("<p>x</p>")));
    }

    #[test]
    fn wrong_json_types_are_shape_errors_and_bad_text_is_a_value_error() {
        assert!(matches!(
            check(Prim::Date, &json!(2024)),
            Err(PrimError::Shape(_))
        ));
        assert!(matches!(
            check(Prim::Date, &json!("May 1")),
            Err(PrimError::Value(_))
        ));
    }
}
