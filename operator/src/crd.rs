//! The `Postagram` custom resource (`postagrams.postagram.dev/v1alpha1`): spec, status and
//! the generated CustomResourceDefinition.
//!
//! Defaults and validation live in the schema itself (`default`, `minimum`/`maximum`, enums,
//! a CEL rule for `min <= max`), so the API server rejects bad specs before the operator sees
//! them. [`PostagramSpec::validate`] repeats the checks for objects that bypassed the schema
//! (created before the CRD was updated, or with validation disabled).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, CustomResourceExt, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// API group of the custom resource.
pub const GROUP: &str = "postagram.dev";
/// Served and stored version of the custom resource.
pub const VERSION: &str = "v1alpha1";
/// Default image of the API server.
pub const DEFAULT_API_IMAGE: &str = "ghcr.io/postagram/postagram-api:0.1.0";
/// Default image of the labeler workers.
pub const DEFAULT_LABELER_IMAGE: &str = "ghcr.io/postagram/postagram-labeler:0.1.0";
/// Upper bound of any replica count the operator accepts.
pub const MAX_REPLICAS: i32 = 100;

/// Desired state of a Postagram installation: the API, the labeler, where posts and pictures
/// are stored, how clients authenticate and how the API is exposed.
// clippy reads the repeated `printcolumn(type_ = …)` keys as duplicated attributes.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "postagram.dev",
    version = "v1alpha1",
    kind = "Postagram",
    namespaced,
    shortname = "pgram",
    status = "PostagramStatus",
    derive = "PartialEq",
    doc = "A Postagram installation: API, labeler, storage, auth and ingress, reconciled by postagram-operator.",
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(name = "URL", type_ = "string", json_path = ".status.api.url"),
    printcolumn(
        name = "API",
        type_ = "integer",
        json_path = ".status.api.readyReplicas"
    ),
    printcolumn(
        name = "Labeler",
        type_ = "integer",
        json_path = ".status.labeler.readyReplicas"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct PostagramSpec {
    /// The REST API (`postagram-api`).
    #[serde(default)]
    pub api: ApiSpec,
    /// The picture labeler (`postagram-labeler`). In embedded storage mode it runs inside
    /// the API process and only `detector`, `maxLabels`, `minConfidence` and `modelPath` apply.
    #[serde(default)]
    pub labeler: LabelerSpec,
    /// Where posts and pictures live: exactly one of `embedded` or `aws`.
    #[serde(default)]
    pub storage: StorageSpec,
    /// How clients authenticate.
    #[serde(default)]
    pub auth: AuthSpec,
    /// Optional Ingress in front of the API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<IngressSpec>,
    /// Externally reachable base URL of the API (`POSTAGRAM_PUBLIC_URL`). Defaults to the
    /// Ingress URL, or to the in-cluster Service URL without an Ingress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// Allowed CORS origins (`POSTAGRAM_CORS_ORIGINS`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cors_origins: Vec<String>,
    /// `RUST_LOG` filter for the pods.
    #[serde(default = "default_log_level")]
    pub log_level: String,
}

fn default_log_level() -> String {
    "info".into()
}

/// Autoscaling bounds; `min` must not exceed `max`.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, KubeSchema)]
#[x_kube(validation = Rule::new("self.min <= self.max").message("replicas.min must not exceed replicas.max"))]
pub struct Replicas {
    /// Lower bound of the HorizontalPodAutoscaler.
    #[serde(default = "default_min")]
    #[schemars(range(min = 1, max = 100))]
    pub min: i32,
    /// Upper bound of the HorizontalPodAutoscaler.
    #[serde(default = "default_max")]
    #[schemars(range(min = 1, max = 100))]
    pub max: i32,
}

fn default_min() -> i32 {
    1
}
fn default_max() -> i32 {
    4
}

impl Default for Replicas {
    fn default() -> Self {
        Self {
            min: default_min(),
            max: default_max(),
        }
    }
}

/// The API Deployment.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiSpec {
    /// Container image of `postagram-api`.
    #[serde(default = "default_api_image")]
    pub image: String,
    /// Autoscaling bounds (aws storage only; embedded runs exactly one replica).
    #[serde(default)]
    pub replicas: Replicas,
    /// Average CPU utilization (percent of requests) the autoscaler aims for.
    #[serde(default = "default_cpu_target", rename = "targetCPUUtilization")]
    #[schemars(range(min = 1, max = 100))]
    pub target_cpu_utilization: i32,
    /// Container resources; sensible requests are used when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
}

