# Same knobs and defaults as the Parameters of template.yaml.

variable "name_prefix" {
  description = "Lowercase prefix of every name (buckets are {prefix}-models-{account}-{region} and {prefix}-backups-{account}-{region}); one per stack in an account."
  type        = string
  default     = "nomaly"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix: 3 to 22 lowercase letters, digits or dashes, starting with a letter."
  }
}

variable "lambda_dir" {
  description = "Where cargo lambda build --output-format zip wrote <function>/bootstrap.zip (relative to this directory or absolute)."
  type        = string
  default     = "../../target/lambda"
}

variable "stage_name" {
  description = "API Gateway stage (the first path segment of the API URL)."
  type        = string
  default     = "v1"
  validation {
    condition     = can(regex("^[A-Za-z0-9_]+$", var.stage_name))
    error_message = "stage_name: letters, digits and '_'."
  }
}

variable "api_rate_limit" {
  description = "Usage plan steady-state requests per second, per API key (each Nomaly key has its own gateway key in the plan; JWT callers share one)."
  type        = number
  default     = 50
}

variable "api_burst_limit" {
  description = "Usage plan burst, per API key."
  type        = number
  default     = 100
}

variable "api_quota_limit" {
  description = "Usage plan requests per api_quota_period, per API key."
  type        = number
  default     = 100000
}

variable "api_quota_period" {
  description = "DAY, WEEK or MONTH."
  type        = string
  default     = "DAY"
  validation {
    condition     = contains(["DAY", "WEEK", "MONTH"], var.api_quota_period)
    error_message = "api_quota_period: DAY, WEEK or MONTH."
  }
}

variable "stage_rate_limit" {
  description = "Stage-wide requests per second, all callers together (and /health)."
  type        = number
  default     = 200
}

variable "stage_burst_limit" {
  description = "Stage-wide burst, all callers together."
  type        = number
  default     = 400
}

variable "authorizer_cache_ttl" {
  description = "Seconds API Gateway caches the authorizer's answer per Authorization header (0 checks every request); a revoked key keeps working at most this long."
  type        = number
  default     = 300
  validation {
    condition     = var.authorizer_cache_ttl >= 0 && var.authorizer_cache_ttl <= 3600
    error_message = "authorizer_cache_ttl: 0 to 3600 seconds."
  }
}

variable "jwt_issuer" {
  description = "NOMALY_JWT_ISSUER - the issuer (iss) of accepted JWTs; empty accepts API keys only."
  type        = string
  default     = ""
}

variable "jwt_audience" {
  description = "NOMALY_JWT_AUDIENCE - the audience (aud) accepted JWTs must carry."
  type        = string
  default     = ""
}

variable "jwt_jwks_url" {
  description = "NOMALY_JWT_JWKS_URL - HTTPS URL of the issuer's signing keys (JWKS)."
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^(https://\\S+)?$", var.jwt_jwks_url))
    error_message = "jwt_jwks_url: empty or an https:// URL."
  }
}

variable "jwt_tenant_claim" {
  description = "NOMALY_JWT_TENANT_CLAIM - the claim naming the caller's tenant."
  type        = string
  default     = "tenant"
}

variable "jwt_scopes_claim" {
  description = "NOMALY_JWT_SCOPES_CLAIM - the claim holding the caller's scopes."
  type        = string
  default     = "scope"
}

variable "jwt_scope_prefix" {
  description = "NOMALY_JWT_SCOPE_PREFIX - the prefix of Nomaly's scope names in JWTs (e.g. nomaly/); empty when they carry none."
  type        = string
  default     = ""
}

variable "create_api_gateway_account_role" {
  description = "Set the account-wide API Gateway CloudWatch Logs role (needed for access logs). false when the account already has one."
  type        = bool
  default     = true
}

variable "health_memory_size" {
  type    = number
  default = 128
}

variable "health_timeout" {
  type    = number
  default = 5
}

variable "health_reserved_concurrency" {
  description = "Reserved concurrency; -1 leaves the function unreserved."
  type        = number
  default     = 5
}

variable "detect_memory_size" {
  type    = number
  default = 1024
}

variable "detect_timeout" {
  description = "Seconds of the API detect function (API Gateway cuts a call at 29 s; the code budgets its work from NOMALY_TIMEOUT_SECS)."
  type        = number
  default     = 29
  validation {
    condition     = var.detect_timeout >= 1 && var.detect_timeout <= 29
    error_message = "detect_timeout: 1 to 29 seconds (API Gateway's integration timeout)."
  }
}

