//! Phone numbers: E.164 normalization (`+15551234567`) and US display format, without an
//! external library.
//!
//! Rules: `+` and `011` (the NANP international prefix) introduce an international number,
//! kept as written (8 to 15 digits). Otherwise the number belongs to the region (the North
//! American Numbering Plan for `US` and `CA`): 10 digits, or 11 starting with 1, with an area
//! code and exchange that start with 2–9. Extensions (`x12`, `ext. 12`, `#12`) are refused:
//! E.164 has no place for them, and dropping them would be a silent wrong value; keep them in
//! a field of their own. Letters (`1-800-FLOWERS`) are refused too.

use serde_json::Value;

use super::text::non_blank;

/// The region assumed for numbers written without `+`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Region {
    /// United States (NANP, country code 1).
    Us,
    /// Canada (NANP, country code 1).
    Ca,
}

impl Region {
    /// `US` or `CA`, any case.
    pub fn parse(text: &str) -> Result<Region, String> {
        match text.to_ascii_uppercase().as_str() {
            "US" => Ok(Region::Us),
            "CA" => Ok(Region::Ca),
            _ => Err(format!(
                "`normalize_phone`: region `{text}` is not supported (US or CA); numbers from elsewhere must be written with + and the country code"
            )),
        }
    }
}

/// `normalize_phone` on a JSON value.
pub(super) fn normalize_value(value: &Value, region: Region) -> Result<Value, String> {
    match non_blank(value)? {
        None => Ok(Value::Null),
        Some(text) => normalize(&text, region).map(Value::String),
    }
}

/// `format_phone_us` on a JSON value.
pub(super) fn format_us_value(value: &Value) -> Result<Value, String> {
    let Some(text) = non_blank(value)? else {
        return Ok(Value::Null);
    };
    let e164 = normalize(&text, Region::Us)?;
    match e164.strip_prefix("+1") {
        Some(n) if n.len() == 10 => Ok(Value::String(format!(
            "({}) {}-{}",
            &n[..3],
            &n[3..6],
            &n[6..]
        ))),
        _ => Err("is not a US/NANP number".into()),
    }
}

/// Any notation → E.164.
pub fn normalize(text: &str, _region: Region) -> Result<String, String> {
    let lower = text.to_ascii_lowercase();
    if lower.contains('x') || lower.contains("ext") || lower.contains('#') || lower.contains(';') {
        return Err("has an extension; E.164 has none, keep it in a separate field".into());
    }
    let trimmed = text.trim();
    let international = trimmed.starts_with('+');
    let mut digits = String::new();
    for (i, c) in trimmed.char_indices() {
        match c {
            '0'..='9' => digits.push(c),
            '+' if i == 0 => {}
            ' ' | '-' | '.' | '(' | ')' | '/' => {}
            c if c.is_alphabetic() => return Err("holds letters; write the digits".into()),
            _ => return Err(format!("holds `{c}`, which is not part of a phone number")),
        }
    }
    let international_digits = if international {
        Some(digits.as_str())
    } else {
        digits.strip_prefix("011")
    };
    if let Some(intl) = international_digits {
        if let Some(nanp) = intl.strip_prefix('1') {
            return nanp_number(nanp, intl.len());
        }
        if !(8..=15).contains(&intl.len()) || intl.starts_with('0') {
            return Err(format!(
                "has {} digits after the international prefix; E.164 allows 8 to 15, not starting with 0",
                intl.len()
            ));
        }
        return Ok(format!("+{intl}"));
    }
    match digits.len() {
        10 => nanp_number(&digits, 10),
        11 if digits.starts_with('1') => nanp_number(&digits[1..], 11),
        n => Err(format!(
            "has {n} digits; a US/Canadian number has 10 (or 11 starting with 1), others need + and the country code"
        )),
    }
}

/// Ten NANP digits (area code, exchange, line) → `+1…`.
fn nanp_number(ten: &str, written: usize) -> Result<String, String> {
    let b = ten.as_bytes();
    if b.len() != 10 {
        return Err(format!(
            "has {written} digits; a number with country code 1 has 11"
        ));
    }
    if b[0] < b'2' || b[3] < b'2' {
        return Err(
            "is not a valid North American number (area code and exchange start with 2-9)".into(),
        );
    }
    Ok(format!("+1{ten}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn normalizes_common_notations() {
        for input in [
            "(555) 234-5678",
            "555.234.5678",
            "555-234-5678",
            "1 555 234 5678",
            "+1 (555) 234-5678",
            "011 1 555 234 5678",
        ] {
            assert_eq!(
                normalize(input, Region::Us).unwrap(),
                "+15552345678",
                "{input}"
            );
        }
        assert_eq!(
            normalize("+44 20 7946 0958", Region::Us).unwrap(),
            "+442079460958"
        );
        assert_eq!(
            normalize("011 44 20 7946 0958", Region::Ca).unwrap(),
            "+442079460958"
        );
    }

    #[test]
    fn refuses_what_it_cannot_normalize() {
        for (input, why) in [
            ("555-2345", "7 digits"),
            ("555-234-5678 x12", "extension"),
            ("555-234-5678 ext. 9", "extension"),
            ("1-800-FLOWERS", "letters"),
            ("155-234-5678", "2-9"),
            ("+1 555 234 567", "11"),
            ("+12", "has 2 digits"),
            ("+44 12", "8 to 15"),
            ("555*234*5678", "`*`"),
        ] {
            let err = normalize(input, Region::Us).unwrap_err();
            assert!(err.contains(why), "{input}: {err}");
        }
        assert!(Region::parse("GB").is_err());
        assert_eq!(Region::parse("ca").unwrap(), Region::Ca);
    }

    #[test]
    fn formats_us_numbers() {
        assert_eq!(
            format_us_value(&json!("+15552345678")).unwrap(),
            json!("(555) 234-5678")
        );
        assert_eq!(
            format_us_value(&json!(5552345678u64)).unwrap(),
            json!("(555) 234-5678")
        );
        assert!(format_us_value(&json!("+442079460958")).is_err());
        assert_eq!(
            normalize_value(&json!(""), Region::Us).unwrap(),
            Value::Null
        );
    }
}
