//! HL7 v2 timestamps (DTM/TS, DT) → FHIR `date`, `dateTime` and `instant`.
//!
//! HL7 writes `YYYY[MM[DD[HH[MM[SS[.S+]]]]]][+/-ZZZZ]`; FHIR wants ISO 8601 with `-` and `:`.
//! FHIR requires an offset whenever a time is given, so a timestamp without one gets the
//! converter's assumed offset (see [`super::ConvertOptions::assumed_offset`]).

/// A parsed HL7 timestamp: digits split into parts, plus the offset when one was written.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Parts<'a> {
    date: &'a str,
    time: &'a str,
    fraction: &'a str,
    offset: Option<&'a str>,
}

/// Splits an HL7 timestamp, or `None` when it does not have the HL7 shape.
fn split(ts: &str) -> Option<Parts<'_>> {
    let ts = ts.trim();
    let (body, offset) = match ts.find(['+', '-']) {
        Some(i) => (&ts[..i], Some(&ts[i..])),
        None => (ts, None),
    };
    let (digits, fraction) = match body.find('.') {
        Some(i) => (&body[..i], &body[i + 1..]),
        None => (body, ""),
    };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(digits)
        || !all_digits(fraction)
        || !matches!(digits.len(), 4 | 6 | 8 | 10 | 12 | 14)
    {
        return None;
    }
    if !fraction.is_empty() && digits.len() != 14 {
        return None;
    }
    if let Some(off) = offset
        && (off.len() != 5 || !all_digits(&off[1..]))
    {
        return None;
    }
    let (date, time) = digits.split_at(digits.len().min(8));
    let parts = Parts {
        date,
        time,
        fraction,
        offset,
    };
    parts.in_range().then_some(parts)
}

impl Parts<'_> {
    /// Month, day, hour, minute and second within their calendar ranges.
    fn in_range(&self) -> bool {
        let num = |s: &str, at: usize| s.get(at..at + 2).and_then(|p| p.parse::<u32>().ok());
        let checks = [
            (num(self.date, 4), 1, 12),
            (num(self.date, 6), 1, 31),
            (num(self.time, 0), 0, 23),
            (num(self.time, 2), 0, 59),
            (num(self.time, 4), 0, 59),
        ];
        checks
            .iter()
            .all(|&(value, lo, hi)| value.is_none_or(|v| (lo..=hi).contains(&v)))
    }

    fn fhir_date(&self) -> String {
        let d = self.date;
        match d.len() {
            4 => d.to_owned(),
            6 => format!("{}-{}", &d[..4], &d[4..6]),
            _ => format!("{}-{}-{}", &d[..4], &d[4..6], &d[6..8]),
        }
    }

    fn fhir_offset(&self, assumed: &str) -> String {
        match self.offset {
            Some(off) if off == "+0000" || off == "-0000" => "Z".to_owned(),
            Some(off) => format!("{}:{}", &off[..3], &off[3..]),
            None => assumed.to_owned(),
        }
    }
}

/// HL7 DT/DTM → FHIR `date` (the time, if any, is dropped): for birth dates and the like.
pub(crate) fn to_date(ts: &str) -> Option<String> {
    split(ts).map(|p| p.fhir_date())
}

/// HL7 DTM → FHIR `dateTime`, keeping the precision that was sent. Minutes without seconds get
/// `:00` (FHIR has no minute precision).
pub(crate) fn to_date_time(ts: &str, assumed_offset: &str) -> Option<String> {
    let p = split(ts)?;
    if p.time.len() < 4 {
        // FHIR dateTime has no hour-only precision: keep the date.
        return Some(p.fhir_date());
    }
    Some(format!(
        "{}T{}{}",
        p.fhir_date(),
        clock(&p),
        p.fhir_offset(assumed_offset)
    ))
}

/// HL7 DTM → FHIR `instant`, which needs at least seconds: a date alone becomes midnight.
pub(crate) fn to_instant(ts: &str, assumed_offset: &str) -> Option<String> {
    let p = split(ts)?;
    if p.date.len() < 8 {
        return None;
    }
    Some(format!(
        "{}T{}{}",
        p.fhir_date(),
        clock(&p),
        p.fhir_offset(assumed_offset)
    ))
}

/// `HH:MM:SS[.fff]` with missing parts as zero.
fn clock(p: &Parts<'_>) -> String {
    let t = format!("{:0<6}", p.time);
    let mut out = format!("{}:{}:{}", &t[..2], &t[2..4], &t[4..6]);
    if !p.fraction.is_empty() {
        out.push('.');
        out.push_str(p.fraction);
    }
    out
}

/// FHIR `date`/`dateTime` → HL7 DTM (`2025-03-14T08:30:15-05:00` → `20250314083015-0500`), for
/// messages built from FHIR resources.
pub(crate) fn from_fhir(value: &str) -> Option<String> {
    let (date, rest) = value.split_at(value.find('T').unwrap_or(value.len()));
    let mut out: String = date.chars().filter(|c| *c != '-').collect();
    if !matches!(out.len(), 4 | 6 | 8) || !out.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if let Some(time) = rest.strip_prefix('T') {
        let (clock, offset) = match time.find(['+', '-', 'Z']) {
            Some(i) => time.split_at(i),
            None => (time, ""),
        };
        let (clock, fraction) = clock.split_at(clock.find('.').unwrap_or(clock.len()));
        out.extend(clock.chars().filter(|c| *c != ':'));
        out.push_str(fraction);
        match offset {
            "" => {}
            "Z" => out.push_str("+0000"),
            off => out.extend(off.chars().filter(|c| *c != ':')),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_each_precision() {
        assert_eq!(to_date("19580923").as_deref(), Some("1958-09-23"));
        assert_eq!(to_date("198808181126+0215").as_deref(), Some("1988-08-18"));
        assert_eq!(to_date("1958").as_deref(), Some("1958"));
        assert_eq!(
            to_date_time("20250314083015-0500", "Z").as_deref(),
            Some("2025-03-14T08:30:15-05:00")
        );
        assert_eq!(
            to_date_time("202503140830", "+01:00").as_deref(),
            Some("2025-03-14T08:30:00+01:00")
        );
        assert_eq!(
            to_date_time("20210817151943.4+0200", "Z").as_deref(),
            Some("2021-08-17T15:19:43.4+02:00")
        );
        assert_eq!(
            to_date_time("2025031408", "Z").as_deref(),
            Some("2025-03-14")
        );
        assert_eq!(
            to_instant("20250402", "Z").as_deref(),
            Some("2025-04-02T00:00:00Z")
        );
    }

    #[test]
    fn rejects_what_is_not_a_timestamp() {
        for bad in [
            "12/25/1974",
            "2025131",
            "20251301",
            "20250230x",
            "20250101-05",
            "",
        ] {
            assert_eq!(to_date_time(bad, "Z"), None, "{bad}");
        }
    }

    #[test]
    fn formats_fhir_back_to_hl7() {
        assert_eq!(from_fhir("1958-09-23").as_deref(), Some("19580923"));
        assert_eq!(
            from_fhir("2025-03-14T08:30:15-05:00").as_deref(),
            Some("20250314083015-0500")
        );
        assert_eq!(
            from_fhir("2025-03-14T08:30:15Z").as_deref(),
            Some("20250314083015+0000")
        );
        assert_eq!(from_fhir("14/03/2025"), None);
    }
}
