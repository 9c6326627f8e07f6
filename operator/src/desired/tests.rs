//! Unit tests of the desired-state builders for every mode and option.

use k8s_openapi::api::core::v1::Container;
use kube::api::ObjectMeta;
use postagram_core::settings::env;
use serde_json::json;

use super::meta::{desired_hash_of, CONFIG_HASH};
use super::*;
use crate::crd::{Postagram, PostagramSpec};

/// A Postagram as the API server would hand it over (uid set, namespaced).
pub fn postagram(spec: serde_json::Value) -> Postagram {
    let spec: PostagramSpec = serde_json::from_value(spec).expect("spec");
    let mut pg = Postagram::new("demo", spec);
    pg.metadata = ObjectMeta {
        name: Some("demo".into()),
        namespace: Some("photos".into()),
        uid: Some("0000-uid".into()),
        generation: Some(1),
        ..ObjectMeta::default()
    };
    pg
}

fn build(spec: serde_json::Value) -> Children {
    let pg = postagram(spec);
    let owner = Owner::of(&pg).expect("owner");
    Children::build(&owner, &pg.spec)
}

fn aws() -> serde_json::Value {
    json!({"region": "eu-west-1", "table": "posts", "bucket": "pics", "queueUrl": "https://sqs.example/q"})
}

fn container(d: &k8s_openapi::api::apps::v1::Deployment) -> &Container {
    &d.spec
        .as_ref()
        .expect("spec")
        .template
        .spec
        .as_ref()
        .expect("pod")
        .containers[0]
}

fn env_names(c: &Container) -> Vec<String> {
    c.env.iter().flatten().map(|e| e.name.clone()).collect()
}

#[test]
fn embedded_default_runs_one_api_with_a_claim_and_no_autoscaling() {
    let c = build(json!({}));
    let api = c.api_deployment.spec.as_ref().expect("spec");
    assert_eq!(api.replicas, Some(1));
    let ru = api
        .strategy
        .as_ref()
        .and_then(|s| s.rolling_update.as_ref())
        .expect("rolling");
    assert_eq!(serde_json::to_value(&ru.max_surge).expect("json"), json!(0));
    let claim = c.data_claim.as_ref().expect("claim");
    assert_eq!(claim.metadata.name.as_deref(), Some("demo-data"));
    assert_eq!(
        serde_json::to_value(claim).expect("json")["spec"]["resources"]["requests"]["storage"],
        "1Gi"
    );
    let pod = api.template.spec.as_ref().expect("pod");
    let vols: Vec<_> = pod
        .volumes
        .iter()
        .flatten()
        .map(|v| v.name.as_str())
        .collect();
    assert_eq!(vols, ["data", "tmp"]);
    assert!(c.api_hpa.is_none() && c.labeler_hpa.is_none());
    assert!(c.api_pdb.is_none() && c.labeler_pdb.is_none());
    assert!(c.labeler_deployment.is_none(), "labeler runs in-process");
    assert!(c.ingress.is_none());
    let data = c.config_map.data.as_ref().expect("data");
    assert_eq!(data[env::STORE], "embedded");
    assert_eq!(data[env::DATA_DIR], "/data");
    assert_eq!(data[env::ADDR], "0.0.0.0:8080");
    assert_eq!(data[env::PUBLIC_URL], "http://demo-api.photos.svc:8080");
    assert_eq!(data[env::MAX_LABELS], "5");
    assert_eq!(data[env::MIN_CONFIDENCE], "10");
    assert_eq!(data[env::DETECTOR], "local");
    assert_eq!(data["RUST_LOG"], "info");
    assert!(!data.contains_key(env::TABLE));
    assert_eq!(
        scaling::autoscaling_summary(&postagram(json!({})).spec),
        scaling::EMBEDDED_NO_AUTOSCALING
    );
}

