//! Bounded password hashing: Argon2 costs ~19 MiB and tens of milliseconds of one core per
//! call, so at most `POSTAGRAM_PASSWORD_HASH_CONCURRENCY` run at once (on the blocking
//! pool); a request that cannot get a slot within `POSTAGRAM_PASSWORD_HASH_WAIT_MS` gets
//! 503 with `Retry-After` instead of piling up memory.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::error::ApiError;

/// Slots for password hashing, with the in-flight count and its peak (for tests/metrics).
pub struct HashPool {
    slots: Arc<Semaphore>,
    capacity: usize,
    wait: Duration,
    in_flight: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
}

impl HashPool {
    /// `capacity` hashes at once; callers wait up to `wait` for a slot.
    pub fn new(capacity: usize, wait: Duration) -> Self {
        let capacity = capacity.max(1);
        HashPool {
            slots: Arc::new(Semaphore::new(capacity)),
            capacity,
            wait,
            in_flight: Arc::new(AtomicUsize::new(0)),
            peak: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Runs `work` on the blocking pool once a slot is free; 503 (`overloaded`) when no
    /// slot frees up in time.
    pub async fn run<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let permit = tokio::time::timeout(self.wait, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| ApiError::Overloaded {
                retry_after: self.wait.as_secs().max(1),
            })?
            .map_err(|_| ApiError::Internal("the hashing pool is closed".into()))?;
        let (in_flight, peak) = (self.in_flight.clone(), self.peak.clone());
        tokio::task::spawn_blocking(move || {
            let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            let out = work();
            in_flight.fetch_sub(1, Ordering::SeqCst);
            drop(permit);
            out
        })
        .await
        .map_err(|e| ApiError::Internal(format!("password hashing task: {e}")))
    }

    /// Most hashes that ever ran at once.
    pub fn peak_in_flight(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }

    /// Hashes running now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// The configured number of slots.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn never_more_than_capacity_and_503_when_full() {
        let pool = Arc::new(HashPool::new(2, Duration::from_millis(100)));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let pool = pool.clone();
                tokio::spawn(async move {
                    pool.run(|| std::thread::sleep(Duration::from_millis(150)))
                        .await
                })
            })
            .collect();
        let mut overloaded = 0;
        for t in tasks {
            match t.await.expect("join") {
                Ok(()) => {}
                Err(ApiError::Overloaded { retry_after }) => {
                    assert!(retry_after >= 1);
                    overloaded += 1;
                }
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
        assert_eq!(pool.peak_in_flight(), 2);
        assert!(overloaded >= 4, "{overloaded} of 8 turned away");
        assert_eq!(pool.in_flight(), 0);
    }
}
