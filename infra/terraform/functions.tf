# The eight functions (provided.al2023, arm64, bootstrap from cargo lambda: six binaries, detect
# and train deployed twice), their log groups, the failure destination of their asynchronous
# triggers, the S3 uploads and the schedules. The API functions trust the tenant and scopes the
# authorizer function put in the request context (NOMALY_AUTH = "authorizer", api.tf). S3 uploads
# and the retraining schedule go to detect_events and train_events (the detect and train binaries,
# which dispatch events as well as HTTP) with their own reserved concurrency and roles, so event
# work never takes the concurrency API callers need. Every function gets NOMALY_TIMEOUT_SECS (its
# timeout: the code budgets its work from it and from AWS_LAMBDA_FUNCTION_MEMORY_SIZE, which
# Lambda sets); those that write jobs get NOMALY_JOB_TTL_DAYS.

resource "aws_cloudwatch_log_group" "health" {
  # checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts every log group at rest; the logs hold no payloads or secrets, so a customer-managed key is not required.
  # checkov:skip=CKV_AWS_338:Retention is the log_retention_days variable (30 days by default); a year of request logs is not needed.
  name              = "/nomaly/${var.name_prefix}/health"
  retention_in_days = var.log_retention_days
}

resource "aws_cloudwatch_log_group" "detect" {
  # checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts every log group at rest; the logs hold no payloads or secrets, so a customer-managed key is not required.
  # checkov:skip=CKV_AWS_338:Retention is the log_retention_days variable (30 days by default); a year of request logs is not needed.
  name              = "/nomaly/${var.name_prefix}/detect"
  retention_in_days = var.log_retention_days
}

resource "aws_cloudwatch_log_group" "detect_events" {
  # checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts every log group at rest; the logs hold no payloads or secrets, so a customer-managed key is not required.
  # checkov:skip=CKV_AWS_338:Retention is the log_retention_days variable (30 days by default); a year of request logs is not needed.
  name              = "/nomaly/${var.name_prefix}/detect-events"
  retention_in_days = var.log_retention_days
}

resource "aws_cloudwatch_log_group" "train" {
  # checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts every log group at rest; the logs hold no payloads or secrets, so a customer-managed key is not required.
  # checkov:skip=CKV_AWS_338:Retention is the log_retention_days variable (30 days by default); a year of request logs is not needed.
  name              = "/nomaly/${var.name_prefix}/train"
  retention_in_days = var.log_retention_days
}

resource "aws_cloudwatch_log_group" "train_events" {
  # checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts every log group at rest; the logs hold no payloads or secrets, so a customer-managed key is not required.
  # checkov:skip=CKV_AWS_338:Retention is the log_retention_days variable (30 days by default); a year of request logs is not needed.
  name              = "/nomaly/${var.name_prefix}/train-events"
  retention_in_days = var.log_retention_days
}

resource "aws_cloudwatch_log_group" "backup" {
  # checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts every log group at rest; the logs hold no payloads or secrets, so a customer-managed key is not required.
  # checkov:skip=CKV_AWS_338:Retention is the log_retention_days variable (30 days by default); a year of request logs is not needed.
  name              = "/nomaly/${var.name_prefix}/backup"
  retention_in_days = var.log_retention_days
}

resource "aws_cloudwatch_log_group" "keys" {
  # checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts every log group at rest; the logs hold no payloads or secrets, so a customer-managed key is not required.
  # checkov:skip=CKV_AWS_338:Retention is the log_retention_days variable (30 days by default); a year of request logs is not needed.
  name              = "/nomaly/${var.name_prefix}/keys"
  retention_in_days = var.log_retention_days
}

resource "aws_cloudwatch_log_group" "authorizer" {
  # checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts every log group at rest; the logs hold no payloads or secrets, so a customer-managed key is not required.
  # checkov:skip=CKV_AWS_338:Retention is the log_retention_days variable (30 days by default); a year of request logs is not needed.
  name              = "/nomaly/${var.name_prefix}/authorizer"
  retention_in_days = var.log_retention_days
}

