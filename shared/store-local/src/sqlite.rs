//! Items in one SQLite table keyed `PK`/`SK`, as in DynamoDB: model versions, `LATEST` pointers,
//! jobs and API keys, with the same conditional writes done in one transaction; and alert
//! suppression states and series records under the same keys in tables of their own, whose
//! revision (or sequence) and expiry are columns, so a conditional write is one upsert; and
//! labelled rows in a table of their own, keyed the same way, so a model's labels are one range.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use rusqlite::{params, Connection, ErrorCode, OptionalExtension, TransactionBehavior};
use serde::de::DeserializeOwned;

use application::domain::alert::{AlertKey, AlertState};
use application::domain::keys::{
    alert_pk, alert_sk, api_key_sk, api_keys_pk, idempotency_pk, job_pk, label_sk, labels_owner,
    labels_pk, legacy_job_pk, legacy_model_pk, model_pk, series_pk, series_sk, series_tenant,
    tenant_prefix, version_sk, IDEMPOTENCY_SK, JOB_SK, LABEL_SK_PREFIX, LATEST_SK,
    LEGACY_JOB_PREFIX, LEGACY_MODEL_PREFIX,
};
use application::domain::names::validate_model_name;
use application::domain::{
    ApiKey, IdempotencyRecord, Job, ModelVersion, RowLabel, SeriesRecord, Tenant,
};
use application::ports::{
    check_label_write, AlertLedger, IdempotencyStore, JobPage, JobScan, JobStore, KeyStore,
    LabelPage, LabelScanPage, LabelStore, LegacyItems, ModelRegistry, OwnedLabel, RegistryRestore,
    SeriesPage, SeriesScanPage, SeriesStore, StoreError,
};

/// How long a writer waits for another process's lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS items (
    pk      TEXT NOT NULL,
    sk      TEXT NOT NULL,
    version INTEGER,
    gsi_pk  TEXT,
    gsi_sk  TEXT,
    body    TEXT NOT NULL,
    PRIMARY KEY (pk, sk)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS items_gsi ON items (gsi_pk, gsi_sk);
CREATE TABLE IF NOT EXISTS alert_states (
    pk            TEXT NOT NULL,
    sk            TEXT NOT NULL,
    revision      INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL,
    body          TEXT NOT NULL,
    PRIMARY KEY (pk, sk)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS series_records (
    pk       TEXT NOT NULL,
    sk       TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    body     TEXT NOT NULL,
    PRIMARY KEY (pk, sk)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS labels (
    pk   TEXT NOT NULL,
    sk   TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (pk, sk)
) WITHOUT ROWID;
";

/// A [`ModelRegistry`] and [`JobStore`] on an SQLite file (WAL mode, busy timeout).
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating when missing) the database at `path` and its schema.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Unavailable(format!("{}: {e}", dir.display())))?;
        }
        let conn = Connection::open(path).map_err(db)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(db)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(db)?;
        conn.execute_batch(SCHEMA).map_err(db)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> Result<MutexGuard<'_, Connection>, StoreError> {
        self.conn
            .lock()
            .map_err(|_| StoreError::Unavailable("database connection lock poisoned".into()))
    }

    fn register_sync(
        &self,
        item: &ModelVersion,
        expected_latest: Option<u32>,
    ) -> Result<(), StoreError> {
        if let Some(prev) = expected_latest.filter(|p| item.version <= *p) {
            return Err(StoreError::Conflict(format!(
                "version {} of model '{}' is not above the latest version {prev}",
                item.version, item.name
            )));
        }
        let body = to_json(item)?;
        let pk = item.pk();
        let mut conn = self.conn()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        let inserted = tx.execute(
            "INSERT INTO items (pk, sk, version, body) VALUES (?1, ?2, ?3, ?4)",
            params![pk, item.sk(), item.version, body],
        );
        if let Err(e) = inserted {
            return Err(conflict_or(
                e,
                format!("version {} of model '{}' exists", item.version, item.name),
            ));
        }
        let latest_body = format!("{{\"version\":{}}}", item.version);
        let moved = match expected_latest {
            None => tx
                .execute(
                    "INSERT INTO items (pk, sk, version, body) VALUES (?1, ?2, ?3, ?4)",
                    params![pk, LATEST_SK, item.version, latest_body],
                )
                .map_err(|e| conflict_or(e, latest_moved(&item.name)))?,
            Some(prev) => tx
                .execute(
                    "UPDATE items SET version = ?3, body = ?4 WHERE pk = ?1 AND sk = ?2 AND version = ?5",
                    params![pk, LATEST_SK, item.version, latest_body, prev],
                )
                .map_err(db)?,
        };
        if moved != 1 {
            return Err(StoreError::Conflict(latest_moved(&item.name)));
        }
        tx.commit().map_err(db)
    }

    /// The version items `LATEST` points at, of every model whose partition key starts with
    /// `pk_prefix`, by key. (A prefix comparison, not `LIKE`: model names may hold `_`.)
    fn latest_items(&self, pk_prefix: &str) -> Result<Vec<ModelVersion>, StoreError> {
        self.query_bodies(
            "SELECT v.body FROM items l JOIN items v
               ON v.pk = l.pk AND v.sk = 'VERSION#' || printf('%06d', l.version)
             WHERE l.sk = ?1 AND substr(l.pk, 1, length(?2)) = ?2 AND l.pk LIKE '%#MODEL#%'
             ORDER BY l.pk",
            params![LATEST_SK, pk_prefix],
        )
    }

    fn query_bodies<T: DeserializeOwned>(
        &self,
        sql: &str,
        args: impl rusqlite::Params,
    ) -> Result<Vec<T>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare(sql).map_err(db)?;
        let rows = stmt
            .query_map(args, |r| r.get::<_, String>(0))
            .map_err(db)?;
        let mut out = Vec::new();
        for row in rows {
            out.push(from_json(&row.map_err(db)?)?);
        }
        Ok(out)
    }

    fn one_body<T: DeserializeOwned>(
        &self,
        sql: &str,
        args: impl rusqlite::Params,
    ) -> Result<Option<T>, StoreError> {
        let conn = self.conn()?;
        let body: Option<String> = conn
            .query_row(sql, args, |r| r.get(0))
            .optional()
            .map_err(db)?;
        body.map(|b| from_json(&b)).transpose()
    }
}

