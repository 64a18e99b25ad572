//! The table's key schema, shared by both item adapters (DynamoDB and SQLite): model items under
//! `MODEL#{name}`, job items under `JOB#{id}`.

/// Partition key of a model's items: `MODEL#{name}`.
pub fn model_pk(name: &str) -> String {
    format!("MODEL#{name}")
}

/// Sort key of one model version: `VERSION#{000001}`.
pub fn version_sk(version: u32) -> String {
    format!("VERSION#{version:06}")
}

/// Sort key of the item pointing at a model's current version.
pub const LATEST_SK: &str = "LATEST";

/// Partition key of a job: `JOB#{id}`.
pub fn job_pk(id: &str) -> String {
    format!("JOB#{id}")
}

/// Sort key of a job item.
pub const JOB_SK: &str = "JOB";
