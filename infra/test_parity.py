#!/usr/bin/env python3
"""infra/parity.py passes on the real templates and fails, naming the difference, when one side
drifts: each test copies template.yaml and infra/terraform, changes one thing, and expects exit 1.

    python infra/test_parity.py      (unittest; run by scripts/check_infra.sh)
"""

import contextlib
import io
import shutil
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import parity  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def run(template: Path, terraform: Path) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = parity.main(["--template", str(template), "--terraform", str(terraform)])
    return code, out.getvalue()


class Parity(unittest.TestCase):
    def setUp(self):
        self.dir = Path(tempfile.mkdtemp(prefix="parity-"))
        self.template = self.dir / "template.yaml"
        self.terraform = self.dir / "terraform"
        shutil.copy(ROOT / "template.yaml", self.template)
        shutil.copytree(ROOT / "infra" / "terraform", self.terraform)

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def mutate(self, path: Path, old: str, new: str):
        text = path.read_text(encoding="utf-8")
        self.assertEqual(text.count(old), 1, f"the mutation target must occur once in {path.name}: {old!r}")
        path.write_text(text.replace(old, new), encoding="utf-8")

    def assert_fails_naming(self, *fragments: str):
        code, out = run(self.template, self.terraform)
        self.assertEqual(code, 1, out)
        for fragment in fragments:
            self.assertIn(fragment, out)

    def test_real_templates_agree(self):
        code, out = run(ROOT / "template.yaml", ROOT / "infra" / "terraform")
        self.assertEqual(code, 0, out)
        self.assertIn("agree", out)

    def test_action_dropped_from_terraform_fails(self):
        self.mutate(self.terraform / "iam.tf",
                    '"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"',
                    '"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"')
        self.assert_fails_naming("iam: 'detect'", "dynamodb:UpdateItem")

    def test_action_dropped_from_sam_fails(self):
        self.mutate(self.template, "Action: [dynamodb:Scan, dynamodb:Query, dynamodb:GetItem, dynamodb:PutItem, dynamodb:BatchWriteItem]",
                    "Action: [dynamodb:Scan, dynamodb:Query, dynamodb:GetItem, dynamodb:PutItem]")
        self.assert_fails_naming("iam: 'backup'", "dynamodb:BatchWriteItem")

    def test_resource_narrowed_fails(self):
        self.mutate(self.terraform / "iam.tf", 'resources = ["${aws_s3_bucket.models.arn}/incoming/train/*"]',
                    'resources = ["${aws_s3_bucket.models.arn}/incoming/*"]')
        self.assert_fails_naming("iam: 'train'", "incoming/train/*")

    def test_route_missing_fails(self):
        self.mutate(self.template, """        BackupsList:
          Type: Api
          Properties:
            RestApiId: !Ref Api
            Path: /api/v1/backups
            Method: GET
""", "")
        self.assert_fails_naming("routes: 'GET /api/v1/backups' only in Terraform")

    def test_public_route_requiring_api_key_fails(self):
        self.mutate(self.terraform / "api.tf", "  api_key_required = each.value.authorized\n", "  api_key_required = true\n")
        self.assert_fails_naming("routes: 'GET /health' api_key_required")

    def test_route_without_api_key_fails(self):
        self.mutate(self.template, "        ApiKeyRequired: true\n        DefaultAuthorizer", "        ApiKeyRequired: false\n        DefaultAuthorizer")
        self.assert_fails_naming("routes: 'POST /api/v1/detect' api_key_required", "routes: 'DELETE /api/v1/keys/{id}' api_key_required")

    def test_api_key_source_missing_fails(self):
        self.mutate(self.template, "      ApiKeySourceType: AUTHORIZER\n", "")
        self.assert_fails_naming("usage_plan: 'api_key_source'", "HEADER")

    def test_usage_plan_limit_changed_fails(self):
        self.mutate(self.terraform / "api.tf", "    rate_limit  = var.api_rate_limit\n", "    rate_limit  = var.stage_rate_limit\n")
        self.assert_fails_naming("usage_plan: 'plan usage-plan' rate")

    def test_jwt_key_outside_usage_plan_fails(self):
        text = self.template.read_text(encoding="utf-8")
        start = text.index("  JwtUsagePlanKey:")
        end = text.index("\n\n", start)
        self.template.write_text(text[:start] + text[end + 2:], encoding="utf-8")
        self.assert_fails_naming("usage_plan: 'plan usage-plan' keys")

    def test_jwt_usage_key_not_the_key_value_fails(self):
        self.mutate(self.terraform / "functions.tf", "      NOMALY_JWT_USAGE_KEY    = local.jwt_usage_key\n",
                    '      NOMALY_JWT_USAGE_KEY    = "nomaly-jwt-${var.name_prefix}"\n')
        self.assert_fails_naming("environment: 'authorizer'", "NOMALY_JWT_USAGE_KEY")

    def test_usage_plan_id_missing_fails(self):
        self.mutate(self.template, "          NOMALY_USAGE_PLAN_ID: !Ref UsagePlan\n", "")
        self.assert_fails_naming("environment: 'keys'", "NOMALY_USAGE_PLAN_ID")

    def test_usage_plan_grant_widened_fails(self):
        self.mutate(self.terraform / "iam.tf", "::/usageplans/${aws_api_gateway_usage_plan.api.id}/keys", "::/usageplans/*/keys")
        self.assert_fails_naming("iam: 'keys'", "/usageplans/{usage_plan}/keys", "/usageplans/*/keys")

    def test_keys_route_missing_from_definition_fails(self):
        self.mutate(self.template, """          /api/v1/keys/{id}:
            delete:
              responses: {}
              x-amazon-apigateway-integration: *KeysIntegration
""", "")
        self.assert_fails_naming("routes: 'DELETE /api/v1/keys/{id}' only in Terraform")

    def test_keys_route_without_permission_fails(self):
        self.mutate(self.template, "${Api}/*/*/api/v1/keys*", "${Api}/*/*/api/v1/models*")
        self.assert_fails_naming("routes: 'POST /api/v1/keys' invoke_permission")

    def test_keys_integration_on_other_function_fails(self):
        self.mutate(self.terraform / "api.tf", ":function:${var.name_prefix}-keys/invocations", ":function:${var.name_prefix}-train/invocations")
        self.assert_fails_naming("local.integration_uris.keys")

    def test_route_without_authorizer_fails(self):
        self.mutate(self.terraform / "api.tf",
                    '"POST /api/v1/keys"         = { resource = "keys", function = "keys", authorized = true }',
                    '"POST /api/v1/keys"         = { resource = "keys", function = "keys", authorized = false }')
        self.assert_fails_naming("routes: 'POST /api/v1/keys' authorizer")

    def test_public_route_behind_authorizer_fails(self):
        text = self.template.read_text(encoding="utf-8")
        start = text.index("            Path: /health/ready")
        old = "            Auth: { Authorizer: NONE, ApiKeyRequired: false }\n"
        at = text.index(old, start)
        self.template.write_text(text[:at] + "            Auth: { ApiKeyRequired: false }\n" + text[at + len(old):], encoding="utf-8")
        self.assert_fails_naming("routes: 'GET /health/ready' authorizer")

    def test_authorizer_cache_ttl_changed_fails(self):
        self.mutate(self.terraform / "api.tf", "authorizer_result_ttl_in_seconds = var.authorizer_cache_ttl",
                    "authorizer_result_ttl_in_seconds = 60")
        self.assert_fails_naming("authorizers: '{fn:authorizer}' ttl")

    def test_leading_keys_condition_changed_fails(self):
        self.mutate(self.terraform / "iam.tf", 'key_items = ["T#*#KEYS"]', 'key_items = ["T#*"]')
        self.assert_fails_naming("iam: 'authorizer'", "dynamodb:LeadingKeys")

    def test_auth_mode_missing_fails(self):
        text = self.template.read_text(encoding="utf-8")
        start = text.index("  KeysFunction:")
        old = "          NOMALY_AUTH: authorizer\n"
        at = text.index(old, start)
        self.template.write_text(text[:at] + "          NOMALY_OTHER: x\n" + text[at + len(old):], encoding="utf-8")
        self.assert_fails_naming("environment: 'keys'", "NOMALY_AUTH")

    def test_route_on_wrong_resource_fails(self):
        self.mutate(self.terraform / "api.tf",
                    '"GET /api/v1/jobs/{id}"     = { resource = "job", function = "detect"',
                    '"GET /api/v1/jobs/{id}"     = { resource = "detect", function = "detect"')
        self.assert_fails_naming("GET /api/v1/jobs/{id}", "path_of_resource")

    def test_environment_variable_missing_fails(self):
        self.mutate(self.terraform / "versions.tf", "    NOMALY_MAX_ROWS        = tostring(var.max_rows)\n", "")
        self.assert_fails_naming("environment:", "NOMALY_MAX_ROWS")

    def test_backup_bucket_variable_missing_fails(self):
        self.mutate(self.template, "          NOMALY_BACKUP_BUCKET: !Sub ${NamePrefix}-backups-${AWS::AccountId}-${AWS::Region}\n",
                    "          NOMALY_OTHER: x\n")
        self.assert_fails_naming("environment: 'backup'", "NOMALY_BACKUP_BUCKET")

    def test_s3_prefix_changed_fails(self):
        self.mutate(self.template, "- { Name: prefix, Value: incoming/train/ }", "- { Name: prefix, Value: incoming/training/ }")
        self.assert_fails_naming("events: 's3 incoming/train/' only in Terraform")

    def test_schedule_input_changed_fails(self):
        # Both templates deliver the scheduled event itself; a constant input on one side is drift.
        self.mutate(self.terraform / "functions.tf", "  arn  = aws_lambda_function.backup.arn\n",
                    '  arn  = aws_lambda_function.backup.arn\n  input = "{\\"action\\":\\"restore\\"}"\n')
        self.assert_fails_naming("schedule daily_backup", "input")

    def test_failure_destination_missing_fails(self):
        self.mutate(self.terraform / "functions.tf", '''resource "aws_lambda_function_event_invoke_config" "train" {
  function_name          = aws_lambda_function.train.function_name
  maximum_retry_attempts = 2
  destination_config {
    on_failure {
      destination = aws_sqs_queue.dlq.arn
    }
  }
}''', "")
        self.assert_fails_naming("events: 'async train' only in SAM")

    def test_alarm_changed_fails(self):
        self.mutate(self.terraform / "monitoring.tf", '''  metric_name         = "BackupsFailed"
  dimensions          = { Function = "backup" }
  statistic           = "Sum"
  period              = 300''', '''  metric_name         = "BackupsFailed"
  dimensions          = { Function = "backup" }
  statistic           = "Sum"
  period              = 3600''')
        self.assert_fails_naming("alarms: 'backup-failed' period")

    def test_alarm_missing_fails(self):
        text = self.template.read_text(encoding="utf-8")
        start = text.index("  TrainThrottlesAlarm:")
        end = text.index("\n\n", start)
        self.template.write_text(text[:start] + text[end + 2:], encoding="utf-8")
        self.assert_fails_naming("alarms: 'train-throttles' only in Terraform")

    def test_function_setting_changed_fails(self):
        self.mutate(self.terraform / "functions.tf", "  timeout                        = var.train_timeout\n",
                    "  timeout                        = 60\n")
        self.assert_fails_naming("functions: 'train' timeout")

    def test_table_index_changed_fails(self):
        self.mutate(self.template, "      TimeToLiveSpecification: { AttributeName: expires_at, Enabled: true }",
                    "      TimeToLiveSpecification: { AttributeName: ttl, Enabled: true }")
        self.assert_fails_naming("table:", "ttl")

    def test_gateway_response_changed_fails(self):
        self.mutate(self.template, '        THROTTLED:\n          StatusCode: "429"',
                    '        THROTTLED:\n          StatusCode: "503"')
        self.assert_fails_naming("gateway_responses: 'THROTTLED' status")

    def test_dashboard_changed_fails(self):
        self.mutate(self.terraform / "dashboard.json.tftpl", '"title": "Cold starts"', '"title": "Cold start"')
        self.assert_fails_naming("dashboard: bodies differ")


if __name__ == "__main__":
    unittest.main(verbosity=1)
