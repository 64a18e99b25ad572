# One least-privilege role per function: only the actions and resources its code uses
# (shared/store-aws/src/*.rs). Every role: X-Ray segments and its own log group.
# Table items are keyed T#{tenant}#MODEL#{name}, T#{tenant}#JOB#{id}, T#{tenant}#KEYS,
# T#{tenant}#SERIES (a record per series, SERIES#{name}), T#{tenant}#LABELS#{model} (a labelled
# row per id, LABEL#{id}) and T#{tenant}#IDEM#{hash} (idempotency records of POST requests,
# expiring through the table's TTL);
# the models index (GSI2) has the partitions CATALOG (every model's LATEST) and LEASES (running
# jobs, for the sweep), the jobs index (GSI1) T#{tenant}#MODEL#{name}
# (shared/store-aws/src/schema.rs). dynamodb:LeadingKeys confines each role to its item kinds.
# s3:ListBucket is always limited (s3:prefix) to the prefixes the function lists or reads: S3
# answers a GetObject of a missing key NoSuchKey, not AccessDenied, only to a caller that may list
# that key.

locals {
  # What detect and train may touch: model and job items and the models catalog, never keys.
  model_and_job_items = ["T#*#MODEL#*", "T#*#JOB#*", "CATALOG"]
  # What keys and the authorizer may touch: API key items only.
  key_items = ["T#*#KEYS"]
  # Idempotency records (T#{tenant}#IDEM#{hash} / IDEM) of train, keys and backup.
  idempotency_items = ["T#*#IDEM#*"]
  # Alert suppression states (T#{tenant}#ALERT#{model}, an item per entity) of detect.
  alert_items = ["T#*#ALERT#*"]
  # Time series records (T#{tenant}#SERIES / SERIES#{name}) of detect.
  series_items = ["T#*#SERIES"]
  # A model's labelled rows (T#{tenant}#LABELS#{model} / LABEL#{id}) of detect (Query,
  # BatchWriteItem) and train and train_events (Query).
  label_items = ["T#*#LABELS#*"]
  # Where callers' job sources are: uploads (incoming/) and data/ (presigned PUT URLs).
  upload_prefixes = ["${aws_s3_bucket.models.arn}/incoming/*", "${aws_s3_bucket.models.arn}/data/*"]
}

data "aws_iam_policy_document" "lambda_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "health" {
  name               = "${var.name_prefix}-health"
  description        = "Nomaly health - readiness probe reads one missing object and one missing item."
  assume_role_policy = data.aws_iam_policy_document.lambda_trust.json
}

resource "aws_iam_role" "detect" {
  name               = "${var.name_prefix}-detect"
  description        = "Nomaly detect - reads models, scores API requests and stream and queue records, publishes alerts, records, lists and reads jobs, starts batch jobs, presigns uploads and results, keeps time series and labelled rows."
  assume_role_policy = data.aws_iam_policy_document.lambda_trust.json
}

resource "aws_iam_role" "detect_events" {
  name               = "${var.name_prefix}-detect-events"
  description        = "Nomaly detect-events - scores uploaded CSV files (incoming/detect/) into results/, records batch jobs."
  assume_role_policy = data.aws_iam_policy_document.lambda_trust.json
}

resource "aws_iam_role" "train" {
  name               = "${var.name_prefix}-train"
  description        = "Nomaly train - trains model versions from API requests, writes model artifacts, registers versions, lists models."
  assume_role_policy = data.aws_iam_policy_document.lambda_trust.json
}

resource "aws_iam_role" "train_events" {
  name               = "${var.name_prefix}-train-events"
  description        = "Nomaly train-events - trains model versions from uploads (incoming/train/) and retrains on schedule, writes model artifacts, registers versions."
  assume_role_policy = data.aws_iam_policy_document.lambda_trust.json
}

resource "aws_iam_role" "backup" {
  name               = "${var.name_prefix}-backup"
  description        = "Nomaly backup - copies models, series states and the table to the backup bucket, restores them, upgrades pre-tenancy items, sweeps expired job leases and orphaned artifacts."
  assume_role_policy = data.aws_iam_policy_document.lambda_trust.json
}

resource "aws_iam_role" "keys" {
  name               = "${var.name_prefix}-keys"
  description        = "Nomaly keys - issues, lists and revokes the API keys of a tenant and their gateway keys in the usage plan."
  assume_role_policy = data.aws_iam_policy_document.lambda_trust.json
}

