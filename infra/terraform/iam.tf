# One least-privilege role per function: only the actions and resources its code uses
# (shared/store-aws/src/*.rs). Every role: X-Ray segments and its own log group.
# Table items are keyed T#{tenant}#MODEL#{name}, T#{tenant}#JOB#{id} and T#{tenant}#KEYS; the
# models index (GSI2) has the one partition CATALOG, the jobs index (GSI1) T#{tenant}#MODEL#{name}
# (shared/store-aws/src/schema.rs). dynamodb:LeadingKeys confines each role to its item kinds.

locals {
  # What detect and train may touch: model and job items and the models catalog, never keys.
  model_and_job_items = ["T#*#MODEL#*", "T#*#JOB#*", "CATALOG"]
  # What keys and the authorizer may touch: API key items only.
  key_items = ["T#*#KEYS"]
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
  description        = "Nomaly detect - reads models and uploads, writes batch results and jobs."
  assume_role_policy = data.aws_iam_policy_document.lambda_trust.json
}

resource "aws_iam_role" "train" {
  name               = "${var.name_prefix}-train"
  description        = "Nomaly train - reads training uploads, writes model artifacts, registers versions."
  assume_role_policy = data.aws_iam_policy_document.lambda_trust.json
}

resource "aws_iam_role" "backup" {
  name               = "${var.name_prefix}-backup"
  description        = "Nomaly backup - copies models and the table to the backup bucket, restores them, upgrades pre-tenancy items."
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
    sid     = "ReadModelsAndUploads"
    actions = ["s3:GetObject"]
    resources = [
      "${aws_s3_bucket.models.arn}/models/*",
      "${aws_s3_bucket.models.arn}/incoming/detect/*",
    ]
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
  statement {
    sid       = "Table"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"]
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
  statement {
    sid       = "DeadLetterQueue"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dlq.arn]
  }
}

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
    sid       = "ReadUploads"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.models.arn}/incoming/train/*"]
  }
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
    sid     = "ReadModels"
    actions = ["s3:GetObject", "s3:ListBucket"]
    resources = [
      aws_s3_bucket.models.arn,
      "${aws_s3_bucket.models.arn}/models/*",
    ]
  }
  # Restore writes artifacts back (If-None-Match: *, never over an existing one).
  statement {
    sid       = "RestoreModels"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.models.arn}/models/*"]
  }
  statement {
    sid     = "Backups"
    actions = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
    resources = [
      aws_s3_bucket.backups.arn,
      "${aws_s3_bucket.backups.arn}/backups/*",
    ]
  }
  # Backups are of the whole system: every tenant's models and jobs.
  statement {
    sid       = "Table"
    actions   = ["dynamodb:Scan", "dynamodb:Query", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:BatchWriteItem"]
    resources = [aws_dynamodb_table.table.arn]
  }
  # Every model's LATEST item (list_all_models), to know what to back up.
  statement {
    sid       = "ModelsIndex"
    actions   = ["dynamodb:Query"]
    resources = ["${aws_dynamodb_table.table.arn}/index/GSI2"]
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

resource "aws_iam_role_policy" "train" {
  name   = "train"
  role   = aws_iam_role.train.id
  policy = data.aws_iam_policy_document.train.json
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