variable "detect_reserved_concurrency" {
  description = "Reserved concurrency of the API detect function; -1 leaves it unreserved."
  type        = number
  default     = 50
}

variable "detect_events_memory_size" {
  type    = number
  default = 1024
}

variable "detect_events_timeout" {
  description = "Seconds of the detect-events function: scoring one uploaded CSV file (incoming/detect/)."
  type        = number
  default     = 300
}

variable "detect_events_reserved_concurrency" {
  description = "Reserved concurrency of the detect-events function (S3 uploads); -1 leaves it unreserved. Uploads beyond it wait in Lambda's event queue, API callers never do."
  type        = number
  default     = 10
}

variable "train_memory_size" {
  type    = number
  default = 2048
}

variable "train_timeout" {
  description = "Seconds of the API train function (API Gateway cuts a call at 29 s; the code budgets its work from NOMALY_TIMEOUT_SECS)."
  type        = number
  default     = 29
  validation {
    condition     = var.train_timeout >= 1 && var.train_timeout <= 29
    error_message = "train_timeout: 1 to 29 seconds (API Gateway's integration timeout)."
  }
}

variable "train_reserved_concurrency" {
  description = "Reserved concurrency of the API train function; -1 leaves it unreserved."
  type        = number
  default     = 10
}

variable "train_events_memory_size" {
  type    = number
  default = 2048
}

variable "train_events_timeout" {
  description = "Seconds of the train-events function: training from uploads (incoming/train/) and the scheduled retraining."
  type        = number
  default     = 900
}

variable "train_events_reserved_concurrency" {
  description = "Reserved concurrency of the train-events function (S3 uploads, retraining); -1 leaves it unreserved."
  type        = number
  default     = 5
}

variable "backup_memory_size" {
  type    = number
  default = 1024
}

variable "backup_timeout" {
  type    = number
  default = 900
}

variable "backup_reserved_concurrency" {
  description = "Reserved concurrency; -1 leaves the function unreserved."
  type        = number
  default     = 1
}

variable "keys_memory_size" {
  type    = number
  default = 128
}

variable "keys_timeout" {
  type    = number
  default = 10
}

variable "keys_reserved_concurrency" {
  description = "Reserved concurrency; -1 leaves the function unreserved."
  type        = number
  default     = 5
}

variable "authorizer_memory_size" {
  type    = number
  default = 128
}

variable "authorizer_timeout" {
  type    = number
  default = 5
}

variable "authorizer_reserved_concurrency" {
  description = "Reserved concurrency; -1 leaves the function unreserved. Every cache miss of every route waits on it."
  type        = number
  default     = 20
}

variable "log_level" {
  description = "RUST_LOG filter of every function."
  type        = string
  default     = "info"
}

variable "max_body_bytes" {
  description = "NOMALY_MAX_BODY_BYTES"
  type        = number
  default     = 6291456
}

variable "max_rows" {
  description = "NOMALY_MAX_ROWS"
  type        = number
  default     = 100000
}

variable "cache_bytes" {
  description = "NOMALY_CACHE_BYTES"
  type        = number
  default     = 268435456
}

variable "latest_ttl_secs" {
  description = "NOMALY_LATEST_TTL_SECS"
  type        = number
  default     = 30
}

variable "backup_schedule" {
  description = "EventBridge schedule of the daily backup (UTC)."
  type        = string
  default     = "cron(0 3 * * ? *)"
}

variable "backup_enabled" {
  description = "Run the scheduled backup (backup_schedule); false disables the rule and the backup-stale alarm (POST /api/v1/backups still works)."
  type        = bool
  default     = true
}

variable "retrain_schedule" {
  description = "EventBridge schedule of the retraining of models that have an S3 source."
  type        = string
  default     = "cron(0 4 ? * SUN *)"
}

variable "retrain_enabled" {
  type    = bool
  default = false
}

variable "table_deletion_protection" {
  type    = bool
  default = true
}

variable "results_expiration_days" {
  description = "Days batch results (results/) are kept."
  type        = number
  default     = 30
}

variable "incoming_retention_days" {
  description = "Days uploads (incoming/detect/, incoming/train/) are kept after they land; 0 keeps them. The retraining schedule trains on what is left under incoming/train/, so this is also its data window."
  type        = number
  default     = 30
  validation {
    condition     = var.incoming_retention_days >= 0
    error_message = "incoming_retention_days: 0 (keep) or more days."
  }
}

variable "job_retention_days" {
  description = "NOMALY_JOB_TTL_DAYS - days a job item lives before the table's TTL removes it."
  type        = number
  default     = 30
}

