//! Drop-behind for journal segments: synced journal bytes leave the page cache.
//!
//! Why: every accepted message is written to the journal once and read back rarely (delivery
//! reads it moments after the accept; the API now and then). Left alone, the kernel keeps every
//! written page cached, so a busy engine fills gigabytes of page cache with journal nobody
//! reads. On this project's benchmark machine (a VM that hands freed memory back to its host)
//! that cost half the throughput once a few GB were written: each new cache page is fresh
//! memory the host must supply, and the writer thread spent about seven times the CPU per
//! message in `write` (docs/performance.md, "Journal pages and the page cache"). Dropping
//! synced pages keeps the cache small and its pages reused. PostgreSQL does the same with its WAL segments
//! (`POSIX_FADV_DONTNEED` when a segment is closed).
//!
//! The advice is only a hint: the kernel may ignore it (tmpfs does), and failing to give it
//! loses nothing, so errors are ignored.

use std::fs::File;
use std::num::NonZeroU64;

use rustix::fs::{Advice, fadvise};

/// How much of the synced end of the current segment stays cached: delivery reads the bodies
/// of the messages accepted last, and those reads should not wait for the disk. 32 MiB is over
/// a second of intake at 25,000 messages a second of 6 KB.
pub(crate) const CACHED_TAIL_BYTES: u64 = 32 * 1024 * 1024;

/// Pages are dropped whole; the advice starts at offset 0, so its end is rounded down to this.
const PAGE: u64 = 4096;

/// After a sync that made the first `synced` bytes of the open segment `file` durable: drops
/// them from the page cache, except the last [`CACHED_TAIL_BYTES`]. Dropping from offset 0
/// each time is cheap: the kernel skips ranges that hold no cached page.
pub(crate) fn drop_synced(file: &File, synced: u64) {
    let end = synced.saturating_sub(CACHED_TAIL_BYTES) & !(PAGE - 1);
    if let Some(len) = NonZeroU64::new(end) {
        let _ = fadvise(file, 0, Some(len), Advice::DontNeed);
    }
}

/// Starts writing back the bytes `from..to` of the open segment `file` without waiting for
/// the disk; nothing from `synced` on is durable yet, so those pages are still dirty.
///
/// Why: with `interval` durability the journal is synced every `flush_interval_ms`, and at
/// a few hundred MB/s each sync found tens of megabytes to write, while appends to the same
/// file waited behind it (up to 39 ms measured, syncs of up to 215 ms; docs/performance.md,
/// "Another host"). Started a few megabytes at a time, the write-back runs while the
/// messages arrive and a sync has only the last few left. Linux writes a range's dirty pages
/// back when it is advised `DONTNEED` (and then drops only the clean ones, so these stay
/// cached); PostgreSQL uses the same call for the same purpose where `sync_file_range` is
/// missing. Pages already synced are left out, or the advice would drop them from the cache.
pub(crate) fn start_write_back(file: &File, from: u64, to: u64, synced: u64) {
    let from = from.max(synced) & !(PAGE - 1);
    if let Some(len) = to.checked_sub(from).and_then(NonZeroU64::new) {
        let _ = fadvise(file, from, Some(len), Advice::DontNeed);
    }
}

/// After the last sync of a closed segment: drops all of it from the page cache.
pub(crate) fn drop_closed(file: &File) {
    let _ = fadvise(file, 0, None, Advice::DontNeed);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::path::Path;
    use std::process::Command;

    /// Bytes of `path` (open as `file`) in the page cache; `None`, with the reason printed,
    /// where this cannot be told: tmpfs keeps its pages (they are the file itself), and the
    /// count comes from util-linux's `fincore`.
    fn cached_or_skip(file: &File, path: &Path) -> Option<u64> {
        const TMPFS_MAGIC: i64 = 0x0102_1994;
        if rustix::fs::fstatfs(file).unwrap().f_type as i64 == TMPFS_MAGIC {
            eprintln!("skipped: the temporary directory is on tmpfs, which keeps its pages");
            return None;
        }
        let cached = cached_bytes(path);
        if cached.is_none() {
            eprintln!("skipped: util-linux `fincore` is not installed");
        }
        cached
    }

    /// Bytes of `path` in the page cache, from util-linux's `fincore`; `None` when it is missing.
    fn cached_bytes(path: &Path) -> Option<u64> {
        let out = Command::new("fincore")
            .args(["--bytes", "--noheadings", "--output", "RES"])
            .arg(path)
            .output()
            .ok()?;
        String::from_utf8(out.stdout).ok()?.trim().parse().ok()
    }

    #[test]
    fn synced_pages_leave_the_cache_except_the_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("segment");
        let mut file = File::create(&path).unwrap();
        let total = CACHED_TAIL_BYTES + 16 * 1024 * 1024;
        let chunk = vec![b'x'; 1024 * 1024];
        for _ in 0..total / chunk.len() as u64 {
            file.write_all(&chunk).unwrap();
        }
        file.sync_data().unwrap();
        let Some(before) = cached_or_skip(&file, &path) else {
            return;
        };
        assert!(
            before >= total,
            "the written file is not cached: {before} bytes"
        );
        drop_synced(&file, total);
        let after = cached_bytes(&path).unwrap();
        assert!(
            after <= CACHED_TAIL_BYTES,
            "{after} bytes still cached, more than the {CACHED_TAIL_BYTES}-byte tail"
        );
        assert!(
            after >= CACHED_TAIL_BYTES / 2,
            "the tail was dropped too: {after} bytes cached"
        );
        drop_closed(&file);
        assert_eq!(
            cached_bytes(&path),
            Some(0),
            "a closed segment stays cached"
        );
    }

    /// Starting the write-back of a range keeps every page of it cached: the synced part is
    /// left out (the advice would drop its clean pages) and the rest is still being written.
    #[test]
    fn starting_the_write_back_keeps_the_pages_cached() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("segment");
        let mut file = File::create(&path).unwrap();
        let half = 8 * 1024 * 1024;
        let chunk = vec![b'x'; 1024 * 1024];
        for _ in 0..half / chunk.len() as u64 {
            file.write_all(&chunk).unwrap();
        }
        file.sync_data().unwrap();
        for _ in 0..half / chunk.len() as u64 {
            file.write_all(&chunk).unwrap();
        }
        let Some(before) = cached_or_skip(&file, &path) else {
            return;
        };
        assert!(before >= 2 * half, "not cached: {before} bytes");
        start_write_back(&file, 0, 2 * half, half);
        let after = cached_bytes(&path).unwrap();
        assert!(
            after >= 2 * half - 4096,
            "starting the write-back dropped {} bytes from the cache",
            2 * half - after
        );
        // Nothing to do for a range that is synced already.
        start_write_back(&file, 0, half, half);
        assert!(cached_bytes(&path).unwrap() >= 2 * half - 4096);
    }
}
