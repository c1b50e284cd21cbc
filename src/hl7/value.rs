//! Views into a message: [`Segment`] and [`Value`] borrow the input bytes and split them only
//! when asked. Nothing here allocates unless a value's text needs decoding.

use std::borrow::Cow;

use super::charset::Charset;
use super::delimiters::Delimiters;
use super::escape::unescape;

/// What a view needs to split and decode its bytes: the delimiters and the character set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Context {
    pub delimiters: Delimiters,
    pub charset: Charset,
}

/// The 1-based `n`th piece of `bytes` split on `sep`, or `None` when there are fewer pieces.
#[inline]
pub(crate) fn nth_piece(bytes: &[u8], sep: u8, n: usize) -> Option<&[u8]> {
    let mut start = 0;
    for _ in 1..n {
        start += memchr::memchr(sep, &bytes[start..])? + 1;
    }
    let end = memchr::memchr(sep, &bytes[start..]).map_or(bytes.len(), |i| start + i);
    Some(&bytes[start..end])
}

/// Whether a segment name is one of the headers whose field 1 is the field separator itself.
#[inline]
pub(crate) fn is_header_name(name: &[u8]) -> bool {
    matches!(name, b"MSH" | b"FHS" | b"BHS")
}

/// One segment: its name and fields.
#[derive(Debug, Clone, Copy)]
pub struct Segment<'a> {
    bytes: &'a [u8],
    cx: Context,
}

impl<'a> Segment<'a> {
    pub(crate) fn new(bytes: &'a [u8], cx: Context) -> Self {
        Segment { bytes, cx }
    }

    /// The segment name (`PID`, `ZPI`, …): the text before the first field separator.
    pub fn name(&self) -> &'a str {
        let name = nth_piece(self.bytes, self.cx.delimiters.field, 1).unwrap_or_default();
        std::str::from_utf8(name).unwrap_or("")
    }

    /// The segment as written (without its terminator).
    pub fn raw(&self) -> &'a [u8] {
        self.bytes
    }

    fn is_header(&self) -> bool {
        self.bytes.len() >= 4
            && is_header_name(&self.bytes[..3])
            && self.bytes[3] == self.cx.delimiters.field
    }

    /// Field `n` (1-based). In MSH, FHS and BHS, field 1 is the field separator and field 2 the
    /// encoding characters, as the standard numbers them. Past the end: an empty value.
    pub fn field(&self, n: usize) -> Value<'a> {
        if n == 0 {
            return Value::empty(self.cx);
        }
        let sep = self.cx.delimiters.field;
        if self.is_header() {
            return match n {
                1 => Value::new(&self.bytes[3..4], self.cx, Level::Literal),
                2 => Value::new(
                    nth_piece(self.bytes, sep, 2).unwrap_or_default(),
                    self.cx,
                    Level::Literal,
                ),
                _ => Value::new(
                    nth_piece(self.bytes, sep, n).unwrap_or_default(),
                    self.cx,
                    Level::Field,
                ),
            };
        }
        Value::new(
            nth_piece(self.bytes, sep, n + 1).unwrap_or_default(),
            self.cx,
            Level::Field,
        )
    }

    /// The number of fields present (trailing empty fields that are written count).
    pub fn field_count(&self) -> usize {
        let separators = memchr::memchr_iter(self.cx.delimiters.field, self.bytes).count();
        if self.is_header() {
            separators + 1
        } else {
            separators
        }
    }

    /// Every field from field 1 on.
    pub fn fields(&self) -> impl Iterator<Item = Value<'a>> + 'a {
        let this = *self;
        (1..=self.field_count()).map(move |n| this.field(n))
    }
}

/// How far down a value sits, which decides what its separators mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    Field,
    Repetition,
    Component,
    Subcomponent,
    /// MSH-1 and MSH-2: taken as written, never split or unescaped.
    Literal,
}

/// A field, repetition, component or subcomponent: raw bytes that decode on demand.
#[derive(Debug, Clone, Copy)]
pub struct Value<'a> {
    bytes: &'a [u8],
    cx: Context,
    level: Level,
}

impl<'a> Value<'a> {
    pub(crate) fn new(bytes: &'a [u8], cx: Context, level: Level) -> Self {
        Value { bytes, cx, level }
    }

    pub(crate) fn empty(cx: Context) -> Self {
        Value {
            bytes: &[],
            cx,
            level: Level::Subcomponent,
        }
    }

