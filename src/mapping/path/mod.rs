//! Where a field lives: a JSONPath into a JSON record (read with all of RFC 9535, written
//! through the subset that names one place) or an HL7 v2 path such as `PID-5.1`.

mod json_read;
mod json_write;
#[cfg(test)]
mod proptests;
mod write_syntax;

pub use json_read::ReadPath;
pub(crate) use json_write::kind_of;
pub use json_write::{Step, WritePath};

use serde_json::Value;

/// A field location in a JSON record: read through any JSONPath; written only when the path
/// designates one place (the write error is kept and reported when a mapping needs to write).
#[derive(Debug, Clone)]
pub struct JsonField {
    read: ReadPath,
    write: Result<WritePath, String>,
}

impl JsonField {
    /// Compiles a JSONPath (`$.` optional). Fails only when the path cannot even be read.
    pub fn parse(text: &str) -> Result<JsonField, String> {
        Ok(JsonField {
            read: ReadPath::parse(text)?,
            write: WritePath::parse(text),
        })
    }

    /// The path as written in the mapping.
    pub fn as_str(&self) -> &str {
        self.read.as_str()
    }

    /// The first value the path selects; `null` counts as absent.
    pub fn get<'v>(&self, record: &'v Value) -> Option<&'v Value> {
        self.read.first(record).filter(|v| !v.is_null())
    }

    /// Sets `value` at the path, creating what is missing.
    pub fn set(&self, record: &mut Value, value: Value) -> Result<(), String> {
        match &self.write {
            Ok(path) => path.set(record, value),
            Err(e) => Err(e.clone()),
        }
    }

    /// Why this path cannot be written, if it cannot.
    pub fn write_error(&self) -> Option<&str> {
        self.write.as_ref().err().map(String::as_str)
    }
}

/// The remote side of a field: a JSON path, or an HL7 v2 path when the text starts with a
/// segment name and `-` or `[` (`PID-5.1`, `OBX[2]-5`).
#[derive(Debug, Clone)]
pub enum RemotePath {
    /// A JSONPath into a JSON record (FHIR resource, API payload).
    Json(JsonField),
    /// An HL7 v2 path, checked by [`crate::hl7::Path::parse`]; kept as text for `get`/`set`.
    Hl7(String),
}

impl RemotePath {
    /// Parses `text` as an HL7 path when it looks like one, else as a JSONPath.
    pub fn parse(text: &str) -> Result<RemotePath, String> {
        if looks_like_hl7(text) {
            crate::hl7::Path::parse(text).map_err(|e| {
                // One line (the caret display of `PathError` does not fit a file:line:col list).
                format!(
                    "invalid path `{}`: {} at character {}",
                    e.path,
                    e.message,
                    e.position + 1
                )
            })?;
            Ok(RemotePath::Hl7(text.to_string()))
        } else {
            Ok(RemotePath::Json(JsonField::parse(text)?))
        }
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        match self {
            RemotePath::Json(j) => j.as_str(),
            RemotePath::Hl7(h) => h,
        }
    }
}

/// `PID-5`, `OBX[2]-5`, `ZPI-1`: three upper-case letters/digits (a letter first), then `-`
/// or `[`. No JSON member shorthand can start that way (`-` is not allowed in one).
fn looks_like_hl7(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() > 3
        && b[0].is_ascii_uppercase()
        && b[1..3]
            .iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        && matches!(b[3], b'-' | b'[')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_hl7_paths_from_json_paths() {
        assert!(matches!(
            RemotePath::parse("PID-5.1"),
            Ok(RemotePath::Hl7(_))
        ));
        assert!(matches!(
            RemotePath::parse("OBX[2]-5"),
            Ok(RemotePath::Hl7(_))
        ));
        assert!(matches!(
            RemotePath::parse("name[0].family"),
            Ok(RemotePath::Json(_))
        ));
        assert!(matches!(RemotePath::parse("PID"), Ok(RemotePath::Json(_))));
        let err = RemotePath::parse("PID-x").unwrap_err();
        assert!(err.contains("expected a field number"), "{err}");
    }

    #[test]
    fn a_read_only_path_reports_why_it_cannot_be_written() {
        let f = JsonField::parse("name[*].family").unwrap();
        assert!(f.write_error().unwrap().contains("wildcard"));
        let mut doc = Value::Null;
        assert!(f.set(&mut doc, Value::Bool(true)).is_err());
        assert!(doc.is_null());
    }
}
