//! The name of every child, in one place: the builders name their objects with these, the
//! applier prunes by them and the status reads the Deployments by them.

use super::meta::{Component, Owner};

fn suffixed(owner: &Owner, suffix: &str) -> String {
    format!("{}-{suffix}", owner.name)
}

/// The pods' ServiceAccount: the Postagram's own name.
pub fn service_account(owner: &Owner) -> String {
    owner.name.clone()
}

/// The `POSTAGRAM_*` ConfigMap, e.g. `demo-config`.
pub fn config_map(owner: &Owner) -> String {
    suffixed(owner, "config")
}

/// The Secret the operator generates when `auth.jwtSecretRef` is absent, e.g. `demo-jwt`.
pub fn generated_jwt_secret(owner: &Owner) -> String {
    suffixed(owner, "jwt")
}

/// The embedded data claim, e.g. `demo-data`.
pub fn data_claim(owner: &Owner) -> String {
    suffixed(owner, "data")
}

/// A component's Deployment, HorizontalPodAutoscaler and PodDisruptionBudget, and for the
/// API also its Service, e.g. `demo-api`, `demo-labeler`.
pub fn workload(owner: &Owner, component: Component) -> String {
    suffixed(owner, component.as_str())
}

/// The API Service (the workload name of the API).
pub fn api_service(owner: &Owner) -> String {
    workload(owner, Component::Api)
}

/// The Ingress: the Postagram's own name.
pub fn ingress(owner: &Owner) -> String {
    owner.name.clone()
}

/// The TLS Secret the Ingress names when `ingress.tls.secretName` is absent, e.g. `demo-tls`.
pub fn default_tls_secret(owner: &Owner) -> String {
    suffixed(owner, "tls")
}
