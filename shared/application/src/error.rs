//! The one error type of every workflow, mapped once to an HTTP status, a stable code and the JSON
//! envelope, so handlers never decide statuses themselves.

use detection::series::SeriesError;
use detection::{ArtifactError, DetectionError, InputError};
use serde_json::{json, Value};
use thiserror::Error;

use crate::domain::names::InvalidModelName;
use crate::domain::principal::MissingScope;
use crate::domain::tenant::InvalidTenant;
use crate::ports::StoreError;

/// Most bytes of an answer's body. Lambda refuses a response above 6 MB (API Gateway then
/// answers 502), counting the body as a JSON string inside the proxy response, where quotes and
/// backslashes are escaped: 5,000,000 bytes of JSON stay under it.
pub const MAX_ANSWER_BYTES: usize = 5_000_000;

/// Every failure a workflow reports to a caller.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ServiceError {
    /// The request itself is malformed (bad JSON, unknown field, bad model name).
    #[error("{0}")]
    BadRequest(String),
    /// The tabular data is malformed CSV or JSON.
    #[error("{0}")]
    MalformedData(String),
    /// Well-formed data that cannot be used (ragged rows, NaN, unknown or missing columns).
    #[error("{0}")]
    InvalidInput(String),
    /// An algorithm or threshold parameter out of range, or data the algorithm cannot fit.
    #[error("{0}")]
    InvalidParameter(String),
    /// The body or the table exceeds a configured limit.
    #[error("{0}")]
    TooLarge(String),
    /// No model of that name.
    #[error("model '{0}' not found")]
    ModelNotFound(String),
    /// The model exists but not that version.
    #[error("model '{name}' has no version {version}")]
    VersionNotFound {
        /// Model name.
        name: String,
        /// The missing version.
        version: u32,
    },
    /// No job with that id.
    #[error("job '{0}' not found")]
    JobNotFound(String),
    /// No series of that name.
    #[error("series '{0}' not found")]
    SeriesNotFound(String),
    /// A point older than the last one its series learned.
    #[error("{0}")]
    OutOfOrder(String),
    /// No backup with that id.
    #[error("backup '{0}' not found")]
    BackupNotFound(String),
    /// A backup that does not verify (checksum, size, format, or it failed when taken); a
    /// restore from it is refused before anything is written.
    #[error("backup '{id}' cannot be restored: {reason}")]
    CorruptedBackup {
        /// Backup id.
        id: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A conditional write lost and retrying did not help.
    #[error("{0}")]
    Conflict(String),
    /// A stored model artifact cannot be loaded.
    #[error("model '{name}' version {version} is corrupted: {reason}")]
    CorruptedModel {
        /// Model name.
        name: String,
        /// Model version.
        version: u32,
        /// What is wrong with it.
        reason: String,
    },
    /// A dependency (store, table) is down; retry later.
    #[error("{0}")]
    Unavailable(String),
    /// A bug or an unexpected state.
    #[error("internal error: {0}")]
    Internal(String),
    /// No route serves this path.
    #[error("no route for path '{0}'")]
    RouteNotFound(String),
    /// The path exists but not with this method.
    #[error("method {method} is not allowed here; use {allowed}")]
    MethodNotAllowed {
        /// The method the caller used.
        method: String,
        /// The methods the path accepts, comma separated.
        allowed: String,
    },
    /// The body's content type is not one the route reads.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// No credential, or one that is unknown, revoked, expired or wrongly signed: who is calling
    /// is not known. The message says which, never echoing the credential.
    #[error("{0}")]
    Unauthenticated(String),
    /// A known caller whose credential lacks the scope the route needs.
    #[error("{0}")]
    InsufficientScope(String),
    /// An `s3_uri` outside the caller's own prefixes: no caller makes the service read what is
    /// not theirs.
    #[error("{0}")]
    SourceNotOwned(String),
    /// No API key with that id in the caller's tenant.
    #[error("API key '{0}' not found")]
    KeyNotFound(String),
    /// An `Idempotency-Key` reused with another payload.
    #[error("{0}")]
    IdempotencyKeyReused(String),
    /// A request with this `Idempotency-Key` is still being served.
    #[error("{0}")]
    IdempotencyInProgress(String),
    /// The answer would pass the response limit: the message says how to ask for less.
    #[error("{0}")]
    AnswerTooLarge(String),
    /// Work estimated, before it starts, to need more time or memory than the function has.
    #[error("{message}")]
    OverBudget {
        /// The parameter (or `rows`, `columns`) that dominates the cost.
        parameter: String,
        /// The largest value of it that fits.
        limit: String,
        /// What was estimated and what to do.
        message: String,
    },
}

