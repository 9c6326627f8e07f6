//! The applier: walks the children in apply order, server-side applies each one the spec
//! wants (skipping those whose cached copy already carries the desired hash), deletes the
//! unwanted ones this Postagram owns, and creates the generated Secret once.

use std::fmt::Debug;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::NamespaceResourceScope;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::reflector::Store;
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{cached, Context};
use crate::desired::meta::{desired_hash_of, MANAGER};
use crate::desired::{AnyChild, Child, Children, Owner, Unwanted};
use crate::error::Result;

/// Applies or prunes every child; returns what was written (`"Deployment demo-api"`,
/// `"deleted HorizontalPodAutoscaler demo-api"`), empty when nothing was.
pub(super) async fn apply_all(
    ctx: &Context,
    owner: &Owner,
    children: &Children,
) -> Result<Vec<String>> {
    let s = &ctx.stores;
    let mut changed = Vec::new();
    for child in children.in_apply_order() {
        let changed = &mut changed;
        match child {
            AnyChild::ServiceAccount(c) => {
                apply_or_prune(ctx, &s.service_accounts, owner, c, changed).await
            }
            AnyChild::ConfigMap(c) => apply_or_prune(ctx, &s.config_maps, owner, c, changed).await,
            AnyChild::Secret(c) => create_once(ctx, owner, c, changed).await,
            AnyChild::PersistentVolumeClaim(c) => {
                apply_or_prune(ctx, &s.claims, owner, c, changed).await
            }
            AnyChild::Deployment(c) => apply_or_prune(ctx, &s.deployments, owner, c, changed).await,
            AnyChild::Service(c) => apply_or_prune(ctx, &s.services, owner, c, changed).await,
            AnyChild::HorizontalPodAutoscaler(c) => {
                apply_or_prune(ctx, &s.hpas, owner, c, changed).await
            }
            AnyChild::PodDisruptionBudget(c) => {
                apply_or_prune(ctx, &s.pdbs, owner, c, changed).await
            }
            AnyChild::Ingress(c) => apply_or_prune(ctx, &s.ingresses, owner, c, changed).await,
        }?;
    }
    Ok(changed)
}

/// What the applier needs of a child kind: namespaced, cached by a reflector, applied
/// with server-side apply (serialised) and read back (deserialised). Named once so the
/// apply, prune and dispatch functions share one bound.
trait ChildKind:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + Serialize
    + DeserializeOwned
    + Debug
    + 'static
{
}

impl<K> ChildKind for K where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + Serialize
        + DeserializeOwned
        + Debug
        + 'static
{
}

/// Applies the child when the spec wants it, prunes it when it does not (and may).
async fn apply_or_prune<K: ChildKind>(
    ctx: &Context,
    store: &Store<K>,
    owner: &Owner,
    child: Child<'_, K>,
    changed: &mut Vec<String>,
) -> Result<()> {
    match (child.desired, child.unwanted) {
        (Some(desired), _) => apply_one(ctx, store, owner, &child.name, desired, changed).await,
        (None, Unwanted::Prune) => prune(ctx, store, owner, &child.name, changed).await,
        (None, Unwanted::Keep) => Ok(()),
    }
}

/// Applies `desired` unless the cached child already carries its hash.
async fn apply_one<K: ChildKind>(
    ctx: &Context,
    store: &Store<K>,
    owner: &Owner,
    name: &str,
    desired: &K,
    changed: &mut Vec<String>,
) -> Result<()> {
    if let Some(existing) = cached(store, &owner.namespace, name) {
        if desired_hash_of(existing.as_ref()).is_some()
            && desired_hash_of(existing.as_ref()) == desired_hash_of(desired)
        {
            return Ok(());
        }
    }
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &owner.namespace);
    api.patch(
        name,
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
async fn prune<K: ChildKind>(
    ctx: &Context,
    store: &Store<K>,
    owner: &Owner,
    name: &str,
    changed: &mut Vec<String>,
) -> Result<()> {
    let Some(existing) = cached(store, &owner.namespace, name) else {
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
    match api.delete(name, &DeleteParams::background()).await {
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

/// Creates the generated JWT Secret if it does not exist. Never updates or deletes it.
async fn create_once(
    ctx: &Context,
    owner: &Owner,
    child: Child<'_, Secret>,
    changed: &mut Vec<String>,
) -> Result<()> {
    let Some(secret) = child.desired else {
        return Ok(());
    };
    let name = child.name;
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
