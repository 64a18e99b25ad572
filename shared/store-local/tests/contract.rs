//! The store contract on the local adapter (directory + SQLite), and what only the local adapter
//! does: files on disk.

#![allow(clippy::restriction)] // test code: it may unwrap, expect, panic and index

use application::ports::{ModelRegistry, ObjectStore, StoreError, Stores};
use async_trait::async_trait;
use store_contract::{item, meta_of, tenant, Backend, LegacyItem};
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
    fn stores(&self) -> Stores {
        Stores::over(self.stores.objects.clone(), self.stores.items.clone(), None)
    }

    async fn corrupt(&self, key: &str, bytes: &[u8], _sha256: &str) {
        std::fs::write(self.data_dir().join("objects").join(key), bytes).unwrap()
    }

    /// The rows the SQLite adapter wrote before tenancy: keys without a tenant, bodies without
    /// one, `LATEST` as `{"version": n}`, jobs indexed under `MODEL#{name}`.
    async fn plant_legacy(&self, item: LegacyItem) {
        let conn = rusqlite::Connection::open(self.data_dir().join("nomaly.db")).unwrap();
        let body_of = |value: serde_json::Value| {
            let mut value = value;
            value.as_object_mut().unwrap().remove("tenant");
            value.to_string()
        };
        let insert = "INSERT INTO items (pk, sk, version, gsi_pk, gsi_sk, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
        match item {
            LegacyItem::Version(v) => conn.execute(
                insert,
                rusqlite::params![
                    format!("MODEL#{}", v.name),
                    format!("VERSION#{:06}", v.version),
                    v.version,
                    None::<String>,
                    None::<String>,
                    body_of(serde_json::to_value(&v).unwrap())
                ],
            ),
            LegacyItem::Latest(v) => conn.execute(
                insert,
                rusqlite::params![
                    format!("MODEL#{}", v.name),
                    "LATEST",
                    v.version,
                    None::<String>,
                    None::<String>,
                    format!("{{\"version\":{}}}", v.version)
                ],
            ),
            LegacyItem::Job(j) => conn.execute(
                insert,
                rusqlite::params![
                    format!("JOB#{}", j.id),
                    "JOB",
                    j.version,
                    j.model.as_ref().map(|m| format!("MODEL#{m}")),
                    format!("{:020}#{}", j.created_at, j.id),
                    body_of(serde_json::to_value(&j).unwrap())
                ],
            ),
        }
        .unwrap();
    }
}

store_contract::contract_suite!(async { Some(LocalBackend::new()) });

#[tokio::test]
async fn local_when_object_put_should_leave_no_temporary_files() {
    let env = LocalBackend::new();
    let objects = &env.stores.objects;
    let key = "models/acme/m/v000001/model.nmly";
    objects
        .put_if_absent(key, b"first", &meta_of(b"first"))
        .await
        .unwrap();
    let _ = objects
        .put_if_absent(key, b"second", &meta_of(b"second"))
        .await;
    let leftovers: Vec<_> = std::fs::read_dir(env.data_dir().join("objects/models/acme/m/v000001"))
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
    assert_eq!(
        reopened.items.latest(&tenant(), "m").await.unwrap(),
        Some(1)
    );
    assert_eq!(
        reopened.objects.get("k/x").await.unwrap().unwrap().bytes,
        b"abc"
    );
}
