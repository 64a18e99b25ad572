//! Listing, replacing and deleting objects on the local adapter, for backups (the vault is a
//! second [`LocalObjectStore`] beside the models) and restores.

use std::fs;
use std::io::ErrorKind;

use async_trait::async_trait;

use super::blobs::list_keys;
use super::objects::{io_error, meta_path, LocalObjectStore, Staged};
use application::ports::{ObjectAdmin, ObjectMeta, StoreError};

#[async_trait]
impl ObjectAdmin for LocalObjectStore {
    async fn list_keys(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        list_keys(self.root(), prefix)
    }

    /// Both files are written to temporary files and renamed over the old ones, data first; a
    /// reader between the two renames sees a checksum mismatch (a retryable read), never mixed
    /// bytes.
    async fn put(&self, key: &str, bytes: &[u8], meta: &ObjectMeta) -> Result<(), StoreError> {
        let Staged {
            path,
            data_tmp,
            meta_tmp,
        } = self.stage(key, bytes, meta)?;
        let meta_path = meta_path(&path);
        fs::rename(&data_tmp, &path)
            .and_then(|()| fs::rename(&meta_tmp, &meta_path))
            .map_err(|e| {
                let _ = fs::remove_file(&data_tmp);
                let _ = fs::remove_file(&meta_tmp);
                io_error(&path, e)
            })
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
