//! The one retry backoff: exponential, capped, jittered.
//!
//! In: a [`Backoff`] (first delay, largest delay, kind of [`Jitter`]) and
//! how many failures there have been. Out: the delay before the next try.
//!
//! Promises: the ceiling before retry `k` (1-based) is
//! `min(max, base * 2^(k-1))`, computed without overflow for any `k`; the
//! delay is drawn uniformly from the jitter's range under that ceiling.
//! Pulls use [`Jitter::Full`] (`[0, ceiling]`, AWS's "full jitter": a
//! partner that came back is not stampeded by every council at once);
//! notice deliveries use [`Jitter::Equal`] (`[ceiling/2, ceiling]`: a
//! receiver that is down is not retried at once, and the delay persisted
//! in the outbox stays close to the documented schedule).

use std::time::Duration;

use rand::Rng as _;

/// Where under the ceiling a delay may fall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jitter {
    /// Uniform in `[0, ceiling]`.
    Full,
    /// Uniform in `[ceiling / 2, ceiling]`.
    Equal,
}

impl Jitter {
    /// A random delay under `ceiling`, at millisecond resolution.
    pub fn apply(self, ceiling: Duration) -> Duration {
        let ms = ceiling.as_millis().min(u64::MAX as u128) as u64;
        let lo = match self {
            Jitter::Full => 0,
            Jitter::Equal => ms / 2,
        };
        Duration::from_millis(rand::rng().random_range(lo..=ms))
    }
}

/// Exponential backoff: `base` doubled per failure, capped at `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The ceiling after the first failure.
    pub base: Duration,
    /// The largest ceiling.
    pub max: Duration,
    pub jitter: Jitter,
}

impl Backoff {
    /// The un-jittered delay before retry `failures` (1-based; 0 counts as
    /// 1): `min(max, base * 2^(failures-1))`, without overflow.
    pub fn ceiling(&self, failures: u32) -> Duration {
        let shift = failures.saturating_sub(1).min(31);
        self.base
            .checked_mul(1u32 << shift)
            .unwrap_or(self.max)
            .min(self.max)
    }

    /// The jittered delay before retry `failures`.
    pub fn delay(&self, failures: u32) -> Duration {
        self.jitter.apply(self.ceiling(failures))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceiling_doubles_and_never_overflows() {
        let b = Backoff {
            base: Duration::from_secs(u64::MAX / 4),
            max: Duration::MAX,
            jitter: Jitter::Full,
        };
        assert_eq!(b.ceiling(1), Duration::from_secs(u64::MAX / 4));
        assert_eq!(b.ceiling(u32::MAX), Duration::MAX);
        let small = Backoff {
            base: Duration::from_millis(1),
            max: Duration::from_secs(1),
            jitter: Jitter::Equal,
        };
        assert_eq!(small.ceiling(0), small.ceiling(1));
        assert_eq!(small.ceiling(3), Duration::from_millis(4));
    }

    #[test]
    fn jitter_stays_in_its_range() {
        let cap = Duration::from_millis(40);
        for _ in 0..200 {
            assert!(Jitter::Full.apply(cap) <= cap);
            let d = Jitter::Equal.apply(cap);
            assert!(d >= cap / 2 && d <= cap, "{d:?}");
        }
        assert_eq!(Jitter::Equal.apply(Duration::ZERO), Duration::ZERO);
    }
}
