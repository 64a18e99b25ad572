# REST API: the routes of openapi.yaml, the authorizer function as the Lambda REQUEST authorizer
# of every route but GET /health and GET /health/ready, a usage plan metering each API key (the
# authorizer answers the caller's gateway key; api_key_source AUTHORIZER), stage throttling, X-Ray,
# access logs and JSON gateway errors.

locals {
  # "METHOD path" => the API resource it hangs on, the function behind it, whether the authorizer
  # checks the caller first and its usage-plan key is required (false: public).
  routes = {
    "GET /health"                     = { resource = "health", function = "health", authorized = false }
    "GET /health/ready"               = { resource = "health_ready", function = "health", authorized = false }
    "POST /api/v1/detect"             = { resource = "detect", function = "detect", authorized = true }
    "GET /api/v1/jobs/{id}"           = { resource = "job", function = "detect", authorized = true }
    "GET /api/v1/models/{name}/jobs"  = { resource = "model_jobs", function = "detect", authorized = true }
    "POST /api/v1/models/{name}/jobs" = { resource = "model_jobs", function = "detect", authorized = true }
    "POST /api/v1/uploads"            = { resource = "uploads", function = "detect", authorized = true }
    "GET /api/v1/models"              = { resource = "models", function = "train", authorized = true }
    "POST /api/v1/models"             = { resource = "models", function = "train", authorized = true }
    "GET /api/v1/models/{name}"       = { resource = "model", function = "train", authorized = true }
    "POST /api/v1/backups"            = { resource = "backups", function = "backup", authorized = true }
    "GET /api/v1/backups"             = { resource = "backups", function = "backup", authorized = true }
    "POST /api/v1/keys"               = { resource = "keys", function = "keys", authorized = true }
    "GET /api/v1/keys"                = { resource = "keys", function = "keys", authorized = true }
    "DELETE /api/v1/keys/{id}"        = { resource = "key", function = "keys", authorized = true }

    # Time series (detect): appending points, series detection, a tenant's series and one series.
    "POST /api/v1/series/{name}/points" = { resource = "series_points", function = "detect", authorized = true }
    "POST /api/v1/series/detect"        = { resource = "series_detect", function = "detect", authorized = true }
    "GET /api/v1/series"                = { resource = "series", function = "detect", authorized = true }
    "GET /api/v1/series/{name}"         = { resource = "series_one", function = "detect", authorized = true }

    # A model's labelled rows (detect): POST writes labels (scope train), GET lists them (scope
    # read); the authorizer answers the scopes, the function checks them.
    "POST /api/v1/models/{name}/labels" = { resource = "model_labels", function = "detect", authorized = true }
    "GET /api/v1/models/{name}/labels"  = { resource = "model_labels", function = "detect", authorized = true }
  }

  api_resource_ids = {
    health       = aws_api_gateway_resource.health.id
    health_ready = aws_api_gateway_resource.health_ready.id
    detect       = aws_api_gateway_resource.detect.id
    job          = aws_api_gateway_resource.job.id
    models       = aws_api_gateway_resource.models.id
    model        = aws_api_gateway_resource.model.id
    model_jobs   = aws_api_gateway_resource.model_jobs.id
    uploads      = aws_api_gateway_resource.uploads.id
    backups      = aws_api_gateway_resource.backups.id
    keys         = aws_api_gateway_resource.keys.id
    key          = aws_api_gateway_resource.key.id

    series        = aws_api_gateway_resource.series.id
    series_detect = aws_api_gateway_resource.series_detect.id
    series_one    = aws_api_gateway_resource.series_one.id
    series_points = aws_api_gateway_resource.series_points.id

    model_labels = aws_api_gateway_resource.model_labels.id
  }

  functions = {
    health = aws_lambda_function.health
    detect = aws_lambda_function.detect
    train  = aws_lambda_function.train
    backup = aws_lambda_function.backup
    keys   = aws_lambda_function.keys
  }

  # What the integrations invoke. The keys function by its computed ARN, not a reference: it holds
  # the usage plan's id (NOMALY_USAGE_PLAN_ID), the plan needs the stage and the stage's deployment
  # the integrations, so a reference would be a cycle (template.yaml does the same).
  integration_uris = {
    health = aws_lambda_function.health.invoke_arn
    detect = aws_lambda_function.detect.invoke_arn
    train  = aws_lambda_function.train.invoke_arn
    backup = aws_lambda_function.backup.invoke_arn
    keys   = "arn:${local.partition}:apigateway:${local.region}:lambda:path/2015-03-31/functions/arn:${local.partition}:lambda:${local.region}:${local.account_id}:function:${var.name_prefix}-keys/invocations"
  }

  # The usage-plan key every JWT caller is metered under: deterministic and no secret (clients
  # never send it; only the authorizer hands it to API Gateway, as NOMALY_JWT_USAGE_KEY).
  jwt_usage_key = "nomaly-jwt-${local.account_id}-${var.name_prefix}"

  # API Gateway's own refusals answer in the API's error envelope (openapi.yaml).
  gateway_responses = {
    MISSING_AUTHENTICATION_TOKEN = { status = "404", body = "{\"error\":{\"code\":\"not_found\",\"message\":\"no such route\",\"request_id\":\"$context.requestId\"}}" }
    UNAUTHORIZED                 = { status = "401", body = "{\"error\":{\"code\":\"unauthorized\",\"message\":\"send 'Authorization: Bearer <API key or token>' with a valid credential\",\"request_id\":\"$context.requestId\"}}" }
    ACCESS_DENIED                = { status = "403", body = "{\"error\":{\"code\":\"forbidden\",\"message\":\"the credential may not call this API\",\"request_id\":\"$context.requestId\"}}" }
    AUTHORIZER_FAILURE           = { status = "503", body = "{\"error\":{\"code\":\"unavailable\",\"message\":\"the credential could not be checked; retry later\",\"request_id\":\"$context.requestId\"}}" }
    INVALID_API_KEY              = { status = "403", body = "{\"error\":{\"code\":\"forbidden\",\"message\":\"no usage plan key for this credential\",\"request_id\":\"$context.requestId\"}}" }
    THROTTLED                    = { status = "429", body = "{\"error\":{\"code\":\"throttled\",\"message\":\"too many requests\",\"request_id\":\"$context.requestId\"}}" }
    QUOTA_EXCEEDED               = { status = "429", body = "{\"error\":{\"code\":\"quota_exceeded\",\"message\":\"the API key used its quota\",\"request_id\":\"$context.requestId\"}}" }
    DEFAULT_4XX                  = { status = null, body = "{\"error\":{\"code\":\"gateway_error\",\"message\":$context.error.messageString,\"request_id\":\"$context.requestId\"}}" }
    DEFAULT_5XX                  = { status = null, body = "{\"error\":{\"code\":\"gateway_error\",\"message\":$context.error.messageString,\"request_id\":\"$context.requestId\"}}" }
  }
}

