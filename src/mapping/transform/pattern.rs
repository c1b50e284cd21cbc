//! Date patterns an analyst writes, such as `MM/DD/YYYY` or `DD.MM.YYYY HH:mm`.
//!
//! Tokens: `YYYY` year, `MM` month (2 digits), `M` month (1–2), `DD` day (2), `D` day (1–2),
//! `HH` hour (2), `mm` minute (2), `ss` second (2). Any other character is literal. Two-digit
//! years (`YY`) are refused: 1/2/34 could be 1934 or 2034.

use super::dates::{Stamp, digits};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Year,
    Month { padded: bool },
    Day { padded: bool },
    Hour,
    Minute,
    Second,
    Literal(char),
}

/// A parsed date pattern, for `date_to_iso` (reading) and `date_from_iso` (writing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    text: String,
    tokens: Vec<Token>,
}

impl Pattern {
    /// Parses a pattern; it must name at least a year.
    pub fn parse(text: &str) -> Result<Pattern, String> {
        let mut tokens = Vec::new();
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            let (token, len) = if rest.starts_with("YYYY") {
                (Token::Year, 4)
            } else if rest.starts_with('Y') {
                return Err(format!(
                    "date pattern `{text}`: write the year as YYYY (two-digit years are ambiguous)"
                ));
            } else if rest.starts_with("MM") {
                (Token::Month { padded: true }, 2)
            } else if rest.starts_with('M') {
                (Token::Month { padded: false }, 1)
            } else if rest.starts_with("DD") {
                (Token::Day { padded: true }, 2)
            } else if rest.starts_with('D') {
                (Token::Day { padded: false }, 1)
            } else if rest.starts_with("HH") {
                (Token::Hour, 2)
            } else if rest.starts_with("mm") {
                (Token::Minute, 2)
            } else if rest.starts_with("ss") {
                (Token::Second, 2)
            } else {
                (Token::Literal(c), c.len_utf8())
            };
            tokens.push(token);
            rest = &rest[len..];
        }
        if !tokens.contains(&Token::Year) {
            return Err(format!("date pattern `{text}` has no year (YYYY)"));
        }
        Ok(Pattern {
            text: text.to_string(),
            tokens,
        })
    }

    /// Reads `input` in this pattern.
    pub(crate) fn parse_value(&self, input: &str) -> Result<Stamp, String> {
        let mismatch = || format!("does not match the date pattern `{}`", self.text);
        let mut st = Stamp::default();
        let mut rest = input;
        for token in &self.tokens {
            let (n, r) = match token {
                Token::Literal(c) => {
                    rest = rest.strip_prefix(*c).ok_or_else(mismatch)?;
                    continue;
                }
                Token::Year => digits(rest, 4),
                Token::Month { padded: false } | Token::Day { padded: false } => {
                    digits(rest, 2).or_else(|| digits(rest, 1))
                }
                _ => digits(rest, 2),
            }
            .ok_or_else(mismatch)?;
            let small = n as u8;
            match token {
                Token::Year => st.year = n as i32,
                Token::Month { .. } => st.month = Some(small),
                Token::Day { .. } => st.day = Some(small),
                Token::Hour => st.hour = Some(small),
                Token::Minute => st.minute = Some(small),
                Token::Second => st.second = Some(small),
                Token::Literal(_) => {}
            }
            rest = r;
        }
        if !rest.is_empty() {
            return Err(mismatch());
        }
        st.check()?;
        Ok(st)
    }

    /// Writes `stamp` in this pattern; a part the pattern needs but the stamp lacks is an
    /// error for the date (a month or day) and midnight for the time.
    pub(crate) fn format(&self, stamp: &Stamp) -> Result<String, String> {
        let mut out = String::new();
        for token in &self.tokens {
            let need = |part: Option<u8>, what: &str| {
                part.ok_or_else(|| {
                    format!("has no {what}, which the pattern `{}` needs", self.text)
                })
            };
            match token {
                Token::Literal(c) => out.push(*c),
                Token::Year => out.push_str(&format!("{:04}", stamp.year)),
                Token::Month { padded } => push(&mut out, need(stamp.month, "month")?, *padded),
                Token::Day { padded } => push(&mut out, need(stamp.day, "day")?, *padded),
                Token::Hour => push(&mut out, stamp.hour.unwrap_or(0), true),
                Token::Minute => push(&mut out, stamp.minute.unwrap_or(0), true),
                Token::Second => push(&mut out, stamp.second.unwrap_or(0), true),
            }
        }
        Ok(out)
    }
}

fn push(out: &mut String, n: u8, padded: bool) {
    if padded {
        out.push_str(&format!("{n:02}"));
    } else {
        out.push_str(&n.to_string());
    }
}
