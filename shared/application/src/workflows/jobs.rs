//! Reading recorded jobs (`GET /api/v1/jobs/{id}`).

use std::sync::Arc;

use crate::domain::ids::is_plausible_job_id;
use crate::domain::{Job, Tenant};
use crate::error::ServiceError;
use crate::ports::JobStore;

/// Looks up jobs; needs only the job table.
#[derive(Clone)]
pub struct JobQueries {
    jobs: Arc<dyn JobStore>,
}

impl JobQueries {
    /// Queries over `jobs`.
    pub fn new(jobs: Arc<dyn JobStore>) -> Self {
        Self { jobs }
    }

    /// One of `tenant`'s jobs; 404 when unknown, another tenant's, or when the id cannot be one.
    pub async fn get_job(&self, tenant: &Tenant, id: &str) -> Result<Job, ServiceError> {
        if !is_plausible_job_id(id) {
            return Err(ServiceError::JobNotFound(id.escape_default().to_string()));
        }
        self.jobs
            .get_job(tenant, id)
            .await?
            .ok_or_else(|| ServiceError::JobNotFound(id.to_owned()))
    }
}
