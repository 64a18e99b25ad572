//! What an asynchronous job needs to run anywhere: the input of a Step Functions execution and of
//! the local driver, passed on to every invocation the job makes.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::incoming::ModelTarget;
use super::job::JobKind;
use super::object_ref::S3ObjectRef;
use super::tenant::Tenant;

/// An asynchronous job, as the engine running it carries it (`{"job": ticket}` is an execution's
/// input). Field names are the state machine's paths (`$.job.kind`, `$.job.bucket`,
/// `$.job.plan_key`): keep them in step with `infra/statemachine/jobs.asl.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobTicket {
    /// `train` or `batch`.
    pub kind: JobKind,
    /// The tenant owning the job.
    pub tenant: Tenant,
    /// The job id (also the execution's name).
    pub id: String,
    /// The model trained or scored with.
    pub model: String,
    /// The bucket of the source object.
    pub bucket: String,
    /// The source object's key (a training prefix ends with `/`).
    pub key: String,
    /// The source's version, pinned when the job started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// The source's ETag, pinned when the job started (used when there is no version).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// Batch: the model version every range scores with (pinned, so ranges agree).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_version: Option<u32>,
    /// Batch: the source's size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Batch: how many byte ranges the plan holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ranges: Option<u32>,
    /// Batch: the key of the plan (a JSON array of [`ByteRange`](super::batch_plan::ByteRange)s,
    /// the Distributed Map's items).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_key: Option<String>,
    /// Train: the model specification (`algorithm`, `params`, `contamination`, `threshold`) as
    /// the request gave it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<Value>,
}

impl JobTicket {
    /// A ticket of `kind` for `target`'s model on `object`, with no batch or train details yet.
    pub fn new(kind: JobKind, id: &str, target: &ModelTarget, object: &S3ObjectRef) -> Self {
        Self {
            kind,
            tenant: target.tenant.clone(),
            id: id.to_owned(),
            model: target.model.clone(),
            bucket: object.bucket.clone(),
            key: object.key.clone(),
            version_id: object.version_id.clone(),
            etag: object.etag.clone(),
            model_version: None,
            size: None,
            ranges: None,
            plan_key: None,
            spec: None,
        }
    }

    /// The source object as an event would name it (for exact reads).
    pub fn object(&self) -> S3ObjectRef {
        S3ObjectRef {
            event_name: "ObjectCreated:Ticket".into(),
            bucket: self.bucket.clone(),
            key: self.key.clone(),
            version_id: self.version_id.clone(),
            etag: self.etag.clone(),
            sequencer: None,
        }
    }

    /// The tenant's model the job concerns.
    pub fn target(&self) -> ModelTarget {
        ModelTarget {
            tenant: self.tenant.clone(),
            model: self.model.clone(),
        }
    }
}