fn default_api_image() -> String {
    DEFAULT_API_IMAGE.into()
}
fn default_cpu_target() -> i32 {
    70
}

impl Default for ApiSpec {
    fn default() -> Self {
        Self {
            image: default_api_image(),
            replicas: Replicas::default(),
            target_cpu_utilization: default_cpu_target(),
            resources: None,
        }
    }
}

/// Which picture classifier the labeler uses (`POSTAGRAM_DETECTOR`).
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Detector {
    /// The local image-classification model.
    #[default]
    Local,
    /// Amazon Rekognition.
    Rekognition,
}

impl Detector {
    /// The value written to `POSTAGRAM_DETECTOR`.
    pub fn as_str(self) -> &'static str {
        match self {
            Detector::Local => "local",
            Detector::Rekognition => "rekognition",
        }
    }
}

/// The labeler workers.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LabelerSpec {
    /// Container image of `postagram-labeler`.
    #[serde(default = "default_labeler_image")]
    pub image: String,
    /// Autoscaling bounds of the worker Deployment (aws storage only).
    #[serde(default)]
    pub replicas: Replicas,
    /// Average CPU utilization (percent of requests) the autoscaler aims for.
    #[serde(default = "default_cpu_target", rename = "targetCPUUtilization")]
    #[schemars(range(min = 1, max = 100))]
    pub target_cpu_utilization: i32,
    /// The classifier.
    #[serde(default)]
    pub detector: Detector,
    /// Most labels kept per picture (`POSTAGRAM_MAX_LABELS`).
    #[serde(default = "default_max_labels")]
    #[schemars(range(min = 1, max = 100))]
    pub max_labels: i32,
    /// Least confidence, in percent, for a label to be kept (`POSTAGRAM_MIN_CONFIDENCE`).
    #[serde(default = "default_min_confidence")]
    #[schemars(range(min = 0, max = 100))]
    pub min_confidence: i32,
    /// Path of the local model inside the image (`POSTAGRAM_MODEL_PATH`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_path: Option<String>,
    /// Container resources; sensible requests are used when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
}

fn default_labeler_image() -> String {
    DEFAULT_LABELER_IMAGE.into()
}
fn default_max_labels() -> i32 {
    postagram_core::settings::defaults::MAX_LABELS as i32
}
fn default_min_confidence() -> i32 {
    i32::from(postagram_core::settings::defaults::MIN_CONFIDENCE)
}

impl Default for LabelerSpec {
    fn default() -> Self {
        Self {
            image: default_labeler_image(),
            replicas: Replicas::default(),
            target_cpu_utilization: default_cpu_target(),
            detector: Detector::default(),
            max_labels: default_max_labels(),
            min_confidence: default_min_confidence(),
            model_path: None,
            resources: None,
        }
    }
}

/// Storage backend: exactly one of `embedded` (SQLite + folder on a PersistentVolumeClaim)
/// or `aws` (DynamoDB + S3 + SQS, or compatible stores through `endpointUrl`).
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum StorageSpec {
    /// One API replica with a PersistentVolumeClaim; the labeler runs in-process.
    Embedded(EmbeddedStorage),
    /// Stateless API and labeler workers on AWS services.
    Aws(AwsStorage),
}

