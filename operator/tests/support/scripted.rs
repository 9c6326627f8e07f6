//! A scripted API server for reconcile tests (controller-rs style, on `tower-test`): every
//! request the client sends is recorded as method, path, query and JSON body, and answered
//! by a small rule set — apply/patch/create echo the body back, a GET of a name listed as
//! missing answers 404. Tests then assert the exact list of requests.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use http::{Request, Response, StatusCode};
use kube::client::Body;
use kube::Client;
use serde_json::{json, Value};

/// One request as the API server saw it.
#[derive(Clone, Debug, PartialEq)]
pub struct Recorded {
    /// HTTP method.
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// Raw query string.
    pub query: String,
    /// JSON body, `Null` when empty.
    pub body: Value,
}

impl Recorded {
    /// `"METHOD path"`, handy for exact comparisons.
    pub fn line(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// Handle on the scripted server: its client, what it recorded, what it treats as missing.
#[derive(Clone)]
pub struct Scripted {
    /// Requests, in order.
    pub log: Arc<Mutex<Vec<Recorded>>>,
    /// Paths answered with 404 on GET.
    pub missing: Arc<Mutex<HashSet<String>>>,
}

impl Scripted {
    /// Starts the server task and returns a client talking to it.
    pub fn start() -> (Client, Scripted) {
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let scripted = Scripted {
            log: Arc::default(),
            missing: Arc::default(),
        };
        let s = scripted.clone();
        tokio::spawn(async move {
            while let Some((request, send)) = handle.next_request().await {
                let (parts, body) = request.into_parts();
                let bytes = body.collect_bytes().await.expect("request body");
                let body: Value = if bytes.is_empty() {
                    Value::Null
                } else {
                    serde_json::from_slice(&bytes).expect("json body")
                };
                let rec = Recorded {
                    method: parts.method.to_string(),
                    path: parts.uri.path().to_string(),
                    query: parts.uri.query().unwrap_or_default().to_string(),
                    body,
                };
                let (status, reply) = s.answer(&rec);
                s.log.lock().expect("log").push(rec);
                let response = Response::builder()
                    .status(status)
                    .header("content-type", "application/json")
                    .body(Body::from(serde_json::to_vec(&reply).expect("reply")))
                    .expect("response");
                send.send_response(response);
            }
        });
        (Client::new(service, "default"), scripted)
    }

    fn answer(&self, rec: &Recorded) -> (StatusCode, Value) {
        let missing = self.missing.lock().expect("missing").contains(&rec.path);
        match rec.method.as_str() {
            "GET" if missing => (
                StatusCode::NOT_FOUND,
                json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                       "reason": "NotFound", "code": 404, "message": "not found"}),
            ),
            "GET" => (
                StatusCode::OK,
                json!({"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": rec.path.rsplit('/').next().unwrap_or_default()}}),
            ),
            "POST" => (StatusCode::CREATED, rec.body.clone()),
            "DELETE" => (
                StatusCode::OK,
                json!({"kind": "Status", "apiVersion": "v1", "status": "Success"}),
            ),
            _ if rec.path.ends_with("/status") => {
                // A status patch carries no metadata or spec; answer with a whole object.
                let mut obj = rec.body.clone();
                let name = rec.path.rsplit('/').nth(1).unwrap_or_default();
                obj["metadata"] = json!({"name": name});
                obj["spec"] = json!({});
                (StatusCode::OK, obj)
            }
            _ => (StatusCode::OK, rec.body.clone()),
        }
    }

    /// Marks a path as absent (GET answers 404).
    pub fn set_missing(&self, path: &str) {
        self.missing
            .lock()
            .expect("missing")
            .insert(path.to_string());
    }

    /// Takes the recorded requests, leaving the log empty.
    pub fn take(&self) -> Vec<Recorded> {
        std::mem::take(&mut *self.log.lock().expect("log"))
    }
}