fn latest_moved(name: &str) -> String {
    format!("the latest version of model '{name}' moved")
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Invalid(e.to_string()))
}

fn from_json<T: DeserializeOwned>(body: &str) -> Result<T, StoreError> {
    serde_json::from_str(body).map_err(|e| StoreError::Corrupted(format!("item: {e}")))
}

/// The item at `pk`/`sk`, read inside `tx` (so a conditional write decides on what it read).
fn read_in<T: DeserializeOwned>(
    tx: &rusqlite::Transaction<'_>,
    pk: &str,
    sk: &str,
) -> Result<Option<T>, StoreError> {
    let body: Option<String> = tx
        .query_row(
            "SELECT body FROM items WHERE pk = ?1 AND sk = ?2",
            params![pk, sk],
            |r| r.get(0),
        )
        .optional()
        .map_err(db)?;
    body.map(|b| from_json(&b)).transpose()
}

fn db(e: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(format!("sqlite: {e}"))
}

/// A constraint violation is a lost conditional write; anything else is the database failing.
fn conflict_or(e: rusqlite::Error, conflict: String) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::ConstraintViolation) => StoreError::Conflict(conflict),
        _ => db(e),
    }
}

#[async_trait]
impl ModelRegistry for SqliteStore {
    async fn register_version(
        &self,
        item: &ModelVersion,
        expected_latest: Option<u32>,
    ) -> Result<(), StoreError> {
        self.register_sync(item, expected_latest)
    }

    async fn latest(&self, tenant: &Tenant, name: &str) -> Result<Option<u32>, StoreError> {
        let conn = self.conn()?;
        conn.query_row(
            "SELECT version FROM items WHERE pk = ?1 AND sk = ?2",
            params![model_pk(tenant, name), LATEST_SK],
            |r| r.get::<_, u32>(0),
        )
        .optional()
        .map_err(db)
    }

    async fn version(
        &self,
        tenant: &Tenant,
        name: &str,
        version: u32,
    ) -> Result<Option<ModelVersion>, StoreError> {
        self.one_body(
            "SELECT body FROM items WHERE pk = ?1 AND sk = ?2",
            params![model_pk(tenant, name), version_sk(version)],
        )
    }

