//! HMAC-SHA256 signed, expiring object URLs for the embedded picture folder.
//!
//! The signature covers the method, the key, the content type and the expiry, so a URL
//! issued to upload one JPEG cannot be reused for another key, another type or later.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Current Unix time in seconds, the clock signed-URL expiries are compared with.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Why a signed URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The signature does not match.
    #[error("signature does not match")]
    Invalid,
    /// The URL's expiry is in the past.
    #[error("signed URL has expired")]
    Expired,
}

/// Signs and checks object URLs with one secret key.
#[derive(Clone)]
pub struct UrlSigner {
    key: std::sync::Arc<[u8]>,
}

impl std::fmt::Debug for UrlSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UrlSigner(..)")
    }
}

impl UrlSigner {
    /// A signer with this secret.
    pub fn new(key: &[u8]) -> Self {
        UrlSigner { key: key.into() }
    }

    fn mac(&self, method: &str, key: &str, content_type: &str, expires: i64) -> HmacSha256 {
        // `new_from_slice` accepts keys of any length for HMAC.
        let mut mac = match HmacSha256::new_from_slice(&self.key) {
            Ok(m) => m,
            Err(_) => unreachable!("HMAC accepts every key length"),
        };
        mac.update(method.as_bytes());
        mac.update(b"\n");
        mac.update(key.as_bytes());
        mac.update(b"\n");
        mac.update(content_type.as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        mac
    }

    /// Hex signature of a request.
    pub fn sign(&self, method: &str, key: &str, content_type: &str, expires: i64) -> String {
        hex::encode(
            self.mac(method, key, content_type, expires)
                .finalize()
                .into_bytes(),
        )
    }

    /// Checks a signature in constant time, then the expiry against `now` (unix seconds).
    pub fn verify(
        &self,
        method: &str,
        key: &str,
        content_type: &str,
        expires: i64,
        signature: &str,
        now: i64,
    ) -> Result<(), SignatureError> {
        let sig = hex::decode(signature).map_err(|_| SignatureError::Invalid)?;
        self.mac(method, key, content_type, expires)
            .verify_slice(&sig)
            .map_err(|_| SignatureError::Invalid)?;
        if expires < now {
            return Err(SignatureError::Expired);
        }
        Ok(())
    }
}

/// Derives a purpose-specific key from a master secret (HMAC(secret, purpose)).
pub fn derive_key(secret: &[u8], purpose: &str) -> Vec<u8> {
    let mut mac = match HmacSha256::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts every key length"),
    };
    mac.update(purpose.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_verify() {
        let s = UrlSigner::new(b"secret");
        let sig = s.sign("PUT", "a/b/c", "image/png", 100);
        assert_eq!(s.verify("PUT", "a/b/c", "image/png", 100, &sig, 50), Ok(()));
        assert_eq!(
            s.verify("PUT", "a/b/c", "image/png", 100, &sig, 101),
            Err(SignatureError::Expired)
        );
        assert_eq!(
            s.verify("PUT", "a/b/c", "image/jpeg", 100, &sig, 50),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            s.verify("GET", "a/b/c", "image/png", 100, &sig, 50),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            s.verify("PUT", "a/b/d", "image/png", 100, &sig, 50),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            s.verify("PUT", "a/b/c", "image/png", 101, &sig, 50),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            s.verify("PUT", "a/b/c", "image/png", 100, "zz", 50),
            Err(SignatureError::Invalid)
        );
        let other = UrlSigner::new(b"other");
        assert_eq!(
            other.verify("PUT", "a/b/c", "image/png", 100, &sig, 50),
            Err(SignatureError::Invalid)
        );
    }
}
