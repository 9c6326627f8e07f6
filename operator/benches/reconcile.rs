//! Reconcile latency and API requests per no-op reconcile, against the loopback API server
//! of the tests. Prints one JSON line per object count:
//! `{"objects":N,"first_p50_ms":..,"first_p99_ms":..,"noop_p50_ms":..,"noop_p99_ms":..,
//!   "noop_requests_per_reconcile":..,"noop_writes_per_reconcile":..}`.
//! Run through `bench/operator-reconcile.sh`, which repeats it and takes medians.

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, PostParams};
use kube::runtime::events::Reporter;
use serde_json::json;

use postagram_operator::controller::{child_watch, reconcile, ChildStores, Context};
use postagram_operator::crd::Postagram;
use postagram_operator::metrics::Metrics;
use support::apiserver::ApiServer;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn spawn_watch<S>(stream: S)
where
    S: futures::Stream + Send + 'static,
{
    tokio::spawn(async move {
        let mut s = std::pin::pin!(stream);
        while s.next().await.is_some() {}
    });
}

async fn run(n: usize) -> serde_json::Value {
    let server = ApiServer::start().await;
    let client = server.client();
    let (service_accounts, s1) = child_watch::<ServiceAccount>(&client);
    let (config_maps, s2) = child_watch::<ConfigMap>(&client);
    let (claims, s3) = child_watch::<PersistentVolumeClaim>(&client);
    let (deployments, s4) = child_watch::<Deployment>(&client);
    let (services, s5) = child_watch::<Service>(&client);
    let (hpas, s6) = child_watch::<HorizontalPodAutoscaler>(&client);
    let (pdbs, s7) = child_watch::<PodDisruptionBudget>(&client);
    let (ingresses, s8) = child_watch::<Ingress>(&client);
    spawn_watch(s1);
    spawn_watch(s2);
    spawn_watch(s3);
    spawn_watch(s4);
    spawn_watch(s5);
    spawn_watch(s6);
    spawn_watch(s7);
    spawn_watch(s8);
    let stores = ChildStores {
        service_accounts,
        config_maps,
        claims,
        deployments,
        services,
        hpas,
        pdbs,
        ingresses,
    };
    let ctx = Arc::new(Context::new(
        client.clone(),
        Reporter {
            controller: "postagram-operator".into(),
            instance: Some("bench".into()),
        },
        stores.clone(),
        Arc::new(Metrics::new().expect("metrics")),
    ));
    let _ = stores.deployments.wait_until_ready().await;

    // AWS mode (the larger object set: 11 children, 9 applied per Postagram).
    let api: Api<Postagram> = Api::namespaced(client.clone(), "bench");
    let mut names = Vec::with_capacity(n);
    for i in 0..n {
        let name = format!("pg-{i}");
        let pg: Postagram = serde_json::from_value(json!({
            "apiVersion": "postagram.dev/v1alpha1", "kind": "Postagram",
            "metadata": {"name": name},
            "spec": {"storage": {"aws": {"region": "r", "table": "t", "bucket": "b", "queueUrl": "q"}}}
        }))
        .expect("pg");
        api.create(&PostParams::default(), &pg)
            .await
            .expect("create");
        names.push(name);
    }

    let mut first = Vec::with_capacity(n);
    for name in &names {
        let pg = Arc::new(api.get(name).await.expect("get"));
        let t = Instant::now();
        reconcile(pg, ctx.clone()).await.expect("reconcile");
        first.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    // Let the watches deliver every child into the caches.
    let deadline = Instant::now() + Duration::from_secs(60);
    while stores.deployments.state().len() < 2 * n || stores.pdbs.state().len() < 2 * n {
        assert!(Instant::now() < deadline, "caches did not catch up");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;

    let fresh: Vec<Arc<Postagram>> = {
        let mut v = Vec::with_capacity(n);
        for name in &names {
            v.push(Arc::new(api.get(name).await.expect("get")));
        }
        v
    };
    let c = &server.counters;
    let before = (
        c.reads.load(Ordering::Relaxed) + c.writes.load(Ordering::Relaxed),
        c.writes.load(Ordering::Relaxed),
    );
    let mut noop = Vec::with_capacity(n);
    for pg in fresh {
        let t = Instant::now();
        reconcile(pg, ctx.clone()).await.expect("reconcile");
        noop.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let after = (
        c.reads.load(Ordering::Relaxed) + c.writes.load(Ordering::Relaxed),
        c.writes.load(Ordering::Relaxed),
    );
    first.sort_by(f64::total_cmp);
    noop.sort_by(f64::total_cmp);
    json!({
        "objects": n,
        "first_p50_ms": percentile(&first, 0.50),
        "first_p99_ms": percentile(&first, 0.99),
        "noop_p50_ms": percentile(&noop, 0.50),
        "noop_p99_ms": percentile(&noop, 0.99),
        "noop_requests_per_reconcile": (after.0 - before.0) as f64 / n as f64,
        "noop_writes_per_reconcile": (after.1 - before.1) as f64 / n as f64,
    })
}

fn main() {
    let counts: Vec<usize> = std::env::var("BENCH_OBJECTS")
        .unwrap_or_else(|_| "1,100,1000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    for n in counts {
        let line = rt.block_on(run(n));
        println!("{line}");
    }
}
