//! What a warm container keeps between invocations: decoded models, each model's `LATEST`
//! version for a short time, and series detectors as last written.

mod latest;
mod lru;
mod model_cache;
mod series_cache;

pub use latest::LatestCache;
pub use lru::CacheStats;
pub use model_cache::ModelCache;
pub use series_cache::SeriesCache;
