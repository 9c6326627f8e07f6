//! A small Kubernetes API server on 127.0.0.1 for whole-controller tests and the benchmark.
//!
//! What it models, just enough for the controller and kube-rs's watcher:
//! - any resource under `/api/v1/...` and `/apis/{group}/{version}/...`, namespaced paths
//!   plus cluster-wide collections (`/apis/apps/v1/deployments`) for list and watch;
//! - GET (object, list with `labelSelector` equality terms), POST (create, 409 when it
//!   exists), PUT (replace, 409 on a stale `resourceVersion`), DELETE (with owner-reference
//!   cascade, like background garbage collection), PATCH as server-side apply
//!   (`application/apply-patch+yaml`: create or replace the applied top-level fields;
//!   labels, annotations and owner references from the body), JSON merge patch otherwise,
//!   and the `status` subresource;
//! - `metadata.uid`, `creationTimestamp`, a global `resourceVersion` bumped only by real
//!   changes (so a no-op apply is a no-op), `generation` bumped when `spec` changes;
//! - watches: `?watch=true&resourceVersion=N` streams ADDED / MODIFIED / DELETED events
//!   after N as JSON lines; Deployments get `spec.replicas: 1` when created without it.
//!
//! What it does not model (honestly): field ownership and conflicts between managers (an
//! apply replaces whole top-level fields, which is right for a single manager only),
//! schema validation and defaulting (apart from Deployment replicas), admission, RBAC,
//! field selectors, set-based label selectors, bookmarks, watch expiry (410 Gone),
//! pagination, the scale subresource, and anything a kubelet or controller-manager does
//! (pods never start: tests mark Deployments available with [`ApiServer::mark_available`]).

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};
use tokio::sync::broadcast;

/// `(group/version/plural, namespace, name)`.
type Key = (String, String, String);

#[derive(Clone, Debug)]
struct WatchEvent {
    rv: u64,
    resource: String,
    namespace: String,
    kind: &'static str,
    object: Value,
}

#[derive(Default)]
struct Inner {
    objects: BTreeMap<Key, Value>,
    history: Vec<WatchEvent>,
    rv: u64,
    uid: u64,
}

/// Counters of the requests served, by kind of request.
#[derive(Default, Debug)]
pub struct Counters {
    /// GET of one object or a list (not watches).
    pub reads: AtomicU64,
    /// Watch requests.
    pub watches: AtomicU64,
    /// POST, PUT, PATCH, DELETE.
    pub writes: AtomicU64,
    /// Writes that changed nothing (no-op applies).
    pub noop_writes: AtomicU64,
}

/// The server's state; clone the `Arc` to inspect or mutate objects from a test.
pub struct ApiServer {
    inner: Mutex<Inner>,
    events: broadcast::Sender<WatchEvent>,
    /// Request counters.
    pub counters: Counters,
    /// Where it listens.
    pub addr: SocketAddr,
}

struct Target {
    resource: String,
    namespace: Option<String>,
    name: Option<String>,
    subresource: Option<String>,
}

fn parse(path: &str) -> Option<Target> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (gv, rest) = match *segs.first()? {
        "api" if segs.len() >= 2 => (segs[1].to_string(), &segs[2..]),
        "apis" if segs.len() >= 3 => (format!("{}/{}", segs[1], segs[2]), &segs[3..]),
        _ => return None,
    };
    let t = |ns: Option<&str>, plural: &str, name: Option<&str>, sub: Option<&str>| Target {
        resource: format!("{gv}/{plural}"),
        namespace: ns.map(str::to_string),
        name: name.map(str::to_string),
        subresource: sub.map(str::to_string),
    };
    match rest {
        [plural] => Some(t(None, plural, None, None)),
        ["namespaces", ns, plural] => Some(t(Some(ns), plural, None, None)),
        ["namespaces", ns, plural, name] => Some(t(Some(ns), plural, Some(name), None)),
        ["namespaces", ns, plural, name, sub] => Some(t(Some(ns), plural, Some(name), Some(sub))),
        _ => None,
    }
}

fn query(uri: &Uri) -> BTreeMap<String, String> {
    uri.query()
        .unwrap_or_default()
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| {
            (
                k.to_string(),
                v.replace("%3D", "=")
                    .replace("%2C", ",")
                    .replace("%2F", "/"),
            )
        })
        .collect()
}

fn status(code: StatusCode, reason: &str, message: String) -> Response {
    let body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "reason": reason, "message": message, "code": code.as_u16()});
    (code, axum::Json(body)).into_response()
}

