//! The reconciler: validates a Postagram, server-side applies its children (skipping those
//! whose desired hash already matches), prunes the optional ones the spec no longer asks
//! for, and writes the status — all with one field manager. Errors back off per object.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{
    ConfigMap, PersistentVolumeClaim, Secret, Service, ServiceAccount,
};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::jiff::Timestamp;
use k8s_openapi::NamespaceResourceScope;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tracing::{info, instrument, warn};

use crate::crd::Postagram;
use crate::desired::meta::{desired_hash_of, MANAGER};
use crate::desired::settings::referenced_secrets;
use crate::desired::{Children, Owner};
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::status::{desired_status, is_degraded, Problem, Rollout};

/// How often a healthy Postagram is looked at again without any trigger.
pub const RESYNC: Duration = Duration::from_secs(300);
/// How long a Secret found to exist is trusted before it is looked up again.
pub const SECRET_RECHECK: Duration = Duration::from_secs(300);
/// First retry delay after an error; doubles per consecutive failure.
pub const BACKOFF_BASE: Duration = Duration::from_secs(1);
/// Longest retry delay after errors.
pub const BACKOFF_MAX: Duration = Duration::from_secs(300);

/// Read-only caches of the children, filled by watches on objects the operator manages.
#[derive(Clone)]
pub struct ChildStores {
    /// ServiceAccounts.
    pub service_accounts: Store<ServiceAccount>,
    /// ConfigMaps.
    pub config_maps: Store<ConfigMap>,
    /// PersistentVolumeClaims.
    pub claims: Store<PersistentVolumeClaim>,
    /// Deployments (also read for the status).
    pub deployments: Store<Deployment>,
    /// Services.
    pub services: Store<Service>,
    /// HorizontalPodAutoscalers.
    pub hpas: Store<HorizontalPodAutoscaler>,
    /// PodDisruptionBudgets.
    pub pdbs: Store<PodDisruptionBudget>,
    /// Ingresses.
    pub ingresses: Store<Ingress>,
}

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

/// Applies `desired` unless the cached child already carries its hash.
async fn apply_child<K>(
    ctx: &Context,
    store: &Store<K>,
    desired: &K,
    changed: &mut Vec<String>,
) -> Result<()>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + Serialize
        + DeserializeOwned
        + Debug
        + 'static,
{
    let name = desired
        .meta()
        .name
        .clone()
        .ok_or(Error::MissingObjectKey("child name"))?;
    let ns = desired
        .meta()
        .namespace
        .clone()
        .ok_or(Error::MissingObjectKey("namespace"))?;
    if let Some(existing) = cached(store, &ns, &name) {
        if desired_hash_of(existing.as_ref()).is_some()
            && desired_hash_of(existing.as_ref()) == desired_hash_of(desired)
        {
            return Ok(());
        }
    }
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &ns);
    api.patch(
        &name,
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(desired),
    )
    .await?;
    let kind = K::kind(&()).to_string();
    ctx.metrics
        .writes
        .with_label_values(&[kind.as_str(), "apply"])
        .inc();
    changed.push(format!("{kind} {name}"));
    Ok(())
}

/// Deletes a child the spec no longer asks for, if this Postagram owns it.
async fn prune_child<K>(
    ctx: &Context,
    store: &Store<K>,
    owner: &Owner,
    name: String,
    changed: &mut Vec<String>,
) -> Result<()>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Debug
        + 'static,
{
    let Some(existing) = cached(store, &owner.namespace, &name) else {
        return Ok(());
    };
    let owned = existing
        .owner_references()
        .iter()
        .any(|r| r.uid == owner.owner_ref.uid);
    if !owned {
        return Ok(());
    }
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &owner.namespace);
    match api.delete(&name, &DeleteParams::background()).await {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 404 => {}
        Err(e) => return Err(e.into()),
    }
    let kind = K::kind(&()).to_string();
    ctx.metrics
        .writes
        .with_label_values(&[kind.as_str(), "delete"])
        .inc();
    changed.push(format!("deleted {kind} {name}"));
    Ok(())
}

/// Creates the generated JWT Secret if it does not exist. Never updates it.
async fn ensure_generated_secret(
    ctx: &Context,
    owner: &Owner,
    secret: &Secret,
    changed: &mut Vec<String>,
) -> Result<()> {
    let name = secret
        .metadata
        .name
        .clone()
        .ok_or(Error::MissingObjectKey("secret name"))?;
    let key = format!("{}/{name}", owner.namespace);
    if ctx.secret_recently_seen(&key) {
        return Ok(());
    }
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &owner.namespace);
    if api.get_opt(&name).await?.is_none() {
        match api
            .create(
                &PostParams {
                    field_manager: Some(MANAGER.into()),
                    ..PostParams::default()
                },
                secret,
            )
            .await
        {
            Ok(_) => {
                ctx.metrics
                    .writes
                    .with_label_values(&["Secret", "create"])
                    .inc();
                changed.push(format!("Secret {name}"));
            }
            // Created meanwhile (another replica or a racing reconcile): keep theirs.
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(e) => return Err(e.into()),
        }
    }
    ctx.mark_secret_seen(key);
    Ok(())
}

