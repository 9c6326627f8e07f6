//! The API and labeler Deployments: pod templates with probes, resources, non-root read-only
//! security contexts, rolling updates and the configuration hash.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment,
};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, ContainerPort, EmptyDirVolumeSource, HTTPGetAction,
    PersistentVolumeClaimVolumeSource, PodSecurityContext, PodSpec, PodTemplateSpec, Probe,
    ResourceRequirements, SeccompProfile, SecurityContext, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::meta::{with_desired_hash, Component, Owner, CONFIG_HASH};
use super::names;
use super::settings::{config_hash, env_from, secret_env_vars};
use crate::crd::{PostagramSpec, StorageSpec};
use postagram_core::settings::defaults::{self, DATA_MOUNT};

/// UID/GID the containers run as (distroless `nonroot`).
pub const RUN_AS: i64 = 65532;

fn quantity(s: &str) -> Quantity {
    Quantity(s.into())
}

/// Requests (and a memory limit) used when the spec gives no resources.
pub fn default_resources(component: Component) -> ResourceRequirements {
    let (cpu, mem, limit) = match component {
        Component::Api => ("100m", "128Mi", "512Mi"),
        Component::Labeler => ("250m", "256Mi", "1Gi"),
    };
    ResourceRequirements {
        requests: Some(BTreeMap::from([
            ("cpu".into(), quantity(cpu)),
            ("memory".into(), quantity(mem)),
        ])),
        limits: Some(BTreeMap::from([("memory".into(), quantity(limit))])),
        ..ResourceRequirements::default()
    }
}

fn probe(path: &str, period: i32, failures: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.into()),
            port: IntOrString::String("http".into()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(period),
        failure_threshold: Some(failures),
        timeout_seconds: Some(2),
        ..Probe::default()
    }
}

fn container_security() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        read_only_root_filesystem: Some(true),
        run_as_non_root: Some(true),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".into()]),
            ..Capabilities::default()
        }),
        ..SecurityContext::default()
    }
}

fn pod_security() -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(RUN_AS),
        run_as_group: Some(RUN_AS),
        fs_group: Some(RUN_AS),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".into(),
            ..SeccompProfile::default()
        }),
        ..PodSecurityContext::default()
    }
}

fn volume_mount(name: &str, path: &str) -> VolumeMount {
    VolumeMount {
        name: name.into(),
        mount_path: path.into(),
        ..VolumeMount::default()
    }
}

fn pod_template(
    owner: &Owner,
    spec: &PostagramSpec,
    component: Component,
    container: Container,
    mut volumes: Vec<Volume>,
) -> PodTemplateSpec {
    volumes.push(Volume {
        name: "tmp".into(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Volume::default()
    });
    let mut labels = owner.labels(Some(component));
    labels.extend(owner.selector(component));
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(labels),
            annotations: Some(BTreeMap::from([(
                CONFIG_HASH.into(),
                config_hash(owner, spec),
            )])),
            ..ObjectMeta::default()
        }),
        spec: Some(PodSpec {
            service_account_name: Some(names::service_account(owner)),
            automount_service_account_token: Some(matches!(spec.storage, StorageSpec::Aws(_))),
            security_context: Some(pod_security()),
            containers: vec![container],
            volumes: Some(volumes),
            termination_grace_period_seconds: Some(30),
            ..PodSpec::default()
        }),
    }
}

fn base_container(
    owner: &Owner,
    spec: &PostagramSpec,
    component: Component,
    image: &str,
    resources: Option<&ResourceRequirements>,
) -> Container {
    let env = secret_env_vars(owner, spec, component);
    Container {
        name: component.as_str().into(),
        image: Some(image.into()),
        env_from: Some(env_from(owner)),
        env: (!env.is_empty()).then_some(env),
        ports: Some(vec![ContainerPort {
            name: Some("http".into()),
            container_port: i32::from(defaults::HTTP_PORT),
            protocol: Some("TCP".into()),
            ..ContainerPort::default()
        }]),
        liveness_probe: Some(probe("/healthz", 10, 3)),
        readiness_probe: Some(probe("/readyz", 5, 3)),
        resources: Some(
            resources
                .cloned()
                .unwrap_or_else(|| default_resources(component)),
        ),
        security_context: Some(container_security()),
        volume_mounts: Some(vec![volume_mount("tmp", "/tmp")]),
        ..Container::default()
    }
}

fn deployment(
    owner: &Owner,
    component: Component,
    replicas: Option<i32>,
    strategy: RollingUpdateDeployment,
    template: PodTemplateSpec,
) -> Deployment {
    with_desired_hash(Deployment {
        metadata: owner.meta(names::workload(owner, component), Some(component)),
        spec: Some(DeploymentSpec {
            replicas,
            revision_history_limit: Some(5),
            selector: LabelSelector {
                match_labels: Some(owner.selector(component)),
                ..LabelSelector::default()
            },
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".into()),
                rolling_update: Some(strategy),
            }),
            template,
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    })
}

/// The API Deployment. Embedded: exactly one replica on the data claim, rolled by stopping
/// the old pod first (the claim is ReadWriteOnce). AWS: no `replicas` field, so the
/// HorizontalPodAutoscaler owns it, and surge-first rolling updates.
pub fn api_deployment(owner: &Owner, spec: &PostagramSpec) -> Deployment {
    let mut container = base_container(
        owner,
        spec,
        Component::Api,
        &spec.api.image,
        spec.api.resources.as_ref(),
    );
    match &spec.storage {
        StorageSpec::Embedded(_) => {
            if let Some(mounts) = container.volume_mounts.as_mut() {
                mounts.push(volume_mount("data", DATA_MOUNT));
            }
            let volumes = vec![Volume {
                name: "data".into(),
                persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                    claim_name: names::data_claim(owner),
                    read_only: None,
                }),
                ..Volume::default()
            }];
            let template = pod_template(owner, spec, Component::Api, container, volumes);
            deployment(
                owner,
                Component::Api,
                Some(1),
                RollingUpdateDeployment {
                    max_surge: Some(IntOrString::Int(0)),
                    max_unavailable: Some(IntOrString::Int(1)),
                },
                template,
            )
        }
        StorageSpec::Aws(_) => {
            let template = pod_template(owner, spec, Component::Api, container, vec![]);
            deployment(owner, Component::Api, None, surge_first(), template)
        }
    }
}

fn surge_first() -> RollingUpdateDeployment {
    RollingUpdateDeployment {
        max_surge: Some(IntOrString::String("25%".into())),
        max_unavailable: Some(IntOrString::Int(0)),
    }
}

/// The labeler worker Deployment (`postagram-labeler worker --source sqs`); AWS mode only,
/// embedded mode labels in the API process.
pub fn labeler_deployment(owner: &Owner, spec: &PostagramSpec) -> Option<Deployment> {
    let StorageSpec::Aws(_) = &spec.storage else {
        return None;
    };
    let mut container = base_container(
        owner,
        spec,
        Component::Labeler,
        &spec.labeler.image,
        spec.labeler.resources.as_ref(),
    );
    container.args = Some(vec!["worker".into(), "--source".into(), "sqs".into()]);
    let template = pod_template(owner, spec, Component::Labeler, container, vec![]);
    Some(deployment(
        owner,
        Component::Labeler,
        None,
        surge_first(),
        template,
    ))
}
