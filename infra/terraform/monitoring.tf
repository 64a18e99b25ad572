# Alarm topic, the alarms of template.yaml (errors, p95 duration and throttles per function,
# the 5xx ratio of each API function and the authorizer, failed event work, dead-letter queue
# depth, the input stream's iterator age and the records dead-letter queue's depth, failed and
# stale backups, expired jobs) and the dashboard (dashboard.json.tftpl, the same
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
  # High-severity alerts (aws_cloudwatch_event_rule.high_severity_alerts, alerts.tf), and no other
  # rule.
  statement {
    sid       = "HighSeverityAlerts"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alarms.arn]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.high_severity_alerts.arn]
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

resource "aws_cloudwatch_metric_alarm" "detect_events_errors" {
  alarm_name          = "${var.name_prefix}-detect-events-errors"
  alarm_description   = "The detect-events function returned an error or crashed (a handler Err, a panic, a timeout or an init failure) in the last 5 minutes; Lambda retries the event twice, then the dead-letter queue holds it."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.detect_events.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "detect_events_duration_p95" {
  alarm_name          = "${var.name_prefix}-detect-events-duration-p95"
  alarm_description   = "The 95th percentile of the detect-events function's duration stayed above detect_events_p95_duration_ms for 15 minutes."
  namespace           = "AWS/Lambda"
  metric_name         = "Duration"
  dimensions          = { FunctionName = aws_lambda_function.detect_events.function_name }
  extended_statistic  = "p95"
  period              = 300
  evaluation_periods  = 3
  threshold           = var.detect_events_p95_duration_ms
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "detect_events_throttles" {
  alarm_name          = "${var.name_prefix}-detect-events-throttles"
  alarm_description   = "Invocations of the detect-events function were throttled (its reserved concurrency or the account limit reached) in the last 5 minutes; events wait in Lambda's queue and are retried."
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  dimensions          = { FunctionName = aws_lambda_function.detect_events.function_name }
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

resource "aws_cloudwatch_metric_alarm" "train_events_errors" {
  alarm_name          = "${var.name_prefix}-train-events-errors"
  alarm_description   = "The train-events function returned an error or crashed (a handler Err, a panic, a timeout or an init failure) in the last 5 minutes; Lambda retries the event twice, then the dead-letter queue holds it."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.train_events.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "train_events_duration_p95" {
  alarm_name          = "${var.name_prefix}-train-events-duration-p95"
  alarm_description   = "The 95th percentile of the train-events function's duration stayed above train_events_p95_duration_ms for 15 minutes."
  namespace           = "AWS/Lambda"
  metric_name         = "Duration"
  dimensions          = { FunctionName = aws_lambda_function.train_events.function_name }
  extended_statistic  = "p95"
  period              = 300
  evaluation_periods  = 3
  threshold           = var.train_events_p95_duration_ms
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "train_events_throttles" {
  alarm_name          = "${var.name_prefix}-train-events-throttles"
  alarm_description   = "Invocations of the train-events function were throttled (its reserved concurrency or the account limit reached) in the last 5 minutes; events wait in Lambda's queue and are retried."
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  dimensions          = { FunctionName = aws_lambda_function.train_events.function_name }
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

# The input stream's records wait longer than stream_iterator_age_alarm_ms: detect falls behind
# (too few shards or too small batches, throttles, a batch failing over and over).
resource "aws_cloudwatch_metric_alarm" "detect_iterator_age" {
  alarm_name          = "${var.name_prefix}-detect-iterator-age"
  alarm_description   = "The oldest record of the input stream waiting for the detect function stayed older than stream_iterator_age_alarm_ms (AWS/Lambda IteratorAge, maximum) for 5 minutes; records past stream_maximum_record_age_seconds go to the records dead-letter queue unscored."
  namespace           = "AWS/Lambda"
  metric_name         = "IteratorAge"
  dimensions          = { FunctionName = aws_lambda_function.detect.function_name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  threshold           = var.stream_iterator_age_alarm_ms
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "records_dlq_depth" {
  alarm_name          = "${var.name_prefix}-records-dlq-depth"
  alarm_description   = "Records of the input stream or queue could not be scored and wait in the records dead-letter queue (with the reason, or the stream position of a failed batch)."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = local.records_dead_letter_queue_name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
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

# The share of 5xx answers of each API function (and the authorizer), from the EMF metrics the
# code publishes (namespace Nomaly, metric Requests, dimensions Function and Function+Status;
# Status is the HTTP status). Judged only once the function served error_ratio_min_requests in
# the 5 minutes, so one error at a quiet hour does not page; no data is not breaching. The events
# functions publish under their binary's name (detect, train) with Status ok, failed, duplicate or
# error, so they count in the total of detect and train too, never in the 5xx.
resource "aws_cloudwatch_metric_alarm" "health_error_ratio" {
  alarm_name          = "${var.name_prefix}-health-5xx-ratio"
  alarm_description   = "More than error_ratio_threshold of the health function's requests (Nomaly Requests, Function=health) answered 500, 502, 503 or 504 in the last 5 minutes, once it served at least error_ratio_min_requests."
  evaluation_periods  = 1
  threshold           = var.error_ratio_threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  metric_query {
    id          = "m500"
    return_data = false
    metric {
      namespace   = "Nomaly"
      metric_name = "Requests"
      dimensions  = { Function = "health", Status = "500" }
      period      = 300
      stat        = "Sum"
    }
  }
  metric_query {
    id          = "m502"
    return_data = false
    metric {
      namespace   = "Nomaly"
      metric_name = "Requests"
      dimensions  = { Function = "health", Status = "502" }
      period      = 300
      stat        = "Sum"
    }
  }
  metric_query {
    id          = "m503"
    return_data = false
    metric {
      namespace   = "Nomaly"
      metric_name = "Requests"
      dimensions  = { Function = "health", Status = "503" }
      period      = 300
      stat        = "Sum"
    }
  }
  metric_query {
    id          = "m504"
    return_data = false
    metric {
      namespace   = "Nomaly"
      metric_name = "Requests"
      dimensions  = { Function = "health", Status = "504" }
      period      = 300
      stat        = "Sum"
    }
  }
  metric_query {
    id          = "total"
    return_data = false
    metric {
      namespace   = "Nomaly"
      metric_name = "Requests"
      dimensions  = { Function = "health" }
      period      = 300
      stat        = "Sum"
    }
  }
  metric_query {
    id          = "ratio"
    expression  = "IF(total >= ${var.error_ratio_min_requests}, (FILL(m500, 0) + FILL(m502, 0) + FILL(m503, 0) + FILL(m504, 0)) / total, 0)"
    label       = "health 5xx ratio"
    return_data = true
  }
}

resource "aws_cloudwatch_metric_alarm" "detect_error_ratio" {
  alarm_name          = "${var.name_prefix}-detect-5xx-ratio"
  alarm_description   = "More than error_ratio_threshold of the detect function's requests (Nomaly Requests, Function=detect) answered 500, 502, 503 or 504 in the last 5 minutes, once it served at least error_ratio_min_requests."
  evaluation_periods  = 1
  threshold           = var.error_ratio_threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  metric_query {
    id          = "m500"
    return_data = false
    metric {
      namespace   = "Nomaly"
      metric_name = "Requests"
      dimensions  = { Function = "detect", Status = "500" }
      period      = 300
      stat        = "Sum"
    }
  }
  metric_query {
    id          = "m502"
    return_data = false
    metric {
      namespace   = "Nomaly"
      metric_name = "Requests"
      dimensions  = { Function = "detect", Status = "502" }
      period      = 300
      stat        = "Sum"
    }
  }
  metric_query {
    id          = "m503"
    return_data = false
    metric {
      namespace   = "Nomaly"
      metric_name = "Requests"
      dimensions  = { Function = "detect", Status = "503" }
      period      = 300
      stat        = "Sum"
    }
  }
  metric_query {
    id          = "m504"
    return_data = false
    metric {
      namespace   = "Nomaly"
      metric_name = "Requests"
      dimensions  = { Function = "detect", Status = "504" }
      period      = 300
      stat        = "Sum"
    }
  }
  metric_query {
    id          = "total"
    return_data = false
    metric {
      namespace   = "Nomaly"
      metric_name = "Requests"
      dimensions  = { Function = "detect" }
      period      = 300
      stat        = "Sum"
    }
  }
  metric_query {
    id          = "ratio"
    expression  = "IF(total >= ${var.error_ratio_min_requests}, (FILL(m500, 0) + FILL(m502, 0) + FILL(m503, 0) + FILL(m504, 0)) / total, 0)"
    label       = "detect 5xx ratio"
    return_data = true
  }
}

resource "aws_cloudwatch_metric_alarm" "train_error_ratio" {
  alarm_name          = "${var.name_prefix}-train-5xx-ratio"
  alarm_description   = "More than error_ratio_threshold of the train function's requests (Nomaly Requests, Function=train) answered 500, 502, 503 or 504 in the last 5 minutes, once it served at least error_ratio_min_requests."
  evaluation_periods  = 1
  threshold           = var.error_ratio_threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  metric_query {
    id          = "m500"
    return_data = false
    metric {
      namespace   = "Nomaly"
      metric_name = "Requests"
      dimensions  = { Function = "train", Status = "500" }
      period      = 300
      stat        = "Sum"
    }
  }
  metric_query {
    id          = "m502"
    return_data = false
    metric {
      namespace   = "Nomaly"
      metric_name = "Requests"
      dimensions  = { Function = "train", Status = "502" }
      period      = 300
      stat        = "Sum"
    }
  }
  metric_query {
    id          = "m503"
    return_data = false
    metric {
      namespace   = "Nomaly"
      metric_name = "Requests"
      dimensions  = { Function = "train", Status = "503" }
      period      = 300
      stat        = "Sum"
    }
  }
  metric_query {
    id          = "m504"
    return_data = false
    metric {
      namespace   = "Nomaly"
      metric_name = "Requests"
      dimensions  = { Function = "train", Status = "504" }
      period      = 300
      stat        = "Sum"
    }
  }
  metric_query {
    id          = "total"
    return_data = false
    metric {
      namespace   = "Nomaly"
      metric_name = "Requests"
      dimensions  = { Function = "train" }
      period      = 300
      stat        = "Sum"
    }
  }
  metric_query {
    id          = "ratio"
    expression  = "IF(total >= ${var.error_ratio_min_requests}, (FILL(m500, 0) + FILL(m502, 0) + FILL(m503, 0) + FILL(m504, 0)) / total, 0)"
    label       = "train 5xx ratio"
    return_data = true
  }
}

resource "aws_cloudwatch_metric_alarm" "backup_error_ratio" {
  alarm_name          = "${var.name_prefix}-backup-5xx-ratio"
  alarm_description   = "More than error_ratio_threshold of the backup function's requests (Nomaly Requests, Function=backup) answered 500, 502, 503 or 504 in the last 5 minutes, once it served at least error_ratio_min_requests."
  evaluation_periods  = 1
  threshold           = var.error_ratio_threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  metric_query {
    id          = "m500"
    return_data = false
    metric {
      namespace   = "Nomaly"
      metric_name = "Requests"
      dimensions  = { Function = "backup", Status = "500" }
      period      = 300
      stat        = "Sum"
    }
  }
  metric_query {
    id          = "m502"
    return_data = false
    metric {
      namespace   = "Nomaly"
      metric_name = "Requests"
      dimensions  = { Function = "backup", Status = "502" }
      period      = 300
      stat        = "Sum"
    }
  }
  metric_query {
    id          = "m503"
    return_data = false
    metric {
      namespace   = "Nomaly"
      metric_name = "Requests"
      dimensions  = { Function = "backup", Status = "503" }
      period      = 300
      stat        = "Sum"
    }
  }
  metric_query {
    id          = "m504"
    return_data = false
    metric {
      namespace   = "Nomaly"
      metric_name = "Requests"
      dimensions  = { Function = "backup", Status = "504" }
      period      = 300
      stat        = "Sum"
    }
  }
  metric_query {
    id          = "total"
    return_data = false
    metric {
      namespace   = "Nomaly"
      metric_name = "Requests"
      dimensions  = { Function = "backup" }
      period      = 300
      stat        = "Sum"
    }
  }
  metric_query {
    id          = "ratio"
    expression  = "IF(total >= ${var.error_ratio_min_requests}, (FILL(m500, 0) + FILL(m502, 0) + FILL(m503, 0) + FILL(m504, 0)) / total, 0)"
    label       = "backup 5xx ratio"
    return_data = true
  }
}

resource "aws_cloudwatch_metric_alarm" "keys_error_ratio" {
  alarm_name          = "${var.name_prefix}-keys-5xx-ratio"
  alarm_description   = "More than error_ratio_threshold of the keys function's requests (Nomaly Requests, Function=keys) answered 500, 502, 503 or 504 in the last 5 minutes, once it served at least error_ratio_min_requests."
  evaluation_periods  = 1
  threshold           = var.error_ratio_threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  metric_query {
    id          = "m500"
    return_data = false
    metric {
      namespace   = "Nomaly"
      metric_name = "Requests"
      dimensions  = { Function = "keys", Status = "500" }
      period      = 300
      stat        = "Sum"
    }
  }
  metric_query {
    id          = "m502"
    return_data = false
    metric {
      namespace   = "Nomaly"
      metric_name = "Requests"
      dimensions  = { Function = "keys", Status = "502" }
      period      = 300
      stat        = "Sum"
    }
  }
  metric_query {
    id          = "m503"
    return_data = false
    metric {
      namespace   = "Nomaly"
      metric_name = "Requests"
      dimensions  = { Function = "keys", Status = "503" }
      period      = 300
      stat        = "Sum"
    }
  }
  metric_query {
    id          = "m504"
    return_data = false
    metric {
      namespace   = "Nomaly"
      metric_name = "Requests"
      dimensions  = { Function = "keys", Status = "504" }
      period      = 300
      stat        = "Sum"
    }
  }
  metric_query {
    id          = "total"
    return_data = false
    metric {
      namespace   = "Nomaly"
      metric_name = "Requests"
      dimensions  = { Function = "keys" }
      period      = 300
      stat        = "Sum"
    }
  }
  metric_query {
    id          = "ratio"
    expression  = "IF(total >= ${var.error_ratio_min_requests}, (FILL(m500, 0) + FILL(m502, 0) + FILL(m503, 0) + FILL(m504, 0)) / total, 0)"
    label       = "keys 5xx ratio"
    return_data = true
  }
}

resource "aws_cloudwatch_metric_alarm" "authorizer_error_ratio" {
  alarm_name          = "${var.name_prefix}-authorizer-5xx-ratio"
  alarm_description   = "More than error_ratio_threshold of the authorizer function's requests (Nomaly Requests, Function=authorizer) answered 500, 502, 503 or 504 in the last 5 minutes, once it served at least error_ratio_min_requests."
  evaluation_periods  = 1
  threshold           = var.error_ratio_threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  metric_query {
    id          = "m500"
    return_data = false
    metric {
      namespace   = "Nomaly"
      metric_name = "Requests"
      dimensions  = { Function = "authorizer", Status = "500" }
      period      = 300
      stat        = "Sum"
    }
  }
  metric_query {
    id          = "m502"
    return_data = false
    metric {
      namespace   = "Nomaly"
      metric_name = "Requests"
      dimensions  = { Function = "authorizer", Status = "502" }
      period      = 300
      stat        = "Sum"
    }
  }
  metric_query {
    id          = "m503"
    return_data = false
    metric {
      namespace   = "Nomaly"
      metric_name = "Requests"
      dimensions  = { Function = "authorizer", Status = "503" }
      period      = 300
      stat        = "Sum"
    }
  }
  metric_query {
    id          = "m504"
    return_data = false
    metric {
      namespace   = "Nomaly"
      metric_name = "Requests"
      dimensions  = { Function = "authorizer", Status = "504" }
      period      = 300
      stat        = "Sum"
    }
  }
  metric_query {
    id          = "total"
    return_data = false
    metric {
      namespace   = "Nomaly"
      metric_name = "Requests"
      dimensions  = { Function = "authorizer" }
      period      = 300
      stat        = "Sum"
    }
  }
  metric_query {
    id          = "ratio"
    expression  = "IF(total >= ${var.error_ratio_min_requests}, (FILL(m500, 0) + FILL(m502, 0) + FILL(m503, 0) + FILL(m504, 0)) / total, 0)"
    label       = "authorizer 5xx ratio"
    return_data = true
  }
}

# Event work that failed on our side (Status error: retried, then the dead-letter queue); a
# refused input is Status failed (the job says why), a redelivered event duplicate.
resource "aws_cloudwatch_metric_alarm" "detect_events_error_status" {
  alarm_name          = "${var.name_prefix}-detect-events-error-status"
  alarm_description   = "Uploads under incoming/detect/ could not be scored (Nomaly Requests, Function=detect, Status=error) in the last 5 minutes; Lambda retries them, then the dead-letter queue holds them."
  namespace           = "Nomaly"
  metric_name         = "Requests"
  dimensions          = { Function = "detect", Status = "error" }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "train_events_error_status" {
  alarm_name          = "${var.name_prefix}-train-events-error-status"
  alarm_description   = "Uploads under incoming/train/ or the scheduled retraining could not be trained from (Nomaly Requests, Function=train, Status=error) in the last 5 minutes; Lambda retries them, then the dead-letter queue holds them."
  namespace           = "Nomaly"
  metric_name         = "Requests"
  dimensions          = { Function = "train", Status = "error" }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

# BackupsSucceeded is emitted (EMF, Function=backup) once per completed backup: none in a day means
# the newest good backup is older than a day. No data is breaching (a backup that never ran emits
# nothing); only when the daily backup is scheduled (backup_enabled).
resource "aws_cloudwatch_metric_alarm" "backup_stale" {
  count               = var.backup_enabled ? 1 : 0
  alarm_name          = "${var.name_prefix}-backup-stale"
  alarm_description   = "No backup completed in the last 24 hours (Nomaly BackupsSucceeded summed over a day is below 1, or absent); the newest good backup is older than a day."
  namespace           = "Nomaly"
  metric_name         = "BackupsSucceeded"
  dimensions          = { Function = "backup" }
  statistic           = "Sum"
  period              = 86400
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

# JobsExpired is emitted (EMF, Function=backup) by the sweep for every job it found running past
# its lease and marked failed.
resource "aws_cloudwatch_metric_alarm" "jobs_expired" {
  alarm_name          = "${var.name_prefix}-jobs-expired"
  alarm_description   = "The sweep marked jobs failed whose lease expired while they were running (Nomaly JobsExpired above 0 in the last hour) - a function died, ran out of time or memory mid-job."
  namespace           = "Nomaly"
  metric_name         = "JobsExpired"
  dimensions          = { Function = "backup" }
  statistic           = "Sum"
  period              = 3600
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

# A job execution failed: its job is marked failed (job_fail) and says why; a failure of the state
# machine itself (a role, a plan that cannot be read) shows here too.
resource "aws_cloudwatch_metric_alarm" "jobs_failed" {
  alarm_name          = "${var.name_prefix}-jobs-failed"
  alarm_description   = "An asynchronous job (training from an object, or a split batch job) failed on the jobs state machine in the last 5 minutes (AWS/States ExecutionsFailed)."
  namespace           = "AWS/States"
  metric_name         = "ExecutionsFailed"
  dimensions          = { StateMachineArn = aws_sfn_state_machine.jobs.arn }
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
# Function = health|detect|train|backup|keys|authorizer, and Function + Status; detect_events and
# train_events publish as detect and train) and the AWS service metrics; then the 5xx ratios the
# alarms watch, completed backups, jobs the sweep found expired and the jobs state machine's
# executions.
resource "aws_cloudwatch_dashboard" "nomaly" {
  dashboard_name = "${var.name_prefix}-${local.region}"
  dashboard_body = templatefile("${path.module}/dashboard.json.tftpl", {
    region                 = local.region
    name_prefix            = var.name_prefix
    stage_name             = var.stage_name
    health_function        = aws_lambda_function.health.function_name
    detect_function        = aws_lambda_function.detect.function_name
    detect_events_function = aws_lambda_function.detect_events.function_name
    train_function         = aws_lambda_function.train.function_name
    train_events_function  = aws_lambda_function.train_events.function_name
    backup_function        = aws_lambda_function.backup.function_name
    keys_function          = aws_lambda_function.keys.function_name
    authorizer_function    = aws_lambda_function.authorizer.function_name
    dlq_name               = aws_sqs_queue.dlq.name
    records_dlq_name       = local.records_dead_letter_queue_name
    jobs_state_machine     = aws_sfn_state_machine.jobs.arn
  })
}
