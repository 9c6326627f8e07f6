//! A memory budget for picture decoding shared by every labeler worker of a process.
//!
//! A small file can hold a huge picture (an 8000×8000 16-bit PNG is ~0.5 MB on disk and
//! ~576 MB decoded plus its RGB copy), and one worker per core decoding such pictures
//! at once multiplies that. Each decode first estimates its memory from the header
//! ([`crate::preprocess::decode_cost`]) and takes that many bytes (as KiB permits of a
//! tokio semaphore) from this budget; it waits while others hold the budget, and a
//! picture that needs more than the whole budget fails at once as "too large". So the
//! decoded pixels of all workers together stay under `POSTAGRAM_DECODE_BUDGET_MIB`,
//! whatever the number of cores.

use std::sync::Arc;

use clap::Args;
use postagram_core::settings::env;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::DetectError;

/// Default budget: 512 MiB.
pub const DEFAULT_DECODE_BUDGET_MIB: u64 = 512;

/// The decode budget setting, for the API (embedded labeler workers) and the labeler CLI.
#[derive(Debug, Clone, Args)]
pub struct DecodeBudgetArgs {
    /// MiB of decoded pixels all picture decoders of this process may hold at once; a
    /// picture needing more fails as too large, others wait for room.
    #[arg(long, env = env::DECODE_BUDGET_MIB, default_value_t = DEFAULT_DECODE_BUDGET_MIB)]
    pub decode_budget_mib: u64,
}

impl DecodeBudgetArgs {
    /// The budget this setting describes.
    pub fn budget(&self) -> DecodeBudget {
        DecodeBudget::new(self.decode_budget_mib.saturating_mul(1024 * 1024))
    }
}

/// Bytes of decoding memory, shared (cheap to clone).
#[derive(Debug, Clone)]
pub struct DecodeBudget {
    permits: Arc<Semaphore>,
    total_kib: u32,
}

/// Bytes held from a [`DecodeBudget`] until dropped.
#[derive(Debug)]
pub struct DecodePermit {
    _permit: OwnedSemaphorePermit,
}

fn kib(bytes: u64) -> u64 {
    bytes.div_ceil(1024)
}

impl DecodeBudget {
    /// A budget of `bytes` (rounded down to whole KiB, at least 1 KiB; at most 4 TiB).
    pub fn new(bytes: u64) -> Self {
        let total_kib = u32::try_from(bytes / 1024).unwrap_or(u32::MAX).max(1);
        DecodeBudget {
            permits: Arc::new(Semaphore::new(total_kib as usize)),
            total_kib,
        }
    }

    /// The whole budget, in bytes.
    pub fn total_bytes(&self) -> u64 {
        u64::from(self.total_kib) * 1024
    }

    /// The part of the budget nobody holds now, in bytes.
    pub fn available_bytes(&self) -> u64 {
        self.permits.available_permits() as u64 * 1024
    }

    /// Waits until `bytes` are free and holds them; fails at once (as a bad picture,
    /// [`DetectError::TooLarge`]) when `bytes` exceed the whole budget.
    pub async fn acquire(&self, bytes: u64) -> Result<DecodePermit, DetectError> {
        let need = kib(bytes).max(1);
        if need > u64::from(self.total_kib) {
            return Err(DetectError::TooLarge(format!(
                "decoding needs about {} MiB, more than the whole decode memory budget of {} MiB ({})",
                bytes.div_ceil(1024 * 1024),
                self.total_bytes() / (1024 * 1024),
                env::DECODE_BUDGET_MIB
            )));
        }
        let permit = self
            .permits
            .clone()
            .acquire_many_owned(need as u32)
            .await
            .map_err(|_| DetectError::Model("the decode budget is closed".into()))?;
        Ok(DecodePermit { _permit: permit })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn waits_for_room_and_rejects_the_impossible() {
        let budget = DecodeBudget::new(10 * 1024 * 1024);
        let first = budget.acquire(6 * 1024 * 1024).await.expect("fits");
        assert_eq!(budget.available_bytes(), 4 * 1024 * 1024);
        let second =
            tokio::time::timeout(Duration::from_millis(100), budget.acquire(6 * 1024 * 1024)).await;
        assert!(
            second.is_err(),
            "the second decode waits while the first holds the budget"
        );
        drop(first);
        let second = tokio::time::timeout(Duration::from_secs(5), budget.acquire(6 * 1024 * 1024))
            .await
            .expect("room after the first is done")
            .expect("fits");
        drop(second);
        match budget.acquire(11 * 1024 * 1024).await {
            Err(DetectError::TooLarge(m)) => assert!(m.contains("decode memory budget"), "{m}"),
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(budget.available_bytes(), budget.total_bytes());
    }
}
