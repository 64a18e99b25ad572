//! Time-limited links to data objects, so callers move large files straight to and from the
//! store instead of through a 6 MB request.

use async_trait::async_trait;
use serde::Serialize;

use super::StoreError;

/// A link that grants one operation on one object until it expires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignedUrl {
    /// The URL (an S3 presigned URL; locally a `file://` path).
    pub url: String,
    /// The HTTP method it allows (`PUT` or `GET`).
    pub method: String,
    /// Headers the request must carry exactly as given (they are part of the signature).
    pub headers: std::collections::BTreeMap<String, String>,
    /// Expiry, seconds since the Unix epoch.
    pub expires_at: u64,
}

/// Signs links to objects (S3 SigV4 presigning in AWS; file paths locally).
#[async_trait]
pub trait UrlSigner: Send + Sync {
    /// A link to upload `key` in `bucket` with `content_type`, valid `ttl_secs`.
    async fn sign_put(
        &self,
        bucket: &str,
        key: &str,
        content_type: &str,
        ttl_secs: u64,
    ) -> Result<SignedUrl, StoreError>;

    /// A link to download `key` in `bucket`, valid `ttl_secs`.
    async fn sign_get(
        &self,
        bucket: &str,
        key: &str,
        ttl_secs: u64,
    ) -> Result<SignedUrl, StoreError>;
}
