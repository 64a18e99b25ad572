//! Upload and download links on the local store: `file://` paths into the store's directory, for
//! a caller on the same machine (the local stand-in for S3 presigned URLs; nothing is signed).

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;

use super::objects::LocalObjectStore;
use application::ports::{SignedUrl, StoreError, UrlSigner};

fn link(
    store: &LocalObjectStore,
    key: &str,
    method: &str,
    ttl_secs: u64,
) -> Result<SignedUrl, StoreError> {
    let path = store.path_of(key)?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Ok(SignedUrl {
        url: format!("file://{}", path.display()),
        method: method.to_owned(),
        headers: BTreeMap::new(),
        expires_at: now.saturating_add(ttl_secs),
    })
}

#[async_trait]
impl UrlSigner for LocalObjectStore {
    /// The bucket is ignored: the local store is one directory. The caller writes the file at
    /// the path (creating its directories).
    async fn sign_put(
        &self,
        _bucket: &str,
        key: &str,
        _content_type: &str,
        ttl_secs: u64,
    ) -> Result<SignedUrl, StoreError> {
        link(self, key, "PUT", ttl_secs)
    }

    async fn sign_get(
        &self,
        _bucket: &str,
        key: &str,
        ttl_secs: u64,
    ) -> Result<SignedUrl, StoreError> {
        link(self, key, "GET", ttl_secs)
    }
}
