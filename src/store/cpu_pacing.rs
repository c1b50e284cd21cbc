//! Pacing for the store's background threads: a thread that turned it on gives up its CPU
//! (`sched_yield`) every [`SLICE`] of work in its long loops.
//!
//! Why: the applier commits a couple of milliseconds' worth of accepts at once, which keeps a
//! CPU for up to a millisecond. A runtime worker woken on that CPU (a sender's next frame)
//! waited for the rest of the applier's time slice: on a two-core host the workers' wake-up
//! delay was 234 µs at the 99th percentile, longer than a sequential sender's whole round
//! trip. Yielding every 20 µs brought it to 100 µs (and 1 × 1 p99 from 0.4 to 0.1 ms); the
//! applier is off every acknowledgement's path, so it loses nothing but the yields' switches
//! (a few µs of CPU per message at one connection). It paces only while it keeps up:
//! once work piles up behind it, it runs flat out, since a backlog holds memory and, at its
//! cap, holds up the accepts themselves.

use std::cell::Cell;
use std::time::{Duration, Instant};

/// How long a paced thread works before it offers its CPU to a waiting thread.
const SLICE: Duration = Duration::from_micros(20);

thread_local! {
    /// When this thread last yielded; `None` while it is not paced.
    static LAST_YIELD: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Turns pacing of the calling thread on or off: while on, [`pace`] yields on it.
pub(super) fn set(on: bool) {
    LAST_YIELD.with(|last| match (on, last.get()) {
        (true, None) => last.set(Some(Instant::now())),
        (false, Some(_)) => last.set(None),
        _ => {}
    });
}

/// Called between items of a long loop: yields the CPU if the calling thread is paced and has
/// worked for [`SLICE`] since it last did. Free of syscalls otherwise.
pub(super) fn pace() {
    LAST_YIELD.with(|last| {
        if let Some(since) = last.get() {
            let now = Instant::now();
            if now.duration_since(since) >= SLICE {
                std::thread::yield_now();
                last.set(Some(Instant::now()));
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_threads_that_turned_pacing_on_are_paced() {
        std::thread::spawn(|| {
            pace();
            assert!(LAST_YIELD.with(Cell::get).is_none());
        })
        .join()
        .unwrap();
        std::thread::spawn(|| {
            set(true);
            let first = LAST_YIELD.with(Cell::get).unwrap();
            std::thread::sleep(SLICE * 2);
            pace();
            let after = LAST_YIELD.with(Cell::get).unwrap();
            assert!(
                after > first,
                "a thread past its slice yields and restarts its slice"
            );
            set(false);
            pace();
            assert!(LAST_YIELD.with(Cell::get).is_none());
        })
        .join()
        .unwrap();
    }
}
