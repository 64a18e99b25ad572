//! Streaming on the local adapter: objects read as files, listed by walking the directory, and
//! written to a temporary file that is linked into place (never over an existing object) with
//! its metadata, so [`ObjectStore::get`](application::ports::ObjectStore::get) reads them back too.

use std::fs::{self, File};
use std::io::{ErrorKind, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use sha2::{Digest, Sha256};

use super::objects::{io_error, meta_path, temp_path, LocalObjectStore};
use application::ports::{
    newest_keys, BlobReader, BlobStreams, BlobUpload, ObjectInfo, ObjectMeta, ReadFailure,
    StoreError, MAX_LISTED_OBJECTS,
};

/// Most directory entries visited by one listing, so a huge tree cannot stall a function.
const MAX_LISTED_ENTRIES: usize = 1_000_000;

/// A file being written; removed unless completed.
struct LocalUpload {
    store: LocalObjectStore,
    key: String,
    path: PathBuf,
    tmp: PathBuf,
    file: Option<File>,
    sha: Sha256,
    size: u64,
    content_type: String,
}

impl LocalUpload {
    fn discard(&mut self) {
        self.file = None;
        let _ = fs::remove_file(&self.tmp);
    }
}

impl Drop for LocalUpload {
    fn drop(&mut self) {
        if self.file.is_some() {
            self.discard();
        }
    }
}

#[async_trait]
impl BlobUpload for LocalUpload {
    async fn write_part(&mut self, part: Vec<u8>) -> Result<(), StoreError> {
        let file = self.file.as_mut().ok_or_else(|| {
            StoreError::Invalid(format!("upload of '{}' is already finished", self.key))
        })?;
        file.write_all(&part).map_err(|e| io_error(&self.tmp, e))?;
        self.sha.update(&part);
        self.size += part.len() as u64;
        Ok(())
    }

    /// Appends the source file's bytes (the local stand-in for a server-side copy).
    async fn copy_part(&mut self, _bucket: &str, key: &str) -> Result<(), StoreError> {
        let source = self.store.path_of(key)?;
        let mut input = File::open(&source).map_err(|e| io_error(&source, e))?;
        let file = self.file.as_mut().ok_or_else(|| {
            StoreError::Invalid(format!("upload of '{}' is already finished", self.key))
        })?;
        let mut hashing = HashingWriter {
            inner: file,
            sha: &mut self.sha,
        };
        let copied = std::io::copy(&mut input, &mut hashing).map_err(|e| io_error(&self.tmp, e))?;
        self.size += copied;
        Ok(())
    }

    async fn complete(mut self: Box<Self>) -> Result<(), StoreError> {
        let file = self.file.take().ok_or_else(|| {
            StoreError::Invalid(format!("upload of '{}' is already finished", self.key))
        })?;
        let synced = file.sync_all().map_err(|e| io_error(&self.tmp, e));
        drop(file);
        if let Err(e) = synced {
            let _ = fs::remove_file(&self.tmp);
            return Err(e);
        }
        let meta = ObjectMeta {
            sha256: hex(&self.sha.clone().finalize()),
            size: self.size,
            content_type: self.content_type.clone(),
        };
        let meta_json = serde_json::to_vec_pretty(&meta)
            .map_err(|e| StoreError::Invalid(format!("metadata of '{}': {e}", self.key)))?;
        // As in `put_if_absent`: the hard link claims the key atomically (never replacing an
        // object), then the metadata is renamed beside it.
        let linked = fs::hard_link(&self.tmp, &self.path);
        let _ = fs::remove_file(&self.tmp);
        match linked {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                return Err(StoreError::Conflict(format!(
                    "object '{}' already exists",
                    self.key
                )))
            }
            Err(e) => return Err(io_error(&self.path, e)),
        }
        let meta_file = meta_path(&self.path);
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let tmp_meta = temp_path(dir);
        fs::write(&tmp_meta, meta_json).map_err(|e| io_error(&tmp_meta, e))?;
        fs::rename(&tmp_meta, &meta_file).map_err(|e| io_error(&meta_file, e))
    }

    async fn abort(mut self: Box<Self>) {
        self.discard();
    }
}

/// Writes through to a file while hashing what passes.
struct HashingWriter<'a> {
    inner: &'a mut File,
    sha: &'a mut Sha256,
}

impl Write for HashingWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sha.update(buf.get(..n).unwrap_or_default());
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Walks `dir`, collecting object keys (relative to `root`) that start with `prefix`, skipping
/// metadata and temporary files.
/// Every object key under `prefix` in the store rooted at `root`, in key order (temporary and
/// metadata files skipped).
pub(super) fn list_keys(root: &Path, prefix: &str) -> Result<Vec<String>, StoreError> {
    let mut out = Vec::new();
    let mut visited = 0;
    walk(root, root, prefix, &mut out, &mut visited)?;
    out.sort();
    Ok(out)
}

