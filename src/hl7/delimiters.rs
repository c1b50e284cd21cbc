//! The delimiters of a message, read from MSH-1 and MSH-2 (or FHS/BHS for batches).
//!
//! HL7 v2 lets every message choose its own delimiters: MSH-1 is the field separator (the byte
//! right after `MSH`) and MSH-2 lists, in order, the component, repetition, escape and
//! subcomponent characters, plus the truncation character from v2.7 on. Senders in the wild drop
//! some of them, so fewer than four are accepted, with these rules:
//! - `^~\` (three): no subcomponent separator.
//! - `^~&` (three, the third being `&`): no escape character (a common way to say "none").
//! - `^~\\&` (a doubled escape character, an artefact of source code that escaped `\` twice) is
//!   read as `^~\&`.
//!
//! Alphanumerics, CR, LF and duplicates are rejected: they would make the message ambiguous.

use super::error::ParseError;

/// The delimiter bytes of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Delimiters {
    /// Separates fields (MSH-1), usually `|`.
    pub field: u8,
    /// Separates components, usually `^`.
    pub component: u8,
    /// Separates repetitions, usually `~`.
    pub repetition: u8,
    /// Starts and ends escape sequences, usually `\`; absent in some feeds.
    pub escape: Option<u8>,
    /// Separates subcomponents, usually `&`; absent in some feeds.
    pub subcomponent: Option<u8>,
    /// The v2.7 truncation character, usually `#`.
    pub truncation: Option<u8>,
}

impl Default for Delimiters {
    /// The standard `|^~\&`, which every builder uses unless told otherwise.
    fn default() -> Self {
        Delimiters {
            field: b'|',
            component: b'^',
            repetition: b'~',
            escape: Some(b'\\'),
            subcomponent: Some(b'&'),
            truncation: None,
        }
    }
}

impl Delimiters {
    /// Reads the delimiters from the bytes that follow a header segment's name (`MSH`, `FHS`,
    /// `BHS`): the field separator and the encoding characters up to the next field separator.
    /// `base` is the offset of `after_name` in the whole input, for error positions.
    ///
    /// Returns the delimiters and the number of bytes of MSH-2 as written.
    pub(crate) fn parse(after_name: &[u8], base: usize) -> Result<(Delimiters, usize), ParseError> {
        let field = *after_name.first().ok_or_else(|| {
            ParseError::at(base, "the header ends before its field separator (MSH-1)")
        })?;
        if !is_valid_delimiter(field) {
            return Err(ParseError::at(
                base,
                format!(
                    "the field separator (MSH-1) {} is not a usable delimiter",
                    describe(field)
                ),
            )
            .in_field(1));
        }
        let rest = &after_name[1..];
        let end = memchr::memchr3(field, b'\r', b'\n', rest).unwrap_or(rest.len());
        let encoding = &rest[..end];
        let delimiters = Self::from_encoding_characters(field, encoding)
            .map_err(|(pos, message)| ParseError::at(base + 1 + pos, message).in_field(2))?;
        Ok((delimiters, encoding.len()))
    }

    /// Builds delimiters from MSH-1 and the text of MSH-2. On error, returns the position in
    /// `encoding` of the offending character and a sentence.
    fn from_encoding_characters(field: u8, encoding: &[u8]) -> Result<Delimiters, (usize, String)> {
        // A doubled escape character (`^~\\&`) comes from source code that escaped it twice.
        let normalized: Vec<u8>;
        let chars: &[u8] = if encoding.len() == 5 && encoding[2] == b'\\' && encoding[3] == b'\\' {
            normalized = [&encoding[..3], &encoding[4..]].concat();
            &normalized
        } else {
            encoding
        };
        match chars.len() {
            0 => return Err((0, "the encoding characters (MSH-2) are empty".into())),
            1 => return Err((1, "the encoding characters (MSH-2) need at least the component and repetition separators".into())),
            6.. => {
                return Err((5, format!(
                    "the encoding characters (MSH-2) `{}` are too many: at most 5 (component, repetition, escape, subcomponent, truncation)",
                    String::from_utf8_lossy(encoding)
                )))
            }
            _ => {}
        }
        for (i, &c) in chars.iter().enumerate() {
            if !is_valid_delimiter(c) {
                return Err((
                    i,
                    format!(
                        "the encoding character {} in MSH-2 is not a usable delimiter",
                        describe(c)
                    ),
                ));
            }
            if c == field || chars[..i].contains(&c) {
                return Err((
                    i,
                    format!(
                        "the encoding character {} appears twice in MSH-1/MSH-2",
                        describe(c)
                    ),
                ));
            }
        }
        let (escape, subcomponent) = match chars.len() {
            2 => (None, None),
            3 if chars[2] == b'&' => (None, Some(b'&')),
            3 => (Some(chars[2]), None),
            _ => (Some(chars[2]), Some(chars[3])),
        };
        Ok(Delimiters {
            field,
            component: chars[0],
            repetition: chars[1],
            escape,
            subcomponent,
            truncation: chars.get(4).copied(),
        })
    }