variable "backup_retention_days" {
  description = "Days a pruned or overwritten backup object stays recoverable (noncurrent versions in the backup bucket)."
  type        = number
  default     = 35
}

variable "noncurrent_version_expiration_days" {
  description = "Days overwritten or deleted object versions of the models bucket are kept (the backup bucket keeps them backup_retention_days)."
  type        = number
  default     = 30
}

variable "backup_replica_bucket_arn" {
  description = "Empty: off. The ARN of a versioned bucket (another region or account) the backup vault is replicated to by S3 replication (a role of its own, {prefix}-backup-replication). Backups are SSE-KMS, so backup_replica_kms_key_arn is then required. Another account's bucket must allow that role in its bucket policy and the key's policy; with backup_object_lock_days > 0 the replica bucket needs Object Lock too."
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^(arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])?$", var.backup_replica_bucket_arn))
    error_message = "backup_replica_bucket_arn: empty, or an S3 bucket ARN."
  }
}

variable "backup_replica_kms_key_arn" {
  description = "The KMS key (ARN, in the replica bucket's region) that encrypts the replicas; required when backup_replica_bucket_arn is set."
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^(arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+)?$", var.backup_replica_kms_key_arn))
    error_message = "backup_replica_kms_key_arn: empty, or a KMS key ARN."
  }
}

variable "backup_object_lock_days" {
  description = "0: off. Days every backup object version is locked (S3 Object Lock, GOVERNANCE mode: no one without s3:BypassGovernanceRetention can delete or overwrite it before then). Object Lock can only be enabled when the backup bucket is created: set this on the first apply; turning it on later would replace the bucket, which prevent_destroy refuses. Pruned backups then stay until their lock ends, even past backup_retention_days."
  type        = number
  default     = 0
  validation {
    condition     = var.backup_object_lock_days >= 0 && var.backup_object_lock_days <= 36500
    error_message = "backup_object_lock_days: 0 (off) to 36500."
  }
}

variable "batch_max_concurrency" {
  description = "Byte ranges of one batch job scored at once (the jobs state machine's Distributed Map). Each is one detect_events invocation, so keep it at or below detect_events_reserved_concurrency (10 by default, as this), or leave that function unreserved (-1) and raise both for big files (1,000 ranges at once needs an account concurrency quota to match), or ranges are throttled and retried."
  type        = number
  default     = 10
  validation {
    condition     = var.batch_max_concurrency >= 1 && var.batch_max_concurrency <= 1000
    error_message = "batch_max_concurrency: 1 to 1000."
  }
}

variable "batch_split_bytes" {
  description = "NOMALY_BATCH_SPLIT_BYTES - a file to score larger than this is split into byte ranges scored in parallel by the jobs state machine; smaller ones are scored in one detect_events invocation."
  type        = number
  default     = 1073741824
  validation {
    condition     = var.batch_split_bytes >= 67108864
    error_message = "batch_split_bytes: at least 67108864 (64 MiB)."
  }
}

variable "batch_range_bytes" {
  description = "NOMALY_BATCH_RANGE_BYTES - bytes of one range of a split file (more per range when a file would need more than 10,000)."
  type        = number
  default     = 134217728
  validation {
    condition     = var.batch_range_bytes >= 16777216
    error_message = "batch_range_bytes: at least 16777216 (16 MiB)."
  }
}

variable "upload_url_ttl_seconds" {
  description = "NOMALY_UPLOAD_URL_TTL_SECS - seconds a presigned upload URL (and a results link) stays valid; at most 12 hours (a URL signed by a function's role credentials ends with them anyway)."
  type        = number
  default     = 900
  validation {
    condition     = var.upload_url_ttl_seconds >= 60 && var.upload_url_ttl_seconds <= 43200
    error_message = "upload_url_ttl_seconds: 60 to 43200."
  }
}

variable "log_retention_days" {
  type    = number
  default = 30
}

variable "alarm_email" {
  description = "Subscribed to the alarm topic when set (confirm the subscription email)."
  type        = string
  default     = ""
}

variable "error_ratio_threshold" {
  description = "The {fn}-5xx-ratio alarms fire when (500+502+503+504) / all requests of a function stays above this over 5 minutes."
  type        = number
  default     = 0.05
  validation {
    condition     = var.error_ratio_threshold >= 0 && var.error_ratio_threshold <= 1
    error_message = "error_ratio_threshold: a ratio from 0 to 1."
  }
}

variable "error_ratio_min_requests" {
  description = "Requests a function must have served in the 5 minutes before its 5xx ratio is judged (one error at night does not page)."
  type        = number
  default     = 20
}