#[test]
fn every_child_is_owned_labelled_and_hashed() {
    for spec in [
        json!({}),
        json!({"storage": {"aws": aws()}, "ingress": {"host": "h.example", "tls": {}}}),
    ] {
        let c = build(spec);
        let manifests = c.manifests();
        assert!(manifests.len() >= 5);
        for m in manifests {
            let meta = &m["metadata"];
            assert_eq!(meta["namespace"], "photos", "{m}");
            assert_eq!(meta["ownerReferences"][0]["uid"], "0000-uid", "{m}");
            assert_eq!(meta["ownerReferences"][0]["controller"], true, "{m}");
            assert_eq!(meta["ownerReferences"][0]["kind"], "Postagram", "{m}");
            assert_eq!(
                meta["labels"]["app.kubernetes.io/managed-by"],
                "postagram-operator"
            );
            assert_eq!(meta["labels"]["app.kubernetes.io/instance"], "demo");
            if m["kind"] != "Secret" {
                assert!(
                    meta["annotations"]["postagram.dev/desired-hash"].is_string(),
                    "{m}"
                );
            }
            assert!(m["apiVersion"].is_string() && m["kind"].is_string());
        }
    }
}

#[test]
fn pods_are_non_root_read_only_probed_and_requested() {
    let c = build(json!({"storage": {"aws": aws()}}));
    for d in [
        &c.api_deployment,
        c.labeler_deployment.as_ref().expect("labeler"),
    ] {
        let pod = d
            .spec
            .as_ref()
            .expect("spec")
            .template
            .spec
            .as_ref()
            .expect("pod");
        let psc = pod.security_context.as_ref().expect("psc");
        assert_eq!(psc.run_as_non_root, Some(true));
        assert_eq!(psc.run_as_user, Some(65532));
        let ctr = container(d);
        let sc = ctr.security_context.as_ref().expect("sc");
        assert_eq!(sc.read_only_root_filesystem, Some(true));
        assert_eq!(sc.allow_privilege_escalation, Some(false));
        assert_eq!(
            ctr.liveness_probe
                .as_ref()
                .and_then(|p| p.http_get.as_ref())
                .and_then(|h| h.path.as_deref()),
            Some("/healthz")
        );
        assert_eq!(
            ctr.readiness_probe
                .as_ref()
                .and_then(|p| p.http_get.as_ref())
                .and_then(|h| h.path.as_deref()),
            Some("/readyz")
        );
        let req = ctr
            .resources
            .as_ref()
            .and_then(|r| r.requests.as_ref())
            .expect("requests");
        assert!(req.contains_key("cpu") && req.contains_key("memory"));
        assert_eq!(
            d.spec
                .as_ref()
                .and_then(|s| s.strategy.as_ref())
                .and_then(|s| s.type_.as_deref()),
            Some("RollingUpdate")
        );
        let annotations = d
            .spec
            .as_ref()
            .expect("spec")
            .template
            .metadata
            .as_ref()
            .and_then(|m| m.annotations.as_ref())
            .expect("annotations");
        assert!(annotations.contains_key(CONFIG_HASH));
    }
}

#[test]
fn aws_mode_runs_stateless_api_and_sqs_workers_with_autoscaling() {
    let c = build(json!({
        "storage": {"aws": aws()},
        "api": {"replicas": {"min": 2, "max": 6}, "targetCPUUtilization": 60}
    }));
    assert!(c.data_claim.is_none());
    let api = c.api_deployment.spec.as_ref().expect("spec");
    assert_eq!(api.replicas, None, "the HPA owns replicas");
    assert!(api
        .template
        .spec
        .as_ref()
        .expect("pod")
        .volumes
        .iter()
        .flatten()
        .all(|v| v.name != "data"));
    let labeler = c.labeler_deployment.as_ref().expect("labeler");
    assert_eq!(
        container(labeler).args.as_deref(),
        Some(&["worker".to_string(), "--source".into(), "sqs".into()][..])
    );
    assert_eq!(
        container(labeler).image.as_deref(),
        Some(crate::crd::DEFAULT_LABELER_IMAGE)
    );
    let hpa = serde_json::to_value(c.api_hpa.as_ref().expect("hpa")).expect("json");
    assert_eq!(hpa["apiVersion"], "autoscaling/v2");
    assert_eq!(hpa["spec"]["minReplicas"], 2);
    assert_eq!(hpa["spec"]["maxReplicas"], 6);
    assert_eq!(hpa["spec"]["scaleTargetRef"]["name"], "demo-api");
    assert_eq!(
        hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
        60
    );
    let lhpa = serde_json::to_value(c.labeler_hpa.as_ref().expect("hpa")).expect("json");
    assert_eq!(lhpa["spec"]["minReplicas"], 1);
    assert_eq!(lhpa["spec"]["maxReplicas"], 4);
    assert!(c.api_pdb.is_some() && c.labeler_pdb.is_some());
    let data = c.config_map.data.as_ref().expect("data");
    assert_eq!(data[env::STORE], "aws");
    assert_eq!(data["AWS_REGION"], "eu-west-1");
    assert_eq!(data[env::TABLE], "posts");
    assert_eq!(data[env::BUCKET], "pics");
    assert_eq!(data[env::QUEUE_URL], "https://sqs.example/q");
    assert!(!data.contains_key(env::DATA_DIR));
    assert!(!data.contains_key(env::AWS_ENDPOINT_URL));
}

