//! The store contract on the AWS adapter: S3 + DynamoDB on a moto server (skipped when
//! `moto_server` is not on PATH, unless `NOMALY_REQUIRE_TOOLS=1`).

#![allow(clippy::restriction)] // test code: it may unwrap, expect, panic and index

use std::sync::Arc;

use application::ports::{JobStore, ModelRegistry, ObjectStore};
use async_trait::async_trait;
use fixtures::aws_env::AwsEnv;
use store_contract::Backend;

/// A fresh bucket and table on the shared moto server.
struct AwsBackend(AwsEnv);

#[async_trait]
impl Backend for AwsBackend {
    fn objects(&self) -> Arc<dyn ObjectStore> {
        self.0.objects()
    }

    fn registry(&self) -> Arc<dyn ModelRegistry> {
        self.0.registry()
    }

    fn jobs(&self) -> Arc<dyn JobStore> {
        self.0.jobs()
    }

    async fn corrupt(&self, key: &str, bytes: &[u8], sha256: &str) {
        let objects = &self.0.stores.objects;
        objects
            .client()
            .put_object()
            .bucket(objects.bucket())
            .key(key)
            .metadata("sha256", sha256)
            .body(aws_sdk_s3::primitives::ByteStream::from(bytes.to_vec()))
            .send()
            .await
            .unwrap();
    }
}

store_contract::contract_suite!(async { AwsEnv::on_moto().await.map(AwsBackend) });
