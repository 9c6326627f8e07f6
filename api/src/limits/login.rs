//! Failed-login accounting: failures, not attempts, are counted, per (account, address),
//! per address and per account, so a right password is held back only where guessing
//! happened.
//!
//! - per (account, client address): `POSTAGRAM_LOGIN_RATE_PER_MINUTE` failures, then that
//!   pair waits for the budget to refill (one more try per `60 / rate` s);
//! - per client address, any account: `POSTAGRAM_LOGIN_ADDRESS_FAILURES_PER_MINUTE`
//!   (password spraying from one address);
//! - per account, all addresses: `POSTAGRAM_LOGIN_ACCOUNT_FAILURES_PER_HOUR`; past it,
//!   only addresses that have already failed for that account wait, so an attacker on
//!   many addresses gets one guess per address, and the owner on another address is not
//!   locked out.

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use moka::sync::Cache;
use postagram_core::validate;

use super::rate::retry_after;

/// Most keys remembered as blocked or as having failed (each map): bounds memory.
const MAX_TRACKED: u64 = 100_000;
/// How long a blocked key or a failed (account, address) pair is remembered.
const MEMORY: Duration = Duration::from_secs(3600);

/// A budget of failures per key: `n` failures within `window`, then the key waits until
/// the budget has one failure again.
struct FailureLimit<K: Hash + Eq + Clone + Send + Sync + 'static> {
    rate: Option<DefaultKeyedRateLimiter<K>>,
    blocked: Cache<K, Instant>,
}

impl<K: Hash + Eq + Clone + Send + Sync + 'static> FailureLimit<K> {
    fn new(n: u32, window: Duration) -> Self {
        // The n-th failure is the one that finds the budget empty, so the burst is n − 1.
        let rate = NonZeroU32::new(n).and_then(|n| {
            let burst = NonZeroU32::new(n.get().saturating_sub(1)).unwrap_or(NonZeroU32::MIN);
            Quota::with_period(window / n.get()).map(|q| RateLimiter::keyed(q.allow_burst(burst)))
        });
        FailureLimit {
            rate,
            blocked: Cache::builder()
                .max_capacity(MAX_TRACKED)
                .time_to_live(MEMORY)
                .build(),
        }
    }

    /// `Err(seconds)` while `key` is waiting.
    fn check(&self, key: &K) -> Result<(), u64> {
        match self.blocked.get(key) {
            Some(until) => match until.checked_duration_since(Instant::now()) {
                Some(wait) if !wait.is_zero() => Err(retry_after(wait)),
                _ => Ok(()),
            },
            None => Ok(()),
        }
    }

    /// Counts a failure; the key waits when this one spent the budget.
    fn failed(&self, key: K) {
        let Some(rate) = &self.rate else { return };
        if let Err(not_until) = rate.check_key(&key) {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            self.blocked.insert(key, Instant::now() + wait);
        }
        if rate.len() as u64 > MAX_TRACKED {
            rate.retain_recent();
        }
    }
}

/// The login limits of one server.
pub struct LoginGuard {
    pair: FailureLimit<(String, IpAddr)>,
    address: FailureLimit<IpAddr>,
    account: FailureLimit<String>,
    failed_pairs: Cache<(String, IpAddr), ()>,
}

/// The account part of a key: the username's case-insensitive form when valid (bounded
/// length; `ALICE` and `alice` are one account), else one shared key (such names can
/// never sign in anyway).
fn account_key(username: &str) -> String {
    if validate::username(username).is_ok() {
        postagram_core::username::canonical(username)
    } else {
        String::new()
    }
}

impl LoginGuard {
    /// Limits with these budgets (0 turns one off).
    pub fn new(pair_per_minute: u32, address_per_minute: u32, account_per_hour: u32) -> Self {
        LoginGuard {
            pair: FailureLimit::new(pair_per_minute, Duration::from_secs(60)),
            address: FailureLimit::new(address_per_minute, Duration::from_secs(60)),
            account: FailureLimit::new(account_per_hour, Duration::from_secs(3600)),
            failed_pairs: Cache::builder()
                .max_capacity(MAX_TRACKED)
                .time_to_idle(MEMORY)
                .build(),
        }
    }

    /// Before checking a password: `Err(seconds)` when this account, from this address,
    /// must wait.
    pub fn check(&self, username: &str, addr: IpAddr) -> Result<(), u64> {
        let pair = (account_key(username), addr);
        self.pair.check(&pair)?;
        self.address.check(&addr)?;
        if self.failed_pairs.contains_key(&pair) {
            self.account.check(&pair.0)?;
        }
        Ok(())
    }

    /// After a wrong password.
    pub fn failed(&self, username: &str, addr: IpAddr) {
        let pair = (account_key(username), addr);
        self.address.failed(addr);
        self.account.failed(pair.0.clone());
        self.failed_pairs.insert(pair.clone(), ());
        self.pair.failed(pair);
    }

    /// After a right password: this address is no longer suspect for the account.
    pub fn succeeded(&self, username: &str, addr: IpAddr) {
        self.failed_pairs.invalidate(&(account_key(username), addr));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_hold_back_only_the_guessing_pair() {
        let g = LoginGuard::new(3, 0, 0);
        let attacker: IpAddr = [127, 0, 0, 2].into();
        let owner: IpAddr = [127, 0, 0, 3].into();
        for _ in 0..3 {
            assert!(g.check("alice", attacker).is_ok());
            g.failed("alice", attacker);
        }
        assert!(g.check("alice", attacker).is_err(), "guessing pair waits");
        assert!(
            g.check("alice", owner).is_ok(),
            "owner elsewhere is not held back"
        );
        assert!(
            g.check("bob", attacker).is_ok(),
            "other accounts from the address too"
        );
    }

    #[test]
    fn account_budget_spares_fresh_addresses() {
        let g = LoginGuard::new(0, 0, 4);
        for i in 0..4u8 {
            g.failed("alice", [10, 0, 0, i].into());
        }
        assert!(
            g.check("alice", [10, 0, 0, 1].into()).is_err(),
            "a failed address waits"
        );
        assert!(
            g.check("alice", [10, 0, 0, 200].into()).is_ok(),
            "a fresh one does not"
        );
    }

    #[test]
    fn address_budget_counts_every_account() {
        let g = LoginGuard::new(0, 3, 0);
        let a: IpAddr = [10, 0, 0, 1].into();
        for name in ["a1", "a2", "a3"] {
            g.failed(name, a);
        }
        assert!(g.check("a4", a).is_err());
        assert!(g.check("a4", [10, 0, 0, 2].into()).is_ok());
    }
}
