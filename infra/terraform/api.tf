# REST API: the routes of openapi.yaml, API keys required on all but GET /health, a usage plan
# (per-key rate, burst, quota), stage throttling, X-Ray, access logs and JSON gateway errors.

locals {
  # "METHOD path" => the API resource it hangs on, the function behind it, whether a key is needed.
  routes = {
    "GET /health"               = { resource = "health", function = "health", api_key_required = false }
    "GET /health/ready"         = { resource = "health_ready", function = "health", api_key_required = true }
    "POST /api/v1/detect"       = { resource = "detect", function = "detect", api_key_required = true }
    "GET /api/v1/jobs/{id}"     = { resource = "job", function = "detect", api_key_required = true }
    "GET /api/v1/models"        = { resource = "models", function = "train", api_key_required = true }
    "POST /api/v1/models"       = { resource = "models", function = "train", api_key_required = true }
    "GET /api/v1/models/{name}" = { resource = "model", function = "train", api_key_required = true }
    "POST /api/v1/backups"      = { resource = "backups", function = "backup", api_key_required = true }
    "GET /api/v1/backups"       = { resource = "backups", function = "backup", api_key_required = true }
  }

  api_resource_ids = {
    health       = aws_api_gateway_resource.health.id
    health_ready = aws_api_gateway_resource.health_ready.id
    detect       = aws_api_gateway_resource.detect.id
    job          = aws_api_gateway_resource.job.id
    models       = aws_api_gateway_resource.models.id
    model        = aws_api_gateway_resource.model.id
    backups      = aws_api_gateway_resource.backups.id
  }

  functions = {
    health = aws_lambda_function.health
    detect = aws_lambda_function.detect
    train  = aws_lambda_function.train
    backup = aws_lambda_function.backup
  }

  # API Gateway's own refusals answer in the API's error envelope (openapi.yaml).
  gateway_responses = {
    MISSING_AUTHENTICATION_TOKEN = { status = "404", body = "{\"error\":{\"code\":\"not_found\",\"message\":\"no such route\",\"request_id\":\"$context.requestId\"}}" }
    INVALID_API_KEY              = { status = "403", body = "{\"error\":{\"code\":\"forbidden\",\"message\":\"a valid x-api-key header is required\",\"request_id\":\"$context.requestId\"}}" }
    THROTTLED                    = { status = "429", body = "{\"error\":{\"code\":\"throttled\",\"message\":\"too many requests\",\"request_id\":\"$context.requestId\"}}" }
    QUOTA_EXCEEDED               = { status = "429", body = "{\"error\":{\"code\":\"quota_exceeded\",\"message\":\"the API key used its quota\",\"request_id\":\"$context.requestId\"}}" }
    DEFAULT_4XX                  = { status = null, body = "{\"error\":{\"code\":\"gateway_error\",\"message\":$context.error.messageString,\"request_id\":\"$context.requestId\"}}" }
    DEFAULT_5XX                  = { status = null, body = "{\"error\":{\"code\":\"gateway_error\",\"message\":$context.error.messageString,\"request_id\":\"$context.requestId\"}}" }
  }
}

resource "aws_api_gateway_rest_api" "api" {
  name = "${var.name_prefix}-api"
  endpoint_configuration {
    types = ["REGIONAL"]
  }
  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_api_gateway_resource" "health" {
  rest_api_id = aws_api_gateway_rest_api.api.id
  parent_id   = aws_api_gateway_rest_api.api.root_resource_id
  path_part   = "health"
}

resource "aws_api_gateway_resource" "health_ready" {
  rest_api_id = aws_api_gateway_rest_api.api.id
  parent_id   = aws_api_gateway_resource.health.id
  path_part   = "ready"
}

resource "aws_api_gateway_resource" "api" {
  rest_api_id = aws_api_gateway_rest_api.api.id
  parent_id   = aws_api_gateway_rest_api.api.root_resource_id
  path_part   = "api"
}

