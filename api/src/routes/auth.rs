//! `POST /auth/signup`, `POST /auth/login`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use postagram_core::settings::log::user_value;
use postagram_core::store::NewUser;
use postagram_core::validate;
use postagram_core::wire::{Credentials, ErrorBody, TokenView, UserView};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::password;
use crate::error::{ApiError, ApiResult};
use crate::json::ApiJson;
use crate::limits::client_addr::ClientAddr;
use crate::state::AppState;

/// The routes of this file: each is declared once, by its handler's `#[utoipa::path]`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(signup))
        .routes(routes!(login))
}

/// Creates an account. Usernames are unique whatever their case (`Alice` when `alice`
/// exists is 409) and keep the spelling given here. Rate limited per client address;
/// password hashing is bounded.
#[utoipa::path(post, path = "/auth/signup", tag = "auth", request_body = Credentials,
    responses(
        (status = 201, description = "account created", body = UserView),
        (status = 400, description = "malformed JSON", body = ErrorBody),
        (status = 409, description = "username taken (in any case: `Alice` when `alice` exists)", body = ErrorBody),
        (status = 413, description = "body too large", body = ErrorBody),
        (status = 415, description = "not JSON", body = ErrorBody),
        (status = 422, description = "invalid username or password", body = ErrorBody),
        (status = 429, description = "too many sign-ups from this address; see `Retry-After`", body = ErrorBody,
            headers(("Retry-After" = u64, description = "seconds to wait"))),
        (status = 503, description = "store unavailable, or too many password hashes at once (`overloaded`, with `Retry-After`)", body = ErrorBody,
            headers(("Retry-After" = u64, description = "seconds to wait (`overloaded` only)"))),
    ))]
pub async fn signup(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    ApiJson(creds): ApiJson<Credentials>,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    state
        .limits
        .signup
        .check(&client)
        .map_err(|retry_after| ApiError::RateLimited { retry_after })?;
    validate::username(&creds.username)?;
    validate::password(&creds.password)?;
    if state.store.get_user(&creds.username).await?.is_some() {
        return Err(ApiError::Conflict(format!(
            "username `{}` is already taken",
            creds.username
        )));
    }
    let password_hash = password::hash(&state.limits.hashing, creds.password).await?;
    let user = state
        .store
        .create_user(NewUser {
            username: creds.username,
            password_hash,
        })
        .await?;
    tracing::info!(user = &*user_value(&user.username), "account created");
    Ok((StatusCode::CREATED, Json(user.to_view())))
}

/// Exchanges a username (in any case) and password for a token naming the account's
/// registered spelling. Failed logins are limited per
/// (account, address), per address and per account; a right password from an address
/// that did not fail is never held back by another address's failures.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = Credentials,
    responses(
        (status = 200, description = "signed in", body = TokenView),
        (status = 400, description = "malformed JSON", body = ErrorBody),
        (status = 401, description = "wrong username or password", body = ErrorBody),
        (status = 413, description = "body too large", body = ErrorBody),
        (status = 415, description = "not JSON", body = ErrorBody),
        (status = 422, description = "wrong field types", body = ErrorBody),
        (status = 429, description = "too many failed logins for this account from this address (or from this address); see `Retry-After`", body = ErrorBody,
            headers(("Retry-After" = u64, description = "seconds to wait"))),
        (status = 503, description = "store unavailable, or too many password checks at once (`overloaded`, with `Retry-After`)", body = ErrorBody,
            headers(("Retry-After" = u64, description = "seconds to wait (`overloaded` only)"))),
    ))]
pub async fn login(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    ApiJson(creds): ApiJson<Credentials>,
) -> ApiResult<Json<TokenView>> {
    let guard = &state.limits.login;
    guard
        .check(&creds.username, client)
        .map_err(|retry_after| ApiError::RateLimited { retry_after })?;
    // Any case signs in (`ALICE` is `alice`; the token names the registered spelling); an
    // account being deleted cannot log in (it is as if it did not exist).
    let user = if validate::username(&creds.username).is_ok() {
        state
            .store
            .get_user(&creds.username)
            .await?
            .filter(|u| u.is_active())
    } else {
        None
    };
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    if !password::verify(&state.limits.hashing, creds.password, stored).await? {
        guard.failed(&creds.username, client);
        tracing::info!(user = &*user_value(&creds.username), "failed login");
        return Err(ApiError::unauthorized(
            "invalid_credentials",
            "wrong username or password",
        ));
    }
    guard.succeeded(&creds.username, client);
    // The version read with the hash: a password change since then revokes this token.
    let user =
        user.ok_or_else(|| ApiError::Internal("a verified login without its account".into()))?;
    let (token, expires_at) = state.jwt.issue(&user)?;
    Ok(Json(TokenView { token, expires_at }))
}
