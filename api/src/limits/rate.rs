//! Keyed rate limits (governor's GCRA): a quota per key, `Retry-After` seconds when spent.

use std::hash::Hash;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Every this many checks, keys whose budget is full again are forgotten, so the key map
/// is bounded by the keys active within one refill period.
const SWEEP_EVERY: u64 = 4096;

/// A rate limit per key (client address, username); off when built with a rate of 0.
pub struct KeyedRate<K: Hash + Eq + Clone> {
    limiter: Option<DefaultKeyedRateLimiter<K>>,
    checks: AtomicU64,
}

impl<K: Hash + Eq + Clone> KeyedRate<K> {
    /// `per_minute` events per key per minute, in bursts of up to `per_minute`.
    pub fn per_minute(per_minute: u32) -> Self {
        Self::with_quota(NonZeroU32::new(per_minute).map(Quota::per_minute))
    }

    /// `per_hour` events per key per hour, in bursts of up to `per_hour`.
    pub fn per_hour(per_hour: u32) -> Self {
        Self::with_quota(NonZeroU32::new(per_hour).map(Quota::per_hour))
    }

    /// A limit with this quota (`None`: no limit).
    pub fn with_quota(quota: Option<Quota>) -> Self {
        KeyedRate {
            limiter: quota.map(RateLimiter::keyed),
            checks: AtomicU64::new(0),
        }
    }

    /// True when this limit is configured.
    pub fn is_on(&self) -> bool {
        self.limiter.is_some()
    }

    /// Takes one event for `key`; `Err(seconds to wait)` when its budget is spent.
    pub fn check(&self, key: &K) -> Result<(), u64> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        limiter.check_key(key).map_err(|not_until| {
            retry_after(not_until.wait_time_from(DefaultClock::default().now()))
        })
    }

    /// Keys currently remembered (for tests).
    pub fn tracked_keys(&self) -> usize {
        self.limiter.as_ref().map_or(0, |l| l.len())
    }
}

/// Whole seconds to announce in `Retry-After` (at least 1).
pub fn retry_after(wait: Duration) -> u64 {
    wait.as_secs_f64().ceil().max(1.0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    #[test]
    fn limits_per_key() {
        let rl = KeyedRate::<IpAddr>::per_minute(3);
        let a: IpAddr = [127, 0, 0, 1].into();
        let b: IpAddr = [127, 0, 0, 2].into();
        assert!(rl.check(&a).is_ok());
        assert!(rl.check(&a).is_ok());
        assert!(rl.check(&a).is_ok());
        let wait = rl.check(&a).expect_err("fourth is limited");
        assert!((1..=20).contains(&wait), "retry after {wait} s");
        assert!(rl.check(&b).is_ok());
        let off = KeyedRate::<IpAddr>::per_minute(0);
        assert!((0..100).all(|_| off.check(&a).is_ok()));
    }
}