    async fn list_models(
        &self,
        tenant: &Tenant,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ModelVersion>, StoreError> {
        let prefix = format!("{}MODEL#", tenant_prefix(tenant));
        self.query_bodies(
            "SELECT v.body FROM items l JOIN items v
               ON v.pk = l.pk AND v.sk = 'VERSION#' || printf('%06d', l.version)
             WHERE l.sk = ?1 AND substr(l.pk, 1, length(?2)) = ?2 AND l.pk > ?3
             ORDER BY l.pk LIMIT ?4",
            params![
                LATEST_SK,
                prefix,
                format!("{prefix}{}", after.unwrap_or("")),
                i64::try_from(limit).unwrap_or(i64::MAX)
            ],
        )
    }

    async fn list_all_models(&self) -> Result<Vec<ModelVersion>, StoreError> {
        self.latest_items("T#")
    }

    async fn versions(&self, tenant: &Tenant, name: &str) -> Result<Vec<ModelVersion>, StoreError> {
        self.query_bodies(
            "SELECT body FROM items WHERE pk = ?1 AND sk LIKE 'VERSION#%' ORDER BY version",
            params![model_pk(tenant, name)],
        )
    }
}

/// The secondary-index sort key of a job: creation time then id, so newest-first paging is stable.
fn job_gsi_sk(job: &Job) -> String {
    format!("{:020}#{}", job.created_at, job.id)
}

/// Whether `cursor` has the shape [`job_gsi_sk`] hands out: 20 digits, `#`, an id.
fn valid_job_cursor(cursor: &str) -> bool {
    let mut parts = cursor.splitn(2, '#');
    let millis = parts.next().unwrap_or_default();
    let id = parts.next().unwrap_or_default();
    millis.len() == 20 && millis.bytes().all(|b| b.is_ascii_digit()) && !id.is_empty()
}

/// Writes or replaces one job item inside `conn` (a connection or a transaction).
fn upsert_job(conn: &Connection, job: &Job) -> Result<(), StoreError> {
    write_job(conn, job, "INSERT OR REPLACE")
}

/// Writes one job item with `verb` (`INSERT` fails on an existing id, `INSERT OR REPLACE` does
/// not).
fn write_job(conn: &Connection, job: &Job, verb: &str) -> Result<(), StoreError> {
    let body = to_json(job)?;
    conn.execute(
        &format!(
            "{verb} INTO items (pk, sk, version, gsi_pk, gsi_sk, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
        ),
        params![
            job.pk(),
            JOB_SK,
            job.version,
            job.model
                .as_deref()
                .map(|model| model_pk(&job.tenant, model)),
            job_gsi_sk(job),
            body
        ],
    )
    .map_err(|e| conflict_or(e, format!("job '{}' exists", job.id)))?;
    Ok(())
}

#[async_trait]
impl JobStore for SqliteStore {
    async fn put_job(&self, job: &Job) -> Result<(), StoreError> {
        let conn = self.conn()?;
        upsert_job(&conn, job)
    }

    async fn put_job_if_absent(&self, job: &Job) -> Result<(), StoreError> {
        let conn = self.conn()?;
        write_job(&conn, job, "INSERT")
    }

    async fn put_jobs(&self, jobs: &[Job]) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        for job in jobs {
            upsert_job(&tx, job)?;
        }
        tx.commit().map_err(db)
    }

