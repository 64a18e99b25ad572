//! The vault's content-addressed objects, `backups/objects/sha256/{hex}`: a backup holds a model
//! artifact or a series state by copying it there server-side, unless an earlier backup already
//! did, and then names it in its manifest. Retention deletes such an object only when no kept
//! backup names it.

use std::sync::Arc;

use crate::domain::ModelVersion;
use crate::error::ServiceError;
use crate::ports::{ObjectAdmin, StoreError};
use crate::workflows::manifest::{content_key, ManifestObject};

/// Objects copied from the models store (artifacts, series states) into the vault by content.
#[derive(Clone)]
pub struct ContentStore {
    models: Arc<dyn ObjectAdmin>,
    vault: Arc<dyn ObjectAdmin>,
}

/// An object a backup holds, and whether this backup copied it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// Its manifest entry.
    pub object: ManifestObject,
    /// `false` when the vault already held these bytes.
    pub copied: bool,
}

/// Whether `sha256` is 64 hex digits (what a content key may hold).
fn is_sha256(sha256: &str) -> bool {
    sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit())
}

impl ContentStore {
    /// Copies from `models` into `vault`.
    pub fn new(models: Arc<dyn ObjectAdmin>, vault: Arc<dyn ObjectAdmin>) -> Self {
        Self { models, vault }
    }

    /// Makes the vault hold `version`'s artifact: nothing when it already does, else a
    /// server-side copy after checking the artifact's stored SHA-256 against the registry item.
    pub async fn hold(&self, version: &ModelVersion) -> Result<Held, ServiceError> {
        let what = format!(
            "the artifact of model '{}' version {} ({})",
            version.name, version.version, version.s3_key
        );
        let sha256 = &version.sha256;
        if !is_sha256(sha256) {
            return Err(ServiceError::Internal(format!(
                "{what}: its registry item's sha256 '{sha256}' is not a SHA-256"
            )));
        }
        if let Some(held) = self.already_held(&version.s3_key, sha256).await? {
            return Ok(held);
        }
        let meta = self
            .models
            .head(&version.s3_key)
            .await
            .map_err(|e| source_error(&what, e))?
            .ok_or_else(|| ServiceError::Internal(format!("{what} is missing")))?;
        if &meta.sha256 != sha256 {
            return Err(ServiceError::Internal(format!(
                "{what} has sha256 {}, but its registry item says {sha256}",
                meta.sha256
            )));
        }
        self.copy_in(&version.s3_key, sha256, meta.size)
            .await?
            .ok_or_else(|| ServiceError::Internal(format!("{what} is missing")))
    }

    /// Makes the vault hold the object at `key` as it is now (an object no record states the
    /// SHA-256 of, such as a series state: its stored metadata says it); `None` when there is no
    /// such object, or it was deleted before it could be copied (a series state superseded by an
    /// append: the caller reads its record again). `what` names it in errors.
    pub async fn hold_current(&self, key: &str, what: &str) -> Result<Option<Held>, ServiceError> {
        let Some(meta) = self
            .models
            .head(key)
            .await
            .map_err(|e| source_error(what, e))?
        else {
            return Ok(None);
        };
        if !is_sha256(&meta.sha256) {
            return Err(ServiceError::Internal(format!(
                "{what}: its stored sha256 '{}' is not a SHA-256",
                meta.sha256
            )));
        }
        if let Some(held) = self.already_held(key, &meta.sha256).await? {
            return Ok(Some(held));
        }
        self.copy_in(key, &meta.sha256, meta.size).await
    }

    /// The vault's entry for `source_key` when it already holds bytes of `sha256`.
    async fn already_held(
        &self,
        source_key: &str,
        sha256: &str,
    ) -> Result<Option<Held>, ServiceError> {
        match self.vault.head(&content_key(sha256)).await {
            Ok(Some(meta)) if meta.sha256 == sha256 => Ok(Some(Held {
                object: entry(source_key, sha256, meta.size),
                copied: false,
            })),
            // Missing, or damaged (copied over by the caller).
            Ok(_) | Err(StoreError::Corrupted(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Copies the object at `source_key` (of `sha256` and `size`) into the vault server-side;
    /// `None` when it is gone by the time it is copied.
    async fn copy_in(
        &self,
        source_key: &str,
        sha256: &str,
        size: u64,
    ) -> Result<Option<Held>, ServiceError> {
        let source = self.models.copy_source(source_key)?;
        match self.vault.copy(&source, &content_key(sha256)).await {
            Ok(()) => {}
            // A missing source is `Invalid`, as a refused request is: the source tells which.
            Err(StoreError::Invalid(reason)) => {
                if self.models.head(source_key).await?.is_none() {
                    return Ok(None);
                }
                return Err(StoreError::Invalid(reason).into());
            }
            Err(e) => return Err(e.into()),
        }
        Ok(Some(Held {
            object: entry(source_key, sha256, size),
            copied: true,
        }))
    }
}

/// The manifest entry of the object at `source_key` held as `sha256`.
fn entry(source_key: &str, sha256: &str, size: u64) -> ManifestObject {
    ManifestObject {
        backup_key: content_key(sha256),
        source_key: source_key.to_owned(),
        sha256: sha256.to_owned(),
        size,
    }
}

/// A failed read of the source: retryable when the store is unavailable, else a broken object.
fn source_error(what: &str, e: StoreError) -> ServiceError {
    match e {
        StoreError::Unavailable(_) => ServiceError::from(e),
        other => ServiceError::Internal(format!("{what}: {other}")),
    }
}
