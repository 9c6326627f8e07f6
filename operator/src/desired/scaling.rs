//! HorizontalPodAutoscalers (autoscaling/v2, CPU target) and PodDisruptionBudgets; AWS mode
//! only, since embedded mode runs exactly one API replica.

use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec, MetricSpec,
    MetricTarget, ResourceMetricSource,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::meta::{with_desired_hash, Component, Owner};
use super::names;
use crate::crd::{PostagramSpec, StorageSpec};

/// Why autoscaling is off in embedded mode (shown in the status).
pub const EMBEDDED_NO_AUTOSCALING: &str =
    "disabled: embedded storage runs exactly one API replica on a ReadWriteOnce volume";

/// Why autoscaling is on (shown in the status).
pub fn autoscaling_summary(spec: &PostagramSpec) -> String {
    match spec.storage {
        StorageSpec::Embedded(_) => EMBEDDED_NO_AUTOSCALING.into(),
        StorageSpec::Aws(_) => format!(
            "enabled: api {}..{} at {}% CPU, labeler {}..{} at {}% CPU",
            spec.api.replicas.min,
            spec.api.replicas.max,
            spec.api.target_cpu_utilization,
            spec.labeler.replicas.min,
            spec.labeler.replicas.max,
            spec.labeler.target_cpu_utilization
        ),
    }
}

/// The autoscaler of a component's Deployment (AWS mode only).
pub fn hpa(
    owner: &Owner,
    spec: &PostagramSpec,
    component: Component,
) -> Option<HorizontalPodAutoscaler> {
    let StorageSpec::Aws(_) = spec.storage else {
        return None;
    };
    let (replicas, cpu) = match component {
        Component::Api => (spec.api.replicas, spec.api.target_cpu_utilization),
        Component::Labeler => (spec.labeler.replicas, spec.labeler.target_cpu_utilization),
    };
    let name = names::workload(owner, component);
    Some(with_desired_hash(HorizontalPodAutoscaler {
        metadata: owner.meta(name.clone(), Some(component)),
        spec: Some(HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("apps/v1".into()),
                kind: "Deployment".into(),
                name,
            },
            min_replicas: Some(replicas.min),
            max_replicas: replicas.max,
            metrics: Some(vec![MetricSpec {
                type_: "Resource".into(),
                resource: Some(ResourceMetricSource {
                    name: "cpu".into(),
                    target: MetricTarget {
                        type_: "Utilization".into(),
                        average_utilization: Some(cpu),
                        ..MetricTarget::default()
                    },
                }),
                ..MetricSpec::default()
            }]),
            ..HorizontalPodAutoscalerSpec::default()
        }),
        ..HorizontalPodAutoscaler::default()
    }))
}

/// A PodDisruptionBudget allowing one voluntary eviction at a time (AWS mode only; a budget
/// on embedded mode's single pod would only block node drains).
pub fn pdb(
    owner: &Owner,
    spec: &PostagramSpec,
    component: Component,
) -> Option<PodDisruptionBudget> {
    let StorageSpec::Aws(_) = spec.storage else {
        return None;
    };
    Some(with_desired_hash(PodDisruptionBudget {
        metadata: owner.meta(names::workload(owner, component), Some(component)),
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(1)),
            selector: Some(LabelSelector {
                match_labels: Some(owner.selector(component)),
                ..LabelSelector::default()
            }),
            ..PodDisruptionBudgetSpec::default()
        }),
        ..PodDisruptionBudget::default()
    }))
}
