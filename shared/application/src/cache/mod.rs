//! What a warm container keeps between invocations: decoded models, and each model's `LATEST`
//! version for a short time.

mod latest;
mod model_cache;

pub use latest::LatestCache;
pub use model_cache::{CacheStats, ModelCache};