#[test]
fn aws_credentials_from_secret_or_service_account() {
    let mut storage = aws();
    storage["credentialsSecret"] = json!("aws-creds");
    storage["endpointUrl"] = json!("http://minio:9000");
    let c = build(json!({"storage": {"aws": storage}}));
    let names = env_names(container(&c.api_deployment));
    assert_eq!(
        names,
        [
            env::JWT_SECRET,
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN"
        ]
    );
    // The labeler gets the credentials but not the JWT secret (it never reads it).
    let labeler = container(c.labeler_deployment.as_ref().expect("l"));
    assert_eq!(
        env_names(labeler),
        [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN"
        ]
    );
    let env = serde_json::to_value(&labeler.env).expect("json");
    assert_eq!(env[0]["valueFrom"]["secretKeyRef"]["name"], "aws-creds");
    assert_eq!(env[2]["valueFrom"]["secretKeyRef"]["optional"], true);
    assert_eq!(
        c.config_map.data.as_ref().expect("d")[env::AWS_ENDPOINT_URL],
        "http://minio:9000"
    );
    assert!(c
        .service_account
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(storage::IRSA_ANNOTATION))
        .is_none());

    let mut storage = aws();
    storage["roleArn"] = json!("arn:aws:iam::1:role/postagram");
    let c = build(json!({"storage": {"aws": storage}}));
    assert_eq!(
        c.service_account.metadata.annotations.as_ref().expect("a")[storage::IRSA_ANNOTATION],
        "arn:aws:iam::1:role/postagram"
    );
    assert_eq!(
        c.service_account.automount_service_account_token,
        Some(true)
    );
    assert_eq!(env_names(container(&c.api_deployment)), [env::JWT_SECRET]);
}

#[test]
fn jwt_secret_generated_referenced_or_absent() {
    let c = build(json!({}));
    let s = c.jwt_secret.as_ref().expect("generated");
    assert_eq!(s.metadata.name.as_deref(), Some("demo-jwt"));
    let value = &s.data.as_ref().expect("data")[settings::GENERATED_JWT_KEY];
    assert!(value.0.len() >= 60, "48 random bytes, base64");
    let other = build(json!({})).jwt_secret.expect("generated");
    assert_ne!(other.data, s.data, "random per generation");
    let env = serde_json::to_value(&container(&c.api_deployment).env).expect("json");
    assert_eq!(
        env[0]["valueFrom"]["secretKeyRef"],
        json!({"name": "demo-jwt", "key": "jwt-secret"})
    );

    let c = build(json!({"auth": {"jwtSecretRef": {"name": "mine"}}}));
    assert!(c.jwt_secret.is_none());
    let env = serde_json::to_value(&container(&c.api_deployment).env).expect("json");
    assert_eq!(
        env[0]["valueFrom"]["secretKeyRef"],
        json!({"name": "mine", "key": "jwt-secret"})
    );
    assert_eq!(
        settings::referenced_secrets(
            &postagram(json!({"auth": {"jwtSecretRef": {"name": "mine"}}})).spec
        ),
        ["mine"]
    );

    let c = build(json!({"auth": {"mode": "header"}}));
    assert!(c.jwt_secret.is_none());
    assert!(container(&c.api_deployment).env.is_none());
    assert_eq!(c.config_map.data.as_ref().expect("d")[env::AUTH], "header");
}