fn ok(code: StatusCode, v: Value) -> Response {
    (code, axum::Json(v)).into_response()
}

fn matches_selector(obj: &Value, selector: Option<&String>) -> bool {
    let Some(sel) = selector.filter(|s| !s.is_empty()) else {
        return true;
    };
    sel.split(',').all(|term| match term.split_once('=') {
        Some((k, v)) => obj["metadata"]["labels"][k].as_str() == Some(v.trim_start_matches('=')),
        None => true,
    })
}

/// RFC 7386 JSON merge patch.
fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = json!({});
            }
            for (k, v) in p {
                if v.is_null() {
                    if let Some(t) = target.as_object_mut() {
                        t.remove(k);
                    }
                } else {
                    merge_patch(&mut target[k], v);
                }
            }
        }
        other => *target = other.clone(),
    }
}

fn list_kind(resource: &str, objects: &[Value]) -> String {
    objects
        .first()
        .and_then(|o| o["kind"].as_str())
        .map(|k| format!("{k}List"))
        .unwrap_or_else(|| format!("{}List", resource.rsplit('/').next().unwrap_or("Object")))
}

impl ApiServer {
    /// Starts the server on an ephemeral loopback port.
    pub async fn start() -> Arc<ApiServer> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("addr");
        let (events, _) = broadcast::channel(65536);
        let server = Arc::new(ApiServer {
            inner: Mutex::new(Inner::default()),
            events,
            counters: Counters::default(),
            addr,
        });
        let app = Router::new().fallback(handle).with_state(server.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        server
    }

    /// A kube client talking to this server.
    pub fn client(&self) -> kube::Client {
        let url = format!("http://{}", self.addr).parse().expect("url");
        let config = kube::Config::new(url);
        kube::Client::try_from(config).expect("client")
    }

    /// One object, if it exists.
    pub fn get(&self, resource: &str, ns: &str, name: &str) -> Option<Value> {
        let inner = self.inner.lock().expect("lock");
        inner
            .objects
            .get(&(resource.to_string(), ns.to_string(), name.to_string()))
            .cloned()
    }

    /// Number of stored objects of a resource.
    pub fn count(&self, resource: &str) -> usize {
        let inner = self.inner.lock().expect("lock");
        inner.objects.keys().filter(|k| k.0 == resource).count()
    }

    /// Plays kubelet + deployment controller: marks a Deployment fully rolled out.
    pub fn mark_available(&self, ns: &str, name: &str) -> bool {
        let key = (
            "apps/v1/deployments".to_string(),
            ns.to_string(),
            name.to_string(),
        );
        let mut inner = self.inner.lock().expect("lock");
        let Some(mut obj) = inner.objects.get(&key).cloned() else {
            return false;
        };
        let replicas = obj["spec"]["replicas"].as_i64().unwrap_or(1);
        obj["status"] = json!({
            "observedGeneration": obj["metadata"]["generation"],
            "replicas": replicas, "updatedReplicas": replicas,
            "readyReplicas": replicas, "availableReplicas": replicas,
        });
        self.store(&mut inner, key, obj, "MODIFIED");
        true
    }

    fn next_rv(inner: &mut Inner) -> u64 {
        inner.rv += 1;
        inner.rv
    }

    fn store(&self, inner: &mut Inner, key: Key, mut obj: Value, kind: &'static str) -> Value {
        let rv = Self::next_rv(inner);
        obj["metadata"]["resourceVersion"] = json!(rv.to_string());
        inner.objects.insert(key.clone(), obj.clone());
        let ev = WatchEvent {
            rv,
            resource: key.0,
            namespace: key.1,
            kind,
            object: obj.clone(),
        };
        inner.history.push(ev.clone());
        let _ = self.events.send(ev);
        obj
    }

    fn remove(&self, inner: &mut Inner, key: &Key) -> Option<Value> {
        let mut obj = inner.objects.remove(key)?;
        let rv = Self::next_rv(inner);
        obj["metadata"]["resourceVersion"] = json!(rv.to_string());
        let ev = WatchEvent {
            rv,
            resource: key.0.clone(),
            namespace: key.1.clone(),
            kind: "DELETED",
            object: obj.clone(),
        };
        inner.history.push(ev.clone());
        let _ = self.events.send(ev);
        // Background cascade: delete what this object owned.
        if let Some(uid) = obj["metadata"]["uid"].as_str() {
            let owned: Vec<Key> = inner
                .objects
                .iter()
                .filter(|(_, o)| {
                    o["metadata"]["ownerReferences"]
                        .as_array()
                        .is_some_and(|refs| refs.iter().any(|r| r["uid"] == uid))
                })
                .map(|(k, _)| k.clone())
                .collect();
            for k in owned {
                self.remove(inner, &k);
            }
        }
        Some(obj)
    }

