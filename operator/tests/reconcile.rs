//! Reconcile tests against a scripted API server, asserting the exact requests sent.

mod support;

use std::sync::Arc;

use kube::api::ObjectMeta;
use kube::runtime::controller::Action;
use kube::runtime::events::Reporter;
use serde_json::{json, Value};

use postagram_operator::controller::{backoff_delay, reconcile, ChildWriters, Context};
use postagram_operator::crd::{Postagram, PostagramSpec, PostagramStatus};
use postagram_operator::metrics::Metrics;
use support::scripted::{Recorded, Scripted};

const NS: &str = "photos";

/// Shows the reconciler an object as the watches would (with a resourceVersion, as stored).
fn put(w: &mut ChildWriters, body: &Value) {
    let mut body = body.clone();
    body["metadata"]["resourceVersion"] = json!("1");
    let cached = w.apply(&body).expect("object");
    assert!(cached, "unexpected kind {}", body["kind"]);
}

/// Feeds every child applied in `requests` into the stores, as the watches would.
fn remember(w: &mut ChildWriters, requests: &[Recorded]) {
    for r in requests {
        if r.method != "PATCH" || r.path.ends_with("/status") {
            continue;
        }
        put(w, &r.body);
    }
}

struct Harness {
    ctx: Arc<Context>,
    writers: ChildWriters,
    server: Scripted,
}

fn harness() -> Harness {
    let (client, server) = Scripted::start();
    let writers = ChildWriters::default();
    let ctx = Context::new(
        client,
        Reporter {
            controller: "postagram-operator".into(),
            instance: Some("test".into()),
        },
        writers.stores(),
        Arc::new(Metrics::new().expect("metrics")),
    );
    Harness {
        ctx: Arc::new(ctx),
        writers,
        server,
    }
}

fn postagram(spec: Value, generation: i64) -> Postagram {
    let spec: PostagramSpec = serde_json::from_value(spec).expect("spec");
    let mut pg = Postagram::new("demo", spec);
    pg.metadata = ObjectMeta {
        name: Some("demo".into()),
        namespace: Some(NS.into()),
        uid: Some("uid-1".into()),
        generation: Some(generation),
        resource_version: Some("7".into()),
        ..ObjectMeta::default()
    };
    pg
}

fn aws() -> Value {
    json!({"aws": {"region": "eu-west-1", "table": "t", "bucket": "b", "queueUrl": "https://q"}})
}

fn lines(requests: &[Recorded]) -> Vec<String> {
    requests.iter().map(Recorded::line).collect()
}

fn applied_status(requests: &[Recorded]) -> PostagramStatus {
    let r = requests
        .iter()
        .find(|r| r.path.ends_with("/status"))
        .expect("status patch");
    serde_json::from_value(r.body["status"].clone()).expect("status")
}

fn condition<'a>(
    s: &'a PostagramStatus,
    t: &str,
) -> &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
    s.conditions
        .iter()
        .find(|c| c.type_ == t)
        .expect("condition")
}

const SA: &str = "/api/v1/namespaces/photos/serviceaccounts/demo";
const CM: &str = "/api/v1/namespaces/photos/configmaps/demo-config";
const SECRET: &str = "/api/v1/namespaces/photos/secrets/demo-jwt";
const SECRETS: &str = "/api/v1/namespaces/photos/secrets";
const PVC: &str = "/api/v1/namespaces/photos/persistentvolumeclaims/demo-data";
const API: &str = "/apis/apps/v1/namespaces/photos/deployments/demo-api";
const LABELER: &str = "/apis/apps/v1/namespaces/photos/deployments/demo-labeler";
const SVC: &str = "/api/v1/namespaces/photos/services/demo-api";
const HPA_API: &str = "/apis/autoscaling/v2/namespaces/photos/horizontalpodautoscalers/demo-api";
const HPA_LABELER: &str =
    "/apis/autoscaling/v2/namespaces/photos/horizontalpodautoscalers/demo-labeler";
const PDB_API: &str = "/apis/policy/v1/namespaces/photos/poddisruptionbudgets/demo-api";
const PDB_LABELER: &str = "/apis/policy/v1/namespaces/photos/poddisruptionbudgets/demo-labeler";
const EVENTS: &str = "/apis/events.k8s.io/v1/namespaces/photos/events";
const STATUS: &str = "/apis/postagram.dev/v1alpha1/namespaces/photos/postagrams/demo/status";

fn p(path: &str) -> String {
    format!("PATCH {path}")
}