impl ServiceError {
    /// The HTTP status of this error.
    pub fn status(&self) -> u16 {
        match self {
            Self::BadRequest(_) | Self::MalformedData(_) => 400,
            Self::ModelNotFound(_)
            | Self::VersionNotFound { .. }
            | Self::JobNotFound(_)
            | Self::BackupNotFound(_)
            | Self::KeyNotFound(_)
            | Self::RouteNotFound(_)
            | Self::SeriesNotFound(_) => 404,
            Self::Unauthenticated(_) => 401,
            Self::InsufficientScope(_) | Self::SourceNotOwned(_) => 403,
            Self::MethodNotAllowed { .. } => 405,
            Self::Conflict(_) | Self::IdempotencyInProgress(_) | Self::OutOfOrder(_) => 409,
            Self::TooLarge(_) | Self::AnswerTooLarge(_) => 413,
            Self::UnsupportedMediaType(_) => 415,
            // A corrupted stored model is a 4xx naming the problem: the caller can train a new
            // version or name another; alarms on 5xx stay for faults of the service itself.
            Self::InvalidInput(_)
            | Self::InvalidParameter(_)
            | Self::CorruptedModel { .. }
            | Self::CorruptedBackup { .. }
            | Self::IdempotencyKeyReused(_)
            | Self::OverBudget { .. } => 422,
            Self::Internal(_) => 500,
            Self::Unavailable(_) => 503,
        }
    }

    /// The stable machine-readable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::MalformedData(_) => "malformed_data",
            Self::InvalidInput(_) => "invalid_input",
            Self::InvalidParameter(_) => "invalid_parameter",
            Self::TooLarge(_) => "too_large",
            Self::ModelNotFound(_) => "model_not_found",
            Self::VersionNotFound { .. } => "version_not_found",
            Self::JobNotFound(_) => "job_not_found",
            Self::SeriesNotFound(_) => "series_not_found",
            Self::OutOfOrder(_) => "out_of_order",
            Self::BackupNotFound(_) => "backup_not_found",
            Self::CorruptedBackup { .. } => "corrupted_backup",
            Self::Conflict(_) => "conflict",
            Self::CorruptedModel { .. } => "corrupted_model",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal",
            Self::RouteNotFound(_) => "not_found",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::Unauthenticated(_) => "unauthorized",
            Self::InsufficientScope(_) => "insufficient_scope",
            Self::SourceNotOwned(_) => "source_not_owned",
            Self::KeyNotFound(_) => "key_not_found",
            Self::IdempotencyKeyReused(_) => "idempotency_key_reused",
            Self::IdempotencyInProgress(_) => "idempotency_in_progress",
            Self::AnswerTooLarge(_) => "answer_too_large",
            Self::OverBudget { .. } => "over_budget",
        }
    }

    /// Whether the failure is transient: the store, not the request or its data, failed (a
    /// dependency is down, or a conditional write kept losing races), so the same request may
    /// succeed later. The one retry rule: an event that failed transiently is returned to Lambda
    /// to be retried, and a data error is recorded and not retried.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_) | Self::Conflict(_))
    }

    /// What a caller is told: the message of a 4xx, which is about the request; for a 5xx a
    /// generic sentence, since its details (store errors carry bucket and table names, role
    /// ARNs, account ids) are for the log, found there by the request id.
    pub fn public_message(&self) -> String {
        match self {
            Self::Internal(_) => {
                "internal error; the request id identifies it in the service's logs".to_owned()
            }
            Self::Unavailable(_) => {
                "a dependency of the service is unavailable; retry later".to_owned()
            }
            other => other.to_string(),
        }
    }

    /// The JSON error body: `{"error":{"code":...,"message":...,"request_id":...}}`, with the
    /// [`public_message`](Self::public_message); an over-budget refusal also names the
    /// `parameter` and its `limit`, for clients to act on.
    pub fn envelope(&self, request_id: &str) -> Value {
        let mut error = json!({"code": self.code(), "message": self.public_message(), "request_id": request_id});
        if let (
            Self::OverBudget {
                parameter, limit, ..
            },
            Some(fields),
        ) = (self, error.as_object_mut())
        {
            fields.insert("parameter".into(), json!(parameter));
            fields.insert("limit".into(), json!(limit));
        }
        json!({ "error": error })
    }

    /// The 413 of an answer of about `bytes` bytes, saying how to ask for less.
    pub fn answer_too_large(bytes: usize) -> Self {
        Self::AnswerTooLarge(format!(
            "the answer would be about {bytes} bytes, above the {MAX_ANSWER_BYTES}-byte response limit: send fewer rows, set explain=false or a smaller top_k, or upload the file under incoming/detect/ to score it as a batch job"
        ))
    }

    /// A corrupted-model error from an artifact that does not load.
    pub fn corrupted(name: &str, version: u32, reason: impl std::fmt::Display) -> Self {
        Self::CorruptedModel {
            name: name.to_owned(),
            version,
            reason: reason.to_string(),
        }
    }
}

impl From<InputError> for ServiceError {
    fn from(e: InputError) -> Self {
        match e {
            InputError::TooLarge { .. } | InputError::TooLong { .. } => {
                Self::TooLarge(e.to_string())
            }
            InputError::Malformed { .. } => Self::MalformedData(e.to_string()),
            _ => Self::InvalidInput(e.to_string()),
        }
    }
}

