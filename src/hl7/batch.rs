//! Streams and batches: several messages in one input.
//!
//! A *stream* is messages back to back, each starting at its `MSH`. A *batch file* wraps them:
//! `FHS` (file header) and `FTS` (file trailer) around one or more batches, each `BHS` … `BTS`.
//! Either wrapper may be missing. Headers and trailers are kept, so a file can be written back
//! as it came ([`BatchFile::to_bytes`]), and [`build_batch`] wraps new messages.
//!
//! Comment lines (`/* … */`, `*`, `//`, `#`, as hand-kept test files have them) and blank lines
//! are skipped; every other line belongs to a message or is an error, so nothing is dropped.

use super::charset::Charset;
use super::delimiters::Delimiters;
use super::error::ParseError;
use super::message::{Message, Span};
use super::value::{Context, Segment};

/// One batch: an optional `BHS`, its messages, an optional `BTS`.
#[derive(Debug, Clone)]
pub struct Batch<'a> {
    /// The batch header (`BHS`), when there was one.
    pub header: Option<Segment<'a>>,
    /// The messages, in order.
    pub messages: Vec<Message<'a>>,
    /// The batch trailer (`BTS`, whose BTS-1 is the message count), when there was one.
    pub trailer: Option<Segment<'a>>,
}

/// A whole input: an optional `FHS`, its batches, an optional `FTS`. A plain stream of messages
/// is one batch without header or trailer.
#[derive(Debug, Clone, Default)]
pub struct BatchFile<'a> {
    /// The file header (`FHS`), when there was one.
    pub header: Option<Segment<'a>>,
    /// The batches, in order.
    pub batches: Vec<Batch<'a>>,
    /// The file trailer (`FTS`, whose FTS-1 is the batch count), when there was one.
    pub trailer: Option<Segment<'a>>,
}

impl<'a> BatchFile<'a> {
    /// Every message of every batch, in order.
    pub fn messages(&self) -> impl Iterator<Item = &Message<'a>> {
        self.batches.iter().flat_map(|b| b.messages.iter())
    }

    /// Every message, taken out of the batches.
    pub fn into_messages(self) -> Vec<Message<'a>> {
        self.batches.into_iter().flat_map(|b| b.messages).collect()
    }

    /// The file written back: headers, messages and trailers, each segment ended by `\r`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let line = |seg: &Option<Segment<'_>>, out: &mut Vec<u8>| {
            if let Some(seg) = seg {
                out.extend_from_slice(seg.raw());
                out.push(b'\r');
            }
        };
        line(&self.header, &mut out);
        for batch in &self.batches {
            line(&batch.header, &mut out);
            for message in &batch.messages {
                message.write_to(&mut out);
            }
            line(&batch.trailer, &mut out);
        }
        line(&self.trailer, &mut out);
        out
    }
}

/// Every message in `input`, whether it holds one message, a stream, or a batch file.
pub fn parse_stream(input: &[u8]) -> Result<Vec<Message<'_>>, ParseError> {
    Ok(parse_batch(input)?.into_messages())
}

/// Parses a stream or batch file, keeping its headers and trailers.
pub fn parse_batch(input: &[u8]) -> Result<BatchFile<'_>, ParseError> {
    let skip = if input.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    let body = &input[skip..];
    if body.len() > u32::MAX as usize {
        return Err(ParseError::at(
            0,
            "an input larger than 4 GiB is not supported",
        ));
    }
    let mut state = State {
        body,
        skip,
        file: BatchFile::default(),
        open: None,
        file_closed: false,
        file_cx: None,
    };
    let mut start = 0usize;
    let mut count = 0usize;
    for end in memchr::memchr2_iter(b'\r', b'\n', body).chain(std::iter::once(body.len())) {
        // Captures of MLLP traffic keep the frame bytes: <VT> before MSH, <FS> after the last
        // segment. They are not part of any segment.
        let mut first = start;
        while first < end && body[first] == 0x0B {
            first += 1;
        }
        let mut last = end;
        while last > first && body[last - 1] == 0x1C {
            last -= 1;
        }
        if last > first {
            state.line(first, last, count)?;
            count += 1;
        }
        start = end + 1;
    }
    state.close_message()?;
    if state.file.batches.is_empty() && state.file.header.is_none() {
        return Err(ParseError::at(
            skip,
            "no HL7 message found: a message starts with `MSH`",
        ));
    }
    Ok(state.file)
}

