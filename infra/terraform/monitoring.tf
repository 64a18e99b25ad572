# Alarm topic, the alarms of template.yaml (errors, p95 duration and throttles per function,
# dead-letter queue depth, failed backups) and the dashboard (dashboard.json.tftpl, the same
# body as template.yaml's; ../parity.py compares them).

resource "aws_sns_topic" "alarms" {
  # checkov:skip=CKV_AWS_26:CloudWatch alarms cannot publish to a topic encrypted with the AWS-managed aws/sns key, and alarm messages carry only alarm names and states.
  name         = "${var.name_prefix}-alarms"
  display_name = "Nomaly alarms"
}

data "aws_iam_policy_document" "alarms" {
  statement {
    sid       = "CloudWatchAlarms"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alarms.arn]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:cloudwatch:${local.region}:${local.account_id}:alarm:*"]
    }
  }
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alarms.arn]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sns_topic_policy" "alarms" {
  arn    = aws_sns_topic.alarms.arn
  policy = data.aws_iam_policy_document.alarms.json
}

resource "aws_sns_topic_subscription" "alarm_email" {
  count     = var.alarm_email == "" ? 0 : 1
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

resource "aws_cloudwatch_metric_alarm" "health_errors" {
  alarm_name          = "${var.name_prefix}-health-errors"
  alarm_description   = "The health function returned an error or crashed (a handler Err, a panic, a timeout or an init failure) in the last 5 minutes."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.health.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "health_duration_p95" {
  alarm_name          = "${var.name_prefix}-health-duration-p95"
  alarm_description   = "The 95th percentile of the health function's duration stayed above health_p95_duration_ms for 15 minutes."
  namespace           = "AWS/Lambda"
  metric_name         = "Duration"
  dimensions          = { FunctionName = aws_lambda_function.health.function_name }
  extended_statistic  = "p95"
  period              = 300
  evaluation_periods  = 3
  threshold           = var.health_p95_duration_ms
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "health_throttles" {
  alarm_name          = "${var.name_prefix}-health-throttles"
  alarm_description   = "Invocations of the health function were throttled (reserved concurrency or the account limit reached) in the last 5 minutes."
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  dimensions          = { FunctionName = aws_lambda_function.health.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "detect_errors" {
  alarm_name          = "${var.name_prefix}-detect-errors"
  alarm_description   = "The detect function returned an error or crashed (a handler Err, a panic, a timeout or an init failure) in the last 5 minutes."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.detect.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "detect_duration_p95" {
  alarm_name          = "${var.name_prefix}-detect-duration-p95"
  alarm_description   = "The 95th percentile of the detect function's duration stayed above detect_p95_duration_ms for 15 minutes."
  namespace           = "AWS/Lambda"
  metric_name         = "Duration"
  dimensions          = { FunctionName = aws_lambda_function.detect.function_name }
  extended_statistic  = "p95"
  period              = 300
  evaluation_periods  = 3
  threshold           = var.detect_p95_duration_ms
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "detect_throttles" {
  alarm_name          = "${var.name_prefix}-detect-throttles"
  alarm_description   = "Invocations of the detect function were throttled (reserved concurrency or the account limit reached) in the last 5 minutes."
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  dimensions          = { FunctionName = aws_lambda_function.detect.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "train_errors" {
  alarm_name          = "${var.name_prefix}-train-errors"
  alarm_description   = "The train function returned an error or crashed (a handler Err, a panic, a timeout or an init failure) in the last 5 minutes."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.train.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "train_duration_p95" {
  alarm_name          = "${var.name_prefix}-train-duration-p95"
  alarm_description   = "The 95th percentile of the train function's duration stayed above train_p95_duration_ms for 15 minutes."
  namespace           = "AWS/Lambda"
  metric_name         = "Duration"
  dimensions          = { FunctionName = aws_lambda_function.train.function_name }
  extended_statistic  = "p95"
  period              = 300
  evaluation_periods  = 3
  threshold           = var.train_p95_duration_ms
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "train_throttles" {
  alarm_name          = "${var.name_prefix}-train-throttles"
  alarm_description   = "Invocations of the train function were throttled (reserved concurrency or the account limit reached) in the last 5 minutes."
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  dimensions          = { FunctionName = aws_lambda_function.train.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "backup_errors" {
  alarm_name          = "${var.name_prefix}-backup-errors"
  alarm_description   = "The backup function returned an error or crashed (a handler Err, a panic, a timeout or an init failure) in the last 5 minutes."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.backup.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "backup_duration_p95" {
  alarm_name          = "${var.name_prefix}-backup-duration-p95"
  alarm_description   = "The 95th percentile of the backup function's duration stayed above backup_p95_duration_ms for 15 minutes."
  namespace           = "AWS/Lambda"
  metric_name         = "Duration"
  dimensions          = { FunctionName = aws_lambda_function.backup.function_name }
  extended_statistic  = "p95"
  period              = 300
  evaluation_periods  = 3
  threshold           = var.backup_p95_duration_ms
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "backup_throttles" {
  alarm_name          = "${var.name_prefix}-backup-throttles"
  alarm_description   = "Invocations of the backup function were throttled (reserved concurrency or the account limit reached) in the last 5 minutes."
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  dimensions          = { FunctionName = aws_lambda_function.backup.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "keys_errors" {
  alarm_name          = "${var.name_prefix}-keys-errors"
  alarm_description   = "The keys function returned an error or crashed (a handler Err, a panic, a timeout or an init failure) in the last 5 minutes."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.keys.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "keys_duration_p95" {
  alarm_name          = "${var.name_prefix}-keys-duration-p95"
  alarm_description   = "The 95th percentile of the keys function's duration stayed above keys_p95_duration_ms for 15 minutes."
  namespace           = "AWS/Lambda"
  metric_name         = "Duration"
  dimensions          = { FunctionName = aws_lambda_function.keys.function_name }
  extended_statistic  = "p95"
  period              = 300
  evaluation_periods  = 3
  threshold           = var.keys_p95_duration_ms
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "keys_throttles" {
  alarm_name          = "${var.name_prefix}-keys-throttles"
  alarm_description   = "Invocations of the keys function were throttled (reserved concurrency or the account limit reached) in the last 5 minutes."
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  dimensions          = { FunctionName = aws_lambda_function.keys.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "authorizer_errors" {
  alarm_name          = "${var.name_prefix}-authorizer-errors"
  alarm_description   = "The authorizer function returned an error or crashed (a handler Err, a panic, a timeout or an init failure) in the last 5 minutes; callers got 503 unavailable (a refused credential is not an error)."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.authorizer.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "authorizer_duration_p95" {
  alarm_name          = "${var.name_prefix}-authorizer-duration-p95"
  alarm_description   = "The 95th percentile of the authorizer function's duration stayed above authorizer_p95_duration_ms for 15 minutes."
  namespace           = "AWS/Lambda"
  metric_name         = "Duration"
  dimensions          = { FunctionName = aws_lambda_function.authorizer.function_name }
  extended_statistic  = "p95"
  period              = 300
  evaluation_periods  = 3
  threshold           = var.authorizer_p95_duration_ms
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "authorizer_throttles" {
  alarm_name          = "${var.name_prefix}-authorizer-throttles"
  alarm_description   = "Invocations of the authorizer function were throttled (reserved concurrency or the account limit reached) in the last 5 minutes."
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  dimensions          = { FunctionName = aws_lambda_function.authorizer.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "dlq_depth" {
  alarm_name          = "${var.name_prefix}-dlq-depth"
  alarm_description   = "An S3 upload or a scheduled run failed after its retries and waits in the dead-letter queue."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dlq.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

# BackupsFailed is emitted (EMF, namespace Nomaly, Function=backup) by the backup function
# for every backup that did not complete.
resource "aws_cloudwatch_metric_alarm" "backup_failed" {
  alarm_name          = "${var.name_prefix}-backup-failed"
  alarm_description   = "A backup did not complete (Nomaly BackupsFailed); the last good backup is older than it should be."
  namespace           = "Nomaly"
  metric_name         = "BackupsFailed"
  dimensions          = { Function = "backup" }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

# The panels of Pynomaly's Grafana boards, from the EMF metrics (namespace Nomaly, dimension
# Function = health|detect|train|backup|keys, and Function + Status) and the AWS service metrics
# (the authorizer emits no EMF: its Lambda metrics stand for it).
resource "aws_cloudwatch_dashboard" "nomaly" {
  dashboard_name = "${var.name_prefix}-${local.region}"
  dashboard_body = templatefile("${path.module}/dashboard.json.tftpl", {
    region              = local.region
    name_prefix         = var.name_prefix
    stage_name          = var.stage_name
    health_function     = aws_lambda_function.health.function_name
    detect_function     = aws_lambda_function.detect.function_name
    train_function      = aws_lambda_function.train.function_name
    backup_function     = aws_lambda_function.backup.function_name
    keys_function       = aws_lambda_function.keys.function_name
    authorizer_function = aws_lambda_function.authorizer.function_name
    dlq_name            = aws_sqs_queue.dlq.name
  })
}
