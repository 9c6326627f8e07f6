//! The validate stage: what the CRD schema cannot check (rules a stored object may predate,
//! Secrets the spec references). A problem here is not an error: it ends in a Degraded
//! status and touches no child.

use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;

use super::Context;
use crate::crd::Postagram;
use crate::desired::settings::referenced_secrets;
use crate::error::Result;
use crate::status::Problem;

/// The first problem with the spec, if any.
pub(super) async fn validate(ctx: &Context, pg: &Postagram, ns: &str) -> Result<Option<Problem>> {
    if let Err(p) = pg.spec.validate() {
        return Ok(Some(Problem {
            reason: p.reason.into(),
            message: p.message,
        }));
    }
    check_referenced_secrets(ctx, pg, ns).await
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
