//! Character sets: MSH-18 says how the bytes of a message are to be read.
//!
//! Values always come out as UTF-8. Feeds that declare nothing (or `ASCII`) are read as UTF-8
//! when the bytes are valid UTF-8 and as Windows-1252 otherwise, because stray Windows-1252 bytes
//! (en dashes, curly quotes) are the most common "ASCII" violation in practice. `8859/1` is read
//! as Windows-1252 too: it agrees with ISO-8859-1 on every printable character and gives the
//! C1 range its de-facto meaning.

use std::borrow::Cow;

use encoding_rs::{Encoding, ISO_8859_15, WINDOWS_1252};

/// The character set of a message, from MSH-18.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Charset {
    /// Nothing declared, or `ASCII`: UTF-8, falling back to Windows-1252 for invalid bytes.
    #[default]
    Unspecified,
    /// `UNICODE UTF-8`.
    Utf8,
    /// `8859/1` (Latin-1).
    Latin1,
    /// `8859/15` (Latin-9, with the euro sign).
    Latin9,
}

impl Charset {
    /// Reads MSH-18 (its first repetition). Unknown names fall back to [`Charset::Unspecified`],
    /// which still reads every byte.
    pub fn from_msh18(value: &[u8]) -> Charset {
        let name = value.trim_ascii();
        if name.eq_ignore_ascii_case(b"UNICODE UTF-8")
            || name.eq_ignore_ascii_case(b"UTF-8")
            || name.eq_ignore_ascii_case(b"UNICODE")
        {
            Charset::Utf8
        } else if name == b"8859/1" {
            Charset::Latin1
        } else if name == b"8859/15" {
            Charset::Latin9
        } else {
            Charset::Unspecified
        }
    }

    /// The MSH-18 text for this character set (empty for unspecified).
    pub fn msh18(self) -> &'static str {
        match self {
            Charset::Unspecified => "",
            Charset::Utf8 => "UNICODE UTF-8",
            Charset::Latin1 => "8859/1",
            Charset::Latin9 => "8859/15",
        }
    }

    /// Decodes bytes of this character set into UTF-8 text, borrowing when possible.
    pub fn decode<'a>(self, bytes: Cow<'a, [u8]>) -> Cow<'a, str> {
        let single_byte = match self {
            Charset::Latin1 => WINDOWS_1252,
            Charset::Latin9 => ISO_8859_15,
            Charset::Unspecified | Charset::Utf8 => return utf8_or_1252(bytes),
        };
        if bytes.is_ascii() {
            return utf8_or_1252(bytes);
        }
        Cow::Owned(decode_with(single_byte, &bytes))
    }

    /// Encodes UTF-8 text into this character set. Characters the set cannot hold become `?`.
    pub fn encode(self, text: &str) -> Cow<'_, [u8]> {
        let encoding = match self {
            Charset::Latin1 => WINDOWS_1252,
            Charset::Latin9 => ISO_8859_15,
            Charset::Unspecified | Charset::Utf8 => return Cow::Borrowed(text.as_bytes()),
        };
        if text.is_ascii() {
            return Cow::Borrowed(text.as_bytes());
        }
        let mut out = Vec::with_capacity(text.len());
        let mut buf = [0u8; 4];
        for c in text.chars() {
            let (bytes, _, unmappable) = encoding.encode(c.encode_utf8(&mut buf));
            if unmappable {
                out.push(b'?')
            } else {
                out.extend_from_slice(&bytes)
            }
        }
        Cow::Owned(out)
    }
}

fn utf8_or_1252(bytes: Cow<'_, [u8]>) -> Cow<'_, str> {
    match bytes {
        Cow::Borrowed(b) => match std::str::from_utf8(b) {
            Ok(s) => Cow::Borrowed(s),
            Err(_) => Cow::Owned(decode_with(WINDOWS_1252, b)),
        },
        Cow::Owned(b) => match String::from_utf8(b) {
            Ok(s) => Cow::Owned(s),
            Err(e) => Cow::Owned(decode_with(WINDOWS_1252, e.as_bytes())),
        },
    }
}

fn decode_with(encoding: &'static Encoding, bytes: &[u8]) -> String {
    encoding.decode_without_bom_handling(bytes).0.into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(cs: Charset, b: &[u8]) -> String {
        cs.decode(Cow::Borrowed(b)).into_owned()
    }

    #[test]
    fn msh18_names() {
        assert_eq!(Charset::from_msh18(b"UNICODE UTF-8"), Charset::Utf8);
        assert_eq!(Charset::from_msh18(b"8859/1"), Charset::Latin1);
        assert_eq!(Charset::from_msh18(b"8859/15"), Charset::Latin9);
        assert_eq!(Charset::from_msh18(b"ASCII"), Charset::Unspecified);
        assert_eq!(Charset::from_msh18(b""), Charset::Unspecified);
    }

    #[test]
    fn utf8_is_borrowed() {
        assert!(matches!(
            Charset::Utf8.decode(Cow::Borrowed("Müller".as_bytes())),
            Cow::Borrowed("Müller")
        ));
    }

    #[test]
    fn latin1_and_latin9_are_transcoded() {
        assert_eq!(dec(Charset::Latin1, b"M\xfcller"), "Müller");
        assert_eq!(dec(Charset::Latin9, b"\xa4 5"), "€ 5");
        assert_eq!(&*Charset::Latin1.encode("Müller"), b"M\xfcller");
        assert_eq!(&*Charset::Latin9.encode("€ 漢"), b"\xa4 ?");
    }

    #[test]
    fn stray_windows_1252_bytes_are_tolerated() {
        assert_eq!(dec(Charset::Unspecified, b"A \x96 B"), "A – B");
        assert_eq!(dec(Charset::Utf8, b"caf\xe9"), "café");
    }
}