    fn create(&self, inner: &mut Inner, key: Key, mut obj: Value) -> Value {
        inner.uid += 1;
        let uid = format!("00000000-0000-0000-0000-{:012}", inner.uid);
        obj["metadata"]["name"] = json!(key.2);
        if !key.1.is_empty() {
            obj["metadata"]["namespace"] = json!(key.1);
        }
        obj["metadata"]["uid"] = json!(uid);
        obj["metadata"]["generation"] = json!(1);
        obj["metadata"]["creationTimestamp"] = json!("2026-01-01T00:00:00Z");
        if key.0 == "apps/v1/deployments" && obj["spec"]["replicas"].is_null() {
            obj["spec"]["replicas"] = json!(1);
        }
        if let Some(m) = obj.as_object_mut() {
            m.remove("status");
        }
        self.store(inner, key, obj, "ADDED")
    }

    /// Stores `new` as an update of `old` when it differs; bumps generation on spec changes.
    fn update(&self, inner: &mut Inner, key: Key, old: &Value, mut new: Value) -> (Value, bool) {
        for f in [
            "uid",
            "creationTimestamp",
            "generation",
            "resourceVersion",
            "name",
            "namespace",
        ] {
            new["metadata"][f] = old["metadata"][f].clone();
        }
        if new == *old {
            return (old.clone(), false);
        }
        if new["spec"] != old["spec"] {
            let g = old["metadata"]["generation"].as_i64().unwrap_or(1);
            new["metadata"]["generation"] = json!(g + 1);
        }
        (self.store(inner, key, new, "MODIFIED"), true)
    }

    fn apply(
        &self,
        inner: &mut Inner,
        key: Key,
        sub: Option<&str>,
        body: Value,
    ) -> (StatusCode, Value) {
        let Some(old) = inner.objects.get(&key).cloned() else {
            if sub.is_some() {
                return (StatusCode::NOT_FOUND, Value::Null);
            }
            return (StatusCode::CREATED, self.create(inner, key, body));
        };
        let mut new = old.clone();
        match sub {
            Some(s) => new[s] = body[s].clone(),
            None => {
                if let Some(fields) = body.as_object() {
                    for (k, v) in fields {
                        if k == "metadata" || k == "status" {
                            continue;
                        }
                        new[k] = v.clone();
                    }
                }
                for m in ["labels", "annotations", "ownerReferences"] {
                    if !body["metadata"][m].is_null() {
                        new["metadata"][m] = body["metadata"][m].clone();
                    }
                }
                if key.0 == "apps/v1/deployments" && new["spec"]["replicas"].is_null() {
                    new["spec"]["replicas"] = old["spec"]["replicas"].clone();
                }
            }
        }
        let (obj, changed) = self.update(inner, key, &old, new);
        if !changed {
            self.counters.noop_writes.fetch_add(1, Ordering::Relaxed);
        }
        (StatusCode::OK, obj)
    }
}