/// Looks up the Secrets the spec references; the first missing one is a problem.
async fn check_referenced_secrets(
    ctx: &Context,
    pg: &Postagram,
    ns: &str,
) -> Result<Option<Problem>> {
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), ns);
    for name in referenced_secrets(&pg.spec) {
        let key = format!("{ns}/{name}");
        if ctx.secret_recently_seen(&key) {
            continue;
        }
        if api.get_metadata_opt(&name).await?.is_some() {
            ctx.mark_secret_seen(key);
        } else {
            ctx.forget_secret(&key);
            return Ok(Some(Problem {
                reason: "SecretNotFound".into(),
                message: format!("Secret {ns}/{name} referenced by the spec does not exist"),
            }));
        }
    }
    Ok(None)
}

async fn publish(
    ctx: &Context,
    pg: &Postagram,
    type_: EventType,
    reason: &str,
    action: &str,
    note: String,
) {
    let event = Event {
        type_,
        reason: reason.into(),
        note: Some(note),
        action: action.into(),
        secondary: None,
    };
    // Events are best effort: a failure to publish must not fail the reconcile.
    if let Err(e) = ctx.recorder().publish(&event, &pg.object_ref(&())).await {
        warn!(error = %e, "could not publish event");
    }
}

async fn patch_status_if_changed(
    ctx: &Context,
    pg: &Postagram,
    owner: &Owner,
    problem: Option<&Problem>,
) -> Result<bool> {
    let api_rollout = Rollout::of(
        cached(
            &ctx.stores.deployments,
            &owner.namespace,
            &owner.child_name("api"),
        )
        .as_deref(),
    );
    let labeler_rollout = matches!(pg.spec.storage, crate::crd::StorageSpec::Aws(_)).then(|| {
        Rollout::of(
            cached(
                &ctx.stores.deployments,
                &owner.namespace,
                &owner.child_name("labeler"),
            )
            .as_deref(),
        )
    });
    let status = desired_status(
        pg,
        owner,
        api_rollout,
        labeler_rollout,
        problem,
        Timestamp::now(),
    );
    if pg.status.as_ref() == Some(&status) {
        return Ok(false);
    }
    let body = serde_json::json!({
        "apiVersion": Postagram::api_version(&()),
        "kind": Postagram::kind(&()),
        "status": status,
    });
    let api: Api<Postagram> = Api::namespaced(ctx.client.clone(), &owner.namespace);
    api.patch_status(
        &owner.name,
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(body),
    )
    .await?;
    Ok(true)
}

/// Records a spec problem: Degraded status and a Warning Event, once per transition.
/// Touches no child.
async fn degrade(ctx: &Context, pg: &Postagram, owner: &Owner, problem: Problem) -> Result<Action> {
    warn!(reason = %problem.reason, message = %problem.message, "cannot reconcile");
    let was_degraded = is_degraded(pg.status.as_ref());
    let changed = patch_status_if_changed(ctx, pg, owner, Some(&problem)).await?;
    if changed || !was_degraded {
        publish(
            ctx,
            pg,
            EventType::Warning,
            &problem.reason,
            "Validate",
            problem.message.clone(),
        )
        .await;
    }
    // A fixed spec is a new generation and triggers a reconcile; a missing Secret is not
    // watched, so look again later.
    Ok(if problem.reason == "SecretNotFound" {
        Action::requeue(Duration::from_secs(30))
    } else {
        Action::await_change()
    })
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
    if let Err(p) = pg.spec.validate() {
        return degrade(
            &ctx,
            &pg,
            &owner,
            Problem {
                reason: p.reason.into(),
                message: p.message,
            },
        )
        .await;
    }
    if let Some(problem) = check_referenced_secrets(&ctx, &pg, &owner.namespace).await? {
        return degrade(&ctx, &pg, &owner, problem).await;
    }

    let children = Children::build(&owner, &pg.spec);
    let s = &ctx.stores;
    let mut changed = Vec::new();
    apply_child(
        &ctx,
        &s.service_accounts,
        &children.service_account,
        &mut changed,
    )
    .await?;
    apply_child(&ctx, &s.config_maps, &children.config_map, &mut changed).await?;
    if let Some(secret) = &children.jwt_secret {
        ensure_generated_secret(&ctx, &owner, secret, &mut changed).await?;
    }
    if let Some(claim) = &children.data_claim {
        apply_child(&ctx, &s.claims, claim, &mut changed).await?;
    }
    apply_child(&ctx, &s.deployments, &children.api_deployment, &mut changed).await?;
    apply_child(&ctx, &s.services, &children.api_service, &mut changed).await?;
    match &children.api_hpa {
        Some(h) => apply_child(&ctx, &s.hpas, h, &mut changed).await?,
        None => prune_child(&ctx, &s.hpas, &owner, owner.child_name("api"), &mut changed).await?,
    }
    match &children.api_pdb {
        Some(p) => apply_child(&ctx, &s.pdbs, p, &mut changed).await?,
        None => prune_child(&ctx, &s.pdbs, &owner, owner.child_name("api"), &mut changed).await?,
    }
    match &children.labeler_deployment {
        Some(d) => apply_child(&ctx, &s.deployments, d, &mut changed).await?,
        None => {
            prune_child(
                &ctx,
                &s.deployments,
                &owner,
                owner.child_name("labeler"),
                &mut changed,
            )
            .await?
        }
    }
    match &children.labeler_hpa {
        Some(h) => apply_child(&ctx, &s.hpas, h, &mut changed).await?,
        None => {
            prune_child(
                &ctx,
                &s.hpas,
                &owner,
                owner.child_name("labeler"),
                &mut changed,
            )
            .await?
        }
    }
    match &children.labeler_pdb {
        Some(p) => apply_child(&ctx, &s.pdbs, p, &mut changed).await?,
        None => {
            prune_child(
                &ctx,
                &s.pdbs,
                &owner,
                owner.child_name("labeler"),
                &mut changed,
            )
            .await?
        }
    }
    match &children.ingress {
        Some(i) => apply_child(&ctx, &s.ingresses, i, &mut changed).await?,
        None => prune_child(&ctx, &s.ingresses, &owner, owner.name.clone(), &mut changed).await?,
    }

    if !changed.is_empty() {
        info!(changed = ?changed, "applied children");
        publish(
            &ctx,
            &pg,
            EventType::Normal,
            "Applied",
            "Reconcile",
            format!("applied {}", changed.join(", ")),
        )
        .await;
    }
    patch_status_if_changed(&ctx, &pg, &owner, None).await?;
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

/// Watches one child kind (only objects labelled as managed by the operator) into a store,
/// returning the store and the stream of touched objects that triggers their owner. The
/// stream must be polled for the store to fill.
pub fn child_watch<K>(
    client: &Client,
) -> (
    Store<K>,
    impl futures::Stream<Item = Result<K, kube::runtime::watcher::Error>> + Send + 'static,
)
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    use kube::runtime::{reflector, watcher, WatchStreamExt};
    let (reader, writer) = reflector::store::<K>();
    let config = watcher::Config::default()
        .labels(crate::desired::meta::MANAGED_SELECTOR)
        .any_semantic();
    let stream = watcher(Api::<K>::all(client.clone()), config)
        .default_backoff()
        .reflect(writer)
        .touched_objects();
    (reader, stream)
}