/// What kind of line this is, from its first bytes.
#[derive(PartialEq, Eq)]
enum Kind {
    FileHeader,
    FileTrailer,
    BatchHeader,
    BatchTrailer,
    MessageHeader,
    Segment,
    /// Blank lines and comment lines (`/* … */`, `*`, `//`, `#`), which hand-kept test files put
    /// between messages. Anything else is kept: a line that is not a proper segment inside a
    /// message stays in it (as [`Message::parse`] keeps it), and before any message it is an error.
    Other,
}

fn kind(line: &[u8]) -> Kind {
    let text = line.trim_ascii_start();
    if text.is_empty()
        || [&b"/*"[..], b"*", b"//", b"#"]
            .iter()
            .any(|c| text.starts_with(c))
    {
        return Kind::Other;
    }
    let named = |name: &[u8]| {
        line.starts_with(name) && line.get(3).is_none_or(|b| !b.is_ascii_alphanumeric())
    };
    if named(b"MSH") {
        Kind::MessageHeader
    } else if named(b"FHS") {
        Kind::FileHeader
    } else if named(b"FTS") {
        Kind::FileTrailer
    } else if named(b"BHS") {
        Kind::BatchHeader
    } else if named(b"BTS") {
        Kind::BatchTrailer
    } else {
        Kind::Segment
    }
}

struct State<'a> {
    body: &'a [u8],
    skip: usize,
    file: BatchFile<'a>,
    /// The message being collected: its start offset and its segment spans (absolute).
    open: Option<(usize, Vec<Span>)>,
    file_closed: bool,
    file_cx: Option<Context>,
}

impl<'a> State<'a> {
    fn line(&mut self, start: usize, end: usize, index: usize) -> Result<(), ParseError> {
        let line = &self.body[start..end];
        let kind = kind(line);
        if kind == Kind::Other {
            return Ok(());
        }
        let skip = self.skip;
        let error = |message: String| {
            ParseError::at(skip + start, message).in_segment(index, &line[..line.len().min(3)])
        };
        if self.file_closed {
            return Err(error("a segment follows the file trailer (FTS)".into()));
        }
        match kind {
            Kind::MessageHeader => {
                self.close_message()?;
                self.open = Some((start, vec![(start as u32, end as u32)]));
            }
            Kind::Segment => match &mut self.open {
                Some((_, spans)) => spans.push((start as u32, end as u32)),
                None => {
                    let name = String::from_utf8_lossy(&line[..line.len().min(3)]).into_owned();
                    return Err(error(format!(
                        "segment {name} received before a message header (MSH)"
                    )));
                }
            },
            Kind::FileHeader => {
                if self.file.header.is_some()
                    || !self.file.batches.is_empty()
                    || self.open.is_some()
                {
                    return Err(error(
                        "a file cannot have more than one FHS segment, and FHS comes first".into(),
                    ));
                }
                let cx = header_context(line, self.skip + start)
                    .map_err(|e| e.in_segment(index, b"FHS"))?;
                self.file_cx = Some(cx);
                self.file.header = Some(Segment::new(line, cx));
            }
            Kind::BatchHeader => {
                self.close_message()?;
                if self
                    .file
                    .batches
                    .last()
                    .is_some_and(|b| b.header.is_some() && b.trailer.is_none())
                {
                    return Err(error(
                        "a batch cannot have more than one BHS segment; close the first with BTS"
                            .into(),
                    ));
                }
                let cx = header_context(line, self.skip + start)
                    .map_err(|e| e.in_segment(index, b"BHS"))?;
                self.file.batches.push(Batch {
                    header: Some(Segment::new(line, cx)),
                    messages: Vec::new(),
                    trailer: None,
                });
            }
            Kind::BatchTrailer => {
                self.close_message()?;
                let cx = self.batch_context();
                match self.file.batches.last_mut() {
                    Some(batch) if batch.trailer.is_none() => {
                        batch.trailer = Some(Segment::new(line, cx))
                    }
                    _ => return Err(error("a batch trailer (BTS) without a batch".into())),
                }
            }
            Kind::FileTrailer => {
                self.close_message()?;
                let cx = self.file_cx.unwrap_or_else(default_context);
                self.file.trailer = Some(Segment::new(line, cx));
                self.file_closed = true;
            }
            Kind::Other => {}
        }
        Ok(())
    }

