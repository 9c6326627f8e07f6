//! `POST /auth/signup`, `POST /auth/login`.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::Json;
use postagram_core::store::NewUser;
use postagram_core::validate;
use postagram_core::wire::{Credentials, ErrorBody, TokenView, UserView};

use crate::auth::password;
use crate::error::{ApiError, ApiResult};
use crate::json::ApiJson;
use crate::state::AppState;

/// Creates an account.
#[utoipa::path(post, path = "/auth/signup", tag = "auth", request_body = Credentials,
    responses(
        (status = 201, description = "account created", body = UserView),
        (status = 400, description = "malformed JSON", body = ErrorBody),
        (status = 409, description = "username taken", body = ErrorBody),
        (status = 413, description = "body too large", body = ErrorBody),
        (status = 415, description = "not JSON", body = ErrorBody),
        (status = 422, description = "invalid username or password", body = ErrorBody),
        (status = 503, description = "store unavailable", body = ErrorBody),
    ))]
pub async fn signup(
    State(state): State<AppState>,
    ApiJson(creds): ApiJson<Credentials>,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    validate::username(&creds.username)?;
    validate::password(&creds.password)?;
    if state.store.get_user(&creds.username).await?.is_some() {
        return Err(ApiError::Conflict(format!(
            "username `{}` is already taken",
            creds.username
        )));
    }
    let password_hash = password::hash(creds.password).await?;
    let user = state
        .store
        .create_user(NewUser {
            username: creds.username,
            password_hash,
        })
        .await?;
    tracing::info!(user = %user.username, "account created");
    Ok((StatusCode::CREATED, Json(user.to_view())))
}

/// Exchanges a username and password for a token. Rate limited per client address.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = Credentials,
    responses(
        (status = 200, description = "signed in", body = TokenView),
        (status = 400, description = "malformed JSON", body = ErrorBody),
        (status = 401, description = "wrong username or password", body = ErrorBody),
        (status = 415, description = "not JSON", body = ErrorBody),
        (status = 422, description = "wrong field types", body = ErrorBody),
        (status = 429, description = "too many attempts", body = ErrorBody),
        (status = 503, description = "store unavailable", body = ErrorBody),
    ))]
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ApiJson(creds): ApiJson<Credentials>,
) -> ApiResult<Json<TokenView>> {
    state
        .login_limiter
        .check(peer.ip())
        .map_err(|retry_after| ApiError::RateLimited { retry_after })?;
    let stored = if validate::username(&creds.username).is_ok() {
        state
            .store
            .get_user(&creds.username)
            .await?
            .map(|u| u.password_hash)
    } else {
        None
    };
    if !password::verify(creds.password, stored).await? {
        tracing::info!(user = %creds.username, "failed login");
        return Err(ApiError::unauthorized(
            "invalid_credentials",
            "wrong username or password",
        ));
    }
    let (token, expires_at) = state.jwt.issue(&creds.username)?;
    Ok(Json(TokenView { token, expires_at }))
}
