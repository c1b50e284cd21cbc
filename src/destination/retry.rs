//! [`RetryPolicy`]: how long a delivery worker waits before trying a message again, and when it
//! stops (dead letter).
//!
//! The delay grows exponentially from `initial_backoff` (×2 per failed attempt) up to
//! `max_backoff`, so a receiver that is down for a minute is not hammered, and one that is down
//! for a day is still polled every `max_backoff`. Each delay gets "equal jitter": half of it is
//! fixed and half is random. The fixed half keeps a lower bound on the pause (pure "full
//! jitter" may retry almost at once); the random half spreads out the retries of many queues
//! that failed at the same moment (a receiver restart), so they do not all come back together.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Why a retry setting was refused. Checked once, when the channel is built, so the delivery
/// worker never has to handle a policy that makes no sense.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidRetry {
    /// `attempts = 0` would never deliver anything.
    #[error("retry attempts must be at least 1 (1 means: try once, never retry)")]
    NoAttempts,
    /// A zero initial backoff would retry in a tight loop.
    #[error("the initial backoff must be greater than zero")]
    ZeroInitialBackoff,
    /// The first delay may not already exceed the cap.
    #[error(
        "the initial backoff ({} s) is greater than the maximum backoff ({} s)",
        .initial.as_secs_f64(),
        .max.as_secs_f64()
    )]
    InitialAboveMax {
        /// The initial backoff given.
        initial: Duration,
        /// The maximum backoff given.
        max: Duration,
    },
}

/// A validated retry policy: at most `attempts` deliveries, with jittered exponential backoff
/// between them. Built only through [`RetryPolicy::try_new`], so every value is usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
}

impl RetryPolicy {
    /// Checks and builds a policy: `attempts ≥ 1`, `initial_backoff > 0`,
    /// `initial_backoff ≤ max_backoff`.
    pub fn try_new(
        attempts: u32,
        initial_backoff: Duration,
        max_backoff: Duration,
    ) -> Result<RetryPolicy, InvalidRetry> {
        if attempts == 0 {
            return Err(InvalidRetry::NoAttempts);
        }
        if initial_backoff.is_zero() {
            return Err(InvalidRetry::ZeroInitialBackoff);
        }
        if initial_backoff > max_backoff {
            return Err(InvalidRetry::InitialAboveMax {
                initial: initial_backoff,
                max: max_backoff,
            });
        }
        Ok(RetryPolicy {
            attempts,
            initial_backoff,
            max_backoff,
        })
    }

    /// The total number of delivery attempts, the first one included.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The delay after the first failed attempt, before jitter.
    pub fn initial_backoff(&self) -> Duration {
        self.initial_backoff
    }

    /// The cap on any delay.
    pub fn max_backoff(&self) -> Duration {
        self.max_backoff
    }

    /// The delay after failed attempt number `attempt` (1-based; 0 is read as 1), with the
    /// random part taken from `jitter` (0..=1, clamped; NaN counts as 0) so tests can pin it.
    ///
    /// Un-jittered, the delay is `initial × 2^(attempt-1)` capped at `max`; the result lies
    /// between half of that and all of it.
    pub fn backoff(&self, attempt: u32, jitter: f64) -> Duration {
        let base = self.unjittered(attempt);
        let half = base / 2;
        // `rest` rather than `half` again, so an odd number of nanoseconds still reaches `base`
        // exactly at jitter = 1.
        let rest = base - half;
        let jitter = if jitter.is_nan() {
            0.0
        } else {
            jitter.clamp(0.0, 1.0)
        };
        // Scale in integer nanoseconds: `Duration::mul_f64` rounds through seconds as f64 and
        // could land a nanosecond above `rest`, breaking the "never above max" promise.
        let rest_nanos = rest.as_nanos();
        let extra = ((rest_nanos as f64 * jitter) as u128).min(rest_nanos);
        half.saturating_add(duration_from_nanos(extra))
    }

    /// The delay before the next attempt, after `attempt` attempts have failed (1-based), with
    /// fresh random jitter; `None` once all `attempts` are used: the message is dead-lettered.
    pub fn next_delay(&self, attempt: u32) -> Option<Duration> {
        (attempt < self.attempts).then(|| self.backoff(attempt, random_unit()))
    }

    /// `initial × 2^(attempt-1)`, capped at `max`, without overflow for any `attempt`.
    fn unjittered(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1);
        // 2^31 is the largest power of two a u32 multiplier holds; past it (or on Duration
        // overflow) the cap has long been reached anyway.
        let Some(factor) = 1u32.checked_shl(doublings) else {
            return self.max_backoff;
        };
        self.initial_backoff
            .checked_mul(factor)
            .map_or(self.max_backoff, |delay| delay.min(self.max_backoff))
    }
}

/// Nanoseconds (u128) to a Duration, saturating at `Duration::MAX`.
fn duration_from_nanos(nanos: u128) -> Duration {
    const NANOS_PER_SEC: u128 = 1_000_000_000;
    let secs = u64::try_from(nanos / NANOS_PER_SEC).unwrap_or(u64::MAX);
    // The remainder is below 10^9, so it always fits a u32.
    let sub = u32::try_from(nanos % NANOS_PER_SEC).unwrap_or(0);
    Duration::new(secs, sub)
}

