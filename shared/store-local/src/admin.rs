//! Listing, reading metadata, replacing, copying, streaming and deleting objects on the local
//! adapter, for backups (the vault is a second [`LocalObjectStore`] beside the models) and
//! restores.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use async_trait::async_trait;

use super::blobs::list_keys;
use super::objects::{io_error, meta_path, temp_path, LocalObjectStore, Staged};
use application::ports::{
    BlobReader, BlobStreams, BlobUpload, CopySource, ObjectAdmin, ObjectMeta, StoreError,
};

impl LocalObjectStore {
    /// Moves staged data and metadata files over `path` and its metadata, data first; a reader
    /// between the two renames sees a checksum mismatch (a retryable read), never mixed bytes.
    fn publish(path: &Path, data_tmp: &Path, meta_tmp: &Path) -> Result<(), StoreError> {
        let meta_path = meta_path(path);
        fs::rename(data_tmp, path)
            .and_then(|()| fs::rename(meta_tmp, &meta_path))
            .map_err(|e| {
                let _ = fs::remove_file(data_tmp);
                let _ = fs::remove_file(meta_tmp);
                io_error(path, e)
            })
    }
}

/// Copies `from` to a fresh temporary file in `dir`.
fn copy_to_temp(from: &Path, dir: &Path) -> Result<PathBuf, StoreError> {
    let tmp = temp_path(dir);
    match fs::copy(from, &tmp) {
        Ok(_) => Ok(tmp),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(if e.kind() == ErrorKind::NotFound {
                StoreError::Invalid(format!("copy source '{}' is missing", from.display()))
            } else {
                io_error(from, e)
            })
        }
    }
}

#[async_trait]
impl ObjectAdmin for LocalObjectStore {
    async fn list_keys(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        list_keys(self.root(), prefix)
    }

    /// The metadata file, without reading the object's bytes.
    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, StoreError> {
        let path = self.path_of(key)?;
        if !path.is_file() {
            return Ok(None);
        }
        let bytes = match fs::read(meta_path(&path)) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_error(&path, e)),
        };
        serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            StoreError::Corrupted(format!("metadata of object '{key}' does not parse: {e}"))
        })
    }

    /// Both files are written to temporary files and renamed over the old ones, data first.
    async fn put(&self, key: &str, bytes: &[u8], meta: &ObjectMeta) -> Result<(), StoreError> {
        let Staged {
            path,
            data_tmp,
            meta_tmp,
        } = self.stage(key, bytes, meta)?;
        Self::publish(&path, &data_tmp, &meta_tmp)
    }

    /// The object's file.
    fn copy_source(&self, key: &str) -> Result<CopySource, StoreError> {
        let path = self.path_of(key)?;
        let spelled = path.to_str().ok_or_else(|| {
            StoreError::Invalid(format!("the path of object '{key}' is not UTF-8"))
        })?;
        Ok(CopySource::new(spelled.to_owned()))
    }

    /// A file copy of the object and its metadata to temporary files beside `key`, then renamed
    /// into place as [`ObjectAdmin::put`] does.
    async fn copy(&self, source: &CopySource, key: &str) -> Result<(), StoreError> {
        let path = self.path_of(key)?;
        let dir = path
            .parent()
            .ok_or_else(|| StoreError::Invalid(format!("object key '{key}' has no directory")))?;
        fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
        let from = Path::new(source.as_str());
        let data_tmp = copy_to_temp(from, dir)?;
        let meta_tmp = copy_to_temp(&meta_path(from), dir).inspect_err(|_| {
            let _ = fs::remove_file(&data_tmp);
        })?;
        Self::publish(&path, &data_tmp, &meta_tmp)
    }

    async fn write_stream(
        &self,
        key: &str,
        content_type: &str,
    ) -> Result<Box<dyn BlobUpload>, StoreError> {
        BlobStreams::create_upload(self, "", key, content_type).await
    }

    async fn read_stream(&self, key: &str) -> Result<Option<BlobReader>, StoreError> {
        BlobStreams::open(self, "", key).await
    }

    /// Removes the object and its metadata, then the directories it leaves empty.
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let path = self.path_of(key)?;
        for file in [path.clone(), meta_path(&path)] {
            match fs::remove_file(&file) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(io_error(&file, e)),
            }
        }
        let mut dir = path.parent();
        while let Some(d) = dir.filter(|d| *d != self.root()) {
            if fs::remove_dir(d).is_err() {
                break;
            }
            dir = d.parent();
        }
        Ok(())
    }
}
