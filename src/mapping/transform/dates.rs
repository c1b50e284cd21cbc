//! Dates and times: ISO 8601 (as FHIR writes them), HL7 TS/DTM, Unix seconds, and patterns
//! such as `MM/DD/YYYY`.
//!
//! Every format is read into a [`Stamp`] that keeps the precision it was given (a year, a
//! day, a minute, fractional seconds) and its offset if any, and is checked against the
//! calendar with the `time` crate, so `2023-02-29` is an error, not `2023-03-01`.

use serde_json::Value;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

use super::pattern::Pattern;
use super::text::non_blank;

/// A point in time at the precision it was written with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Stamp {
    pub year: i32,
    pub month: Option<u8>,
    pub day: Option<u8>,
    pub hour: Option<u8>,
    pub minute: Option<u8>,
    pub second: Option<u8>,
    /// Digits after the decimal point, as written.
    pub fraction: Option<String>,
    /// Minutes east of UTC; `None` for a local time without offset.
    pub offset: Option<i32>,
}

impl Stamp {
    /// Checks every part against the calendar and the clock.
    pub(crate) fn check(&self) -> Result<(), String> {
        if let Some(m) = self.month {
            let month = Month::try_from(m).map_err(|_| format!("has month {m}"))?;
            if let Some(d) = self.day {
                Date::from_calendar_date(self.year, month, d).map_err(|_| {
                    format!("is not a calendar date ({:04}-{m:02}-{d:02})", self.year)
                })?;
            }
        }
        let bad = |what: &str, n: u8| format!("has {what} {n}");
        match (self.hour, self.minute, self.second) {
            (Some(h), _, _) if h > 23 => return Err(bad("hour", h)),
            (_, Some(m), _) if m > 59 => return Err(bad("minute", m)),
            (_, _, Some(s)) if s > 59 => return Err(bad("second", s)),
            _ => {}
        }
        if self.offset.is_some_and(|o| o.abs() >= 24 * 60) {
            return Err("has an offset of 24 hours or more".into());
        }
        Ok(())
    }

    /// ISO 8601 at the stamp's precision; a time always shows seconds (FHIR `dateTime`).
    pub(crate) fn to_iso(&self) -> String {
        let mut out = format!("{:04}", self.year);
        let Some(month) = self.month else { return out };
        out.push_str(&format!("-{month:02}"));
        let Some(day) = self.day else { return out };
        out.push_str(&format!("-{day:02}"));
        let Some(hour) = self.hour else { return out };
        out.push_str(&format!(
            "T{hour:02}:{:02}:{:02}",
            self.minute.unwrap_or(0),
            self.second.unwrap_or(0)
        ));
        if let Some(f) = &self.fraction {
            out.push('.');
            out.push_str(f);
        }
        match self.offset {
            Some(0) => out.push('Z'),
            Some(o) => out.push_str(&format!(
                "{}{:02}:{:02}",
                sign(o),
                o.abs() / 60,
                o.abs() % 60
            )),
            None => {}
        }
        out
    }

    /// HL7 DTM at the stamp's precision, offset as `+HHMM`.
    pub(crate) fn to_hl7(&self) -> String {
        let mut out = format!("{:04}", self.year);
        for part in [self.month, self.day, self.hour, self.minute, self.second]
            .into_iter()
            .map_while(|p| p)
        {
            out.push_str(&format!("{part:02}"));
        }
        if let (Some(f), Some(_)) = (&self.fraction, self.second) {
            out.push('.');
            out.push_str(&f[..f.len().min(4)]);
        }
        if let Some(o) = self.offset {
            out.push_str(&format!(
                "{}{:02}{:02}",
                sign(o),
                o.abs() / 60,
                o.abs() % 60
            ));
        }
        out
    }

    /// The instant, when the stamp names a day; times default to midnight and a missing
    /// offset to UTC.
    pub(crate) fn to_offset_date_time(&self) -> Result<OffsetDateTime, String> {
        let (Some(m), Some(d)) = (self.month, self.day) else {
            return Err("names no full day (a year or month cannot become an instant)".into());
        };
        let month = Month::try_from(m).map_err(|e| e.to_string())?;
        let date = Date::from_calendar_date(self.year, month, d).map_err(|e| e.to_string())?;
        let time = Time::from_hms(
            self.hour.unwrap_or(0),
            self.minute.unwrap_or(0),
            self.second.unwrap_or(0),
        )
        .map_err(|e| e.to_string())?;
        let offset = UtcOffset::from_whole_seconds(self.offset.unwrap_or(0) * 60)
            .map_err(|e| e.to_string())?;
        Ok(PrimitiveDateTime::new(date, time).assume_offset(offset))
    }
}

