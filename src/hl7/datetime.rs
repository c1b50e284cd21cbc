//! HL7 timestamps (DTM/TS): `YYYYMMDDHHMMSS+ZZZZ`.

use std::time::{SystemTime, UNIX_EPOCH};

/// The current time as an HL7 timestamp in UTC, e.g. `20260101120000+0000`, for MSH-7 of the
/// messages we build (ACKs, batches).
pub fn now_timestamp() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format_utc(secs)
}

/// Formats seconds since the Unix epoch as an HL7 UTC timestamp (`YYYYMMDDHHMMSS+0000`), for
/// times the engine records (received, sent) rather than the current time.
pub fn format_utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}{:02}{:02}{:02}+0000",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(format_utc(0), "19700101000000+0000");
        assert_eq!(format_utc(951_782_400), "20000229000000+0000");
        assert_eq!(format_utc(1_767_225_599), "20251231235959+0000");
    }

    #[test]
    fn now_has_the_hl7_shape() {
        let ts = now_timestamp();
        assert_eq!(ts.len(), 19);
        assert!(ts[..14].bytes().all(|b| b.is_ascii_digit()));
    }
}
