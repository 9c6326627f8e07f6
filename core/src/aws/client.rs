//! Building the AWS SDK clients from Postagram's settings, and counting their calls.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// Region used when neither the settings nor the environment name one.
pub const DEFAULT_REGION: &str = "us-east-1";

/// Where and how to reach AWS (or an AWS-compatible service).
#[derive(Debug, Clone, Default)]
pub struct AwsSettings {
    /// Region; `AWS_REGION` / the profile, else [`DEFAULT_REGION`], when `None`.
    pub region: Option<String>,
    /// Endpoint override for every client (`POSTAGRAM_AWS_ENDPOINT_URL`).
    pub endpoint_url: Option<String>,
    /// Static access key id and secret; `None` uses the standard credential chain.
    pub static_credentials: Option<(String, String)>,
}

impl AwsSettings {
    /// The settings the shared AWS flags describe (credentials from the standard chain).
    pub fn from_args(args: &crate::settings::AwsArgs) -> Self {
        AwsSettings {
            region: args.aws_region.clone(),
            endpoint_url: args.aws_endpoint_url.clone(),
            static_credentials: None,
        }
    }
}

/// Counts AWS requests on the wire by `service:operation` (each retry attempt counts;
/// presigning makes no request and does not count), for the benchmark.
#[derive(Debug, Clone, Default)]
pub struct CallCounter {
    calls: Arc<Mutex<BTreeMap<String, u64>>>,
}

impl CallCounter {
    /// Calls so far, by `service:operation`.
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.calls.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// Total calls so far.
    pub fn total(&self) -> u64 {
        self.snapshot().values().sum()
    }

    /// Forgets every count.
    pub fn reset(&self) {
        if let Ok(mut m) = self.calls.lock() {
            m.clear();
        }
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "PostagramCallCounter"
    }

    // Counted just before transmission, so presigning (which stops before it) is not a
    // call, and every retry attempt on the wire is.
    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // A presigned URL being built (signature in the query string) is not sent.
        if context.request().uri().contains("X-Amz-Signature=") {
            return Ok(());
        }
        let name = match cfg.load::<Metadata>() {
            Some(m) => format!("{}:{}", m.service(), m.name()),
            None => {
                let req = context.request();
                match req.headers().get("x-amz-target") {
                    // DynamoDB / SQS JSON protocol: `DynamoDB_20120810.Query`.
                    Some(t) => t.replace('.', ":"),
                    None => format!("S3:{}", req.method()),
                }
            }
        };
        if let Ok(mut m) = self.calls.lock() {
            *m.entry(name).or_default() += 1;
        }
        Ok(())
    }
}

/// The SDK clients every Postagram component shares (cheap to clone).
#[derive(Debug, Clone)]
pub struct AwsClients {
    /// DynamoDB.
    pub dynamo: aws_sdk_dynamodb::Client,
    /// S3 (path-style when an endpoint override is set).
    pub s3: aws_sdk_s3::Client,
    /// SQS.
    pub sqs: aws_sdk_sqs::Client,
    /// The loaded shared configuration (region, credentials, HTTP client), for other
    /// service clients such as Rekognition.
    pub sdk_config: aws_config::SdkConfig,
    /// Calls made through these clients.
    pub calls: CallCounter,
}

impl AwsClients {
    /// Loads the shared configuration (credential chain, region) and builds the clients.
    pub async fn connect(settings: &AwsSettings) -> Self {
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::Ring))
            .build_https();
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(3))
            .operation_attempt_timeout(Duration::from_secs(10))
            .operation_timeout(Duration::from_secs(25))
            .build();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http)
            .timeout_config(timeouts);
        if let Some(region) = &settings.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(url) = &settings.endpoint_url {
            loader = loader.endpoint_url(url.trim_end_matches('/'));
        }
        if let Some((id, secret)) = &settings.static_credentials {
            loader = loader.credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                id.clone(),
                secret.clone(),
                None,
                None,
                "postagram-static",
            ));
        }
        let mut sdk_config = loader.load().await;
        if sdk_config.region().is_none() {
            sdk_config = sdk_config
                .into_builder()
                .region(Region::new(DEFAULT_REGION))
                .build();
        }
        let calls = CallCounter::default();
        let dynamo = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&sdk_config)
                .interceptor(calls.clone())
                .build(),
        );
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&sdk_config)
                .force_path_style(settings.endpoint_url.is_some())
                .interceptor(calls.clone())
                .build(),
        );
        let sqs = aws_sdk_sqs::Client::from_conf(
            aws_sdk_sqs::config::Builder::from(&sdk_config)
                .interceptor(calls.clone())
                .build(),
        );
        AwsClients {
            dynamo,
            s3,
            sqs,
            sdk_config,
            calls,
        }
    }
}
