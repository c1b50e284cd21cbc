//! Record validation: required fields, JSON types, formats (date, dateTime, email, phone,
//! US ZIP), enumerations and lengths, declared per field in a mapping file's
//! `[entity.validate]` table. Every failed rule of every field is reported, so an analyst
//! fixes a record in one pass.

use serde::Deserialize;
use serde_json::Value;

use super::error::FieldError;
use super::path::{JsonField, kind_of};
use super::transform::{Region, parse_iso, phone_normalize};

/// The JSON type a field must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ValueType {
    /// Text.
    String,
    /// Any number.
    Number,
    /// A whole number.
    Integer,
    /// `true` or `false`.
    Boolean,
    /// A JSON object.
    Object,
    /// A JSON list.
    Array,
}

/// A text format a field must follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Format {
    /// `YYYY-MM-DD` (or `YYYY`, `YYYY-MM`, as FHIR `date`), a real calendar day.
    #[serde(rename = "date")]
    Date,
    /// `YYYY-MM-DDTHH:MM[:SS[.f]][Z|±HH:MM]`.
    #[serde(rename = "dateTime")]
    DateTime,
    /// `name@domain.tld`, no spaces.
    #[serde(rename = "email")]
    Email,
    /// A phone number `normalize_phone` accepts (US/NANP, or `+` international).
    #[serde(rename = "phone")]
    Phone,
    /// US ZIP: `12345` or `12345-6789`.
    #[serde(rename = "zip")]
    Zip,
}

/// The rules for one field, as written in `[entity.validate]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// The field must be present and not blank.
    #[serde(default)]
    pub required: bool,
    /// The JSON type.
    #[serde(rename = "type")]
    pub value_type: Option<ValueType>,
    /// The text format.
    pub format: Option<Format>,
    /// The allowed values.
    #[serde(rename = "enum")]
    pub one_of: Option<Vec<Value>>,
    /// Fewest characters (text) or items (list).
    pub min_length: Option<usize>,
    /// Most characters (text) or items (list).
    pub max_length: Option<usize>,
}

/// Rules for the fields of a record, each field named by a JSONPath (`email`, `address.zip`).
#[derive(Debug, Clone, Default)]
pub struct RecordRules {
    fields: Vec<(JsonField, Rule)>,
}

impl RecordRules {
    /// Compiles field paths; the error names the path that does not parse.
    pub fn new(rules: impl IntoIterator<Item = (String, Rule)>) -> Result<RecordRules, String> {
        let fields = rules
            .into_iter()
            .map(|(path, rule)| Ok((JsonField::parse(&path)?, rule)))
            .collect::<Result<_, String>>()?;
        Ok(RecordRules { fields })
    }

    /// Whether there is no rule at all.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

/// One failed rule.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidationError {
    /// The field path, as written in the rules.
    pub field: String,
    /// `required`, `type`, `format`, `enum`, `min_length` or `max_length`.
    pub rule: &'static str,
    /// The value, when there is one.
    pub value: Option<Value>,
    /// What is wrong.
    pub message: String,
}

impl From<ValidationError> for FieldError {
    fn from(e: ValidationError) -> Self {
        FieldError::new(e.field, e.rule, e.value.as_ref(), e.message)
    }
}

/// Checks `record` against every rule and returns every failure (empty when valid).
pub fn validate_record(record: &Value, rules: &RecordRules) -> Vec<ValidationError> {
    let mut errors = Vec::new();
    for (path, rule) in &rules.fields {
        let value = path.get(record).filter(|v| !is_blank(v));
        let mut fail = |rule: &'static str, message: String| {
            errors.push(ValidationError {
                field: path.as_str().to_string(),
                rule,
                value: value.cloned(),
                message,
            });
        };
        let Some(value) = value else {
            if rule.required {
                fail("required", "is required but missing".into());
            }
            continue;
        };
        if let Some(t) = rule.value_type
            && !has_type(value, t)
        {
            fail(
                "type",
                format!("is {}, not {t:?}", kind_of(value)).to_lowercase(),
            );
        }
        if let Some(format) = rule.format
            && let Err(why) = check_format(value, format)
        {
            fail("format", why);
        }
        if let Some(allowed) = &rule.one_of
            && !allowed.contains(value)
        {
            let list: Vec<String> = allowed.iter().map(Value::to_string).collect();
            fail("enum", format!("is not one of {}", list.join(", ")));
        }
        let length = match value {
            Value::String(s) => Some(s.chars().count()),
            Value::Array(items) => Some(items.len()),
            _ => None,
        };
        if let (Some(n), Some(min)) = (length, rule.min_length)
            && n < min
        {
            fail("min_length", format!("has length {n}, less than {min}"));
        }
        if let (Some(n), Some(max)) = (length, rule.max_length)
            && n > max
        {
            fail("max_length", format!("has length {n}, more than {max}"));
        }
    }
    errors
}

fn is_blank(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        _ => false,
    }
}

