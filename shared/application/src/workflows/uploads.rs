//! `POST /api/v1/uploads`: a presigned PUT URL for a file larger than a request, under the
//! caller's own prefix. An upload to score or train on gets its job recorded now (`pending`, its
//! id in the answer and in the key's file name), so the job the upload's event starts is that
//! one; a plain data upload (`data/{tenant}/`) starts nothing and is named later by `s3_uri`.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::domain::ids::{new_job_id, now_millis};
use crate::domain::incoming::{incoming_prefix, DETECT_PREFIX, TRAIN_PREFIX};
use crate::domain::names::validate_model_name;
use crate::domain::owned_source::DATA_PREFIX;
use crate::domain::{Job, JobKind, JobPolicy, JobStatus, Scope, Tenant};
use crate::error::ServiceError;
use crate::ports::{JobStore, SignedUrl, UrlSigner};

/// MIME type the upload must be sent with (it is part of the signature).
pub const UPLOAD_CONTENT_TYPE: &str = "text/csv";

/// What an upload is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UploadPurpose {
    /// Score it with the model (`incoming/detect/`), as a batch job.
    Detect,
    /// Train a version of the model on it (`incoming/train/`).
    Train,
    /// Keep it under `data/{tenant}/`, to name later as an `s3_uri`.
    Data,
}

impl UploadPurpose {
    /// The scope a caller needs to ask for such an upload.
    pub fn scope(self) -> Scope {
        match self {
            Self::Detect | Self::Data => Scope::Detect,
            Self::Train => Scope::Train,
        }
    }
}

/// The body of `POST /api/v1/uploads`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadRequest {
    /// What the upload is for.
    pub purpose: UploadPurpose,
    /// The model to score with or train (required unless `purpose` is `data`).
    #[serde(default)]
    pub model: Option<String>,
}

/// The 201 answer: where to PUT the file, and the job it will start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UploadGrant {
    /// `PUT` the file here, with the headers given, before `expires_at`.
    pub upload: SignedUrl,
    /// The object the upload creates.
    pub s3_uri: String,
    /// The job the upload starts (`GET /api/v1/jobs/{id}`); absent for `data`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
}

/// Signs upload URLs and records the jobs they start.
#[derive(Clone)]
pub struct UploadWorkflow {
    signer: Arc<dyn UrlSigner>,
    jobs: Arc<dyn JobStore>,
    bucket: String,
    ttl_secs: u64,
    policy: JobPolicy,
}

impl UploadWorkflow {
    /// Uploads into `bucket` (the data bucket) through URLs valid `ttl_secs`, recording jobs in
    /// `jobs` kept by `policy`.
    pub fn new(
        signer: Arc<dyn UrlSigner>,
        jobs: Arc<dyn JobStore>,
        bucket: impl Into<String>,
        ttl_secs: u64,
        policy: JobPolicy,
    ) -> Self {
        Self {
            signer,
            jobs,
            bucket: bucket.into(),
            ttl_secs,
            policy,
        }
    }

    /// A URL for `tenant`'s upload as `request` asks (see the module doc).
    pub async fn grant(
        &self,
        tenant: &Tenant,
        request: UploadRequest,
    ) -> Result<UploadGrant, ServiceError> {
        let id = new_job_id();
        let kind = match request.purpose {
            UploadPurpose::Detect => Some((DETECT_PREFIX, JobKind::Batch)),
            UploadPurpose::Train => Some((TRAIN_PREFIX, JobKind::Train)),
            UploadPurpose::Data => None,
        };
        let key = match (kind, request.model.as_deref()) {
            (Some((prefix, _)), Some(model)) => {
                validate_model_name(model)?;
                format!("{}{id}.csv", incoming_prefix(prefix, tenant, model))
            }
            (Some(_), None) => {
                return Err(ServiceError::BadRequest(
                    "'model' is required for a detect or train upload".into(),
                ))
            }
            (None, None) => format!("{DATA_PREFIX}{tenant}/{id}.csv"),
            (None, Some(_)) => {
                return Err(ServiceError::BadRequest(
                    "a data upload names no model; name it later in the job's source".into(),
                ))
            }
        };
        let upload = self
            .signer
            .sign_put(&self.bucket, &key, UPLOAD_CONTENT_TYPE, self.ttl_secs)
            .await?;
        let s3_uri = format!("s3://{}/{key}", self.bucket);
        let job_id = match (kind, request.model) {
            (Some((_, kind)), Some(model)) => {
                let created = now_millis();
                let job = Job {
                    status: JobStatus::Pending,
                    model: Some(model),
                    source: Some(s3_uri.clone()),
                    // Past this, the sweep fails the job: no upload can arrive any more.
                    lease_expires_at: Some(upload.expires_at.saturating_mul(1000)),
                    ..self.policy.record(tenant, &id, kind, created)
                };
                self.jobs.put_job_if_absent(&job).await?;
                Some(id)
            }
            _ => None,
        };
        Ok(UploadGrant {
            upload,
            s3_uri,
            job_id,
        })
    }
}