    async fn take_over_job(&self, job: &Job, now_ms: u64) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        let stored: Option<Job> = read_in(&tx, &job.pk(), JOB_SK)?;
        if !stored.is_some_and(|s| s.claimable(now_ms)) {
            return Err(StoreError::Conflict(format!(
                "job '{}' is neither pending nor running under an expired lease",
                job.id
            )));
        }
        upsert_job(&tx, job)?;
        tx.commit().map_err(db)
    }

    /// In one transaction: the job's body keeps the counted indexes in `ranges_finished`
    /// (beside the fields a [`Job`] reads, so answers never carry them).
    async fn record_range(
        &self,
        tenant: &Tenant,
        id: &str,
        index: u32,
        rows: u64,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        let Some(mut body) = read_in::<serde_json::Value>(&tx, &job_pk(tenant, id), JOB_SK)? else {
            return Ok(false);
        };
        let Some(object) = body.as_object_mut() else {
            return Ok(false);
        };
        let finished = object
            .entry("ranges_finished")
            .or_insert_with(|| serde_json::Value::Array(Vec::new()));
        let Some(list) = finished.as_array_mut() else {
            return Ok(false);
        };
        if list.iter().any(|v| v.as_u64() == Some(u64::from(index))) {
            return Ok(false);
        }
        list.push(index.into());
        let Some(progress) = object.get_mut("progress").and_then(|p| p.as_object_mut()) else {
            return Ok(false);
        };
        let add =
            |progress: &mut serde_json::Map<String, serde_json::Value>, field: &str, n: u64| {
                let now = progress
                    .get(field)
                    .and_then(serde_json::Value::as_u64)
                    .unwrap_or(0);
                progress.insert(field.to_owned(), (now + n).into());
            };
        add(progress, "ranges_done", 1);
        add(progress, "rows_done", rows);
        tx.execute(
            "UPDATE items SET body = ?3 WHERE pk = ?1 AND sk = ?2",
            params![job_pk(tenant, id), JOB_SK, to_json(&body)?],
        )
        .map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(true)
    }

    async fn get_job(&self, tenant: &Tenant, id: &str) -> Result<Option<Job>, StoreError> {
        self.one_body(
            "SELECT body FROM items WHERE pk = ?1 AND sk = ?2",
            params![job_pk(tenant, id), JOB_SK],
        )
    }

    async fn jobs_for_model(
        &self,
        tenant: &Tenant,
        name: &str,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<JobPage, StoreError> {
        let limit = limit.clamp(1, 1000);
        if let Some(bad) = cursor.filter(|c| !valid_job_cursor(c)) {
            return Err(StoreError::Invalid(format!(
                "job cursor '{}' was not handed out by this store",
                bad.escape_debug()
            )));
        }
        // One extra row tells whether another page exists.
        let jobs: Vec<Job> = self.query_bodies(
            "SELECT body FROM items WHERE gsi_pk = ?1 AND sk = ?2 AND gsi_sk < ?3
             ORDER BY gsi_sk DESC LIMIT ?4",
            params![
                model_pk(tenant, name),
                JOB_SK,
                cursor.unwrap_or("~"),
                (limit + 1) as i64
            ],
        )?;
        let mut jobs = jobs;
        let next_cursor = if jobs.len() > limit {
            jobs.truncate(limit);
            jobs.last().map(job_gsi_sk)
        } else {
            None
        };
        Ok(JobPage { jobs, next_cursor })
    }
}

#[async_trait]
impl RegistryRestore for SqliteStore {
    async fn restore_version(&self, item: &ModelVersion, replace: bool) -> Result<(), StoreError> {
        let verb = if replace {
            "INSERT OR REPLACE"
        } else {
            "INSERT"
        };
        let conn = self.conn()?;
        conn.execute(
            &format!("{verb} INTO items (pk, sk, version, body) VALUES (?1, ?2, ?3, ?4)"),
            params![item.pk(), item.sk(), item.version, to_json(item)?],
        )
        .map_err(|e| {
            conflict_or(
                e,
                format!("version {} of model '{}' exists", item.version, item.name),
            )
        })?;
        Ok(())
    }

    /// An upsert whose update applies only to a lower version (or always with `replace`).
    async fn restore_latest(&self, item: &ModelVersion, replace: bool) -> Result<(), StoreError> {
        let guard = if replace {
            ""
        } else {
            " WHERE items.version < excluded.version"
        };
        let conn = self.conn()?;
        let changed = conn
            .execute(
                &format!(
                    "INSERT INTO items (pk, sk, version, body) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (pk, sk) DO UPDATE SET version = excluded.version,
                     body = excluded.body{guard}"
                ),
                params![
                    item.pk(),
                    LATEST_SK,
                    item.version,
                    format!("{{\"version\":{}}}", item.version)
                ],
            )
            .map_err(db)?;
        if changed != 1 {
            return Err(StoreError::Conflict(format!(
                "the latest version of model '{}' is not below {}",
                item.name, item.version
            )));
        }
        Ok(())
    }
}

