//! Building a [`Transform`] from its name and arguments, once, when a mapping is loaded.

use regex::Regex;
use serde_json::{Map, Value};

use super::args::Args;
use super::pattern::Pattern;
use super::phone::Region;
use super::{GenderCodes, NameOrder, Side, Transform};
use crate::mapping::path::JsonField;

/// Every function name, for "unknown function" messages and the README check.
pub const FUNCTION_NAMES: &[&str] = &[
    "trim",
    "lowercase",
    "uppercase",
    "capitalize",
    "date_to_iso",
    "date_from_iso",
    "date_to_unix",
    "unix_to_date",
    "hl7_ts_to_iso",
    "iso_to_hl7_ts",
    "normalize_phone",
    "format_phone_us",
    "to_boolean",
    "to_number",
    "to_string",
    "round",
    "normalize_gender",
    "json_parse",
    "json_stringify",
    "full_name",
    "split_name",
    "default",
    "lookup",
    "regex_replace",
    "substring",
    "pad",
    "concat",
];

impl Transform {
    /// A function from a chain entry as written in a mapping file (converted to JSON): a name
    /// (`"trim"`) or a table with `fn` and named arguments (`{ fn = "pad", width = 5 }`).
    pub fn from_spec(spec: &Value) -> Result<Transform, String> {
        match spec {
            Value::String(name) => Transform::build(name, &Map::new()),
            Value::Object(map) => match map.get("fn") {
                Some(Value::String(name)) => Transform::build(name, map),
                _ => Err("a transform table needs `fn = \"name\"`".to_string()),
            },
            _ => {
                Err("a transform is a function name or a table `{ fn = \"name\", … }`".to_string())
            }
        }
    }

    /// The function `name` with its named `args` (a `fn` key among them is ignored). Unknown
    /// names and arguments, and arguments of the wrong type, are errors.
    pub fn build(name: &str, args: &Map<String, Value>) -> Result<Transform, String> {
        let mut a = Args::new(name, args);
        let t = match name {
            "trim" => Transform::Trim,
            "lowercase" => Transform::Lowercase,
            "uppercase" => Transform::Uppercase,
            "capitalize" => Transform::Capitalize,
            "date_to_iso" => Transform::DateToIso {
                format: a
                    .string("format")?
                    .map(|f| Pattern::parse(&f))
                    .transpose()?,
            },
            "date_from_iso" => Transform::DateFromIso {
                format: Pattern::parse(&a.required_string("format")?)?,
            },
            "date_to_unix" => Transform::DateToUnix,
            "unix_to_date" => Transform::UnixToDate,
            "hl7_ts_to_iso" => Transform::Hl7TsToIso,
            "iso_to_hl7_ts" => Transform::IsoToHl7Ts,
            "normalize_phone" => Transform::NormalizePhone {
                region: Region::parse(&a.string("region")?.unwrap_or_else(|| "US".into()))?,
            },
            "format_phone_us" => Transform::FormatPhoneUs,
            "to_boolean" => Transform::ToBoolean,
            "to_number" => Transform::ToNumber,
            "to_string" => Transform::ToString,
            "round" => Transform::Round {
                digits: match a.count("digits")? {
                    None => 0,
                    Some(d) if d <= 15 => d as u32,
                    Some(_) => return Err("`round`: `digits` must be at most 15".into()),
                },
            },
            "normalize_gender" => Transform::NormalizeGender {
                to: match a.choice("to", &["fhir", "hl7"], "fhir")?.as_str() {
                    "hl7" => GenderCodes::Hl7,
                    _ => GenderCodes::Fhir,
                },
            },
            "json_parse" => Transform::JsonParse,
            "json_stringify" => Transform::JsonStringify,
            "full_name" => Transform::FullName {
                order: match a
                    .choice("order", &["given_family", "family_given"], "given_family")?
                    .as_str()
                {
                    "family_given" => NameOrder::FamilyGiven,
                    _ => NameOrder::GivenFamily,
                },
            },
            "split_name" => Transform::SplitName,
            "default" => Transform::Default {
                value: a
                    .value("value")
                    .ok_or("`default` needs the argument `value`")?,
            },
            "lookup" => Transform::Lookup {
                table: a.required_string("table")?,
                default: a.string("default")?,
                reverse: a.boolean("reverse")?.unwrap_or(false),
            },
            "regex_replace" => {
                let pattern = a.required_string("pattern")?;
                Transform::RegexReplace {
                    pattern: Regex::new(&pattern)
                        .map_err(|e| format!("`regex_replace`: bad `pattern`: {e}"))?,
                    replacement: a.string("replacement")?.unwrap_or_default(),
                }
            }
            "substring" => Transform::Substring {
                start: a.count("start")?.unwrap_or(0),
                length: a.count("length")?,
            },
            "pad" => {
                let width = a
                    .count("width")?
                    .ok_or("`pad` needs the argument `width`")?;
                let with = a.string("with")?.unwrap_or_else(|| " ".into());
                let mut chars = with.chars();
                let (Some(c), None) = (chars.next(), chars.next()) else {
                    return Err("`pad`: `with` must be exactly one character".into());
                };
                let side = match a.choice("side", &["left", "right"], "left")?.as_str() {
                    "right" => Side::Right,
                    _ => Side::Left,
                };
                Transform::Pad {
                    width,
                    with: c,
                    side,
                }
            }
            "concat" => Transform::Concat {
                fields: a
                    .strings("fields")?
                    .iter()
                    .map(|f| JsonField::parse(f))
                    .collect::<Result<_, _>>()
                    .map_err(|e| format!("`concat`: {e}"))?,
                separator: a.string("separator")?.unwrap_or_else(|| " ".into()),
                prefix: a.string("prefix")?.unwrap_or_default(),
                suffix: a.string("suffix")?.unwrap_or_default(),
            },
            _ => {
                let hint = closest(name, FUNCTION_NAMES)
                    .map(|n| format!(" (did you mean `{n}`?)"))
                    .unwrap_or_default();
                return Err(format!("unknown transform function `{name}`{hint}"));
            }
        };
        a.finish()?;
        Ok(t)
    }
}

/// The known name nearest to a misspelled one, if it is within a third of its length.
/// (The mapping library stays independent of the engine, so it does not use `channel`'s.)
pub(crate) fn closest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(1);
    known
        .iter()
        .map(|k| (levenshtein(name, k), *k))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, k)| k)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}
