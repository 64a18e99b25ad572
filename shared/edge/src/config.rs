//! Configuration from environment variables, validated once at cold start with messages naming
//! the variable, and testable through a lookup function instead of the process environment.

use std::path::PathBuf;
use std::time::Duration;

use detection::Limits;

use application::domain::stream_route::StreamRoutes;
use application::domain::JobPolicy;
use application::workflows::budgets::WorkBudgets;
use application::workflows::retention::RetentionPolicy;
use detection::threshold::Severity;

use crate::jwt::JwksSource;
use thiserror::Error;

/// Default most bytes of a request body (API Gateway's synchronous payload limit).
pub const DEFAULT_MAX_BODY_BYTES: usize = 6 * 1024 * 1024;
/// Default most rows of one request.
pub const DEFAULT_MAX_ROWS: usize = 100_000;
/// Default bytes of decoded models kept in a warm container.
pub const DEFAULT_CACHE_BYTES: usize = 256 * 1024 * 1024;
/// Default seconds a looked-up `LATEST` version is trusted.
pub const DEFAULT_LATEST_TTL_SECS: u64 = 30;
/// Default local data directory.
pub const DEFAULT_DATA_DIR: &str = ".nomaly";

/// A configuration variable with a bad value, named so an operator can fix it.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// The variable is set to something unusable.
    #[error("{variable}: {reason}")]
    Invalid {
        /// Environment variable name.
        variable: &'static str,
        /// What is wrong and what is accepted.
        reason: String,
    },
}

/// Which storage adapters to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// Directory + SQLite under the data directory.
    Local,
    /// S3 + DynamoDB.
    Aws,
}

/// How the functions learn who calls them (`NOMALY_AUTH`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// `inline` (default): each function checks the `Authorization` header itself (what `cargo
    /// lambda watch` needs, and safe anywhere: nothing is trusted unchecked).
    Inline,
    /// `authorizer`: trust the tenant and scopes the API Gateway Lambda authorizer put in the
    /// request context (the templates set it: the check ran once, and its answer is cached).
    Authorizer,
}

/// Bearer JWTs from an identity provider, when `NOMALY_JWT_ISSUER` is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtConfig {
    /// `NOMALY_JWT_ISSUER`: the exact `iss` of accepted tokens.
    pub issuer: String,
    /// `NOMALY_JWT_AUDIENCE`: an `aud` value (or, without `aud`, the `client_id`) they must name.
    pub audience: String,
    /// `NOMALY_JWT_JWKS_URL` (fetched) or `NOMALY_JWT_JWKS` (the document itself).
    pub jwks: JwksSource,
    /// `NOMALY_JWT_TENANT_CLAIM` (default `tenant`): the claim naming the caller's tenant.
    pub tenant_claim: String,
    /// `NOMALY_JWT_SCOPES_CLAIM` (default `scope`): a space-separated string or an array.
    pub scopes_claim: String,
    /// `NOMALY_JWT_SCOPE_PREFIX` (default none): stripped from each scope (`nomaly/read`).
    pub scope_prefix: String,
}

/// Where the AWS adapter keeps things (`NOMALY_BUCKET`, `NOMALY_TABLE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsNames {
    /// `NOMALY_BUCKET`: the models bucket.
    pub bucket: String,
    /// `NOMALY_TABLE`: the registry and job table.
    pub table: String,
}

/// The bucket name `s3_uri`s use on the local store.
pub const LOCAL_BUCKET: &str = "local";

/// Uploads above this size are split into ranges unless configured: 1 GiB, about 30 s of one
/// invocation's scoring.
pub const DEFAULT_BATCH_SPLIT_BYTES: u64 = 1 << 30;

/// Bytes of each range unless configured: 128 MiB, a few seconds of one worker.
pub const DEFAULT_BATCH_RANGE_BYTES: u64 = 128 << 20;

