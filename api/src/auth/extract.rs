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
                let user = state.jwt.verify(token.trim())?;
                Ok(AuthUser(user))
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
                if state.store.get_user(name).await?.is_none() {
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
