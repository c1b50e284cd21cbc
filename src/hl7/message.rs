//! [`Message`]: one parsed HL7 v2 message that borrows its input.
//!
//! Parsing finds the delimiters (MSH-1, MSH-2), the character set (MSH-18) and where each
//! segment starts and ends; that is one pass of `memchr` over the bytes and one small vector of
//! offsets. Fields, repetitions, components and subcomponents are found only when read, and text
//! is decoded (escapes, character set) only then, so reading three values out of a 10 KB
//! message touches little more than the bytes in front of them.

use std::borrow::Cow;

use super::charset::Charset;
use super::delimiters::Delimiters;
use super::error::{ParseError, PathError};
use super::path::Path;
use super::value::{Context, Segment, Value};

/// Start and end (exclusive) of one segment, as byte offsets into the message.
pub(crate) type Span = (u32, u32);

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// One HL7 v2 message, borrowing the bytes it was parsed from.
#[derive(Debug, Clone)]
pub struct Message<'a> {
    bytes: &'a [u8],
    spans: Cow<'a, [Span]>,
    cx: Context,
}

impl<'a> Message<'a> {
    /// Parses exactly one message. A leading UTF-8 BOM is skipped; segments may end in `\r`,
    /// `\n` or `\r\n`, blank lines are ignored, and the last segment needs no terminator.
    ///
    /// The input must start with `MSH`, the field separator, the encoding characters and a
    /// message type (MSH-9). A second `MSH` is an error: use [`super::parse_stream`] for files
    /// that hold several messages.
    pub fn parse(input: &'a [u8]) -> Result<Message<'a>, ParseError> {
        let skip = if input.starts_with(BOM) { BOM.len() } else { 0 };
        let body = &input[skip..];
        if !body.starts_with(b"MSH") {
            return Message::from_spans(body, Vec::new()).map_err(|e| e.shifted(skip));
        }
        let spans = scan_segments(body).map_err(|e| e.shifted(skip))?;
        if let Some(index) = spans
            .iter()
            .skip(1)
            .position(|&(s, _)| body[s as usize..].starts_with(b"MSH"))
        {
            let (start, _) = spans[index + 1];
            return Err(ParseError::at(
                skip + start as usize,
                "a second message starts here; read files with several messages as a stream or batch",
            )
            .in_segment(index + 1, b"MSH"));
        }
        Message::from_spans(body, spans).map_err(|e| e.shifted(skip))
    }

    /// Builds a message from segment spans already found in `bytes`, checking the header.
    pub(crate) fn from_spans(bytes: &'a [u8], spans: Vec<Span>) -> Result<Message<'a>, ParseError> {
        if !bytes.starts_with(b"MSH") {
            let shown: String = String::from_utf8_lossy(&bytes[..bytes.len().min(3)]).into_owned();
            let hint = if bytes.starts_with(b"FHS") || bytes.starts_with(b"BHS") {
                "; this is a batch file: read it as a batch (`ihub hl7 split`)"
            } else {
                ""
            };
            return Err(ParseError::at(
                0,
                format!("a message must start with `MSH`, not `{shown}`{hint}"),
            ));
        }
        let (delimiters, _) =
            Delimiters::parse(&bytes[3..], 3).map_err(|e| e.in_segment(0, b"MSH"))?;
        let mut cx = Context {
            delimiters,
            charset: Charset::Unspecified,
        };
        let first = spans
            .first()
            .map_or(&bytes[..0], |&(s, e)| &bytes[s as usize..e as usize]);
        let header = Segment::new(first, cx);
        let message_type = header.field(9);
        if message_type.component(1).is_empty() {
            let offset = if message_type.raw().is_empty() {
                first.len()
            } else {
                offset_of(bytes, message_type.raw())
            };
            return Err(
                ParseError::at(offset, "the message type (MSH-9) is missing")
                    .in_segment(0, b"MSH")
                    .in_field(9),
            );
        }
        cx.charset = Charset::from_msh18(header.field(18).repetition(1).raw());
        Ok(Message {
            bytes,
            spans: Cow::Owned(spans),
            cx,
        })
    }

    /// A view over an owned message's bytes and spans (see [`super::MessageBuf`]).
    pub(crate) fn borrowed(
        bytes: &'a [u8],
        spans: &'a [Span],
        delimiters: Delimiters,
        charset: Charset,
    ) -> Self {
        Message {
            bytes,
            spans: Cow::Borrowed(spans),
            cx: Context {
                delimiters,
                charset,
            },
        }
    }

    /// The delimiters declared in MSH-1 and MSH-2.
    pub fn delimiters(&self) -> &Delimiters {
        &self.cx.delimiters
    }

    /// The character set declared in MSH-18.
    pub fn charset(&self) -> Charset {
        self.cx.charset
    }

    /// The bytes this message was parsed from (after any BOM), terminators as they were.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Whether the bytes are exactly what [`MessageBuf::from_message`](crate::hl7::MessageBuf::from_message)
    /// writes: every segment ended by one `\r`, no blank lines. Then the parsed copy equals
    /// the input, and a caller that kept the input need not compare the two.
    pub fn is_canonical(&self) -> bool {
        let mut expected = 0usize;
        for &(start, end) in self.spans.iter() {
            if start as usize != expected || self.bytes.get(end as usize) != Some(&b'\r') {
                return false;
            }
            expected = end as usize + 1;
        }
        expected == self.bytes.len()
    }

    /// The number of segments.
    pub fn segment_count(&self) -> usize {
        self.spans.len()
    }

    /// Segment `index` (0-based, in message order).
    pub fn segment_at(&self, index: usize) -> Option<Segment<'a>> {
        self.spans
            .get(index)
            .map(|&(s, e)| Segment::new(&self.bytes[s as usize..e as usize], self.cx))
    }

    /// Every segment in order (`.next_back()` gives the last one without walking the others).
    pub fn segments(&self) -> impl DoubleEndedIterator<Item = Segment<'a>> + '_ {
        self.spans
            .iter()
            .map(|&(s, e)| Segment::new(&self.bytes[s as usize..e as usize], self.cx))
    }

    /// Every segment with this name, in order (`"OBX"`); `.next_back()` finds the last one from
    /// the end.
    pub fn segments_named<'s>(
        &'s self,
        name: &'s str,
    ) -> impl DoubleEndedIterator<Item = Segment<'a>> + 's {
        let sep = self.cx.delimiters.field;
        self.segments()
            .filter(move |seg| has_name(seg.raw(), name.as_bytes(), sep))
    }