#[test]
fn ingress_with_and_without_tls() {
    let c = build(
        json!({"ingress": {"host": "photos.example.com", "className": "nginx",
        "tls": {"clusterIssuer": "letsencrypt"}}}),
    );
    let ing = serde_json::to_value(c.ingress.as_ref().expect("ingress")).expect("json");
    assert_eq!(
        ing["metadata"]["annotations"]["cert-manager.io/cluster-issuer"],
        "letsencrypt"
    );
    assert_eq!(ing["spec"]["ingressClassName"], "nginx");
    assert_eq!(
        ing["spec"]["tls"][0],
        json!({"hosts": ["photos.example.com"], "secretName": "demo-tls"})
    );
    assert_eq!(
        ing["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"],
        "demo-api"
    );
    assert_eq!(
        c.config_map.data.as_ref().expect("d")[env::PUBLIC_URL],
        "https://photos.example.com"
    );

    let c = build(
        json!({"ingress": {"host": "h.example", "tls": {"issuer": "local", "secretName": "cert"}}}),
    );
    let ing = serde_json::to_value(c.ingress.as_ref().expect("ingress")).expect("json");
    assert_eq!(
        ing["metadata"]["annotations"]["cert-manager.io/issuer"],
        "local"
    );
    assert_eq!(ing["spec"]["tls"][0]["secretName"], "cert");

    let c = build(json!({"ingress": {"host": "plain.example"}}));
    let ing = serde_json::to_value(c.ingress.as_ref().expect("ingress")).expect("json");
    assert!(ing["spec"]["tls"].is_null());
    assert_eq!(
        c.config_map.data.as_ref().expect("d")[env::PUBLIC_URL],
        "http://plain.example"
    );

    let c = build(json!({"publicUrl": "https://p.example", "ingress": {"host": "plain.example"}}));
    assert_eq!(
        c.config_map.data.as_ref().expect("d")[env::PUBLIC_URL],
        "https://p.example"
    );
}

#[test]
fn labeler_options_reach_the_config() {
    let c = build(
        json!({"labeler": {"detector": "rekognition", "maxLabels": 9, "minConfidence": 0,
        "modelPath": "/models/m.onnx"}, "corsOrigins": ["https://a", "https://b"], "logLevel": "debug"}),
    );
    let data = c.config_map.data.as_ref().expect("d");
    assert_eq!(data[env::DETECTOR], "rekognition");
    assert_eq!(data[env::MAX_LABELS], "9");
    assert_eq!(data[env::MIN_CONFIDENCE], "0");
    assert_eq!(data[env::MODEL_PATH], "/models/m.onnx");
    assert_eq!(data[env::CORS_ORIGINS], "https://a,https://b");
    assert_eq!(data["RUST_LOG"], "debug");
}

#[test]
fn resources_override_and_storage_class() {
    let c = build(json!({
        "api": {"resources": {"requests": {"cpu": "1"}}},
        "storage": {"embedded": {"size": "5Gi", "storageClassName": "fast"}}
    }));
    let r = serde_json::to_value(&container(&c.api_deployment).resources).expect("json");
    assert_eq!(r, json!({"requests": {"cpu": "1"}}));
    let claim = serde_json::to_value(c.data_claim.as_ref().expect("claim")).expect("json");
    assert_eq!(claim["spec"]["storageClassName"], "fast");
    assert_eq!(claim["spec"]["resources"]["requests"]["storage"], "5Gi");
}

#[test]
fn config_hash_rolls_pods_on_config_change_only() {
    let pod_hash = |c: &Children| {
        c.api_deployment
            .spec
            .as_ref()
            .expect("s")
            .template
            .metadata
            .as_ref()
            .and_then(|m| m.annotations.as_ref())
            .expect("a")[CONFIG_HASH]
            .clone()
    };
    let base = build(json!({"storage": {"aws": aws()}}));
    let same = build(json!({"storage": {"aws": aws()}}));
    assert_eq!(pod_hash(&base), pod_hash(&same));
    assert_eq!(
        desired_hash_of(&base.api_deployment),
        desired_hash_of(&same.api_deployment)
    );
    let scaled =
        build(json!({"storage": {"aws": aws()}, "api": {"replicas": {"min": 2, "max": 9}}}));
    assert_eq!(
        pod_hash(&base),
        pod_hash(&scaled),
        "scaling does not roll pods"
    );
    assert_eq!(
        desired_hash_of(&base.api_deployment),
        desired_hash_of(&scaled.api_deployment)
    );
    assert_ne!(
        desired_hash_of(base.api_hpa.as_ref().expect("h")),
        desired_hash_of(scaled.api_hpa.as_ref().expect("h"))
    );
    let reconfigured = build(json!({"storage": {"aws": aws()}, "labeler": {"maxLabels": 3}}));
    assert_ne!(pod_hash(&base), pod_hash(&reconfigured));
    assert_ne!(
        desired_hash_of(&base.config_map),
        desired_hash_of(&reconfigured.config_map)
    );
}