fn sign(offset: i32) -> char {
    if offset < 0 { '-' } else { '+' }
}

/// Reads `n` ASCII digits at the front of `s`.
pub(crate) fn digits(s: &str, n: usize) -> Option<(u32, &str)> {
    let head = s.get(..n)?;
    if !head.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((head.parse().ok()?, &s[n..]))
}

/// `YYYY[-MM[-DD[THH:MM[:SS[.f]]]]][Z|±HH:MM]` (a space may stand for `T`).
pub(crate) fn parse_iso(s: &str) -> Result<Stamp, String> {
    let shape = "is not an ISO 8601 date (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS±HH:MM)";
    let (year, mut rest) = digits(s, 4).ok_or(shape)?;
    let mut st = Stamp {
        year: year as i32,
        ..Stamp::default()
    };
    let take = |rest: &mut &str, lead: &[char], slot: &mut Option<u8>| -> bool {
        match rest.strip_prefix(lead) {
            Some(r) => match digits(r, 2) {
                Some((n, r2)) => {
                    *slot = Some(n as u8);
                    *rest = r2;
                    true
                }
                None => false,
            },
            None => false,
        }
    };
    if take(&mut rest, &['-'], &mut st.month)
        && take(&mut rest, &['-'], &mut st.day)
        && take(&mut rest, &['T', ' '], &mut st.hour)
    {
        if !take(&mut rest, &[':'], &mut st.minute) {
            return Err(shape.into());
        }
        if take(&mut rest, &[':'], &mut st.second)
            && let Some(r) = rest.strip_prefix('.')
        {
            let n = r.bytes().take_while(u8::is_ascii_digit).count();
            if n == 0 {
                return Err(shape.into());
            }
            st.fraction = Some(r[..n].to_string());
            rest = &r[n..];
        }
        if rest == "Z" {
            st.offset = Some(0);
            rest = "";
        } else if let Some(sign @ ('+' | '-')) = rest.chars().next() {
            let (h, r) = digits(&rest[1..], 2).ok_or(shape)?;
            let (m, r) = digits(r.strip_prefix(':').ok_or(shape)?, 2).ok_or(shape)?;
            let minutes = (h * 60 + m) as i32;
            st.offset = Some(if sign == '-' { -minutes } else { minutes });
            rest = r;
        }
    }
    if !rest.is_empty() {
        return Err(shape.into());
    }
    st.check()?;
    Ok(st)
}

/// HL7 TS/DTM: `YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]`.
pub(crate) fn parse_hl7(s: &str) -> Result<Stamp, String> {
    let shape = "is not an HL7 timestamp (YYYY[MM[DD[HH[MM[SS[.SSSS]]]]]][+/-ZZZZ])";
    let (body, offset) = match s.find(['+', '-']) {
        Some(i) => (&s[..i], Some(&s[i..])),
        None => (s, None),
    };
    let (main, fraction) = match body.split_once('.') {
        Some((m, f)) => (m, Some(f)),
        None => (body, None),
    };
    if !matches!(main.len(), 4 | 6 | 8 | 10 | 12 | 14) {
        return Err(shape.into());
    }
    let (year, mut rest) = digits(main, 4).ok_or(shape)?;
    let mut parts = [None; 5];
    for slot in &mut parts {
        if rest.is_empty() {
            break;
        }
        let (n, r) = digits(rest, 2).ok_or(shape)?;
        *slot = Some(n as u8);
        rest = r;
    }
    let [month, day, hour, minute, second] = parts;
    let fraction = match fraction {
        Some(f)
            if second.is_some()
                && (1..=4).contains(&f.len())
                && f.bytes().all(|b| b.is_ascii_digit()) =>
        {
            Some(f.to_string())
        }
        Some(_) => return Err(shape.into()),
        None => None,
    };
    let offset = match offset {
        Some(o) if o.len() == 5 => {
            let (h, r) = digits(&o[1..], 2).ok_or(shape)?;
            let (m, _) = digits(r, 2).ok_or(shape)?;
            let minutes = (h * 60 + m) as i32;
            Some(if o.starts_with('-') {
                -minutes
            } else {
                minutes
            })
        }
        Some(_) => return Err(shape.into()),
        None => None,
    };
    let st = Stamp {
        year: year as i32,
        month,
        day,
        hour,
        minute,
        second,
        fraction,
        offset,
    };
    st.check()?;
    Ok(st)
}