    /// The first segment with this name.
    pub fn segment(&self, name: &str) -> Option<Segment<'a>> {
        self.segments_named(name).next()
    }

    /// The message header (MSH), always present.
    pub fn header(&self) -> Segment<'a> {
        self.segment_at(0)
            .unwrap_or_else(|| Segment::new(&self.bytes[..0], self.cx))
    }

    /// The value at a path such as `PID-5.1`, `PID-3[2].4.2` or `OBX[3]-5`. A path past the end
    /// of the message gives an empty value; only a malformed path is an error.
    pub fn get(&self, path: &str) -> Result<Value<'a>, PathError> {
        Ok(self.get_path(&Path::parse(path)?))
    }

    /// Like [`Message::get`] with a path parsed once, for loops over many messages.
    pub fn get_path(&self, path: &Path) -> Value<'a> {
        let sep = self.cx.delimiters.field;
        let occurrence = path.segment_index.unwrap_or(1);
        let segment = self
            .segments()
            .filter(|seg| has_name(seg.raw(), &path.segment, sep))
            .nth(occurrence - 1);
        let Some(segment) = segment else {
            return Value::empty(self.cx);
        };
        let mut value = segment.field(path.field);
        if path.repetition.is_some() || path.component.is_some() {
            value = value.repetition(path.repetition.unwrap_or(1));
        }
        if let Some(c) = path.component {
            value = value.component(c);
        }
        if let Some(s) = path.subcomponent {
            value = value.subcomponent(s);
        }
        value
    }

    /// MSH-9.1, e.g. `ADT`.
    pub fn message_type(&self) -> Cow<'a, str> {
        self.header().field(9).component(1).text()
    }

    /// MSH-9.2, e.g. `A01`.
    pub fn trigger_event(&self) -> Cow<'a, str> {
        self.header().field(9).component(2).text()
    }

    /// MSH-9.3, e.g. `ADT_A01` (empty in older versions).
    pub fn message_structure(&self) -> Cow<'a, str> {
        self.header().field(9).component(3).text()
    }

    /// MSH-10, the sender's message control id, echoed in MSA-2 of the ACK.
    pub fn control_id(&self) -> Cow<'a, str> {
        self.header().field(10).text()
    }

    /// MSH-11.1, `P` (production), `T` (training) or `D` (debugging).
    pub fn processing_id(&self) -> Cow<'a, str> {
        self.header().field(11).component(1).text()
    }

    /// MSH-12.1, e.g. `2.5.1`.
    pub fn version(&self) -> Cow<'a, str> {
        self.header().field(12).component(1).text()
    }

    /// MSH-3.1, the sending application.
    pub fn sending_application(&self) -> Cow<'a, str> {
        self.header().field(3).component(1).text()
    }

    /// MSH-4.1, the sending facility.
    pub fn sending_facility(&self) -> Cow<'a, str> {
        self.header().field(4).component(1).text()
    }

    /// MSH-5.1, the receiving application.
    pub fn receiving_application(&self) -> Cow<'a, str> {
        self.header().field(5).component(1).text()
    }

    /// MSH-6.1, the receiving facility.
    pub fn receiving_facility(&self) -> Cow<'a, str> {
        self.header().field(6).component(1).text()
    }

    /// The message with every segment ended by `\r`: byte-identical to the input when that
    /// already used `\r` and had no blank lines.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.bytes.len() + 1);
        self.write_to(&mut out);
        out
    }

    /// Appends [`Message::to_bytes`] to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        for &(s, e) in self.spans.iter() {
            out.extend_from_slice(&self.bytes[s as usize..e as usize]);
            out.push(b'\r');
        }
    }
}

