//! The status stage: the Postagram's status (written only when it changes) and its Events.

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::Resource;
use tracing::{info, warn};

use super::{cached, Context};
use crate::crd::{Postagram, StorageSpec};
use crate::desired::meta::MANAGER;
use crate::desired::{names, Component, Owner};
use crate::error::Result;
use crate::status::{desired_status, is_degraded, Problem, Rollout};

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
    let rollout = |component| {
        Rollout::of(
            cached(
                &ctx.stores.deployments,
                &owner.namespace,
                &names::workload(owner, component),
            )
            .as_deref(),
        )
    };
    let api_rollout = rollout(Component::Api);
    let labeler_rollout =
        matches!(pg.spec.storage, StorageSpec::Aws(_)).then(|| rollout(Component::Labeler));
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
pub(super) async fn degrade(
    ctx: &Context,
    pg: &Postagram,
    owner: &Owner,
    problem: Problem,
) -> Result<Action> {
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

/// Reports a successful apply: a Normal Event naming what was written (none when nothing
/// was), then the status.
pub(super) async fn applied(
    ctx: &Context,
    pg: &Postagram,
    owner: &Owner,
    changed: &[String],
) -> Result<()> {
    if !changed.is_empty() {
        info!(changed = ?changed, "applied children");
        publish(
            ctx,
            pg,
            EventType::Normal,
            "Applied",
            "Reconcile",
            format!("applied {}", changed.join(", ")),
        )
        .await;
    }
    patch_status_if_changed(ctx, pg, owner, None).await?;
    Ok(())
}
