//! The `POSTAGRAM_*` ConfigMap, the generated JWT Secret and the environment that points the
//! containers at them.

use std::collections::BTreeMap;

use base64::Engine;
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapEnvSource, EnvFromSource, EnvVar, EnvVarSource, Secret, SecretKeySelector,
};
use k8s_openapi::ByteString;
use rand::RngCore;

use super::meta::{hash_of, with_desired_hash, Component, Owner};
use super::names;
use crate::crd::{AuthMode, PostagramSpec, StorageSpec};
use postagram_core::settings::{defaults, env};

/// Key of the generated JWT Secret.
pub const GENERATED_JWT_KEY: &str = "jwt-secret";

/// Where clients reach the API: `spec.publicUrl`, else the Ingress, else the Service.
pub fn public_url(owner: &Owner, spec: &PostagramSpec) -> String {
    if let Some(url) = &spec.public_url {
        return url.clone();
    }
    match &spec.ingress {
        Some(ing) if ing.tls.is_some() => format!("https://{}", ing.host),
        Some(ing) => format!("http://{}", ing.host),
        None => format!(
            "http://{}.{}.svc:{}",
            names::api_service(owner),
            owner.namespace,
            defaults::HTTP_PORT
        ),
    }
}

/// The settings every Postagram container reads, named by the settings contract
/// (`postagram_core::settings::env`).
pub fn settings(owner: &Owner, spec: &PostagramSpec) -> BTreeMap<String, String> {
    let mut data = BTreeMap::new();
    let mut put = |k: &str, v: String| {
        data.insert(k.to_string(), v);
    };
    put(env::ADDR, format!("0.0.0.0:{}", defaults::HTTP_PORT));
    put(env::PUBLIC_URL, public_url(owner, spec));
    put(env::STORE, spec.storage.mode().into());
    put(env::AUTH, spec.auth.mode.as_str().into());
    put(env::DETECTOR, spec.labeler.detector.as_str().into());
    put(env::MAX_LABELS, spec.labeler.max_labels.to_string());
    put(env::MIN_CONFIDENCE, spec.labeler.min_confidence.to_string());
    put(env::RUST_LOG, spec.log_level.clone());
    if let Some(path) = &spec.labeler.model_path {
        put(env::MODEL_PATH, path.clone());
    }
    if !spec.cors_origins.is_empty() {
        put(env::CORS_ORIGINS, spec.cors_origins.join(","));
    }
    match &spec.storage {
        StorageSpec::Embedded(_) => put(env::DATA_DIR, defaults::DATA_MOUNT.into()),
        StorageSpec::Aws(aws) => {
            put(env::AWS_REGION, aws.region.clone());
            put(env::TABLE, aws.table.clone());
            put(env::BUCKET, aws.bucket.clone());
            put(env::QUEUE_URL, aws.queue_url.clone());
            if let Some(url) = &aws.endpoint_url {
                put(env::AWS_ENDPOINT_URL, url.clone());
            }
        }
    }
    data
}

/// The ConfigMap holding [`settings`].
pub fn config_map(owner: &Owner, spec: &PostagramSpec) -> ConfigMap {
    with_desired_hash(ConfigMap {
        metadata: owner.meta(names::config_map(owner), None),
        data: Some(settings(owner, spec)),
        ..ConfigMap::default()
    })
}

/// The JWT Secret the operator creates once when none is referenced (jwt mode only).
/// It is created, never applied, so a later reconcile cannot rotate it.
pub fn generated_jwt_secret(owner: &Owner, spec: &PostagramSpec) -> Option<Secret> {
    if spec.auth.mode != AuthMode::Jwt || spec.auth.jwt_secret_ref.is_some() {
        return None;
    }
    let mut bytes = [0u8; 48];
    rand::thread_rng().fill_bytes(&mut bytes);
    let value = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    Some(Secret {
        metadata: owner.meta(names::generated_jwt_secret(owner), None),
        type_: Some("Opaque".into()),
        data: Some(BTreeMap::from([(
            GENERATED_JWT_KEY.to_string(),
            ByteString(value.into_bytes()),
        )])),
        ..Secret::default()
    })
}

/// Secrets the spec references and that must exist before pods can start.
pub fn referenced_secrets(spec: &PostagramSpec) -> Vec<String> {
    let mut names = Vec::new();
    if spec.auth.mode == AuthMode::Jwt {
        if let Some(r) = &spec.auth.jwt_secret_ref {
            names.push(r.name.clone());
        }
    }
    if let StorageSpec::Aws(aws) = &spec.storage {
        if let Some(s) = &aws.credentials_secret {
            names.push(s.clone());
        }
    }
    names
}

fn secret_env(name: &str, secret: &str, key: &str, optional: bool) -> EnvVar {
    EnvVar {
        name: name.into(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret.into(),
                key: key.into(),
                optional: optional.then_some(true),
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    }
}

/// Environment taken from Secrets: the JWT secret and the AWS credentials.
pub fn secret_env_vars(owner: &Owner, spec: &PostagramSpec, component: Component) -> Vec<EnvVar> {
    let mut vars = Vec::new();
    // Only the API signs and checks tokens; the labeler never reads the JWT secret.
    if component == Component::Api && spec.auth.mode == AuthMode::Jwt {
        let (name, key) = match &spec.auth.jwt_secret_ref {
            Some(r) => (r.name.clone(), r.key.clone()),
            None => (
                names::generated_jwt_secret(owner),
                GENERATED_JWT_KEY.to_string(),
            ),
        };
        vars.push(secret_env(env::JWT_SECRET, &name, &key, false));
    }
    if let StorageSpec::Aws(aws) = &spec.storage {
        if let Some(secret) = &aws.credentials_secret {
            for (key, optional) in env::AWS_CREDENTIALS {
                vars.push(secret_env(key, secret, key, optional));
            }
        }
    }
    vars
}

/// `envFrom` pointing at the ConfigMap.
pub fn env_from(owner: &Owner) -> Vec<EnvFromSource> {
    vec![EnvFromSource {
        config_map_ref: Some(ConfigMapEnvSource {
            name: names::config_map(owner),
            optional: None,
        }),
        ..EnvFromSource::default()
    }]
}

/// Hash of everything the pods read at start: the settings and which Secrets they use.
/// Written on the pod templates so pods roll when the configuration changes.
pub fn config_hash(owner: &Owner, spec: &PostagramSpec) -> String {
    hash_of(&(
        settings(owner, spec),
        secret_env_vars(owner, spec, Component::Api),
    ))
}
