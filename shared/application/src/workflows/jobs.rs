//! Reading recorded jobs: `GET /api/v1/jobs/{id}` (with a download link to a batch job's results)
//! and `GET /api/v1/models/{name}/jobs` (newest first, paged).

use std::sync::Arc;

use serde::Serialize;

use crate::domain::ids::is_plausible_job_id;
use crate::domain::names::validate_model_name;
use crate::domain::{Job, JobStatus, Tenant};
use crate::error::ServiceError;
use crate::ports::{JobPage, JobStore, SignedUrl, UrlSigner};
use crate::workflows::object_train::parse_s3_uri;

/// Jobs per page unless asked: a job item is at most a few KiB.
pub const DEFAULT_JOBS_PAGE: usize = 20;

/// Most jobs per page.
pub const MAX_JOBS_PAGE: usize = 100;

/// A job as `GET /api/v1/jobs/{id}` answers it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobView {
    /// The recorded job.
    #[serde(flatten)]
    pub job: Job,
    /// A succeeded batch job's results, to download before it expires.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub results_url: Option<SignedUrl>,
}

/// Looks up jobs; needs the job table, and a signer for results links.
#[derive(Clone)]
pub struct JobQueries {
    jobs: Arc<dyn JobStore>,
    links: Option<(Arc<dyn UrlSigner>, u64)>,
}

impl JobQueries {
    /// Queries over `jobs`.
    pub fn new(jobs: Arc<dyn JobStore>) -> Self {
        Self { jobs, links: None }
    }

    /// The same queries giving results links signed by `signer`, valid `ttl_secs`.
    pub fn with_links(mut self, signer: Arc<dyn UrlSigner>, ttl_secs: u64) -> Self {
        self.links = Some((signer, ttl_secs));
        self
    }

    /// One of `tenant`'s jobs; 404 when unknown, another tenant's, or when the id cannot be one.
    pub async fn get_job(&self, tenant: &Tenant, id: &str) -> Result<JobView, ServiceError> {
        if !is_plausible_job_id(id) {
            return Err(ServiceError::JobNotFound(id.escape_default().to_string()));
        }
        let job = self
            .jobs
            .get_job(tenant, id)
            .await?
            .ok_or_else(|| ServiceError::JobNotFound(id.to_owned()))?;
        let results_url = match (&self.links, job.status, &job.results_key, &job.source) {
            (Some((signer, ttl)), JobStatus::Succeeded, Some(key), Some(source)) => {
                match parse_s3_uri(source) {
                    Some((bucket, _)) => Some(signer.sign_get(&bucket, key, *ttl).await?),
                    None => None,
                }
            }
            _ => None,
        };
        Ok(JobView { job, results_url })
    }

    /// A page of `tenant`'s jobs of model `name`, newest first (`limit` 1 to
    /// [`MAX_JOBS_PAGE`]); an unknown model has none.
    pub async fn jobs_for_model(
        &self,
        tenant: &Tenant,
        name: &str,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<JobPage, ServiceError> {
        validate_model_name(name)?;
        if !(1..=MAX_JOBS_PAGE).contains(&limit) {
            return Err(ServiceError::BadRequest(format!(
                "'limit' must be between 1 and {MAX_JOBS_PAGE}"
            )));
        }
        if cursor.is_some_and(|c| c.is_empty() || c.len() > 512) {
            return Err(ServiceError::BadRequest(
                "'cursor' is not one this service gave".into(),
            ));
        }
        self.jobs
            .jobs_for_model(tenant, name, limit, cursor)
            .await
            .map_err(|e| match e {
                crate::ports::StoreError::Invalid(_) => {
                    ServiceError::BadRequest("'cursor' is not one this service gave".into())
                }
                other => other.into(),
            })
    }
}