variable "health_p95_duration_ms" {
  type    = number
  default = 1000
}

variable "detect_p95_duration_ms" {
  type    = number
  default = 5000
}

variable "detect_events_p95_duration_ms" {
  type    = number
  default = 120000
}

variable "train_p95_duration_ms" {
  type    = number
  default = 20000
}

variable "train_events_p95_duration_ms" {
  type    = number
  default = 600000
}

variable "backup_p95_duration_ms" {
  type    = number
  default = 600000
}

variable "keys_p95_duration_ms" {
  type    = number
  default = 1000
}

variable "authorizer_p95_duration_ms" {
  type    = number
  default = 1000
}

# Records from the input Kinesis stream and SQS queue, scored by the detect function (its event
# source mappings, streams.tf), and the alerts it publishes on EventBridge (alerts.tf).

variable "stream_tenant" {
  description = "The tenant every record of the input stream and queue belongs to (NOMALY_STREAM_ROUTES); set here, never by a record, so a producer cannot reach another tenant's models."
  type        = string
  default     = "default"
  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,31}$", var.stream_tenant))
    error_message = "stream_tenant: 1 to 32 lowercase letters, digits and '-', starting with a letter or digit."
  }
}

variable "stream_model" {
  description = "The model records of the input stream and queue are scored with when they name none; empty: every record must name its model (one that names none goes to the records dead-letter queue)."
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^([A-Za-z0-9][A-Za-z0-9_-]{0,63})?$", var.stream_model))
    error_message = "stream_model: empty, or 1 to 64 letters, digits, '_' and '-', starting with a letter or digit."
  }
}

variable "stream_shard_count" {
  description = "Shards of the input Kinesis stream (provisioned mode; 1 MB/s or 1,000 records/s of writes each)."
  type        = number
  default     = 1
  validation {
    condition     = var.stream_shard_count >= 1 && var.stream_shard_count <= 10000
    error_message = "stream_shard_count: 1 to 10000."
  }
}

variable "stream_batch_size" {
  description = "Records per invocation from the input stream (batch_size of its event source mapping)."
  type        = number
  default     = 100
  validation {
    condition     = var.stream_batch_size >= 1 && var.stream_batch_size <= 10000
    error_message = "stream_batch_size: 1 to 10000."
  }
}

variable "stream_batching_window_seconds" {
  description = "Seconds the stream's event source mapping gathers records before invoking (maximum_batching_window_in_seconds)."
  type        = number
  default     = 1
  validation {
    condition     = var.stream_batching_window_seconds >= 0 && var.stream_batching_window_seconds <= 300
    error_message = "stream_batching_window_seconds: 0 to 300."
  }
}

variable "stream_bisect_on_error" {
  description = "Split a failing stream batch in two and retry each half (bisect_batch_on_function_error); with ReportBatchItemFailures only the records after the first failed one are retried anyway."
  type        = bool
  default     = true
}

variable "stream_maximum_retries" {
  description = "Retries of a failing stream batch before its records' positions go to the records dead-letter queue; -1 retries until the records expire."
  type        = number
  default     = 3
  validation {
    condition     = var.stream_maximum_retries >= -1 && var.stream_maximum_retries <= 10000
    error_message = "stream_maximum_retries: -1 (until the records expire) to 10000."
  }
}

variable "stream_maximum_record_age_seconds" {
  description = "Stream records older than this are not delivered but sent to the records dead-letter queue (-1: never; otherwise 60 to 604800)."
  type        = number
  default     = 3600
  validation {
    condition     = var.stream_maximum_record_age_seconds == -1 || (var.stream_maximum_record_age_seconds >= 60 && var.stream_maximum_record_age_seconds <= 604800)
    error_message = "stream_maximum_record_age_seconds: -1 (never) or 60 to 604800."
  }
}

variable "stream_starting_position" {
  description = "Where the stream's event source mapping starts reading when it is created: LATEST or TRIM_HORIZON."
  type        = string
  default     = "LATEST"
  validation {
    condition     = contains(["LATEST", "TRIM_HORIZON"], var.stream_starting_position)
    error_message = "stream_starting_position: LATEST or TRIM_HORIZON."
  }
}

variable "queue_batch_size" {
  description = "Messages per invocation from the input queue; above 10 AWS requires queue_batching_window_seconds > 0."
  type        = number
  default     = 100
  validation {
    condition     = var.queue_batch_size >= 1 && var.queue_batch_size <= 10000
    error_message = "queue_batch_size: 1 to 10000."
  }
}