/// `M/D/YYYY` or `MM/DD/YYYY` (US order).
fn parse_us(s: &str) -> Option<Stamp> {
    let mut it = s.split('/');
    let (m, d, y) = (it.next()?, it.next()?, it.next()?);
    let small = |t: &str| (1..=2).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_digit());
    if it.next().is_some() || !small(m) || !small(d) || y.len() != 4 {
        return None;
    }
    Some(Stamp {
        year: digits(y, 4)?.0 as i32,
        month: m.parse().ok(),
        day: d.parse().ok(),
        ..Stamp::default()
    })
}

/// `date_to_iso`: the given pattern, or ISO, HL7 and US dates → ISO.
pub(super) fn to_iso(value: &Value, format: Option<&Pattern>) -> Result<Value, String> {
    let Some(text) = non_blank(value)? else {
        return Ok(Value::Null);
    };
    let stamp = match format {
        Some(p) => p.parse_value(&text)?,
        None if text.contains('-') && text.len() >= 7 && text.as_bytes()[4] == b'-' => {
            parse_iso(&text)?
        }
        None if text.contains('/') => {
            let st = parse_us(&text)
                .ok_or("is not a date in M/D/YYYY form (give `format` for other orders)")?;
            st.check()?;
            st
        }
        None => parse_hl7(&text).map_err(
            |_| "is not a date (ISO, HL7 YYYYMMDD or US M/D/YYYY; give `format` for others)",
        )?,
    };
    Ok(Value::String(stamp.to_iso()))
}

/// `date_from_iso`: ISO → the pattern.
pub(super) fn from_iso(value: &Value, format: &Pattern) -> Result<Value, String> {
    let Some(text) = non_blank(value)? else {
        return Ok(Value::Null);
    };
    Ok(Value::String(format.format(&parse_iso(&text)?)?))
}

/// `hl7_ts_to_iso`.
pub(super) fn hl7_to_iso(value: &Value) -> Result<Value, String> {
    let Some(text) = non_blank(value)? else {
        return Ok(Value::Null);
    };
    Ok(Value::String(parse_hl7(&text)?.to_iso()))
}

/// `iso_to_hl7_ts`.
pub(super) fn iso_to_hl7(value: &Value) -> Result<Value, String> {
    let Some(text) = non_blank(value)? else {
        return Ok(Value::Null);
    };
    Ok(Value::String(parse_iso(&text)?.to_hl7()))
}

/// `date_to_unix`: ISO → whole seconds since the epoch (a missing offset means UTC).
pub(super) fn to_unix(value: &Value) -> Result<Value, String> {
    let Some(text) = non_blank(value)? else {
        return Ok(Value::Null);
    };
    Ok(Value::from(
        parse_iso(&text)?.to_offset_date_time()?.unix_timestamp(),
    ))
}

/// `unix_to_date`: seconds since the epoch → `YYYY-MM-DDTHH:MM:SSZ`.
pub(super) fn from_unix(value: &Value) -> Result<Value, String> {
    let secs = match value {
        Value::Number(n) => n.as_i64().ok_or("is not a whole number of seconds")?,
        _ => match non_blank(value)? {
            None => return Ok(Value::Null),
            Some(t) => t.parse().map_err(|_| "is not a whole number of seconds")?,
        },
    };
    let t = OffsetDateTime::from_unix_timestamp(secs).map_err(|_| "is out of the date range")?;
    let st = Stamp {
        year: t.year(),
        month: Some(t.month() as u8),
        day: Some(t.day()),
        hour: Some(t.hour()),
        minute: Some(t.minute()),
        second: Some(t.second()),
        fraction: None,
        offset: Some(0),
    };
    Ok(Value::String(st.to_iso()))
}

#[cfg(test)]
mod tests;
