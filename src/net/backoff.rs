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
//!
//! A server's `Retry-After` (seconds or an HTTP date, [`parse_retry_after`])
//! is a floor under the delay ([`Backoff::delay_with_hint`]), honoured up
//! to [`RETRY_AFTER_CAP`] so a mistaken answer cannot stop a feed or a sink
//! for days.

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

/// The longest `Retry-After` honoured.
pub const RETRY_AFTER_CAP: Duration = Duration::from_secs(3600);

/// A `Retry-After` value as a wait from `now`: delta-seconds (`120`) or an
/// HTTP date (`Wed, 21 Oct 2015 07:28:00 GMT`; one in the past is no wait).
/// `None` if it is neither.
pub fn parse_retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    Some(
        (at.with_timezone(&chrono::Utc) - now)
            .to_std()
            .unwrap_or_default(),
    )
}

/// The `Retry-After` of a response's headers, as a wait from now.
pub fn retry_after_header(h: &reqwest::header::HeaderMap) -> Option<Duration> {
    let v = h.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(v, chrono::Utc::now())
}

impl Backoff {
    /// The delay before retry `failures` when the server asked to wait
    /// `hint` (`Retry-After`): the jittered delay, but never less than the
    /// hint (itself capped at [`RETRY_AFTER_CAP`]).
    pub fn delay_with_hint(&self, failures: u32, hint: Option<Duration>) -> Duration {
        let d = self.delay(failures);
        hint.map_or(d, |h| d.max(h.min(RETRY_AFTER_CAP)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_in_seconds_or_as_a_date_is_a_floor() {
        let now: chrono::DateTime<chrono::Utc> = "2026-12-01T10:00:00Z".parse().unwrap();
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Tue, 01 Dec 2026 10:05:00 GMT", now),
            Some(Duration::from_secs(300))
        );
        assert_eq!(
            parse_retry_after("Tue, 01 Dec 2026 09:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
        let b = Backoff {
            base: Duration::from_millis(10),
            max: Duration::from_millis(10),
            jitter: Jitter::Full,
        };
        assert_eq!(
            b.delay_with_hint(1, Some(Duration::from_secs(30))),
            Duration::from_secs(30)
        );
        assert!(b.delay_with_hint(1, None) <= Duration::from_millis(10));
        assert_eq!(
            b.delay_with_hint(1, Some(Duration::from_secs(86_400))),
            RETRY_AFTER_CAP
        );
    }

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