resource "aws_api_gateway_rest_api" "api" {
  name = "${var.name_prefix}-api"
  # Usage-plan keys come from the authorizer's answer (usageIdentifierKey), not a header.
  api_key_source = "AUTHORIZER"
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

# A model's jobs: GET lists them, POST starts a batch job on an object.
resource "aws_api_gateway_resource" "model_jobs" {
  rest_api_id = aws_api_gateway_rest_api.api.id
  parent_id   = aws_api_gateway_resource.model.id
  path_part   = "jobs"
}

# A model's labelled rows: POST writes labels, GET lists them.
resource "aws_api_gateway_resource" "model_labels" {
  rest_api_id = aws_api_gateway_rest_api.api.id
  parent_id   = aws_api_gateway_resource.model.id
  path_part   = "labels"
}

# Presigned upload URLs (POST).
resource "aws_api_gateway_resource" "uploads" {
  rest_api_id = aws_api_gateway_rest_api.api.id
  parent_id   = aws_api_gateway_resource.v1.id
  path_part   = "uploads"
}

resource "aws_api_gateway_resource" "backups" {
  rest_api_id = aws_api_gateway_rest_api.api.id
  parent_id   = aws_api_gateway_resource.v1.id
  path_part   = "backups"
}

resource "aws_api_gateway_resource" "keys" {
  rest_api_id = aws_api_gateway_rest_api.api.id
  parent_id   = aws_api_gateway_resource.v1.id
  path_part   = "keys"
}

resource "aws_api_gateway_resource" "key" {
  rest_api_id = aws_api_gateway_rest_api.api.id
  parent_id   = aws_api_gateway_resource.keys.id
  path_part   = "{id}"
}

# Time series: GET lists a tenant's series; detect (POST) and {name} (GET reads one) are sibling
# resources under it, as REST APIs allow; {name}/points (POST) appends.
resource "aws_api_gateway_resource" "series" {
  rest_api_id = aws_api_gateway_rest_api.api.id
  parent_id   = aws_api_gateway_resource.v1.id
  path_part   = "series"
}

resource "aws_api_gateway_resource" "series_detect" {
  rest_api_id = aws_api_gateway_rest_api.api.id
  parent_id   = aws_api_gateway_resource.series.id
  path_part   = "detect"
}

resource "aws_api_gateway_resource" "series_one" {
  rest_api_id = aws_api_gateway_rest_api.api.id
  parent_id   = aws_api_gateway_resource.series.id
  path_part   = "{name}"
}

resource "aws_api_gateway_resource" "series_points" {
  rest_api_id = aws_api_gateway_rest_api.api.id
  parent_id   = aws_api_gateway_resource.series_one.id
  path_part   = "points"
}

# The authorizer function checks Authorization: Bearer <API key or JWT> and answers an Allow on the
# whole stage with the tenant and scopes in its context and the caller's gateway key as
# usageIdentifierKey, cached per header for authorizer_cache_ttl seconds. A missing header is a
# 401 without invoking it.
resource "aws_api_gateway_authorizer" "api" {
  name                             = "${var.name_prefix}-authorizer"
  rest_api_id                      = aws_api_gateway_rest_api.api.id
  type                             = "REQUEST"
  authorizer_uri                   = aws_lambda_function.authorizer.invoke_arn
  identity_source                  = "method.request.header.Authorization"
  authorizer_result_ttl_in_seconds = var.authorizer_cache_ttl
}

resource "aws_lambda_permission" "authorizer" {
  statement_id  = "ApiGatewayAuthorizer"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.authorizer.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_api_gateway_rest_api.api.execution_arn}/authorizers/${aws_api_gateway_authorizer.api.id}"
}

