//! [`MessageBuf`]: an owned message that can be changed and built value by value.
//!
//! It keeps the message as one byte buffer in wire form (every segment ended by `\r`) plus the
//! segment offsets, so reading goes through the same lazy [`Message`] view as parsed input and
//! writing splices only the bytes of the value being set. Setting a value past the end of the
//! message creates what is missing: fields, repetitions, components, even whole segments.

use std::ops::Range;

use super::charset::Charset;
use super::delimiters::Delimiters;
use super::error::{ParseError, PathError};
use super::escape::escape;
use super::message::{Message, Span, has_name};
use super::path::Path;
use super::value::{Value, is_header_name};

/// An owned, editable HL7 v2 message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageBuf {
    bytes: Vec<u8>,
    spans: Vec<Span>,
    delimiters: Delimiters,
    charset: Charset,
}

impl MessageBuf {
    /// A message holding only `MSH|^~\&` (or the given delimiters), to be filled with
    /// [`MessageBuf::set`] and [`MessageBuf::push_segment`].
    pub fn new(delimiters: Delimiters) -> Self {
        let mut bytes = b"MSH".to_vec();
        bytes.push(delimiters.field);
        bytes.extend(delimiters.encoding_characters());
        let end = bytes.len() as u32;
        bytes.push(b'\r');
        MessageBuf {
            bytes,
            spans: vec![(0, end)],
            delimiters,
            charset: Charset::Unspecified,
        }
    }

    /// Parses one message into an owned buffer (terminators normalised to `\r`).
    pub fn parse(input: &[u8]) -> Result<Self, ParseError> {
        Ok(Self::from_message(&Message::parse(input)?))
    }

    /// Copies a parsed message into an owned buffer.
    pub fn from_message(message: &Message<'_>) -> Self {
        let mut bytes = Vec::with_capacity(message.as_bytes().len() + 1);
        let mut spans = Vec::with_capacity(message.segment_count());
        for seg in message.segments() {
            let start = bytes.len() as u32;
            bytes.extend_from_slice(seg.raw());
            spans.push((start, bytes.len() as u32));
            bytes.push(b'\r');
        }
        MessageBuf {
            bytes,
            spans,
            delimiters: *message.delimiters(),
            charset: message.charset(),
        }
    }

