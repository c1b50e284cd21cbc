//! Reading a record through a JSONPath (RFC 9535, by `serde_json_path`), with the `$.` prefix
//! optional so mapping files can say `name[0].given[0]` or `address.city`.

use serde_json::Value;
use serde_json_path::JsonPath;

/// A compiled JSONPath for reading: every RFC 9535 query is allowed (filters, wildcards,
/// slices, descendants); a field takes the first node it selects.
#[derive(Debug, Clone)]
pub struct ReadPath {
    text: String,
    compiled: JsonPath,
}

impl ReadPath {
    /// Compiles `text`, adding `$` or `$.` in front when it does not start with `$`.
    pub fn parse(text: &str) -> Result<ReadPath, String> {
        let full = with_root(text);
        let compiled =
            JsonPath::parse(&full).map_err(|e| format!("invalid JSONPath `{text}`: {e}"))?;
        Ok(ReadPath {
            text: text.to_string(),
            compiled,
        })
    }

    /// The path as written in the mapping.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The first value the path selects, in document order; `None` when it selects nothing.
    pub fn first<'v>(&self, record: &'v Value) -> Option<&'v Value> {
        self.compiled.query(record).first()
    }
}

/// `name[0]` → `$.name[0]`, `['a b']` → `$['a b']`, `$.x` unchanged.
pub(crate) fn with_root(text: &str) -> String {
    let text = text.trim();
    if text.starts_with('$') {
        text.to_string()
    } else if text.starts_with('[') {
        format!("${text}")
    } else {
        format!("$.{text}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patient() -> Value {
        json!({
            "name": [{"given": ["Jane", "Q"], "family": "Doe"}],
            "telecom": [
                {"system": "email", "value": "jane@example.org"},
                {"system": "phone", "value": "+15551234567"}
            ],
            "address": {"city": "Springfield"},
            "a b": 1
        })
    }

    #[test]
    fn reads_dotted_indexed_filtered_and_quoted_paths() {
        let p = patient();
        let read = |path: &str| ReadPath::parse(path).unwrap().first(&p).cloned();
        assert_eq!(read("name[0].given[0]"), Some(json!("Jane")));
        assert_eq!(read("$.name[0].family"), Some(json!("Doe")));
        assert_eq!(read("address.city"), Some(json!("Springfield")));
        assert_eq!(
            read(r#"telecom[?(@.system=="phone")].value"#),
            Some(json!("+15551234567"))
        );
        assert_eq!(
            read(r#"telecom[?@.system=='email'].value"#),
            Some(json!("jane@example.org"))
        );
        assert_eq!(read("['a b']"), Some(json!(1)));
        assert_eq!(read("name[0].given[5]"), None);
        assert_eq!(read("missing.deeper"), None);
    }

    #[test]
    fn a_malformed_path_is_an_error_naming_it() {
        let err = ReadPath::parse("name[0").unwrap_err();
        assert!(err.contains("`name[0`"), "{err}");
    }
}
