//! `/users/me`: the signed-in account — change its password, delete it (`jwt` mode).

use std::net::IpAddr;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use postagram_core::accounts::finish_deletion;
use postagram_core::settings::log::user_value;
use postagram_core::store::StoreError;
use postagram_core::validate;
use postagram_core::wire::{ErrorBody, PasswordChange, PasswordConfirmation};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{password, PasswordUser};
use crate::error::{ApiError, ApiResult};
use crate::json::ApiJson;
use crate::limits::client_addr::ClientAddr;
use crate::state::AppState;

/// Attempts of a deletion the request could not finish, in the background (then the
/// sweep at the next start).
const BACKGROUND_ATTEMPTS: u32 = 10;
/// Longest pause between two background attempts.
const BACKGROUND_MAX_DELAY: Duration = Duration::from_secs(300);

/// The routes of this file: each is declared once, by its handler's `#[utoipa::path]`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(change_password))
        .routes(routes!(delete_account))
}

/// Checks the caller's current password like a login does: bounded hashing, and a wrong
/// one counts against the same failed-login budgets (so these routes are no way around
/// them). 403 `wrong_password` when it is wrong.
async fn confirm_password(
    state: &AppState,
    user: &str,
    client: IpAddr,
    given: String,
) -> ApiResult<()> {
    let guard = &state.limits.login;
    guard
        .check(user, client)
        .map_err(|retry_after| ApiError::RateLimited { retry_after })?;
    let stored = state
        .store
        .get_user(user)
        .await?
        .filter(|u| u.is_active())
        .map(|u| u.password_hash);
    if !password::verify(&state.limits.hashing, given, stored).await? {
        guard.failed(user, client);
        tracing::info!(
            user = &*user_value(user),
            "wrong password confirming an account change"
        );
        return Err(ApiError::WrongPassword(
            "the current password is wrong".into(),
        ));
    }
    guard.succeeded(user, client);
    Ok(())
}

/// Changes your password. Every token issued before, this one included, stops working
/// at once (on every replica): log in again with the new password.
#[utoipa::path(post, path = "/users/me/password", tag = "users", request_body = PasswordChange,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "changed; every earlier token is revoked, log in again"),
        (status = 400, description = "malformed JSON, or header auth mode (`no_passwords`: accounts have no password)", body = ErrorBody),
        (status = 401, description = "not signed in, or a revoked token (`token_revoked`)", body = ErrorBody),
        (status = 403, description = "the current password is wrong (`wrong_password`)", body = ErrorBody),
        (status = 413, description = "body too large", body = ErrorBody),
        (status = 415, description = "not JSON", body = ErrorBody),
        (status = 422, description = "the new password is invalid (as on sign-up), or wrong field types", body = ErrorBody),
        (status = 429, description = "too many wrong passwords (the login budgets); see `Retry-After`", body = ErrorBody,
            headers(("Retry-After" = u64, description = "seconds to wait"))),
        (status = 503, description = "store unavailable, or too many password hashes at once (`overloaded`, with `Retry-After`)", body = ErrorBody,
            headers(("Retry-After" = u64, description = "seconds to wait (`overloaded` only)"))),
    ))]
pub async fn change_password(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    PasswordUser(user): PasswordUser,
    ApiJson(change): ApiJson<PasswordChange>,
) -> ApiResult<StatusCode> {
    validate::password(&change.new_password).map_err(|e| validate::InvalidField {
        field: "new_password",
        ..e
    })?;
    confirm_password(&state, &user, client, change.old_password).await?;
    let hash = password::hash(&state.limits.hashing, change.new_password).await?;
    match state.store.set_password(&user, &hash).await {
        Ok(()) => {}
        // Deleted (or being deleted) since the token was checked.
        Err(StoreError::NotFound(_)) => {
            return Err(ApiError::unauthorized(
                "token_revoked",
                "the account is being deleted",
            ))
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(
        user = &*user_value(&user),
        "password changed; earlier tokens revoked"
    );
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes your account with everything in it: posts, pictures (every size), labels,
/// label jobs and index entries, then the account itself, after which the name can be
/// taken again. From the first moment the account cannot log in and its tokens are
/// refused. A deletion a crash or an outage interrupts is finished later (in the
/// background, and by the sweep at every start).
#[utoipa::path(delete, path = "/users/me", tag = "users", request_body = PasswordConfirmation,
    security(("bearer" = [])),
    responses(
        (status = 202, description = "the account is unusable already; a store failed half-way, and the rest of the deletion is finished in the background"),
        (status = 204, description = "deleted, everything; the name is free again"),
        (status = 400, description = "malformed JSON, or header auth mode (`no_passwords`: accounts have no password)", body = ErrorBody),
        (status = 401, description = "not signed in, or a revoked token (`token_revoked`: e.g. the account is deleted already)", body = ErrorBody),
        (status = 403, description = "the password is wrong (`wrong_password`)", body = ErrorBody),
        (status = 413, description = "body too large", body = ErrorBody),
        (status = 415, description = "not JSON", body = ErrorBody),
        (status = 422, description = "wrong field types", body = ErrorBody),
        (status = 429, description = "too many wrong passwords (the login budgets); see `Retry-After`", body = ErrorBody,
            headers(("Retry-After" = u64, description = "seconds to wait"))),
        (status = 503, description = "store unavailable (nothing was deleted), or too many password checks at once (`overloaded`, with `Retry-After`)", body = ErrorBody,
            headers(("Retry-After" = u64, description = "seconds to wait (`overloaded` only)"))),
    ))]
pub async fn delete_account(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    PasswordUser(user): PasswordUser,
    ApiJson(confirm): ApiJson<PasswordConfirmation>,
) -> ApiResult<StatusCode> {
    confirm_password(&state, &user, client, confirm.password).await?;
    state.store.mark_account_deleting(&user).await?;
    let logged = user_value(&user).into_owned();
    tracing::info!(user = logged.as_str(), "account deletion started");
    match finish_deletion(&*state.store, &*state.blobs, &user).await {
        Ok(d) => {
            tracing::info!(
                user = logged.as_str(),
                posts = d.posts,
                pictures = d.pictures,
                "account deleted"
            );
            Ok(StatusCode::NO_CONTENT)
        }
        Err(e) => {
            tracing::warn!(user = logged.as_str(), error = %e, "account deletion interrupted; finishing it in the background");
            finish_later(state.clone(), user);
            Ok(StatusCode::ACCEPTED)
        }
    }
}

/// Retries an interrupted deletion with exponential backoff; after the last attempt the
/// account stays marked and the sweep at the next start finishes it.
fn finish_later(state: AppState, user: String) {
    tokio::spawn(async move {
        let logged = user_value(&user).into_owned();
        let mut delay = Duration::from_secs(1);
        for _ in 0..BACKGROUND_ATTEMPTS {
            tokio::time::sleep(delay).await;
            match finish_deletion(&*state.store, &*state.blobs, &user).await {
                Ok(d) => {
                    tracing::info!(
                        user = logged.as_str(),
                        posts = d.posts,
                        pictures = d.pictures,
                        "account deleted (in the background)"
                    );
                    return;
                }
                Err(e) => {
                    tracing::warn!(user = logged.as_str(), error = %e, "account deletion still interrupted")
                }
            }
            delay = (delay * 2).min(BACKGROUND_MAX_DELAY);
        }
        tracing::warn!(
            user = logged.as_str(),
            "account deletion left for the sweep at the next start"
        );
    });
}