    /// A read-only view, with every accessor of [`Message`].
    pub fn as_message(&self) -> Message<'_> {
        Message::borrowed(&self.bytes, &self.spans, self.delimiters, self.charset)
    }

    /// The value at a path (see [`Message::get`]).
    pub fn get(&self, path: &str) -> Result<Value<'_>, PathError> {
        self.as_message().get(path)
    }

    /// The message in wire form, each segment ended by `\r`.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The message in wire form, as an owned vector.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// Sets the text at `path`, escaping delimiters and line breaks and encoding it in the
    /// message's character set. Missing segments, fields, repetitions and components are created.
    pub fn set(&mut self, path: &str, value: &str) -> Result<(), PathError> {
        let parsed = Path::parse(path)?;
        let encoded = self.charset.encode(value);
        let escaped = escape(&encoded, &self.delimiters).into_owned();
        self.splice(path, &parsed, &escaped)
    }

    /// Sets `path` to text already in HL7 encoding (`DOE^JOHN`, with escapes as needed), so one
    /// call can write several components. Segment terminators are refused.
    pub fn set_raw(&mut self, path: &str, encoded: &str) -> Result<(), PathError> {
        let parsed = Path::parse(path)?;
        if let Some(i) = encoded.find(['\r', '\n']) {
            return Err(PathError::new(
                path,
                0,
                format!(
                    "the value holds a line break at character {}; escape it or use `set`",
                    i + 1
                ),
            ));
        }
        self.splice(path, &parsed, encoded.as_bytes())
    }

    /// Appends a segment written in HL7 encoding, e.g. `NTE|1||checked by lab`.
    pub fn push_segment(&mut self, segment: &str) -> Result<(), PathError> {
        let position = self.spans.len();
        self.insert_segment(position, segment)
    }

    /// Inserts a segment written in HL7 encoding before segment `index` (0-based; MSH stays
    /// first, so `index` must be at least 1).
    pub fn insert_segment(&mut self, index: usize, segment: &str) -> Result<(), PathError> {
        let problem = if index == 0 || index > self.spans.len() {
            Some(format!(
                "segment position {index} is outside 1..={}",
                self.spans.len()
            ))
        } else if segment.contains(['\r', '\n']) {
            Some("a segment cannot contain a line break".to_string())
        } else if segment.len() < 3
            || segment
                .as_bytes()
                .get(3)
                .is_some_and(|&b| b != self.delimiters.field)
        {
            Some("a segment starts with its 3-character name and the field separator".to_string())
        } else if segment.starts_with("MSH") {
            Some("a message has one MSH segment".to_string())
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(PathError::new(segment, 0, problem));
        }
        let at = if index == self.spans.len() {
            self.bytes.len()
        } else {
            self.spans[index].0 as usize
        };
        let mut inserted = segment.as_bytes().to_vec();
        inserted.push(b'\r');
        self.replace_bytes(at..at, &inserted);
        let start = at as u32;
        self.spans
            .insert(index, (start, start + segment.len() as u32));
        Ok(())
    }

    /// Removes segment `index` (0-based; the MSH at 0 cannot be removed).
    pub fn remove_segment(&mut self, index: usize) -> bool {
        if index == 0 || index >= self.spans.len() {
            return false;
        }
        let (s, e) = self.spans[index];
        self.replace_bytes(s as usize..e as usize + 1, &[]);
        self.spans.remove(index);
        true
    }

    /// Finds (or creates) the segment the path names, then rewrites the target range in it.
    fn splice(&mut self, text: &str, path: &Path, value: &[u8]) -> Result<(), PathError> {
        let header = is_header_name(&path.segment);
        if header && path.field <= 2 {
            return Err(PathError::new(
                text,
                4,
                "MSH-1 and MSH-2 hold the delimiters and cannot be set",
            ));
        }
        let index = self.segment_index_for(path);
        let (s, e) = self.spans[index];
        let mut segment = self.bytes[s as usize..e as usize].to_vec();
        let target = self
            .locate(&mut segment, path, header)
            .map_err(|m| PathError::new(text, 0, m))?;
        segment.splice(target, value.iter().copied());
        self.replace_bytes(s as usize..e as usize, &segment);
        Ok(())
    }

    /// The index of the segment `path` names, appending new segments when it does not exist.
    fn segment_index_for(&mut self, path: &Path) -> usize {
        let sep = self.delimiters.field;
        let wanted = path.segment_index.unwrap_or(1);
        let matching: Vec<usize> = (0..self.spans.len())
            .filter(|&i| {
                let (s, e) = self.spans[i];
                has_name(&self.bytes[s as usize..e as usize], &path.segment, sep)
            })
            .collect();
        if let Some(&i) = matching.get(wanted - 1) {
            return i;
        }
        // Create the missing occurrences after the last one of that name, or at the end.
        let mut position = matching.last().map_or(self.spans.len(), |&i| i + 1);
        let name = String::from_utf8_lossy(&path.segment).into_owned();
        for _ in matching.len()..wanted {
            // The name was validated by the path parser: three ASCII letters or digits.
            let _ = self.insert_segment(position, &name);
            position += 1;
        }
        position - 1
    }

    /// Returns the range of the target value inside `segment`, adding separators for whatever
    /// is missing on the way down.
    fn locate(
        &self,
        segment: &mut Vec<u8>,
        path: &Path,
        header: bool,
    ) -> Result<Range<usize>, String> {
        let d = &self.delimiters;
        // In MSH, the encoding characters are split piece 2 and MSH-n is piece n; elsewhere the
        // name is piece 1 and field n is piece n + 1.
        let piece = if header { path.field } else { path.field + 1 };
        let mut range = ensure_piece(segment, 0..segment.len(), d.field, piece);
        if path.repetition.is_some() || path.component.is_some() {
            range = ensure_piece(segment, range, d.repetition, path.repetition.unwrap_or(1));
        }
        if let Some(c) = path.component {
            range = ensure_piece(segment, range, d.component, c);
        }
        if let Some(s) = path.subcomponent {
            match d.subcomponent {
                Some(sep) => range = ensure_piece(segment, range, sep, s),
                None if s == 1 => {}
                None => {
                    return Err("this message declares no subcomponent separator (MSH-2)".into());
                }
            }
        }
        Ok(range)
    }

    /// Replaces `range` of the buffer and moves the offsets of everything after it.
    fn replace_bytes(&mut self, range: Range<usize>, with: &[u8]) {
        let delta = with.len() as i64 - range.len() as i64;
        let old_end = range.end as u32;
        self.bytes.splice(range, with.iter().copied());
        let shift = |x: u32| (x as i64 + delta) as u32;
        for span in &mut self.spans {
            if span.0 >= old_end {
                span.0 = shift(span.0);
            }
            if span.1 >= old_end {
                span.1 = shift(span.1);
            }
        }
    }
}

