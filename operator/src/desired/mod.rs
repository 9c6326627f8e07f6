//! Desired state: pure functions from a `Postagram` to the objects the operator applies.
//! Nothing here talks to the API server, so every mode and option is unit-tested.

pub mod exposure;
pub mod meta;
pub mod scaling;
pub mod settings;
pub mod storage;
pub mod workload;

#[cfg(test)]
mod tests;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{
    ConfigMap, PersistentVolumeClaim, Secret, Service, ServiceAccount,
};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;

pub use meta::{Component, Owner};

use crate::crd::PostagramSpec;

/// Every child of one Postagram, in apply order. `None` means "must not exist".
#[derive(Clone, Debug)]
pub struct Children {
    /// Identity of the pods.
    pub service_account: ServiceAccount,
    /// The `POSTAGRAM_*` settings.
    pub config_map: ConfigMap,
    /// Generated JWT secret (created once, never applied).
    pub jwt_secret: Option<Secret>,
    /// Embedded data claim.
    pub data_claim: Option<PersistentVolumeClaim>,
    /// API Deployment.
    pub api_deployment: Deployment,
    /// API Service.
    pub api_service: Service,
    /// API autoscaler.
    pub api_hpa: Option<HorizontalPodAutoscaler>,
    /// API disruption budget.
    pub api_pdb: Option<PodDisruptionBudget>,
    /// Labeler worker Deployment.
    pub labeler_deployment: Option<Deployment>,
    /// Labeler autoscaler.
    pub labeler_hpa: Option<HorizontalPodAutoscaler>,
    /// Labeler disruption budget.
    pub labeler_pdb: Option<PodDisruptionBudget>,
    /// Ingress.
    pub ingress: Option<Ingress>,
}

impl Children {
    /// Builds the desired children of a Postagram.
    pub fn build(owner: &Owner, spec: &PostagramSpec) -> Self {
        Self {
            service_account: storage::service_account(owner, spec),
            config_map: settings::config_map(owner, spec),
            jwt_secret: settings::generated_jwt_secret(owner, spec),
            data_claim: storage::data_claim(owner, spec),
            api_deployment: workload::api_deployment(owner, spec),
            api_service: exposure::api_service(owner),
            api_hpa: scaling::hpa(owner, spec, Component::Api),
            api_pdb: scaling::pdb(owner, spec, Component::Api),
            labeler_deployment: workload::labeler_deployment(owner, spec),
            labeler_hpa: scaling::hpa(owner, spec, Component::Labeler),
            labeler_pdb: scaling::pdb(owner, spec, Component::Labeler),
            ingress: exposure::ingress(owner, spec),
        }
    }

    /// Every child that must exist, as JSON (for manifest validation and debugging).
    pub fn manifests(&self) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        let mut push = |v: serde_json::Result<serde_json::Value>| {
            if let Ok(v) = v {
                out.push(v);
            }
        };
        push(serde_json::to_value(&self.service_account));
        push(serde_json::to_value(&self.config_map));
        if let Some(s) = &self.jwt_secret {
            push(serde_json::to_value(s));
        }
        if let Some(c) = &self.data_claim {
            push(serde_json::to_value(c));
        }
        push(serde_json::to_value(&self.api_deployment));
        push(serde_json::to_value(&self.api_service));
        for o in [&self.api_hpa, &self.labeler_hpa].into_iter().flatten() {
            push(serde_json::to_value(o));
        }
        for o in [&self.api_pdb, &self.labeler_pdb].into_iter().flatten() {
            push(serde_json::to_value(o));
        }
        if let Some(d) = &self.labeler_deployment {
            push(serde_json::to_value(d));
        }
        if let Some(i) = &self.ingress {
            push(serde_json::to_value(i));
        }
        out
    }
}
