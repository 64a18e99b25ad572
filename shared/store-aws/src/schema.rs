//! The one definition of the DynamoDB table and the S3 bucket shape: attribute names, key schema,
//! secondary indexes and the TTL attribute. The adapter, the tests that create tables in moto and
//! the deployment templates all follow these constants.
//!
//! Table (`NOMALY_TABLE`), on-demand billing, string keys `PK` (hash) / `SK` (range):
//! - `T#{tenant}#MODEL#{name}` / `VERSION#{000001}`: one immutable model version.
//! - `T#{tenant}#MODEL#{name}` / `LATEST`: a copy of the current version's item with
//!   `GSI2PK`/`GSI2SK`, so listing models reads one small index instead of scanning the table.
//! - `T#{tenant}#JOB#{id}` / `JOB`: a job, expiring through the TTL attribute `expires_at` (epoch
//!   seconds).
//! - `T#{tenant}#KEYS` / `KEY#{id}`: an API key (its SHA-256 hash, never the secret).
//! - `T#{tenant}#ALERT#{model}` / `ENTITY#{entity}`: the alert suppression state of a model and an
//!   entity, written under its `revision`, expiring through `expires_at` (and read as absent once
//!   its `expires_at_ms` passed, before TTL deletes it).
//!
//! Every key starts with `T#{tenant}#`, so IAM's `dynamodb:LeadingKeys` can confine a role to
//! some item kinds (the authorizer reads `T#*#KEYS` only).
//!
//! Indexes (projection ALL):
//! - [`JOBS_INDEX`] (`GSI1PK` = `T#{tenant}#MODEL#{name}`, `GSI1SK` = creation time in milliseconds
//!   zero-padded to 20 digits, `#`, job id): a model's jobs, newest first when read backwards.
//!   A string sort key keeps ties between jobs of the same millisecond in a stable order.
//! - [`MODELS_INDEX`] (`GSI2PK` = [`CATALOG_PK`], `GSI2SK` = `{tenant}#{name}`): sparse, only `LATEST`
//!   items carry it, so `list_models` costs one read per model, not per item in the table. Its
//!   reads are eventually consistent: a model registered a moment ago may be missing.
//!   The same index holds, under `GSI2PK` = `LEASES`, every running job with a lease
//!   (`GSI2SK` = lease end zero-padded to 20 digits, `#{tenant}#{id}`): the sweep reads the
//!   expired ones from its start. Finished jobs drop out of it.
//! - `T#{tenant}#IDEM#{key}` / `IDEM`: an `Idempotency-Key` record, expiring through `expires_at`.
//!
//! Bucket (`NOMALY_BUCKET`): versioning on; objects carry user metadata [`SHA256_METADATA`]
//! (`x-amz-meta-sha256`, lowercase hex) and their content type.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration,
    VersioningConfiguration,
};

use crate::errors::{build_error, classify};
use application::ports::StoreError;

/// Partition key attribute (string).
pub const PK: &str = "PK";
/// Sort key attribute (string).
pub const SK: &str = "SK";
/// Name of the index listing a model's jobs.
pub const JOBS_INDEX: &str = "GSI1";
/// Partition key of [`JOBS_INDEX`] (string, `T#{tenant}#MODEL#{name}`).
pub const GSI1_PK: &str = "GSI1PK";
/// Sort key of [`JOBS_INDEX`] (string, `{created_at:020}#{id}`).
pub const GSI1_SK: &str = "GSI1SK";
/// Name of the sparse index listing every model's `LATEST` item.
pub const MODELS_INDEX: &str = "GSI2";
/// Partition key of [`MODELS_INDEX`] (string, always [`CATALOG_PK`]).
pub const GSI2_PK: &str = "GSI2PK";
/// Sort key of [`MODELS_INDEX`] (string, `{tenant}#{name}`).
pub const GSI2_SK: &str = "GSI2SK";
/// The single partition of [`MODELS_INDEX`]. (Before tenancy it was `MODELS`, with bare model
/// names as sort keys; the new name keeps such items out of listings until the upgrade moves
/// them.)
pub const CATALOG_PK: &str = "CATALOG";
/// The list of a split job's counted ranges (outside the fields a job reads).
pub const RANGES_FINISHED_ATTRIBUTE: &str = "ranges_finished";
/// The attribute of a running job holding its lease's end (number, epoch milliseconds).
pub const LEASE_ATTRIBUTE: &str = "lease_expires_at";
/// The TTL attribute of job items (number, epoch seconds).
pub const TTL_ATTRIBUTE: &str = "expires_at";
/// The attribute of a `LATEST` item holding the current version (number).
pub const VERSION_ATTRIBUTE: &str = "version";
/// S3 user-metadata key holding an object's SHA-256 (sent as `x-amz-meta-sha256`).
pub const SHA256_METADATA: &str = "sha256";

/// Every string attribute used as a table or index key.
pub const KEY_ATTRIBUTES: [&str; 6] = [PK, SK, GSI1_PK, GSI1_SK, GSI2_PK, GSI2_SK];

fn key(attribute: &str, kind: KeyType) -> Result<KeySchemaElement, StoreError> {
    KeySchemaElement::builder()
        .attribute_name(attribute)
        .key_type(kind)
        .build()
        .map_err(build_error)
}

fn index(name: &str, hash: &str, range: &str) -> Result<GlobalSecondaryIndex, StoreError> {
    GlobalSecondaryIndex::builder()
        .index_name(name)
        .key_schema(key(hash, KeyType::Hash)?)
        .key_schema(key(range, KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()
        .map_err(build_error)
}

/// Creates the table (on-demand, both indexes) and turns TTL on; for tests and local tooling,
/// the templates create it in AWS.
pub async fn create_table(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<(), StoreError> {
    let mut request = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key(PK, KeyType::Hash)?)
        .key_schema(key(SK, KeyType::Range)?)
        .global_secondary_indexes(index(JOBS_INDEX, GSI1_PK, GSI1_SK)?)
        .global_secondary_indexes(index(MODELS_INDEX, GSI2_PK, GSI2_SK)?);
    for attribute in KEY_ATTRIBUTES {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(attribute)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(build_error)?,
        );
    }
    request
        .send()
        .await
        .map_err(|e| classify("CreateTable", e))?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(TTL_ATTRIBUTE)
                .enabled(true)
                .build()
                .map_err(build_error)?,
        )
        .send()
        .await
        .map_err(|e| classify("UpdateTimeToLive", e))?;
    Ok(())
}

/// Creates the bucket in the client's region with versioning on; for tests and local tooling.
pub async fn create_bucket(client: &aws_sdk_s3::Client, bucket: &str) -> Result<(), StoreError> {
    let mut request = client.create_bucket().bucket(bucket);
    let region = client.config().region().map(|r| r.as_ref().to_owned());
    if let Some(region) = region.filter(|r| r != "us-east-1") {
        request = request.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region.as_str()))
                .build(),
        );
    }
    request
        .send()
        .await
        .map_err(|e| classify("CreateBucket", e))?;
    client
        .put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .map_err(|e| classify("PutBucketVersioning", e))?;
    Ok(())
}
