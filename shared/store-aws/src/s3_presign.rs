//! S3 presigned URLs (SigV4, signed with the function role's credentials): a caller uploads a file
//! larger than a request straight to its own prefix, and downloads a batch job's results.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use aws_sdk_s3::presigning::{PresignedRequest, PresigningConfig};

use crate::s3::S3ObjectStore;
use application::ports::{check_object_key, SignedUrl, StoreError, UrlSigner};

/// S3 signs for at most 7 days.
const MAX_TTL_SECS: u64 = 7 * 24 * 3600;

fn config(ttl_secs: u64) -> Result<(PresigningConfig, u64), StoreError> {
    let ttl = ttl_secs.clamp(1, MAX_TTL_SECS);
    let config = PresigningConfig::expires_in(Duration::from_secs(ttl))
        .map_err(|e| StoreError::Invalid(format!("presigning: {e}")))?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Ok((config, now.saturating_add(ttl)))
}

fn signed(request: &PresignedRequest, expires_at: u64) -> SignedUrl {
    SignedUrl {
        url: request.uri().to_owned(),
        method: request.method().to_owned(),
        headers: request
            .headers()
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect::<BTreeMap<_, _>>(),
        expires_at,
    }
}

#[async_trait]
impl UrlSigner for S3ObjectStore {
    /// A presigned `PutObject` carrying `content_type` (the upload must send the same).
    async fn sign_put(
        &self,
        bucket: &str,
        key: &str,
        content_type: &str,
        ttl_secs: u64,
    ) -> Result<SignedUrl, StoreError> {
        check_object_key(key)?;
        let (config, expires_at) = config(ttl_secs)?;
        let request = self
            .client()
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .presigned(config)
            .await
            .map_err(|e| StoreError::Invalid(format!("presigning PutObject: {e}")))?;
        Ok(signed(&request, expires_at))
    }

    /// A presigned `GetObject`.
    async fn sign_get(
        &self,
        bucket: &str,
        key: &str,
        ttl_secs: u64,
    ) -> Result<SignedUrl, StoreError> {
        check_object_key(key)?;
        let (config, expires_at) = config(ttl_secs)?;
        let request = self
            .client()
            .get_object()
            .bucket(bucket)
            .key(key)
            .presigned(config)
            .await
            .map_err(|e| StoreError::Invalid(format!("presigning GetObject: {e}")))?;
        Ok(signed(&request, expires_at))
    }
}