resource "aws_lambda_function" "health" {
  # checkov:skip=CKV_AWS_116:Invoked synchronously by API Gateway only; a dead-letter queue applies to asynchronous invocations.
  # checkov:skip=CKV_AWS_117:No VPC resources are used; S3, DynamoDB and X-Ray are reached over TLS with IAM, and a VPC would need NAT or endpoints for nothing.
  # checkov:skip=CKV_AWS_173:The environment holds names and limits only, no secrets; Lambda encrypts it at rest with its AWS-managed key.
  # checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile; artifacts come from this repository's reproducible cargo lambda build.
  function_name                  = "${var.name_prefix}-health"
  description                    = "Nomaly health - liveness and readiness of the model store and the table."
  filename                       = "${var.lambda_dir}/health/bootstrap.zip"
  source_code_hash               = filebase64sha256("${var.lambda_dir}/health/bootstrap.zip")
  handler                        = "bootstrap"
  runtime                        = "provided.al2023"
  architectures                  = ["arm64"]
  memory_size                    = var.health_memory_size
  timeout                        = var.health_timeout
  reserved_concurrent_executions = var.health_reserved_concurrency
  role                           = aws_iam_role.health.arn
  tracing_config {
    mode = "Active"
  }
  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.health.name
  }
  environment {
    variables = merge(local.function_env, {
      NOMALY_AUTH         = "authorizer"
      NOMALY_TIMEOUT_SECS = tostring(var.health_timeout)
    })
  }
  depends_on = [aws_iam_role_policy.health]
}

# The API, and the records of the input stream and queue (their event source mappings,
# streams.tf; the queue's at most queue_maximum_concurrency of detect_reserved_concurrency at
# once). S3 uploads go to detect_events, so batch scoring never takes the concurrency API callers
# need.
resource "aws_lambda_function" "detect" {
  # checkov:skip=CKV_AWS_116:Invoked synchronously only (API Gateway, and the event source mappings of the input stream and queue); a dead-letter queue applies to asynchronous invocations. Failed records go to the records dead-letter queue (the stream mapping's on_failure destination, the queue's redrive policy).
  # checkov:skip=CKV_AWS_117:No VPC resources are used; S3, DynamoDB, Kinesis, SQS, EventBridge and X-Ray are reached over TLS with IAM, and a VPC would need NAT or endpoints for nothing.
  # checkov:skip=CKV_AWS_173:The environment holds names, ARNs and limits only, no secrets; Lambda encrypts it at rest with its AWS-managed key.
  # checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile; artifacts come from this repository's reproducible cargo lambda build.
  function_name                  = "${var.name_prefix}-detect"
  description                    = "Nomaly detect - scores rows sent to the API and records of the input stream and queue, publishes alerts, lists and reads jobs, starts batch jobs on objects, presigns uploads, keeps time series and labelled rows."
  filename                       = "${var.lambda_dir}/detect/bootstrap.zip"
  source_code_hash               = filebase64sha256("${var.lambda_dir}/detect/bootstrap.zip")
  handler                        = "bootstrap"
  runtime                        = "provided.al2023"
  architectures                  = ["arm64"]
  memory_size                    = var.detect_memory_size
  timeout                        = var.detect_timeout
  reserved_concurrent_executions = var.detect_reserved_concurrency
  role                           = aws_iam_role.detect.arn
  tracing_config {
    mode = "Active"
  }
  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.detect.name
  }
  environment {
    variables = merge(local.function_env, {
      NOMALY_AUTH                   = "authorizer"
      NOMALY_TIMEOUT_SECS           = tostring(var.detect_timeout)
      NOMALY_JOB_TTL_DAYS           = tostring(var.job_retention_days)
      NOMALY_JOBS_STATE_MACHINE_ARN = local.jobs_state_machine_arn
      NOMALY_UPLOAD_URL_TTL_SECS    = tostring(var.upload_url_ttl_seconds)
      NOMALY_STREAM_ROUTES          = jsonencode(local.stream_routes)
      NOMALY_EVENT_BUS              = local.alert_bus_name
      NOMALY_DEAD_LETTER_QUEUE_URL  = local.records_dead_letter_queue_url
      NOMALY_ALERT_MIN_SEVERITY     = var.alert_min_severity
      NOMALY_ALERT_WINDOW_SECS      = tostring(var.alert_window_seconds)
    })
  }
  depends_on = [aws_iam_role_policy.detect]
}