#[async_trait]
impl JobScan for SqliteStore {
    /// By key: the cursor is the last job's `pk`, and a page reads the primary key's range after
    /// it.
    async fn scan_jobs(&self, cursor: Option<&str>, limit: usize) -> Result<JobPage, StoreError> {
        if cursor.is_some_and(|c| !c.starts_with("T#")) {
            return Err(StoreError::Invalid(
                "job scan cursor was not handed out by this store".into(),
            ));
        }
        let limit = limit.clamp(1, 10_000);
        let rows: Vec<(String, Job)> = {
            let conn = self.conn()?;
            let mut stmt = conn
                .prepare_cached(
                    "SELECT pk, body FROM items WHERE pk > ?1 AND sk = ?2 AND pk LIKE 'T#%#JOB#%'
                     ORDER BY pk LIMIT ?3",
                )
                .map_err(db)?;
            let rows = stmt
                .query_map(params![cursor.unwrap_or(""), JOB_SK, limit as i64], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                })
                .map_err(db)?;
            let mut out = Vec::with_capacity(limit);
            for row in rows {
                let (pk, body) = row.map_err(db)?;
                out.push((pk, from_json(&body)?));
            }
            out
        };
        let next_cursor = (rows.len() == limit)
            .then(|| rows.last().map(|(pk, _)| pk.clone()))
            .flatten();
        Ok(JobPage {
            jobs: rows.into_iter().map(|(_, job)| job).collect(),
            next_cursor,
        })
    }

    /// The local store is small: running jobs are found by their body, without an index.
    async fn expired_leases(&self, now_ms: u64, limit: usize) -> Result<Vec<Job>, StoreError> {
        let running: Vec<Job> = self.query_bodies(
            "SELECT body FROM items WHERE sk = ?1 AND pk LIKE 'T#%#JOB#%'
               AND json_extract(body, '$.status') IN ('running', 'pending')
             ORDER BY json_extract(body, '$.lease_expires_at'), pk",
            params![JOB_SK],
        )?;
        Ok(running
            .into_iter()
            .filter(|j| j.overdue(now_ms))
            .take(limit)
            .collect())
    }
}

#[async_trait]
impl IdempotencyStore for SqliteStore {
    async fn begin_idempotent(
        &self,
        record: &IdempotencyRecord,
        now_ms: u64,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let mut conn = self.conn()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        let existing: Option<IdempotencyRecord> = read_in(&tx, &record.pk(), IDEMPOTENCY_SK)?;
        if let Some(live) = existing.filter(|e| e.is_live(now_ms)) {
            return Ok(Some(live));
        }
        tx.execute(
            "INSERT OR REPLACE INTO items (pk, sk, body) VALUES (?1, ?2, ?3)",
            params![record.pk(), IDEMPOTENCY_SK, to_json(record)?],
        )
        .map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(None)
    }

    async fn complete_idempotent(&self, record: &IdempotencyRecord) -> Result<(), StoreError> {
        let conn = self.conn()?;
        conn.execute(
            "INSERT OR REPLACE INTO items (pk, sk, body) VALUES (?1, ?2, ?3)",
            params![record.pk(), IDEMPOTENCY_SK, to_json(record)?],
        )
        .map_err(db)?;
        Ok(())
    }

    async fn release_idempotent(&self, tenant: &Tenant, key: &str) -> Result<(), StoreError> {
        let conn = self.conn()?;
        conn.execute(
            "DELETE FROM items WHERE pk = ?1 AND sk = ?2",
            params![idempotency_pk(tenant, key), IDEMPOTENCY_SK],
        )
        .map_err(db)?;
        Ok(())
    }
}

#[async_trait]
impl KeyStore for SqliteStore {
    async fn put_key_if_absent(&self, key: &ApiKey) -> Result<(), StoreError> {
        let conn = self.conn()?;
        conn.execute(
            "INSERT INTO items (pk, sk, body) VALUES (?1, ?2, ?3)",
            params![key.pk(), key.sk(), to_json(key)?],
        )
        .map_err(|e| conflict_or(e, format!("API key '{}' exists", key.id)))?;
        Ok(())
    }

    async fn get_key(&self, tenant: &Tenant, id: &str) -> Result<Option<ApiKey>, StoreError> {
        self.one_body(
            "SELECT body FROM items WHERE pk = ?1 AND sk = ?2",
            params![api_keys_pk(tenant), api_key_sk(id)],
        )
    }

    async fn list_keys(&self, tenant: &Tenant) -> Result<Vec<ApiKey>, StoreError> {
        self.query_bodies(
            "SELECT body FROM items WHERE pk = ?1 AND sk LIKE 'KEY#%' ORDER BY sk",
            params![api_keys_pk(tenant)],
        )
    }

    async fn all_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        self.query_bodies(
            "SELECT body FROM items WHERE pk LIKE 'T#%#KEYS' AND sk LIKE 'KEY#%' ORDER BY pk, sk",
            [],
        )
    }

    async fn revoke_key(&self, tenant: &Tenant, id: &str, at: u64) -> Result<bool, StoreError> {
        let conn = self.conn()?;
        let (pk, sk) = (api_keys_pk(tenant), api_key_sk(id));
        conn.execute(
            "UPDATE items SET body = json_set(body, '$.revoked_at', ?3)
             WHERE pk = ?1 AND sk = ?2 AND json_extract(body, '$.revoked_at') IS NULL",
            params![pk, sk, at as i64],
        )
        .map_err(db)?;
        let exists: Option<i64> = conn
            .query_row(
                "SELECT 1 FROM items WHERE pk = ?1 AND sk = ?2",
                params![pk, sk],
                |r| r.get(0),
            )
            .optional()
            .map_err(db)?;
        Ok(exists.is_some())
    }

    async fn touch_key(&self, tenant: &Tenant, id: &str, at: u64) -> Result<(), StoreError> {
        let conn = self.conn()?;
        conn.execute(
            "UPDATE items SET body = json_set(body, '$.last_used_at', ?3) WHERE pk = ?1 AND sk = ?2",
            params![api_keys_pk(tenant), api_key_sk(id), at as i64],
        )
        .map_err(db)?;
        Ok(())
    }
}

