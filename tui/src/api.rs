//! REST client of the Postagram API (the contract: the README's endpoint table and the
//! server's `/openapi.json`; how the client fits in: `docs/architecture.md`).
//!
//! Every method is `async` and is only ever called from tokio tasks, never from the
//! render path; results travel back to the UI as [`crate::action::Action`]s.

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use postagram_core::wire::{
    Credentials, ErrorBody, NewPost, PostEdit, PostView, SignedUrlView, TokenView,
};
use reqwest::StatusCode;

/// How long an ordinary JSON request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// Largest picture the client downloads for display.
const MAX_PICTURE_BYTES: usize = 32 * 1024 * 1024;
/// Size of the chunks an upload is streamed in (and its progress reported by).
const UPLOAD_CHUNK: usize = 64 * 1024;

/// Which posts a feed tab lists.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FeedQuery {
    /// Every post, newest first.
    All,
    /// Posts of one user.
    User(String),
    /// Posts whose picture carries this label.
    Label(String),
    /// Full-text search over titles, bodies and labels.
    Text(String),
}

impl FeedQuery {
    /// Query-string pairs of `GET /posts` for this filter.
    pub fn params(&self) -> Vec<(&'static str, String)> {
        match self {
            FeedQuery::All => vec![],
            FeedQuery::User(u) => vec![("user", u.clone())],
            FeedQuery::Label(l) => vec![("label", l.clone())],
            FeedQuery::Text(q) => vec![("q", q.clone())],
        }
    }
}

/// One page of `GET /posts`.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// The posts, newest first.
    pub posts: Vec<PostView>,
    /// The `rel="next"` URL of the `Link` header, when there are more.
    pub next: Option<String>,
}

/// What went wrong talking to the server.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// The server could not be reached (refused, DNS, TLS…).
    #[error("cannot reach the server at {server}: {detail}")]
    Unreachable {
        /// The base URL that was tried.
        server: String,
        /// The transport error.
        detail: String,
    },
    /// The server did not answer in time.
    #[error("the server did not answer in time")]
    Timeout,
    /// The server answered with an error status.
    #[error("{status}: {message}")]
    Status {
        /// HTTP status code.
        status: u16,
        /// Stable error code of the body (`invalid_field`, `forbidden`…), or empty.
        code: String,
        /// Human sentence from the server, or the status' reason.
        message: String,
    },
    /// The answer was not what the contract says.
    #[error("unexpected answer from the server: {0}")]
    Decode(String),
    /// A local file (the attachment) could not be read.
    #[error("{0}")]
    File(String),
}

impl ApiError {
    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether the session is no longer accepted (the UI then goes back to the login screen).
    pub fn is_unauthorized(&self) -> bool {
        self.status() == Some(401)
    }

    /// A sentence for the status bar.
    pub fn user_message(&self) -> String {
        match self {
            ApiError::Unreachable { server, .. } => {
                format!("Cannot reach the server at {server} — is it running?")
            }
            ApiError::Timeout => "The server did not answer in time — try again".into(),
            ApiError::Status {
                status, message, ..
            } => match status {
                401 => "Your session is not valid any more — please log in again".into(),
                403 => format!("Not allowed: {message}"),
                404 => "Not found — it may have been deleted".into(),
                413 => format!("Too large for the server: {message}"),
                415 => format!("Unsupported picture type: {message}"),
                429 => "Too many requests — wait a moment and try again".into(),
                500..=599 => format!("Server error ({status}): {message}"),
                _ => message.clone(),
            },
            ApiError::Decode(d) => format!("Unexpected answer from the server: {d}"),
            ApiError::File(f) => f.clone(),
        }
    }
}

/// A client for one server. Cheap to clone (the connection pool is shared).
#[derive(Debug, Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base: String,
}

impl ApiClient {
    /// A client for `base` (e.g. `http://localhost:8080`, no trailing slash).
    pub fn new(base: &str) -> Result<Self, ApiError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("postagram-tui/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ApiError::Decode(e.to_string()))?;
        Ok(ApiClient {
            http,
            base: base.trim_end_matches('/').to_string(),
        })
    }