resource "aws_api_gateway_resource" "v1" {
  rest_api_id = aws_api_gateway_rest_api.api.id
  parent_id   = aws_api_gateway_resource.api.id
  path_part   = "v1"
}

resource "aws_api_gateway_resource" "detect" {
  rest_api_id = aws_api_gateway_rest_api.api.id
  parent_id   = aws_api_gateway_resource.v1.id
  path_part   = "detect"
}

resource "aws_api_gateway_resource" "jobs" {
  rest_api_id = aws_api_gateway_rest_api.api.id
  parent_id   = aws_api_gateway_resource.v1.id
  path_part   = "jobs"
}

resource "aws_api_gateway_resource" "job" {
  rest_api_id = aws_api_gateway_rest_api.api.id
  parent_id   = aws_api_gateway_resource.jobs.id
  path_part   = "{id}"
}

resource "aws_api_gateway_resource" "models" {
  rest_api_id = aws_api_gateway_rest_api.api.id
  parent_id   = aws_api_gateway_resource.v1.id
  path_part   = "models"
}

resource "aws_api_gateway_resource" "model" {
  rest_api_id = aws_api_gateway_rest_api.api.id
  parent_id   = aws_api_gateway_resource.models.id
  path_part   = "{name}"
}

resource "aws_api_gateway_resource" "backups" {
  rest_api_id = aws_api_gateway_rest_api.api.id
  parent_id   = aws_api_gateway_resource.v1.id
  path_part   = "backups"
}

resource "aws_api_gateway_method" "route" {
  # checkov:skip=CKV_AWS_59:Every method but GET /health requires an API key (api_key_required); /health is the open liveness probe by design and touches no data.
  # checkov:skip=CKV2_AWS_53:Request bodies and parameters are validated by the functions against openapi.yaml, which answer 400/422 with the error envelope.
  for_each         = local.routes
  rest_api_id      = aws_api_gateway_rest_api.api.id
  resource_id      = local.api_resource_ids[each.value.resource]
  http_method      = split(" ", each.key)[0]
  authorization    = "NONE"
  api_key_required = each.value.api_key_required
}

resource "aws_api_gateway_integration" "route" {
  for_each                = local.routes
  rest_api_id             = aws_api_gateway_rest_api.api.id
  resource_id             = aws_api_gateway_method.route[each.key].resource_id
  http_method             = aws_api_gateway_method.route[each.key].http_method
  type                    = "AWS_PROXY"
  integration_http_method = "POST"
  uri                     = local.functions[each.value.function].invoke_arn
}