    /// MSH-2 as it should be written for these delimiters (`^~\&`, or `^~\&#` with truncation).
    pub fn encoding_characters(&self) -> Vec<u8> {
        let mut out = vec![self.component, self.repetition];
        match (self.escape, self.subcomponent) {
            (Some(e), Some(s)) => out.extend([e, s]),
            (Some(e), None) => out.push(e),
            (None, Some(s)) => out.push(s),
            (None, None) => {}
        }
        if let (Some(t), Some(_), Some(_)) = (self.truncation, self.escape, self.subcomponent) {
            out.push(t);
        }
        out
    }

    /// Whether `b` is one of the structural delimiters (not the escape or truncation character).
    #[inline]
    pub fn is_separator(&self, b: u8) -> bool {
        b == self.field
            || b == self.component
            || b == self.repetition
            || Some(b) == self.subcomponent
    }
}

/// Delimiters must be printable ASCII punctuation-like bytes: never letters, digits, CR or LF.
fn is_valid_delimiter(b: u8) -> bool {
    b.is_ascii_graphic() && !b.is_ascii_alphanumeric()
}

fn describe(b: u8) -> String {
    if b.is_ascii_graphic() {
        format!("`{}`", b as char)
    } else {
        format!("byte 0x{b:02X}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Delimiters, ParseError> {
        Delimiters::parse(s.as_bytes(), 3).map(|(d, _)| d)
    }

    #[test]
    fn standard_delimiters() {
        let d = parse("|^~\\&|APP").unwrap();
        assert_eq!(d, Delimiters::default());
    }

    #[test]
    fn custom_delimiters_are_taken_as_written() {
        let d = parse("!@#$%!APP").unwrap();
        assert_eq!((d.field, d.component, d.repetition), (b'!', b'@', b'#'));
        assert_eq!(
            (d.escape, d.subcomponent, d.truncation),
            (Some(b'$'), Some(b'%'), None)
        );
    }

    #[test]
    fn truncation_character_in_v27() {
        let d = parse("|^~\\&#|APP").unwrap();
        assert_eq!(d.truncation, Some(b'#'));
        assert_eq!(d.encoding_characters(), b"^~\\&#");
    }

    #[test]
    fn no_escape_character() {
        let d = parse("|^~&|APP").unwrap();
        assert_eq!((d.escape, d.subcomponent), (None, Some(b'&')));
        assert_eq!(d.encoding_characters(), b"^~&");
        let d = parse("|^~|APP").unwrap();
        assert_eq!((d.escape, d.subcomponent), (None, None));
    }

    #[test]
    fn doubled_escape_is_read_as_one() {
        let d = parse("|^~\\\\&|APP").unwrap();
        assert_eq!(d, Delimiters::default());
    }

    #[test]
    fn bad_encoding_characters_are_errors_with_positions() {
        let e = parse("||APP").unwrap_err();
        assert!(e.message.contains("empty"), "{e}");
        let e = parse("|^&&^|APP").unwrap_err();
        assert!(e.message.contains("twice"), "{e}");
        assert_eq!(e.offset, 3 + 1 + 2);
        let e = parse("|@%\\&$?!|APP").unwrap_err();
        assert!(e.message.contains("too many"), "{e}");
        let e = parse("A^~\\&|").unwrap_err();
        assert!(e.message.contains("field separator"), "{e}");
        let e = parse("|^A\\&|").unwrap_err();
        assert!(e.message.contains("`A`"), "{e}");
        assert_eq!(
            parse("|^~\\&").unwrap(),
            Delimiters::default(),
            "a batch header may end after MSH-2"
        );
        assert!(parse("").is_err());
    }
}
