//! Transform functions: small, named conversions a field's value goes through on its way
//! between a local record and a remote system (`trim`, `normalize_phone`, `hl7_ts_to_iso`, …).
//!
//! A chain is a list of [`Transform`]s applied in order ([`apply_chain`]). Each function takes
//! its arguments once, when the mapping is loaded ([`Transform::build`]), so a bad regex or an
//! unknown lookup option is a load error, not a per-record one. At run time bad input is an
//! error naming the field, the function and the value, never a panic and never a value passed
//! through unchanged.
//!
//! Absent values (`null`) pass through every function except `default`. For the conversion
//! functions (dates, phone, gender, numbers, booleans) empty text also counts as absent, since
//! HL7 and CSV sources send empty fields as "".
//!
//! Most functions have an inverse ([`Transform::inverse`]): a mapping's chain is written for
//! the push direction (local → remote) and run backwards, each step inverted, on pull.

mod args;
mod build;
mod codes;
mod convert;
mod dates;
mod names;
mod pattern;
mod phone;
mod text;

use std::collections::HashMap;

use regex::Regex;
use serde_json::Value;

pub use build::FUNCTION_NAMES;
pub(crate) use dates::parse_iso;
pub use pattern::Pattern;
pub use phone::Region;
pub(crate) use phone::normalize as phone_normalize;

use super::error::FieldError;
use super::path::JsonField;

/// Lookup tables by name, each mapping a code to its translation (`"M" → "male"`). The script
/// layer loads them from CSV files; mapping files may define some inline.
pub type LookupTables = HashMap<String, HashMap<String, String>>;

/// What a function may look at besides the value: the lookup tables, the record the value
/// came from (for `concat`), and the field name for error messages.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// Tables for `lookup`.
    pub lookups: &'a LookupTables,
    /// The record being mapped (local on push, remote on pull).
    pub record: &'a Value,
    /// The field, as named in errors.
    pub field: &'a str,
}

/// HL7 v2 (table 0001) or FHIR (AdministrativeGender) codes, for `normalize_gender`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GenderCodes {
    /// `M`, `F`, `O`, `U` (and `A`, `N` on input).
    Hl7,
    /// `male`, `female`, `other`, `unknown`.
    Fhir,
}

/// Which way `full_name` writes a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameOrder {
    /// `Jane Q Doe`.
    GivenFamily,
    /// `Doe, Jane Q`.
    FamilyGiven,
}

/// Where `pad` adds characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// In front: `42` → `00042`.
    Left,
    /// Behind: `AB` → `AB   `.
    Right,
}

/// One transform function with its arguments. See `mappings/README.md` for the analyst's
/// reference with an example of each.
#[derive(Debug, Clone)]
pub enum Transform {
    /// Removes leading and trailing white space.
    Trim,
    /// Lower-cases text.
    Lowercase,
    /// Upper-cases text.
    Uppercase,
    /// Upper-cases the first letter of each word and lower-cases the rest.
    Capitalize,
    /// Reads a date or date-time (ISO, HL7, `MM/DD/YYYY`, or the given pattern) and writes ISO 8601.
    DateToIso {
        /// The input pattern; `None` accepts ISO, HL7 and US `M/D/YYYY`.
        format: Option<Pattern>,
    },
    /// Reads an ISO 8601 date or date-time and writes it in the given pattern.
    DateFromIso {
        /// The output pattern.
        format: Pattern,
    },
    /// ISO date or date-time → seconds since 1970-01-01 UTC.
    DateToUnix,
    /// Seconds since 1970-01-01 UTC → ISO date-time in UTC.
    UnixToDate,
    /// HL7 TS/DTM (`20240131123000-0500`) → ISO 8601 (`2024-01-31T12:30:00-05:00`).
    Hl7TsToIso,
    /// ISO 8601 → HL7 TS/DTM.
    IsoToHl7Ts,
    /// Any phone notation → E.164 (`+15551234567`).
    NormalizePhone {
        /// The region assumed for numbers without `+`.
        region: Region,
    },
    /// A NANP number → `(555) 123-4567`.
    FormatPhoneUs,
    /// `yes`/`no`, `Y`/`N`, `1`/`0`, `true`/`false`, `on`/`off` → a boolean.
    ToBoolean,
    /// Numeric text → a number.
    ToNumber,
    /// A number or boolean → text.
    ToString,
    /// Rounds a number to some decimals.
    Round {
        /// Decimals kept.
        digits: u32,
    },
    /// HL7 `M/F/O/U/A/N` ⇄ FHIR `male/female/other/unknown`.
    NormalizeGender {
        /// The code system written.
        to: GenderCodes,
    },
    /// Text holding JSON → that JSON value.
    JsonParse,
    /// A JSON value → its compact text.
    JsonStringify,
    /// A name object (FHIR HumanName, or first/middle/last) or list of parts → one string.
    FullName {
        /// Given names first, or family name first with a comma.
        order: NameOrder,
    },
    /// One name string → `{ "given": [...], "family": ... }`.
    SplitName,
    /// Replaces an absent or blank value with a fixed one.
    Default {
        /// The value used.
        value: Value,
    },
    /// Translates a code through a lookup table.
    Lookup {
        /// The table's name.
        table: String,
        /// Used when the code is not in the table; without it that is an error.
        default: Option<String>,
        /// Translate from value back to key.
        reverse: bool,
    },
    /// Replaces every match of a regular expression.
    RegexReplace {
        /// The expression (Rust `regex` syntax).
        pattern: Regex,
        /// The replacement; `$1` or `${name}` insert groups.
        replacement: String,
    },
    /// Keeps part of the text, by characters.
    Substring {
        /// First character kept, 0-based.
        start: usize,
        /// How many characters; `None` keeps the rest.
        length: Option<usize>,
    },
    /// Pads text to a width.
    Pad {
        /// The minimum width in characters.
        width: usize,
        /// The padding character.
        with: char,
        /// Where padding goes.
        side: Side,
    },
    /// Joins the value with other fields of the record and fixed text.
    Concat {
        /// Other fields, read from the record being mapped.
        fields: Vec<JsonField>,
        /// Put between the non-empty parts.
        separator: String,
        /// Put in front of the result.
        prefix: String,
        /// Put after the result.
        suffix: String,
    },
}

