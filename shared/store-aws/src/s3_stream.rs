//! Streaming on S3: GetObject bodies read through a bounded channel into a blocking `Read`, keys
//! listed with ListObjectsV2, and results written with a multipart upload completed with
//! `If-None-Match: *` (aborted on any failure), so an object appears whole or not at all and never
//! replaces another.

use std::io::Read;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_sdk_s3::Client;
use bytes::Bytes;
use tokio::sync::mpsc;

use crate::errors::classify;
use crate::s3::get_exact;
use crate::s3::S3ObjectStore;
use application::ports::{
    check_object_key, newest_keys, BlobReader, BlobStreams, BlobUpload, ObjectInfo, ReadFailure,
    StoreError, MAX_LISTED_OBJECTS,
};

/// Body chunks buffered between the network and the parser (each is what hyper hands over,
/// typically up to a few tens of KiB), so a slow parser holds back the download.
const BODY_CHANNEL_CHUNKS: usize = 16;

/// Most keys fetched per ListObjectsV2 page.
const LIST_PAGE: i32 = 1000;

/// The reading half of the body channel: a blocking `Read` for use in `spawn_blocking`.
struct ChannelReader {
    rx: mpsc::Receiver<Result<Bytes, StoreError>>,
    current: Bytes,
    failure: ReadFailure,
    done: bool,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            if self.done {
                return Ok(0);
            }
            match self.rx.blocking_recv() {
                Some(Ok(bytes)) => self.current = bytes,
                Some(Err(e)) => {
                    self.done = true;
                    let message = e.to_string();
                    self.failure.set(e);
                    return Err(std::io::Error::other(message));
                }
                None => self.done = true,
            }
        }
        let n = buf.len().min(self.current.len());
        let chunk = self.current.split_to(n);
        if let Some(dst) = buf.get_mut(..n) {
            dst.copy_from_slice(&chunk);
        }
        Ok(n)
    }
}

/// Pumps a body into the channel until it ends, fails, stalls, or the reader goes away.
/// The `x-amz-copy-source` of `key` in `bucket`: the key percent-encoded but for `/`.
fn copy_source(bucket: &str, key: &str) -> String {
    let mut out = format!("{bucket}/");
    for byte in key.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~/".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

async fn pump(
    mut body: ByteStream,
    tx: mpsc::Sender<Result<Bytes, StoreError>>,
    what: String,
    stall: Duration,
) {
    loop {
        let item = match tokio::time::timeout(stall, body.next()).await {
            Ok(None) => return,
            Ok(Some(Ok(bytes))) => Ok(bytes),
            Ok(Some(Err(e))) => Err(StoreError::Unavailable(format!("{what}: body: {e}"))),
            Err(_) => Err(StoreError::Unavailable(format!(
                "{what}: no body bytes for {stall:?}"
            ))),
        };
        let failed = item.is_err();
        if tx.send(item).await.is_err() || failed {
            return;
        }
    }
}

/// A multipart upload in progress.
struct S3Upload {
    client: Client,
    bucket: String,
    key: String,
    upload_id: String,
    parts: Vec<CompletedPart>,
}

impl S3Upload {
    /// The next part's number; S3 allows 10,000 parts.
    fn next_part_number(&self) -> Result<i32, StoreError> {
        i32::try_from(self.parts.len() + 1)
            .ok()
            .filter(|n| *n <= 10_000)
            .ok_or_else(|| {
                StoreError::Invalid(format!("upload of '{}' has too many parts", self.key))
            })
    }

    async fn abort_now(&self) {
        if let Err(e) = self
            .client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(&self.upload_id)
            .send()
            .await
        {
            tracing::warn!(bucket = %self.bucket, key = %self.key, error = %classify("AbortMultipartUpload", e), "could not abort a multipart upload; the bucket's lifecycle rule will sweep it");
        }
    }
}

#[async_trait]
impl BlobUpload for S3Upload {
    async fn write_part(&mut self, part: Vec<u8>) -> Result<(), StoreError> {
        let number = self.next_part_number()?;
        let output = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(&self.upload_id)
            .part_number(number)
            .body(ByteStream::from(part))
            .send()
            .await
            .map_err(|e| classify("UploadPart", e))?;
        self.parts.push(
            CompletedPart::builder()
                .set_e_tag(output.e_tag().map(str::to_owned))
                .part_number(number)
                .build(),
        );
        Ok(())
    }

    /// `UploadPartCopy` of the whole source object.
    async fn copy_part(&mut self, bucket: &str, key: &str) -> Result<(), StoreError> {
        let number = self.next_part_number()?;
        let output = self
            .client
            .upload_part_copy()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(&self.upload_id)
            .part_number(number)
            .copy_source(copy_source(bucket, key))
            .send()
            .await
            .map_err(|e| classify("UploadPartCopy", e))?;
        self.parts.push(
            CompletedPart::builder()
                .set_e_tag(
                    output
                        .copy_part_result()
                        .and_then(|r| r.e_tag())
                        .map(str::to_owned),
                )
                .part_number(number)
                .build(),
        );
        Ok(())
    }

    /// `CompleteMultipartUpload` with `If-None-Match: *`: 412 when the key exists (a
    /// [`StoreError::Conflict`]); any failure aborts the upload.
    async fn complete(self: Box<Self>) -> Result<(), StoreError> {
        let result = self
            .client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(&self.upload_id)
            .if_none_match("*")
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(self.parts.clone()))
                    .build(),
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => {
                let error = classify("CompleteMultipartUpload", e);
                self.abort_now().await;
                Err(error)
            }
        }
    }

    async fn abort(self: Box<Self>) {
        self.abort_now().await;
    }
}

