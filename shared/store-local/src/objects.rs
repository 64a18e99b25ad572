//! Objects as files: `{root}/{key}` with `{key}.meta.json` beside it, written to a temporary file
//! and then linked into place, so a reader never sees a half-written object and an existing one is
//! never replaced.

use std::fs;
use std::io::{ErrorKind, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;

use application::ports::{
    check_object_key, check_object_meta, verify_object, ObjectMeta, ObjectStore, StoreError,
    StoredObject,
};

/// Distinguishes temporary files written by concurrent puts in one process.
static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// An [`ObjectStore`] on a local directory.
#[derive(Debug, Clone)]
pub struct LocalObjectStore {
    root: PathBuf,
}

impl LocalObjectStore {
    /// A store rooted at `root` (created when missing).
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let root = root.into();
        fs::create_dir_all(&root).map_err(|e| io_error(&root, e))?;
        Ok(Self { root })
    }

    /// The file an object key maps to; keys are relative `/`-separated paths without `..`.
    pub fn path_of(&self, key: &str) -> Result<PathBuf, StoreError> {
        check_object_key(key)?;
        let relative = Path::new(key);
        let safe = !key.ends_with(".meta.json")
            && relative
                .components()
                .all(|c| matches!(c, Component::Normal(_)));
        if !safe {
            return Err(StoreError::Invalid(format!(
                "object key '{key}' is not allowed"
            )));
        }
        Ok(self.root.join(relative))
    }

    /// The directory objects live under.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn meta_path(path: &Path) -> PathBuf {
        meta_path(path)
    }

    /// Writes the object's bytes and metadata to temporary files beside where they go, for a
    /// put to move into place.
    pub(super) fn stage(
        &self,
        key: &str,
        bytes: &[u8],
        meta: &ObjectMeta,
    ) -> Result<Staged, StoreError> {
        let path = self.path_of(key)?;
        check_object_meta(key, bytes, meta)?;
        let dir = path
            .parent()
            .ok_or_else(|| StoreError::Invalid(format!("object key '{key}' has no directory")))?;
        fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
        let meta_json = serde_json::to_vec_pretty(meta)
            .map_err(|e| StoreError::Invalid(format!("metadata of '{key}': {e}")))?;
        let data_tmp = write_temp(dir, bytes)?;
        let meta_tmp = write_temp(dir, &meta_json).inspect_err(|_| {
            let _ = fs::remove_file(&data_tmp);
        })?;
        Ok(Staged {
            path,
            data_tmp,
            meta_tmp,
        })
    }

    fn put_sync(&self, key: &str, bytes: &[u8], meta: &ObjectMeta) -> Result<(), StoreError> {
        let Staged {
            path,
            data_tmp,
            meta_tmp,
        } = self.stage(key, bytes, meta)?;
        // A hard link never replaces an existing file: the object is claimed atomically.
        let linked = fs::hard_link(&data_tmp, &path);
        let _ = fs::remove_file(&data_tmp);
        match linked {
            Ok(()) => {}
            Err(e) => {
                let _ = fs::remove_file(&meta_tmp);
                return Err(if e.kind() == ErrorKind::AlreadyExists {
                    StoreError::Conflict(format!("object '{key}' already exists"))
                } else {
                    io_error(&path, e)
                });
            }
        }
        let meta_path = Self::meta_path(&path);
        fs::rename(&meta_tmp, &meta_path).map_err(|e| io_error(&meta_path, e))
    }

    fn get_sync(&self, key: &str) -> Result<Option<StoredObject>, StoreError> {
        let path = self.path_of(key)?;
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_error(&path, e)),
        };
        let meta_path = Self::meta_path(&path);
        let meta_bytes = fs::read(&meta_path).map_err(|e| {
            StoreError::Corrupted(format!("metadata of object '{key}' is unreadable: {e}"))
        })?;
        let meta: ObjectMeta = serde_json::from_slice(&meta_bytes).map_err(|e| {
            StoreError::Corrupted(format!("metadata of object '{key}' does not parse: {e}"))
        })?;
        verify_object(key, StoredObject { bytes, meta }).map(Some)
    }
}

/// An object written to temporary files, not yet in place.
pub(super) struct Staged {
    /// Where the object goes.
    pub path: PathBuf,
    /// Its bytes.
    pub data_tmp: PathBuf,
    /// Its metadata.
    pub meta_tmp: PathBuf,
}

/// The metadata file beside an object's file.
pub(super) fn meta_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".meta.json");
    PathBuf::from(s)
}

/// A fresh temporary file name in `dir` (skipped by listings).
pub(super) fn temp_path(dir: &Path) -> PathBuf {
    let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    dir.join(format!(
        ".tmp-{}-{n}-{:016x}",
        std::process::id(),
        rand::random::<u64>()
    ))
}

/// Writes `bytes` to a new temporary file in `dir` and syncs it.
fn write_temp(dir: &Path, bytes: &[u8]) -> Result<PathBuf, StoreError> {
    let path = temp_path(dir);
    let result = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .and_then(|mut f| {
            f.write_all(bytes)?;
            f.sync_all()
        });
    match result {
        Ok(()) => Ok(path),
        Err(e) => {
            let _ = fs::remove_file(&path);
            Err(io_error(&path, e))
        }
    }
}

pub(super) fn io_error(path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Unavailable(format!("{}: {e}", path.display()))
}

#[async_trait]
impl ObjectStore for LocalObjectStore {
    async fn put_if_absent(
        &self,
        key: &str,
        bytes: &[u8],
        meta: &ObjectMeta,
    ) -> Result<(), StoreError> {
        self.put_sync(key, bytes, meta)
    }

    async fn get(&self, key: &str) -> Result<Option<StoredObject>, StoreError> {
        self.get_sync(key)
    }
}
