//! The `AuthUser` extractor: the caller's username in either auth mode.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use postagram_core::store::NewUser;
use postagram_core::validate;

use crate::config::AuthMode;
use crate::error::ApiError;
use crate::state::AppState;

/// A signed-in caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthUser(pub String);

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let value = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or_else(|| {
                ApiError::unauthorized(
                    "missing_token",
                    "sign in first: send an Authorization header",
                )
            })?
            .to_str()
            .map_err(|_| {
                ApiError::unauthorized("invalid_token", "the Authorization header is not text")
            })?
            .trim();
        match state.auth_mode {
            AuthMode::Jwt => {
                let token = value
                    .strip_prefix("Bearer ")
                    .or_else(|| value.strip_prefix("bearer "))
                    .ok_or_else(|| {
                        ApiError::unauthorized(
                            "invalid_token",
                            "expected `Authorization: Bearer <token>`",
                        )
                    })?;
                let token = state.jwt.verify(token.trim())?;
                // The store has the last word: a password change or an account deletion
                // (on any replica) bumped the version, and a deleted account has none.
                match state.store.get_user(&token.user).await? {
                    Some(user) if token.is_current_for(&user) => {
                        Ok(AuthUser(user.username))
                    }
                    _ => Err(ApiError::unauthorized(
                        "token_revoked",
                        "the token is no longer valid (the password was changed or the account deleted); log in again",
                    )),
                }
            }
            AuthMode::Header => {
                // The course web app sends the bare username; accept `Bearer <name>` too.
                let name = value.strip_prefix("Bearer ").unwrap_or(value).trim();
                validate::username(name).map_err(|e| {
                    ApiError::unauthorized(
                        "invalid_user",
                        format!("bad username in Authorization: {e}"),
                    )
                })?;
                let existing = state.store.get_user(name).await?;
                if existing.as_ref().is_some_and(|u| !u.is_active()) {
                    return Err(ApiError::unauthorized(
                        "invalid_user",
                        "this account is being deleted",
                    ));
                }
                if existing.is_none() {
                    // Header mode has no sign-up: the first request creates the account,
                    // with a hash no password can match.
                    let created = state
                        .store
                        .create_user(NewUser {
                            username: name.to_string(),
                            password_hash: "!".into(),
                        })
                        .await;
                    match created {
                        Ok(_) | Err(postagram_core::store::StoreError::UserExists(_)) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                Ok(AuthUser(name.to_string()))
            }
        }
    }
}

/// A signed-in caller of a route that needs the account's password (changing it,
/// deleting the account): [`AuthUser`] in `jwt` mode; in `header` mode, where accounts
/// have no password, a 400 `no_passwords` before anything else (no account is created).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordUser(pub String);

impl FromRequestParts<AppState> for PasswordUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if state.auth_mode == AuthMode::Header {
            return Err(ApiError::bad_request(
                "no_passwords",
                format!(
                    "accounts have no password in header auth mode ({}=header): there is none to change or to confirm with",
                    postagram_core::settings::env::AUTH
                ),
            ));
        }
        let AuthUser(user) = AuthUser::from_request_parts(parts, state).await?;
        Ok(PasswordUser(user))
    }
}