fn walk(
    root: &Path,
    dir: &Path,
    prefix: &str,
    out: &mut Vec<String>,
    visited: &mut usize,
) -> Result<(), StoreError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_error(dir, e)),
    };
    for entry in entries {
        *visited += 1;
        if *visited > MAX_LISTED_ENTRIES {
            return Err(StoreError::Invalid(format!(
                "listing '{prefix}' visits more than {MAX_LISTED_ENTRIES} entries"
            )));
        }
        let entry = entry.map_err(|e| io_error(dir, e))?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(".tmp-") || name.ends_with(".meta.json") {
            continue;
        }
        let Some(key) = path
            .strip_prefix(root)
            .ok()
            .and_then(|p| p.to_str())
            .map(|k| k.replace(std::path::MAIN_SEPARATOR, "/"))
        else {
            continue;
        };
        let file_type = entry.file_type().map_err(|e| io_error(&path, e))?;
        if file_type.is_dir() {
            let as_dir = format!("{key}/");
            if as_dir.starts_with(prefix) || prefix.starts_with(&as_dir) {
                walk(root, &path, prefix, out, visited)?;
            }
        } else if key.starts_with(prefix) {
            out.push(key);
        }
    }
    Ok(())
}

#[async_trait]
impl BlobStreams for LocalObjectStore {
    /// The bucket is ignored: the local store is one directory.
    async fn open(&self, _bucket: &str, key: &str) -> Result<Option<BlobReader>, StoreError> {
        let path = self.path_of(key)?;
        match File::open(&path) {
            Ok(file) => Ok(Some(BlobReader::new(
                Box::new(file),
                ReadFailure::default(),
            ))),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(&path, e)),
        }
    }

    /// The bucket, version and ETag are ignored: the local store keeps one version of a file.
    async fn open_from(
        &self,
        _bucket: &str,
        key: &str,
        _version_id: Option<&str>,
        _etag: Option<&str>,
        start: u64,
    ) -> Result<Option<BlobReader>, StoreError> {
        let path = self.path_of(key)?;
        let mut file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_error(&path, e)),
        };
        file.seek(SeekFrom::Start(start))
            .map_err(|e| io_error(&path, e))?;
        Ok(Some(BlobReader::new(
            Box::new(std::io::BufReader::with_capacity(256 * 1024, file)),
            ReadFailure::default(),
        )))
    }

    async fn head(&self, _bucket: &str, key: &str) -> Result<Option<ObjectInfo>, StoreError> {
        let path = self.path_of(key)?;
        match fs::metadata(&path) {
            Ok(meta) => Ok(Some(ObjectInfo {
                size: meta.len(),
                version_id: None,
                etag: None,
            })),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(&path, e)),
        }
    }

    async fn delete(&self, _bucket: &str, key: &str) -> Result<(), StoreError> {
        let path = self.path_of(key)?;
        for file in [meta_path(&path), path] {
            match fs::remove_file(&file) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(io_error(&file, e)),
            }
        }
        Ok(())
    }

    async fn list(
        &self,
        _bucket: &str,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let keys = list_keys(self.root(), prefix)?;
        if keys.len() > MAX_LISTED_OBJECTS {
            return Err(StoreError::Invalid(format!(
                "'{prefix}' holds more than {MAX_LISTED_OBJECTS} objects"
            )));
        }
        let mut listed = Vec::with_capacity(keys.len());
        for key in keys {
            let path = self.path_of(&key)?;
            let modified = fs::metadata(&path)
                .and_then(|m| m.modified())
                .map_err(|e| io_error(&path, e))?;
            let millis = modified
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
            listed.push((key, millis));
        }
        Ok(newest_keys(listed, limit))
    }

    async fn create_upload(
        &self,
        _bucket: &str,
        key: &str,
        content_type: &str,
    ) -> Result<Box<dyn BlobUpload>, StoreError> {
        let path = self.path_of(key)?;
        let dir = path
            .parent()
            .ok_or_else(|| StoreError::Invalid(format!("object key '{key}' has no directory")))?;
        fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
        let tmp = temp_path(dir);
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| io_error(&tmp, e))?;
        Ok(Box::new(LocalUpload {
            store: self.clone(),
            key: key.to_owned(),
            path,
            tmp,
            file: Some(file),
            sha: Sha256::new(),
            size: 0,
            content_type: content_type.to_owned(),
        }))
    }
}