#[async_trait]
impl BlobStreams for S3ObjectStore {
    async fn open(&self, bucket: &str, key: &str) -> Result<Option<BlobReader>, StoreError> {
        self.open_exact(bucket, key, None, None).await
    }

    async fn open_exact(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        etag: Option<&str>,
    ) -> Result<Option<BlobReader>, StoreError> {
        self.open_from(bucket, key, version_id, etag, 0).await
    }

    /// `GetObject` with `Range: bytes={start}-` (none from 0), pinned as in `open_exact`.
    async fn open_from(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        etag: Option<&str>,
        start: u64,
    ) -> Result<Option<BlobReader>, StoreError> {
        check_object_key(key)?;
        let range = (start > 0).then(|| format!("bytes={start}-"));
        let Some(output) = get_exact(self.client(), bucket, key, version_id, etag, range).await?
        else {
            return Ok(None);
        };
        let (tx, rx) = mpsc::channel(BODY_CHANNEL_CHUNKS);
        tokio::spawn(pump(
            output.body,
            tx,
            format!("GetObject s3://{bucket}/{key}"),
            self.stall_timeout(),
        ));
        let failure = ReadFailure::default();
        Ok(Some(BlobReader::new(
            Box::new(ChannelReader {
                rx,
                current: Bytes::new(),
                failure: failure.clone(),
                done: false,
            }),
            failure,
        )))
    }

    /// `HeadObject`; a missing key is `None`.
    async fn head(&self, bucket: &str, key: &str) -> Result<Option<ObjectInfo>, StoreError> {
        check_object_key(key)?;
        match self
            .client()
            .head_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
        {
            Ok(output) => Ok(Some(ObjectInfo {
                size: output
                    .content_length()
                    .and_then(|n| u64::try_from(n).ok())
                    .unwrap_or(0),
                version_id: output
                    .version_id()
                    .filter(|v| !v.is_empty() && *v != "null")
                    .map(str::to_owned),
                etag: output.e_tag().map(|e| e.trim_matches('"').to_owned()),
            })),
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Ok(None),
            Err(e) => Err(classify("HeadObject", e)),
        }
    }

    /// `DeleteObject` (S3 answers success for a missing key too).
    async fn delete(&self, bucket: &str, key: &str) -> Result<(), StoreError> {
        check_object_key(key)?;
        self.client()
            .delete_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| classify("DeleteObject", e))?;
        Ok(())
    }

    async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let mut listed = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client()
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .max_keys(LIST_PAGE)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| classify("ListObjectsV2", e))?;
            listed.extend(page.contents().iter().filter_map(|o| {
                let modified = o
                    .last_modified()
                    .and_then(|t| u64::try_from(t.to_millis().ok()?).ok())
                    .unwrap_or(0);
                o.key().map(|k| (k.to_owned(), modified))
            }));
            if listed.len() > MAX_LISTED_OBJECTS {
                return Err(StoreError::Invalid(format!(
                    "s3://{bucket}/{prefix} holds more than {MAX_LISTED_OBJECTS} objects"
                )));
            }
            match page.next_continuation_token() {
                Some(next) if page.is_truncated() == Some(true) => token = Some(next.to_owned()),
                _ => return Ok(newest_keys(listed, limit)),
            }
        }
    }

    async fn create_upload(
        &self,
        bucket: &str,
        key: &str,
        content_type: &str,
    ) -> Result<Box<dyn BlobUpload>, StoreError> {
        check_object_key(key)?;
        let output = self
            .client()
            .create_multipart_upload()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .send()
            .await
            .map_err(|e| classify("CreateMultipartUpload", e))?;
        let upload_id = output
            .upload_id()
            .ok_or_else(|| {
                StoreError::Unavailable(format!(
                    "CreateMultipartUpload s3://{bucket}/{key}: no upload id in the answer"
                ))
            })?
            .to_owned();
        Ok(Box::new(S3Upload {
            client: self.client().clone(),
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            upload_id,
            parts: Vec::new(),
        }))
    }
}
