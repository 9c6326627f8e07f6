//! The `AuthUser` extractor: the caller's username in either auth mode.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use postagram_core::store::{NewUser, StoreError};
use postagram_core::{username, validate};

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
        let header = parts.headers.get(AUTHORIZATION).ok_or_else(|| {
            ApiError::unauthorized(
                "missing_token",
                "sign in first: send an Authorization header",
            )
        })?;
        match state.auth_mode {
            AuthMode::Jwt => {
                let value = header
                    .to_str()
                    .map_err(|_| {
                        ApiError::unauthorized(
                            "invalid_token",
                            "the Authorization header is not text",
                        )
                    })?
                    .trim();
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
            AuthMode::Header => header_user(state, header.as_bytes()).await.map(AuthUser),
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

/// Header mode: the name the course web app sends (its login form's text, UTF-8 or the
/// Latin-1 bytes a browser sends), validated by `validate::header_username`; the account
/// is found in any case, or created on first use. Returns the registered spelling.
async fn header_user(state: &AppState, bytes: &[u8]) -> Result<String, ApiError> {
    let text = username::decode_header(bytes);
    let text = text.trim();
    // The course web app sends the bare username; accept `Bearer <name>` too.
    let name = text.strip_prefix("Bearer ").unwrap_or(text).trim();
    if name.is_empty() {
        return Err(ApiError::unauthorized(
            "missing_token",
            "sign in first: send your name in the Authorization header",
        ));
    }
    validate::header_username(name).map_err(|e| {
        ApiError::unauthorized(
            "invalid_user",
            format!("bad username in Authorization: {e}"),
        )
    })?;
    if let Some(user) = state.store.get_user(name).await? {
        if !user.is_active() {
            return Err(ApiError::unauthorized(
                "invalid_user",
                "this account is being deleted",
            ));
        }
        return Ok(user.username);
    }
    // Header mode has no sign-up: the first request creates the account, with a hash no
    // password can match.
    let created = state
        .store
        .create_user(NewUser {
            username: name.to_string(),
            password_hash: "!".into(),
        })
        .await;
    match created {
        Ok(user) => Ok(user.username),
        // Created meanwhile, maybe in another case: that account.
        Err(StoreError::UserExists(_)) => state
            .store
            .get_user(name)
            .await?
            .map(|u| u.username)
            .ok_or_else(|| {
                ApiError::Internal(format!(
                    "account {name:?} was taken but cannot be read back"
                ))
            }),
        Err(e) => Err(e.into()),
    }
}
