//! Desired state: pure functions from a `Postagram` to the objects the operator applies.
//! Nothing here talks to the API server, so every mode and option is unit-tested.

pub mod exposure;
pub mod meta;
pub mod names;
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

use serde::Serialize;

use crate::crd::PostagramSpec;

/// Every child of one Postagram, as the builders made them. `None` means "must not exist".
/// [`Children::in_apply_order`] is the list the applier walks.
#[derive(Clone, Debug)]
pub struct Children {
    /// Whose children these are (names and namespace of the ones that must not exist).
    pub owner: Owner,
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

/// What the applier does with an existing child the spec does not want (any more).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unwanted {
    /// Delete it, when this Postagram owns it.
    Prune,
    /// Leave it: the data claim (deleting it would delete the embedded database and
    /// pictures) and the generated Secret. Both go with the Postagram (garbage collection).
    Keep,
}

/// One child: the name it has in the Postagram's namespace and the object the spec wants
/// under that name (`None`: the spec wants none). Serializes as the desired object.
#[derive(Clone, Debug, Serialize)]
#[serde(transparent)]
pub struct Child<'a, K> {
    /// `metadata.name`, from [`names`].
    #[serde(skip)]
    pub name: String,
    /// The object to apply, if the spec wants one.
    pub desired: Option<&'a K>,
    /// What happens to an existing object when `desired` is `None`.
    #[serde(skip)]
    pub unwanted: Unwanted,
}

/// A child of any kind, so every child can be walked in one list.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum AnyChild<'a> {
    /// Applied.
    ServiceAccount(Child<'a, ServiceAccount>),
    /// Applied.
    ConfigMap(Child<'a, ConfigMap>),
    /// Created once and never updated: running pods keep the key they started with.
    Secret(Child<'a, Secret>),
    /// Applied.
    PersistentVolumeClaim(Child<'a, PersistentVolumeClaim>),
    /// Applied.
    Deployment(Child<'a, Deployment>),
    /// Applied.
    Service(Child<'a, Service>),
    /// Applied.
    HorizontalPodAutoscaler(Child<'a, HorizontalPodAutoscaler>),
    /// Applied.
    PodDisruptionBudget(Child<'a, PodDisruptionBudget>),
    /// Applied.
    Ingress(Child<'a, Ingress>),
}

fn wanted<K>(name: String, desired: &K) -> Child<'_, K> {
    Child {
        name,
        desired: Some(desired),
        unwanted: Unwanted::Prune,
    }
}

fn optional<K>(name: String, desired: Option<&K>, unwanted: Unwanted) -> Child<'_, K> {
    Child {
        name,
        desired,
        unwanted,
    }
}

impl Children {
    /// Builds the desired children of a Postagram.
    pub fn build(owner: &Owner, spec: &PostagramSpec) -> Self {
        Self {
            owner: owner.clone(),
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

    /// Every child, wanted or not, in the order the applier writes them: identity and
    /// settings before the pods that read them, each workload before its autoscaler and
    /// budget, the Ingress last.
    pub fn in_apply_order(&self) -> Vec<AnyChild<'_>> {
        use Unwanted::{Keep, Prune};
        let o = &self.owner;
        let (api, labeler) = (Component::Api, Component::Labeler);
        vec![
            AnyChild::ServiceAccount(wanted(names::service_account(o), &self.service_account)),
            AnyChild::ConfigMap(wanted(names::config_map(o), &self.config_map)),
            AnyChild::Secret(optional(
                names::generated_jwt_secret(o),
                self.jwt_secret.as_ref(),
                Keep,
            )),
            AnyChild::PersistentVolumeClaim(optional(
                names::data_claim(o),
                self.data_claim.as_ref(),
                Keep,
            )),
            AnyChild::Deployment(wanted(names::workload(o, api), &self.api_deployment)),
            AnyChild::Service(wanted(names::api_service(o), &self.api_service)),
            AnyChild::HorizontalPodAutoscaler(optional(
                names::workload(o, api),
                self.api_hpa.as_ref(),
                Prune,
            )),
            AnyChild::PodDisruptionBudget(optional(
                names::workload(o, api),
                self.api_pdb.as_ref(),
                Prune,
            )),
            AnyChild::Deployment(optional(
                names::workload(o, labeler),
                self.labeler_deployment.as_ref(),
                Prune,
            )),
            AnyChild::HorizontalPodAutoscaler(optional(
                names::workload(o, labeler),
                self.labeler_hpa.as_ref(),
                Prune,
            )),
            AnyChild::PodDisruptionBudget(optional(
                names::workload(o, labeler),
                self.labeler_pdb.as_ref(),
                Prune,
            )),
            AnyChild::Ingress(optional(names::ingress(o), self.ingress.as_ref(), Prune)),
        ]
    }

    /// Every child that must exist, as JSON in apply order (for `postagram-operator
    /// manifests`, manifest validation and debugging).
    pub fn manifests(&self) -> Vec<serde_json::Value> {
        self.in_apply_order()
            .iter()
            .filter_map(|c| serde_json::to_value(c).ok())
            .filter(|v| !v.is_null())
            .collect()
    }
}
