//! The records the service keeps and the rules for their identifiers: model versions, jobs, the
//! table's key schema, model names, job ids, and the uploaded objects events name.

pub mod ids;
pub mod incoming;
pub mod job;
pub mod keys;
pub mod model_version;
pub mod names;
pub mod object_ref;

pub use job::{running_job, Job, JobCounts, JobKind, JobStatus, JobTimings, JOB_TTL_SECS};
pub use model_version::{ModelVersion, TrainingStats};
pub use object_ref::S3ObjectRef;
