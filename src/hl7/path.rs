//! Paths that name a value in a message: `PID-5`, `PID-5.1`, `PID-3[2].4.2`, `OBX[3]-5`.
//!
//! Grammar (every number 1-based, as in HL7 guides):
//! ```text
//! path    = segment [ "[" n "]" ] "-" field [ "[" n "]" ] [ "." component [ "." subcomponent ] ]
//! segment = three characters: an upper-case letter, then upper-case letters or digits
//! ```
//! `OBX[3]` is the third OBX segment; `PID-3[2]` the second repetition of PID-3. Without an index
//! the first segment is meant, and a component path reads the first repetition. A path that ends
//! at a field names the whole field, all repetitions included. Parsing is strict: any other
//! character is an error that points at it.

use nom::bytes::complete::{tag, take_while_m_n};
use nom::character::complete::{char, digit1};
use nom::combinator::opt;
use nom::sequence::delimited;
use nom::{IResult, Parser};

use super::error::PathError;

/// A parsed path. Indexes are 1-based; `None` means "not given".
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Path {
    /// The segment name, e.g. `PID`.
    pub segment: [u8; 3],
    /// Which occurrence of the segment (`OBX[3]`); `None` is the first.
    pub segment_index: Option<usize>,
    /// The field number.
    pub field: usize,
    /// Which repetition (`PID-3[2]`); `None` means the whole field, or the first repetition
    /// when a component is named.
    pub repetition: Option<usize>,
    /// The component number.
    pub component: Option<usize>,
    /// The subcomponent number.
    pub subcomponent: Option<usize>,
}

impl Path {
    /// Parses a path, with an error that points at the first character that does not fit.
    pub fn parse(text: &str) -> Result<Path, PathError> {
        let position = |rest: &str| text.len() - rest.len();
        let (rest, name) = segment_name(text).map_err(|_| {
            PathError::new(
                text,
                0,
                "expected a segment name of 3 characters, such as `PID` or `ZPI`",
            )
        })?;
        let (rest, segment_index) = index(rest).map_err(|e| index_error(text, e))?;
        let (rest, _) = tag::<_, _, nom::error::Error<&str>>("-")
            .parse(rest)
            .map_err(|_| PathError::new(text, position(rest), "expected `-` and a field number"))?;
        let (rest, field) = number(rest)
            .map_err(|_| PathError::new(text, position(rest), "expected a field number"))?;
        let (rest, repetition) = index(rest).map_err(|e| index_error(text, e))?;
        let (rest, component) = dotted(rest)
            .map_err(|_| PathError::new(text, position(rest) + 1, "expected a component number"))?;
        let (rest, subcomponent) = match component {
            Some(_) => dotted(rest).map_err(|_| {
                PathError::new(text, position(rest) + 1, "expected a subcomponent number")
            })?,
            None => (rest, None),
        };
        if !rest.is_empty() {
            let what = if component.is_some() && subcomponent.is_some() {
                "expected the end of the path after the subcomponent"
            } else {
                "expected `.`, `[` or the end of the path"
            };
            return Err(PathError::new(text, position(rest), what));
        }
        let mut segment = [0u8; 3];
        segment.copy_from_slice(name.as_bytes());
        if [
            Some(field),
            segment_index,
            repetition,
            component,
            subcomponent,
        ]
        .contains(&Some(0))
        {
            return Err(zero_error(text));
        }
        Ok(Path {
            segment,
            segment_index,
            field,
            repetition,
            component,
            subcomponent,
        })
    }

    /// The segment name as text.
    pub fn segment_name(&self) -> &str {
        std::str::from_utf8(&self.segment).unwrap_or("???")
    }
}

impl std::str::FromStr for Path {
    type Err = PathError;
    fn from_str(s: &str) -> Result<Path, PathError> {
        Path::parse(s)
    }
}

impl std::fmt::Display for Path {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.segment_name())?;
        if let Some(i) = self.segment_index {
            write!(f, "[{i}]")?;
        }
        write!(f, "-{}", self.field)?;
        if let Some(r) = self.repetition {
            write!(f, "[{r}]")?;
        }
        if let Some(c) = self.component {
            write!(f, ".{c}")?;
        }
        if let Some(s) = self.subcomponent {
            write!(f, ".{s}")?;
        }
        Ok(())
    }
}

type Res<'a, T> = IResult<&'a str, T>;

fn segment_name(input: &str) -> Res<'_, &str> {
    let (rest, first) = take_while_m_n(1, 1, |c: char| c.is_ascii_uppercase()).parse(input)?;
    let (rest, others) =
        take_while_m_n(2, 2, |c: char| c.is_ascii_uppercase() || c.is_ascii_digit()).parse(rest)?;
    Ok((rest, &input[..first.len() + others.len()]))
}

