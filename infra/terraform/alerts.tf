# Alerts: the detect function publishes Anomaly Detected (one per anomalous stream or queue record,
# at most one per model and entity per alert_window_seconds) and Job Anomalies Found (one per job
# that found anomalies) events, source nomaly, on the alert bus (NOMALY_EVENT_BUS). Route them
# anywhere with a rule on source nomaly; high-severity ones go to the alarm topic and, when
# alert_webhook_url is set, to the webhook. As template.yaml's AlertBus, HighSeverityAlertsRule and
# AlertWebhook* resources.

locals {
  # alert_bus_name "default" publishes on the account's default bus and creates none.
  alert_bus_name = var.alert_bus_name != "default" ? aws_cloudwatch_event_bus.alerts[0].name : "default"
  alert_bus_arn  = var.alert_bus_name != "default" ? aws_cloudwatch_event_bus.alerts[0].arn : "arn:${local.partition}:events:${local.region}:${local.account_id}:event-bus/default"
}

resource "aws_cloudwatch_event_bus" "alerts" {
  count = var.alert_bus_name != "default" ? 1 : 0
  name  = var.alert_bus_name == "" ? "${var.name_prefix}-alerts" : var.alert_bus_name
}

# Anomaly Detected events of high severity (detail.severity) go to the alarm topic: whoever
# receives the alarms hears of them (the whole event, as JSON). The topic's policy
# (monitoring.tf) lets this rule, and no other, publish.
resource "aws_cloudwatch_event_rule" "high_severity_alerts" {
  name           = "${var.name_prefix}-high-severity-alerts"
  description    = "High-severity Nomaly anomaly alerts to the alarm topic."
  event_bus_name = local.alert_bus_name
  state          = "ENABLED"
  event_pattern  = "{\"source\":[\"nomaly\"],\"detail-type\":[\"Anomaly Detected\"],\"detail\":{\"severity\":[\"high\"]}}"
}

resource "aws_cloudwatch_event_target" "high_severity_alerts" {
  rule           = aws_cloudwatch_event_rule.high_severity_alerts.name
  event_bus_name = local.alert_bus_name
  target_id      = "alarm-topic"
  arn            = aws_sns_topic.alarms.arn
}

# The optional webhook (alert_webhook_url): an EventBridge API destination that POSTs a chat-style
# message for every high-severity alert, at most 10 calls a second (EventBridge retries failed
# calls for up to 24 hours). The connection keeps the API key (alert_webhook_header_name:
# alert_webhook_secret) in a Secrets Manager secret EventBridge manages.
resource "aws_cloudwatch_event_connection" "alert_webhook" {
  count              = var.alert_webhook_url != "" ? 1 : 0
  name               = "${var.name_prefix}-alert-webhook"
  description        = "The API key sent with every call of the alert webhook."
  authorization_type = "API_KEY"
  auth_parameters {
    api_key {
      key   = var.alert_webhook_header_name
      value = var.alert_webhook_secret != "" ? var.alert_webhook_secret : "none"
    }
  }
}

resource "aws_cloudwatch_event_api_destination" "alert_webhook" {
  count                            = var.alert_webhook_url != "" ? 1 : 0
  name                             = "${var.name_prefix}-alert-webhook"
  description                      = "The alert webhook (alert_webhook_url)."
  connection_arn                   = aws_cloudwatch_event_connection.alert_webhook[0].arn
  invocation_endpoint              = var.alert_webhook_url
  http_method                      = "POST"
  invocation_rate_limit_per_second = 10
}

data "aws_iam_policy_document" "events_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "alert_webhook" {
  count              = var.alert_webhook_url != "" ? 1 : 0
  name               = "${var.name_prefix}-alert-webhook"
  description        = "Nomaly alert webhook - lets EventBridge call the alert webhook's API destination."
  assume_role_policy = data.aws_iam_policy_document.events_trust.json
}

data "aws_iam_policy_document" "alert_webhook" {
  count = var.alert_webhook_url != "" ? 1 : 0
  statement {
    sid       = "InvokeWebhook"
    actions   = ["events:InvokeApiDestination"]
    resources = [aws_cloudwatch_event_api_destination.alert_webhook[0].arn]
  }
}

resource "aws_iam_role_policy" "alert_webhook" {
  count  = var.alert_webhook_url != "" ? 1 : 0
  name   = "alert-webhook"
  role   = aws_iam_role.alert_webhook[0].id
  policy = data.aws_iam_policy_document.alert_webhook[0].json
}

resource "aws_cloudwatch_event_rule" "alert_webhook" {
  count          = var.alert_webhook_url != "" ? 1 : 0
  name           = "${var.name_prefix}-alert-webhook"
  description    = "High-severity Nomaly anomaly alerts to the alert webhook, as a chat message."
  event_bus_name = local.alert_bus_name
  state          = "ENABLED"
  event_pattern  = "{\"source\":[\"nomaly\"],\"detail-type\":[\"Anomaly Detected\"],\"detail\":{\"severity\":[\"high\"]}}"
}

resource "aws_cloudwatch_event_target" "alert_webhook" {
  count          = var.alert_webhook_url != "" ? 1 : 0
  rule           = aws_cloudwatch_event_rule.alert_webhook[0].name
  event_bus_name = local.alert_bus_name
  target_id      = "alert-webhook"
  arn            = aws_cloudwatch_event_api_destination.alert_webhook[0].arn
  role_arn       = aws_iam_role.alert_webhook[0].arn
  input_transformer {
    input_paths = {
      severity = "$.detail.severity"
      model    = "$.detail.model"
      entity   = "$.detail.entity"
      score    = "$.detail.score"
    }
    input_template = "{\"text\": \"<severity> anomaly in <model> for <entity>: score <score>\"}"
  }
}
