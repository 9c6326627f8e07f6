//! The reconciler, in stages: validate the spec (`validate`), build the desired children
//! (pure, [`crate::desired`]), apply what is wanted and prune the rest (`apply`), write the
//! status and Events (`report`) — all with one field manager. Errors back off per object.

mod apply;
mod caches;
mod report;
mod validate;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{predicates, watcher, Controller, WatchStreamExt};
use kube::{Client, Resource, ResourceExt};
use tracing::{info, instrument, warn};

pub use caches::{ChildStores, ChildWatches, ChildWriters};

use crate::crd::Postagram;
use crate::desired::{Children, Owner};
use crate::error::{Error, Result};
use crate::metrics::Metrics;

/// How often a healthy Postagram is looked at again without any trigger.
pub const RESYNC: Duration = Duration::from_secs(300);
/// How long a Secret found to exist is trusted before it is looked up again.
pub const SECRET_RECHECK: Duration = Duration::from_secs(300);
/// First retry delay after an error; doubles per consecutive failure.
pub const BACKOFF_BASE: Duration = Duration::from_secs(1);
/// Longest retry delay after errors.
pub const BACKOFF_MAX: Duration = Duration::from_secs(300);

/// Shared state of the reconciler.
pub struct Context {
    /// API client.
    pub client: Client,
    /// Who publishes Events.
    pub reporter: Reporter,
    /// Children caches.
    pub stores: ChildStores,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Consecutive failures per object (exponential backoff).
    failures: Mutex<HashMap<ObjectRef<Postagram>, u32>>,
    /// Secrets known to exist (`namespace/name` → when checked).
    secrets_seen: Mutex<HashMap<String, Instant>>,
}

impl Context {
    /// Creates the reconciler state.
    pub fn new(
        client: Client,
        reporter: Reporter,
        stores: ChildStores,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            client,
            reporter,
            stores,
            metrics,
            failures: Mutex::new(HashMap::new()),
            secrets_seen: Mutex::new(HashMap::new()),
        }
    }

    fn recorder(&self) -> Recorder {
        Recorder::new(self.client.clone(), self.reporter.clone())
    }

    fn secret_recently_seen(&self, key: &str) -> bool {
        self.secrets_seen
            .lock()
            .map(|m| m.get(key).is_some_and(|t| t.elapsed() < SECRET_RECHECK))
            .unwrap_or(false)
    }

    fn mark_secret_seen(&self, key: String) {
        if let Ok(mut m) = self.secrets_seen.lock() {
            m.insert(key, Instant::now());
        }
    }

    fn forget_secret(&self, key: &str) {
        if let Ok(mut m) = self.secrets_seen.lock() {
            m.remove(key);
        }
    }
}

fn cached<K>(store: &Store<K>, ns: &str, name: &str) -> Option<Arc<K>>
where
    K: Resource<DynamicType = ()> + Clone + 'static,
{
    store.get(&ObjectRef::new(name).within(ns))
}

/// Reconciles one Postagram towards its spec.
#[instrument(skip_all, fields(postagram = %pg.name_any(), namespace = pg.namespace().unwrap_or_default()))]
pub async fn reconcile(pg: Arc<Postagram>, ctx: Arc<Context>) -> Result<Action> {
    let _timer = ctx.metrics.start_reconcile();
    let owner = Owner::of(&pg).ok_or(Error::MissingObjectKey("name, namespace or uid"))?;
    if pg.metadata.deletion_timestamp.is_some() {
        // Children go with their owner through garbage collection.
        return Ok(Action::await_change());
    }
    if let Some(problem) = validate::validate(&ctx, &pg, &owner.namespace).await? {
        return report::degrade(&ctx, &pg, &owner, problem).await;
    }
    let children = Children::build(&owner, &pg.spec);
    let changed = apply::apply_all(&ctx, &owner, &children).await?;
    report::applied(&ctx, &pg, &owner, &changed).await?;
    if let Ok(mut f) = ctx.failures.lock() {
        f.remove(&ObjectRef::from_obj(pg.as_ref()));
    }
    Ok(Action::requeue(RESYNC))
}

/// Delay before retrying an object after its `failures`-th consecutive error.
pub fn backoff_delay(failures: u32) -> Duration {
    let factor = 2u32.saturating_pow(failures.saturating_sub(1).min(16));
    BACKOFF_BASE.saturating_mul(factor).min(BACKOFF_MAX)
}

/// Retries a failed reconcile with per-object exponential backoff.
pub fn error_policy(pg: Arc<Postagram>, error: &Error, ctx: Arc<Context>) -> Action {
    ctx.metrics
        .failures
        .with_label_values(&[error.metric_label()])
        .inc();
    let failures = ctx
        .failures
        .lock()
        .map(|mut f| {
            let n = f.entry(ObjectRef::from_obj(pg.as_ref())).or_insert(0);
            *n = n.saturating_add(1);
            *n
        })
        .unwrap_or(1);
    let delay = backoff_delay(failures);
    warn!(postagram = %pg.name_any(), error = %error, failures, ?delay, "reconcile failed");
    Action::requeue(delay)
}

/// Runs the controller until `shutdown` resolves: watches Postagrams (generation changes
/// only, so its own status writes do not loop) and every child kind, and sets `ready` once
/// all caches have synced.
pub async fn run(
    client: Client,
    reporter: Reporter,
    metrics: Arc<Metrics>,
    ready: Arc<AtomicBool>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let (pg_reader, pg_writer) = reflector::store::<Postagram>();
    let postagrams = watcher(
        Api::<Postagram>::all(client.clone()),
        watcher::Config::default().any_semantic(),
    )
    .default_backoff()
    .reflect(pg_writer)
    .applied_objects()
    .predicate_filter(predicates::generation, Default::default());
    let children = ChildWatches::start(&client);

    {
        let (pg, stores) = (pg_reader.clone(), children.stores.clone());
        tokio::spawn(async move {
            // Joined, not one after the other: the Postagram store's readiness wakes only
            // its last waiter (the controller waits on it too), and the join polls it again
            // whenever a child cache becomes ready.
            let (pg, children) =
                futures::future::join(pg.wait_until_ready(), stores.wait_until_ready()).await;
            if pg.is_ok() && children.is_ok() {
                info!("caches synced");
                ready.store(true, Ordering::Relaxed);
            }
        });
    }

    let ctx = Arc::new(Context::new(
        client,
        reporter,
        children.stores.clone(),
        metrics,
    ));
    children
        .owned_by(Controller::for_stream(postagrams, pg_reader))
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|res| async move {
            match res {
                Ok((obj, _)) => tracing::debug!(object = %obj.name, "reconciled"),
                Err(e) => tracing::debug!(error = %e, "reconcile error"),
            }
        })
        .await;
    info!("controller stopped");
}
