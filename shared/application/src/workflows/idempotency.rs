//! `Idempotency-Key` on creating `POST`s, with the semantics of Powertools for AWS Lambda: the
//! same key and payload within 24 hours answers the first answer again (nothing is created
//! twice); the same key with another payload is a 422; a retry while the first is still being
//! served is a 409. A failed request keeps no record, so its retry runs again; so does one whose
//! invocation died (its in-progress record lapses after [`IN_PROGRESS_MS`]).

use std::sync::Arc;

use crate::checksum::sha256_hex;
use crate::domain::idempotency::{
    IDEMPOTENCY_TTL_SECS, MAX_IDEMPOTENCY_KEY_LEN, MAX_REPLAYED_ANSWER_BYTES,
};
use crate::domain::ids::now_millis;
use crate::domain::{AnswerRecord, IdempotencyRecord, IdempotencyStatus, Tenant};
use crate::error::ServiceError;
use crate::ports::{IdempotencyStore, StoreError};

/// How long an in-progress record blocks retries, in milliseconds: past API Gateway's 29 s
/// and well inside a function's timeout.
pub const IN_PROGRESS_MS: u64 = 60_000;

/// What to do with a keyed request.
#[derive(Debug, Clone, PartialEq)]
pub enum Admission {
    /// The first request with this key: serve it, then [`IdempotencyGuard::complete`] or
    /// [`IdempotencyGuard::release`] its record.
    Fresh(IdempotencyRecord),
    /// A repeat of a completed request: answer this.
    Replay(AnswerRecord),
}

/// Admits keyed requests against their records.
#[derive(Clone)]
pub struct IdempotencyGuard {
    store: Arc<dyn IdempotencyStore>,
}

impl IdempotencyGuard {
    /// A guard keeping records in `store`.
    pub fn new(store: Arc<dyn IdempotencyStore>) -> Self {
        Self { store }
    }

    /// Admits a request of `tenant` on `route` (method and path) carrying `key`, whose whole
    /// payload (method, path, query, body) is `payload`.
    pub async fn begin(
        &self,
        tenant: &Tenant,
        route: &str,
        key: &str,
        payload: &[u8],
    ) -> Result<Admission, ServiceError> {
        if key.is_empty()
            || key.len() > MAX_IDEMPOTENCY_KEY_LEN
            || !key.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
        {
            return Err(ServiceError::BadRequest(format!(
                "Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_LEN} printable ASCII characters"
            )));
        }
        let now = now_millis();
        let record = IdempotencyRecord {
            tenant: tenant.clone(),
            key: sha256_hex(format!("{route}\n{key}").as_bytes()),
            payload_sha256: sha256_hex(payload),
            status: IdempotencyStatus::InProgress,
            answer: None,
            in_progress_until: now.saturating_add(IN_PROGRESS_MS),
            expires_at: now / 1000 + IDEMPOTENCY_TTL_SECS,
        };
        let existing = match self.store.begin_idempotent(&record, now).await {
            Ok(existing) => existing,
            Err(StoreError::Conflict(_)) => return Err(in_progress()),
            Err(e) => return Err(e.into()),
        };
        let Some(existing) = existing else {
            return Ok(Admission::Fresh(record));
        };
        if existing.payload_sha256 != record.payload_sha256 {
            return Err(ServiceError::IdempotencyKeyReused(
                "this Idempotency-Key was used with another request in the last 24 hours; use a new key for a new request".into(),
            ));
        }
        match (existing.status, existing.answer) {
            (IdempotencyStatus::Completed, Some(answer)) => Ok(Admission::Replay(answer)),
            _ => Err(in_progress()),
        }
    }

    /// Keeps `status` and `body` as the answer of `record`'s key. An answer too large to keep
    /// releases the key instead (a retry then runs again). Best effort: the request succeeded,
    /// so a failure to keep its answer is logged, not returned.
    pub async fn complete(&self, mut record: IdempotencyRecord, status: u16, body: String) {
        if body.len() > MAX_REPLAYED_ANSWER_BYTES {
            tracing::warn!(bytes = body.len(), "answer too large to keep for replay");
            return self.release(&record).await;
        }
        record.status = IdempotencyStatus::Completed;
        record.answer = Some(AnswerRecord { status, body });
        if let Err(e) = self.store.complete_idempotent(&record).await {
            tracing::warn!(error = %e, "could not keep the answer for replay");
        }
    }

    /// Drops `record` (the request failed), so a retry runs again. Best effort: a record left
    /// behind lapses after [`IN_PROGRESS_MS`].
    pub async fn release(&self, record: &IdempotencyRecord) {
        if let Err(e) = self
            .store
            .release_idempotent(&record.tenant, &record.key)
            .await
        {
            tracing::warn!(error = %e, "could not release the idempotency record");
        }
    }
}

fn in_progress() -> ServiceError {
    ServiceError::IdempotencyInProgress(
        "a request with this Idempotency-Key is still being served; retry after it finishes".into(),
    )
}