/// Whether a segment's bytes start with `name` followed by the field separator (or end).
#[inline]
pub(crate) fn has_name(segment: &[u8], name: &[u8], field_sep: u8) -> bool {
    segment.starts_with(name) && segment.get(name.len()).is_none_or(|&b| b == field_sep)
}

/// Offset of `inner` within `outer`; both must come from the same allocation.
pub(crate) fn offset_of(outer: &[u8], inner: &[u8]) -> usize {
    (inner.as_ptr() as usize).saturating_sub(outer.as_ptr() as usize)
}

/// Finds every non-blank line of `body`: segments end at `\r`, `\n` or `\r\n`.
pub(crate) fn scan_segments(body: &[u8]) -> Result<Vec<Span>, ParseError> {
    if body.len() > u32::MAX as usize {
        return Err(ParseError::at(
            0,
            "a message larger than 4 GiB is not supported",
        ));
    }
    let mut spans = Vec::with_capacity(16);
    let mut start = 0usize;
    for end in memchr::memchr2_iter(b'\r', b'\n', body) {
        if end > start {
            spans.push((start as u32, end as u32));
        }
        start = end + 1;
    }
    if body.len() > start {
        spans.push((start as u32, body.len() as u32));
    }
    spans.retain(|&(s, e)| {
        !body[s as usize..e as usize]
            .iter()
            .all(|b| b.is_ascii_whitespace())
    });
    Ok(spans)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADT: &[u8] = b"MSH|^~\\&|REG|HOSP|EHR|HOSP|20240102030405||ADT^A01^ADT_A01|MSG001|P|2.5.1\rEVN|A01|20240102030405\rPID|1||123^^^HOSP^MR~456^^^SSA^SS||DOE^JOHN^Q||19800101|M\rOBX|1|NM|GLU||5.4|mmol/L\rOBX|2|ST|NOTE||Line one\\.br\\two\rOBX|3|ST|C||a\\T\\b\r";

    #[test]
    fn accessors_read_the_header() {
        let m = Message::parse(ADT).unwrap();
        assert_eq!(m.message_type(), "ADT");
        assert_eq!(m.trigger_event(), "A01");
        assert_eq!(m.message_structure(), "ADT_A01");
        assert_eq!(m.control_id(), "MSG001");
        assert_eq!(m.processing_id(), "P");
        assert_eq!(m.version(), "2.5.1");
        assert_eq!(m.sending_application(), "REG");
        assert_eq!(m.sending_facility(), "HOSP");
        assert_eq!(m.receiving_application(), "EHR");
        assert_eq!(m.receiving_facility(), "HOSP");
        assert_eq!(m.segment_count(), 6);
    }

    #[test]
    fn canonical_means_the_parsed_copy_is_the_input() {
        for (input, canonical) in [
            (&b"MSH|^~\\&|A|||||ADT^A01|C1|P|2.5\rPID|1\r"[..], true),
            (b"MSH|^~\\&|A|||||ADT^A01|C1|P|2.5\rPID|1", false),
            (b"MSH|^~\\&|A|||||ADT^A01|C1|P|2.5\nPID|1\n", false),
            (b"MSH|^~\\&|A|||||ADT^A01|C1|P|2.5\r\nPID|1\r\n", false),
            (b"MSH|^~\\&|A|||||ADT^A01|C1|P|2.5\r\rPID|1\r", false),
            (
                b"\xEF\xBB\xBFMSH|^~\\&|A|||||ADT^A01|C1|P|2.5\rPID|1\r",
                true,
            ),
        ] {
            let m = Message::parse(input).unwrap();
            assert_eq!(
                m.is_canonical(),
                canonical,
                "{:?}",
                String::from_utf8_lossy(input)
            );
            let copy = crate::hl7::MessageBuf::from_message(&m);
            assert_eq!(canonical, copy.as_bytes() == m.as_bytes());
        }
    }

    #[test]
    fn paths_read_values() {
        let m = Message::parse(ADT).unwrap();
        assert_eq!(m.get("MSH-1").unwrap().text(), "|");
        assert_eq!(m.get("MSH-2").unwrap().text(), "^~\\&");
        assert_eq!(m.get("MSH-3").unwrap().text(), "REG");
        assert_eq!(m.get("PID-5").unwrap().text(), "DOE^JOHN^Q");
        assert_eq!(m.get("PID-5.2").unwrap().text(), "JOHN");
        assert_eq!(m.get("PID-3[2].1").unwrap().text(), "456");
        assert_eq!(m.get("PID-3[2]").unwrap().text(), "456^^^SSA^SS");
        assert_eq!(m.get("PID-3.4").unwrap().text(), "HOSP");
        assert_eq!(m.get("OBX[2]-5").unwrap().text(), "Line one\\.br\\two");
        assert_eq!(m.get("OBX[3]-5").unwrap().text(), "a&b");
        assert!(m.get("OBX[4]-5").unwrap().is_empty());
        assert!(m.get("PID-99.3.2").unwrap().is_empty());
        assert!(m.get("ZZZ-1").unwrap().is_empty());
        assert!(m.get("PID-x").is_err());
        assert_eq!(m.segments_named("OBX").count(), 3);
        assert_eq!(
            m.segments_named("OBX").next_back().unwrap().field(1).text(),
            "3"
        );
    }

    #[test]
    fn round_trip_is_byte_identical() {
        let m = Message::parse(ADT).unwrap();
        assert_eq!(m.to_bytes(), ADT);
    }

    #[test]
    fn terminators_bom_and_blank_lines_are_tolerated() {
        let text = b"\xEF\xBB\xBFMSH|^~\\&|A|B|C|D|||ORU^R01|1|P|2.5\r\n\r\nPID|1\n\nOBX|1\rOBX|2";
        let m = Message::parse(text).unwrap();
        assert_eq!(m.segment_count(), 4);
        assert_eq!(
            m.to_bytes(),
            b"MSH|^~\\&|A|B|C|D|||ORU^R01|1|P|2.5\rPID|1\rOBX|1\rOBX|2\r"
        );
    }

    #[test]
    fn custom_delimiters_and_truncation() {
        let m = Message::parse(b"MSH!@#$%!APP!FAC!!!!!ADT@A01!1!P!2.5\rPID!1!!A@B%C#D").unwrap();
        assert_eq!(m.get("MSH-3").unwrap().text(), "APP");
        assert_eq!(m.get("MSH-9.2").unwrap().text(), "A01");
        assert_eq!(m.get("PID-3.2.2").unwrap().text(), "C");
        assert_eq!(m.get("PID-3[2]").unwrap().text(), "D");
        let m = Message::parse(b"MSH|^~\\&#|APP|FAC|||||QBP^Q22|1|P|2.7\r").unwrap();
        assert_eq!(m.get("MSH-3").unwrap().text(), "APP");
        assert_eq!(m.get("MSH-2").unwrap().text(), "^~\\&#");
        assert_eq!(m.delimiters().truncation, Some(b'#'));
    }

    #[test]
    fn charsets_come_from_msh18() {
        let m =
            Message::parse(b"MSH|^~\\&|A|B|C|D|||ADT^A01|1|P|2.5|||||8859/1\rPID|1||||M\xfcller")
                .unwrap();
        assert_eq!(m.get("PID-5").unwrap().text(), "Müller");
        let m = Message::parse(
            "MSH|^~\\&|A|B|C|D|||ADT^A01|1|P|2.5|||||UNICODE UTF-8\rPID|1||||Müller\\T\\Söhne"
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(m.get("PID-5").unwrap().text(), "Müller&Söhne");
    }

    fn err(input: &[u8]) -> ParseError {
        Message::parse(input).unwrap_err()
    }

    #[test]
    fn not_a_message_is_an_error_not_a_guess() {
        assert!(err(b"").message.contains("must start with `MSH`"));
        assert!(err(b"PID|1").message.contains("must start with `MSH`"));
        let batch = err(b"BHS|^~\\&\rMSH|^~\\&|A||||||ADT^A01|1\rMSH|^~\\&|A||||||ADT^A01|2");
        assert!(batch.message.contains("batch file"), "{batch}");
        assert!(
            err(b"\nMSH|^~\\&|A")
                .message
                .contains("must start with `MSH`")
        );
        let e = err(b"MSH|^~\\&|A|B|C|D|||");
        assert_eq!((e.field, e.segment.as_deref()), (Some(9), Some("MSH")));
        assert!(e.message.contains("MSH-9"));
        let e = err(b"MSH|^~\\&|A|B|C|D|||^A01|1");
        assert_eq!(e.offset, 19);
        let e = err(b"MSH|^~\\&|A|B|C|D|||ADT^A01|1\rPID|1\rMSH|^~\\&|A|B|C|D|||ADT^A01|2");
        assert_eq!((e.segment_index, e.offset), (Some(2), 35));
        let e = err(b"\xEF\xBB\xBFMSH|^&&^|A");
        assert_eq!(e.offset, 3 + 4 + 2);
        assert!(
            e.to_string()
                .contains("(byte 9, segment 1 MSH, field MSH-2)"),
            "{e}"
        );
    }
}
