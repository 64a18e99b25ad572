# Records to score, pushed by producers: the input Kinesis stream and the input SQS queue, both
# delivered to the detect function by event source mappings (function_response_types
# ReportBatchItemFailures: only the records that failed are retried). NOMALY_STREAM_ROUTES
# (functions.tf) says which tenant (stream_tenant) and default model (stream_model) their records
# belong to. As template.yaml's RecordsStream, RecordsQueue and RecordsDeadLetterQueue (created
# only when records_dead_letter_queue_arn is empty).

locals {
  # NOMALY_STREAM_ROUTES: which tenant (and default model, omitted when stream_model is empty) the
  # records of each source belong to, by the source's ARN (the eventSourceARN of a delivery).
  stream_route = merge({ tenant = var.stream_tenant }, var.stream_model == "" ? {} : { model = var.stream_model })
  stream_routes = {
    (aws_kinesis_stream.records.arn) = local.stream_route
    (aws_sqs_queue.records.arn)      = local.stream_route
  }

  # The records dead-letter queue in use: ours ({name_prefix}-records-dlq) when
  # records_dead_letter_queue_arn is empty, else that queue, whose URL
  # (https://sqs.REGION.URL_SUFFIX/ACCOUNT/NAME) and name come from its ARN's parts
  # (arn:PARTITION:sqs:REGION:ACCOUNT:NAME). The ':' padding gives the empty ARN parts too, as
  # template.yaml's !Select over its !Split does.
  records_dead_letter_arn_parts  = split(":", "${var.records_dead_letter_queue_arn}:::::")
  records_dead_letter_queue_arn  = var.records_dead_letter_queue_arn == "" ? aws_sqs_queue.records_dead_letter[0].arn : var.records_dead_letter_queue_arn
  records_dead_letter_queue_url  = var.records_dead_letter_queue_arn == "" ? aws_sqs_queue.records_dead_letter[0].url : "https://sqs.${local.records_dead_letter_arn_parts[3]}.${local.url_suffix}/${local.records_dead_letter_arn_parts[4]}/${local.records_dead_letter_arn_parts[5]}"
  records_dead_letter_queue_name = var.records_dead_letter_queue_arn == "" ? aws_sqs_queue.records_dead_letter[0].name : local.records_dead_letter_arn_parts[5]
}

resource "aws_kinesis_stream" "records" {
  name             = "${var.name_prefix}-records"
  shard_count      = var.stream_shard_count
  retention_period = 24
  encryption_type  = "KMS"
  kms_key_id       = "alias/aws/kinesis"
  stream_mode_details {
    stream_mode = "PROVISIONED"
  }
}

# Visibility timeout: Lambda needs at least the function's timeout (detect_timeout, at most 29 s);
# 180 s is the six times AWS recommends, so a batch retried after a throttle is not redelivered
# while it still runs.
resource "aws_sqs_queue" "records" {
  name                       = "${var.name_prefix}-records"
  message_retention_seconds  = 345600
  visibility_timeout_seconds = 180
  sqs_managed_sse_enabled    = true
  redrive_policy = jsonencode({
    deadLetterTargetArn = local.records_dead_letter_queue_arn
    maxReceiveCount     = var.queue_max_receive_count
  })
}

# Records that could not be scored: the positions of stream batches that failed past their retries
# or age (the stream mapping's on_failure destination), input queue messages received
# queue_max_receive_count times (its redrive policy), and records the function itself can never
# score (not JSON, no model, an unknown model), which it sends here with the reason
# (NOMALY_DEAD_LETTER_QUEUE_URL). Not created when records_dead_letter_queue_arn names a queue
# of the operator's (local.records_dead_letter_queue_* then point at it).
resource "aws_sqs_queue" "records_dead_letter" {
  count                     = var.records_dead_letter_queue_arn == "" ? 1 : 0
  name                      = "${var.name_prefix}-records-dlq"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
}

data "aws_iam_policy_document" "records_queue" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["sqs:*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    resources = [aws_sqs_queue.records.arn]
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sqs_queue_policy" "records" {
  queue_url = aws_sqs_queue.records.id
  policy    = data.aws_iam_policy_document.records_queue.json
}

data "aws_iam_policy_document" "records_dead_letter_queue" {
  count = var.records_dead_letter_queue_arn == "" ? 1 : 0
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["sqs:*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    resources = [aws_sqs_queue.records_dead_letter[0].arn]
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sqs_queue_policy" "records_dead_letter" {
  count     = var.records_dead_letter_queue_arn == "" ? 1 : 0
  queue_url = aws_sqs_queue.records_dead_letter[0].id
  policy    = data.aws_iam_policy_document.records_dead_letter_queue[0].json
}

# Records of the input stream: a failing batch is split (stream_bisect_on_error) and retried from
# its first failed record (ReportBatchItemFailures), then its position goes to the records
# dead-letter queue.
resource "aws_lambda_event_source_mapping" "stream_records" {
  function_name                      = aws_lambda_function.detect.arn
  event_source_arn                   = aws_kinesis_stream.records.arn
  starting_position                  = var.stream_starting_position
  batch_size                         = var.stream_batch_size
  maximum_batching_window_in_seconds = var.stream_batching_window_seconds
  bisect_batch_on_function_error     = var.stream_bisect_on_error
  maximum_retry_attempts             = var.stream_maximum_retries
  maximum_record_age_in_seconds      = var.stream_maximum_record_age_seconds
  function_response_types            = ["ReportBatchItemFailures"]
  destination_config {
    on_failure {
      destination_arn = local.records_dead_letter_queue_arn
    }
  }
}

# Messages of the input queue: the failed ones of a batch (ReportBatchItemFailures) are received
# again, up to queue_max_receive_count times (the queue's redrive policy).
resource "aws_lambda_event_source_mapping" "queue_records" {
  function_name                      = aws_lambda_function.detect.arn
  event_source_arn                   = aws_sqs_queue.records.arn
  batch_size                         = var.queue_batch_size
  maximum_batching_window_in_seconds = var.queue_batching_window_seconds
  function_response_types            = ["ReportBatchItemFailures"]
  scaling_config {
    maximum_concurrency = var.queue_maximum_concurrency
  }
  lifecycle {
    precondition {
      condition     = var.queue_batch_size <= 10 || var.queue_batching_window_seconds > 0
      error_message = "An SQS event source mapping takes more than 10 messages per batch only with a batching window: set queue_batching_window_seconds to 1 or more, or queue_batch_size to 10 or less."
    }
  }
}
