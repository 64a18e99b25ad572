//! Reading the registry (`GET /api/v1/models`, `GET /api/v1/models/{name}`).

use std::sync::Arc;

use serde::Serialize;

use crate::error::ServiceError;
use crate::ports::{ModelRegistry, ModelVersion};
use crate::workflows::names::validate_model_name;

/// `GET /api/v1/models`: the latest version of every model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelList {
    /// One entry per model, by name.
    pub models: Vec<ModelVersion>,
}

/// `GET /api/v1/models/{name}`: one model and all its versions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelDetail {
    /// Model name.
    pub name: String,
    /// The current version.
    pub latest_version: u32,
    /// Every version, oldest first.
    pub versions: Vec<ModelVersion>,
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

    /// Every model with its latest version.
    pub async fn list_models(&self) -> Result<ModelList, ServiceError> {
        Ok(ModelList {
            models: self.registry.list_models().await?,
        })
    }

    /// One model with its versions; 400 for a bad name, 404 for an unknown one.
    pub async fn get_model(&self, name: &str) -> Result<ModelDetail, ServiceError> {
        validate_model_name(name)?;
        let latest = self
            .registry
            .latest(name)
            .await?
            .ok_or_else(|| ServiceError::ModelNotFound(name.to_owned()))?;
        Ok(ModelDetail {
            name: name.to_owned(),
            latest_version: latest,
            versions: self.registry.versions(name).await?,
        })
    }
}