# The detect binary (it dispatches S3 events as well as HTTP) on uploads under incoming/detect/,
# with its own reserved concurrency, role and log group. Its metrics keep Function=detect.
resource "aws_lambda_function" "detect_events" {
  # checkov:skip=CKV_AWS_116:Failed asynchronous invocations go to the SQS dead-letter queue through aws_lambda_function_event_invoke_config on_failure (a destination keeps the error and the request, a DLQ only the event).
  # checkov:skip=CKV_AWS_117:No VPC resources are used; S3, DynamoDB and X-Ray are reached over TLS with IAM, and a VPC would need NAT or endpoints for nothing.
  # checkov:skip=CKV_AWS_173:The environment holds names and limits only, no secrets; Lambda encrypts it at rest with its AWS-managed key.
  # checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile; artifacts come from this repository's reproducible cargo lambda build.
  function_name                  = "${var.name_prefix}-detect-events"
  description                    = "Nomaly detect-events - scores uploaded CSV files (S3 incoming/detect/) into results/."
  filename                       = "${var.lambda_dir}/detect/bootstrap.zip"
  source_code_hash               = filebase64sha256("${var.lambda_dir}/detect/bootstrap.zip")
  handler                        = "bootstrap"
  runtime                        = "provided.al2023"
  architectures                  = ["arm64"]
  memory_size                    = var.detect_events_memory_size
  timeout                        = var.detect_events_timeout
  reserved_concurrent_executions = var.detect_events_reserved_concurrency
  role                           = aws_iam_role.detect_events.arn
  tracing_config {
    mode = "Active"
  }
  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.detect_events.name
  }
  environment {
    # NOMALY_AUTH: no API route reaches it; an HTTP-shaped event without the authorizer's context
    # is refused.
    variables = merge(local.function_env, {
      NOMALY_AUTH                   = "authorizer"
      NOMALY_TIMEOUT_SECS           = tostring(var.detect_events_timeout)
      NOMALY_JOB_TTL_DAYS           = tostring(var.job_retention_days)
      NOMALY_JOBS_STATE_MACHINE_ARN = local.jobs_state_machine_arn
      NOMALY_BATCH_SPLIT_BYTES      = tostring(var.batch_split_bytes)
      NOMALY_BATCH_RANGE_BYTES      = tostring(var.batch_range_bytes)
    })
  }
  depends_on = [aws_iam_role_policy.detect_events]
}

# API only: uploads and the retraining schedule go to train_events.
resource "aws_lambda_function" "train" {
  # checkov:skip=CKV_AWS_116:Invoked synchronously by API Gateway only; a dead-letter queue applies to asynchronous invocations.
  # checkov:skip=CKV_AWS_117:No VPC resources are used; S3, DynamoDB and X-Ray are reached over TLS with IAM, and a VPC would need NAT or endpoints for nothing.
  # checkov:skip=CKV_AWS_173:The environment holds names and limits only, no secrets; Lambda encrypts it at rest with its AWS-managed key.
  # checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile; artifacts come from this repository's reproducible cargo lambda build.
  function_name                  = "${var.name_prefix}-train"
  description                    = "Nomaly train - trains model versions from API requests, lists and reads models."
  filename                       = "${var.lambda_dir}/train/bootstrap.zip"
  source_code_hash               = filebase64sha256("${var.lambda_dir}/train/bootstrap.zip")
  handler                        = "bootstrap"
  runtime                        = "provided.al2023"
  architectures                  = ["arm64"]
  memory_size                    = var.train_memory_size
  timeout                        = var.train_timeout
  reserved_concurrent_executions = var.train_reserved_concurrency
  role                           = aws_iam_role.train.arn
  tracing_config {
    mode = "Active"
  }
  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.train.name
  }
  environment {
    variables = merge(local.function_env, {
      NOMALY_AUTH                   = "authorizer"
      NOMALY_TIMEOUT_SECS           = tostring(var.train_timeout)
      NOMALY_JOB_TTL_DAYS           = tostring(var.job_retention_days)
      NOMALY_JOBS_STATE_MACHINE_ARN = local.jobs_state_machine_arn
      NOMALY_UPLOAD_URL_TTL_SECS    = tostring(var.upload_url_ttl_seconds)
    })
  }
  depends_on = [aws_iam_role_policy.train]
}

