# Same outputs as template.yaml.

output "api_url" {
  description = "Base URL of the API (append /health, /api/v1/...)."
  value       = aws_api_gateway_stage.api.invoke_url
}

output "models_bucket_name" {
  description = "Models, uploads (incoming/detect/, incoming/train/) and results (results/)."
  value       = aws_s3_bucket.models.id
}

output "backup_bucket_name" {
  description = "Backups (backups/{id}/)."
  value       = aws_s3_bucket.backups.id
}

output "table_name" {
  description = "The registry and job table."
  value       = aws_dynamodb_table.table.name
}

output "health_function_name" {
  value = aws_lambda_function.health.function_name
}

output "detect_function_name" {
  value = aws_lambda_function.detect.function_name
}

output "detect_events_function_name" {
  description = "Scores uploads under incoming/detect/ (the detect binary, its own concurrency)."
  value       = aws_lambda_function.detect_events.function_name
}

output "train_function_name" {
  value = aws_lambda_function.train.function_name
}

output "train_events_function_name" {
  description = "Trains from uploads under incoming/train/ and runs the retraining schedule (the train binary, its own concurrency)."
  value       = aws_lambda_function.train_events.function_name
}

output "backup_function_name" {
  value = aws_lambda_function.backup.function_name
}

output "keys_function_name" {
  description = "Issues a tenant's first admin key when invoked directly with {\"action\":\"issue_key\",\"tenant\":...,\"scopes\":[\"admin\"]} (events/keys-issue.json)."
  value       = aws_lambda_function.keys.function_name
}

output "authorizer_function_name" {
  value = aws_lambda_function.authorizer.function_name
}

output "usage_plan_id" {
  description = "The usage plan (api_rate_limit, api_burst_limit, api_quota_limit per key); the keys function adds a gateway key to it for every Nomaly API key."
  value       = aws_api_gateway_usage_plan.api.id
}

output "dead_letter_queue_url" {
  value = aws_sqs_queue.dlq.id
}

output "alarm_topic_arn" {
  value = aws_sns_topic.alarms.arn
}

output "jobs_state_machine_arn" {
  description = "The asynchronous jobs state machine (executions take {\"job\": {...}}; NOMALY_JOBS_STATE_MACHINE_ARN)."
  value       = aws_sfn_state_machine.jobs.arn
}

output "records_stream_name" {
  description = "The input Kinesis stream (records to score; tenant stream_tenant)."
  value       = aws_kinesis_stream.records.name
}

output "records_stream_arn" {
  value = aws_kinesis_stream.records.arn
}

output "records_queue_url" {
  description = "The input SQS queue (records to score; tenant stream_tenant)."
  value       = aws_sqs_queue.records.url
}

output "records_dead_letter_queue_url" {
  description = "Records that could not be scored (with the reason), stream batches that failed past their retries, queue messages received queue_max_receive_count times."
  value       = local.records_dead_letter_queue_url
}

output "alert_bus_name" {
  description = "The EventBridge bus alerts are published on (source nomaly; detail-types Anomaly Detected, Job Anomalies Found)."
  value       = local.alert_bus_name
}

output "dashboard_url" {
  value = "https://${local.region}.console.aws.amazon.com/cloudwatch/home?region=${local.region}#dashboards:name=${aws_cloudwatch_dashboard.nomaly.dashboard_name}"
}