# Every authorized route needs a usage-plan key, which the authorizer supplies (api_key_source
# AUTHORIZER); the health probes need neither.
resource "aws_api_gateway_method" "route" {
  # checkov:skip=CKV_AWS_59:Every method but GET /health and GET /health/ready goes through the Lambda REQUEST authorizer (CUSTOM); the health probes are open by design and return no tenant data.
  # checkov:skip=CKV2_AWS_53:Request bodies and parameters are validated by the functions against openapi.yaml, which answer 400/422 with the error envelope.
  for_each         = local.routes
  rest_api_id      = aws_api_gateway_rest_api.api.id
  resource_id      = local.api_resource_ids[each.value.resource]
  http_method      = split(" ", each.key)[0]
  authorization    = each.value.authorized ? "CUSTOM" : "NONE"
  authorizer_id    = each.value.authorized ? aws_api_gateway_authorizer.api.id : null
  api_key_required = each.value.authorized
}

resource "aws_api_gateway_integration" "route" {
  for_each                = local.routes
  rest_api_id             = aws_api_gateway_rest_api.api.id
  resource_id             = aws_api_gateway_method.route[each.key].resource_id
  http_method             = aws_api_gateway_method.route[each.key].http_method
  type                    = "AWS_PROXY"
  integration_http_method = "POST"
  uri                     = local.integration_uris[each.value.function]
}

resource "aws_lambda_permission" "api" {
  for_each      = toset(["health", "detect", "train", "backup", "keys"])
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
      aws_api_gateway_rest_api.api.api_key_source,
      aws_api_gateway_authorizer.api.id,
      var.authorizer_cache_ttl,
      [for k, m in aws_api_gateway_method.route : [m.id, m.api_key_required]],
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
  # checkov:skip=CKV2_AWS_51:Callers authenticate with bearer API keys or JWTs over TLS, checked by the Lambda authorizer; client certificates are for API Gateway calling a backend, which here is Lambda.
  # checkov:skip=CKV2_AWS_29:No WAF web ACL: the usage plan limits each key, the stage throttles all callers and the authorizer refuses unknown ones; attach a web ACL to the stage for IP rules if needed.
  rest_api_id          = aws_api_gateway_rest_api.api.id
  deployment_id        = aws_api_gateway_deployment.api.id
  stage_name           = var.stage_name
  xray_tracing_enabled = true
  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.api_access.arn
    format          = "{\"requestId\":\"$context.requestId\",\"ip\":\"$context.identity.sourceIp\",\"principalId\":\"$context.authorizer.principalId\",\"tenant\":\"$context.authorizer.tenant\",\"apiKeyId\":\"$context.identity.apiKeyId\",\"requestTime\":\"$context.requestTime\",\"method\":\"$context.httpMethod\",\"resourcePath\":\"$context.resourcePath\",\"path\":\"$context.path\",\"status\":\"$context.status\",\"protocol\":\"$context.protocol\",\"responseLength\":\"$context.responseLength\",\"responseLatency\":\"$context.responseLatency\",\"integrationLatency\":\"$context.integrationLatency\",\"errorType\":\"$context.error.responseType\",\"xrayTraceId\":\"$context.xrayTraceId\"}"
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

# One usage plan on the stage: per-key rate, burst and quota. The keys function adds a gateway key
# to it for every Nomaly API key it creates and deletes it on revocation.
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

# Callers with a JWT (no Nomaly key) are metered together under this key (local.jwt_usage_key).
resource "aws_api_gateway_api_key" "jwt_usage" {
  name        = "${var.name_prefix}-jwt-callers"
  description = "Usage-plan key of every caller authenticated by a JWT (answered by the authorizer)."
  enabled     = true
  value       = local.jwt_usage_key
}

resource "aws_api_gateway_usage_plan_key" "jwt_usage" {
  key_id        = aws_api_gateway_api_key.jwt_usage.id
  key_type      = "API_KEY"
  usage_plan_id = aws_api_gateway_usage_plan.api.id
}