resource "aws_iam_role" "authorizer" {
  name               = "${var.name_prefix}-authorizer"
  description        = "Nomaly authorizer - reads API key items and records when each was last used."
  assume_role_policy = data.aws_iam_policy_document.lambda_trust.json
}

data "aws_iam_policy_document" "health" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.health.arn}:*"]
  }
  statement {
    sid       = "XRay"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }
  statement {
    sid       = "ProbeObject"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.models.arn}/health/probe"]
  }
  # Without ListBucket S3 answers 403 instead of 404 for the (always) missing probe key.
  statement {
    sid       = "ProbeMissingKey"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.models.arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["health/probe"]
    }
  }
  statement {
    sid       = "ProbeItem"
    actions   = ["dynamodb:GetItem"]
    resources = [aws_dynamodb_table.table.arn]
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "dynamodb:LeadingKeys"
      values   = ["T#nomaly-system#MODEL#health-probe"]
    }
  }
}

# The API detect function: scores rows, lists and reads jobs, starts batch jobs on objects
# (GET/POST /api/v1/models/{name}/jobs), presigns uploads (POST /api/v1/uploads) and keeps time
# series (/api/v1/series...); also scores the records of the input stream and queue and publishes
# alerts (streams.tf, alerts.tf). Scoring uploads is detect_events' (below).
data "aws_iam_policy_document" "detect" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.detect.arn}:*"]
  }
  statement {
    sid       = "XRay"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }
  statement {
    sid       = "ReadModels"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.models.arn}/models/*"]
  }
  # A missing artifact is then NoSuchKey (a clear error), not AccessDenied.
  statement {
    sid       = "ListModels"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.models.arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["models/*"]
    }
  }
  # No UpdateItem: only touch_key (API key items, inline authentication) updates, and this
  # function always runs with NOMALY_AUTH = "authorizer".
  statement {
    sid       = "Table"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"]
    resources = [aws_dynamodb_table.table.arn]
    condition {
      test     = "ForAllValues:StringLike"
      variable = "dynamodb:LeadingKeys"
      values   = local.model_and_job_items
    }
  }
  statement {
    sid       = "JobsIndex"
    actions   = ["dynamodb:Query"]
    resources = ["${aws_dynamodb_table.table.arn}/index/GSI1"]
    condition {
      test     = "ForAllValues:StringLike"
      variable = "dynamodb:LeadingKeys"
      values   = local.model_and_job_items
    }
  }
  # Batch jobs on an object run on the jobs state machine (its ARN is computed, as
  # NOMALY_JOBS_STATE_MACHINE_ARN: the machine invokes the events functions).
  statement {
    sid       = "StartJobs"
    actions   = ["states:StartExecution"]
    resources = [local.jobs_state_machine_arn]
  }
  # Presigned PUT URLs for uploads larger than a request carry this role's permission.
  statement {
    sid       = "PresignUploads"
    actions   = ["s3:PutObject"]
    resources = local.upload_prefixes
  }
  # HeadObject of a caller's s3_uri (it exists; its size, version and ETag are pinned in the job).
  statement {
    sid       = "CheckSources"
    actions   = ["s3:GetObject"]
    resources = local.upload_prefixes
  }
  # Presigned links to a batch job's results object.
  statement {
    sid       = "PresignResults"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.models.arn}/results/*"]
  }
  # POST /api/v1/models/{name}/jobs writes a split job's plan (batch/{tenant}/{job}/plan.json)
  # before it starts the execution, and reads it back when the request is retried.
  statement {
    sid       = "BatchPlans"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = ["${aws_s3_bucket.models.arn}/batch/*"]
  }
  # A missing source, plan or results object is then NotFound, not AccessDenied.
  statement {
    sid       = "ListSources"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.models.arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["incoming/*", "data/*", "batch/*", "results/*"]
    }
  }
  # Time series records (T#{tenant}#SERIES / SERIES#{name}): read, a tenant's listed (a Query of
  # its partition), and moved by one sequence with a conditional Put.
  statement {
    sid       = "SeriesItems"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"]
    resources = [aws_dynamodb_table.table.arn]
    condition {
      test     = "ForAllValues:StringLike"
      variable = "dynamodb:LeadingKeys"
      values   = local.series_items
    }
  }
  # A series' detector state (series/{tenant}/{name}/{sequence}-{writer}.state): read, written
  # under a fresh key by every append, and deleted once superseded (or by the writer that lost the
  # conditional Put).
  statement {
    sid       = "SeriesStates"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${aws_s3_bucket.models.arn}/series/*"]
  }
  # A missing state is then NoSuchKey (a clear error), not AccessDenied.
  statement {
    sid       = "ListSeries"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.models.arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["series/*"]
    }
  }
  # A model's labelled rows (T#{tenant}#LABELS#{model} / LABEL#{id}): listed (a Query of the
  # model's partition) and written with BatchWriteItem (PutRequests only). A label naming a batch
  # job's row reads the model's LATEST and version, the job (Table) and the job's input object
  # under incoming/ or data/ (CheckSources, ListSources).
  statement {
    sid       = "LabelItems"
    actions   = ["dynamodb:Query", "dynamodb:BatchWriteItem"]
    resources = [aws_dynamodb_table.table.arn]
    condition {
      test     = "ForAllValues:StringLike"
      variable = "dynamodb:LeadingKeys"
      values   = local.label_items
    }
  }
  # Alert suppression states, read and written under a revision (a conditional Put); never queried.
  statement {
    sid       = "AlertStates"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem"]
    resources = [aws_dynamodb_table.table.arn]
    condition {
      test     = "ForAllValues:StringLike"
      variable = "dynamodb:LeadingKeys"
      values   = local.alert_items
    }
  }
  # The event source mapping of the input stream reads it with this role (SubscribeToShard applies
  # to the stream's consumers; ListStreams to no resource). The stream's AWS-managed key
  # (aws/kinesis) lets any principal of the account that may read the stream decrypt through
  # Kinesis: no kms:Decrypt here.
  statement {
    sid       = "ReadStream"
    actions   = ["kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:ListShards"]
    resources = [aws_kinesis_stream.records.arn]
  }
  statement {
    sid       = "SubscribeStream"
    actions   = ["kinesis:SubscribeToShard"]
    resources = ["${aws_kinesis_stream.records.arn}/consumer/*"]
  }
  statement {
    sid       = "ListStreams"
    actions   = ["kinesis:ListStreams"]
    resources = ["*"]
  }
  # The event source mapping of the input queue (SQS-managed SSE: no key to use).
  statement {
    sid       = "ReadQueue"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"]
    resources = [aws_sqs_queue.records.arn]
  }
  # Records that can never be scored, with the reason (NOMALY_DEAD_LETTER_QUEUE_URL), and the
  # positions of failed stream batches (the stream mapping's on_failure destination, sent with this
  # role).
  statement {
    sid       = "RecordsDeadLetters"
    actions   = ["sqs:SendMessage"]
    resources = [local.records_dead_letter_queue_arn]
  }
  # Alerts (NOMALY_EVENT_BUS).
  statement {
    sid       = "PublishAlerts"
    actions   = ["events:PutEvents"]
    resources = [local.alert_bus_arn]
  }
}

# The detect binary on S3 uploads (incoming/detect/): reads them, writes results/ and batch jobs.
data "aws_iam_policy_document" "detect_events" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.detect_events.arn}:*"]
  }
  statement {
    sid       = "XRay"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }
  statement {
    sid       = "ReadModels"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.models.arn}/models/*"]
  }
  # An upload is read in the version its event names (GetObjectVersion).
  statement {
    sid       = "ReadUploads"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = ["${aws_s3_bucket.models.arn}/incoming/detect/*"]
  }
  # A missing artifact or upload is then NoSuchKey (a clear error), not AccessDenied.
  statement {
    sid       = "ListModelsAndUploads"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.models.arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["models/*", "incoming/detect/*"]
    }
  }
  statement {
    sid       = "WriteResults"
    actions   = ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
    resources = ["${aws_s3_bucket.models.arn}/results/*"]
  }
  # Batch jobs: the source object (uploads and data/, in the version the job pinned), range by
  # range.
  statement {
    sid       = "ReadSources"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = local.upload_prefixes
  }
  # A split job's plan, its ranges' parts and summaries (batch/{tenant}/{job}/): written by the
  # planner and the ranges, read by the joiner (UploadPartCopy into results/ reads them) and
  # deleted once joined.
  statement {
    sid       = "BatchObjects"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
    resources = ["${aws_s3_bucket.models.arn}/batch/*"]
  }
  statement {
    sid       = "ListSourcesAndBatch"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.models.arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["incoming/*", "data/*", "batch/*", "results/*"]
    }
  }
  # An upload large enough to split starts a batch job on the jobs state machine.
  statement {
    sid       = "StartJobs"
    actions   = ["states:StartExecution"]
    resources = [local.jobs_state_machine_arn]
  }
  # Versions and LATEST by key, and the batch job (a conditional Put claims it).
  statement {
    sid       = "Table"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem"]
    resources = [aws_dynamodb_table.table.arn]
    condition {
      test     = "ForAllValues:StringLike"
      variable = "dynamodb:LeadingKeys"
      values   = local.model_and_job_items
    }
  }
  statement {
    sid       = "DeadLetterQueue"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dlq.arn]
  }
}

# The API train function: trains from a JSON body, lists and reads models.
data "aws_iam_policy_document" "train" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.train.arn}:*"]
  }
  statement {
    sid       = "XRay"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }
  statement {
    sid       = "WriteArtifacts"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.models.arn}/models/*"]
  }
  # TransactWriteItems is authorized per item: PutItem for each conditional Put it carries
  # (there is no dynamodb:TransactWriteItems IAM action).
  statement {
    sid       = "Table"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"]
    resources = [aws_dynamodb_table.table.arn]
    condition {
      test     = "ForAllValues:StringLike"
      variable = "dynamodb:LeadingKeys"
      values   = local.model_and_job_items
    }
  }
  statement {
    sid       = "ModelsIndex"
    actions   = ["dynamodb:Query"]
    resources = ["${aws_dynamodb_table.table.arn}/index/GSI2"]
    condition {
      test     = "ForAllValues:StringLike"
      variable = "dynamodb:LeadingKeys"
      values   = local.model_and_job_items
    }
  }
  # Idempotency records of POST /api/v1/models (T#{tenant}#IDEM#{hash} / IDEM): read, written
  # with a condition, deleted.
  statement {
    sid       = "Idempotency"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"]
    resources = [aws_dynamodb_table.table.arn]
    condition {
      test     = "ForAllValues:StringLike"
      variable = "dynamodb:LeadingKeys"
      values   = local.idempotency_items
    }
  }
  # A new version learns from its model's labelled rows (T#{tenant}#LABELS#{model}): a Query of
  # the model's partition; never written here.
  statement {
    sid       = "LabelItems"
    actions   = ["dynamodb:Query"]
    resources = [aws_dynamodb_table.table.arn]
    condition {
      test     = "ForAllValues:StringLike"
      variable = "dynamodb:LeadingKeys"
      values   = local.label_items
    }
  }
  # Training from an object (source.s3_uri) runs on the jobs state machine.
  statement {
    sid       = "StartJobs"
    actions   = ["states:StartExecution"]
    resources = [local.jobs_state_machine_arn]
  }
  # Presigned PUT URLs for training data larger than a request.
  statement {
    sid       = "PresignUploads"
    actions   = ["s3:PutObject"]
    resources = local.upload_prefixes
  }
  # HeadObject of a caller's s3_uri (it exists; its version and ETag are pinned in the job).
  statement {
    sid       = "CheckSources"
    actions   = ["s3:GetObject"]
    resources = local.upload_prefixes
  }
  # Presigned links to a job's results object.
  statement {
    sid       = "PresignResults"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.models.arn}/results/*"]
  }
  # A missing source or results object is then NotFound, not AccessDenied.
  statement {
    sid       = "ListSources"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.models.arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["incoming/*", "data/*", "results/*"]
    }
  }
}

# The train binary on S3 uploads (incoming/train/) and the retraining schedule.
data "aws_iam_policy_document" "train_events" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.train_events.arn}:*"]
  }
  statement {
    sid       = "XRay"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }
  # An upload is read in the version its event names (GetObjectVersion).
  statement {
    sid       = "ReadUploads"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = ["${aws_s3_bucket.models.arn}/incoming/train/*"]
  }
  # Retraining lists each model's incoming/train/{tenant}/{model}/.
  statement {
    sid       = "ListUploads"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.models.arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["incoming/train/*"]
    }
  }
  # Training jobs (the jobs state machine): the source object under incoming/ or data/, in the
  # version the job pinned.
  statement {
    sid       = "ReadSources"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = local.upload_prefixes
  }
  statement {
    sid       = "ListSources"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.models.arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["incoming/*", "data/*"]
    }
  }
  statement {
    sid       = "WriteArtifacts"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.models.arn}/models/*"]
  }
  # LATEST and versions by key, the version transaction (PutItem per conditional Put), the
  # training job (a conditional Put claims it) and a model's versions (Query: a redelivered
  # upload finds the version its job already registered).
  statement {
    sid       = "Table"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"]
    resources = [aws_dynamodb_table.table.arn]
    condition {
      test     = "ForAllValues:StringLike"
      variable = "dynamodb:LeadingKeys"
      values   = local.model_and_job_items
    }
  }
  # Retraining reads every model's LATEST (list_all_models).
  statement {
    sid       = "ModelsIndex"
    actions   = ["dynamodb:Query"]
    resources = ["${aws_dynamodb_table.table.arn}/index/GSI2"]
    condition {
      test     = "ForAllValues:StringLike"
      variable = "dynamodb:LeadingKeys"
      values   = local.model_and_job_items
    }
  }
  # Uploads, training jobs and retraining learn from the model's labelled rows
  # (T#{tenant}#LABELS#{model}): a Query of its partition; never written here.
  statement {
    sid       = "LabelItems"
    actions   = ["dynamodb:Query"]
    resources = [aws_dynamodb_table.table.arn]
    condition {
      test     = "ForAllValues:StringLike"
      variable = "dynamodb:LeadingKeys"
      values   = local.label_items
    }
  }
  statement {
    sid       = "DeadLetterQueue"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dlq.arn]
  }
}

data "aws_iam_policy_document" "backup" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.backup.arn}:*"]
  }
  statement {
    sid       = "XRay"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }
  statement {
    sid       = "ReadModels"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.models.arn}/models/*"]
  }
  # The sweep lists models/ for artifacts no version references; a missing artifact is
  # NoSuchKey, not AccessDenied.
  statement {
    sid       = "ListModels"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.models.arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["models/*"]
    }
  }
  # Restore writes artifacts back (If-None-Match: *, never over an existing one).
  statement {
    sid       = "RestoreModels"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.models.arn}/models/*"]
  }
  # The sweep deletes orphaned artifacts (versioning keeps them noncurrent_version_expiration_days).
  statement {
    sid       = "SweepArtifacts"
    actions   = ["s3:DeleteObject"]
    resources = ["${aws_s3_bucket.models.arn}/models/*"]
  }
  # Series states (series/{tenant}/{name}/...) are backed up and restored like artifacts: read
  # and listed, written back on restore.
  statement {
    sid       = "ReadSeries"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.models.arn}/series/*"]
  }
  statement {
    sid       = "ListSeries"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.models.arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["series/*"]
    }
  }
  statement {
    sid       = "RestoreSeries"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.models.arn}/series/*"]
  }
  statement {
    sid       = "Backups"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
    resources = ["${aws_s3_bucket.backups.arn}/backups/*"]
  }
  # Listing backups (backups/) and one backup's objects (backups/{id}/).
  statement {
    sid       = "ListBackups"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.backups.arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["backups/*"]
    }
  }
  # Backups are of the whole system: every tenant's models, jobs, series and labelled rows
  # (T#*#SERIES and T#*#LABELS#* items included: scanned, queried and batch-written back on
  # restore). PutItem also covers the sweep marking an expired-lease job failed (a conditional
  # Put).
  statement {
    sid       = "Table"
    actions   = ["dynamodb:Scan", "dynamodb:Query", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:BatchWriteItem"]
    resources = [aws_dynamodb_table.table.arn]
  }
  # Every model's LATEST item (CATALOG: list_all_models, to know what to back up and which
  # artifacts are referenced) and every running job (LEASES: the sweep).
  statement {
    sid       = "CatalogAndLeasesIndex"
    actions   = ["dynamodb:Query"]
    resources = ["${aws_dynamodb_table.table.arn}/index/GSI2"]
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "dynamodb:LeadingKeys"
      values   = ["CATALOG", "LEASES"]
    }
  }
  # The one-time upgrade to tenancy removes the pre-tenancy items it moved, and only those.
  statement {
    sid       = "UpgradeRemovesLegacyItems"
    actions   = ["dynamodb:DeleteItem"]
    resources = [aws_dynamodb_table.table.arn]
    condition {
      test     = "ForAllValues:StringLike"
      variable = "dynamodb:LeadingKeys"
      values   = ["MODEL#*", "JOB#*"]
    }
  }
  # Idempotency records of POST /api/v1/backups.
  statement {
    sid       = "Idempotency"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"]
    resources = [aws_dynamodb_table.table.arn]
    condition {
      test     = "ForAllValues:StringLike"
      variable = "dynamodb:LeadingKeys"
      values   = local.idempotency_items
    }
  }
  statement {
    sid       = "DeadLetterQueue"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dlq.arn]
  }
}

data "aws_iam_policy_document" "keys" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.keys.arn}:*"]
  }
  statement {
    sid       = "XRay"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }
  statement {
    sid       = "KeyItems"
    actions   = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem"]
    resources = [aws_dynamodb_table.table.arn]
    condition {
      test     = "ForAllValues:StringLike"
      variable = "dynamodb:LeadingKeys"
      values   = local.key_items
    }
  }
  # Idempotency records of POST /api/v1/keys.
  statement {
    sid       = "Idempotency"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"]
    resources = [aws_dynamodb_table.table.arn]
    condition {
      test     = "ForAllValues:StringLike"
      variable = "dynamodb:LeadingKeys"
      values   = local.idempotency_items
    }
  }
  # Each Nomaly key gets its own gateway API key (CreateApiKey) in the stack's usage plan
  # (CreateUsagePlanKey); revoking the key deletes it (DeleteApiKey).
  statement {
    sid     = "CreateUsageKeys"
    actions = ["apigateway:POST"]
    resources = [
      "arn:${local.partition}:apigateway:${local.region}::/apikeys",
      "arn:${local.partition}:apigateway:${local.region}::/usageplans/${aws_api_gateway_usage_plan.api.id}/keys",
    ]
  }
  statement {
    sid       = "DeleteUsageKeys"
    actions   = ["apigateway:DELETE"]
    resources = ["arn:${local.partition}:apigateway:${local.region}::/apikeys/*"]
  }
  # Never the key JWT callers share.
  statement {
    sid       = "KeepJwtUsageKey"
    effect    = "Deny"
    actions   = ["apigateway:DELETE"]
    resources = ["arn:${local.partition}:apigateway:${local.region}::/apikeys/${aws_api_gateway_api_key.jwt_usage.id}"]
  }
}

data "aws_iam_policy_document" "authorizer" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.authorizer.arn}:*"]
  }
  statement {
    sid       = "XRay"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }
  statement {
    sid       = "ReadKeys"
    actions   = ["dynamodb:GetItem"]
    resources = [aws_dynamodb_table.table.arn]
    condition {
      test     = "ForAllValues:StringLike"
      variable = "dynamodb:LeadingKeys"
      values   = local.key_items
    }
  }
  # Only last_used_at of a key item (PK and SK are its key and its condition).
  statement {
    sid       = "TouchKeys"
    actions   = ["dynamodb:UpdateItem"]
    resources = [aws_dynamodb_table.table.arn]
    condition {
      test     = "ForAllValues:StringLike"
      variable = "dynamodb:LeadingKeys"
      values   = local.key_items
    }
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "dynamodb:Attributes"
      values   = ["PK", "SK", "last_used_at"]
    }
  }
}

resource "aws_iam_role_policy" "health" {
  name   = "health"
  role   = aws_iam_role.health.id
  policy = data.aws_iam_policy_document.health.json
}

resource "aws_iam_role_policy" "detect" {
  name   = "detect"
  role   = aws_iam_role.detect.id
  policy = data.aws_iam_policy_document.detect.json
}

resource "aws_iam_role_policy" "detect_events" {
  name   = "detect-events"
  role   = aws_iam_role.detect_events.id
  policy = data.aws_iam_policy_document.detect_events.json
}

resource "aws_iam_role_policy" "train" {
  name   = "train"
  role   = aws_iam_role.train.id
  policy = data.aws_iam_policy_document.train.json
}

resource "aws_iam_role_policy" "train_events" {
  name   = "train-events"
  role   = aws_iam_role.train_events.id
  policy = data.aws_iam_policy_document.train_events.json
}

resource "aws_iam_role_policy" "backup" {
  name   = "backup"
  role   = aws_iam_role.backup.id
  policy = data.aws_iam_policy_document.backup.json
}

resource "aws_iam_role_policy" "keys" {
  name   = "keys"
  role   = aws_iam_role.keys.id
  policy = data.aws_iam_policy_document.keys.json
}

resource "aws_iam_role_policy" "authorizer" {
  name   = "authorizer"
  role   = aws_iam_role.authorizer.id
  policy = data.aws_iam_policy_document.authorizer.json
}
