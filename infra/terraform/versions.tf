# Nomaly on AWS with Terraform: the same stack as ../../template.yaml (SAM), resource for resource.
#
#   cargo lambda build --release --arm64 --output-format zip   # target/lambda/<fn>/bootstrap.zip (default features: the aws store)
#   cd infra/terraform
#   terraform init
#   terraform apply -var name_prefix=nomaly               # -var-file=prod.tfvars for production
#
# Files: variables.tf (every knob, same defaults as the SAM parameters), storage.tf (buckets and
# their lifecycle, table, dead-letter queue), iam.tf (one least-privilege role per function),
# functions.tf (functions, log groups, S3 and schedule triggers), jobs.tf (the asynchronous jobs
# state machine, ../statemachine/jobs.asl.json, and its role), api.tf (REST API, Lambda REQUEST
# authorizer, per-key usage plan, stage throttling), streams.tf (the input Kinesis stream and SQS
# queue, their event source mappings on detect, the records dead-letter queue unless
# records_dead_letter_queue_arn names one), alerts.tf (the
# EventBridge alert bus, the high-severity rule to the alarm topic, the optional webhook),
# monitoring.tf (SNS topic, alarms, dashboard), outputs.tf. ../parity.py fails CI when this and template.yaml disagree on parameters and their
# defaults, functions, routes and their authorizer, events, environment, alarms, IAM grants or
# bucket lifecycles.

terraform {
  required_version = ">= 1.5.0"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.40.0, < 7.0.0"
    }
  }
}

provider "aws" {
  default_tags {
    tags = {
      Application = "nomaly"
      Stack       = var.name_prefix
    }
  }
}

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition
  url_suffix = data.aws_partition.current.dns_suffix

  # The jobs state machine's ARN, from its fixed name: the machine invokes the events functions,
  # so the functions (NOMALY_JOBS_STATE_MACHINE_ARN) and their roles cannot refer to it.
  jobs_state_machine_arn = "arn:${local.partition}:states:${local.region}:${local.account_id}:stateMachine:${var.name_prefix}-jobs"

  # The environment every function reads (shared/edge/src/config.rs); each function adds its
  # NOMALY_TIMEOUT_SECS, the API and events functions NOMALY_AUTH = "authorizer", those writing
  # jobs NOMALY_JOB_TTL_DAYS, the authorizer its NOMALY_JWT_* settings (functions.tf).
  function_env = {
    NOMALY_STORE           = "aws"
    NOMALY_BUCKET          = aws_s3_bucket.models.id
    NOMALY_TABLE           = aws_dynamodb_table.table.name
    NOMALY_MAX_BODY_BYTES  = tostring(var.max_body_bytes)
    NOMALY_MAX_ROWS        = tostring(var.max_rows)
    NOMALY_CACHE_BYTES     = tostring(var.cache_bytes)
    NOMALY_LATEST_TTL_SECS = tostring(var.latest_ttl_secs)
    RUST_LOG               = var.log_level
  }
}