impl From<DetectionError> for ServiceError {
    fn from(e: DetectionError) -> Self {
        match e {
            DetectionError::Input(input) => input.into(),
            DetectionError::InvalidParam { .. } | DetectionError::Fit { .. } => {
                Self::InvalidParameter(e.to_string())
            }
            DetectionError::Artifact(a) => a.into(),
            DetectionError::OverBudget {
                parameter,
                limit,
                message,
            } => Self::OverBudget {
                parameter,
                limit,
                message,
            },
        }
    }
}

/// An artifact error without a model name (from encoding a freshly trained model): a model
/// larger than any function may load is the request's (422: it is never registered); any other
/// is a bug.
impl From<ArtifactError> for ServiceError {
    fn from(e: ArtifactError) -> Self {
        match e {
            ArtifactError::ModelTooLarge { .. } | ArtifactError::TooLarge { .. } => {
                Self::InvalidParameter(e.to_string())
            }
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<SeriesError> for ServiceError {
    /// A bad configuration is a parameter error, a bad point an input error (both 422), an old
    /// point a 409, and a forest fault an internal error.
    fn from(e: SeriesError) -> Self {
        match e {
            SeriesError::InvalidParams(_) => Self::InvalidParameter(e.to_string()),
            SeriesError::WrongDimensions { .. }
            | SeriesError::NotFinite { .. }
            | SeriesError::OutOfRange { .. } => Self::InvalidInput(e.to_string()),
            SeriesError::OutOfOrder { .. } => Self::OutOfOrder(e.to_string()),
            SeriesError::Forest(_) => Self::Internal(e.to_string()),
        }
    }
}

impl From<InvalidModelName> for ServiceError {
    fn from(e: InvalidModelName) -> Self {
        Self::BadRequest(e.to_string())
    }
}

impl From<InvalidTenant> for ServiceError {
    fn from(e: InvalidTenant) -> Self {
        Self::BadRequest(e.to_string())
    }
}

impl From<MissingScope> for ServiceError {
    fn from(e: MissingScope) -> Self {
        Self::InsufficientScope(e.to_string())
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            // The adapter's text names tables and keys: logged, not answered.
            StoreError::Conflict(m) => {
                tracing::info!(detail = %m, "a conditional write lost");
                Self::Conflict("the item changed concurrently; retry the request".into())
            }
            StoreError::Unavailable(m) => Self::Unavailable(format!("storage unavailable: {m}")),
            StoreError::Corrupted(m) => Self::Internal(format!("stored data is corrupted: {m}")),
            StoreError::Invalid(m) => Self::Internal(format!("invalid storage request: {m}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_input_error_mapped_should_pick_status_by_kind() {
        let too_large: ServiceError = InputError::TooLarge {
            what: "rows",
            limit: 5,
        }
        .into();
        assert_eq!(too_large.status(), 413);
        let malformed: ServiceError = InputError::Malformed {
            format: "JSON",
            message: "x".into(),
        }
        .into();
        assert_eq!(malformed.status(), 400);
        let ragged: ServiceError = InputError::RaggedRow {
            row: 3,
            found: 5,
            expected: 4,
        }
        .into();
        assert_eq!(ragged.status(), 422);
        assert_eq!(ragged.code(), "invalid_input");
    }

    #[test]
    fn when_enveloped_should_carry_code_message_and_request_id() {
        let e = ServiceError::ModelNotFound("payments".into());
        let v = e.envelope("req-1");
        assert_eq!(v["error"]["code"], "model_not_found");
        assert_eq!(v["error"]["message"], "model 'payments' not found");
        assert_eq!(v["error"]["request_id"], "req-1");
        assert_eq!(e.status(), 404);
    }

    #[test]
    fn when_error_is_a_5xx_should_answer_without_its_details() {
        let secret = "arn:aws:iam::123456789012:role/nomaly-detect bucket nomaly-models-123";
        for e in [
            ServiceError::from(StoreError::Unavailable(secret.into())),
            ServiceError::from(StoreError::Corrupted(secret.into())),
            ServiceError::from(StoreError::Conflict(secret.into())),
            ServiceError::Internal(secret.into()),
        ] {
            let body = e.envelope("req-9").to_string();
            assert!(!body.contains("123456789012"), "{body}");
            assert!(!body.contains("nomaly-models"), "{body}");
            assert!(body.contains("req-9"), "{body}");
            assert!(
                e.to_string().contains("123456789012") || e.status() == 409,
                "{e}"
            );
        }
    }

    #[test]
    fn when_store_unavailable_should_be_503_and_transient() {
        let e: ServiceError = StoreError::Unavailable("disk".into()).into();
        assert_eq!(e.status(), 503);
        assert!(e.is_transient());
        let c: ServiceError = StoreError::Conflict("x".into()).into();
        assert_eq!(c.status(), 409);
    }
}
