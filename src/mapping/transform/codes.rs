//! Code translation: administrative gender between HL7 v2 and FHIR, and lookup tables.

use serde_json::Value;

use super::text::non_blank;
use super::{GenderCodes, LookupTables};

/// Any of `M/F/O/U/A/N` or `male/female/other/unknown` (any case) → the chosen system.
/// HL7 `A` (ambiguous) becomes FHIR `other` and `N` (not applicable) `unknown`; those two
/// cannot come back, so a round trip gives `O`/`U`.
pub(super) fn gender(value: &Value, to: GenderCodes) -> Result<Value, String> {
    let Some(text) = non_blank(value)? else {
        return Ok(Value::Null);
    };
    let (hl7, fhir) = match text.to_ascii_lowercase().as_str() {
        "m" | "male" => ("M", "male"),
        "f" | "female" => ("F", "female"),
        "o" | "other" | "a" | "ambiguous" => ("O", "other"),
        "u" | "unknown" | "n" | "not applicable" => ("U", "unknown"),
        _ => {
            return Err(
                "is not a gender code (HL7 M/F/O/U/A/N or FHIR male/female/other/unknown)".into(),
            );
        }
    };
    Ok(Value::String(
        match to {
            GenderCodes::Hl7 => hl7,
            GenderCodes::Fhir => fhir,
        }
        .to_string(),
    ))
}

/// Translates through `tables[table]`: key → value, or value → key when `reverse`. A code not
/// in the table takes `default`, or is an error; a reverse lookup that finds two keys is an
/// error rather than a guess.
pub(super) fn lookup(
    value: &Value,
    tables: &LookupTables,
    table: &str,
    default: Option<&str>,
    reverse: bool,
) -> Result<Value, String> {
    let Some(code) = non_blank(value)? else {
        return Ok(Value::Null);
    };
    let Some(entries) = tables.get(table) else {
        let mut known: Vec<&str> = tables.keys().map(String::as_str).collect();
        known.sort_unstable();
        return Err(format!(
            "lookup table `{table}` does not exist (known: {})",
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        ));
    };
    let found = if reverse {
        let mut keys: Vec<&String> = entries
            .iter()
            .filter(|(_, v)| **v == code)
            .map(|(k, _)| k)
            .collect();
        keys.sort_unstable();
        match keys.as_slice() {
            [] => None,
            [one] => Some((*one).clone()),
            many => {
                let list: Vec<&str> = many.iter().map(|k| k.as_str()).collect();
                return Err(format!(
                    "maps back to several codes in table `{table}` ({})",
                    list.join(", ")
                ));
            }
        }
    } else {
        entries.get(&code).cloned()
    };
    match (found, default) {
        (Some(v), _) => Ok(Value::String(v)),
        (None, Some(d)) => Ok(Value::String(d.to_string())),
        (None, None) => Err(format!(
            "is not in lookup table `{table}` and the lookup has no default"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::HashMap;

    #[test]
    fn gender_both_ways() {
        for (input, hl7, fhir) in [
            ("M", "M", "male"),
            ("female", "F", "female"),
            ("a", "O", "other"),
            ("N", "U", "unknown"),
            ("Unknown", "U", "unknown"),
        ] {
            assert_eq!(gender(&json!(input), GenderCodes::Hl7).unwrap(), json!(hl7));
            assert_eq!(
                gender(&json!(input), GenderCodes::Fhir).unwrap(),
                json!(fhir)
            );
        }
        assert!(gender(&json!("X"), GenderCodes::Fhir).is_err());
        assert_eq!(gender(&json!(""), GenderCodes::Fhir).unwrap(), Value::Null);
    }

    fn tables() -> LookupTables {
        let mut t = HashMap::new();
        t.insert(
            "race".to_string(),
            HashMap::from([
                ("2106-3".to_string(), "White".to_string()),
                ("2054-5".to_string(), "Black".to_string()),
                ("W".to_string(), "White".to_string()),
            ]),
        );
        t
    }

    #[test]
    fn lookup_forward_reverse_and_default() {
        let t = tables();
        assert_eq!(
            lookup(&json!("2054-5"), &t, "race", None, false).unwrap(),
            json!("Black")
        );
        assert_eq!(
            lookup(&json!("Black"), &t, "race", None, true).unwrap(),
            json!("2054-5")
        );
        assert_eq!(
            lookup(&json!("9"), &t, "race", Some("UNK"), false).unwrap(),
            json!("UNK")
        );
        let e = lookup(&json!("9"), &t, "race", None, false).unwrap_err();
        assert!(e.contains("`race`"), "{e}");
        let e = lookup(&json!("White"), &t, "race", None, true).unwrap_err();
        assert!(e.contains("2106-3, W"), "{e}");
        let e = lookup(&json!("x"), &t, "nope", None, false).unwrap_err();
        assert!(e.contains("known: race"), "{e}");
    }
}
