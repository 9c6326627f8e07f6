//! The whole controller (watches, caches, reconcile, status, events) against the loopback
//! API server of `support::apiserver`.

mod support;

use postagram_core::settings::env;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::runtime::events::Reporter;
use serde_json::json;
use tokio::sync::watch;

use postagram_operator::controller;
use postagram_operator::crd::Postagram;
use postagram_operator::metrics::Metrics;
use support::apiserver::ApiServer;
use support::eventually;

const PG: &str = "postagram.dev/v1alpha1/postagrams";
const DEPLOY: &str = "apps/v1/deployments";

fn ready_status(server: &ApiServer, ns: &str, name: &str) -> Option<String> {
    let pg = server.get(PG, ns, name)?;
    pg["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready")
        .and_then(|c| c["status"].as_str().map(str::to_string))
}

fn pod_config_hash(server: &ApiServer, ns: &str, name: &str) -> Option<String> {
    server.get(DEPLOY, ns, name)?["spec"]["template"]["metadata"]["annotations"]
        ["postagram.dev/config-hash"]
        .as_str()
        .map(str::to_string)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controller_converges_heals_and_follows_the_spec() {
    let server = ApiServer::start().await;
    let client = server.client();
    let ready = Arc::new(AtomicBool::new(false));
    let metrics = Arc::new(Metrics::new().expect("metrics"));
    let (stop_tx, mut stop_rx) = watch::channel(false);
    let controller = tokio::spawn(controller::run(
        client.clone(),
        Reporter {
            controller: "postagram-operator".into(),
            instance: Some("loop-test".into()),
        },
        metrics.clone(),
        ready.clone(),
        async move {
            let _ = stop_rx.wait_for(|s| *s).await;
        },
    ));
    eventually("caches synced", 10, || {
        ready.load(Ordering::Relaxed).then_some(())
    })
    .await;

    // Apply a Postagram: every child appears, owned by it.
    let ns = "photos";
    let pgs: Api<Postagram> = Api::namespaced(client.clone(), ns);
    let pg: Postagram = serde_json::from_value(json!({
        "apiVersion": "postagram.dev/v1alpha1", "kind": "Postagram",
        "metadata": {"name": "demo"},
        "spec": {"storage": {"aws": {"region": "r", "table": "t", "bucket": "b", "queueUrl": "q"}}}
    }))
    .expect("postagram");
    pgs.patch("demo", &PatchParams::apply("test"), &Patch::Apply(&pg))
        .await
        .expect("apply");
    let uid = server.get(PG, ns, "demo").expect("stored")["metadata"]["uid"].clone();
    for (resource, name) in [
        ("v1/serviceaccounts", "demo"),
        ("v1/configmaps", "demo-config"),
        ("v1/secrets", "demo-jwt"),
        (DEPLOY, "demo-api"),
        (DEPLOY, "demo-labeler"),
        ("v1/services", "demo-api"),
        ("autoscaling/v2/horizontalpodautoscalers", "demo-api"),
        ("autoscaling/v2/horizontalpodautoscalers", "demo-labeler"),
        ("policy/v1/poddisruptionbudgets", "demo-api"),
        ("policy/v1/poddisruptionbudgets", "demo-labeler"),
    ] {
        let obj = eventually(&format!("{resource} {name}"), 10, || {
            server.get(resource, ns, name)
        })
        .await;
        assert_eq!(
            obj["metadata"]["ownerReferences"][0]["uid"], uid,
            "{resource} {name}"
        );
    }
    assert!(
        server.count("v1/persistentvolumeclaims") == 0,
        "aws mode has no claim"
    );
    eventually("status written", 10, || {
        ready_status(&server, ns, "demo").filter(|s| s == "False")
    })
    .await;
    let secret_before = server.get("v1/secrets", ns, "demo-jwt").expect("secret")["data"].clone();

    // The test plays the Deployment controller: both Deployments become available.
    server.mark_available(ns, "demo-api");
    server.mark_available(ns, "demo-labeler");
    eventually("Ready=True", 10, || {
        ready_status(&server, ns, "demo").filter(|s| s == "True")
    })
    .await;
    let pg_now = server.get(PG, ns, "demo").expect("pg");
    assert_eq!(pg_now["status"]["api"]["readyReplicas"], 1);
    assert_eq!(pg_now["status"]["labeler"]["readyReplicas"], 1);
    assert_eq!(pg_now["status"]["observedGeneration"], 1);

    // Steady state: a quiet second sends no writes at all.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let writes = server.counters.writes.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        server.counters.writes.load(Ordering::Relaxed),
        writes,
        "no writes at rest"
    );

    // Delete a child Deployment: it comes back (a new object).
    let old_uid = server.get(DEPLOY, ns, "demo-api").expect("api")["metadata"]["uid"].clone();
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), ns);
    deployments
        .delete("demo-api", &DeleteParams::default())
        .await
        .expect("delete");
    let back = eventually("demo-api recreated", 10, || {
        server
            .get(DEPLOY, ns, "demo-api")
            .filter(|d| d["metadata"]["uid"] != old_uid)
    })
    .await;
    assert_eq!(
        back["metadata"]["labels"]["app.kubernetes.io/component"],
        "api"
    );
    eventually("Ready=False while it rolls out", 10, || {
        ready_status(&server, ns, "demo").filter(|s| s == "False")
    })
    .await;
    server.mark_available(ns, "demo-api");
    eventually("Ready=True again", 10, || {
        ready_status(&server, ns, "demo").filter(|s| s == "True")
    })
    .await;

    // Change the spec: the config, the pods' config hash and the HPA follow.
    let hash_before = pod_config_hash(&server, ns, "demo-api").expect("hash");
    pgs.patch(
        "demo",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"labeler": {"maxLabels": 3}, "api": {"replicas": {"min": 2, "max": 6}}}})),
    )
    .await
    .expect("merge patch");
    eventually("config follows", 10, || {
        server
            .get("v1/configmaps", ns, "demo-config")
            .filter(|c| c["data"][env::MAX_LABELS] == "3")
    })
    .await;
    eventually("pods roll", 10, || {
        pod_config_hash(&server, ns, "demo-api").filter(|h| *h != hash_before)
    })
    .await;
    eventually("hpa follows", 10, || {
        server
            .get("autoscaling/v2/horizontalpodautoscalers", ns, "demo-api")
            .filter(|h| h["spec"]["maxReplicas"] == 6 && h["spec"]["minReplicas"] == 2)
    })
    .await;
    eventually("observedGeneration 2", 10, || {
        server
            .get(PG, ns, "demo")
            .filter(|p| p["status"]["observedGeneration"] == 2)
    })
    .await;
    assert_eq!(
        server.get("v1/secrets", ns, "demo-jwt").expect("secret")["data"],
        secret_before,
        "the generated JWT secret is never rotated"
    );

    // An invalid spec (as if the CEL rule were bypassed) degrades, touching nothing else.
    let cm_rv = server.get("v1/configmaps", ns, "demo-config").expect("cm")["metadata"]
        ["resourceVersion"]
        .clone();
    pgs.patch(
        "demo",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"api": {"replicas": {"min": 9, "max": 1}}}})),
    )
    .await
    .expect("bad patch");
    let degraded = eventually("Degraded", 10, || {
        let pg = server.get(PG, ns, "demo")?;
        pg["status"]["conditions"]
            .as_array()?
            .iter()
            .find(|c| c["type"] == "Degraded" && c["status"] == "True")
            .cloned()
    })
    .await;
    assert_eq!(degraded["reason"], "InvalidSpec");
    assert_eq!(
        server.get("v1/configmaps", ns, "demo-config").expect("cm")["metadata"]["resourceVersion"],
        cm_rv
    );
    eventually("warning event", 10, || {
        (server.count("events.k8s.io/v1/events") > 0).then_some(())
    })
    .await;

    // Switch to embedded storage: worker objects are pruned, a claim appears.
    pgs.patch("demo", &PatchParams::default(), &Patch::Merge(json!({"spec": {
        "api": {"replicas": {"min": 1, "max": 4}}, "storage": {"aws": null, "embedded": {"size": "1Gi"}}}})))
        .await
        .expect("switch");
    eventually("labeler pruned", 10, || {
        server
            .get(DEPLOY, ns, "demo-labeler")
            .is_none()
            .then_some(())
    })
    .await;
    eventually("claim created", 10, || {
        server.get("v1/persistentvolumeclaims", ns, "demo-data")
    })
    .await;
    assert!(server
        .get("autoscaling/v2/horizontalpodautoscalers", ns, "demo-api")
        .is_none());

    // Deleting the Postagram takes its children with it (owner references).
    pgs.delete("demo", &DeleteParams::default())
        .await
        .expect("delete pg");
    eventually("children collected", 10, || {
        (server.count(DEPLOY) == 0).then_some(())
    })
    .await;

    assert!(metrics.reconciles.get() > 0);
    stop_tx.send(true).expect("stop");
    tokio::time::timeout(Duration::from_secs(10), controller)
        .await
        .expect("graceful shutdown in time")
        .expect("controller task");
}
