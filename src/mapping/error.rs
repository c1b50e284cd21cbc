//! Errors about one record: every field that could not be mapped or failed validation, each
//! naming the field, the function or rule, and the value, so an analyst can fix the data.
//!
//! These errors hold patient data (the offending value): they belong in the message's error
//! record, which is access-controlled, and never in logs.

use std::fmt;

use serde_json::Value;

/// Why one field of one record could not be mapped or is invalid.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct FieldError {
    /// The field, by its local name (`firstName`), or a JSONPath for validation rules.
    pub field: String,
    /// The transform function (`normalize_phone`), the validation rule (`format`,
    /// `required`), or `read`/`write` for path problems.
    pub function: String,
    /// The value that was refused, when there was one.
    pub value: Option<Value>,
    /// What is wrong, in words.
    pub message: String,
}

impl FieldError {
    /// An error about `field` raised by `function` on `value`.
    pub fn new(
        field: impl Into<String>,
        function: impl Into<String>,
        value: Option<&Value>,
        message: impl Into<String>,
    ) -> Self {
        FieldError {
            field: field.into(),
            function: function.into(),
            value: value.cloned(),
            message: message.into(),
        }
    }
}

/// Longest value text shown in a message; longer values are cut with `…`.
const SHOWN_VALUE_CHARS: usize = 80;

impl fmt::Display for FieldError {
    /// `field "phone": normalize_phone: "555-12" has 5 digits; …`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "field \"{}\": {}: ", self.field, self.function)?;
        if let Some(value) = &self.value {
            let text = value.to_string();
            if text.chars().count() > SHOWN_VALUE_CHARS {
                let cut: String = text.chars().take(SHOWN_VALUE_CHARS).collect();
                write!(f, "{cut}… ")?;
            } else {
                write!(f, "{text} ")?;
            }
        }
        write!(f, "{}", self.message)
    }
}

/// Every problem found in one record, in mapping order. Never empty when returned as an error.
#[derive(Debug, Clone, Default, PartialEq, thiserror::Error)]
pub struct RecordErrors {
    /// One entry per failed field or rule.
    pub errors: Vec<FieldError>,
}

impl RecordErrors {
    /// `Ok(value)` when no error was collected, else `Err(self)`.
    pub fn into_result<T>(self, value: T) -> Result<T, RecordErrors> {
        if self.errors.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }

    /// Adds one error.
    pub fn push(&mut self, error: FieldError) {
        self.errors.push(error);
    }
}

impl fmt::Display for RecordErrors {
    /// One line per error, after a count.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.errors.len();
        write!(f, "{n} field error{}", if n == 1 { "" } else { "s" })?;
        for e in &self.errors {
            write!(f, "\n  {e}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_field_function_and_value() {
        let e = FieldError::new(
            "phone",
            "normalize_phone",
            Some(&json!("555-12")),
            "has 5 digits",
        );
        assert_eq!(
            e.to_string(),
            r#"field "phone": normalize_phone: "555-12" has 5 digits"#
        );
        let all = RecordErrors {
            errors: vec![e.clone(), e],
        };
        assert!(
            all.to_string()
                .starts_with("2 field errors\n  field \"phone\"")
        );
    }

    #[test]
    fn long_values_are_cut() {
        let long = "x".repeat(200);
        let e = FieldError::new("note", "trim", Some(&json!(long)), "bad");
        assert!(e.to_string().contains('…'));
        assert!(e.to_string().len() < 140);
    }
}
