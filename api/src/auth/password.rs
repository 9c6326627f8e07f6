//! Argon2id password hashing, off the async runtime and bounded by the [`HashPool`].

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

use crate::error::ApiError;
use crate::limits::hashing::HashPool;

/// A valid Argon2id hash of a random password: verifying against it costs as much as a
/// real check, so unknown usernames and wrong passwords take the same time.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$T6B2d2kZ5d2v2kfZ5J8ukx1fL8bqQH1bVwXQy0ZxqRk";

/// Hashes a password with Argon2id and a random salt.
pub async fn hash(pool: &HashPool, password: String) -> Result<String, ApiError> {
    pool.run(move || {
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| ApiError::Internal(format!("argon2: {e}")))
    })
    .await?
}

/// Checks a password against a stored hash (or the dummy hash when `stored` is None).
pub async fn verify(
    pool: &HashPool,
    password: String,
    stored: Option<String>,
) -> Result<bool, ApiError> {
    pool.run(move || {
        let known = stored.is_some();
        let stored = stored.unwrap_or_else(|| DUMMY_HASH.to_string());
        let ok = match PasswordHash::new(&stored) {
            Ok(parsed) => Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok(),
            Err(_) => false,
        };
        known && ok
    })
    .await
}
