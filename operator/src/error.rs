//! Errors of the reconciler.

/// What can go wrong while reconciling; all of it is retried with per-object backoff.
/// Problems with the spec itself are not errors: they end in a Degraded status.
#[derive(thiserror::Error, Debug)]
pub enum Error {
    /// A request to the API server failed.
    #[error("Kubernetes API error: {0}")]
    Kube(#[from] kube::Error),
    /// A status or manifest could not be serialized.
    #[error("serialization error: {0}")]
    Serialization(#[from] serde_json::Error),
    /// The object lacks a field every persisted namespaced object has.
    #[error("the Postagram has no {0}")]
    MissingObjectKey(&'static str),
}

impl Error {
    /// Low-cardinality label for the failure metric.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::Kube(kube::Error::Api(_)) => "api",
            Error::Kube(_) => "client",
            Error::Serialization(_) => "serialization",
            Error::MissingObjectKey(_) => "missing_key",
        }
    }
}

/// Result of the reconciler.
pub type Result<T, E = Error> = std::result::Result<T, E>;