impl Default for StorageSpec {
    fn default() -> Self {
        StorageSpec::Embedded(EmbeddedStorage::default())
    }
}

impl StorageSpec {
    /// The value written to `POSTAGRAM_STORE`.
    pub fn mode(&self) -> &'static str {
        match self {
            StorageSpec::Embedded(_) => "embedded",
            StorageSpec::Aws(_) => "aws",
        }
    }
}

/// Embedded storage settings.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EmbeddedStorage {
    /// Size of the PersistentVolumeClaim holding the SQLite database and the pictures.
    #[serde(default = "default_size")]
    pub size: Quantity,
    /// StorageClass of the claim; the cluster default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
}

fn default_size() -> Quantity {
    Quantity("1Gi".into())
}

impl Default for EmbeddedStorage {
    fn default() -> Self {
        Self {
            size: default_size(),
            storage_class_name: None,
        }
    }
}

/// AWS (or compatible) storage settings.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AwsStorage {
    /// `AWS_REGION`.
    #[schemars(length(min = 1))]
    pub region: String,
    /// DynamoDB table (`POSTAGRAM_TABLE`).
    #[schemars(length(min = 1))]
    pub table: String,
    /// S3 bucket (`POSTAGRAM_BUCKET`).
    #[schemars(length(min = 1))]
    pub bucket: String,
    /// SQS queue receiving `ObjectCreated` events (`POSTAGRAM_QUEUE_URL`).
    #[schemars(length(min = 1))]
    pub queue_url: String,
    /// Endpoint override for S3/DynamoDB/SQS-compatible stores (`POSTAGRAM_AWS_ENDPOINT_URL`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_url: Option<String>,
    /// Secret in the same namespace with `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`
    /// (and optionally `AWS_SESSION_TOKEN`). Without it the pods use the service account
    /// (IRSA, see `roleArn`) or the node's credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret: Option<String>,
    /// IAM role for the service account (`eks.amazonaws.com/role-arn` annotation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
}

/// Authentication mode of the API (`POSTAGRAM_AUTH`).
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// `Authorization: Bearer <JWT>` (HS256).
    #[default]
    Jwt,
    /// The username itself in `Authorization`: trusted networks only.
    Header,
}

impl AuthMode {
    /// The value written to `POSTAGRAM_AUTH`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMode::Jwt => "jwt",
            AuthMode::Header => "header",
        }
    }
}

/// Authentication settings.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthSpec {
    /// `jwt` (default) or `header`.
    #[serde(default)]
    pub mode: AuthMode,
    /// Secret key holding the JWT signing secret. When absent the operator generates a
    /// Secret `<name>-jwt` once and never rotates it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt_secret_ref: Option<SecretKeyRef>,
}

/// A key of a Secret in the same namespace.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyRef {
    /// Secret name.
    #[schemars(length(min = 1))]
    pub name: String,
    /// Key inside the Secret.
    #[serde(default = "default_jwt_key")]
    pub key: String,
}

fn default_jwt_key() -> String {
    "jwt-secret".into()
}

/// Ingress in front of the API Service.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IngressSpec {
    /// Host name, e.g. `photos.example.com`.
    #[schemars(length(min = 1))]
    pub host: String,
    /// IngressClass; the cluster default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_name: Option<String>,
    /// Extra annotations for the Ingress.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// TLS through cert-manager; plain HTTP when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<IngressTls>,
}

/// TLS settings of the Ingress.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IngressTls {
    /// cert-manager ClusterIssuer (`cert-manager.io/cluster-issuer`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_issuer: Option<String>,
    /// cert-manager namespaced Issuer (`cert-manager.io/issuer`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Secret receiving the certificate; `<name>-tls` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
}