#[async_trait]
impl LegacyItems for SqliteStore {
    async fn legacy_versions(&self) -> Result<Vec<ModelVersion>, StoreError> {
        self.query_bodies(
            "SELECT body FROM items WHERE substr(pk, 1, 6) = ?1 AND sk LIKE 'VERSION#%' ORDER BY pk, sk",
            params![LEGACY_MODEL_PREFIX],
        )
    }

    async fn legacy_latest(&self) -> Result<Vec<(String, u32)>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare(
                "SELECT substr(pk, 7), version FROM items WHERE substr(pk, 1, 6) = ?1 AND sk = ?2
                 ORDER BY pk",
            )
            .map_err(db)?;
        let rows = stmt
            .query_map(params![LEGACY_MODEL_PREFIX, LATEST_SK], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, u32>(1)?))
            })
            .map_err(db)?;
        rows.collect::<Result<_, _>>().map_err(db)
    }

    async fn legacy_jobs(&self) -> Result<Vec<Job>, StoreError> {
        self.query_bodies(
            "SELECT body FROM items WHERE substr(pk, 1, 4) = ?1 AND sk = ?2 ORDER BY pk",
            params![LEGACY_JOB_PREFIX, JOB_SK],
        )
    }

    async fn remove_legacy_model(&self, name: &str) -> Result<(), StoreError> {
        let conn = self.conn()?;
        conn.execute(
            "DELETE FROM items WHERE pk = ?1",
            params![legacy_model_pk(name)],
        )
        .map_err(db)?;
        Ok(())
    }

    async fn remove_legacy_job(&self, id: &str) -> Result<(), StoreError> {
        let conn = self.conn()?;
        conn.execute(
            "DELETE FROM items WHERE pk = ?1 AND sk = ?2",
            params![legacy_job_pk(id), JOB_SK],
        )
        .map_err(db)?;
        Ok(())
    }
}

