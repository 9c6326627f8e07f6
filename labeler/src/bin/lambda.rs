//! `postagram-labeler-lambda`: the labeller as an AWS Lambda function on the bucket's
//! `ObjectCreated` trigger. `POSTAGRAM_DETECTOR=local|rekognition`, `POSTAGRAM_MODEL_PATH`,
//! `POSTAGRAM_MAX_LABELS`, `POSTAGRAM_MIN_CONFIDENCE`, `POSTAGRAM_TABLE`, `POSTAGRAM_BUCKET`.

use std::sync::Arc;

use anyhow::Context;
use postagram_core::aws::AwsSettings;
use postagram_labeler::cloud::rekognition::RekognitionDetector;
use postagram_labeler::{DetectOptions, Detector, LocalDetector};

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = tracing_subscriber::fmt().json().without_time().try_init();
    let opts = DetectOptions {
        max_labels: env_or("POSTAGRAM_MAX_LABELS", DetectOptions::default().max_labels),
        min_confidence: env_or(
            "POSTAGRAM_MIN_CONFIDENCE",
            DetectOptions::default().min_confidence,
        ),
    };
    let settings = AwsSettings {
        region: std::env::var("AWS_REGION").ok(),
        endpoint_url: std::env::var("POSTAGRAM_AWS_ENDPOINT_URL").ok(),
        static_credentials: None,
    };
    postagram_labeler::cloud::lambda::run(settings, |clients| {
        let detector: Arc<dyn Detector> = match std::env::var("POSTAGRAM_DETECTOR").as_deref() {
            Ok("rekognition") => Arc::new(RekognitionDetector::new(&clients.sdk_config, opts)),
            _ => {
                let path = std::env::var("POSTAGRAM_MODEL_PATH")
                    .unwrap_or_else(|_| "models/efficientnet-lite0.safetensors".into());
                Arc::new(
                    LocalDetector::load(std::path::Path::new(&path), opts)
                        .with_context(|| format!("loading {path}"))?,
                )
            }
        };
        Ok(detector)
    })
    .await
}