/// Runs the controller until `shutdown` resolves: watches Postagrams (generation changes
/// only, so its own status writes do not loop) and every child kind, and sets `ready` once
/// all caches have synced.
pub async fn run(
    client: Client,
    reporter: Reporter,
    metrics: Arc<Metrics>,
    ready: Arc<std::sync::atomic::AtomicBool>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    use futures::StreamExt;
    use kube::runtime::{predicates, reflector, watcher, Controller, WatchStreamExt};

    let (pg_reader, pg_writer) = reflector::store::<Postagram>();
    let postagrams = watcher(
        Api::<Postagram>::all(client.clone()),
        watcher::Config::default().any_semantic(),
    )
    .default_backoff()
    .reflect(pg_writer)
    .applied_objects()
    .predicate_filter(predicates::generation, Default::default());

    let (service_accounts, sa_stream) = child_watch::<ServiceAccount>(&client);
    let (config_maps, cm_stream) = child_watch::<ConfigMap>(&client);
    let (claims, pvc_stream) = child_watch::<PersistentVolumeClaim>(&client);
    let (deployments, deploy_stream) = child_watch::<Deployment>(&client);
    let (services, svc_stream) = child_watch::<Service>(&client);
    let (hpas, hpa_stream) = child_watch::<HorizontalPodAutoscaler>(&client);
    let (pdbs, pdb_stream) = child_watch::<PodDisruptionBudget>(&client);
    let (ingresses, ing_stream) = child_watch::<Ingress>(&client);
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

    {
        let (pg, s, ready) = (pg_reader.clone(), stores.clone(), ready.clone());
        tokio::spawn(async move {
            let synced = futures::future::join_all([
                Box::pin(pg.wait_until_ready())
                    as std::pin::Pin<Box<dyn std::future::Future<Output = _> + Send>>,
                Box::pin(s.service_accounts.wait_until_ready()),
                Box::pin(s.config_maps.wait_until_ready()),
                Box::pin(s.claims.wait_until_ready()),
                Box::pin(s.deployments.wait_until_ready()),
                Box::pin(s.services.wait_until_ready()),
                Box::pin(s.hpas.wait_until_ready()),
                Box::pin(s.pdbs.wait_until_ready()),
                Box::pin(s.ingresses.wait_until_ready()),
            ])
            .await;
            if synced.iter().all(Result::is_ok) {
                info!("caches synced");
                ready.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        });
    }

    let ctx = Arc::new(Context::new(client, reporter, stores, metrics));
    Controller::for_stream(postagrams, pg_reader)
        .owns_stream(sa_stream)
        .owns_stream(cm_stream)
        .owns_stream(pvc_stream)
        .owns_stream(deploy_stream)
        .owns_stream(svc_stream)
        .owns_stream(hpa_stream)
        .owns_stream(pdb_stream)
        .owns_stream(ing_stream)
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
