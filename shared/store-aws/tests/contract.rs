//! The store contract on the AWS adapter: S3 + DynamoDB on a moto server (skipped when
//! `moto_server` is not on PATH, unless `NOMALY_REQUIRE_TOOLS=1`).

#![allow(clippy::restriction)] // test code: it may unwrap, expect, panic and index

use application::ports::Stores;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use fixtures::aws_env::AwsEnv;
use store_aws::items::{key, to_item};
use store_contract::{Backend, LegacyItem};

/// A fresh bucket and table on the shared moto server.
struct AwsBackend(AwsEnv);

#[async_trait]
impl Backend for AwsBackend {
    fn stores(&self) -> Stores {
        Stores::over(
            self.0.stores.objects.clone(),
            self.0.stores.items.clone(),
            None,
        )
    }

    /// The items the DynamoDB adapter wrote before tenancy: keys without a tenant, records
    /// without one, `LATEST` in the `MODELS` catalog partition, jobs indexed under `MODEL#{name}`.
    async fn plant_legacy(&self, item: LegacyItem) {
        let s = |v: String| AttributeValue::S(v);
        let without_tenant = |mut item: store_aws::items::Item| {
            item.remove("tenant");
            item
        };
        let item = match item {
            LegacyItem::Version(v) => {
                let mut item = without_tenant(to_item(&v).unwrap());
                item.extend(key(
                    format!("MODEL#{}", v.name),
                    &format!("VERSION#{:06}", v.version),
                ));
                item
            }
            LegacyItem::Latest(v) => {
                let mut item = without_tenant(to_item(&v).unwrap());
                item.extend(key(format!("MODEL#{}", v.name), "LATEST"));
                item.insert("GSI2PK".into(), s("MODELS".into()));
                item.insert("GSI2SK".into(), s(v.name.clone()));
                item
            }
            LegacyItem::Job(j) => {
                let mut item = without_tenant(to_item(&j).unwrap());
                item.extend(key(format!("JOB#{}", j.id), "JOB"));
                if let Some(model) = &j.model {
                    item.insert("GSI1PK".into(), s(format!("MODEL#{model}")));
                    item.insert("GSI1SK".into(), s(format!("{:020}#{}", j.created_at, j.id)));
                }
                item
            }
        };
        let items = &self.0.stores.items;
        items
            .client()
            .put_item()
            .table_name(items.table())
            .set_item(Some(item))
            .send()
            .await
            .unwrap();
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