/// Everything the functions read from their environment.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `NOMALY_STORE`: which adapters.
    pub store: StoreKind,
    /// `NOMALY_AUTH`: who checks credentials.
    pub auth: AuthMode,
    /// JWT settings, when tokens of an identity provider are accepted.
    pub jwt: Option<JwtConfig>,
    /// `NOMALY_USAGE_PLAN_ID`: the API Gateway usage plan each new API key gets a metering key
    /// in (the keys function, in AWS); unset, nothing is metered per key.
    pub usage_plan_id: Option<String>,
    /// `NOMALY_JWT_USAGE_KEY`: the usage-plan key JWT callers are metered under (the
    /// authorizer).
    pub jwt_usage_key: Option<String>,
    /// `NOMALY_DATA_DIR`: root of the local store.
    pub data_dir: PathBuf,
    /// Bucket and table, set (and required) when `store` is [`StoreKind::Aws`].
    pub aws: Option<AwsNames>,
    /// `NOMALY_MAX_BODY_BYTES`: most bytes of a request body.
    pub max_body_bytes: usize,
    /// `NOMALY_MAX_ROWS`: most rows of one request.
    pub max_rows: usize,
    /// `NOMALY_CACHE_BYTES`: bytes of decoded models kept warm.
    pub cache_bytes: usize,
    /// `NOMALY_LATEST_TTL_SECS`: how long a looked-up `LATEST` is trusted.
    pub latest_ttl: Duration,
    /// `NOMALY_BACKUP_BUCKET`: the backup bucket (AWS store; only the backup function needs it).
    pub backup_bucket: Option<String>,
    /// `NOMALY_BACKUP_KEEP_DAILY` (default 7) and `NOMALY_BACKUP_KEEP_WEEKLY` (default 4): which
    /// backups survive pruning.
    pub retention: RetentionPolicy,
    /// `NOMALY_TIMEOUT_SECS` (default 900, at most 900): the function's timeout, which work
    /// budgets and job leases derive from (the templates set it to the function's `Timeout`).
    pub timeout_secs: u64,
    /// `NOMALY_JOB_TTL_DAYS` (default 30, 1 to 3650): how long job records are kept.
    pub job_ttl_days: u64,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` (set by Lambda; default 1024): the function's memory in
    /// MB, which work budgets derive from.
    pub memory_mb: u64,
    /// `NOMALY_JOBS_STATE_MACHINE_ARN`: the Step Functions state machine running asynchronous
    /// jobs (AWS store only); unset, the function's own process drives them (the local driver).
    pub jobs_state_machine_arn: Option<String>,
    /// `NOMALY_BATCH_SPLIT_BYTES` (default 1 GiB): uploads larger than this are scored as byte
    /// ranges in parallel; smaller ones in one invocation.
    pub batch_split_bytes: u64,
    /// `NOMALY_BATCH_RANGE_BYTES` (default 128 MiB, at least 1 KiB): bytes of each range.
    pub batch_range_bytes: u64,
    /// `NOMALY_BATCH_LOCAL_WORKERS` (default 4, 1 to 64): ranges the local driver scores at once.
    pub batch_local_workers: usize,
    /// `NOMALY_UPLOAD_URL_TTL_SECS` (default 900, 60 to 43,200): how long upload URLs and
    /// results links stay valid.
    pub upload_url_ttl_secs: u64,
    /// `NOMALY_STREAM_ROUTES`: `{"<stream or queue ARN>": {"tenant": ..., "model": ...}}`, which
    /// tenant (and default model) each source's records belong to; a record of an unrouted source
    /// is set aside as a dead letter.
    pub stream_routes: StreamRoutes,
    /// `NOMALY_EVENT_BUS` (AWS store): the EventBridge bus alerts go to (a name or ARN; `default`
    /// for the account's default bus); unset, no alerts are published in AWS. Locally alerts go
    /// to `alerts.jsonl` in the data directory.
    pub event_bus: Option<String>,
    /// `NOMALY_DEAD_LETTER_QUEUE_URL` (AWS store): the SQS queue unscorable records go to, with
    /// the reason; unset, such records are retried by their source instead. Locally they go to
    /// `dead-letters.jsonl` in the data directory.
    pub dead_letter_queue_url: Option<String>,
    /// `NOMALY_ALERT_MIN_SEVERITY` (`low`, `medium` (default) or `high`): the least severe anomaly
    /// of a stream record that raises an alert.
    pub alert_min_severity: Severity,
    /// `NOMALY_ALERT_WINDOW_SECS` (default 300, at most 86,400; 0 turns suppression off): at most
    /// one alert per model and entity within this window.
    pub alert_window_secs: u64,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads variables through `lookup` (unset = `None`), validating each.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let store = match get("NOMALY_STORE").as_deref().map(str::trim) {
            None | Some("local") => StoreKind::Local,
            Some("aws") => StoreKind::Aws,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    variable: "NOMALY_STORE",
                    reason: format!("'{other}' is not a store; expected 'local' or 'aws'"),
                })
            }
        };
        let auth = match get("NOMALY_AUTH").as_deref().map(str::trim) {
            None | Some("inline") => AuthMode::Inline,
            Some("authorizer") => AuthMode::Authorizer,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    variable: "NOMALY_AUTH",
                    reason: format!("'{other}' is not a mode; expected 'inline' or 'authorizer'"),
                })
            }
        };
        let jwt = match get("NOMALY_JWT_ISSUER") {
            None => None,
            Some(issuer) => {
                let needed = |variable: &'static str| {
                    get(variable)
                        .map(|v| v.trim().to_owned())
                        .ok_or(ConfigError::Invalid {
                            variable,
                            reason: "is required when NOMALY_JWT_ISSUER is set".into(),
                        })
                };
                let jwks = match (get("NOMALY_JWT_JWKS_URL"), get("NOMALY_JWT_JWKS")) {
                    (Some(url), None) => JwksSource::Url(url.trim().to_owned()),
                    (None, Some(document)) => JwksSource::Inline(document),
                    _ => {
                        return Err(ConfigError::Invalid {
                            variable: "NOMALY_JWT_JWKS_URL",
                            reason: "give exactly one of NOMALY_JWT_JWKS_URL and NOMALY_JWT_JWKS when NOMALY_JWT_ISSUER is set".into(),
                        })
                    }
                };
                Some(JwtConfig {
                    issuer: issuer.trim().to_owned(),
                    audience: needed("NOMALY_JWT_AUDIENCE")?,
                    jwks,
                    tenant_claim: get("NOMALY_JWT_TENANT_CLAIM").unwrap_or_else(|| "tenant".into()),
                    scopes_claim: get("NOMALY_JWT_SCOPES_CLAIM").unwrap_or_else(|| "scope".into()),
                    scope_prefix: get("NOMALY_JWT_SCOPE_PREFIX").unwrap_or_default(),
                })
            }
        };
        let data_dir =
            PathBuf::from(get("NOMALY_DATA_DIR").unwrap_or_else(|| DEFAULT_DATA_DIR.into()));
        let required = |variable: &'static str| -> Result<String, ConfigError> {
            get(variable)
                .map(|v| v.trim().to_owned())
                .ok_or_else(|| ConfigError::Invalid {
                    variable,
                    reason: "is required when NOMALY_STORE is 'aws'".into(),
                })
        };
        let aws = match store {
            StoreKind::Local => None,
            StoreKind::Aws => Some(AwsNames {
                bucket: required("NOMALY_BUCKET")?,
                table: required("NOMALY_TABLE")?,
            }),
        };
        let number = |variable: &'static str, default: u64, min: u64| -> Result<u64, ConfigError> {
            let Some(raw) = get(variable) else {
                return Ok(default);
            };
            let value: u64 = raw.trim().parse().map_err(|_| ConfigError::Invalid {
                variable,
                reason: format!("'{raw}' is not a whole number"),
            })?;
            if value < min {
                return Err(ConfigError::Invalid {
                    variable,
                    reason: format!("{value} is below the minimum of {min}"),
                });
            }
            Ok(value)
        };
        let size =
            |variable: &'static str, default: usize, min: u64| -> Result<usize, ConfigError> {
                let v = number(variable, default as u64, min)?;
                usize::try_from(v).map_err(|_| ConfigError::Invalid {
                    variable,
                    reason: format!("{v} is too large for this platform"),
                })
            };
        let defaults = RetentionPolicy::default();
        Ok(Self {
            store,
            auth,
            jwt,
            usage_plan_id: get("NOMALY_USAGE_PLAN_ID").map(|v| v.trim().to_owned()),
            jwt_usage_key: get("NOMALY_JWT_USAGE_KEY").map(|v| v.trim().to_owned()),
            data_dir,
            aws,
            max_body_bytes: size("NOMALY_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, 1)?,
            max_rows: size("NOMALY_MAX_ROWS", DEFAULT_MAX_ROWS, 1)?,
            cache_bytes: size("NOMALY_CACHE_BYTES", DEFAULT_CACHE_BYTES, 0)?,
            latest_ttl: Duration::from_secs(number(
                "NOMALY_LATEST_TTL_SECS",
                DEFAULT_LATEST_TTL_SECS,
                0,
            )?),
            backup_bucket: get("NOMALY_BACKUP_BUCKET").map(|v| v.trim().to_owned()),
            retention: RetentionPolicy {
                keep_daily: size("NOMALY_BACKUP_KEEP_DAILY", defaults.keep_daily, 0)?,
                keep_weekly: size("NOMALY_BACKUP_KEEP_WEEKLY", defaults.keep_weekly, 0)?,
            },
            timeout_secs: at_most(
                "NOMALY_TIMEOUT_SECS",
                number("NOMALY_TIMEOUT_SECS", 900, 1)?,
                900,
            )?,
            job_ttl_days: at_most(
                "NOMALY_JOB_TTL_DAYS",
                number("NOMALY_JOB_TTL_DAYS", 30, 1)?,
                3650,
            )?,
            memory_mb: number("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", 1024, 128)?,
            jobs_state_machine_arn: get("NOMALY_JOBS_STATE_MACHINE_ARN")
                .map(|v| v.trim().to_owned()),
            batch_split_bytes: number("NOMALY_BATCH_SPLIT_BYTES", DEFAULT_BATCH_SPLIT_BYTES, 1)?,
            batch_range_bytes: number("NOMALY_BATCH_RANGE_BYTES", DEFAULT_BATCH_RANGE_BYTES, 1024)?,
            batch_local_workers: at_most(
                "NOMALY_BATCH_LOCAL_WORKERS",
                number("NOMALY_BATCH_LOCAL_WORKERS", 4, 1)?,
                64,
            )? as usize,
            upload_url_ttl_secs: at_most(
                "NOMALY_UPLOAD_URL_TTL_SECS",
                number("NOMALY_UPLOAD_URL_TTL_SECS", 900, 60)?,
                43_200,
            )?,
            stream_routes: match get("NOMALY_STREAM_ROUTES") {
                None => StreamRoutes::default(),
                Some(json) => {
                    StreamRoutes::parse(&json).map_err(|reason| ConfigError::Invalid {
                        variable: "NOMALY_STREAM_ROUTES",
                        reason,
                    })?
                }
            },
            event_bus: get("NOMALY_EVENT_BUS").map(|v| v.trim().to_owned()),
            dead_letter_queue_url: get("NOMALY_DEAD_LETTER_QUEUE_URL").map(|v| v.trim().to_owned()),
            alert_min_severity: match get("NOMALY_ALERT_MIN_SEVERITY").as_deref().map(str::trim) {
                None | Some("medium") => Severity::Medium,
                Some("low") => Severity::Low,
                Some("high") => Severity::High,
                Some(other) => {
                    return Err(ConfigError::Invalid {
                        variable: "NOMALY_ALERT_MIN_SEVERITY",
                        reason: format!(
                            "'{other}' is not a severity; expected 'low', 'medium' or 'high'"
                        ),
                    })
                }
            },
            alert_window_secs: at_most(
                "NOMALY_ALERT_WINDOW_SECS",
                number("NOMALY_ALERT_WINDOW_SECS", 300, 0)?,
                86_400,
            )?,
        })
    }

    /// What one request's or one event's work may spend in this function.
    pub fn budgets(&self) -> WorkBudgets {
        WorkBudgets::for_function(self.memory_mb, self.timeout_secs)
    }

    /// How jobs are kept and leased.
    pub fn job_policy(&self) -> JobPolicy {
        JobPolicy::new(self.job_ttl_days, self.timeout_secs)
    }

    /// The bucket of data objects (uploads, results): `NOMALY_BUCKET`, or `local` on the local
    /// store (which has one directory and ignores bucket names).
    pub fn data_bucket(&self) -> &str {
        self.aws
            .as_ref()
            .map_or(LOCAL_BUCKET, |names| names.bucket.as_str())
    }

    /// The parsing limits requests are held to.
    pub fn limits(&self) -> Limits {
        Limits {
            max_rows: self.max_rows,
            ..Limits::default()
        }
    }
}

/// `value` of `variable` when at most `max`, else the error naming it.
fn at_most(variable: &'static str, value: u64, max: u64) -> Result<u64, ConfigError> {
    if value > max {
        return Err(ConfigError::Invalid {
            variable,
            reason: format!("{value} is above the maximum of {max}"),
        });
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn when_nothing_set_should_use_defaults() {
        let c = config(&[]).unwrap();
        assert_eq!(c.store, StoreKind::Local);
        assert_eq!(c.auth, AuthMode::Inline);
        assert_eq!(c.jwt, None);
        assert_eq!(c.data_dir, PathBuf::from(".nomaly"));
        assert_eq!(c.max_body_bytes, 6 * 1024 * 1024);
        assert_eq!(c.max_rows, 100_000);
        assert_eq!(c.cache_bytes, 256 * 1024 * 1024);
        assert_eq!(c.latest_ttl, Duration::from_secs(30));
        assert_eq!(c.backup_bucket, None);
        assert_eq!(c.retention, RetentionPolicy::default());
    }

    #[test]
    fn when_jwt_issuer_set_should_need_audience_and_exactly_one_jwks() {
        let e = config(&[
            ("NOMALY_JWT_ISSUER", "https://i"),
            ("NOMALY_JWT_JWKS", "{}"),
        ])
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("NOMALY_JWT_AUDIENCE:"), "{e}");
        let e = config(&[
            ("NOMALY_JWT_ISSUER", "https://i"),
            ("NOMALY_JWT_AUDIENCE", "a"),
        ])
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("NOMALY_JWT_JWKS_URL:"), "{e}");
        let c = config(&[
            ("NOMALY_JWT_ISSUER", "https://i"),
            ("NOMALY_JWT_AUDIENCE", "a"),
            ("NOMALY_JWT_JWKS_URL", "https://i/jwks.json"),
            ("NOMALY_JWT_SCOPE_PREFIX", "nomaly/"),
        ])
        .unwrap();
        let jwt = c.jwt.unwrap();
        assert_eq!(jwt.jwks, JwksSource::Url("https://i/jwks.json".into()));
        assert_eq!(
            (
                jwt.tenant_claim.as_str(),
                jwt.scopes_claim.as_str(),
                jwt.scope_prefix.as_str()
            ),
            ("tenant", "scope", "nomaly/")
        );
        let e = config(&[("NOMALY_AUTH", "both")]).unwrap_err().to_string();
        assert!(e.starts_with("NOMALY_AUTH:"), "{e}");
    }

    #[test]
    fn when_aws_store_without_bucket_or_table_should_name_the_missing_variable() {
        let e = config(&[("NOMALY_STORE", "aws"), ("NOMALY_TABLE", "t")])
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("NOMALY_BUCKET:") && e.contains("required"),
            "{e}"
        );
        let e = config(&[("NOMALY_STORE", "aws"), ("NOMALY_BUCKET", "b")])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("NOMALY_TABLE:"), "{e}");
        let e = config(&[
            ("NOMALY_STORE", "aws"),
            ("NOMALY_BUCKET", "  "),
            ("NOMALY_TABLE", "t"),
        ])
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("NOMALY_BUCKET:"), "{e}");
    }

    #[test]
    fn when_aws_store_with_bucket_and_table_should_read_them() {
        let c = config(&[
            ("NOMALY_STORE", "aws"),
            ("NOMALY_BUCKET", "models"),
            ("NOMALY_TABLE", " nomaly "),
        ])
        .unwrap();
        assert_eq!(c.store, StoreKind::Aws);
        assert_eq!(
            c.aws,
            Some(AwsNames {
                bucket: "models".into(),
                table: "nomaly".into()
            })
        );
        // The local store ignores them.
        let c = config(&[("NOMALY_BUCKET", "models"), ("NOMALY_TABLE", "t")]).unwrap();
        assert_eq!(c.aws, None);
    }

    #[test]
    fn when_number_bad_should_name_the_variable() {
        let e = config(&[("NOMALY_MAX_ROWS", "lots")])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("NOMALY_MAX_ROWS:"), "{e}");
        let e = config(&[("NOMALY_TIMEOUT_SECS", "901")])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("NOMALY_TIMEOUT_SECS:"), "{e}");
        let e = config(&[("NOMALY_JOB_TTL_DAYS", "0")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("NOMALY_JOB_TTL_DAYS"), "{e}");
        let policy = config(&[("NOMALY_TIMEOUT_SECS", "30"), ("NOMALY_JOB_TTL_DAYS", "7")])
            .unwrap()
            .job_policy();
        assert_eq!(policy.ttl_secs, 7 * 24 * 3600);
        assert_eq!(policy.lease_ms, 90_000);
        let e = config(&[("NOMALY_MAX_BODY_BYTES", "0")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("NOMALY_MAX_BODY_BYTES"), "{e}");
        let e = config(&[("NOMALY_STORE", "disk")]).unwrap_err().to_string();
        assert!(e.contains("'disk'"), "{e}");
    }

    #[test]
    fn when_values_set_should_read_them() {
        let c = config(&[
            ("NOMALY_DATA_DIR", "/tmp/x"),
            ("NOMALY_MAX_ROWS", "10"),
            ("NOMALY_LATEST_TTL_SECS", "0"),
            ("NOMALY_BACKUP_BUCKET", "backups"),
            ("NOMALY_BACKUP_KEEP_DAILY", "2"),
            ("NOMALY_BACKUP_KEEP_WEEKLY", "0"),
        ])
        .unwrap();
        assert_eq!(c.backup_bucket.as_deref(), Some("backups"));
        assert_eq!(
            c.retention,
            RetentionPolicy {
                keep_daily: 2,
                keep_weekly: 0
            }
        );
        assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(c.limits().max_rows, 10);
        assert_eq!(c.latest_ttl, Duration::ZERO);
    }
}
