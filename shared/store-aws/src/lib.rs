//! The AWS adapter: model artifacts in S3 and the registry and job table in one DynamoDB table,
//! with the same keys and conditional semantics as the local adapter; alerts on EventBridge and
//! dead letters on SQS. Every call is bounded by the timeouts and retries of [`AwsTuning`].

pub mod alert_ledger;
pub mod api_keys;
pub mod batch;
pub mod client;
pub mod cursor;
pub mod dynamodb;
pub mod errors;
pub mod eventbridge;
pub mod idempotency;
pub mod items;
pub mod labels;
pub mod legacy;
pub mod restore;
pub mod retry;
pub mod s3;
pub mod s3_admin;
pub mod s3_presign;
pub mod s3_stream;
pub mod scan_cursor;
pub mod schema;
pub mod series;
pub mod sqs;
pub mod step_functions;
pub mod usage_plan;

use std::sync::Arc;

use aws_config::SdkConfig;

pub use client::{load_sdk_config, AwsTuning, SdkTarget};
pub use dynamodb::DynamoStore;
pub use eventbridge::EventBridgeAlerts;
pub use retry::{Backoff, SINK_BACKOFF};
pub use s3::S3ObjectStore;
pub use sqs::SqsDeadLetters;
pub use step_functions::StepFunctionsRunner;
pub use usage_plan::ApiGatewayUsagePlan;

/// Both AWS adapters, built once per cold start.
#[derive(Debug, Clone)]
pub struct AwsStores {
    /// Model artifacts (S3).
    pub objects: Arc<S3ObjectStore>,
    /// Registry and job table (DynamoDB).
    pub items: Arc<DynamoStore>,
}

impl AwsStores {
    /// Adapters on `bucket` and `table` through clients built from `sdk`. With an endpoint
    /// override (an emulator such as moto), S3 is addressed path-style (`endpoint/bucket/key`).
    pub fn new(sdk: &SdkConfig, bucket: &str, table: &str) -> Self {
        let s3_config = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(sdk.endpoint_url().is_some())
            .build();
        Self {
            objects: Arc::new(S3ObjectStore::new(
                aws_sdk_s3::Client::from_conf(s3_config),
                bucket,
            )),
            items: Arc::new(DynamoStore::new(
                aws_sdk_dynamodb::Client::new(sdk),
                table,
                Backoff::default(),
            )),
        }
    }

    /// Loads the SDK configuration for `target` with `tuning` and builds the adapters.
    pub async fn connect(
        target: &SdkTarget,
        tuning: &AwsTuning,
        bucket: &str,
        table: &str,
    ) -> Self {
        let sdk = load_sdk_config(target, tuning).await;
        Self::new(&sdk, bucket, table)
    }
}
