//! Model artifacts in S3: one object per key, written only if absent (`If-None-Match: *`), with
//! the SHA-256 in user metadata and checked again on every read.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::operation::put_object::builders::PutObjectFluentBuilder;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;

use crate::errors::classify;
use crate::schema::SHA256_METADATA;
use application::ports::{
    check_object_key, check_object_meta, verify_object, ObjectMeta, ObjectStore, StoreError,
    StoredObject,
};

/// Longest wait for the next chunk of an object's body before the read counts as failed (a
/// stalled, not broken, stream), unless set with [`S3ObjectStore::with_stall_timeout`].
pub const BODY_STALL_TIMEOUT: Duration = Duration::from_secs(30);

/// An [`ObjectStore`] on one S3 bucket.
#[derive(Debug, Clone)]
pub struct S3ObjectStore {
    client: Client,
    bucket: String,
    stall_timeout: Duration,
}

impl S3ObjectStore {
    /// A store on `bucket` through `client`.
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
            stall_timeout: BODY_STALL_TIMEOUT,
        }
    }

    /// The same store failing a streamed read that receives no bytes for `timeout` (the SDK's
    /// timeouts end when the response headers arrive; a body can stall after them).
    pub fn with_stall_timeout(mut self, timeout: Duration) -> Self {
        self.stall_timeout = timeout;
        self
    }

    /// How long a streamed read waits for the next chunk.
    pub(crate) fn stall_timeout(&self) -> Duration {
        self.stall_timeout
    }

    /// The S3 client, for tooling and tests.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The bucket name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// A `PutObject` of `bytes` at `key` with `meta` (content type, SHA-256 in user metadata),
    /// after checking both.
    pub(crate) fn put_request(
        &self,
        key: &str,
        bytes: &[u8],
        meta: &ObjectMeta,
    ) -> Result<PutObjectFluentBuilder, StoreError> {
        check_object_key(key)?;
        check_object_meta(key, bytes, meta)?;
        Ok(self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(&meta.content_type)
            .metadata(SHA256_METADATA, &meta.sha256)
            .body(ByteStream::from(bytes.to_vec())))
    }
}

#[async_trait]
impl ObjectStore for S3ObjectStore {
    /// `PutObject` with `If-None-Match: *`: S3 answers 412 (or 409 when another conditional write
    /// to the key is in flight) when the key exists, which is a [`StoreError::Conflict`]. S3 makes
    /// the check and the write atomic; moto (5.x, used in tests) honours the header too, but
    /// checks then writes without a lock, so its guarantee under races is weaker, and the registry
    /// transaction remains the authority on which version exists.
    async fn put_if_absent(
        &self,
        key: &str,
        bytes: &[u8],
        meta: &ObjectMeta,
    ) -> Result<(), StoreError> {
        self.put_request(key, bytes, meta)?
            .if_none_match("*")
            .send()
            .await
            .map_err(|e| classify("PutObject", e))?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<StoredObject>, StoreError> {
        check_object_key(key)?;
        let Some(output) = get_object(&self.client, &self.bucket, key).await? else {
            return Ok(None);
        };
        let sha256 = output
            .metadata()
            .and_then(|m| m.get(SHA256_METADATA))
            .cloned()
            .ok_or_else(|| {
                StoreError::Corrupted(format!("object '{key}' has no {SHA256_METADATA} metadata"))
            })?;
        let content_type = output.content_type().unwrap_or_default().to_owned();
        let bytes = output
            .body
            .collect()
            .await
            .map_err(|e| StoreError::Unavailable(format!("GetObject '{key}': body: {e}")))?
            .into_bytes()
            .to_vec();
        let meta = ObjectMeta {
            sha256,
            size: bytes.len() as u64,
            content_type,
        };
        verify_object(key, StoredObject { bytes, meta }).map(Some)
    }
}

/// GetObject, with a missing key as `None` rather than an error.
pub(crate) async fn get_object(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<Option<aws_sdk_s3::operation::get_object::GetObjectOutput>, StoreError> {
    get_exact(client, bucket, key, None, None, None).await
}

/// `GetObject` of one version (a version id other than S3's `"null"`), or of the current
/// object under `If-Match: etag`: a missing key or version is `None`, a changed ETag (412) is
/// [`StoreError::Conflict`].
pub(crate) async fn get_exact(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
    etag: Option<&str>,
    range: Option<String>,
) -> Result<Option<aws_sdk_s3::operation::get_object::GetObjectOutput>, StoreError> {
    let mut get = client.get_object().bucket(bucket).key(key).set_range(range);
    match (version_id.filter(|v| !v.is_empty() && *v != "null"), etag) {
        (Some(version), _) => get = get.version_id(version),
        (None, Some(etag)) if !etag.is_empty() => {
            get = get.if_match(format!("\"{}\"", etag.trim_matches('"')))
        }
        _ => {}
    }
    match get.send().await {
        Ok(output) => Ok(Some(output)),
        Err(e) if matches!(e.as_service_error(), Some(GetObjectError::NoSuchKey(_))) => Ok(None),
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Ok(None),
        Err(e) => Err(classify("GetObject", e)),
    }
}
