# Asynchronous jobs: {"job": {kind, tenant, id, bucket, plan_key, ...}} (a job ticket). A train job
# runs on train_events; a batch job's byte ranges (its plan, batch/{tenant}/{job}/plan.json) are
# scored in parallel by detect_events (Distributed Map, batch_max_concurrency at once) and joined
# into one results object. The definition is ../statemachine/jobs.asl.json, also template.yaml's
# (DefinitionUri); its placeholders are templatefile's variables. Its ARN is also computed from its
# fixed name (local.jobs_state_machine_arn, versions.tf): it invokes the events functions, so they
# and their roles cannot refer to it.

# Step Functions log groups under /aws/vendedlogs/ need no resource policy per log group.
resource "aws_cloudwatch_log_group" "jobs" {
  # checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts every log group at rest; the logs hold no payloads or secrets, so a customer-managed key is not required.
  # checkov:skip=CKV_AWS_338:Retention is the log_retention_days variable (30 days by default); a year of request logs is not needed.
  name              = "/aws/vendedlogs/states/${var.name_prefix}-jobs"
  retention_in_days = var.log_retention_days
}

data "aws_iam_policy_document" "states_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["states.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "jobs_state_machine" {
  name               = "${var.name_prefix}-jobs"
  description        = "Nomaly jobs state machine - invokes detect-events and train-events, reads batch plans, runs its Distributed Map child executions."
  assume_role_policy = data.aws_iam_policy_document.states_trust.json
}

# Invokes the two events functions, reads batch plans (the Distributed Map's ItemReader), starts
# and watches its own child executions (Distributed Map), delivers its logs and traces.
data "aws_iam_policy_document" "jobs_state_machine" {
  # checkov:skip=CKV_AWS_111:CloudWatch Logs log delivery (CreateLogDelivery, PutResourcePolicy, ...) and X-Ray sampling actions support no resource-level permissions; Step Functions documents Resource "*" for them.
  # checkov:skip=CKV_AWS_356:CloudWatch Logs log delivery and X-Ray actions support no resource-level permissions (Resource "*" is what Step Functions documents).
  statement {
    sid       = "InvokeEventsFunctions"
    actions   = ["lambda:InvokeFunction"]
    resources = [aws_lambda_function.detect_events.arn, aws_lambda_function.train_events.arn]
  }
  # The Distributed Map reads the plan of a split job (batch/{tenant}/{job}/plan.json).
  statement {
    sid       = "ReadPlans"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.models.arn}/batch/*"]
  }
  # Distributed Map: its child executions run on this state machine.
  statement {
    sid       = "StartChildExecutions"
    actions   = ["states:StartExecution"]
    resources = [local.jobs_state_machine_arn]
  }
  statement {
    sid     = "WatchExecutions"
    actions = ["states:DescribeExecution", "states:StopExecution"]
    resources = [
      "arn:${local.partition}:states:${local.region}:${local.account_id}:execution:${var.name_prefix}-jobs:*",
      "arn:${local.partition}:states:${local.region}:${local.account_id}:execution:${var.name_prefix}-jobs/*",
    ]
  }
  statement {
    sid       = "LogDelivery"
    actions   = ["logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups"]
    resources = ["*"]
  }
  statement {
    sid       = "XRay"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "jobs_state_machine" {
  name   = "jobs"
  role   = aws_iam_role.jobs_state_machine.id
  policy = data.aws_iam_policy_document.jobs_state_machine.json
}

resource "aws_sfn_state_machine" "jobs" {
  # checkov:skip=CKV_AWS_285:Execution data (job tickets: tenant, keys, errors) stays out of the logs; the job records keep what a job did, and level ERROR logs every failure.
  name     = "${var.name_prefix}-jobs"
  type     = "STANDARD"
  role_arn = aws_iam_role.jobs_state_machine.arn
  definition = templatefile("${path.module}/../statemachine/jobs.asl.json", {
    DetectEventsFunctionArn = aws_lambda_function.detect_events.arn
    TrainEventsFunctionArn  = aws_lambda_function.train_events.arn
    MaxConcurrency          = var.batch_max_concurrency
  })
  logging_configuration {
    log_destination        = "${aws_cloudwatch_log_group.jobs.arn}:*"
    include_execution_data = false
    level                  = "ERROR"
  }
  tracing_configuration {
    enabled = true
  }
  depends_on = [aws_iam_role_policy.jobs_state_machine]
}