# The train binary on uploads under incoming/train/ and on the retraining schedule, with its own
# reserved concurrency, role and log group. Its metrics keep Function=train.
resource "aws_lambda_function" "train_events" {
  # checkov:skip=CKV_AWS_116:Failed asynchronous invocations go to the SQS dead-letter queue through aws_lambda_function_event_invoke_config on_failure (a destination keeps the error and the request, a DLQ only the event).
  # checkov:skip=CKV_AWS_117:No VPC resources are used; S3, DynamoDB and X-Ray are reached over TLS with IAM, and a VPC would need NAT or endpoints for nothing.
  # checkov:skip=CKV_AWS_173:The environment holds names and limits only, no secrets; Lambda encrypts it at rest with its AWS-managed key.
  # checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile; artifacts come from this repository's reproducible cargo lambda build.
  function_name                  = "${var.name_prefix}-train-events"
  description                    = "Nomaly train-events - trains model versions from uploads (S3 incoming/train/) and retrains them on schedule."
  filename                       = "${var.lambda_dir}/train/bootstrap.zip"
  source_code_hash               = filebase64sha256("${var.lambda_dir}/train/bootstrap.zip")
  handler                        = "bootstrap"
  runtime                        = "provided.al2023"
  architectures                  = ["arm64"]
  memory_size                    = var.train_events_memory_size
  timeout                        = var.train_events_timeout
  reserved_concurrent_executions = var.train_events_reserved_concurrency
  role                           = aws_iam_role.train_events.arn
  tracing_config {
    mode = "Active"
  }
  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.train_events.name
  }
  environment {
    # NOMALY_AUTH: no API route reaches it; an HTTP-shaped event without the authorizer's context
    # is refused.
    variables = merge(local.function_env, {
      NOMALY_AUTH         = "authorizer"
      NOMALY_TIMEOUT_SECS = tostring(var.train_events_timeout)
      NOMALY_JOB_TTL_DAYS = tostring(var.job_retention_days)
    })
  }
  depends_on = [aws_iam_role_policy.train_events]
}

resource "aws_lambda_function" "backup" {
  # checkov:skip=CKV_AWS_116:Failed asynchronous invocations go to the SQS dead-letter queue through aws_lambda_function_event_invoke_config on_failure (a destination keeps the error and the request, a DLQ only the event).
  # checkov:skip=CKV_AWS_117:No VPC resources are used; S3, DynamoDB and X-Ray are reached over TLS with IAM, and a VPC would need NAT or endpoints for nothing.
  # checkov:skip=CKV_AWS_173:The environment holds names and limits only, no secrets; Lambda encrypts it at rest with its AWS-managed key.
  # checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile; artifacts come from this repository's reproducible cargo lambda build.
  function_name                  = "${var.name_prefix}-backup"
  description                    = "Nomaly backup - daily and on-demand backups of models and the table, a sweep of expired job leases and orphaned artifacts every 15 minutes; restore by direct invocation."
  filename                       = "${var.lambda_dir}/backup/bootstrap.zip"
  source_code_hash               = filebase64sha256("${var.lambda_dir}/backup/bootstrap.zip")
  handler                        = "bootstrap"
  runtime                        = "provided.al2023"
  architectures                  = ["arm64"]
  memory_size                    = var.backup_memory_size
  timeout                        = var.backup_timeout
  reserved_concurrent_executions = var.backup_reserved_concurrency
  role                           = aws_iam_role.backup.arn
  tracing_config {
    mode = "Active"
  }
  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.backup.name
  }
  environment {
    variables = merge(local.function_env, {
      NOMALY_AUTH          = "authorizer"
      NOMALY_BACKUP_BUCKET = aws_s3_bucket.backups.id
      NOMALY_TIMEOUT_SECS  = tostring(var.backup_timeout)
      NOMALY_JOB_TTL_DAYS  = tostring(var.job_retention_days)
    })
  }
  depends_on = [aws_iam_role_policy.backup]
}