/// How a function runs when a chain travels the other way.
#[derive(Debug, Clone)]
pub enum Inverse {
    /// This function undoes it (`date_to_iso` → `date_from_iso`).
    Is(Transform),
    /// It runs unchanged: it cleans up whatever comes (`trim`, `normalize_phone`).
    Same,
    /// It has none (`concat`, `substring`): give a `push` and a `pull` chain instead.
    Undefined,
}

impl Transform {
    /// The function's name as written in mapping files.
    pub fn name(&self) -> &'static str {
        match self {
            Transform::Trim => "trim",
            Transform::Lowercase => "lowercase",
            Transform::Uppercase => "uppercase",
            Transform::Capitalize => "capitalize",
            Transform::DateToIso { .. } => "date_to_iso",
            Transform::DateFromIso { .. } => "date_from_iso",
            Transform::DateToUnix => "date_to_unix",
            Transform::UnixToDate => "unix_to_date",
            Transform::Hl7TsToIso => "hl7_ts_to_iso",
            Transform::IsoToHl7Ts => "iso_to_hl7_ts",
            Transform::NormalizePhone { .. } => "normalize_phone",
            Transform::FormatPhoneUs => "format_phone_us",
            Transform::ToBoolean => "to_boolean",
            Transform::ToNumber => "to_number",
            Transform::ToString => "to_string",
            Transform::Round { .. } => "round",
            Transform::NormalizeGender { .. } => "normalize_gender",
            Transform::JsonParse => "json_parse",
            Transform::JsonStringify => "json_stringify",
            Transform::FullName { .. } => "full_name",
            Transform::SplitName => "split_name",
            Transform::Default { .. } => "default",
            Transform::Lookup { .. } => "lookup",
            Transform::RegexReplace { .. } => "regex_replace",
            Transform::Substring { .. } => "substring",
            Transform::Pad { .. } => "pad",
            Transform::Concat { .. } => "concat",
        }
    }

    /// The function that undoes this one, for chains run in the pull direction.
    pub fn inverse(&self) -> Inverse {
        use Transform as T;
        match self {
            T::Trim
            | T::Lowercase
            | T::Uppercase
            | T::Capitalize
            | T::NormalizePhone { .. }
            | T::FormatPhoneUs
            | T::ToBoolean
            | T::Round { .. }
            | T::Default { .. } => Inverse::Same,
            T::DateToIso { format: Some(f) } => Inverse::Is(T::DateFromIso { format: f.clone() }),
            T::DateToIso { format: None } => Inverse::Undefined,
            T::DateFromIso { format } => Inverse::Is(T::DateToIso {
                format: Some(format.clone()),
            }),
            T::DateToUnix => Inverse::Is(T::UnixToDate),
            T::UnixToDate => Inverse::Is(T::DateToUnix),
            T::Hl7TsToIso => Inverse::Is(T::IsoToHl7Ts),
            T::IsoToHl7Ts => Inverse::Is(T::Hl7TsToIso),
            T::ToNumber => Inverse::Is(T::ToString),
            T::ToString => Inverse::Is(T::ToNumber),
            T::NormalizeGender { to } => Inverse::Is(T::NormalizeGender {
                to: match to {
                    GenderCodes::Hl7 => GenderCodes::Fhir,
                    GenderCodes::Fhir => GenderCodes::Hl7,
                },
            }),
            T::JsonParse => Inverse::Is(T::JsonStringify),
            T::JsonStringify => Inverse::Is(T::JsonParse),
            T::FullName { .. } => Inverse::Is(T::SplitName),
            T::SplitName => Inverse::Is(T::FullName {
                order: NameOrder::GivenFamily,
            }),
            T::Lookup {
                table,
                default,
                reverse,
            } => Inverse::Is(T::Lookup {
                table: table.clone(),
                default: default.clone(),
                reverse: !reverse,
            }),
            T::RegexReplace { .. } | T::Substring { .. } | T::Pad { .. } | T::Concat { .. } => {
                Inverse::Undefined
            }
        }
    }

    /// Applies the function to one value; the error is the reason only (the caller names
    /// the field, function and value).
    pub fn apply(&self, value: Value, cx: &Context<'_>) -> Result<Value, String> {
        use Transform as T;
        match self {
            T::Default { value: default } => return Ok(convert::default(value, default)),
            T::Concat {
                fields,
                separator,
                prefix,
                suffix,
            } => return text::concat(&value, fields, separator, prefix, suffix, cx.record),
            _ if value.is_null() => return Ok(Value::Null),
            _ => {}
        }
        match self {
            T::Trim => text::map_text(&value, |s| s.trim().to_string()),
            T::Lowercase => text::map_text(&value, str::to_lowercase),
            T::Uppercase => text::map_text(&value, str::to_uppercase),
            T::Capitalize => text::map_text(&value, text::capitalize),
            T::RegexReplace {
                pattern,
                replacement,
            } => text::map_text(&value, |s| {
                pattern.replace_all(s, replacement.as_str()).into_owned()
            }),
            T::Substring { start, length } => {
                text::map_text(&value, |s| text::substring(s, *start, *length))
            }
            T::Pad { width, with, side } => {
                text::map_text(&value, |s| text::pad(s, *width, *with, *side))
            }
            T::DateToIso { format } => dates::to_iso(&value, format.as_ref()),
            T::DateFromIso { format } => dates::from_iso(&value, format),
            T::DateToUnix => dates::to_unix(&value),
            T::UnixToDate => dates::from_unix(&value),
            T::Hl7TsToIso => dates::hl7_to_iso(&value),
            T::IsoToHl7Ts => dates::iso_to_hl7(&value),
            T::NormalizePhone { region } => phone::normalize_value(&value, *region),
            T::FormatPhoneUs => phone::format_us_value(&value),
            T::ToBoolean => convert::to_boolean(&value),
            T::ToNumber => convert::to_number(&value),
            T::ToString => convert::to_string(&value),
            T::Round { digits } => convert::round(&value, *digits),
            T::JsonParse => convert::json_parse(&value),
            T::JsonStringify => convert::json_stringify(&value),
            T::NormalizeGender { to } => codes::gender(&value, *to),
            T::Lookup {
                table,
                default,
                reverse,
            } => codes::lookup(&value, cx.lookups, table, default.as_deref(), *reverse),
            T::FullName { order } => names::full_name(&value, *order),
            T::SplitName => names::split_name(&value),
            T::Default { .. } | T::Concat { .. } => Ok(value),
        }
    }
}

/// Runs `chain` over `value` in order. The first failing step stops the chain with an error
/// naming the field, that step's function and the value it was given.
pub fn apply_chain(
    chain: &[Transform],
    value: Value,
    cx: &Context<'_>,
) -> Result<Value, FieldError> {
    let mut current = value;
    for step in chain {
        let input = current.clone();
        current = step
            .apply(current, cx)
            .map_err(|message| FieldError::new(cx.field, step.name(), Some(&input), message))?;
    }
    Ok(current)
}

/// The chain to run in the pull direction: `chain` reversed, each step replaced by its
/// inverse; `Err(name)` names the first function that has none.
pub fn invert_chain(chain: &[Transform]) -> Result<Vec<Transform>, &'static str> {
    chain
        .iter()
        .rev()
        .map(|t| match t.inverse() {
            Inverse::Is(inv) => Ok(inv),
            Inverse::Same => Ok(t.clone()),
            Inverse::Undefined => Err(t.name()),
        })
        .collect()
}

#[cfg(test)]
mod tests;