/// Milliseconds since the Unix epoch now (0 before it), the clock alert states expire by.
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A millisecond time as an SQLite integer; a time beyond `i64::MAX` ms (never, in practice) is
/// kept as that far future.
fn sql_ms(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

#[async_trait]
impl AlertLedger for SqliteStore {
    /// The stored state unless it expired (expiry at or before now).
    async fn alert_state(
        &self,
        tenant: &Tenant,
        key: &AlertKey,
    ) -> Result<Option<AlertState>, StoreError> {
        self.one_body(
            "SELECT body FROM alert_states WHERE pk = ?1 AND sk = ?2 AND expires_at_ms > ?3",
            params![
                alert_pk(tenant, &key.model),
                alert_sk(&key.entity),
                sql_ms(now_ms())
            ],
        )
    }

    /// One upsert whose update applies only while the stored revision is the previous one; a
    /// first revision also replaces an expired state (which reads as absent).
    async fn put_alert_state(
        &self,
        tenant: &Tenant,
        key: &AlertKey,
        state: &AlertState,
    ) -> Result<bool, StoreError> {
        let revision = i64::try_from(state.revision)
            .ok()
            .filter(|r| *r >= 1)
            .ok_or_else(|| {
                StoreError::Invalid(format!(
                    "alert state revision {} is not in 1..=i64::MAX",
                    state.revision
                ))
            })?;
        let conn = self.conn()?;
        let changed = conn
            .execute(
                "INSERT INTO alert_states (pk, sk, revision, expires_at_ms, body)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (pk, sk) DO UPDATE SET revision = excluded.revision,
                   expires_at_ms = excluded.expires_at_ms, body = excluded.body
                 WHERE alert_states.revision = ?6
                   OR (?6 = 0 AND alert_states.expires_at_ms <= ?7)",
                params![
                    alert_pk(tenant, &key.model),
                    alert_sk(&key.entity),
                    revision,
                    sql_ms(state.expires_at_ms),
                    to_json(state)?,
                    revision - 1,
                    sql_ms(now_ms())
                ],
            )
            .map_err(db)?;
        Ok(changed == 1)
    }
}

/// A series sequence as its column holds it: 1 or more.
fn sql_sequence(sequence: u64) -> Result<i64, StoreError> {
    i64::try_from(sequence)
        .ok()
        .filter(|s| *s >= 1)
        .ok_or_else(|| {
            StoreError::Invalid(format!("series sequence {sequence} is not in 1..=i64::MAX"))
        })
}

#[async_trait]
impl SeriesStore for SqliteStore {
    async fn series(
        &self,
        tenant: &Tenant,
        name: &str,
    ) -> Result<Option<SeriesRecord>, StoreError> {
        self.one_body(
            "SELECT body FROM series_records WHERE pk = ?1 AND sk = ?2",
            params![series_pk(tenant), series_sk(name)],
        )
    }

    /// One upsert whose update applies only while the stored sequence is the previous one; a
    /// first write (sequence 1) inserts.
    async fn put_series(&self, tenant: &Tenant, record: &SeriesRecord) -> Result<bool, StoreError> {
        let sequence = sql_sequence(record.sequence)?;
        let conn = self.conn()?;
        let changed = conn
            .execute(
                "INSERT INTO series_records (pk, sk, sequence, body) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (pk, sk) DO UPDATE SET sequence = excluded.sequence,
                   body = excluded.body
                 WHERE series_records.sequence = ?5",
                params![
                    series_pk(tenant),
                    series_sk(&record.name),
                    sequence,
                    to_json(record)?,
                    sequence - 1
                ],
            )
            .map_err(db)?;
        Ok(changed == 1)
    }

    async fn list_series(
        &self,
        tenant: &Tenant,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<SeriesPage, StoreError> {
        let limit = limit.clamp(1, 1000);
        // One extra row tells whether another page exists.
        let mut series: Vec<SeriesRecord> = self.query_bodies(
            "SELECT body FROM series_records WHERE pk = ?1 AND sk > ?2 ORDER BY sk LIMIT ?3",
            params![
                series_pk(tenant),
                cursor.map_or_else(|| series_sk(""), series_sk),
                (limit + 1) as i64
            ],
        )?;
        let next_cursor = if series.len() > limit {
            series.truncate(limit);
            series.last().map(|record| record.name.clone())
        } else {
            None
        };
        Ok(SeriesPage {
            series,
            next_cursor,
        })
    }

    /// By key: the cursor is the last record's `pk` and `sk` joined by a newline (neither holds
    /// one), and a page reads the primary key's range after it.
    async fn scan_series(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<SeriesScanPage, StoreError> {
        let (after_pk, after_sk) = match cursor {
            None => ("", ""),
            Some(cursor) => cursor
                .split_once('\n')
                .filter(|(pk, _)| series_tenant(pk).is_some())
                .ok_or_else(|| {
                    StoreError::Invalid(
                        "series scan cursor was not handed out by this store".into(),
                    )
                })?,
        };
        let limit = limit.clamp(1, 10_000);
        let rows: Vec<(String, String, String)> = {
            let conn = self.conn()?;
            let mut stmt = conn
                .prepare_cached(
                    "SELECT pk, sk, body FROM series_records
                     WHERE pk > ?1 OR (pk = ?1 AND sk > ?2) ORDER BY pk, sk LIMIT ?3",
                )
                .map_err(db)?;
            let rows = stmt
                .query_map(params![after_pk, after_sk, limit as i64], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .map_err(db)?;
            rows.collect::<Result<_, _>>().map_err(db)?
        };
        let next_cursor = (rows.len() == limit)
            .then(|| rows.last().map(|(pk, sk, _)| format!("{pk}\n{sk}")))
            .flatten();
        let series = rows
            .into_iter()
            .map(|(pk, _, body)| {
                let tenant = series_tenant(&pk).ok_or_else(|| {
                    StoreError::Corrupted(format!("series record under '{pk}' names no tenant"))
                })?;
                Ok((tenant, from_json(&body)?))
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(SeriesScanPage {
            series,
            next_cursor,
        })
    }

    /// An insert that does nothing over an existing record.
    async fn restore_series(
        &self,
        tenant: &Tenant,
        record: &SeriesRecord,
    ) -> Result<bool, StoreError> {
        let sequence = sql_sequence(record.sequence)?;
        let conn = self.conn()?;
        let changed = conn
            .execute(
                "INSERT INTO series_records (pk, sk, sequence, body) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (pk, sk) DO NOTHING",
                params![
                    series_pk(tenant),
                    series_sk(&record.name),
                    sequence,
                    to_json(record)?
                ],
            )
            .map_err(db)?;
        Ok(changed == 1)
    }
}

/// A stored label's body, decoded and checked against the sort key it was found under.
fn stored_label(sk: &str, body: &str) -> Result<RowLabel, StoreError> {
    let label: RowLabel = from_json(body)?;
    if sk.strip_prefix(LABEL_SK_PREFIX) != Some(label.id.as_str()) {
        return Err(StoreError::Corrupted(format!(
            "the label under '{sk}' has id '{}'",
            label.id
        )));
    }
    Ok(label)
}

#[async_trait]
impl LabelStore for SqliteStore {
    /// One transaction of upserts.
    async fn put_labels(
        &self,
        tenant: &Tenant,
        model: &str,
        labels: &[RowLabel],
    ) -> Result<(), StoreError> {
        check_label_write(model, labels)?;
        let pk = labels_pk(tenant, model);
        let bodies = labels
            .iter()
            .map(|label| Ok((label_sk(&label.id), to_json(label)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let mut conn = self.conn()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        for (sk, body) in bodies {
            tx.execute(
                "INSERT INTO labels (pk, sk, body) VALUES (?1, ?2, ?3)
                 ON CONFLICT (pk, sk) DO UPDATE SET body = excluded.body",
                params![pk, sk, body],
            )
            .map_err(db)?;
        }
        tx.commit().map_err(db)
    }

    async fn list_labels(
        &self,
        tenant: &Tenant,
        model: &str,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<LabelPage, StoreError> {
        validate_model_name(model).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let limit = limit.clamp(1, 1000);
        // One extra row tells whether another page exists.
        let rows: Vec<(String, String)> = {
            let conn = self.conn()?;
            let mut stmt = conn
                .prepare_cached(
                    "SELECT sk, body FROM labels WHERE pk = ?1 AND sk > ?2 ORDER BY sk LIMIT ?3",
                )
                .map_err(db)?;
            let rows = stmt
                .query_map(
                    params![
                        labels_pk(tenant, model),
                        label_sk(cursor.unwrap_or_default()),
                        (limit + 1) as i64
                    ],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .map_err(db)?;
            rows.collect::<Result<_, _>>().map_err(db)?
        };
        let mut labels = rows
            .iter()
            .map(|(sk, body)| stored_label(sk, body))
            .collect::<Result<Vec<_>, _>>()?;
        let next_cursor = if labels.len() > limit {
            labels.truncate(limit);
            labels.last().map(|label| label.id.clone())
        } else {
            None
        };
        Ok(LabelPage {
            labels,
            next_cursor,
        })
    }

    /// By key, as [`SeriesStore::scan_series`]: the cursor is the last label's `pk` and `sk`
    /// joined by a newline (neither holds one).
    async fn scan_labels(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<LabelScanPage, StoreError> {
        let (after_pk, after_sk) = match cursor {
            None => ("", ""),
            Some(cursor) => cursor
                .split_once('\n')
                .filter(|(pk, _)| labels_owner(pk).is_some())
                .ok_or_else(|| {
                    StoreError::Invalid("label scan cursor was not handed out by this store".into())
                })?,
        };
        let limit = limit.clamp(1, 10_000);
        let rows: Vec<(String, String, String)> = {
            let conn = self.conn()?;
            let mut stmt = conn
                .prepare_cached(
                    "SELECT pk, sk, body FROM labels
                     WHERE pk > ?1 OR (pk = ?1 AND sk > ?2) ORDER BY pk, sk LIMIT ?3",
                )
                .map_err(db)?;
            let rows = stmt
                .query_map(params![after_pk, after_sk, limit as i64], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .map_err(db)?;
            rows.collect::<Result<_, _>>().map_err(db)?
        };
        let next_cursor = (rows.len() == limit)
            .then(|| rows.last().map(|(pk, sk, _)| format!("{pk}\n{sk}")))
            .flatten();
        let labels = rows
            .iter()
            .map(|(pk, sk, body)| {
                let (tenant, model) = labels_owner(pk).ok_or_else(|| {
                    StoreError::Corrupted(format!("labels under '{pk}' name no tenant and model"))
                })?;
                Ok(OwnedLabel {
                    tenant,
                    model,
                    label: stored_label(sk, body)?,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(LabelScanPage {
            labels,
            next_cursor,
        })
    }
}
