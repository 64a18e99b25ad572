# Models/data bucket (models/, incoming/ uploads, results/), backup bucket, the table and the
# dead-letter queue.

locals {
  buckets = {
    models  = aws_s3_bucket.models
    backups = aws_s3_bucket.backups
  }
}

resource "aws_s3_bucket" "models" {
  # checkov:skip=CKV_AWS_18:Server access logs need a third, unmonitored bucket; CloudTrail S3 data events are the audit trail when one is required.
  # checkov:skip=CKV_AWS_144:Cross-region replication is a disaster-recovery choice left to the operator; the daily backup bucket is the second copy.
  bucket = "${var.name_prefix}-models-${local.account_id}-${local.region}"
  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_s3_bucket" "backups" {
  # checkov:skip=CKV_AWS_18:Server access logs need a third, unmonitored bucket; CloudTrail S3 data events are the audit trail when one is required.
  # checkov:skip=CKV_AWS_144:Replication of the vault is optional (backup_replica_bucket_arn, aws_s3_bucket_replication_configuration.backups); this bucket is already the second copy.
  # checkov:skip=CKV2_AWS_62:Nothing reacts to new backups; the backup function writes them and lists them itself.
  bucket = "${var.name_prefix}-backups-${local.account_id}-${local.region}"
  # backup_object_lock_days > 0: Object Lock, only at creation (see the variable).
  object_lock_enabled = var.backup_object_lock_days != 0
  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_s3_bucket_versioning" "this" {
  for_each = local.buckets
  bucket   = each.value.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  for_each = local.buckets
  bucket   = each.value.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "aws:kms"
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  for_each                = local.buckets
  bucket                  = each.value.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "this" {
  for_each = local.buckets
  bucket   = each.value.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

data "aws_iam_policy_document" "tls_only" {
  for_each = local.buckets
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    resources = [each.value.arn, "${each.value.arn}/*"]
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
  statement {
    sid     = "DenyOldTls"
    effect  = "Deny"
    actions = ["s3:*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    resources = [each.value.arn, "${each.value.arn}/*"]
    condition {
      test     = "NumericLessThan"
      variable = "s3:TlsVersion"
      values   = ["1.2"]
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  for_each   = local.buckets
  bucket     = each.value.id
  policy     = data.aws_iam_policy_document.tls_only[each.key].json
  depends_on = [aws_s3_bucket_public_access_block.this]
}

resource "aws_s3_bucket_lifecycle_configuration" "models" {
  bucket = aws_s3_bucket.models.id
  rule {
    id     = "expire-results"
    status = "Enabled"
    filter {
      prefix = "results/"
    }
    expiration {
      days = var.results_expiration_days
    }
  }
  # Uploads are processed when they land (their S3 notification); what stays is the retraining
  # schedule's data window. incoming_retention_days 0 keeps them (rule disabled; S3 needs at least
  # 1 day even then).
  rule {
    id     = "expire-incoming"
    status = var.incoming_retention_days == 0 ? "Disabled" : "Enabled"
    filter {
      prefix = "incoming/"
    }
    expiration {
      days = var.incoming_retention_days == 0 ? 1 : var.incoming_retention_days
    }
  }
  # Objects callers upload for jobs through presigned URLs (data/): the same window.
  rule {
    id     = "expire-data"
    status = var.incoming_retention_days == 0 ? "Disabled" : "Enabled"
    filter {
      prefix = "data/"
    }
    expiration {
      days = var.incoming_retention_days == 0 ? 1 : var.incoming_retention_days
    }
  }
  # Plans and range results of split batch jobs (batch/{tenant}/{job}/): the joiner deletes what it
  # joined; this removes what a failed or abandoned job left.
  rule {
    id     = "expire-batch"
    status = "Enabled"
    filter {
      prefix = "batch/"
    }
    expiration {
      days = 2
    }
  }
  # Also aborts every incomplete multipart upload (results/ joins, backups) after a day.
  rule {
    id     = "expire-noncurrent-versions"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
  depends_on = [aws_s3_bucket_versioning.this]
}

resource "aws_s3_bucket_lifecycle_configuration" "backups" {
  bucket = aws_s3_bucket.backups.id
  # The backup function prunes by its retention policy (never the newest good backup); what it
  # deletes stays recoverable as noncurrent versions for backup_retention_days. One rule for the
  # whole bucket (it holds backups/ only): a second, overlapping noncurrent rule would win whenever
  # it is shorter (S3 applies the earliest expiration), so backup_retention_days would be capped
  # by it.
  rule {
    id     = "expire-pruned-backups"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = var.backup_retention_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
  depends_on = [aws_s3_bucket_versioning.this]
}

# backup_object_lock_days > 0: every new backup object version locked (GOVERNANCE) that many days.
resource "aws_s3_bucket_object_lock_configuration" "backups" {
  count  = var.backup_object_lock_days != 0 ? 1 : 0
  bucket = aws_s3_bucket.backups.id
  rule {
    default_retention {
      mode = "GOVERNANCE"
      days = var.backup_object_lock_days
    }
  }
  depends_on = [aws_s3_bucket_versioning.this]
}

# backup_replica_bucket_arn set: every backup object replicated there (SSE-KMS objects re-encrypted
# with backup_replica_kms_key_arn); deletions (the pruning's delete markers) are not.
resource "aws_s3_bucket_replication_configuration" "backups" {
  count  = var.backup_replica_bucket_arn != "" ? 1 : 0
  bucket = aws_s3_bucket.backups.id
  role   = aws_iam_role.backup_replication[0].arn
  rule {
    id       = "replicate-backups"
    status   = "Enabled"
    priority = 1
    filter {
      prefix = ""
    }
    delete_marker_replication {
      status = "Disabled"
    }
    source_selection_criteria {
      sse_kms_encrypted_objects {
        status = "Enabled"
      }
    }
    destination {
      bucket = var.backup_replica_bucket_arn
      encryption_configuration {
        replica_kms_key_id = var.backup_replica_kms_key_arn
      }
    }
  }
  lifecycle {
    precondition {
      condition     = var.backup_replica_kms_key_arn != ""
      error_message = "Backups are SSE-KMS; replicating them needs backup_replica_kms_key_arn (a key in the replica bucket's region)."
    }
  }
  depends_on = [aws_s3_bucket_versioning.this]
}

data "aws_iam_policy_document" "s3_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

# S3 replication of the backup vault: reads each new version of the backup bucket, decrypts it
# (the bucket's SSE-KMS key, through S3 only) and writes it to the replica, encrypted with
# backup_replica_kms_key_arn.
resource "aws_iam_role" "backup_replication" {
  count              = var.backup_replica_bucket_arn != "" ? 1 : 0
  name               = "${var.name_prefix}-backup-replication"
  description        = "Nomaly backup vault replication - copies every backup object version to the replica bucket."
  assume_role_policy = data.aws_iam_policy_document.s3_trust.json
}

data "aws_iam_policy_document" "backup_replication" {
  # checkov:skip=CKV_AWS_111:kms:Decrypt and kms:Encrypt are limited by kms:ViaService (S3) and the S3 encryption context (the backup bucket, the replica bucket) instead of key ARNs; the source key is the AWS-managed aws/s3 key, whose ARN the configuration cannot name.
  # checkov:skip=CKV_AWS_356:kms:Decrypt and kms:Encrypt are limited by kms:ViaService (S3) and the S3 encryption context (the backup bucket, the replica bucket) instead of key ARNs; the source key is the AWS-managed aws/s3 key, whose ARN the configuration cannot name.
  statement {
    sid       = "SourceBucket"
    actions   = ["s3:GetReplicationConfiguration"]
    resources = [aws_s3_bucket.backups.arn]
  }
  statement {
    sid       = "SourceVersions"
    actions   = ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging", "s3:GetObjectRetention", "s3:GetObjectLegalHold"]
    resources = ["${aws_s3_bucket.backups.arn}/*"]
  }
  statement {
    sid       = "Replicate"
    actions   = ["s3:ReplicateObject", "s3:ReplicateTags"]
    resources = ["${var.backup_replica_bucket_arn}/*"]
  }
  # The source objects' key (the AWS-managed aws/s3 key, whose ARN cannot be named here), through
  # S3 only and for this bucket only (with S3 Bucket Keys the context is the bucket's ARN, else the
  # object's).
  statement {
    sid       = "DecryptSource"
    actions   = ["kms:Decrypt"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.amazonaws.com"]
    }
    condition {
      test     = "StringLike"
      variable = "kms:EncryptionContext:aws:s3:arn"
      values   = [aws_s3_bucket.backups.arn, "${aws_s3_bucket.backups.arn}/*"]
    }
  }
  # The replica's key (backup_replica_kms_key_arn, which the replication configuration names),
  # through S3 only and for the replica bucket only.
  statement {
    sid       = "EncryptReplica"
    actions   = ["kms:Encrypt", "kms:GenerateDataKey"]
    resources = ["*"]
    condition {
      test     = "StringLike"
      variable = "kms:ViaService"
      values   = ["s3.*.amazonaws.com"]
    }
    condition {
      test     = "StringLike"
      variable = "kms:EncryptionContext:aws:s3:arn"
      values   = [var.backup_replica_bucket_arn, "${var.backup_replica_bucket_arn}/*"]
    }
  }
}

resource "aws_iam_role_policy" "backup_replication" {
  count  = var.backup_replica_bucket_arn != "" ? 1 : 0
  name   = "backup-replication"
  role   = aws_iam_role.backup_replication[0].id
  policy = data.aws_iam_policy_document.backup_replication.json
}

# Keys, indexes and TTL follow shared/store-aws/src/schema.rs.
resource "aws_dynamodb_table" "table" {
  # checkov:skip=CKV_AWS_119:Encrypted at rest with the AWS-managed DynamoDB KMS key (server_side_encryption enabled); a customer-managed key adds a key policy to run and is not required by the data.
  name                        = "${var.name_prefix}-table"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "PK"
  range_key                   = "SK"
  deletion_protection_enabled = var.table_deletion_protection

  attribute {
    name = "PK"
    type = "S"
  }
  attribute {
    name = "SK"
    type = "S"
  }
  attribute {
    name = "GSI1PK"
    type = "S"
  }
  attribute {
    name = "GSI1SK"
    type = "S"
  }
  attribute {
    name = "GSI2PK"
    type = "S"
  }
  attribute {
    name = "GSI2SK"
    type = "S"
  }

  global_secondary_index {
    name            = "GSI1"
    hash_key        = "GSI1PK"
    range_key       = "GSI1SK"
    projection_type = "ALL"
  }
  global_secondary_index {
    name            = "GSI2"
    hash_key        = "GSI2PK"
    range_key       = "GSI2SK"
    projection_type = "ALL"
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }
  point_in_time_recovery {
    enabled = true
  }
  server_side_encryption {
    enabled = true
  }
  lifecycle {
    prevent_destroy = true
  }
}

# Failed asynchronous invocations (S3 events, schedules) of detect_events, train_events and backup.
resource "aws_sqs_queue" "dlq" {
  name                      = "${var.name_prefix}-dlq"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
}

data "aws_iam_policy_document" "dlq" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["sqs:*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    resources = [aws_sqs_queue.dlq.arn]
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sqs_queue_policy" "dlq" {
  queue_url = aws_sqs_queue.dlq.id
  policy    = data.aws_iam_policy_document.dlq.json
}
