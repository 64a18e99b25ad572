//! Listing, replacing and deleting S3 objects, for backups (the vault is a second
//! [`S3ObjectStore`] on the backup bucket) and restores.

use async_trait::async_trait;

use crate::errors::classify;
use crate::s3::S3ObjectStore;
use application::ports::{check_object_key, ObjectAdmin, ObjectMeta, StoreError};

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