#[tokio::test]
async fn first_reconcile_applies_every_child_then_status_and_second_is_silent() {
    let mut h = harness();
    h.server.set_missing(SECRET);
    let mut pg = postagram(json!({}), 1);
    let action = reconcile(Arc::new(pg.clone()), h.ctx.clone())
        .await
        .expect("reconcile");
    assert_eq!(action, Action::requeue(std::time::Duration::from_secs(300)));
    let reqs = h.server.take();
    assert_eq!(
        lines(&reqs),
        [
            p(SA),
            p(CM),
            format!("GET {SECRET}"),
            format!("POST {SECRETS}"),
            p(PVC),
            p(API),
            p(SVC),
            format!("POST {EVENTS}"),
            p(STATUS),
        ]
    );
    for r in reqs.iter().filter(|r| r.method == "PATCH") {
        assert!(
            r.query.contains("fieldManager=postagram-operator"),
            "{}",
            r.query
        );
        assert!(r.query.contains("force=true"), "{}", r.query);
    }
    let secret = &reqs[3].body;
    assert_eq!(secret["metadata"]["name"], "demo-jwt");
    assert!(reqs[3].query.contains("fieldManager=postagram-operator"));
    let event = &reqs[7].body;
    assert_eq!(event["reason"], "Applied");
    assert_eq!(event["type"], "Normal");
    assert!(event["note"]
        .as_str()
        .expect("note")
        .contains("Deployment demo-api"));
    let status = applied_status(&reqs);
    assert_eq!(status.observed_generation, Some(1));
    assert_eq!(condition(&status, "Ready").status, "False");
    assert_eq!(condition(&status, "Progressing").status, "True");
    assert_eq!(condition(&status, "Degraded").status, "False");
    assert_eq!(
        status.api.as_ref().and_then(|a| a.url.as_deref()),
        Some("http://demo-api.photos.svc:8080")
    );
    assert!(status
        .autoscaling
        .as_deref()
        .is_some_and(|a| a.contains("embedded")));

    // The watches now show what was applied; the same generation again sends nothing.
    remember(&mut h.writers, &reqs);
    pg.status = Some(status);
    reconcile(Arc::new(pg.clone()), h.ctx.clone())
        .await
        .expect("second");
    assert_eq!(lines(&h.server.take()), Vec::<String>::new());

    // The API Deployment becomes available: only the status changes.
    let mut deploy = reqs
        .iter()
        .find(|r| r.path == API)
        .expect("api")
        .body
        .clone();
    deploy["metadata"]["generation"] = json!(1);
    deploy["status"] =
        json!({"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "readyReplicas": 1});
    put(&mut h.writers, &deploy);
    reconcile(Arc::new(pg), h.ctx.clone()).await.expect("third");
    let reqs = h.server.take();
    assert_eq!(lines(&reqs), [p(STATUS)]);
    let status = applied_status(&reqs);
    assert_eq!(condition(&status, "Ready").status, "True");
    assert_eq!(status.api.as_ref().map(|a| a.ready_replicas), Some(1));
}

#[tokio::test]
async fn scaling_change_updates_only_the_hpa() {
    let mut h = harness();
    h.server.set_missing(SECRET);
    let mut pg = postagram(json!({"storage": aws()}), 1);
    reconcile(Arc::new(pg.clone()), h.ctx.clone())
        .await
        .expect("first");
    let reqs = h.server.take();
    assert_eq!(
        lines(&reqs),
        [
            p(SA),
            p(CM),
            format!("GET {SECRET}"),
            format!("POST {SECRETS}"),
            p(API),
            p(SVC),
            p(HPA_API),
            p(PDB_API),
            p(LABELER),
            p(HPA_LABELER),
            p(PDB_LABELER),
            format!("POST {EVENTS}"),
            p(STATUS),
        ]
    );
    let labeler = &reqs[8].body;
    assert_eq!(
        labeler["spec"]["template"]["spec"]["containers"][0]["args"],
        json!(["worker", "--source", "sqs"])
    );
    assert!(
        labeler["spec"]["replicas"].is_null(),
        "the HPA owns replicas"
    );
    remember(&mut h.writers, &reqs);
    pg.status = Some(applied_status(&reqs));

    pg.spec.api.replicas.max = 10;
    pg.metadata.generation = Some(2);
    reconcile(Arc::new(pg.clone()), h.ctx.clone())
        .await
        .expect("scaled");
    let reqs = h.server.take();
    assert_eq!(
        lines(&reqs),
        [p(HPA_API), format!("POST {EVENTS}"), p(STATUS)]
    );
    assert_eq!(reqs[0].body["spec"]["maxReplicas"], 10);
    assert_eq!(applied_status(&reqs).observed_generation, Some(2));
}

#[tokio::test]
async fn switching_to_embedded_prunes_worker_objects_but_keeps_nothing_stale() {
    let mut h = harness();
    h.server.set_missing(SECRET);
    let mut pg = postagram(json!({"storage": aws()}), 1);
    reconcile(Arc::new(pg.clone()), h.ctx.clone())
        .await
        .expect("first");
    let reqs = h.server.take();
    remember(&mut h.writers, &reqs);
    pg.status = Some(applied_status(&reqs));

    pg.spec = serde_json::from_value(json!({})).expect("embedded");
    pg.metadata.generation = Some(2);
    reconcile(Arc::new(pg), h.ctx.clone())
        .await
        .expect("switch");
    let reqs = h.server.take();
    assert_eq!(
        lines(&reqs),
        [
            p(SA),
            p(CM),
            p(PVC),
            p(API),
            format!("DELETE {HPA_API}"),
            format!("DELETE {PDB_API}"),
            format!("DELETE {LABELER}"),
            format!("DELETE {HPA_LABELER}"),
            format!("DELETE {PDB_LABELER}"),
            format!("POST {EVENTS}"),
            p(STATUS),
        ]
    );
}

#[tokio::test]
async fn invalid_spec_degrades_with_an_event_and_touches_nothing_else() {
    let h = harness();
    let mut pg = postagram(json!({}), 4);
    // A value the CEL rule would reject, as if the object predates the rule.
    pg.spec.api.replicas.min = 6;
    pg.spec.api.replicas.max = 2;
    let action = reconcile(Arc::new(pg.clone()), h.ctx.clone())
        .await
        .expect("no error, no crash loop");
    assert_eq!(action, Action::await_change());
    let reqs = h.server.take();
    assert_eq!(lines(&reqs), [p(STATUS), format!("POST {EVENTS}")]);
    let status = applied_status(&reqs);
    let degraded = condition(&status, "Degraded");
    assert_eq!(degraded.status, "True");
    assert_eq!(degraded.reason, "InvalidSpec");
    assert!(degraded
        .message
        .contains("api.replicas.min (6) exceeds api.replicas.max (2)"));
    assert_eq!(condition(&status, "Ready").status, "False");
    assert_eq!(reqs[1].body["type"], "Warning");
    assert_eq!(reqs[1].body["reason"], "InvalidSpec");

    // Looked at again (e.g. a resync): no new status, no new Event.
    pg.status = Some(status);
    reconcile(Arc::new(pg), h.ctx.clone()).await.expect("again");
    assert_eq!(lines(&h.server.take()), Vec::<String>::new());
}

#[tokio::test]
async fn missing_referenced_secret_degrades_and_retries_later() {
    let h = harness();
    h.server
        .set_missing("/api/v1/namespaces/photos/secrets/mine");
    let pg = postagram(
        json!({"auth": {"jwtSecretRef": {"name": "mine", "key": "k"}}}),
        1,
    );
    let action = reconcile(Arc::new(pg), h.ctx.clone())
        .await
        .expect("degraded, not failed");
    assert_eq!(action, Action::requeue(std::time::Duration::from_secs(30)));
    let reqs = h.server.take();
    assert_eq!(
        lines(&reqs),
        [
            "GET /api/v1/namespaces/photos/secrets/mine".to_string(),
            p(STATUS),
            format!("POST {EVENTS}")
        ]
    );
    let status = applied_status(&reqs);
    assert_eq!(condition(&status, "Degraded").reason, "SecretNotFound");
    assert!(condition(&status, "Degraded")
        .message
        .contains("photos/mine"));
}

#[tokio::test]
async fn existing_generated_secret_is_never_rewritten() {
    let mut h = harness();
    // The GET finds the Secret: no POST, no apply, whatever the reconcile count.
    let pg = postagram(json!({}), 1);
    reconcile(Arc::new(pg.clone()), h.ctx.clone())
        .await
        .expect("first");
    let reqs = h.server.take();
    assert!(reqs
        .iter()
        .all(|r| !r.path.starts_with(SECRETS) || r.method == "GET"));
    assert_eq!(reqs.iter().filter(|r| r.path == SECRET).count(), 1);
    remember(&mut h.writers, &reqs);
    let mut pg = pg;
    pg.status = Some(applied_status(&reqs));
    reconcile(Arc::new(pg), h.ctx.clone())
        .await
        .expect("second");
    assert!(h.server.take().is_empty(), "secret existence is remembered");
}

#[test]
fn backoff_doubles_up_to_a_cap() {
    let secs: Vec<u64> = (1..=11).map(|n| backoff_delay(n).as_secs()).collect();
    assert_eq!(secs, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
}
