//! Argon2id password hashing, off the async runtime and bounded by the [`HashPool`], in
//! the working memory of the pool's slot (so a hash allocates nothing big).

use argon2::password_hash::{Output, ParamsString, PasswordHash, Salt, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use crate::error::ApiError;
use crate::limits::hashing::{HashMemory, HashPool};

/// A valid Argon2id hash of a random password: verifying against it costs as much as a
/// real check, so unknown usernames and wrong passwords take the same time.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$T6B2d2kZ5d2v2kfZ5J8ukx1fL8bqQH1bVwXQy0ZxqRk";

/// Hashes a password with Argon2id (the crate's default parameters) and a random salt.
pub async fn hash(pool: &HashPool, password: String) -> Result<String, ApiError> {
    pool.run(move |memory| {
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        hash_in(memory, Kind::default(), password.as_bytes(), salt.as_salt())
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
    pool.run(move |memory| {
        let known = stored.is_some();
        let stored = stored.unwrap_or_else(|| DUMMY_HASH.to_string());
        let ok = match PasswordHash::new(&stored) {
            Ok(parsed) => matches(memory, password.as_bytes(), &parsed),
            Err(_) => false,
        };
        known && ok
    })
    .await
}

/// What `PasswordVerifier::verify_password` does, in the slot's memory: recompute with the
/// stored algorithm, version, parameters and salt, compare in constant time (`Output`'s
/// `==`). A stored hash asking for more memory than the server's own parameters fails
/// rather than growing the slot.
fn matches(memory: &mut HashMemory, password: &[u8], stored: &PasswordHash<'_>) -> bool {
    let (Some(salt), Some(expected)) = (stored.salt, stored.hash) else {
        return false;
    };
    let kind = match (
        Algorithm::try_from(stored.algorithm),
        stored.version.map(Version::try_from).transpose(),
        Params::try_from(stored),
    ) {
        (Ok(algorithm), Ok(version), Ok(params)) => Kind {
            algorithm,
            version: version.unwrap_or_default(),
            params,
        },
        _ => return false,
    };
    if kind.params.block_count() > Params::default().block_count() {
        tracing::error!("a stored password hash needs more memory than the server's parameters");
        return false;
    }
    hash_in(memory, kind, password, salt).is_ok_and(|computed| computed.hash == Some(expected))
}

/// Which Argon2 a hash uses; the default is what new hashes get (Argon2id, v19, the
/// crate's default costs: 19 MiB, 2 passes, 1 lane).
#[derive(Default)]
struct Kind {
    algorithm: Algorithm,
    version: Version,
    params: Params,
}

/// `PasswordHasher::hash_password` of the argon2 crate, with `memory` as the working memory
/// (grown to the parameters' block count once, then reused).
fn hash_in<'a>(
    memory: &mut HashMemory,
    kind: Kind,
    password: &[u8],
    salt: Salt<'a>,
) -> argon2::password_hash::Result<PasswordHash<'a>> {
    let Kind {
        algorithm,
        version,
        params,
    } = kind;
    let blocks = params.block_count();
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    let mut salt_buf = [0u8; Salt::MAX_LENGTH];
    let salt_bytes = salt.decode_b64(&mut salt_buf)?;
    let output_len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    let params_string = ParamsString::try_from(&params)?;
    let argon = Argon2::new(algorithm, version, params);
    let hash = Output::init_with(output_len, |out| {
        Ok(argon.hash_password_into_with_memory(
            password,
            salt_bytes,
            out,
            &mut memory[..blocks],
        )?)
    })?;
    Ok(PasswordHash {
        algorithm: algorithm.ident(),
        version: Some(version.into()),
        params: params_string,
        salt: Some(salt),
        hash: Some(hash),
    })
}

#[cfg(test)]
mod tests {
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

    use super::*;

    fn salt() -> SaltString {
        SaltString::generate(&mut argon2::password_hash::rand_core::OsRng)
    }

    #[test]
    fn the_same_phc_string_as_the_crates_own_hasher() {
        let salt = salt();
        let mut memory = HashMemory::new();
        let ours = hash_in(&mut memory, Kind::default(), b"pw-123456", salt.as_salt()).unwrap();
        let theirs = Argon2::default()
            .hash_password(b"pw-123456", &salt)
            .unwrap();
        assert_eq!(ours.to_string(), theirs.to_string());
        assert_eq!(memory.len(), Params::default().block_count());
    }

    #[test]
    fn verifies_what_the_crate_verifies_and_nothing_else() {
        let stored = Argon2::default()
            .hash_password(b"right password", &salt())
            .unwrap()
            .to_string();
        let parsed = PasswordHash::new(&stored).unwrap();
        let mut memory = HashMemory::new();
        assert!(matches(&mut memory, b"right password", &parsed));
        assert!(Argon2::default()
            .verify_password(b"right password", &parsed)
            .is_ok());
        assert!(!matches(&mut memory, b"wrong password", &parsed));
        assert!(!matches(&mut memory, b"right passwore", &parsed));
        // The dummy hash parses and verifies nothing we would send.
        let dummy = PasswordHash::new(DUMMY_HASH).unwrap();
        assert!(!matches(&mut memory, b"right password", &dummy));
    }

    #[test]
    fn a_stored_hash_wanting_more_memory_is_refused_without_growing() {
        let big = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(Params::default().m_cost() * 2, 1, 1, None).unwrap(),
        );
        let stored = big.hash_password(b"pw", &salt()).unwrap().to_string();
        let mut memory = HashMemory::new();
        assert!(!matches(
            &mut memory,
            b"pw",
            &PasswordHash::new(&stored).unwrap()
        ));
        assert!(memory.is_empty());
    }
}
