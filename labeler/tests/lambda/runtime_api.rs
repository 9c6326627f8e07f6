//! The AWS Lambda Runtime API (version 2018-06-01) as the Lambda service serves it to a
//! custom runtime's `bootstrap`, on 127.0.0.1: `GET /runtime/invocation/next` long-polls
//! until the test hands over an event and answers it with the documented headers;
//! `POST /runtime/invocation/{id}/response`, `…/{id}/error` and `/runtime/init/error`
//! answer `202 Accepted` and pass what the runtime sent back to the test. Anything else
//! the runtime does (an unknown request id, a second answer to one invocation, a path
//! outside the API) is answered as the service would (`400`/`404`) and reported, so the
//! test sees it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::sync::{mpsc, Mutex};

/// Function ARN sent in `Lambda-Runtime-Invoked-Function-Arn`.
pub const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:postagram-labeler";
/// X-Ray header sent in `Lambda-Runtime-Trace-Id` (the documented example's shape).
pub const TRACE_ID: &str =
    "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1";
/// Time an invocation may run, as its `Lambda-Runtime-Deadline-Ms` says.
pub const TIMEOUT: Duration = Duration::from_secs(120);

/// What the runtime sent back.
#[derive(Debug)]
#[allow(dead_code)] // some fields are only read through `Debug` in failure messages
pub enum Report {
    /// `POST /runtime/invocation/{id}/response`.
    Response { id: String, body: Value },
    /// `POST /runtime/invocation/{id}/error`.
    Error {
        id: String,
        error_type_header: Option<String>,
        body: Value,
    },
    /// `POST /runtime/init/error`.
    InitError {
        error_type_header: Option<String>,
        body: Value,
    },
    /// A request the Runtime API refuses (unknown id, second answer, unknown path).
    Refused {
        method: String,
        uri: String,
        why: String,
    },
}

/// Whether an issued invocation has been answered.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Invocation {
    Open,
    Answered,
}

struct Shared {
    events: Mutex<mpsc::UnboundedReceiver<(String, Value)>>,
    reports: mpsc::UnboundedSender<Report>,
    issued: Mutex<HashMap<String, Invocation>>,
    polls: AtomicUsize,
}

/// A running Runtime API endpoint.
pub struct RuntimeApi {
    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub addr: SocketAddr,
    events: mpsc::UnboundedSender<(String, Value)>,
    reports: mpsc::UnboundedReceiver<Report>,
    shared: Arc<Shared>,
    next_id: usize,
}

impl RuntimeApi {
    /// Binds 127.0.0.1 on a free port and serves the API in a task of the current runtime.
    pub async fn start() -> RuntimeApi {
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let (reports_tx, reports_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            events: Mutex::new(events_rx),
            reports: reports_tx,
            issued: Mutex::new(HashMap::new()),
            polls: AtomicUsize::new(0),
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .fallback(unknown)
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the Runtime API on 127.0.0.1");
        let addr = listener.local_addr().expect("Runtime API address");
        tokio::spawn(async move {
            axum::serve(listener, app)
                .await
                .expect("serve the Runtime API");
        });
        RuntimeApi {
            addr,
            events: events_tx,
            reports: reports_rx,
            shared,
            next_id: 0,
        }
    }

    /// Queues an invocation with `payload`; returns its request id.
    pub fn invoke(&mut self, payload: Value) -> String {
        self.next_id += 1;
        let id = format!("8476a536-e9f4-11e8-9739-{:012x}", self.next_id);
        self.events
            .send((id.clone(), payload))
            .expect("the Runtime API server is running");
        id
    }

    /// How many times the runtime has asked for the next invocation so far.
    pub fn polls(&self) -> usize {
        self.shared.polls.load(Ordering::SeqCst)
    }

    /// The next report, or `None` after `timeout`.
    pub async fn report(&mut self, timeout: Duration) -> Option<Report> {
        tokio::time::timeout(timeout, self.reports.recv())
            .await
            .ok()
            .flatten()
    }
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(String::from)
}

fn body_json(body: &Bytes) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

/// The service's answer to a request it refuses, reported to the test as well.
fn refuse(shared: &Shared, status: StatusCode, method: &Method, uri: &Uri, why: &str) -> Response {
    let _ = shared.reports.send(Report::Refused {
        method: method.to_string(),
        uri: uri.to_string(),
        why: why.to_string(),
    });
    let error_type = if status == StatusCode::NOT_FOUND {
        "NotFound"
    } else {
        "InvalidRequestID"
    };
    (
        status,
        Json(json!({"errorMessage": why, "errorType": error_type})),
    )
        .into_response()
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    shared.polls.fetch_add(1, Ordering::SeqCst);
    // Long poll: the real service holds the request until there is an event (and freezes
    // the process meanwhile); when the test has no more events it never answers.
    let event = shared.events.lock().await.recv().await;
    let Some((id, payload)) = event else {
        return std::future::pending().await;
    };
    shared
        .issued
        .lock()
        .await
        .insert(id.clone(), Invocation::Open);
    let deadline = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d + TIMEOUT)
        .unwrap_or_default()
        .as_millis();
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: String| {
        headers.insert(
            name,
            HeaderValue::from_str(&value).expect("header value is ASCII"),
        );
    };
    set("Lambda-Runtime-Aws-Request-Id", id);
    set("Lambda-Runtime-Deadline-Ms", deadline.to_string());
    set("Lambda-Runtime-Invoked-Function-Arn", FUNCTION_ARN.into());
    set("Lambda-Runtime-Trace-Id", TRACE_ID.into());
    (StatusCode::OK, headers, Json(payload)).into_response()
}

/// Marks invocation `id` answered; `Err` with the reason when it cannot be.
async fn answer(shared: &Shared, id: &str) -> Result<(), &'static str> {
    let mut issued = shared.issued.lock().await;
    match issued.get_mut(id) {
        None => Err("unknown request id"),
        Some(Invocation::Answered) => Err("invocation already answered"),
        Some(state) => {
            *state = Invocation::Answered;
            Ok(())
        }
    }
}

fn accepted() -> Response {
    (StatusCode::ACCEPTED, Json(json!({"status": "OK"}))).into_response()
}

async fn response(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Response {
    if let Err(why) = answer(&shared, &id).await {
        return refuse(&shared, StatusCode::BAD_REQUEST, &method, &uri, why);
    }
    let _ = shared.reports.send(Report::Response {
        id,
        body: body_json(&body),
    });
    accepted()
}

async fn error(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(why) = answer(&shared, &id).await {
        return refuse(&shared, StatusCode::BAD_REQUEST, &method, &uri, why);
    }
    let _ = shared.reports.send(Report::Error {
        id,
        error_type_header: header(&headers, "Lambda-Runtime-Function-Error-Type"),
        body: body_json(&body),
    });
    accepted()
}

async fn init_error(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let _ = shared.reports.send(Report::InitError {
        error_type_header: header(&headers, "Lambda-Runtime-Function-Error-Type"),
        body: body_json(&body),
    });
    accepted()
}

async fn unknown(State(shared): State<Arc<Shared>>, method: Method, uri: Uri) -> Response {
    refuse(
        &shared,
        StatusCode::NOT_FOUND,
        &method,
        &uri,
        "not a Runtime API path",
    )
}
