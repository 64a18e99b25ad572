//! The vault's content-addressed artifacts, `backups/objects/sha256/{hex}`: a backup holds an
//! artifact by copying it there server-side, unless an earlier backup already did, and then
//! names it in its manifest. Retention deletes such an object only when no kept backup names it.

use std::sync::Arc;

use crate::domain::ModelVersion;
use crate::error::ServiceError;
use crate::ports::{ObjectAdmin, StoreError};
use crate::workflows::manifest::{content_key, ManifestObject};

/// Artifacts copied from the models store into the vault by content.
#[derive(Clone)]
pub struct ContentStore {
    models: Arc<dyn ObjectAdmin>,
    vault: Arc<dyn ObjectAdmin>,
}

/// An artifact a backup holds, and whether this backup copied it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// Its manifest entry.
    pub object: ManifestObject,
    /// `false` when the vault already held these bytes.
    pub copied: bool,
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
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ServiceError::Internal(format!(
                "{what}: its registry item's sha256 '{sha256}' is not a SHA-256"
            )));
        }
        let key = content_key(sha256);
        let entry = |size: u64| ManifestObject {
            backup_key: key.clone(),
            source_key: version.s3_key.clone(),
            sha256: sha256.clone(),
            size,
        };
        match self.vault.head(&key).await {
            Ok(Some(meta)) if &meta.sha256 == sha256 => {
                return Ok(Held {
                    object: entry(meta.size),
                    copied: false,
                })
            }
            // Missing, or damaged (copied over below).
            Ok(_) | Err(StoreError::Corrupted(_)) => {}
            Err(e) => return Err(e.into()),
        }
        let meta = self
            .models
            .head(&version.s3_key)
            .await
            .map_err(|e| match e {
                StoreError::Unavailable(_) => ServiceError::from(e),
                other => ServiceError::Internal(format!("{what}: {other}")),
            })?
            .ok_or_else(|| ServiceError::Internal(format!("{what} is missing")))?;
        if &meta.sha256 != sha256 {
            return Err(ServiceError::Internal(format!(
                "{what} has sha256 {}, but its registry item says {sha256}",
                meta.sha256
            )));
        }
        let source = self.models.copy_source(&version.s3_key)?;
        self.vault.copy(&source, &key).await?;
        Ok(Held {
            object: entry(meta.size),
            copied: true,
        })
    }
}