resource "aws_lambda_permission" "api" {
  for_each      = toset(["health", "detect", "train", "backup"])
  statement_id  = "ApiGateway"
  action        = "lambda:InvokeFunction"
  function_name = local.functions[each.key].function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_api_gateway_rest_api.api.execution_arn}/*/*"
}

resource "aws_api_gateway_gateway_response" "error" {
  for_each      = local.gateway_responses
  rest_api_id   = aws_api_gateway_rest_api.api.id
  response_type = each.key
  status_code   = each.value.status
  response_templates = {
    "application/json" = each.value.body
  }
}

resource "aws_api_gateway_deployment" "api" {
  rest_api_id = aws_api_gateway_rest_api.api.id
  triggers = {
    redeployment = sha1(jsonencode([
      local.routes,
      local.gateway_responses,
      [for k, m in aws_api_gateway_method.route : m.id],
      [for k, i in aws_api_gateway_integration.route : i.id],
      [for k, r in aws_api_gateway_gateway_response.error : r.id],
    ]))
  }
  lifecycle {
    create_before_destroy = true
  }
}

# Account-wide setting API Gateway needs before it can write access logs (one per region).
resource "aws_iam_role" "apigateway_logs" {
  count              = var.create_api_gateway_account_role ? 1 : 0
  name               = "${var.name_prefix}-apigateway-logs"
  description        = "Lets API Gateway write access logs to CloudWatch Logs (account setting)."
  assume_role_policy = data.aws_iam_policy_document.apigateway_trust.json
}

data "aws_iam_policy_document" "apigateway_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["apigateway.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy_attachment" "apigateway_logs" {
  count      = var.create_api_gateway_account_role ? 1 : 0
  role       = aws_iam_role.apigateway_logs[0].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
}

resource "aws_api_gateway_account" "this" {
  count               = var.create_api_gateway_account_role ? 1 : 0
  cloudwatch_role_arn = aws_iam_role.apigateway_logs[0].arn
  depends_on          = [aws_iam_role_policy_attachment.apigateway_logs]
}

resource "aws_cloudwatch_log_group" "api_access" {
  # checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts every log group at rest; the logs hold no payloads or secrets, so a customer-managed key is not required.
  # checkov:skip=CKV_AWS_338:Retention is the log_retention_days variable (30 days by default); a year of request logs is not needed.
  name              = "/nomaly/${var.name_prefix}/api-access"
  retention_in_days = var.log_retention_days
}

resource "aws_api_gateway_stage" "api" {
  # checkov:skip=CKV_AWS_120:Responses are per request (scores, jobs, model state) and must not be served stale.
  # checkov:skip=CKV2_AWS_51:Callers authenticate with API keys over TLS; client certificates are for API Gateway calling a backend, which here is Lambda.
  # checkov:skip=CKV2_AWS_29:No WAF web ACL: the usage plan limits each key and the stage throttles all of them; attach a web ACL to the stage for IP rules if needed.
  rest_api_id          = aws_api_gateway_rest_api.api.id
  deployment_id        = aws_api_gateway_deployment.api.id
  stage_name           = var.stage_name
  xray_tracing_enabled = true
  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.api_access.arn
    format          = "{\"requestId\":\"$context.requestId\",\"ip\":\"$context.identity.sourceIp\",\"apiKeyId\":\"$context.identity.apiKeyId\",\"requestTime\":\"$context.requestTime\",\"method\":\"$context.httpMethod\",\"resourcePath\":\"$context.resourcePath\",\"path\":\"$context.path\",\"status\":\"$context.status\",\"protocol\":\"$context.protocol\",\"responseLength\":\"$context.responseLength\",\"responseLatency\":\"$context.responseLatency\",\"integrationLatency\":\"$context.integrationLatency\",\"errorType\":\"$context.error.responseType\",\"xrayTraceId\":\"$context.xrayTraceId\"}"
  }
  depends_on = [aws_api_gateway_account.this]
}

resource "aws_api_gateway_method_settings" "all" {
  # checkov:skip=CKV_AWS_225:Responses are per request (scores, jobs, model state) and must not be served stale.
  rest_api_id = aws_api_gateway_rest_api.api.id
  stage_name  = aws_api_gateway_stage.api.stage_name
  method_path = "*/*"
  settings {
    metrics_enabled        = true
    logging_level          = "ERROR"
    data_trace_enabled     = false
    throttling_rate_limit  = var.stage_rate_limit
    throttling_burst_limit = var.stage_burst_limit
  }
}

# One usage plan on the stage: per-key rate, burst and quota. More keys: README "Deploy".
resource "aws_api_gateway_usage_plan" "api" {
  name        = "${var.name_prefix}-usage-plan"
  description = "Per-key rate limit and quota for Nomaly callers."
  api_stages {
    api_id = aws_api_gateway_rest_api.api.id
    stage  = aws_api_gateway_stage.api.stage_name
  }
  throttle_settings {
    rate_limit  = var.api_rate_limit
    burst_limit = var.api_burst_limit
  }
  quota_settings {
    limit  = var.api_quota_limit
    period = var.api_quota_period
  }
}

resource "aws_api_gateway_api_key" "default" {
  name        = "${var.name_prefix}-default-key"
  description = "First API key of the usage plan; read its value with aws apigateway get-api-key --include-value."
  enabled     = true
}

resource "aws_api_gateway_usage_plan_key" "default" {
  key_id        = aws_api_gateway_api_key.default.id
  key_type      = "API_KEY"
  usage_plan_id = aws_api_gateway_usage_plan.api.id
}
