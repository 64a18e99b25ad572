//! Listing, reading metadata, replacing, copying (`CopyObject`), streaming and deleting S3
//! objects, for backups (the vault is a second [`S3ObjectStore`] on the backup bucket) and
//! restores.

use async_trait::async_trait;

use crate::errors::classify;
use crate::s3::S3ObjectStore;
use crate::schema::SHA256_METADATA;
use application::ports::{
    check_object_key, BlobReader, BlobStreams, BlobUpload, CopySource, ObjectAdmin, ObjectMeta,
    StoreError,
};

/// Escapes a key for `x-amz-copy-source` (everything but unreserved characters and `/`).
fn escape_key(key: &str) -> String {
    key.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[async_trait]
impl ObjectAdmin for S3ObjectStore {
    /// `ListObjectsV2`, page by page.
    async fn list_keys(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let output = self
                .client()
                .list_objects_v2()
                .bucket(self.bucket())
                .prefix(prefix)
                .set_continuation_token(token)
                .send()
                .await
                .map_err(|e| classify("ListObjectsV2", e))?;
            keys.extend(
                output
                    .contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_owned)),
            );
            match output.next_continuation_token {
                Some(next) if output.is_truncated == Some(true) => token = Some(next),
                _ => break,
            }
        }
        keys.sort();
        Ok(keys)
    }

    /// `HeadObject`: the SHA-256 from user metadata, the size and the content type.
    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, StoreError> {
        check_object_key(key)?;
        let output = match self
            .client()
            .head_object()
            .bucket(self.bucket())
            .key(key)
            .send()
            .await
        {
            Ok(output) => output,
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => {
                return Ok(None)
            }
            Err(e) => return Err(classify("HeadObject", e)),
        };
        let sha256 = output
            .metadata()
            .and_then(|m| m.get(SHA256_METADATA))
            .cloned()
            .ok_or_else(|| {
                StoreError::Corrupted(format!("object '{key}' has no {SHA256_METADATA} metadata"))
            })?;
        Ok(Some(ObjectMeta {
            sha256,
            size: output
                .content_length()
                .and_then(|n| u64::try_from(n).ok())
                .unwrap_or(0),
            content_type: output.content_type().unwrap_or_default().to_owned(),
        }))
    }

    /// `bucket/key`, the key escaped as `x-amz-copy-source` wants it.
    fn copy_source(&self, key: &str) -> Result<CopySource, StoreError> {
        check_object_key(key)?;
        Ok(CopySource::new(format!(
            "{}/{}",
            self.bucket(),
            escape_key(key)
        )))
    }

    /// `CopyObject` (metadata copied with the bytes; objects up to 5 GB, far above any model).
    async fn copy(&self, source: &CopySource, key: &str) -> Result<(), StoreError> {
        check_object_key(key)?;
        match self
            .client()
            .copy_object()
            .bucket(self.bucket())
            .key(key)
            .copy_source(source.as_str())
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Err(
                StoreError::Invalid(format!("copy source '{}' is missing", source.as_str())),
            ),
            Err(e) => Err(classify("CopyObject", e)),
        }
    }

    /// A multipart upload on this store's bucket.
    async fn write_stream(
        &self,
        key: &str,
        content_type: &str,
    ) -> Result<Box<dyn BlobUpload>, StoreError> {
        BlobStreams::create_upload(self, self.bucket(), key, content_type).await
    }

    /// A streamed `GetObject` on this store's bucket.
    async fn read_stream(&self, key: &str) -> Result<Option<BlobReader>, StoreError> {
        BlobStreams::open(self, self.bucket(), key).await
    }

    /// An unconditional `PutObject` (the bucket's versioning keeps what it replaces).
    async fn put(&self, key: &str, bytes: &[u8], meta: &ObjectMeta) -> Result<(), StoreError> {
        self.put_request(key, bytes, meta)?
            .send()
            .await
            .map_err(|e| classify("PutObject", e))?;
        Ok(())
    }

    /// `DeleteObject` (in a versioned bucket, a delete marker; lifecycle rules expire the rest).
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        check_object_key(key)?;
        self.client()
            .delete_object()
            .bucket(self.bucket())
            .key(key)
            .send()
            .await
            .map_err(|e| classify("DeleteObject", e))?;
        Ok(())
    }
}
