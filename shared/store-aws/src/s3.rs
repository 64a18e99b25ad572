//! Model artifacts in S3: one object per key, written only if absent (`If-None-Match: *`), with
//! the SHA-256 in user metadata and checked again on every read.

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

/// An [`ObjectStore`] on one S3 bucket.
#[derive(Debug, Clone)]
pub struct S3ObjectStore {
    client: Client,
    bucket: String,
}

impl S3ObjectStore {
    /// A store on `bucket` through `client`.
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
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
    match client.get_object().bucket(bucket).key(key).send().await {
        Ok(output) => Ok(Some(output)),
        Err(e) if matches!(e.as_service_error(), Some(GetObjectError::NoSuchKey(_))) => Ok(None),
        Err(e) => Err(classify("GetObject", e)),
    }
}
