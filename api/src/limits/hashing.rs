//! Bounded password hashing: Argon2 costs ~19 MiB and tens of milliseconds of one core per
//! call, so at most `POSTAGRAM_PASSWORD_HASH_CONCURRENCY` run at once (on the blocking
//! pool); a request that cannot get a slot within `POSTAGRAM_PASSWORD_HASH_WAIT_MS` gets
//! 503 with `Retry-After` instead of piling up memory.
//!
//! Each slot also owns the hash's working memory, allocated on first use and reused:
//! allocating 19 MiB per hash let glibc keep the freed blocks in its heaps (its mmap
//! threshold grows to the block size after the first free), measured by
//! `bench/abuse.sh`: 200 sign-ups at once left the server at 1.9 GB with 2 slots; with
//! reused blocks the hashes hold at most slots × 19 MiB.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use argon2::Block;
use tokio::sync::Semaphore;

use crate::error::ApiError;

/// The working memory of one hash (Argon2 blocks of 1 KiB), kept by the pool between hashes.
pub type HashMemory = Vec<Block>;

/// Slots for password hashing, with the in-flight count and its peak (for tests/metrics).
pub struct HashPool {
    slots: Arc<Semaphore>,
    /// Working memories of the slots not in use; never more than `capacity` exist.
    memories: Arc<Mutex<Vec<HashMemory>>>,
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
            memories: Arc::new(Mutex::new(Vec::with_capacity(capacity))),
            capacity,
            wait,
            in_flight: Arc::new(AtomicUsize::new(0)),
            peak: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Runs `work` on the blocking pool with the slot's working memory once a slot is
    /// free; 503 (`overloaded`) when no slot frees up in time.
    pub async fn run<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut HashMemory) -> T + Send + 'static,
        T: Send + 'static,
    {
        let permit = tokio::time::timeout(self.wait, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| ApiError::Overloaded {
                retry_after: self.wait.as_secs().max(1),
            })?
            .map_err(|_| ApiError::Internal("the hashing pool is closed".into()))?;
        let (in_flight, peak) = (self.in_flight.clone(), self.peak.clone());
        let memories = self.memories.clone();
        tokio::task::spawn_blocking(move || {
            let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            // A poisoned lock only means a hash panicked; the list itself is intact.
            let take = || memories.lock().unwrap_or_else(|e| e.into_inner()).pop();
            let mut memory = take().unwrap_or_default();
            let out = work(&mut memory);
            memories
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(memory);
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

    /// Working memories allocated so far (at most the number of slots).
    pub fn memories(&self) -> usize {
        self.memories
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
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
                    pool.run(|memory| {
                        memory.resize(4, Block::default());
                        std::thread::sleep(Duration::from_millis(150))
                    })
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
        assert_eq!(pool.memories(), 2, "one working memory per slot, reused");
    }
}
