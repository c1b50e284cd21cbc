//! Text functions: case, trimming, parts of text, padding and joining.

use serde_json::Value;

use super::Side;
use crate::mapping::path::{JsonField, kind_of};

/// Applies `f` to text; numbers are taken as their text, anything else is refused.
pub(super) fn map_text(value: &Value, f: impl FnOnce(&str) -> String) -> Result<Value, String> {
    Ok(Value::String(f(&as_text(value)?)))
}

/// The text of a string or number; booleans, lists and objects are refused.
pub(super) fn as_text(value: &Value) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(format!("expects text, got {}", kind_of(other))),
    }
}

/// Text or `None` when blank, for conversions where "" means "no value".
pub(super) fn non_blank(value: &Value) -> Result<Option<String>, String> {
    let text = as_text(value)?;
    let trimmed = text.trim();
    Ok((!trimmed.is_empty()).then(|| trimmed.to_string()))
}

/// `mary-jane o'neil` → `Mary-Jane O'Neil`: words start after white space, `-` and `'`.
pub(super) fn capitalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut start_of_word = true;
    for c in text.chars() {
        if start_of_word {
            out.extend(c.to_uppercase());
        } else {
            out.extend(c.to_lowercase());
        }
        start_of_word = c.is_whitespace() || c == '-' || c == '\'';
    }
    out
}

/// Characters `start..start+length`; past the end gives "" (as JavaScript's `substr`).
pub(super) fn substring(text: &str, start: usize, length: Option<usize>) -> String {
    let rest = text.chars().skip(start);
    match length {
        Some(n) => rest.take(n).collect(),
        None => rest.collect(),
    }
}

/// Pads to `width` characters; longer text is kept whole, never cut.
pub(super) fn pad(text: &str, width: usize, with: char, side: Side) -> String {
    let missing = width.saturating_sub(text.chars().count());
    let padding: String = std::iter::repeat_n(with, missing).collect();
    match side {
        Side::Left => padding + text,
        Side::Right => format!("{text}{padding}"),
    }
}

/// The value and the other fields' values, blanks skipped, joined by `separator`, between
/// `prefix` and `suffix`; `null` when every part is blank.
pub(super) fn concat(
    value: &Value,
    fields: &[JsonField],
    separator: &str,
    prefix: &str,
    suffix: &str,
    record: &Value,
) -> Result<Value, String> {
    let mut parts = Vec::new();
    for (name, part) in std::iter::once(("the value", Some(value)))
        .chain(fields.iter().map(|f| (f.as_str(), f.get(record))))
    {
        match part {
            None | Some(Value::Null) => {}
            Some(v) => {
                let text = as_text(v).map_err(|e| format!("{name} {e}"))?;
                if !text.trim().is_empty() {
                    parts.push(text);
                }
            }
        }
    }
    if parts.is_empty() {
        return Ok(Value::Null);
    }
    Ok(Value::String(format!(
        "{prefix}{}{suffix}",
        parts.join(separator)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn capitalizes_each_word() {
        assert_eq!(capitalize("mary-jane o'neil"), "Mary-Jane O'Neil");
        assert_eq!(capitalize("JOHN  SMITH"), "John  Smith");
        assert_eq!(capitalize("émile"), "Émile");
    }

    #[test]
    fn substring_and_pad_count_characters() {
        assert_eq!(substring("Zoë Saldaña", 4, Some(3)), "Sal");
        assert_eq!(substring("abc", 5, None), "");
        assert_eq!(pad("42", 5, '0', Side::Left), "00042");
        assert_eq!(pad("né", 4, '.', Side::Right), "né..");
        assert_eq!(pad("123456", 3, '0', Side::Left), "123456");
    }

    #[test]
    fn concat_skips_blank_parts() {
        let record = json!({"middle": "", "last": "Doe", "n": 3});
        let fields = [
            JsonField::parse("middle").unwrap(),
            JsonField::parse("last").unwrap(),
        ];
        assert_eq!(
            concat(&json!("Jane"), &fields, " ", "<", ">", &record).unwrap(),
            json!("<Jane Doe>")
        );
        assert_eq!(
            concat(&Value::Null, &fields[..1], " ", "", "", &record).unwrap(),
            Value::Null
        );
        let bad = [JsonField::parse("missing").unwrap()];
        assert!(
            concat(&json!({"a": 1}), &bad, " ", "", "", &record)
                .unwrap_err()
                .contains("object")
        );
    }

    #[test]
    fn refuses_non_text() {
        assert_eq!(as_text(&json!(12)).unwrap(), "12");
        assert!(as_text(&json!(true)).unwrap_err().contains("boolean"));
        assert!(as_text(&json!([1])).unwrap_err().contains("array"));
    }
}