impl std::fmt::Display for MessageBuf {
    /// The message as text, segments separated by `\r` (use `{:#}` style tools to view it).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.bytes))
    }
}

/// Finds the `n`th piece (1-based) of `buf[range]` split on `sep`, appending separators at the
/// end of the range when there are fewer pieces. Returns the piece's range in `buf`.
fn ensure_piece(buf: &mut Vec<u8>, range: Range<usize>, sep: u8, n: usize) -> Range<usize> {
    let mut start = range.start;
    let mut end = range.end;
    for found in 1..n {
        match memchr::memchr(sep, &buf[start..end]) {
            Some(i) => start += i + 1,
            None => {
                let missing = n - found;
                buf.splice(end..end, std::iter::repeat_n(sep, missing));
                end += missing;
                start = end;
                break;
            }
        }
    }
    let piece_end = memchr::memchr(sep, &buf[start..end]).map_or(end, |i| start + i);
    start..piece_end
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buf() -> MessageBuf {
        MessageBuf::parse(b"MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5\rPID|1||123^^^H^MR||DOE^JOHN\rOBX|1|ST|X||v1\r").unwrap()
    }

    fn text(b: &MessageBuf) -> String {
        String::from_utf8(b.as_bytes().to_vec())
            .unwrap()
            .replace('\r', "\n")
    }

    #[test]
    fn set_replaces_values_at_every_level() {
        let mut b = buf();
        b.set("MSH-4", "LENSWORKS").unwrap();
        b.set("PID-5.1", "SMITH").unwrap();
        b.set("PID-3[2].4.2", "1.2.3").unwrap();
        b.set("PID-8", "F").unwrap();
        assert_eq!(
            text(&b),
            "MSH|^~\\&|A|LENSWORKS|C|D|20240101||ADT^A01|1|P|2.5\nPID|1||123^^^H^MR~^^^&1.2.3||SMITH^JOHN|||F\nOBX|1|ST|X||v1\n"
        );
        assert_eq!(b.get("PID-3[2].4.2").unwrap().text(), "1.2.3");
        assert_eq!(b.get("OBX-5").unwrap().text(), "v1");
    }

    #[test]
    fn set_escapes_delimiters() {
        let mut b = buf();
        b.set("OBX-5", "a|b^c&d~e\\f\nnext").unwrap();
        assert_eq!(
            b.get("OBX-5").unwrap().raw(),
            b"a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f\\X0A\\next"
        );
        assert_eq!(b.get("OBX-5").unwrap().text(), "a|b^c&d~e\\f\nnext");
        b.set_raw("PID-5", "ROE^RICHARD").unwrap();
        assert_eq!(b.get("PID-5.2").unwrap().text(), "RICHARD");
        assert!(b.set_raw("PID-5", "A\rB").is_err());
    }

    #[test]
    fn missing_segments_are_created() {
        let mut b = buf();
        b.set("OBX[3]-5", "third").unwrap();
        b.set("ZPI-2", "z").unwrap();
        assert_eq!(
            text(&b).lines().skip(2).collect::<Vec<_>>(),
            ["OBX|1|ST|X||v1", "OBX", "OBX|||||third", "ZPI||z"]
        );
    }

    #[test]
    fn delimiters_cannot_be_set() {
        let mut b = buf();
        assert!(b.set("MSH-1", "#").is_err());
        assert!(b.set("MSH-2", "#").is_err());
    }

    #[test]
    fn building_from_nothing() {
        let mut b = MessageBuf::new(Delimiters::default());
        b.set("MSH-9.1", "ADT").unwrap();
        b.set("MSH-9.2", "A08").unwrap();
        b.set("MSH-10", "X1").unwrap();
        b.set("PID-5.1", "O'Brien & Sons").unwrap();
        b.push_segment("NTE|1||note").unwrap();
        b.insert_segment(1, "EVN|A08").unwrap();
        assert_eq!(
            text(&b),
            "MSH|^~\\&|||||||ADT^A08|X1\nEVN|A08\nPID|||||O'Brien \\T\\ Sons\nNTE|1||note\n"
        );
        let reparsed = Message::parse(b.as_bytes()).unwrap();
        assert_eq!(reparsed.get("PID-5.1").unwrap().text(), "O'Brien & Sons");
        assert!(b.remove_segment(1));
        assert!(!b.remove_segment(0));
        assert_eq!(b.as_message().segment_count(), 3);
        assert!(b.push_segment("BAD\rSEG").is_err());
    }
}
