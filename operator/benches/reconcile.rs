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

use kube::api::{Api, PostParams};
use kube::runtime::events::Reporter;
use serde_json::json;

use postagram_operator::controller::{reconcile, ChildWatches, Context};
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

async fn run(n: usize) -> serde_json::Value {
    let server = ApiServer::start().await;
    let client = server.client();
    let stores = ChildWatches::start(&client).spawn();
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
