//! The one place where failures become HTTP answers: `{"error": code, "message": …}`.
//!
//! 5xx answers say what failed, never how: store and file-system details (SQLite
//! messages, paths, SDK errors) go to the log, in the request's span (so with its
//! `request_id`), and the client gets a fixed sentence.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use postagram_core::accounts::DeletionError;
use postagram_core::blob::BlobError;
use postagram_core::store::StoreError;
use postagram_core::validate::InvalidField;
use postagram_core::wire::ErrorBody;

/// Every error a handler can return.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// 400: the request cannot be parsed.
    #[error("{message}")]
    BadRequest {
        /// Stable code.
        code: &'static str,
        /// Sentence.
        message: String,
    },
    /// 401: no, or no valid, credentials.
    #[error("{message}")]
    Unauthorized {
        /// Stable code.
        code: &'static str,
        /// Sentence.
        message: String,
    },
    /// 403: authenticated, but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// 403 for a wrong current password where one confirms a change (password change,
    /// account deletion): the caller's token is fine, the proof is not.
    #[error("{0}")]
    WrongPassword(String),
    /// 403 for a signed URL whose signature is wrong or expired.
    #[error("{0}")]
    BadSignature(String),
    /// 404.
    #[error("{0}")]
    NotFound(String),
    /// 409.
    #[error("{0}")]
    Conflict(String),
    /// 413.
    #[error("{0}")]
    TooLarge(String),
    /// 415.
    #[error("{message}")]
    UnsupportedMediaType {
        /// Stable code.
        code: &'static str,
        /// Sentence.
        message: String,
    },
    /// 422: well-formed, but a field is invalid.
    #[error("{0}")]
    InvalidField(String),
    /// 429 with `Retry-After`.
    #[error("too many attempts, retry in {retry_after} s")]
    RateLimited {
        /// Seconds until the next attempt is allowed.
        retry_after: u64,
    },
    /// 503 with `Retry-After`: too much work of one kind at once (password hashing).
    #[error("the server is busy, retry in {retry_after} s")]
    Overloaded {
        /// Seconds after which a retry is likely to get through.
        retry_after: u64,
    },
    /// 503: a backend is unreachable or failed. The client is told `what`; `detail`
    /// is logged only.
    #[error("{what} is unavailable: {detail}")]
    Unavailable {
        /// What failed, in words fit for a client (`"the post store"`).
        what: &'static str,
        /// Why, for the log only (may name files, SQL, hosts).
        detail: String,
    },
    /// 500: a bug. The message is logged, not sent.
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// Shorthand for a 400 with a code.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code,
            message: message.into(),
        }
    }

    /// Shorthand for a 401 with a code.
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::Unauthorized {
            code,
            message: message.into(),
        }
    }

    /// Shorthand for a 503 whose `detail` goes to the log only.
    pub fn unavailable(what: &'static str, detail: impl Into<String>) -> Self {
        ApiError::Unavailable {
            what,
            detail: detail.into(),
        }
    }

    /// Status and stable code of this error.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code),
            ApiError::Unauthorized { code, .. } => (StatusCode::UNAUTHORIZED, code),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::WrongPassword(_) => (StatusCode::FORBIDDEN, "wrong_password"),
            ApiError::BadSignature(_) => (StatusCode::FORBIDDEN, "bad_signature"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::UnsupportedMediaType { code, .. } => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, code)
            }
            ApiError::InvalidField(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
            ApiError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ApiError::Overloaded { .. } => (StatusCode::SERVICE_UNAVAILABLE, "overloaded"),
            ApiError::Unavailable { .. } => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

/// Builds an error response outside a handler (middleware, fallbacks).
pub fn error_response(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = ErrorBody {
        error: code.to_string(),
        message: message.into(),
    };
    (status, Json(body)).into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = match &self {
            // Logged inside the request's span: the line carries the request id.
            ApiError::Internal(detail) => {
                tracing::error!(error = detail.as_str(), "internal error");
                "internal server error".to_string()
            }
            ApiError::Unavailable { what, detail } => {
                tracing::warn!(what = *what, error = detail.as_str(), "backend unavailable");
                format!("{what} is unavailable, try again later")
            }
            other => other.to_string(),
        };
        let mut resp = error_response(status, code, message);
        if let ApiError::RateLimited { retry_after } | ApiError::Overloaded { retry_after } = self {
            if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        resp
    }
}

/// How 503s name the post store (SQLite or DynamoDB) to clients.
pub const POST_STORE: &str = "the post store";
/// How 503s name the picture store (the folder or S3) to clients.
pub const PICTURE_STORE: &str = "the picture store";

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::UserExists(u) => {
                ApiError::Conflict(format!("username `{u}` is already taken"))
            }
            StoreError::NotFound(what) => ApiError::NotFound(format!("{what} not found")),
            StoreError::BadCursor => {
                ApiError::bad_request("invalid_cursor", "the cursor is not one this server issued")
            }
            StoreError::Unsupported(m) => ApiError::bad_request("unsupported_query", m),
            StoreError::Unavailable(m) => ApiError::unavailable(POST_STORE, m),
            StoreError::Corrupt(m) => ApiError::Internal(format!("corrupt record: {m}")),
        }
    }
}

impl From<BlobError> for ApiError {
    fn from(e: BlobError) -> Self {
        match e {
            BlobError::BadKey => ApiError::NotFound("no such object".into()),
            BlobError::Unavailable(m) => ApiError::unavailable(PICTURE_STORE, m),
        }
    }
}

impl From<DeletionError> for ApiError {
    fn from(e: DeletionError) -> Self {
        match e {
            DeletionError::Store(e) => e.into(),
            DeletionError::Blob(e) => e.into(),
        }
    }
}

impl From<InvalidField> for ApiError {
    fn from(e: InvalidField) -> Self {
        ApiError::InvalidField(e.to_string())
    }
}

/// Handler result.
pub type ApiResult<T> = Result<T, ApiError>;