fn has_type(value: &Value, t: ValueType) -> bool {
    match t {
        ValueType::String => value.is_string(),
        ValueType::Number => value.is_number(),
        ValueType::Integer => value.is_i64() || value.is_u64(),
        ValueType::Boolean => value.is_boolean(),
        ValueType::Object => value.is_object(),
        ValueType::Array => value.is_array(),
    }
}

fn check_format(value: &Value, format: Format) -> Result<(), String> {
    let Value::String(text) = value else {
        return Err(format!("is {}, not text", kind_of(value)));
    };
    let ok = match format {
        Format::Date => parse_iso(text).is_ok_and(|s| s.hour.is_none()),
        Format::DateTime => parse_iso(text).is_ok_and(|s| s.hour.is_some()),
        Format::Email => is_email(text),
        Format::Phone => phone_normalize(text, Region::Us).is_ok(),
        Format::Zip => is_zip(text),
    };
    if ok {
        Ok(())
    } else {
        let what = match format {
            Format::Date => "a date (YYYY-MM-DD)",
            Format::DateTime => "a date-time (YYYY-MM-DDTHH:MM:SS±HH:MM)",
            Format::Email => "an email address",
            Format::Phone => "a phone number",
            Format::Zip => "a US ZIP code (12345 or 12345-6789)",
        };
        Err(format!("is not {what}"))
    }
}

fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    let clean = |s: &str| !s.is_empty() && !s.contains(|c: char| c.is_whitespace() || c == '@');
    clean(local)
        && clean(domain)
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
}

fn is_zip(text: &str) -> bool {
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    match text.split_once('-') {
        Some((five, four)) => digits(five, 5) && digits(four, 4),
        None => digits(text, 5),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules(text: &str) -> RecordRules {
        let map: std::collections::BTreeMap<String, Rule> = toml::from_str(text).unwrap();
        RecordRules::new(map).unwrap()
    }

    #[test]
    fn a_valid_record_has_no_errors() {
        let r = rules(
            r#"
            email = { format = "email", required = true }
            dob = { format = "date" }
            seen = { format = "dateTime" }
            phone = { format = "phone" }
            "address.zip" = { format = "zip" }
            gender = { enum = ["male", "female", "other", "unknown"] }
            mrn = { type = "string", min_length = 3, max_length = 10 }
            "#,
        );
        let record = json!({
            "email": "jane@example.org", "dob": "1980-01-31", "seen": "2024-01-01T10:00:00Z",
            "phone": "(555) 234-5678", "address": {"zip": "12345-6789"}, "gender": "female",
            "mrn": "A123"
        });
        assert_eq!(validate_record(&record, &r), vec![]);
    }

    #[test]
    fn every_reason_is_reported() {
        let r = rules(
            r#"
            email = { format = "email", required = true }
            lastName = { required = true }
            dob = { format = "date" }
            seen = { format = "dateTime" }
            phone = { format = "phone" }
            zip = { format = "zip" }
            gender = { enum = ["male", "female"] }
            mrn = { type = "string", min_length = 3, max_length = 4 }
            tags = { type = "array", max_length = 1 }
            age = { type = "integer" }
            "#,
        );
        let record = json!({
            "email": "jane@example", "lastName": "  ", "dob": "1980-02-30", "seen": "1980-02-01",
            "phone": "555-12", "zip": "1234", "gender": "F", "mrn": 12345, "tags": ["a", "b"],
            "age": 3.5
        });
        let errors = validate_record(&record, &r);
        let got: Vec<(&str, &str)> = errors.iter().map(|e| (e.field.as_str(), e.rule)).collect();
        assert_eq!(
            got,
            [
                ("age", "type"),
                ("dob", "format"),
                ("email", "format"),
                ("gender", "enum"),
                ("lastName", "required"),
                ("mrn", "type"),
                ("phone", "format"),
                ("seen", "format"),
                ("tags", "max_length"),
                ("zip", "format"),
            ]
        );
        let email = &errors[2];
        assert_eq!(email.value, Some(json!("jane@example")));
        assert_eq!(email.message, "is not an email address");
        assert!(
            errors[0].message.contains("is a number, not integer"),
            "{}",
            errors[0].message
        );
    }

    #[test]
    fn emails_and_zips() {
        for ok in ["a@b.co", "first.last+tag@sub.example.org"] {
            assert!(is_email(ok), "{ok}");
        }
        for bad in ["a@b", "@b.co", "a b@c.de", "a@@b.co", "a@.b.co", "a@b..co"] {
            assert!(!is_email(bad), "{bad}");
        }
        assert!(is_zip("02134") && is_zip("02134-0001"));
        assert!(!is_zip("2134") && !is_zip("02134-01") && !is_zip("ABCDE"));
    }

    #[test]
    fn unknown_rule_keys_are_refused() {
        let err = toml::from_str::<Rule>("fromat = \"date\"").unwrap_err();
        assert!(err.to_string().contains("unknown field `fromat`"), "{err}");
    }
}