resource "aws_lambda_function" "keys" {
  # checkov:skip=CKV_AWS_116:Invoked synchronously only (API Gateway, and operators' RequestResponse issue_key invocations); a dead-letter queue applies to asynchronous invocations.
  # checkov:skip=CKV_AWS_117:No VPC resources are used; DynamoDB and X-Ray are reached over TLS with IAM, and a VPC would need NAT or endpoints for nothing.
  # checkov:skip=CKV_AWS_173:The environment holds names and limits only, no secrets; Lambda encrypts it at rest with its AWS-managed key.
  # checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile; artifacts come from this repository's reproducible cargo lambda build.
  function_name                  = "${var.name_prefix}-keys"
  description                    = "Nomaly keys - tenant admins issue, list and revoke their API keys; operators issue a tenant's first key by direct invocation."
  filename                       = "${var.lambda_dir}/keys/bootstrap.zip"
  source_code_hash               = filebase64sha256("${var.lambda_dir}/keys/bootstrap.zip")
  handler                        = "bootstrap"
  runtime                        = "provided.al2023"
  architectures                  = ["arm64"]
  memory_size                    = var.keys_memory_size
  timeout                        = var.keys_timeout
  reserved_concurrent_executions = var.keys_reserved_concurrency
  role                           = aws_iam_role.keys.arn
  tracing_config {
    mode = "Active"
  }
  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.keys.name
  }
  environment {
    variables = merge(local.function_env, {
      NOMALY_AUTH          = "authorizer"
      NOMALY_USAGE_PLAN_ID = aws_api_gateway_usage_plan.api.id
      NOMALY_TIMEOUT_SECS  = tostring(var.keys_timeout)
    })
  }
  depends_on = [aws_iam_role_policy.keys]
}

# The REST API's Lambda REQUEST authorizer (aws_api_gateway_authorizer.api in api.tf).
resource "aws_lambda_function" "authorizer" {
  # checkov:skip=CKV_AWS_116:Invoked synchronously by API Gateway only, as the REST API's authorizer; a dead-letter queue applies to asynchronous invocations.
  # checkov:skip=CKV_AWS_117:No VPC resources are used; DynamoDB, X-Ray and the JWT issuer's keys are reached over TLS, and a VPC would need NAT or endpoints for nothing.
  # checkov:skip=CKV_AWS_173:The environment holds names, limits and the JWT issuer's public settings only, no secrets; Lambda encrypts it at rest with its AWS-managed key.
  # checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile; artifacts come from this repository's reproducible cargo lambda build.
  function_name                  = "${var.name_prefix}-authorizer"
  description                    = "Nomaly authorizer - checks the Authorization header (API key or JWT) for API Gateway; answers the tenant, the scopes and the usage-plan key."
  filename                       = "${var.lambda_dir}/authorizer/bootstrap.zip"
  source_code_hash               = filebase64sha256("${var.lambda_dir}/authorizer/bootstrap.zip")
  handler                        = "bootstrap"
  runtime                        = "provided.al2023"
  architectures                  = ["arm64"]
  memory_size                    = var.authorizer_memory_size
  timeout                        = var.authorizer_timeout
  reserved_concurrent_executions = var.authorizer_reserved_concurrency
  role                           = aws_iam_role.authorizer.arn
  tracing_config {
    mode = "Active"
  }
  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.authorizer.name
  }
  environment {
    variables = merge(local.function_env, {
      NOMALY_JWT_ISSUER       = var.jwt_issuer
      NOMALY_JWT_AUDIENCE     = var.jwt_audience
      NOMALY_JWT_JWKS_URL     = var.jwt_jwks_url
      NOMALY_JWT_TENANT_CLAIM = var.jwt_tenant_claim
      NOMALY_JWT_SCOPES_CLAIM = var.jwt_scopes_claim
      NOMALY_JWT_SCOPE_PREFIX = var.jwt_scope_prefix
      NOMALY_JWT_USAGE_KEY    = local.jwt_usage_key
      NOMALY_TIMEOUT_SECS     = tostring(var.authorizer_timeout)
    })
  }
  depends_on = [aws_iam_role_policy.authorizer]
}