variable "queue_batching_window_seconds" {
  description = "Seconds the queue's event source mapping gathers messages before invoking (maximum_batching_window_in_seconds)."
  type        = number
  default     = 1
  validation {
    condition     = var.queue_batching_window_seconds >= 0 && var.queue_batching_window_seconds <= 300
    error_message = "queue_batching_window_seconds: 0 to 300."
  }
}

variable "queue_max_receive_count" {
  description = "Receives of a message of the input queue before SQS moves it to the records dead-letter queue (its redrive policy)."
  type        = number
  default     = 5
  validation {
    condition     = var.queue_max_receive_count >= 1 && var.queue_max_receive_count <= 1000
    error_message = "queue_max_receive_count: 1 to 1000."
  }
}

variable "queue_maximum_concurrency" {
  description = "Concurrent detect invocations the queue's event source mapping may use (scaling_config); keep it below detect_reserved_concurrency, which API callers share."
  type        = number
  default     = 10
  validation {
    condition     = var.queue_maximum_concurrency >= 2 && var.queue_maximum_concurrency <= 1000
    error_message = "queue_maximum_concurrency: 2 to 1000."
  }
}

variable "records_dead_letter_queue_arn" {
  description = "Empty: this creates {name_prefix}-records-dlq. Otherwise the ARN of an existing standard SQS queue (this account and region) that takes the records dead letters instead (the stream mapping's on_failure destination, the input queue's redrive policy, NOMALY_DEAD_LETTER_QUEUE_URL, the records-dlq-depth alarm); nothing is created. A queue under a customer-managed KMS key needs a key policy letting the detect role use the key: prefer SQS-managed encryption."
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^$|^arn:aws[a-zA-Z-]*:sqs:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,80}$", var.records_dead_letter_queue_arn))
    error_message = "records_dead_letter_queue_arn: empty, or the ARN of a standard SQS queue (arn:aws:sqs:REGION:ACCOUNT:NAME)."
  }
}

variable "stream_iterator_age_alarm_ms" {
  description = "The detect-iterator-age alarm fires when the oldest stream record waiting stayed older than this (AWS/Lambda IteratorAge, maximum) for 5 minutes."
  type        = number
  default     = 60000
}

variable "alert_bus_name" {
  description = "NOMALY_EVENT_BUS - the EventBridge bus alerts are published on. Empty: this creates {name_prefix}-alerts; \"default\": the account's default bus (nothing is created); any other name: this creates a bus of that name."
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^[A-Za-z0-9._-]{0,256}$", var.alert_bus_name))
    error_message = "alert_bus_name: empty, default, or an event bus name (letters, digits, '.', '_', '-')."
  }
}

variable "alert_min_severity" {
  description = "NOMALY_ALERT_MIN_SEVERITY - the least severe anomaly of a stream or queue record that publishes an Anomaly Detected event: low, medium or high."
  type        = string
  default     = "medium"
  validation {
    condition     = contains(["low", "medium", "high"], var.alert_min_severity)
    error_message = "alert_min_severity: low, medium or high."
  }
}

variable "alert_window_seconds" {
  description = "NOMALY_ALERT_WINDOW_SECS - at most one alert per model and entity within this many seconds (the others are counted as suppressed); 0 turns suppression off."
  type        = number
  default     = 300
  validation {
    condition     = var.alert_window_seconds >= 0 && var.alert_window_seconds <= 86400
    error_message = "alert_window_seconds: 0 to 86400."
  }
}

variable "alert_webhook_url" {
  description = "Empty: no webhook. An HTTPS URL (a Slack or Mattermost incoming webhook, a chat bot taking a text field) that receives every high-severity alert as {\"text\": \"high anomaly in <model> for <entity>: score <score>\"} through an EventBridge API destination."
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^(https://.+)?$", var.alert_webhook_url))
    error_message = "alert_webhook_url: empty, or an https:// URL."
  }
}

variable "alert_webhook_header_name" {
  description = "The header the webhook's API key is sent in (the EventBridge connection's API key name)."
  type        = string
  default     = "Authorization"
  validation {
    condition     = can(regex("^[A-Za-z0-9-]{1,512}$", var.alert_webhook_header_name))
    error_message = "alert_webhook_header_name: a header name (letters, digits, '-')."
  }
}

variable "alert_webhook_secret" {
  description = "The value of alert_webhook_header_name sent with every webhook call (stored by EventBridge in Secrets Manager). Empty sends the placeholder \"none\" (webhooks whose URL is the secret, such as Slack's: set alert_webhook_header_name to a header they ignore)."
  type        = string
  default     = ""
  sensitive   = true
}