    /// The bytes as written in the message, escapes and separators included.
    pub fn raw(&self) -> &'a [u8] {
        self.bytes
    }

    /// The value as UTF-8 text, escape sequences decoded. For a field with several repetitions
    /// or components this is its text with the separators in place (use [`Value::component`]
    /// and friends to take it apart).
    pub fn text(&self) -> Cow<'a, str> {
        let bytes = match self.level {
            Level::Literal => Cow::Borrowed(self.bytes),
            _ => unescape(self.bytes, &self.cx.delimiters),
        };
        self.cx.charset.decode(bytes)
    }

    /// True when nothing is written here.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// True for the explicit HL7 null `""` ("delete this value at the receiver").
    pub fn is_null(&self) -> bool {
        self.bytes == b"\"\""
    }

    /// Repetition `n` (1-based) of a field. Below field level, repetition 1 is the value itself.
    pub fn repetition(&self, n: usize) -> Value<'a> {
        match self.level {
            Level::Field => self.piece(self.cx.delimiters.repetition, n, Level::Repetition),
            _ => self.first_only(n),
        }
    }

    /// Component `n` (1-based); read from the first repetition when this is a whole field.
    pub fn component(&self, n: usize) -> Value<'a> {
        match self.level {
            Level::Field => self.repetition(1).component(n),
            Level::Repetition => self.piece(self.cx.delimiters.component, n, Level::Component),
            _ => self.first_only(n),
        }
    }

    /// Subcomponent `n` (1-based); read from the first component of a field or repetition.
    pub fn subcomponent(&self, n: usize) -> Value<'a> {
        match (self.level, self.cx.delimiters.subcomponent) {
            (Level::Field | Level::Repetition, _) => self.component(1).subcomponent(n),
            (Level::Component, Some(sep)) => self.piece(sep, n, Level::Subcomponent),
            _ => self.first_only(n),
        }
    }

    /// Every repetition of a field (one for an empty field).
    pub fn repetitions(&self) -> impl Iterator<Item = Value<'a>> + 'a {
        self.children(
            Level::Field,
            self.cx.delimiters.repetition,
            Level::Repetition,
        )
    }

    /// Every component of a repetition (of the first one, for a field).
    pub fn components(&self) -> impl Iterator<Item = Value<'a>> + 'a {
        let base = if self.level == Level::Field {
            self.repetition(1)
        } else {
            *self
        };
        base.children(
            Level::Repetition,
            base.cx.delimiters.component,
            Level::Component,
        )
    }

    /// Every subcomponent of a component.
    pub fn subcomponents(&self) -> impl Iterator<Item = Value<'a>> + 'a {
        let base = match self.level {
            Level::Field | Level::Repetition => self.component(1),
            _ => *self,
        };
        let sep = base
            .cx
            .delimiters
            .subcomponent
            .unwrap_or(base.cx.delimiters.field);
        base.children(Level::Component, sep, Level::Subcomponent)
    }

    fn children(
        self,
        parent: Level,
        sep: u8,
        child: Level,
    ) -> impl Iterator<Item = Value<'a>> + 'a {
        let cx = self.cx;
        let bytes = self.bytes;
        let split = self.level == parent;
        let mut pieces = bytes.split(move |&b| split && b == sep);
        std::iter::from_fn(move || {
            pieces
                .next()
                .map(|p| Value::new(p, cx, if split { child } else { Level::Subcomponent }))
        })
    }

    fn piece(&self, sep: u8, n: usize, level: Level) -> Value<'a> {
        match (n, nth_piece(self.bytes, sep, n.max(1))) {
            (1.., Some(p)) => Value::new(p, self.cx, level),
            _ => Value::empty(self.cx),
        }
    }

    fn first_only(&self, n: usize) -> Value<'a> {
        if n == 1 { *self } else { Value::empty(self.cx) }
    }
}

impl PartialEq<str> for Value<'_> {
    fn eq(&self, other: &str) -> bool {
        self.text() == other
    }
}

impl PartialEq<&str> for Value<'_> {
    fn eq(&self, other: &&str) -> bool {
        self.text() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cx() -> Context {
        Context {
            delimiters: Delimiters::default(),
            charset: Charset::Unspecified,
        }
    }

    #[test]
    fn nth_piece_counts_from_one() {
        assert_eq!(nth_piece(b"a|b||d", b'|', 1), Some(&b"a"[..]));
        assert_eq!(nth_piece(b"a|b||d", b'|', 3), Some(&b""[..]));
        assert_eq!(nth_piece(b"a|b||d", b'|', 4), Some(&b"d"[..]));
        assert_eq!(nth_piece(b"a|b||d", b'|', 5), None);
    }

    #[test]
    fn header_fields_follow_standard_numbering() {
        let seg = Segment::new(b"MSH|^~\\&|APP|FAC", cx());
        assert_eq!(seg.name(), "MSH");
        assert_eq!(seg.field(1).text(), "|");
        assert_eq!(seg.field(2).text(), "^~\\&");
        assert_eq!(seg.field(2).component(1).text(), "^~\\&");
        assert_eq!(seg.field(3).text(), "APP");
        assert_eq!(seg.field(4).text(), "FAC");
        assert_eq!(seg.field_count(), 4);
    }

    #[test]
    fn levels_split_on_their_own_separators() {
        let seg = Segment::new(b"PID|1||123^^^H&1.2&ISO^MR~456^^^SSA^SS||DOE^JOHN", cx());
        let f = seg.field(3);
        assert_eq!(f.repetition(2).component(1).text(), "456");
        assert_eq!(f.component(4).subcomponent(2).text(), "1.2");
        assert_eq!(f.repetition(1).component(4).subcomponent(3).text(), "ISO");
        assert_eq!(f.subcomponent(1).text(), "123");
        assert_eq!(f.repetitions().count(), 2);
        assert_eq!(
            seg.field(5)
                .components()
                .map(|c| c.text().into_owned())
                .collect::<Vec<_>>(),
            ["DOE", "JOHN"]
        );
        assert!(seg.field(5).component(3).is_empty());
        assert!(seg.field(99).component(1).subcomponent(1).is_empty());
        assert_eq!(seg.field(5).component(1).component(1).text(), "DOE");
        assert!(seg.field(5).component(1).component(2).is_empty());
    }
}
