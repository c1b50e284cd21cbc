//! HL7 escape sequences: decoded when a value is read, encoded when a value is written.
//!
//! Decoded: `\F\ \S\ \T\ \R\ \E\` (the delimiters themselves), `\P\` (the v2.7 truncation
//! character) and `\Xhh…\` (raw bytes, in the message's character set). Kept exactly as
//! written: the formatting sequences of FT/TX data (`\.br\`, `\H\`, `\N\`, `\.sp\`, `\Cxxyy\`,
//! …), whose meaning belongs to whoever renders the text, and anything malformed (an
//! unterminated escape stays literal text, so nothing is ever lost).
//!
//! Both directions work on bytes and return `Cow`, so a value without the escape character
//! (nearly all of them) is neither copied nor scanned twice.

use std::borrow::Cow;

use super::delimiters::Delimiters;

/// Decodes the escape sequences in `raw`.
pub fn unescape<'a>(raw: &'a [u8], d: &Delimiters) -> Cow<'a, [u8]> {
    let Some(esc) = d.escape else {
        return Cow::Borrowed(raw);
    };
    let Some(first) = memchr::memchr(esc, raw) else {
        return Cow::Borrowed(raw);
    };
    let mut out = Vec::with_capacity(raw.len());
    out.extend_from_slice(&raw[..first]);
    let mut i = first;
    while i < raw.len() {
        let Some(rel) = memchr::memchr(esc, &raw[i..]) else {
            out.extend_from_slice(&raw[i..]);
            break;
        };
        let start = i + rel;
        out.extend_from_slice(&raw[i..start]);
        // An escape character with no closing one is plain text.
        let Some(len) = memchr::memchr(esc, &raw[start + 1..]) else {
            out.extend_from_slice(&raw[start..]);
            break;
        };
        let end = start + 1 + len;
        let body = &raw[start + 1..end];
        if body.is_empty() {
            // `\\` is no sequence: keep the first as text and let the second start one.
            out.push(esc);
            i = start + 1;
            continue;
        }
        if !decode_sequence(body, d, esc, &mut out) {
            out.extend_from_slice(&raw[start..=end]);
        }
        i = end + 1;
    }
    Cow::Owned(out)
}

/// Appends the decoding of one sequence body (the text between the escape characters) and
/// returns true, or returns false to have the caller keep the sequence as written.
fn decode_sequence(body: &[u8], d: &Delimiters, esc: u8, out: &mut Vec<u8>) -> bool {
    let byte = match body {
        b"F" => Some(d.field),
        b"S" => Some(d.component),
        b"R" => Some(d.repetition),
        b"E" => Some(esc),
        b"T" => d.subcomponent,
        b"P" => d.truncation,
        _ => None,
    };
    if let Some(b) = byte {
        out.push(b);
        return true;
    }
    if let [b'X', hex @ ..] = body
        && !hex.is_empty()
        && hex.len() % 2 == 0
        && hex.iter().all(u8::is_ascii_hexdigit)
    {
        out.extend(
            hex.chunks_exact(2)
                .map(|pair| (hex_value(pair[0]) << 4) | hex_value(pair[1])),
        );
        return true;
    }
    false
}

fn hex_value(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c.wrapping_sub(b'A').wrapping_add(10),
    }
}

