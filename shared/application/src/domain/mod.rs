//! The records the service keeps and the rules for their identifiers: model versions, jobs, the
//! table's key schema, model names, job ids, the uploaded objects events name, tenants and the
//! callers acting for them.

pub mod alert;
pub mod api_key;
pub mod batch_plan;
pub mod idempotency;
pub mod ids;
pub mod incoming;
pub mod job;
pub mod job_ticket;
pub mod keys;
pub mod label;
pub mod model_version;
pub mod names;
pub mod object_ref;
pub mod owned_source;
pub mod principal;
pub mod series;
pub mod stream_record;
pub mod stream_route;
pub mod tenant;

pub use api_key::{ApiKey, KeyToken, NewKey, UsageKey};
pub use idempotency::{AnswerRecord, IdempotencyRecord, IdempotencyStatus};
pub use job::{
    running_job, Job, JobCounts, JobKind, JobPolicy, JobProgress, JobStatus, JobTimings,
    DEFAULT_LEASE_MS, JOB_TTL_SECS,
};
pub use job_ticket::JobTicket;
pub use label::{RowLabel, Verdict};
pub use model_version::{ModelVersion, TrainingStats};
pub use object_ref::S3ObjectRef;
pub use principal::{Principal, Scope};
pub use series::{SeriesAnomaly, SeriesRecord};
pub use tenant::Tenant;
