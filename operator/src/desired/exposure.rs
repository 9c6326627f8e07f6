//! The API Service and the optional Ingress (TLS through a cert-manager issuer annotation).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule,
    IngressServiceBackend, IngressSpec as K8sIngressSpec, IngressTLS, ServiceBackendPort,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::meta::{with_desired_hash, Component, Owner};
use super::names;
use crate::crd::PostagramSpec;
use postagram_core::settings::defaults;

/// cert-manager annotation naming a ClusterIssuer.
pub const CLUSTER_ISSUER: &str = "cert-manager.io/cluster-issuer";
/// cert-manager annotation naming a namespaced Issuer.
pub const ISSUER: &str = "cert-manager.io/issuer";

/// The ClusterIP Service of the API.
pub fn api_service(owner: &Owner) -> Service {
    with_desired_hash(Service {
        metadata: owner.meta(names::api_service(owner), Some(Component::Api)),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".into()),
            selector: Some(owner.selector(Component::Api)),
            ports: Some(vec![ServicePort {
                name: Some("http".into()),
                port: i32::from(defaults::HTTP_PORT),
                target_port: Some(IntOrString::String("http".into())),
                protocol: Some("TCP".into()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    })
}

/// The Ingress, when `spec.ingress` is set.
pub fn ingress(owner: &Owner, spec: &PostagramSpec) -> Option<Ingress> {
    let ing = spec.ingress.as_ref()?;
    let mut metadata = owner.meta(names::ingress(owner), Some(Component::Api));
    let mut annotations: BTreeMap<String, String> = ing.annotations.clone();
    let tls = ing.tls.as_ref().map(|tls| {
        if let Some(issuer) = &tls.cluster_issuer {
            annotations.insert(CLUSTER_ISSUER.into(), issuer.clone());
        }
        if let Some(issuer) = &tls.issuer {
            annotations.insert(ISSUER.into(), issuer.clone());
        }
        vec![IngressTLS {
            hosts: Some(vec![ing.host.clone()]),
            secret_name: Some(
                tls.secret_name
                    .clone()
                    .unwrap_or_else(|| names::default_tls_secret(owner)),
            ),
        }]
    });
    if !annotations.is_empty() {
        metadata.annotations = Some(annotations);
    }
    Some(with_desired_hash(Ingress {
        metadata,
        spec: Some(K8sIngressSpec {
            ingress_class_name: ing.class_name.clone(),
            tls,
            rules: Some(vec![IngressRule {
                host: Some(ing.host.clone()),
                http: Some(HTTPIngressRuleValue {
                    paths: vec![HTTPIngressPath {
                        path: Some("/".into()),
                        path_type: "Prefix".into(),
                        backend: IngressBackend {
                            service: Some(IngressServiceBackend {
                                name: names::api_service(owner),
                                port: Some(ServiceBackendPort {
                                    name: Some("http".into()),
                                    number: None,
                                }),
                            }),
                            ..IngressBackend::default()
                        },
                    }],
                }),
            }]),
            ..K8sIngressSpec::default()
        }),
        ..Ingress::default()
    }))
}