/// Encodes `value` so that it can be placed in a message with these delimiters: every
/// delimiter becomes its escape sequence, CR and LF become `\X0D\` and `\X0A\`.
///
/// With no escape character in MSH-2 nothing can be escaped; delimiters and line breaks in the
/// value are then replaced by a space so that the message structure stays intact.
pub fn escape<'a>(value: &'a [u8], d: &Delimiters) -> Cow<'a, [u8]> {
    let needs = |b: u8| {
        d.is_separator(b)
            || Some(b) == d.escape
            || Some(b) == d.truncation
            || b == b'\r'
            || b == b'\n'
    };
    if !value.iter().any(|&b| needs(b)) {
        return Cow::Borrowed(value);
    }
    let mut out = Vec::with_capacity(value.len() + 8);
    for &b in value {
        if !needs(b) {
            out.push(b);
            continue;
        }
        let Some(esc) = d.escape else {
            out.push(b' ');
            continue;
        };
        let code: &[u8] = if b == d.field {
            b"F"
        } else if b == d.component {
            b"S"
        } else if b == d.repetition {
            b"R"
        } else if Some(b) == d.escape {
            b"E"
        } else if Some(b) == d.subcomponent {
            b"T"
        } else if Some(b) == d.truncation {
            b"P"
        } else if b == b'\r' {
            b"X0D"
        } else {
            b"X0A"
        };
        out.push(esc);
        out.extend_from_slice(code);
        out.push(esc);
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn un(s: &str) -> String {
        String::from_utf8(unescape(s.as_bytes(), &Delimiters::default()).into_owned()).unwrap()
    }

    #[test]
    fn delimiter_sequences_are_decoded() {
        assert_eq!(un(r"Müller\T\Söhne"), "Müller&Söhne");
        assert_eq!(un(r"a\F\b\S\c\R\d\E\e"), r"a|b^c~d\e");
    }

    #[test]
    fn hex_sequences_are_decoded_to_bytes() {
        assert_eq!(un(r"line1\X0D0A\line2"), "line1\r\nline2");
        assert_eq!(un(r"\X41\\X0D\\X0A\"), "A\r\n");
        assert_eq!(un(r"\XC3A9\"), "é");
    }

    #[test]
    fn formatting_sequences_are_kept_as_written() {
        assert_eq!(
            un(r"a\.br\b \H\bold\N\ \.sp2\ \C2842\"),
            r"a\.br\b \H\bold\N\ \.sp2\ \C2842\"
        );
    }

    #[test]
    fn malformed_sequences_stay_literal() {
        assert_eq!(un(r"BSV 4\5 re."), r"BSV 4\5 re.");
        assert_eq!(un(r"\X4\"), r"\X4\");
        assert_eq!(un(r"\XZZ\"), r"\XZZ\");
        assert_eq!(un(r"a\\F\b"), r"a\|b");
        assert_eq!(un(r"trailing\"), r"trailing\");
    }

    #[test]
    fn truncation_is_decoded_only_when_declared() {
        assert_eq!(un(r"a\P\b"), r"a\P\b");
        let d = Delimiters {
            truncation: Some(b'#'),
            ..Delimiters::default()
        };
        assert_eq!(&*unescape(br"a\P\b", &d), b"a#b");
        assert_eq!(&*escape(b"a#b", &d), br"a\P\b");
    }

    #[test]
    fn escape_encodes_every_delimiter_and_line_breaks() {
        let d = Delimiters::default();
        assert_eq!(
            &*escape(b"a|b^c~d\\e&f\r\n", &d),
            br"a\F\b\S\c\R\d\E\e\T\f\X0D\\X0A\"
        );
        assert!(matches!(escape(b"plain", &d), Cow::Borrowed(_)));
    }

    #[test]
    fn escape_without_escape_character_keeps_structure() {
        let d = Delimiters {
            escape: None,
            ..Delimiters::default()
        };
        assert_eq!(&*escape(b"a|b", &d), b"a b");
    }

    fn delimiters() -> impl Strategy<Value = Delimiters> {
        proptest::sample::subsequence(b"|^~\\&#!@$%*".to_vec(), 6)
            .prop_shuffle()
            .prop_map(|c| Delimiters {
                field: c[0],
                component: c[1],
                repetition: c[2],
                escape: Some(c[3]),
                subcomponent: Some(c[4]),
                truncation: Some(c[5]),
            })
    }

    proptest! {
        #[test]
        fn unescape_inverts_escape(value in proptest::collection::vec(any::<u8>(), 0..64), d in delimiters()) {
            let escaped = escape(&value, &d);
            prop_assert!(!escaped.iter().any(|&b| d.is_separator(b) || b == b'\r' || b == b'\n'));
            prop_assert_eq!(unescape(&escaped, &d).into_owned(), value);
        }

        #[test]
        fn unescape_never_panics(raw in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = unescape(&raw, &Delimiters::default());
        }
    }
}
