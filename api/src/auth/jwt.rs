//! HS256 login tokens with issuer and expiry.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// The `iss` claim of every token this server issues.
pub const ISSUER: &str = "postagram";

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    iss: String,
    iat: i64,
    exp: i64,
    /// The account's token version when the token was issued (tokens issued before
    /// versions existed have none: version 0).
    #[serde(default)]
    ver: u64,
}

/// What a valid token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The username.
    pub user: String,
    /// The account's token version it was issued under; only the current one is valid.
    pub version: u64,
}

/// Issues and checks tokens with one secret (cheap to clone: the keys are shared).
#[derive(Clone)]
pub struct JwtKeys {
    keys: std::sync::Arc<(EncodingKey, DecodingKey)>,
    ttl: Duration,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtKeys").field("ttl", &self.ttl).finish()
    }
}

impl JwtKeys {
    /// Keys for `secret`, tokens living `ttl`.
    pub fn new(secret: &[u8], ttl: Duration) -> Self {
        JwtKeys {
            keys: std::sync::Arc::new((
                EncodingKey::from_secret(secret),
                DecodingKey::from_secret(secret),
            )),
            ttl,
        }
    }

    /// A token for `user` at the account's token `version`, and its expiry time.
    pub fn issue(&self, user: &str, version: u64) -> Result<(String, DateTime<Utc>), ApiError> {
        let now = Utc::now().timestamp();
        let exp = now + self.ttl.as_secs() as i64;
        let claims = Claims {
            sub: user.to_string(),
            iss: ISSUER.to_string(),
            iat: now,
            exp,
            ver: version,
        };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &self.keys.0)
            .map_err(|e| ApiError::Internal(format!("jwt encode: {e}")))?;
        let expires_at = Utc
            .timestamp_opt(exp, 0)
            .single()
            .ok_or_else(|| ApiError::Internal("bad expiry".into()))?;
        Ok((token, expires_at))
    }

    /// The username and token version in a valid token; 401 with a precise code
    /// otherwise. Whether the version is still the account's is the caller's check
    /// (`crate::auth::extract`).
    pub fn verify(&self, token: &str) -> Result<Verified, ApiError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.leeway = 0;
        match decode::<Claims>(token, &self.keys.1, &validation) {
            Ok(data) => Ok(Verified {
                user: data.claims.sub,
                version: data.claims.ver,
            }),
            Err(e) => Err(match e.kind() {
                ErrorKind::ExpiredSignature => {
                    ApiError::unauthorized("token_expired", "the token has expired; log in again")
                }
                _ => ApiError::unauthorized("invalid_token", "the token is not valid"),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_forgery() {
        let keys = JwtKeys::new(b"secret", Duration::from_secs(60));
        let (token, _) = keys.issue("alice", 3).expect("issue");
        assert_eq!(
            keys.verify(&token).expect("verify"),
            Verified {
                user: "alice".into(),
                version: 3
            }
        );
        let other = JwtKeys::new(b"other", Duration::from_secs(60));
        assert!(other.verify(&token).is_err());
        assert!(keys.verify("not.a.token").is_err());
    }

    /// A token written before token versions existed (no `ver`) is version 0, so
    /// tokens issued by an older build keep working until the password changes.
    #[test]
    fn a_token_without_a_version_is_version_0() {
        #[derive(Serialize)]
        struct Old<'a> {
            sub: &'a str,
            iss: &'a str,
            iat: i64,
            exp: i64,
        }
        let keys = JwtKeys::new(b"secret", Duration::from_secs(60));
        let now = Utc::now().timestamp();
        let old = Old {
            sub: "alice",
            iss: ISSUER,
            iat: now,
            exp: now + 60,
        };
        let token = encode(&Header::new(Algorithm::HS256), &old, &keys.keys.0).expect("encode");
        assert_eq!(keys.verify(&token).expect("verify").version, 0);
    }

    #[test]
    fn expired() {
        let keys = JwtKeys::new(b"secret", Duration::from_secs(0));
        let claims = Claims {
            sub: "a".into(),
            iss: ISSUER.into(),
            iat: 0,
            exp: Utc::now().timestamp() - 10,
            ver: 0,
        };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &keys.keys.0).expect("encode");
        match keys.verify(&token) {
            Err(ApiError::Unauthorized { code, .. }) => assert_eq!(code, "token_expired"),
            other => panic!("unexpected {other:?}"),
        }
    }
}
