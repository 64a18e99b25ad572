//! Streaming reads and multipart writes of data objects of any size.

use async_trait::async_trait;

use super::{BlobReader, StoreError};

/// Smallest part of a multipart upload except the last (S3's limit).
pub const MIN_PART_BYTES: usize = 5 * 1024 * 1024;

/// An object being written in parts, visible only once [`complete`](BlobUpload::complete)
/// succeeds, and never over an existing object.
#[async_trait]
pub trait BlobUpload: Send {
    /// Appends one part; every part but the last must hold at least [`MIN_PART_BYTES`].
    async fn write_part(&mut self, part: Vec<u8>) -> Result<(), StoreError>;

    /// Publishes the object only if nothing is at its key ([`StoreError::Conflict`] otherwise,
    /// and the upload is discarded). On any error nothing is published.
    async fn complete(self: Box<Self>) -> Result<(), StoreError>;

    /// Discards the upload and its parts; best effort (an S3 lifecycle rule on incomplete
    /// multipart uploads sweeps what an abort could not).
    async fn abort(self: Box<Self>);
}

/// Streaming access to data objects of any size (uploaded inputs, batch results), beside the
/// small-object [`ObjectStore`]: S3 GetObject bodies and multipart uploads, or local files.
/// `bucket` names the S3 bucket; the local adapter has one directory and ignores it.
#[async_trait]
pub trait BlobStreams: Send + Sync {
    /// Opens an object for reading, or `None` when there is none.
    async fn open(&self, bucket: &str, key: &str) -> Result<Option<BlobReader>, StoreError>;

    /// Keys under `prefix`, in key order, at most `limit`.
    async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<String>, StoreError>;

    /// Starts writing an object at `key` (see [`BlobUpload`]).
    async fn create_upload(
        &self,
        bucket: &str,
        key: &str,
        content_type: &str,
    ) -> Result<Box<dyn BlobUpload>, StoreError>;
}