async fn handle(
    State(s): State<Arc<ApiServer>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(t) = parse(uri.path()) else {
        return status(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("no route {}", uri.path()),
        );
    };
    let q = query(&uri);
    let body: Value = if body.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => return status(StatusCode::BAD_REQUEST, "BadRequest", e.to_string()),
        }
    };
    let ns = t.namespace.clone().unwrap_or_default();
    if method == Method::GET && t.name.is_none() {
        if q.get("watch").is_some_and(|w| w == "true" || w == "1") {
            s.counters.watches.fetch_add(1, Ordering::Relaxed);
            return watch(s, t, q);
        }
        s.counters.reads.fetch_add(1, Ordering::Relaxed);
        let inner = s.inner.lock().expect("lock");
        let items: Vec<Value> = inner
            .objects
            .iter()
            .filter(|(k, _)| k.0 == t.resource && (t.namespace.is_none() || k.1 == ns))
            .filter(|(_, o)| matches_selector(o, q.get("labelSelector")))
            .map(|(_, o)| o.clone())
            .collect();
        let kind = list_kind(&t.resource, &items);
        return ok(
            StatusCode::OK,
            json!({"apiVersion": "v1", "kind": kind,
                   "metadata": {"resourceVersion": inner.rv.to_string()}, "items": items}),
        );
    }
    if method != Method::GET {
        s.counters.writes.fetch_add(1, Ordering::Relaxed);
    } else {
        s.counters.reads.fetch_add(1, Ordering::Relaxed);
    }
    let mut inner = s.inner.lock().expect("lock");
    if method == Method::POST && t.name.is_none() {
        let Some(name) = body["metadata"]["name"]
            .as_str()
            .map(str::to_string)
            .or_else(|| {
                body["metadata"]["generateName"]
                    .as_str()
                    .map(|p| format!("{p}{}", inner.rv + 1))
            })
        else {
            return status(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Invalid",
                "name required".into(),
            );
        };
        let key = (t.resource.clone(), ns, name.clone());
        if inner.objects.contains_key(&key) {
            return status(
                StatusCode::CONFLICT,
                "AlreadyExists",
                format!("{name} already exists"),
            );
        }
        return ok(StatusCode::CREATED, s.create(&mut inner, key, body));
    }
    let Some(name) = t.name.clone() else {
        return status(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            method.to_string(),
        );
    };
    let key = (t.resource.clone(), ns, name.clone());
    let not_found = || {
        status(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("{} {name} not found", t.resource),
        )
    };
    match method {
        Method::GET => match inner.objects.get(&key) {
            Some(o) => ok(StatusCode::OK, o.clone()),
            None => not_found(),
        },
        Method::DELETE => match s.remove(&mut inner, &key) {
            Some(o) => ok(StatusCode::OK, o),
            None => not_found(),
        },
        Method::PUT => {
            let Some(old) = inner.objects.get(&key).cloned() else {
                return not_found();
            };
            let sent_rv = body["metadata"]["resourceVersion"]
                .as_str()
                .unwrap_or_default();
            if !sent_rv.is_empty() && Some(sent_rv) != old["metadata"]["resourceVersion"].as_str() {
                return status(
                    StatusCode::CONFLICT,
                    "Conflict",
                    "the object has been modified".into(),
                );
            }
            let mut new = body;
            new["status"] = old["status"].clone();
            let (obj, _) = s.update(&mut inner, key, &old, new);
            ok(StatusCode::OK, obj)
        }
        Method::PATCH => {
            let content_type = headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if content_type.starts_with("application/apply-patch") {
                let (code, obj) = s.apply(&mut inner, key, t.subresource.as_deref(), body);
                if code == StatusCode::NOT_FOUND {
                    return not_found();
                }
                ok(code, obj)
            } else {
                let Some(old) = inner.objects.get(&key).cloned() else {
                    return not_found();
                };
                let mut new = old.clone();
                merge_patch(&mut new, &body);
                let (obj, changed) = s.update(&mut inner, key, &old, new);
                if !changed {
                    s.counters.noop_writes.fetch_add(1, Ordering::Relaxed);
                }
                ok(StatusCode::OK, obj)
            }
        }
        _ => status(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            method.to_string(),
        ),
    }
}

fn watch(s: Arc<ApiServer>, t: Target, q: BTreeMap<String, String>) -> Response {
    let since: u64 = q
        .get("resourceVersion")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let selector = q.get("labelSelector").cloned();
    let wanted = move |ev: &WatchEvent| {
        ev.resource == t.resource
            && t.namespace.as_ref().is_none_or(|ns| *ns == ev.namespace)
            && matches_selector(&ev.object, selector.as_ref())
    };
    // Subscribe under the lock so no event falls between history and live stream.
    let (backlog, rx) = {
        let inner = s.inner.lock().expect("lock");
        let backlog: VecDeque<WatchEvent> = inner
            .history
            .iter()
            .filter(|e| e.rv > since && wanted(e))
            .cloned()
            .collect();
        (backlog, s.events.subscribe())
    };
    let last = backlog.back().map(|e| e.rv).unwrap_or(since);
    let stream = futures::stream::unfold(
        (backlog, rx, last, wanted),
        |(mut backlog, mut rx, mut last, wanted)| async move {
            loop {
                let ev = match backlog.pop_front() {
                    Some(ev) => ev,
                    None => match rx.recv().await {
                        Ok(ev) if ev.rv > last && wanted(&ev) => ev,
                        Ok(_) => continue,
                        Err(broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(broadcast::error::RecvError::Closed) => return None,
                    },
                };
                last = last.max(ev.rv);
                let line = json!({"type": ev.kind, "object": ev.object});
                let mut bytes = serde_json::to_vec(&line).unwrap_or_default();
                bytes.push(b'\n');
                return Some((
                    Ok::<Bytes, std::convert::Infallible>(Bytes::from(bytes)),
                    (backlog, rx, last, wanted),
                ));
            }
        },
    );
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| {
            status(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                "stream".into(),
            )
        })
}