/// Observed state, written by the operator only.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct PostagramStatus {
    /// `metadata.generation` this status was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready`, `Progressing` and `Degraded`.
    #[serde(default)]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
    /// The API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<ApiStatus>,
    /// The labeler workers (absent in embedded mode, where it runs in the API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labeler: Option<ComponentStatus>,
    /// Whether autoscaling is active, and why not when it is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaling: Option<String>,
}

/// Observed state of the API.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiStatus {
    /// Ready pods of the API Deployment.
    pub ready_replicas: i32,
    /// Where clients reach the API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// Observed state of a worker Deployment.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ComponentStatus {
    /// Ready pods of the Deployment.
    pub ready_replicas: i32,
}

/// A spec the operator cannot act on, with a machine-readable reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecProblem {
    /// PascalCase reason used in the Degraded condition and the Event.
    pub reason: &'static str,
    /// Human sentence.
    pub message: String,
}

impl PostagramSpec {
    /// Checks what the schema checks, for objects that bypassed it.
    pub fn validate(&self) -> Result<(), SpecProblem> {
        let bad = |message: String| SpecProblem {
            reason: "InvalidSpec",
            message,
        };
        for (what, r, cpu) in [
            ("api", self.api.replicas, self.api.target_cpu_utilization),
            (
                "labeler",
                self.labeler.replicas,
                self.labeler.target_cpu_utilization,
            ),
        ] {
            if !(1..=MAX_REPLICAS).contains(&r.min) || !(1..=MAX_REPLICAS).contains(&r.max) {
                return Err(bad(format!(
                    "{what}.replicas must be within 1..={MAX_REPLICAS} (min {}, max {})",
                    r.min, r.max
                )));
            }
            if r.min > r.max {
                return Err(bad(format!(
                    "{what}.replicas.min ({}) exceeds {what}.replicas.max ({})",
                    r.min, r.max
                )));
            }
            if !(1..=100).contains(&cpu) {
                return Err(bad(format!(
                    "{what}.targetCPUUtilization must be within 1..=100 (got {cpu})"
                )));
            }
        }
        if !(1..=100).contains(&self.labeler.max_labels) {
            return Err(bad(format!(
                "labeler.maxLabels must be within 1..=100 (got {})",
                self.labeler.max_labels
            )));
        }
        if !(0..=100).contains(&self.labeler.min_confidence) {
            return Err(bad(format!(
                "labeler.minConfidence must be within 0..=100 (got {})",
                self.labeler.min_confidence
            )));
        }
        if self.api.image.is_empty() || self.labeler.image.is_empty() {
            return Err(bad("api.image and labeler.image must not be empty".into()));
        }
        if let StorageSpec::Aws(aws) = &self.storage {
            for (field, value) in [
                ("region", &aws.region),
                ("table", &aws.table),
                ("bucket", &aws.bucket),
                ("queueUrl", &aws.queue_url),
            ] {
                if value.is_empty() {
                    return Err(bad(format!("storage.aws.{field} must not be empty")));
                }
            }
        }
        if let Some(ingress) = &self.ingress {
            if ingress.host.is_empty() {
                return Err(bad("ingress.host must not be empty".into()));
            }
        }
        Ok(())
    }
}

