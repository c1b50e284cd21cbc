//! Header values every acknowledgment needs, whichever way it is built: the version test
//! that picks the MSH-9 and ERR forms, and a fresh control id (MSH-10).

use std::sync::atomic::{AtomicU64, Ordering};

/// Whether a version string such as `2.5.1` is at least `major.minor`.
pub(super) fn version_at_least(version: &str, major: u32, minor: u32) -> bool {
    let mut parts = version
        .split('.')
        .map(|p| p.trim().parse::<u32>().unwrap_or(0));
    let found = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    found >= (major, minor)
}

/// A fresh MSH-10 for messages we originate: time-based, unique within the process, and at most
/// 20 characters (the v2.5 length of MSH-10).
pub(super) fn next_control_id() -> String {
    next_control_id_at(now_millis())
}

/// [`next_control_id`] for a clock the caller read already (the ACK's fast path reads it once
/// for both the control id and MSH-7).
pub(super) fn next_control_id_at(millis: u64) -> String {
    use std::fmt::Write;
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut id = String::with_capacity(20);
    let _ = write!(id, "IH{millis}{:04}", n % 10_000);
    id
}

/// Milliseconds since the Unix epoch (0 for a clock before it).
pub(super) fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
