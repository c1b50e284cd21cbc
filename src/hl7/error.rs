//! Typed errors for HL7 v2 parsing and path handling.
//!
//! Every error says *what* is wrong and *where*: the segment (0-based index and name), the field,
//! and the byte offset into the input, so an analyst can find the byte in a hex dump or an editor.

use std::fmt;

/// A message that could not be read as HL7 v2.
///
/// `offset` is the byte offset into the input given to the parser (after any UTF-8 BOM is
/// counted, so it always points into the original bytes).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (byte {offset}{location})", location = self.location_text())]
pub struct ParseError {
    /// 0-based index of the segment where the problem is, when it is inside a segment.
    pub segment_index: Option<usize>,
    /// The segment's name (`MSH`, `PID`, …) when known.
    pub segment: Option<String>,
    /// The 1-based field number when the problem is inside a field.
    pub field: Option<usize>,
    /// Byte offset into the input.
    pub offset: usize,
    /// A plain sentence saying what is wrong.
    pub message: String,
}

impl ParseError {
    /// An error at `offset` with no segment context yet.
    pub(crate) fn at(offset: usize, message: impl Into<String>) -> Self {
        ParseError {
            segment_index: None,
            segment: None,
            field: None,
            offset,
            message: message.into(),
        }
    }

    /// Adds the segment where the error happened.
    pub(crate) fn in_segment(mut self, index: usize, name: &[u8]) -> Self {
        self.segment_index = Some(index);
        self.segment = Some(String::from_utf8_lossy(name).into_owned());
        self
    }

    /// Adds the field where the error happened.
    pub(crate) fn in_field(mut self, field: usize) -> Self {
        self.field = Some(field);
        self
    }

    /// Moves the offset by `base`, for errors found in a message that sits inside a larger input.
    pub(crate) fn shifted(mut self, base: usize) -> Self {
        self.offset += base;
        self
    }

    fn location_text(&self) -> String {
        let mut out = String::new();
        if let (Some(index), Some(name)) = (self.segment_index, &self.segment) {
            out.push_str(&format!(", segment {} {name}", index + 1));
            if let Some(field) = self.field {
                out.push_str(&format!(", field {name}-{field}"));
            }
        }
        out
    }
}

/// A path such as `PID-3[2].4.2` that is malformed, or that cannot be used for the operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PathError {
    /// The path as given.
    pub path: String,
    /// Byte position in `path` of the offending character.
    pub position: usize,
    /// What was expected there, or what is wrong.
    pub message: String,
}

impl PathError {
    pub(crate) fn new(path: &str, position: usize, message: impl Into<String>) -> Self {
        PathError {
            path: path.to_string(),
            position,
            message: message.into(),
        }
    }
}

impl fmt::Display for PathError {
    /// Renders the path with a caret under the offending character, e.g.
    /// ```text
    /// invalid path `PID-x`: expected a field number at character 5
    ///   PID-x
    ///       ^
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let column = self
            .path
            .get(..self.position)
            .map_or(self.position, |p| p.chars().count());
        write!(
            f,
            "invalid path `{}`: {} at character {}\n  {}\n  {}^",
            self.path,
            self.message,
            column + 1,
            self.path,
            " ".repeat(column)
        )
    }
}