    /// The server's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    fn transport(&self, e: reqwest::Error) -> ApiError {
        if e.is_timeout() {
            ApiError::Timeout
        } else if e.is_decode() {
            ApiError::Decode(e.to_string())
        } else {
            let mut detail = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                detail = s.to_string();
                source = s.source();
            }
            ApiError::Unreachable {
                server: self.base.clone(),
                detail,
            }
        }
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<reqwest::Response, ApiError> {
        let resp = req.send().await.map_err(|e| self.transport(e))?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        Err(error_of(resp).await)
    }

    async fn json<T: serde::de::DeserializeOwned>(
        &self,
        resp: reqwest::Response,
    ) -> Result<T, ApiError> {
        let bytes = resp.bytes().await.map_err(|e| self.transport(e))?;
        serde_json::from_slice(&bytes).map_err(|e| ApiError::Decode(e.to_string()))
    }

    /// `POST /auth/signup`.
    pub async fn signup(&self, creds: &Credentials) -> Result<(), ApiError> {
        let req = self
            .http
            .post(self.url("/auth/signup"))
            .timeout(REQUEST_TIMEOUT)
            .json(creds);
        self.send(req).await.map(|_| ())
    }

    /// `POST /auth/login`.
    pub async fn login(&self, creds: &Credentials) -> Result<TokenView, ApiError> {
        let req = self
            .http
            .post(self.url("/auth/login"))
            .timeout(REQUEST_TIMEOUT)
            .json(creds);
        let resp = self.send(req).await?;
        self.json(resp).await
    }

    /// `GET /posts` with a filter, first page.
    pub async fn list(&self, query: &FeedQuery, limit: usize) -> Result<Page, ApiError> {
        let mut params = query.params();
        params.push(("limit", limit.to_string()));
        let req = self
            .http
            .get(self.url("/posts"))
            .query(&params)
            .timeout(REQUEST_TIMEOUT);
        self.page(req).await
    }

    /// A further page, from the `Link: <…>; rel="next"` URL of the previous one.
    pub async fn list_next(&self, next_url: &str) -> Result<Page, ApiError> {
        let req = self.http.get(next_url).timeout(REQUEST_TIMEOUT);
        self.page(req).await
    }

    async fn page(&self, req: reqwest::RequestBuilder) -> Result<Page, ApiError> {
        let resp = self.send(req).await?;
        let next = resp
            .headers()
            .get_all(reqwest::header::LINK)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(next_link);
        let posts = self.json(resp).await?;
        Ok(Page { posts, next })
    }

    /// `GET /posts/{id}`.
    pub async fn get_post(&self, id: &str) -> Result<PostView, ApiError> {
        let req = self
            .http
            .get(self.url(&format!("/posts/{}", urlencoding::encode(id))))
            .timeout(REQUEST_TIMEOUT);
        let resp = self.send(req).await?;
        self.json(resp).await
    }

    /// `POST /posts`.
    pub async fn create_post(&self, token: &str, post: &NewPost) -> Result<PostView, ApiError> {
        let req = self
            .http
            .post(self.url("/posts"))
            .bearer_auth(token)
            .timeout(REQUEST_TIMEOUT)
            .json(post);
        let resp = self.send(req).await?;
        self.json(resp).await
    }

    /// `PATCH /posts/{id}`: changes the title and/or body of one of your posts.
    pub async fn edit_post(
        &self,
        token: &str,
        id: &str,
        edit: &PostEdit,
    ) -> Result<PostView, ApiError> {
        let req = self
            .http
            .patch(self.url(&format!("/posts/{}", urlencoding::encode(id))))
            .bearer_auth(token)
            .timeout(REQUEST_TIMEOUT)
            .json(edit);
        let resp = self.send(req).await?;
        self.json(resp).await
    }

    /// `DELETE /posts/{id}`.
    pub async fn delete_post(&self, token: &str, id: &str) -> Result<(), ApiError> {
        let req = self
            .http
            .delete(self.url(&format!("/posts/{}", urlencoding::encode(id))))
            .bearer_auth(token)
            .timeout(REQUEST_TIMEOUT);
        self.send(req).await.map(|_| ())
    }

    /// `GET /signedUrlPut`.
    pub async fn signed_url(
        &self,
        token: &str,
        post_id: &str,
        filename: &str,
        filetype: &str,
    ) -> Result<SignedUrlView, ApiError> {
        let req = self
            .http
            .get(self.url("/signedUrlPut"))
            .query(&[
                ("filename", filename),
                ("filetype", filetype),
                ("postId", post_id),
            ])
            .bearer_auth(token)
            .timeout(REQUEST_TIMEOUT);
        let resp = self.send(req).await?;
        self.json(resp).await
    }

    /// `PUT`s the file at `path` to a signed upload URL, streaming it in chunks and calling
    /// `progress(sent, total)` as the bytes go out.
    pub async fn upload(
        &self,
        upload_url: &str,
        content_type: &str,
        path: &Path,
        progress: impl Fn(u64, u64) + Send + Sync + 'static,
    ) -> Result<(), ApiError> {
        let file_err = |e: std::io::Error| ApiError::File(format!("{}: {e}", path.display()));
        let file = tokio::fs::File::open(path).await.map_err(file_err)?;
        let total = file.metadata().await.map_err(file_err)?.len();
        progress(0, total);
        let stream = futures::stream::unfold(
            (file, 0u64, progress),
            move |(mut file, sent, progress)| async move {
                use tokio::io::AsyncReadExt;
                let mut buf = vec![0u8; UPLOAD_CHUNK];
                match file.read(&mut buf).await {
                    Ok(0) => None,
                    Ok(n) => {
                        buf.truncate(n);
                        let sent = sent + n as u64;
                        progress(sent, total);
                        Some((
                            Ok::<Bytes, std::io::Error>(Bytes::from(buf)),
                            (file, sent, progress),
                        ))
                    }
                    Err(e) => Some((Err(e), (file, sent, progress))),
                }
            },
        )
        .boxed();
        let req = self
            .http
            .put(upload_url)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .header(reqwest::header::CONTENT_LENGTH, total)
            .body(reqwest::Body::wrap_stream(stream));
        self.send(req).await.map(|_| ())
    }

    /// Downloads a picture (a presigned GET URL), at most 32 MiB.
    pub async fn fetch_bytes(&self, url: &str) -> Result<Bytes, ApiError> {
        let req = self.http.get(url).timeout(Duration::from_secs(60));
        let resp = self.send(req).await?;
        if resp
            .content_length()
            .is_some_and(|n| n > MAX_PICTURE_BYTES as u64)
        {
            return Err(ApiError::Decode("picture larger than 32 MiB".into()));
        }
        let mut out = Vec::new();
        let mut body = resp.bytes_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| self.transport(e))?;
            if out.len() + chunk.len() > MAX_PICTURE_BYTES {
                return Err(ApiError::Decode("picture larger than 32 MiB".into()));
            }
            out.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(out))
    }
}