    /// Turns the segments collected since the last `MSH` into a message.
    fn close_message(&mut self) -> Result<(), ParseError> {
        let Some((start, mut spans)) = self.open.take() else {
            return Ok(());
        };
        let end = spans.last().map_or(start, |&(_, e)| e as usize);
        for span in &mut spans {
            *span = (span.0 - start as u32, span.1 - start as u32);
        }
        let message = Message::from_spans(&self.body[start..end], spans)
            .map_err(|e| e.shifted(self.skip + start))?;
        match self.file.batches.last_mut() {
            Some(batch) if batch.trailer.is_none() => batch.messages.push(message),
            _ => self.file.batches.push(Batch {
                header: None,
                messages: vec![message],
                trailer: None,
            }),
        }
        Ok(())
    }

    fn batch_context(&self) -> Context {
        let from_header = self
            .file
            .batches
            .last()
            .and_then(|b| b.header)
            .map(|h| header_context(h.raw(), 0));
        match from_header {
            Some(Ok(cx)) => cx,
            _ => self.file_cx.unwrap_or_else(default_context),
        }
    }
}

fn header_context(line: &[u8], offset: usize) -> Result<Context, ParseError> {
    let (delimiters, _) = Delimiters::parse(&line[3..], offset + 3)?;
    Ok(Context {
        delimiters,
        charset: Charset::Unspecified,
    })
}

fn default_context() -> Context {
    Context {
        delimiters: Delimiters::default(),
        charset: Charset::Unspecified,
    }
}

