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
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("IH{millis}{:04}", n % 10_000)
}
