//! Reading the registry (`GET /api/v1/models`, `GET /api/v1/models/{name}`).

use std::sync::Arc;

use serde::Serialize;

use crate::domain::names::validate_model_name;
use crate::domain::{ModelVersion, Tenant};
use crate::error::ServiceError;
use crate::ports::ModelRegistry;

/// `GET /api/v1/models`: a page of the models, each with its latest version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelList {
    /// One entry per model, by name, at most the page's `limit`.
    pub models: Vec<ModelVersion>,
    /// Pass as `?after=` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_after: Option<String>,
}

/// Models listed per page of `GET /api/v1/models` unless `?limit=` says otherwise.
pub const DEFAULT_MODELS_PAGE: usize = 50;
/// Most models one page may list.
pub const MAX_MODELS_PAGE: usize = 200;

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

    /// A page of `tenant`'s models with their latest versions: those named after `after`, at
    /// most `limit` (1 to [`MAX_MODELS_PAGE`]).
    pub async fn list_models(
        &self,
        tenant: &Tenant,
        after: Option<&str>,
        limit: usize,
    ) -> Result<ModelList, ServiceError> {
        if !(1..=MAX_MODELS_PAGE).contains(&limit) {
            return Err(ServiceError::BadRequest(format!(
                "limit must be between 1 and {MAX_MODELS_PAGE}, not {limit}"
            )));
        }
        if let Some(after) = after {
            validate_model_name(after)?;
        }
        // One model beyond the page tells whether another page exists.
        let mut models = self.registry.list_models(tenant, after, limit + 1).await?;
        let next_after = if models.len() > limit {
            models.truncate(limit);
            models.last().map(|m| m.name.clone())
        } else {
            None
        };
        Ok(ModelList { models, next_after })
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
