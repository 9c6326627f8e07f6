//! HS256 login tokens with issuer and expiry.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use postagram_core::model::User;
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
    /// When the account was created (Unix ms): a name deleted and taken again is another
    /// account, whose versions start afresh. Absent in tokens from before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    acct: Option<i64>,
}

/// What a valid token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The username.
    pub user: String,
    /// The account's token version it was issued under; only the current one is valid.
    pub version: u64,
    /// The creation time (Unix ms) of the account it was issued for, when it says.
    pub account_created_ms: Option<i64>,
    /// When it was issued (Unix seconds).
    pub issued_at: i64,
}

impl Verified {
    /// Whether this token is still good for `user` as the store has it now: the same
    /// account (not an earlier one of the same name), in use, at its current version.
    /// A token without the account's creation time (issued by an older build) must at
    /// least be younger than the account.
    pub fn is_current_for(&self, user: &User) -> bool {
        let created = user.created_at.timestamp_millis();
        let same_account = match self.account_created_ms {
            Some(ms) => ms == created,
            None => self.issued_at.saturating_mul(1000).saturating_add(999) >= created,
        };
        same_account && user.is_active() && user.token_version == self.version
    }
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

    /// A token for the account `user` at its current token version, and its expiry time.
    pub fn issue(&self, user: &User) -> Result<(String, DateTime<Utc>), ApiError> {
        let now = Utc::now().timestamp();
        let exp = now + self.ttl.as_secs() as i64;
        let claims = Claims {
            sub: user.username.clone(),
            iss: ISSUER.to_string(),
            iat: now,
            exp,
            ver: user.token_version,
            acct: Some(user.created_at.timestamp_millis()),
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
                account_created_ms: data.claims.acct,
                issued_at: data.claims.iat,
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
    use postagram_core::model::AccountState;

    use super::*;

    fn account(created_ms: i64, version: u64) -> User {
        User {
            username: "alice".into(),
            password_hash: "x".into(),
            created_at: Utc.timestamp_millis_opt(created_ms).single().expect("time"),
            token_version: version,
            state: AccountState::Active,
        }
    }

    #[test]
    fn round_trip_and_forgery() {
        let keys = JwtKeys::new(b"secret", Duration::from_secs(60));
        let alice = account(1_700_000_000_123, 3);
        let (token, _) = keys.issue(&alice).expect("issue");
        let verified = keys.verify(&token).expect("verify");
        assert_eq!((verified.user.as_str(), verified.version), ("alice", 3));
        assert_eq!(verified.account_created_ms, Some(1_700_000_000_123));
        assert!(verified.is_current_for(&alice));
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
        let verified = keys.verify(&token).expect("verify");
        assert_eq!(verified.version, 0);
        assert!(verified.is_current_for(&account(now * 1000 - 5000, 0)));
        assert!(
            !verified.is_current_for(&account(now * 1000 + 1000, 0)),
            "an account created after the token is another one"
        );
    }

    /// A token is good only for its account, at its version, while it is in use: a
    /// bumped version, a deletion, or a new account of the same name refuse it.
    #[test]
    fn only_the_current_version_of_the_same_account_is_good() {
        let keys = JwtKeys::new(b"secret", Duration::from_secs(60));
        let alice = account(1_700_000_000_000, 2);
        let verified = keys
            .verify(&keys.issue(&alice).expect("issue").0)
            .expect("verify");
        assert!(verified.is_current_for(&alice));
        assert!(!verified.is_current_for(&account(1_700_000_000_000, 3)));
        let mut deleting = alice.clone();
        deleting.state = AccountState::Deleting;
        assert!(!verified.is_current_for(&deleting));
        assert!(
            !verified.is_current_for(&account(1_700_000_000_001, 2)),
            "a new account of the same name"
        );
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
            acct: None,
        };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &keys.keys.0).expect("encode");
        match keys.verify(&token) {
            Err(ApiError::Unauthorized { code, .. }) => assert_eq!(code, "token_expired"),
            other => panic!("unexpected {other:?}"),
        }
    }
}