# Asynchronous triggers (S3 uploads, schedules): two retries, then the dead-letter queue.
resource "aws_lambda_function_event_invoke_config" "detect_events" {
  function_name          = aws_lambda_function.detect_events.function_name
  maximum_retry_attempts = 2
  destination_config {
    on_failure {
      destination = aws_sqs_queue.dlq.arn
    }
  }
}

resource "aws_lambda_function_event_invoke_config" "train_events" {
  function_name          = aws_lambda_function.train_events.function_name
  maximum_retry_attempts = 2
  destination_config {
    on_failure {
      destination = aws_sqs_queue.dlq.arn
    }
  }
}

resource "aws_lambda_function_event_invoke_config" "backup" {
  function_name          = aws_lambda_function.backup.function_name
  maximum_retry_attempts = 2
  destination_config {
    on_failure {
      destination = aws_sqs_queue.dlq.arn
    }
  }
}

# ---------------------------------------------------------------- S3 uploads
resource "aws_lambda_permission" "detect_upload" {
  statement_id   = "S3DetectUpload"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.detect_events.function_name
  principal      = "s3.amazonaws.com"
  source_arn     = aws_s3_bucket.models.arn
  source_account = local.account_id
}

resource "aws_lambda_permission" "train_upload" {
  statement_id   = "S3TrainUpload"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.train_events.function_name
  principal      = "s3.amazonaws.com"
  source_arn     = aws_s3_bucket.models.arn
  source_account = local.account_id
}

resource "aws_s3_bucket_notification" "models" {
  bucket = aws_s3_bucket.models.id
  lambda_function {
    lambda_function_arn = aws_lambda_function.detect_events.arn
    events              = ["s3:ObjectCreated:*"]
    filter_prefix       = "incoming/detect/"
  }
  lambda_function {
    lambda_function_arn = aws_lambda_function.train_events.arn
    events              = ["s3:ObjectCreated:*"]
    filter_prefix       = "incoming/train/"
  }
  depends_on = [aws_lambda_permission.detect_upload, aws_lambda_permission.train_upload]
}

# ---------------------------------------------------------------- schedules
resource "aws_cloudwatch_event_rule" "daily_backup" {
  name                = "${var.name_prefix}-daily-backup"
  description         = "Daily backup of the models and the table."
  schedule_expression = var.backup_schedule
  state               = var.backup_enabled ? "ENABLED" : "DISABLED"
}

resource "aws_cloudwatch_event_target" "daily_backup" {
  rule = aws_cloudwatch_event_rule.daily_backup.name
  arn  = aws_lambda_function.backup.arn
}

resource "aws_lambda_permission" "daily_backup" {
  statement_id  = "DailyBackup"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.backup.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.daily_backup.arn
}

# Named as in template.yaml, where the rule had to change its name when it moved to train-events.
resource "aws_cloudwatch_event_rule" "retrain" {
  name                = "${var.name_prefix}-retrain-events"
  description         = "Retrains the models that have an S3 source."
  schedule_expression = var.retrain_schedule
  state               = var.retrain_enabled ? "ENABLED" : "DISABLED"
}

resource "aws_cloudwatch_event_target" "retrain" {
  rule = aws_cloudwatch_event_rule.retrain.name
  arn  = aws_lambda_function.train_events.arn
}

resource "aws_lambda_permission" "retrain" {
  statement_id  = "Retrain"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.train_events.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.retrain.arn
}

# Marks jobs whose lease expired (their function died or timed out) failed, publishing
# JobsExpired, and deletes model artifacts no version references.
resource "aws_cloudwatch_event_rule" "sweep" {
  name                = "${var.name_prefix}-sweep"
  description         = "Marks jobs whose lease expired failed and deletes orphaned model artifacts."
  schedule_expression = "rate(15 minutes)"
  state               = "ENABLED"
}

resource "aws_cloudwatch_event_target" "sweep" {
  rule  = aws_cloudwatch_event_rule.sweep.name
  arn   = aws_lambda_function.backup.arn
  input = "{\"action\":\"sweep\"}"
}

resource "aws_lambda_permission" "sweep" {
  statement_id  = "Sweep"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.backup.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.sweep.arn
}
