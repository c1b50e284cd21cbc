//! Type conversions: booleans, numbers, text, rounding, JSON text, and defaults.

use serde_json::{Number, Value};

use super::text::non_blank;
use crate::mapping::path::kind_of;

/// `value` unless it is absent or blank text, else `default`.
pub(super) fn default(value: Value, default: &Value) -> Value {
    match &value {
        Value::Null => default.clone(),
        Value::String(s) if s.trim().is_empty() => default.clone(),
        _ => value,
    }
}

/// Yes/no words, `1`/`0` and booleans → a boolean; anything else is refused.
pub(super) fn to_boolean(value: &Value) -> Result<Value, String> {
    match value {
        Value::Bool(_) => return Ok(value.clone()),
        Value::Number(n) if n.as_f64() == Some(1.0) => return Ok(Value::Bool(true)),
        Value::Number(n) if n.as_f64() == Some(0.0) => return Ok(Value::Bool(false)),
        _ => {}
    }
    let Some(text) = non_blank(value)? else {
        return Ok(Value::Null);
    };
    match text.to_ascii_lowercase().as_str() {
        "true" | "t" | "yes" | "y" | "1" | "on" => Ok(Value::Bool(true)),
        "false" | "f" | "no" | "n" | "0" | "off" => Ok(Value::Bool(false)),
        _ => Err("is not a yes/no value (true/false, yes/no, y/n, 1/0, on/off)".into()),
    }
}

/// Numeric text → an integer when it has no fraction, else a decimal. Thousands separators,
/// currency signs and `NaN` are refused rather than guessed at.
pub(super) fn to_number(value: &Value) -> Result<Value, String> {
    if value.is_number() {
        return Ok(value.clone());
    }
    let Some(text) = non_blank(value)? else {
        return Ok(Value::Null);
    };
    if let Ok(n) = text.parse::<i64>() {
        return Ok(Value::from(n));
    }
    let looks_decimal = text
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E'));
    text.parse::<f64>()
        .ok()
        .filter(|_| looks_decimal)
        .and_then(Number::from_f64)
        .map(Value::Number)
        .ok_or_else(|| "is not a number".to_string())
}

/// A number or boolean → its text; text passes; lists and objects are refused (use
/// `json_stringify`).
pub(super) fn to_string(value: &Value) -> Result<Value, String> {
    match value {
        Value::String(_) => Ok(value.clone()),
        Value::Number(n) => Ok(Value::String(n.to_string())),
        Value::Bool(b) => Ok(Value::String(b.to_string())),
        other => Err(format!(
            "expects a number or boolean, got {} (use json_stringify)",
            kind_of(other)
        )),
    }
}

/// Rounds half away from zero to `digits` decimals; with 0 digits the result is an integer.
pub(super) fn round(value: &Value, digits: u32) -> Result<Value, String> {
    let n = match to_number(value)? {
        Value::Number(n) => n,
        _ => return Ok(Value::Null),
    };
    if n.is_i64() || n.is_u64() {
        return Ok(Value::Number(n));
    }
    let x = n.as_f64().ok_or("is not a number")?;
    let scale = 10f64.powi(digits as i32);
    let rounded = (x * scale).round() / scale;
    if digits == 0 && rounded.abs() < 9.0e15 {
        return Ok(Value::from(rounded as i64));
    }
    Number::from_f64(rounded)
        .map(Value::Number)
        .ok_or_else(|| "is out of range".to_string())
}

/// Text holding JSON → the value.
pub(super) fn json_parse(value: &Value) -> Result<Value, String> {
    let Value::String(text) = value else {
        return Err(format!("expects JSON text, got {}", kind_of(value)));
    };
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(text).map_err(|e| format!("is not valid JSON: {e}"))
}

/// Any value → compact JSON text.
pub(super) fn json_stringify(value: &Value) -> Result<Value, String> {
    serde_json::to_string(value)
        .map(Value::String)
        .map_err(|e| format!("cannot be written as JSON: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn booleans_from_words() {
        for (input, out) in [("Yes", true), ("n", false), ("1", true), ("OFF", false)] {
            assert_eq!(to_boolean(&json!(input)).unwrap(), json!(out), "{input}");
        }
        assert_eq!(to_boolean(&json!(0)).unwrap(), json!(false));
        assert_eq!(to_boolean(&json!("")).unwrap(), Value::Null);
        assert!(to_boolean(&json!("maybe")).is_err());
        assert!(to_boolean(&json!(2)).is_err());
    }

    #[test]
    fn numbers_from_text() {
        assert_eq!(to_number(&json!(" 42 ")).unwrap(), json!(42));
        assert_eq!(to_number(&json!("-1.5")).unwrap(), json!(-1.5));
        assert_eq!(to_number(&json!(7)).unwrap(), json!(7));
        for bad in ["1,234", "$5", "NaN", "inf", "12abc"] {
            assert!(to_number(&json!(bad)).is_err(), "{bad}");
        }
        assert!(to_number(&json!([1])).is_err());
    }

    #[test]
    fn to_string_and_round() {
        assert_eq!(to_string(&json!(3.5)).unwrap(), json!("3.5"));
        assert_eq!(to_string(&json!(true)).unwrap(), json!("true"));
        assert!(to_string(&json!({})).is_err());
        assert_eq!(round(&json!(2.345), 2).unwrap(), json!(2.35));
        assert_eq!(round(&json!(-2.5), 0).unwrap(), json!(-3));
        assert_eq!(round(&json!("9.99"), 1).unwrap(), json!(10.0));
        assert_eq!(round(&json!(12), 2).unwrap(), json!(12));
        assert!(round(&json!("x"), 1).is_err());
    }

    #[test]
    fn json_both_ways_and_defaults() {
        assert_eq!(
            json_parse(&json!(r#"{"a":[1]}"#)).unwrap(),
            json!({"a": [1]})
        );
        assert!(
            json_parse(&json!("{oops"))
                .unwrap_err()
                .contains("not valid JSON")
        );
        assert!(json_parse(&json!(1)).is_err());
        assert_eq!(
            json_stringify(&json!({"a": [1]})).unwrap(),
            json!(r#"{"a":[1]}"#)
        );
        assert_eq!(default(Value::Null, &json!("U")), json!("U"));
        assert_eq!(default(json!("  "), &json!("U")), json!("U"));
        assert_eq!(default(json!("F"), &json!("U")), json!("F"));
    }
}