fn number(input: &str) -> Res<'_, usize> {
    let (rest, digits) = digit1(input)?;
    // More than 9 digits cannot be a real position; treat it as malformed rather than overflow.
    if digits.len() > 9 {
        return Err(nom::Err::Error(nom::error::Error::new(
            input,
            nom::error::ErrorKind::TooLarge,
        )));
    }
    Ok((rest, digits.parse().unwrap_or(usize::MAX)))
}

/// An optional `[n]`. On error, returns the remaining input where it failed.
fn index(input: &str) -> Result<(&str, Option<usize>), &str> {
    if !input.starts_with('[') {
        return Ok((input, None));
    }
    let parsed: Res<'_, usize> = delimited(char('['), number, char(']')).parse(input);
    match parsed {
        Ok((rest, n)) => Ok((rest, Some(n))),
        Err(_) => {
            // Point at the digits, or at the missing `]`.
            let after = &input[1..];
            let digits = after.bytes().take_while(u8::is_ascii_digit).count();
            Err(if digits == 0 { after } else { &after[digits..] })
        }
    }
}

fn dotted(input: &str) -> Res<'_, Option<usize>> {
    let (rest, dot) = opt(char('.')).parse(input)?;
    match dot {
        None => Ok((rest, None)),
        Some(_) => number(rest).map(|(r, n)| (r, Some(n))),
    }
}

fn index_error(text: &str, rest: &str) -> PathError {
    let position = text.len() - rest.len();
    let message = if rest.starts_with(|c: char| c.is_ascii_digit()) {
        "the index is too large"
    } else if text[..position].ends_with('[') {
        "expected an index number after `[`"
    } else {
        "expected `]` to close the index"
    };
    PathError::new(text, position, message)
}

fn zero_error(text: &str) -> PathError {
    // Find the first number that is zero, to point at it.
    let bytes = text.as_bytes();
    let position = (0..bytes.len())
        .find(|&i| {
            bytes[i] == b'0'
                && (i == 0 || !bytes[i - 1].is_ascii_digit())
                && bytes[i..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit())
                    .all(|&b| b == b'0')
        })
        .unwrap_or(0);
    PathError::new(text, position, "positions are 1-based; 0 is not a position")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Path {
        Path::parse(s).unwrap()
    }

    #[test]
    fn forms_from_the_hl7_guides() {
        assert_eq!(
            p("PID-5"),
            Path {
                segment: *b"PID",
                segment_index: None,
                field: 5,
                repetition: None,
                component: None,
                subcomponent: None
            }
        );
        assert_eq!(p("PID-5.1").component, Some(1));
        let q = p("PID-3[2].4.2");
        assert_eq!(
            (q.repetition, q.component, q.subcomponent),
            (Some(2), Some(4), Some(2))
        );
        let q = p("OBX[3]-5");
        assert_eq!((q.segment_index, q.field), (Some(3), 5));
        assert_eq!(p("ZP1-12").segment_name(), "ZP1");
    }

    #[test]
    fn display_round_trips() {
        for s in ["PID-5", "PID-3[2].4.2", "OBX[3]-5.1", "MSH-9.2"] {
            assert_eq!(p(s).to_string(), s);
        }
    }

    fn err(s: &str) -> (usize, String) {
        let e = Path::parse(s).unwrap_err();
        (e.position, e.message)
    }

    #[test]
    fn errors_point_at_the_character() {
        assert_eq!(err("pid-5").0, 0);
        assert_eq!(err("PI-5").0, 0);
        assert_eq!(err("PID5").0, 3);
        assert_eq!(err("PID-x").0, 4);
        assert_eq!(err("PID-5.").0, 6);
        assert_eq!(err("PID-5.1.").0, 8);
        assert_eq!(err("PID-5.1.2.3").0, 9);
        assert_eq!(err("PID-3[2").0, 7);
        assert_eq!(err("PID-3[]").0, 6);
        assert_eq!(err("OBX[3-5").0, 5);
        assert_eq!(err("PID-5 ").0, 5);
        assert_eq!(err("PID-0").0, 4);
        assert_eq!(err("PID-3[0]").0, 6);
        assert!(err("PID-99999999999").1.contains("field number"));
    }

    #[test]
    fn error_text_has_a_caret() {
        let e = Path::parse("PID-x").unwrap_err().to_string();
        assert!(e.contains("PID-x\n      ^"), "{e}");
    }
}
