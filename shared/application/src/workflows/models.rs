//! Reading the registry (`GET /api/v1/models`, `GET /api/v1/models/{name}`).

use std::sync::Arc;

use serde::Serialize;

use crate::domain::names::validate_model_name;
use crate::domain::{ModelVersion, Tenant};
use crate::error::ServiceError;
use crate::ports::ModelRegistry;

/// `GET /api/v1/models`: the latest version of every model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelList {
    /// One entry per model, by name.
    pub models: Vec<ModelVersion>,
}

/// Versions listed per page of `GET /api/v1/models/{name}` unless `?limit=` says otherwise.
pub const DEFAULT_VERSIONS_PAGE: usize = 20;
/// Most versions one page may list.
pub const MAX_VERSIONS_PAGE: usize = 100;

/// `GET /api/v1/models/{name}`: one model and a page of its versions, newest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelDetail {
    /// Model name.
    pub name: String,
    /// The current version.
    pub latest_version: u32,
    /// Versions below the page's `before`, newest first, at most `limit`.
    pub versions: Vec<ModelVersion>,
    /// Pass as `?before=` for the next (older) page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_before: Option<u32>,
}

/// Which versions a `GET /api/v1/models/{name}` page lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionPage {
    /// Only versions below this one; all when `None`.
    pub before: Option<u32>,
    /// At most this many (1 to [`MAX_VERSIONS_PAGE`]).
    pub limit: usize,
}

impl Default for VersionPage {
    fn default() -> Self {
        Self {
            before: None,
            limit: DEFAULT_VERSIONS_PAGE,
        }
    }
}

/// Looks up models; needs only the registry.
#[derive(Clone)]
pub struct ModelQueries {
    registry: Arc<dyn ModelRegistry>,
}

impl ModelQueries {
    /// Queries over `registry`.
    pub fn new(registry: Arc<dyn ModelRegistry>) -> Self {
        Self { registry }
    }

    /// Every model of `tenant` with its latest version.
    pub async fn list_models(&self, tenant: &Tenant) -> Result<ModelList, ServiceError> {
        Ok(ModelList {
            models: self.registry.list_models(tenant).await?,
        })
    }

    /// One of `tenant`'s models with a page of its versions, newest first; 400 for a bad name or page, 404 for
    /// an unknown model.
    pub async fn get_model(
        &self,
        tenant: &Tenant,
        name: &str,
        page: VersionPage,
    ) -> Result<ModelDetail, ServiceError> {
        validate_model_name(name)?;
        if !(1..=MAX_VERSIONS_PAGE).contains(&page.limit) {
            return Err(ServiceError::BadRequest(format!(
                "limit must be between 1 and {MAX_VERSIONS_PAGE}, not {}",
                page.limit
            )));
        }
        let latest = self
            .registry
            .latest(tenant, name)
            .await?
            .ok_or_else(|| ServiceError::ModelNotFound(name.to_owned()))?;
        let mut older: Vec<ModelVersion> = self
            .registry
            .versions(tenant, name)
            .await?
            .into_iter()
            .filter(|v| page.before.is_none_or(|before| v.version < before))
            .collect();
        older.sort_by_key(|v| std::cmp::Reverse(v.version));
        let next_before = (older.len() > page.limit)
            .then(|| older.get(page.limit - 1).map(|v| v.version))
            .flatten();
        older.truncate(page.limit);
        Ok(ModelDetail {
            name: name.to_owned(),
            latest_version: latest,
            versions: older,
            next_before,
        })
    }
}