/// The CustomResourceDefinition as YAML, as printed by `postagram-operator crd` and kept in
/// the chart's `crds/` folder.
pub fn crd_yaml() -> Result<String, serde_yaml::Error> {
    let body = serde_yaml::to_string(&Postagram::crd())?;
    Ok(format!(
        "# Generated by `postagram-operator crd`; do not edit (see operator/README.md).\n{body}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn minimal_spec_gets_defaults() {
        let spec: PostagramSpec = serde_json::from_value(json!({})).expect("empty spec");
        assert_eq!(spec.api.replicas, Replicas { min: 1, max: 4 });
        assert_eq!(spec.api.target_cpu_utilization, 70);
        assert_eq!(spec.labeler.max_labels, 5);
        // The binaries' default (postagram_core::settings::defaults), not Rekognition's 75.
        assert_eq!(spec.labeler.min_confidence, 10);
        assert_eq!(spec.storage.mode(), "embedded");
        assert_eq!(spec.auth.mode, AuthMode::Jwt);
        assert_eq!(spec.log_level, "info");
        assert!(spec.validate().is_ok());
    }

    #[test]
    fn sketch_from_architecture_parses() {
        let spec: PostagramSpec = serde_json::from_value(json!({
            "api": {"image": "a:1", "replicas": {"min": 2, "max": 8}, "targetCPUUtilization": 60},
            "labeler": {"detector": "rekognition", "maxLabels": 7, "minConfidence": 80},
            "storage": {"aws": {"region": "eu-west-1", "table": "t", "bucket": "b",
                        "queueUrl": "https://sqs/q", "credentialsSecret": "aws"}},
            "auth": {"mode": "header"},
            "ingress": {"host": "photos.example.com", "tls": {"clusterIssuer": "letsencrypt"}}
        }))
        .expect("sketch parses");
        assert_eq!(spec.labeler.detector, Detector::Rekognition);
        assert_eq!(spec.storage.mode(), "aws");
        assert!(spec.validate().is_ok());
    }

    #[test]
    fn validate_catches_schema_bypass() {
        let mut spec: PostagramSpec = serde_json::from_value(json!({})).expect("spec");
        spec.api.replicas = Replicas { min: 5, max: 2 };
        let p = spec.validate().expect_err("min > max");
        assert_eq!(p.reason, "InvalidSpec");
        assert!(p.message.contains("api.replicas.min (5)"), "{}", p.message);
        spec.api.replicas = Replicas { min: 0, max: 2 };
        assert!(spec.validate().is_err());
        spec.api.replicas = Replicas::default();
        spec.labeler.min_confidence = 101;
        assert!(spec.validate().is_err());
    }

    #[test]
    fn crd_schema_has_validation_defaults_and_columns() {
        let crd = serde_json::to_value(Postagram::crd()).expect("crd json");
        assert_eq!(crd["metadata"]["name"], "postagrams.postagram.dev");
        assert_eq!(crd["spec"]["scope"], "Namespaced");
        assert_eq!(crd["spec"]["names"]["shortNames"], json!(["pgram"]));
        let v = &crd["spec"]["versions"][0];
        assert_eq!(v["name"], "v1alpha1");
        assert_eq!(v["subresources"]["status"], json!({}));
        let cols: Vec<&str> = v["additionalPrinterColumns"]
            .as_array()
            .expect("columns")
            .iter()
            .filter_map(|c| c["name"].as_str())
            .collect();
        assert_eq!(cols, ["Ready", "URL", "API", "Labeler", "Age"]);
        let spec = &v["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"];
        let replicas = &spec["api"]["properties"]["replicas"];
        assert_eq!(
            replicas["x-kubernetes-validations"][0]["rule"],
            "self.min <= self.max"
        );
        assert_eq!(replicas["properties"]["min"]["minimum"], 1.0);
        assert_eq!(replicas["properties"]["max"]["maximum"], 100.0);
        assert_eq!(replicas["properties"]["max"]["default"], 4);
        assert_eq!(
            spec["labeler"]["properties"]["detector"]["enum"],
            json!(["local", "rekognition"])
        );
        assert_eq!(
            spec["auth"]["properties"]["mode"]["enum"],
            json!(["jwt", "header"])
        );
        assert!(spec["storage"]["properties"]["embedded"].is_object());
        assert!(spec["storage"]["properties"]["aws"].is_object());
        assert_eq!(
            spec["storage"]["default"],
            json!({"embedded": {"size": "1Gi"}})
        );
        let conditions =
            &v["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"]["conditions"];
        assert_eq!(conditions["x-kubernetes-list-type"], "map");
        assert_eq!(conditions["x-kubernetes-list-map-keys"], json!(["type"]));
    }
}
