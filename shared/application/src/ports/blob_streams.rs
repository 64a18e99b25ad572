//! Streaming reads and multipart writes of data objects of any size.

use async_trait::async_trait;

use super::{BlobReader, StoreError};

/// Most objects a listing reads before it refuses the prefix.
pub const MAX_LISTED_OBJECTS: usize = 100_000;

/// The newest `limit` of `(key, last modified)` pairs, in key order: what both adapters'
/// listings return.
pub fn newest_keys(mut listed: Vec<(String, u64)>, limit: usize) -> Vec<String> {
    listed.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    listed.truncate(limit);
    let mut keys: Vec<String> = listed.into_iter().map(|(key, _)| key).collect();
    keys.sort();
    keys
}

/// Smallest part of a multipart upload except the last (S3's limit).
pub const MIN_PART_BYTES: usize = 5 * 1024 * 1024;

/// What a `HEAD` of a data object tells: its size (to plan byte ranges) and the version or ETag
/// that pins exactly the bytes a job reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Size in bytes.
    pub size: u64,
    /// The version id, in a versioned bucket.
    pub version_id: Option<String>,
    /// The ETag, without quotes.
    pub etag: Option<String>,
}

/// An object being written in parts, visible only once [`complete`](BlobUpload::complete)
/// succeeds, and never over an existing object.
#[async_trait]
pub trait BlobUpload: Send {
    /// Appends one part; every part but the last must hold at least [`MIN_PART_BYTES`].
    async fn write_part(&mut self, part: Vec<u8>) -> Result<(), StoreError>;

    /// Appends the whole object at `key` in `bucket` as the next part, copied inside the store (S3
    /// `UploadPartCopy`: the bytes never pass through the function). The object must hold at
    /// least [`MIN_PART_BYTES`] unless it is the last part.
    async fn copy_part(&mut self, bucket: &str, key: &str) -> Result<(), StoreError>;

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

    /// Opens exactly the object an event named: its `version_id` (a versioned bucket; `None`
    /// when that version is gone), else the current object only if its ETag is still `etag`
    /// ([`StoreError::Conflict`] when it was overwritten since). With neither, or on a store
    /// without versions or ETags (the local directory, by this default), the current object.
    async fn open_exact(
        &self,
        bucket: &str,
        key: &str,
        _version_id: Option<&str>,
        _etag: Option<&str>,
    ) -> Result<Option<BlobReader>, StoreError> {
        self.open(bucket, key).await
    }

    /// Opens the object pinned by `version_id` or `etag` (as [`open_exact`](Self::open_exact))
    /// at byte `start`, to its end: how a range worker reads its share of a large file.
    async fn open_from(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        etag: Option<&str>,
        start: u64,
    ) -> Result<Option<BlobReader>, StoreError>;

    /// The object's size, version and ETag, or `None` when there is none.
    async fn head(&self, bucket: &str, key: &str) -> Result<Option<ObjectInfo>, StoreError>;

    /// Deletes the object at `key` (nothing when it is absent).
    async fn delete(&self, bucket: &str, key: &str) -> Result<(), StoreError>;

    /// The `limit` most recently written keys under `prefix`, in key order: newer uploads are
    /// never dropped for older ones. A prefix holding more than [`MAX_LISTED_OBJECTS`] objects
    /// is [`StoreError::Invalid`] (listing it would not be bounded work).
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_more_objects_than_the_limit_should_keep_the_newest_in_key_order() {
        let listed = vec![
            ("a-old.csv".to_owned(), 1),
            ("b-new.csv".to_owned(), 30),
            ("c-mid.csv".to_owned(), 20),
            ("d-newest.csv".to_owned(), 40),
        ];
        assert_eq!(
            newest_keys(listed.clone(), 2),
            ["b-new.csv", "d-newest.csv"],
            "a key-order listing would keep a-old and b-new"
        );
        assert_eq!(newest_keys(listed, 10).len(), 4);
    }
}
