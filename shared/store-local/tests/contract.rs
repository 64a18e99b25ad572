//! The store contract on the local adapter (directory + SQLite), and what only the local adapter
//! does: files on disk.

#![allow(clippy::restriction)] // test code: it may unwrap, expect, panic and index

use std::sync::Arc;

use application::ports::{JobStore, ModelRegistry, ObjectStore, StoreError};
use async_trait::async_trait;
use store_contract::{item, meta_of, Backend};
use store_local::{LocalObjectStore, LocalStores};

/// The local adapters in their own temporary directory, removed on drop.
struct LocalBackend {
    dir: tempfile::TempDir,
    stores: LocalStores,
}

impl LocalBackend {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let stores = LocalStores::open(dir.path()).unwrap();
        Self { dir, stores }
    }

    fn data_dir(&self) -> &std::path::Path {
        self.dir.path()
    }
}

#[async_trait]
impl Backend for LocalBackend {
    fn objects(&self) -> Arc<dyn ObjectStore> {
        self.stores.objects.clone()
    }

    fn registry(&self) -> Arc<dyn ModelRegistry> {
        self.stores.items.clone()
    }

    fn jobs(&self) -> Arc<dyn JobStore> {
        self.stores.items.clone()
    }

    async fn corrupt(&self, key: &str, bytes: &[u8], _sha256: &str) {
        std::fs::write(self.data_dir().join("objects").join(key), bytes).unwrap()
    }
}

store_contract::contract_suite!(async { Some(LocalBackend::new()) });

#[tokio::test]
async fn local_when_object_put_should_leave_no_temporary_files() {
    let env = LocalBackend::new();
    let objects = &env.stores.objects;
    let key = "models/m/v000001/model.nmly";
    objects
        .put_if_absent(key, b"first", &meta_of(b"first"))
        .await
        .unwrap();
    let _ = objects
        .put_if_absent(key, b"second", &meta_of(b"second"))
        .await;
    let leftovers: Vec<_> = std::fs::read_dir(env.data_dir().join("objects/models/m/v000001"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty());
}

#[tokio::test]
async fn local_when_key_would_shadow_metadata_should_be_refused() {
    let env = LocalBackend::new();
    let store = LocalObjectStore::open(env.data_dir().join("o")).unwrap();
    let err = store
        .put_if_absent("a.meta.json", b"x", &meta_of(b"x"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
}

#[tokio::test]
async fn local_when_reopened_should_keep_items_and_objects() {
    let env = LocalBackend::new();
    env.stores
        .items
        .register_version(&item("m", 1), None)
        .await
        .unwrap();
    env.stores
        .objects
        .put_if_absent("k/x", b"abc", &meta_of(b"abc"))
        .await
        .unwrap();
    let reopened = LocalStores::open(env.data_dir()).unwrap();
    assert_eq!(reopened.items.latest("m").await.unwrap(), Some(1));
    assert_eq!(
        reopened.objects.get("k/x").await.unwrap().unwrap().bytes,
        b"abc"
    );
}