/// A number in `[0, 1)` that differs from call to call and from process to process: enough to
/// de-synchronise retries, which is all jitter needs. Not for anything security-related.
///
/// The clock gives per-process variation and a counter makes two calls in the same nanosecond
/// differ; SplitMix64's finaliser (Steele, Lea & Flood 2014) turns that into well-mixed bits.
/// This avoids a dependency on a random-number crate for one float per retry.
fn random_unit() -> f64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    // The golden-ratio increment is SplitMix64's own step, so successive counter values are
    // spread across the whole u64 range before mixing.
    let count = COUNTER.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
    let clock = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut z = clock ^ count;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    // The top 53 bits fill an f64 mantissa exactly, giving a uniform value in [0, 1).
    (z >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn try_new_refuses_nonsense() {
        assert_eq!(
            RetryPolicy::try_new(0, secs(1), secs(10)),
            Err(InvalidRetry::NoAttempts)
        );
        assert_eq!(
            RetryPolicy::try_new(3, Duration::ZERO, secs(10)),
            Err(InvalidRetry::ZeroInitialBackoff)
        );
        let err = RetryPolicy::try_new(3, secs(20), secs(10)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the initial backoff (20 s) is greater than the maximum backoff (10 s)"
        );
        let ok = RetryPolicy::try_new(1, secs(5), secs(5)).unwrap();
        assert_eq!(
            (ok.attempts(), ok.initial_backoff(), ok.max_backoff()),
            (1, secs(5), secs(5))
        );
    }

    #[test]
    fn backoff_doubles_then_caps() {
        let p = RetryPolicy::try_new(10, secs(1), secs(10)).unwrap();
        let full: Vec<u64> = (1..=6).map(|a| p.backoff(a, 1.0).as_secs()).collect();
        assert_eq!(full, [1, 2, 4, 8, 10, 10]);
        let low: Vec<u64> = (1..=6).map(|a| p.backoff(a, 0.0).as_secs()).collect();
        assert_eq!(low, [0, 1, 2, 4, 5, 5]);
        assert_eq!(p.backoff(0, 1.0), secs(1), "attempt 0 reads as 1");
        assert_eq!(p.backoff(3, 0.5), secs(3), "half fixed + half of the rest");
        assert_eq!(p.backoff(u32::MAX, 1.0), secs(10), "no overflow");
        assert_eq!(p.backoff(3, f64::NAN), secs(2), "NaN jitter counts as 0");
        assert_eq!(p.backoff(3, 7.0), secs(4), "jitter is clamped");
    }

    #[test]
    fn odd_nanoseconds_still_reach_the_cap() {
        let max = Duration::new(1, 1);
        let p = RetryPolicy::try_new(3, max, max).unwrap();
        assert_eq!(p.backoff(1, 1.0), max);
    }

    #[test]
    fn huge_backoffs_saturate_instead_of_panicking() {
        let p = RetryPolicy::try_new(80, secs(u64::MAX / 4), Duration::MAX).unwrap();
        assert_eq!(p.backoff(70, 1.0), Duration::MAX);
        assert!(p.next_delay(79).is_some());
    }

    #[test]
    fn random_unit_is_in_range_and_varies() {
        let values: Vec<f64> = (0..1000).map(|_| random_unit()).collect();
        assert!(values.iter().all(|v| (0.0..1.0).contains(v)));
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        assert!((0.4..0.6).contains(&mean), "mean {mean}");
        let mut distinct = values.clone();
        distinct.sort_by(f64::total_cmp);
        distinct.dedup();
        assert!(distinct.len() > 990, "{} distinct", distinct.len());
    }

    fn policy() -> impl Strategy<Value = RetryPolicy> {
        (1u32..50, 1u64..10_000_000, 0u64..100_000_000).prop_map(|(attempts, initial, extra)| {
            let initial = Duration::from_micros(initial);
            RetryPolicy::try_new(attempts, initial, initial + Duration::from_micros(extra)).unwrap()
        })
    }

    proptest! {
        #[test]
        fn never_above_max_nor_below_half(p in policy(), attempt in 0u32..100, jitter in 0.0f64..=1.0) {
            let delay = p.backoff(attempt, jitter);
            prop_assert!(delay <= p.max_backoff());
            let base = p.unjittered(attempt);
            prop_assert!(delay >= base / 2, "{delay:?} < half of {base:?}");
            prop_assert!(delay <= base);
        }

        #[test]
        fn monotone_before_the_cap(p in policy(), attempt in 1u32..40, jitter in 0.0f64..=1.0) {
            prop_assert!(p.backoff(attempt + 1, jitter) >= p.backoff(attempt, jitter));
            prop_assert!(p.unjittered(attempt + 1) >= p.unjittered(attempt));
        }

        #[test]
        fn none_exactly_after_the_last_attempt(p in policy()) {
            let n = p.attempts();
            for attempt in 1..n {
                let delay = p.next_delay(attempt);
                prop_assert!(delay.is_some(), "attempt {attempt} of {n}");
                prop_assert!(delay.unwrap_or_default() <= p.max_backoff());
            }
            prop_assert_eq!(p.next_delay(n), None);
            prop_assert_eq!(p.next_delay(n + 1), None);
            prop_assert_eq!(p.next_delay(u32::MAX), None);
        }
    }
}