/// Wraps messages (each in wire form) into a batch: `BHS`, the messages, `BTS` with the count;
/// with `file_header`, also `FHS` … `FTS|1` around it. Sender and receiver in the headers are
/// copied from the first message's MSH-3 to MSH-6.
pub fn build_batch<M: AsRef<[u8]>>(messages: &[M], file_header: bool) -> Vec<u8> {
    let now = super::datetime::now_timestamp();
    let parties = messages
        .first()
        .and_then(|m| Message::parse(m.as_ref()).ok())
        .map(|m| {
            (3..=6)
                .map(|f| String::from_utf8_lossy(m.header().field(f).raw()).into_owned())
                .collect::<Vec<_>>()
                .join("|")
        })
        .unwrap_or_else(|| "|||".to_string());
    let mut out = Vec::new();
    if file_header {
        out.extend(format!("FHS|^~\\&|{parties}|{now}\r").bytes());
    }
    out.extend(format!("BHS|^~\\&|{parties}|{now}\r").bytes());
    for message in messages {
        let bytes = message.as_ref();
        match Message::parse(bytes) {
            Ok(m) => m.write_to(&mut out),
            Err(_) => {
                out.extend_from_slice(bytes);
                if !bytes.ends_with(b"\r") {
                    out.push(b'\r');
                }
            }
        }
    }
    out.extend(format!("BTS|{}\r", messages.len()).bytes());
    if file_header {
        out.extend_from_slice(b"FTS|1\r");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const M1: &str = "MSH|^~\\&|LAB|H|EHR|H|20240101||ORU^R01|1|P|2.5\rPID|1\rOBX|1|ST|A||x\r";
    const M2: &str = "MSH|^~\\&|LAB|H|EHR|H|20240101||ORU^R01|2|P|2.5\rPID|2\r";

    #[test]
    fn a_stream_splits_at_each_msh() {
        let input = format!("{M1}\n\n{}", M2.replace('\r', "\r\n"));
        let messages = parse_stream(input.as_bytes()).unwrap();
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[1].control_id(), "2");
        assert_eq!(messages[0].to_bytes(), M1.as_bytes());
    }

    #[test]
    fn a_batch_file_keeps_headers_and_builds_back() {
        let input = format!("FHS|^~\\&|LAB|H\rBHS|^~\\&|LAB|H\r{M1}{M2}BTS|2\rFTS|1\r");
        let file = parse_batch(input.as_bytes()).unwrap();
        assert_eq!(file.header.unwrap().field(3).text(), "LAB");
        assert_eq!(file.batches.len(), 1);
        assert_eq!(file.batches[0].trailer.unwrap().field(1).text(), "2");
        assert_eq!(file.messages().count(), 2);
        assert_eq!(file.to_bytes(), input.as_bytes());
    }

    #[test]
    fn several_batches_and_comments() {
        let input =
            format!("/* test file */\rBHS|^~\\&\r{M1}BTS|1\r// next\rBHS|^~\\&\r{M2}BTS|1\r");
        let file = parse_batch(input.as_bytes()).unwrap();
        assert_eq!(file.batches.len(), 2);
        assert_eq!(file.into_messages().len(), 2);
    }

    fn err(input: &str) -> String {
        parse_batch(input.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn malformed_batches_are_errors() {
        assert!(err("BHS|^~\\&\rEVN|A04\rBTS|1").contains("received before a message header"));
        assert!(err(&format!("BHS|^~\\&\r{M1}BHS|^~\\&\r{M2}BTS|1")).contains("more than one BHS"));
        assert!(
            err(&format!(
                "FHS|^~\\&\rBHS|^~\\&\r{M1}FHS|^~\\&\rBTS|1\rFTS|1"
            ))
            .contains("more than one FHS")
        );
        assert!(err(&format!("{M1}FTS|1\r{M2}")).contains("follows the file trailer"));
        assert!(err("").contains("no HL7 message"));
        let e = parse_batch(format!("{M1}MSH|^~\\&|A|B|C|D|||").as_bytes()).unwrap_err();
        assert_eq!((e.field, e.offset), (Some(9), M1.len() + 19));
    }

    #[test]
    fn odd_lines_inside_a_message_are_kept() {
        let input = format!("{M1}|||continued line\r{M2}");
        let messages = parse_stream(input.as_bytes()).unwrap();
        assert_eq!(messages[0].segment_count(), 4);
        assert!(
            err("  |||text\rMSH|^~\\&|A||||||ADT^A01|1")
                .contains("received before a message header")
        );
    }

    #[test]
    fn mllp_frame_bytes_in_captures_are_ignored() {
        let input = format!("\x0b{M1}\x1c\r\x0b{M2}\x1c\r");
        let messages = parse_stream(input.as_bytes()).unwrap();
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[1].to_bytes(), M2.as_bytes());
    }

    #[test]
    fn build_batch_wraps_and_counts() {
        let built = build_batch(&[M1, M2], true);
        let file = parse_batch(&built).unwrap();
        assert_eq!(file.batches[0].trailer.unwrap().field(1).text(), "2");
        assert_eq!(file.header.unwrap().field(3).text(), "LAB");
        assert_eq!(file.trailer.unwrap().field(1).text(), "1");
        assert_eq!(
            file.messages()
                .map(|m| m.control_id().into_owned())
                .collect::<Vec<_>>(),
            ["1", "2"]
        );
    }
}
