//! `BlobStore` on S3 (or any S3-compatible store through the endpoint override).

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use aws_sdk_s3::Client;
use bytes::Bytes;

use super::sdk_message;
use crate::blob::{user_folder, Blob, BlobError, BlobStore, ObjectInfo};

/// Longest presigned URL lifetime S3 accepts (SigV4: 7 days).
pub const MAX_PRESIGN: Duration = Duration::from_secs(7 * 24 * 3600);

/// Pictures in one S3 bucket, keyed by `<user>/<post>/<file>`.
#[derive(Debug, Clone)]
pub struct S3BlobStore {
    client: Client,
    bucket: String,
}

fn unavailable(e: impl std::error::Error) -> BlobError {
    BlobError::Unavailable(format!("s3: {}", sdk_message(&e)))
}

fn presigning(expires_in: Duration) -> Result<PresigningConfig, BlobError> {
    PresigningConfig::expires_in(expires_in.clamp(Duration::from_secs(1), MAX_PRESIGN))
        .map_err(|e| BlobError::Unavailable(e.to_string()))
}

fn check_key(key: &str) -> Result<(), BlobError> {
    if key.is_empty() || key.starts_with('/') || key.split('/').any(|p| p == ".." || p == ".") {
        return Err(BlobError::BadKey);
    }
    Ok(())
}

impl S3BlobStore {
    /// A store on `bucket` (created by `postagram-api admin init-aws`).
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        S3BlobStore {
            client,
            bucket: bucket.into(),
        }
    }

    /// The bucket name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Checks that the bucket exists and is reachable.
    pub async fn ping(&self) -> Result<(), BlobError> {
        self.client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map(|_| ())
            .map_err(unavailable)
    }
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        expires_in: Duration,
    ) -> Result<String, BlobError> {
        check_key(key)?;
        let req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .presigned(presigning(expires_in)?)
            .await
            .map_err(unavailable)?;
        Ok(req.uri().to_string())
    }

    async fn presign_get(&self, key: &str, expires_in: Duration) -> Result<String, BlobError> {
        check_key(key)?;
        let req = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(presigning(expires_in)?)
            .await
            .map_err(unavailable)?;
        Ok(req.uri().to_string())
    }

    async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> Result<(), BlobError> {
        check_key(key)?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    async fn get(&self, key: &str) -> Result<Option<Blob>, BlobError> {
        check_key(key)?;
        let out = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(o) => o,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
            Err(e) => return Err(unavailable(e)),
        };
        let content_type = out
            .content_type
            .clone()
            .unwrap_or_else(|| "application/octet-stream".into());
        let etag = out.e_tag.clone().unwrap_or_default();
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| BlobError::Unavailable(format!("s3: reading {key}: {e}")))?
            .into_bytes();
        let etag = if etag.starts_with('"') {
            etag
        } else {
            format!("\"{etag}\"")
        };
        Ok(Some(Blob {
            bytes,
            content_type,
            etag,
        }))
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<u64, BlobError> {
        // A post folder is `<user>/<post>/`: refuse anything that could match more.
        if prefix.is_empty() || !prefix.ends_with('/') || prefix.matches('/').count() < 2 {
            return Err(BlobError::BadKey);
        }
        check_key(prefix.trim_end_matches('/'))?;
        self.delete_listed(prefix).await
    }

    async fn delete_user_objects(&self, user_prefix: &str) -> Result<u64, BlobError> {
        check_key(user_folder(user_prefix)?)?;
        self.delete_listed(user_prefix).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, BlobError> {
        if prefix.is_empty() || !prefix.ends_with('/') {
            return Err(BlobError::BadKey);
        }
        check_key(prefix.trim_end_matches('/'))?;
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .delimiter("/")
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(unavailable)?;
            out.extend(page.contents().iter().filter_map(|o| {
                Some(ObjectInfo {
                    key: o.key()?.to_string(),
                    modified_ms: o.last_modified()?.to_millis().ok()?,
                })
            }));
            match page.next_continuation_token {
                Some(t) if page.is_truncated == Some(true) => token = Some(t),
                _ => break,
            }
        }
        Ok(out)
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        check_key(key)?;
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map(|_| ())
            .map_err(unavailable)
    }
}

impl S3BlobStore {
    /// Deletes every object whose key starts with `prefix` (checked by the caller), one
    /// `DeleteObjects` per listed page.
    async fn delete_listed(&self, prefix: &str) -> Result<u64, BlobError> {
        let mut deleted = 0u64;
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(unavailable)?;
            let ids = page
                .contents()
                .iter()
                .filter_map(|o| o.key())
                .map(|k| ObjectIdentifier::builder().key(k).build())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| BlobError::Unavailable(e.to_string()))?;
            if !ids.is_empty() {
                let n = ids.len() as u64;
                let del = Delete::builder()
                    .set_objects(Some(ids))
                    .quiet(true)
                    .build()
                    .map_err(|e| BlobError::Unavailable(e.to_string()))?;
                let out = self
                    .client
                    .delete_objects()
                    .bucket(&self.bucket)
                    .delete(del)
                    .send()
                    .await
                    .map_err(unavailable)?;
                if let Some(err) = out.errors().first() {
                    return Err(BlobError::Unavailable(format!(
                        "s3: cannot delete {}: {}",
                        err.key().unwrap_or("?"),
                        err.message().unwrap_or("unknown error")
                    )));
                }
                deleted += n;
            }
            match page.next_continuation_token {
                Some(t) if page.is_truncated == Some(true) => token = Some(t),
                _ => break,
            }
        }
        Ok(deleted)
    }
}