async fn error_of(resp: reqwest::Response) -> ApiError {
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    match serde_json::from_str::<ErrorBody>(&text) {
        Ok(body) => ApiError::Status {
            status: status.as_u16(),
            code: body.error,
            message: body.message,
        },
        Err(_) => ApiError::Status {
            status: status.as_u16(),
            code: String::new(),
            message: reason(status),
        },
    }
}

fn reason(status: StatusCode) -> String {
    status
        .canonical_reason()
        .map(str::to_string)
        .unwrap_or_else(|| format!("HTTP {}", status.as_u16()))
}

/// The `rel="next"` target of one `Link` header value, if it has one.
pub fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let mut pieces = part.split(';');
        let target = pieces.next()?.trim();
        let is_next = pieces.any(|p| {
            let p = p.trim();
            p == "rel=\"next\"" || p == "rel=next"
        });
        let url = target.strip_prefix('<')?.strip_suffix('>')?;
        is_next.then(|| url.to_string())
    })
}

/// The `Content-Type` to upload a file with, from its extension; `None` if not a picture type
/// the server accepts.
pub fn content_type_for(path: &Path) -> Option<&'static str> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    Some(match ext.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "webp" => "image/webp",
        "gif" => "image/gif",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_next_links() {
        assert_eq!(
            next_link("<http://h/posts?cursor=a&limit=5>; rel=\"next\"").as_deref(),
            Some("http://h/posts?cursor=a&limit=5")
        );
        assert_eq!(
            next_link("<http://h/a>; rel=\"prev\", <http://h/b>; rel=\"next\"").as_deref(),
            Some("http://h/b")
        );
        assert_eq!(next_link("<http://h/a>; rel=\"prev\""), None);
        assert_eq!(next_link("garbage"), None);
    }

    #[test]
    fn content_types() {
        assert_eq!(content_type_for(Path::new("a/B.JPG")), Some("image/jpeg"));
        assert_eq!(content_type_for(Path::new("x.webp")), Some("image/webp"));
        assert_eq!(content_type_for(Path::new("x.txt")), None);
        assert_eq!(content_type_for(Path::new("noext")), None);
    }

    #[test]
    fn readable_messages() {
        let e = ApiError::Status {
            status: 429,
            code: "rate_limited".into(),
            message: "slow".into(),
        };
        assert!(e.user_message().contains("Too many requests"));
        let e = ApiError::Status {
            status: 401,
            code: "invalid_token".into(),
            message: "bad".into(),
        };
        assert!(e.is_unauthorized());
        assert!(e.user_message().contains("log in"));
    }
}
