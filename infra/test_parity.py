#!/usr/bin/env python3
"""infra/parity.py passes on the real templates and fails, naming the difference, when one side
drifts: each test copies template.yaml and infra/terraform, changes one thing, and expects exit 1.
The invariant tests make the same mistake on both sides, which parity must still refuse.

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
# The records dead-letter queue in use (RecordsDeadLetterQueueArn / records_dead_letter_queue_arn):
# ours when the parameter is empty, else the queue it names.
DLQ_WHEN = "{if:recordsdeadletterqueuearn=}?1:0"
DLQ_ARN = "{if:recordsdeadletterqueuearn=}?{sqs:records_dead_letter}:{param:recordsdeadletterqueuearn}"
DLQ_URL = "{if:recordsdeadletterqueuearn=}?{sqs:records_dead_letter.url}:{param:recordsdeadletterqueuearn.url}"
DLQ_NAME = "{if:recordsdeadletterqueuearn=}?{sqs:records_dead_letter.name}:{param:recordsdeadletterqueuearn[5]}"
DLQ_PATTERN = "^$|^arn:aws[a-zA-Z-]*:sqs:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,80}$"
SAM_DLQ_ARN = "!If [CreateRecordsDeadLetterQueue, !GetAtt RecordsDeadLetterQueue.Arn, !Ref RecordsDeadLetterQueueArn]"
# A role's Query of labelled rows (train, train_events; detect's also BatchWriteItem), as each side
# writes it.
LABEL_ITEMS_SAM = """              - Sid: LabelItems
                Effect: Allow
                Action: dynamodb:Query
                Resource: !GetAtt Table.Arn
                Condition:
                  ForAllValues:StringLike: { dynamodb:LeadingKeys: ["T#*#LABELS#*"] }
"""
LABEL_ITEMS_TF = """  statement {
    sid       = "LabelItems"
    actions   = ["dynamodb:Query"]
    resources = [aws_dynamodb_table.table.arn]
    condition {
      test     = "ForAllValues:StringLike"
      variable = "dynamodb:LeadingKeys"
      values   = local.label_items
    }
  }
"""


def models() -> tuple[dict, dict]:
    """The SAM and Terraform models of the real templates."""
    sam = parity.sam_model(parity.load_template(ROOT / "template.yaml"), ROOT)
    tf_raw = parity.load_terraform(ROOT / "infra" / "terraform")
    tf_raw["dir"] = str(ROOT / "infra" / "terraform")
    return sam, parity.tf_model(tf_raw)


def run(template: Path, terraform: Path, samconfig: Path = ROOT / "samconfig.toml") -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = parity.main(["--template", str(template), "--terraform", str(terraform), "--samconfig", str(samconfig)])
    return code, out.getvalue()


class Parity(unittest.TestCase):
    def setUp(self):
        self.dir = Path(tempfile.mkdtemp(prefix="parity-"))
        self.template = self.dir / "template.yaml"
        self.terraform = self.dir / "terraform"
        self.samconfig = self.dir / "samconfig.toml"
        shutil.copy(ROOT / "template.yaml", self.template)
        shutil.copy(ROOT / "samconfig.toml", self.samconfig)
        shutil.copytree(ROOT / "infra" / "terraform", self.terraform)
        # The state machine definition, where each side names it: template.yaml's DefinitionUri
        # (infra/statemachine/) and the Terraform templatefile (../statemachine/).
        self.definition_sam = self.dir / "infra" / "statemachine" / "jobs.asl.json"
        self.definition_tf = self.dir / "statemachine" / "jobs.asl.json"
        shutil.copytree(ROOT / "infra" / "statemachine", self.definition_sam.parent)
        shutil.copytree(ROOT / "infra" / "statemachine", self.definition_tf.parent)

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def mutate(self, path: Path, old: str, new: str):
        text = path.read_text(encoding="utf-8")
        self.assertEqual(text.count(old), 1, f"the mutation target must occur once in {path.name}: {old!r}")
        path.write_text(text.replace(old, new), encoding="utf-8")

    def mutate_after(self, path: Path, anchor: str, old: str, new: str):
        """Replaces the first `old` after the (unique) `anchor`: for text repeated per function."""
        text = path.read_text(encoding="utf-8")
        self.assertEqual(text.count(anchor), 1, f"the anchor must occur once in {path.name}: {anchor!r}")
        at = text.find(old, text.index(anchor))
        self.assertGreaterEqual(at, 0, f"{old!r} does not follow {anchor!r} in {path.name}")
        path.write_text(text[:at] + new + text[at + len(old):], encoding="utf-8")

    def remove_block(self, path: Path, start: str, end: str = "\n\n"):
        """Removes from `start` (which must occur once) through the next `end`."""
        text = path.read_text(encoding="utf-8")
        self.assertEqual(text.count(start), 1, f"the block must start once in {path.name}: {start!r}")
        at = text.index(start)
        stop = text.index(end, at) + len(end)
        path.write_text(text[:at] + text[stop:], encoding="utf-8")

    def assert_fails_naming(self, *fragments: str):
        code, out = run(self.template, self.terraform, self.samconfig)
        self.assertEqual(code, 1, out)
        for fragment in fragments:
            self.assertIn(fragment, out)

    def test_real_templates_agree(self):
        code, out = run(ROOT / "template.yaml", ROOT / "infra" / "terraform")
        self.assertEqual(code, 0, out)
        self.assertIn("agree", out)

    def test_action_dropped_from_terraform_fails(self):
        self.mutate(self.terraform / "iam.tf",
                    '"dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem"',
                    '"dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem"')
        self.assert_fails_naming("iam: 'keys'", "dynamodb:UpdateItem")

    def test_action_dropped_from_sam_fails(self):
        self.mutate(self.template, "Action: [dynamodb:Scan, dynamodb:Query, dynamodb:GetItem, dynamodb:PutItem, dynamodb:BatchWriteItem]",
                    "Action: [dynamodb:Scan, dynamodb:Query, dynamodb:GetItem, dynamodb:PutItem]")
        self.assert_fails_naming("iam: 'backup'", "dynamodb:BatchWriteItem")

    def test_resource_narrowed_fails(self):
        self.mutate(self.terraform / "iam.tf", 'resources = ["${aws_s3_bucket.models.arn}/incoming/train/*"]',
                    'resources = ["${aws_s3_bucket.models.arn}/incoming/*"]')
        self.assert_fails_naming("iam: 'train_events'", "incoming/train/*")

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
                    '"POST /api/v1/keys"               = { resource = "keys", function = "keys", authorized = true }',
                    '"POST /api/v1/keys"               = { resource = "keys", function = "keys", authorized = false }')
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
                    '"GET /api/v1/jobs/{id}"           = { resource = "job", function = "detect"',
                    '"GET /api/v1/jobs/{id}"           = { resource = "detect", function = "detect"')
        self.assert_fails_naming("GET /api/v1/jobs/{id}", "path_of_resource")

    # ---------------------------------------------------------------- job and upload routes

    def test_routes_are_the_api(self):
        # Every route, its function and whether the authorizer guards it, the same on both sides.
        expected = {
            "GET /health": "health", "GET /health/ready": "health",
            "POST /api/v1/detect": "detect", "GET /api/v1/jobs/{id}": "detect",
            "GET /api/v1/models/{name}/jobs": "detect", "POST /api/v1/models/{name}/jobs": "detect",
            "POST /api/v1/uploads": "detect",
            "POST /api/v1/series/{name}/points": "detect", "POST /api/v1/series/detect": "detect",
            "GET /api/v1/series": "detect", "GET /api/v1/series/{name}": "detect",
            "POST /api/v1/models/{name}/labels": "detect", "GET /api/v1/models/{name}/labels": "detect",
            "GET /api/v1/models": "train", "POST /api/v1/models": "train", "GET /api/v1/models/{name}": "train",
            "POST /api/v1/backups": "backup", "GET /api/v1/backups": "backup",
            "POST /api/v1/keys": "keys", "GET /api/v1/keys": "keys", "DELETE /api/v1/keys/{id}": "keys",
        }
        sam = parity.sam_model(parity.load_template(ROOT / "template.yaml"), ROOT)
        tf_raw = parity.load_terraform(ROOT / "infra" / "terraform")
        tf_raw["dir"] = str(ROOT / "infra" / "terraform")
        tf = parity.tf_model(tf_raw)
        for side, model in (("SAM", sam), ("Terraform", tf)):
            routes = {k: v for k, v in model["routes"].items() if " /" in k}
            self.assertEqual({k: v["function"] for k, v in routes.items()}, expected, side)
            for key, route in routes.items():
                public = key.startswith("GET /health")
                self.assertEqual(route["authorizer"], "NONE" if public else "{fn:authorizer}", f"{side} {key}")
                self.assertEqual(route["api_key_required"], "false" if public else "true", f"{side} {key}")
                self.assertNotIn("invoke_permission", route, f"{side} {key}")
                self.assertNotIn("path_of_resource", route, f"{side} {key}")

    def test_model_jobs_route_missing_from_sam_fails(self):
        self.mutate(self.template, "        ModelJobsCreate:\n          Type: Api\n          Properties:\n"
                    "            RestApiId: !Ref Api\n            Path: /api/v1/models/{name}/jobs\n            Method: POST\n", "")
        self.assert_fails_naming("routes: 'POST /api/v1/models/{name}/jobs' only in Terraform",
                                 "invariant (SAM): no route 'POST /api/v1/models/{name}/jobs'")

    def test_uploads_route_missing_from_terraform_fails(self):
        self.mutate(self.terraform / "api.tf",
                    '    "POST /api/v1/uploads"            = { resource = "uploads", function = "detect", authorized = true }\n', "")
        self.assert_fails_naming("routes: 'POST /api/v1/uploads' only in SAM")

    def test_uploads_route_on_other_function_fails(self):
        self.mutate(self.terraform / "api.tf",
                    '"POST /api/v1/uploads"            = { resource = "uploads", function = "detect"',
                    '"POST /api/v1/uploads"            = { resource = "uploads", function = "train"')
        self.assert_fails_naming("routes: 'POST /api/v1/uploads' function")

    def test_model_jobs_resource_under_wrong_parent_fails(self):
        # /api/v1/models/jobs instead of /api/v1/models/{name}/jobs.
        self.mutate_after(self.terraform / "api.tf", 'resource "aws_api_gateway_resource" "model_jobs" {',
                          "parent_id   = aws_api_gateway_resource.model.id", "parent_id   = aws_api_gateway_resource.models.id")
        self.assert_fails_naming("GET /api/v1/models/{name}/jobs", "path_of_resource")

    def test_model_jobs_route_without_authorizer_fails(self):
        self.mutate_after(self.template, "        ModelJobsList:", "            Method: GET\n",
                          "            Method: GET\n            Auth: { Authorizer: NONE, ApiKeyRequired: false }\n")
        self.assert_fails_naming("routes: 'GET /api/v1/models/{name}/jobs' authorizer",
                                 "routes: 'GET /api/v1/models/{name}/jobs' api_key_required")

    def test_batch_plans_grant_missing_fails(self):
        self.remove_block(self.terraform / "iam.tf", '  statement {\n    sid       = "BatchPlans"', "\n  }\n")
        self.assert_fails_naming("iam: 'detect' Allow s3:PutObject {s3:models}/batch/*: SAM \"-\" != Terraform \"<absent>\"",
                                 "invariant (Terraform): 'detect' lacks Allow s3:PutObject {s3:models}/batch/* "
                                 "(it serves POST /api/v1/models/{name}/jobs)")

    def test_jobs_index_grant_missing_fails_on_both_sides(self):
        self.remove_block(self.template, "              - Sid: JobsIndex\n", "Condition: *ModelAndJobItems\n")
        self.remove_block(self.terraform / "iam.tf", '  statement {\n    sid       = "JobsIndex"', "\n  }\n")
        self.assert_fails_naming("invariant (SAM): 'detect' lacks Allow dynamodb:Query {table}/index/GSI1 "
                                 "(it serves GET /api/v1/models/{name}/jobs)",
                                 "invariant (Terraform): 'detect' lacks Allow dynamodb:Query {table}/index/GSI1")

    def test_start_execution_missing_on_both_sides_fails(self):
        self.mutate_after(self.template, "  DetectRole:", "                Action: states:StartExecution\n",
                          "                Action: states:DescribeExecution\n")
        self.mutate_after(self.terraform / "iam.tf", 'data "aws_iam_policy_document" "detect" {',
                          'actions   = ["states:StartExecution"]', 'actions   = ["states:DescribeExecution"]')
        self.assert_fails_naming("invariant (SAM): 'detect' lacks Allow states:StartExecution {sfn:jobs} "
                                 "(it serves POST /api/v1/models/{name}/jobs)",
                                 "invariant (SAM): 'detect' has NOMALY_JOBS_STATE_MACHINE_ARN but may not start executions",
                                 "invariant (Terraform): 'detect' has NOMALY_JOBS_STATE_MACHINE_ARN but may not start executions")

    def test_results_link_grant_missing_on_both_sides_fails(self):
        self.remove_block(self.template, "              # Presigned links to a batch job's results object.\n", "/results/*\n")
        self.remove_block(self.terraform / "iam.tf", "  # Presigned links to a batch job's results object.\n", "\n  }\n")
        self.assert_fails_naming("invariant (SAM): 'detect' lacks Allow s3:GetObject {s3:models}/results/* (it serves GET /api/v1/jobs/{id})",
                                 "invariant (Terraform): 'detect' lacks Allow s3:GetObject {s3:models}/results/*")

    # ---------------------------------------------------------------- time series routes

    def test_series_route_missing_from_sam_fails(self):
        self.mutate(self.template, "        SeriesDetect:\n          Type: Api\n          Properties:\n"
                    "            RestApiId: !Ref Api\n            Path: /api/v1/series/detect\n            Method: POST\n", "")
        self.assert_fails_naming("routes: 'POST /api/v1/series/detect' only in Terraform")

    def test_series_route_missing_from_terraform_fails(self):
        self.mutate(self.terraform / "api.tf",
                    '    "GET /api/v1/series"                = { resource = "series", function = "detect", authorized = true }\n', "")
        self.assert_fails_naming("routes: 'GET /api/v1/series' only in SAM", "invariant (Terraform): no route 'GET /api/v1/series'")

    def test_series_detect_resource_under_name_fails(self):
        # /api/v1/series/{name}/detect instead of the sibling /api/v1/series/detect.
        self.mutate_after(self.terraform / "api.tf", 'resource "aws_api_gateway_resource" "series_detect" {',
                          "parent_id   = aws_api_gateway_resource.series.id", "parent_id   = aws_api_gateway_resource.series_one.id")
        self.assert_fails_naming("POST /api/v1/series/detect", "path_of_resource")

    def test_series_route_without_authorizer_fails(self):
        self.mutate_after(self.template, "        SeriesGet:", "            Method: GET\n",
                          "            Method: GET\n            Auth: { Authorizer: NONE, ApiKeyRequired: false }\n")
        self.assert_fails_naming("routes: 'GET /api/v1/series/{name}' authorizer",
                                 "routes: 'GET /api/v1/series/{name}' api_key_required")

    def test_series_items_grant_missing_fails_on_both_sides(self):
        # detect still reads and writes model items on the table: not series records.
        self.remove_block(self.template, "              - Sid: SeriesItems\n", "\"T#*#SERIES\"] }\n")
        self.remove_block(self.terraform / "iam.tf", '  statement {\n    sid       = "SeriesItems"', "\n    }\n  }\n")
        self.assert_fails_naming("invariant (SAM): 'detect' lacks Allow dynamodb:PutItem {table} on T#acme#SERIES "
                                 "(it serves POST /api/v1/series/{name}/points)",
                                 "invariant (SAM): 'detect' lacks Allow dynamodb:Query {table} on T#acme#SERIES (it serves GET /api/v1/series)",
                                 "invariant (Terraform): 'detect' lacks Allow dynamodb:GetItem {table} on T#acme#SERIES "
                                 "(it serves GET /api/v1/series/{name})")

    def test_series_items_condition_changed_fails(self):
        self.mutate(self.terraform / "iam.tf", 'series_items = ["T#*#SERIES"]', 'series_items = ["T#*#SERIES#*"]')
        self.assert_fails_naming("iam: 'detect' Allow dynamodb:PutItem {table}",
                                 "invariant (Terraform): 'detect' lacks Allow dynamodb:PutItem {table} on T#acme#SERIES")

    def test_series_states_delete_missing_fails_on_both_sides(self):
        self.mutate_after(self.template, "              - Sid: SeriesStates\n", "Action: [s3:GetObject, s3:PutObject, s3:DeleteObject]",
                          "Action: [s3:GetObject, s3:PutObject]")
        self.mutate_after(self.terraform / "iam.tf", '    sid       = "SeriesStates"',
                          'actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]', 'actions   = ["s3:GetObject", "s3:PutObject"]')
        self.assert_fails_naming("invariant (SAM): 'detect' lacks Allow s3:DeleteObject {s3:models}/series/* "
                                 "(it serves POST /api/v1/series/{name}/points)",
                                 "invariant (Terraform): 'detect' lacks Allow s3:DeleteObject {s3:models}/series/*")

    def test_series_restore_grant_missing_fails_on_both_sides(self):
        self.remove_block(self.template, "              - Sid: RestoreSeries\n", "/series/*\n")
        self.remove_block(self.terraform / "iam.tf", '  statement {\n    sid       = "RestoreSeries"', "\n  }\n")
        self.assert_fails_naming("invariant (SAM): 'backup' lacks Allow s3:PutObject {s3:models}/series/*",
                                 "invariant (Terraform): 'backup' lacks Allow s3:PutObject {s3:models}/series/*")

    def test_backup_table_narrowed_to_other_items_fails_on_both_sides(self):
        # The backup role confined to models, jobs and series cannot back up or restore labels.
        self.mutate_after(self.template, "# Backups are of the whole system", "Resource: !GetAtt Table.Arn\n",
                          "Resource: !GetAtt Table.Arn\n                Condition:\n                  ForAllValues:StringLike: "
                          "{ dynamodb:LeadingKeys: [\"T#*#MODEL#*\", \"T#*#JOB#*\", \"T#*#SERIES\"] }\n")
        self.mutate_after(self.terraform / "iam.tf", "# Backups are of the whole system", "resources = [aws_dynamodb_table.table.arn]\n",
                          "resources = [aws_dynamodb_table.table.arn]\n    condition {\n      test     = \"ForAllValues:StringLike\"\n"
                          "      variable = \"dynamodb:LeadingKeys\"\n      values   = [\"T#*#MODEL#*\", \"T#*#JOB#*\", \"T#*#SERIES\"]\n    }\n")
        self.assert_fails_naming("invariant (SAM): 'backup' lacks Allow dynamodb:BatchWriteItem {table} on T#acme#LABELS#payments",
                                 "invariant (Terraform): 'backup' lacks Allow dynamodb:Scan {table} on T#acme#LABELS#payments")

    # ---------------------------------------------------------------- labelled rows (feedback)

    def test_labels_route_missing_from_sam_fails(self):
        self.mutate(self.template, "        ModelLabelsList:\n          Type: Api\n          Properties:\n"
                    "            RestApiId: !Ref Api\n            Path: /api/v1/models/{name}/labels\n            Method: GET\n", "")
        self.assert_fails_naming("routes: 'GET /api/v1/models/{name}/labels' only in Terraform")

    def test_labels_route_missing_from_terraform_fails(self):
        self.mutate(self.terraform / "api.tf",
                    '    "POST /api/v1/models/{name}/labels" = { resource = "model_labels", function = "detect", authorized = true }\n', "")
        self.assert_fails_naming("routes: 'POST /api/v1/models/{name}/labels' only in SAM",
                                 "invariant (Terraform): no route 'POST /api/v1/models/{name}/labels'")

    def test_labels_resource_under_models_fails(self):
        # /api/v1/models/labels instead of /api/v1/models/{name}/labels.
        self.mutate_after(self.terraform / "api.tf", 'resource "aws_api_gateway_resource" "model_labels" {',
                          "parent_id   = aws_api_gateway_resource.model.id", "parent_id   = aws_api_gateway_resource.models.id")
        self.assert_fails_naming("POST /api/v1/models/{name}/labels", "path_of_resource")

    def test_labels_route_without_authorizer_fails(self):
        self.mutate_after(self.template, "        ModelLabelsCreate:", "            Method: POST\n",
                          "            Method: POST\n            Auth: { Authorizer: NONE, ApiKeyRequired: false }\n")
        self.assert_fails_naming("routes: 'POST /api/v1/models/{name}/labels' authorizer",
                                 "routes: 'POST /api/v1/models/{name}/labels' api_key_required")

    def test_detect_label_items_grant_missing_fails_on_both_sides(self):
        # detect still queries model and job items (and series records) on the table: not labels.
        self.mutate_after(self.template, "  DetectRole:\n", LABEL_ITEMS_SAM.replace("dynamodb:Query", "[dynamodb:Query, dynamodb:BatchWriteItem]"), "")
        self.remove_block(self.terraform / "iam.tf", '  statement {\n    sid       = "LabelItems"\n    actions   = ["dynamodb:Query", '
                          '"dynamodb:BatchWriteItem"]', "\n    }\n  }\n")
        self.assert_fails_naming("invariant (SAM): 'detect' lacks Allow dynamodb:BatchWriteItem {table} on T#acme#LABELS#payments "
                                 "(it serves POST /api/v1/models/{name}/labels)",
                                 "invariant (SAM): 'detect' lacks Allow dynamodb:Query {table} on T#acme#LABELS#payments "
                                 "(it serves GET /api/v1/models/{name}/labels)",
                                 "invariant (Terraform): 'detect' lacks Allow dynamodb:BatchWriteItem {table} on T#acme#LABELS#payments")

    def test_detect_label_batch_write_dropped_fails_on_both_sides(self):
        self.mutate(self.template, "Action: [dynamodb:Query, dynamodb:BatchWriteItem]", "Action: dynamodb:Query")
        self.mutate(self.terraform / "iam.tf", 'actions   = ["dynamodb:Query", "dynamodb:BatchWriteItem"]', 'actions   = ["dynamodb:Query"]')
        self.assert_fails_naming("invariant (SAM): 'detect' lacks Allow dynamodb:BatchWriteItem {table} on T#acme#LABELS#payments",
                                 "invariant (Terraform): 'detect' lacks Allow dynamodb:BatchWriteItem {table} on T#acme#LABELS#payments")

    def test_train_label_items_grants_missing_fail_on_both_sides(self):
        # train and train_events still query model and job items: not the labels a version learns from.
        for role in ("  TrainRole:\n", "  TrainEventsRole:\n"):
            self.mutate_after(self.template, role, LABEL_ITEMS_SAM, "")
        for policy in ('data "aws_iam_policy_document" "train" {', 'data "aws_iam_policy_document" "train_events" {'):
            self.mutate_after(self.terraform / "iam.tf", policy, LABEL_ITEMS_TF, "")
        self.assert_fails_naming("invariant (SAM): 'train' lacks Allow dynamodb:Query {table} on T#acme#LABELS#payments "
                                 "(it serves POST /api/v1/models)",
                                 "invariant (SAM): 'train_events' lacks Allow dynamodb:Query {table} on T#acme#LABELS#payments",
                                 "invariant (Terraform): 'train' lacks Allow dynamodb:Query {table} on T#acme#LABELS#payments",
                                 "invariant (Terraform): 'train_events' lacks Allow dynamodb:Query {table} on T#acme#LABELS#payments")

    def test_label_items_condition_changed_fails(self):
        self.mutate(self.terraform / "iam.tf", 'label_items = ["T#*#LABELS#*"]', 'label_items = ["T#*#LABELS"]')
        self.assert_fails_naming("iam: 'detect' Allow dynamodb:BatchWriteItem {table}",
                                 "invariant (Terraform): 'detect' lacks Allow dynamodb:BatchWriteItem {table} on T#acme#LABELS#payments")

    def test_series_list_prefix_widened_fails(self):
        self.mutate_after(self.terraform / "iam.tf", 'data "aws_iam_policy_document" "detect" {', 'values   = ["series/*"]',
                          'values   = ["*"]')
        self.assert_fails_naming("iam: 'detect' Allow s3:ListBucket {s3:models}", "s3:prefix")

    def test_train_events_not_invocable_by_the_state_machine_fails(self):
        self.mutate(self.terraform / "jobs.tf", "resources = [aws_lambda_function.detect_events.arn, aws_lambda_function.train_events.arn]",
                    "resources = [aws_lambda_function.detect_events.arn]")
        self.assert_fails_naming("iam: 'sfn:jobs' Allow lambda:InvokeFunction {fn:train_events}",
                                 "invariant (Terraform): 'sfn:jobs' lacks Allow lambda:InvokeFunction {fn:train_events}")

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
        self.mutate(self.terraform / "functions.tf", '''resource "aws_lambda_function_event_invoke_config" "train_events" {
  function_name          = aws_lambda_function.train_events.function_name
  maximum_retry_attempts = 2
  destination_config {
    on_failure {
      destination = aws_sqs_queue.dlq.arn
    }
  }
}''', "")
        self.assert_fails_naming("events: 'async train_events' only in SAM",
                                 "invariant (Terraform): 'train_events' receives s3 incoming/train/ but has no failure destination")

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

    # ---------------------------------------------------------------- load isolation

    def test_upload_back_on_api_function_fails(self):
        self.mutate(self.terraform / "functions.tf", "    lambda_function_arn = aws_lambda_function.detect_events.arn\n",
                    "    lambda_function_arn = aws_lambda_function.detect.arn\n")
        self.assert_fails_naming("events: 's3 incoming/detect/' function",
                                 "invariant (Terraform): 'detect' serves API routes and receives S3 uploads")

    def test_retrain_schedule_on_api_function_fails(self):
        self.mutate(self.terraform / "functions.tf", "  arn  = aws_lambda_function.train_events.arn\n",
                    "  arn  = aws_lambda_function.train.arn\n")
        self.assert_fails_naming("events: 'schedule retrain' function",
                                 "invariant (Terraform): 'train' receives schedule retrain but has no failure destination")

    def test_events_reserved_concurrency_changed_fails(self):
        self.mutate(self.terraform / "functions.tf",
                    "  reserved_concurrent_executions = var.detect_events_reserved_concurrency\n",
                    "  reserved_concurrent_executions = var.detect_reserved_concurrency\n")
        self.assert_fails_naming("functions: 'detect_events' reserved_concurrency")

    def test_schedule_rule_name_changed_fails(self):
        self.mutate(self.terraform / "functions.tf", 'name                = "${var.name_prefix}-retrain-events"',
                    'name                = "${var.name_prefix}-retrain"')
        self.assert_fails_naming("events: 'schedule retrain' name")

    # ---------------------------------------------------------------- timeout, job TTL

    def test_timeout_variable_missing_fails(self):
        self.mutate(self.template, "          NOMALY_TIMEOUT_SECS: !Ref TrainEventsTimeout\n", "")
        self.assert_fails_naming("environment: 'train_events' NOMALY_TIMEOUT_SECS",
                                 "invariant (SAM): 'train_events' NOMALY_TIMEOUT_SECS")

    def test_timeout_variable_from_other_function_fails_on_both_sides(self):
        self.mutate(self.template, "          NOMALY_TIMEOUT_SECS: !Ref DetectTimeout\n",
                    "          NOMALY_TIMEOUT_SECS: !Ref DetectEventsTimeout\n")
        self.mutate(self.terraform / "functions.tf", "      NOMALY_TIMEOUT_SECS           = tostring(var.detect_timeout)\n",
                    "      NOMALY_TIMEOUT_SECS           = tostring(var.detect_events_timeout)\n")
        self.assert_fails_naming("invariant (SAM): 'detect' NOMALY_TIMEOUT_SECS", "invariant (Terraform): 'detect' NOMALY_TIMEOUT_SECS")

    def test_job_ttl_missing_fails(self):
        self.mutate(self.terraform / "functions.tf", "      NOMALY_JOB_TTL_DAYS  = tostring(var.job_retention_days)\n", "")
        self.assert_fails_naming("environment: 'backup' NOMALY_JOB_TTL_DAYS",
                                 "invariant (Terraform): 'backup' writes jobs but NOMALY_JOB_TTL_DAYS")

    # ---------------------------------------------------------------- alarms

    def test_error_ratio_expression_changed_fails(self):
        self.mutate_after(self.terraform / "monitoring.tf", '"train_error_ratio"', " + FILL(m504, 0)", "")
        self.assert_fails_naming("alarms: 'train-5xx-ratio' metrics")

    def test_error_ratio_status_changed_fails(self):
        self.mutate_after(self.template, "  DetectErrorRatioAlarm:", '{ Name: Status, Value: "503" }', '{ Name: Status, Value: "429" }')
        self.assert_fails_naming("alarms: 'detect-5xx-ratio' metrics")

    def test_error_ratio_threshold_changed_fails(self):
        self.mutate_after(self.terraform / "monitoring.tf", '"health_error_ratio"', "threshold           = var.error_ratio_threshold",
                          "threshold           = 0.5")
        self.assert_fails_naming("alarms: 'health-5xx-ratio' threshold")

    def test_error_ratio_alarm_missing_fails(self):
        self.remove_block(self.template, "  AuthorizerErrorRatioAlarm:")
        self.assert_fails_naming("alarms: 'authorizer-5xx-ratio' only in Terraform")

    def test_events_error_status_changed_fails(self):
        self.mutate(self.terraform / "monitoring.tf", 'dimensions          = { Function = "train", Status = "error" }',
                    'dimensions          = { Function = "train", Status = "failed" }')
        self.assert_fails_naming("alarms: 'train-events-error-status' dimensions")

    def test_backup_stale_alarm_unconditional_fails(self):
        self.mutate(self.terraform / "monitoring.tf", "  count               = var.backup_enabled ? 1 : 0\n", "")
        self.assert_fails_naming("alarms: 'backup-stale' condition")

    def test_backup_stale_missing_data_changed_fails(self):
        self.mutate(self.template, "      TreatMissingData: breaching\n", "      TreatMissingData: notBreaching\n")
        self.assert_fails_naming("alarms: 'backup-stale' missing_data")

    def test_jobs_expired_alarm_missing_fails(self):
        self.remove_block(self.terraform / "monitoring.tf", 'resource "aws_cloudwatch_metric_alarm" "jobs_expired" {', "\n}\n")
        self.assert_fails_naming("alarms: 'jobs-expired' only in SAM")

    # ---------------------------------------------------------------- schedules

    def test_sweep_input_changed_fails(self):
        self.mutate(self.template, """            Input: '{"action":"sweep"}'""", """            Input: '{"action":"backup"}'""")
        self.assert_fails_naming("events: 'schedule sweep' input")

    def test_sweep_schedule_missing_fails(self):
        self.remove_block(self.terraform / "functions.tf", 'resource "aws_cloudwatch_event_target" "sweep" {', "\n}\n")
        self.assert_fails_naming("events: 'schedule sweep' only in SAM")

    def test_daily_backup_always_enabled_fails(self):
        self.mutate(self.terraform / "functions.tf", '  state               = var.backup_enabled ? "ENABLED" : "DISABLED"',
                    '  state               = "ENABLED"')
        self.assert_fails_naming("events: 'schedule daily_backup' state")

    # ---------------------------------------------------------------- lifecycle, parameters

    def test_backup_retention_rule_changed_fails(self):
        self.mutate(self.terraform / "storage.tf", "      noncurrent_days = var.backup_retention_days\n",
                    "      noncurrent_days = var.noncurrent_version_expiration_days\n")
        self.assert_fails_naming("lifecycle: '{s3:backups} expire-pruned-backups' noncurrent_days")

    def test_incoming_rule_missing_fails(self):
        self.remove_block(self.template, "          - Id: expire-incoming\n",
                          "ExpirationInDays: !If [IncomingKeptForever, 1, !Ref IncomingRetentionDays]\n")
        self.assert_fails_naming("lifecycle: '{s3:models} expire-incoming' only in Terraform")

    def test_incoming_never_expiring_condition_changed_fails(self):
        self.mutate_after(self.terraform / "storage.tf", 'id     = "expire-incoming"',
                          'status = var.incoming_retention_days == 0 ? "Disabled" : "Enabled"',
                          'status = var.incoming_retention_days == 1 ? "Disabled" : "Enabled"')
        self.assert_fails_naming("lifecycle: '{s3:models} expire-incoming' status")

    def test_overlapping_backup_rules_fail_on_both_sides(self):
        # The old layout: a noncurrent rule beside expire-pruned-backups, silently capping
        # BackupRetentionDays whenever it is shorter.
        self.mutate(self.template, """          - Id: expire-pruned-backups
            Status: Enabled
""", """          - Id: expire-noncurrent-versions-too
            Status: Enabled
            Prefix: backups/
            NoncurrentVersionExpiration: { NoncurrentDays: !Ref NoncurrentVersionExpirationDays }
          - Id: expire-pruned-backups
            Status: Enabled
""")
        self.mutate(self.terraform / "storage.tf", """  rule {
    id     = "expire-pruned-backups"
""", """  rule {
    id     = "expire-noncurrent-versions-too"
    status = "Enabled"
    filter {
      prefix = "backups/"
    }
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }
  }
  rule {
    id     = "expire-pruned-backups"
""")
        self.assert_fails_naming("invariant (SAM): lifecycle rules", "invariant (Terraform): lifecycle rules",
                                 "noncurrent_days on overlapping prefixes")

    def test_parameter_default_changed_fails(self):
        self.mutate_after(self.terraform / "variables.tf", 'variable "job_retention_days" {', "default     = 30", "default     = 60")
        self.assert_fails_naming("parameters: '{param:jobretentiondays}' default")

    def test_parameter_missing_fails(self):
        self.remove_block(self.terraform / "variables.tf", 'variable "error_ratio_min_requests" {', "\n}\n")
        self.assert_fails_naming("parameters: '{param:errorratiominrequests}' only in SAM")

    # ---------------------------------------------------------------- IAM

    def test_idempotency_grant_missing_fails(self):
        self.mutate_after(self.terraform / "iam.tf", 'data "aws_iam_policy_document" "keys" {',
                          'actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"]',
                          'actions   = ["dynamodb:GetItem", "dynamodb:PutItem"]')
        self.assert_fails_naming("iam: 'keys'", "dynamodb:DeleteItem")

    def test_grant_under_a_second_condition_dropped_fails(self):
        # backup may GetItem anywhere (Table) and on idempotency items (Idempotency): losing the
        # second statement's grant is drift even though the first still covers the action.
        self.mutate_after(self.terraform / "iam.tf", 'data "aws_iam_policy_document" "backup" {',
                          'actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"]',
                          'actions   = ["dynamodb:PutItem", "dynamodb:DeleteItem"]')
        self.assert_fails_naming("iam: 'backup' Allow dynamodb:GetItem {table}", "T#*#IDEM#*")

    def test_leases_index_grant_missing_fails(self):
        self.mutate(self.template, "ForAllValues:StringEquals: { dynamodb:LeadingKeys: [CATALOG, LEASES] }",
                    "ForAllValues:StringEquals: { dynamodb:LeadingKeys: [CATALOG] }")
        self.assert_fails_naming("iam: 'backup'", "LEASES")

    def test_sweep_delete_grant_widened_fails(self):
        self.mutate_after(self.template, "              - Sid: SweepArtifacts", "-${AWS::Region}/models/*", "-${AWS::Region}/*")
        self.assert_fails_naming("iam: 'backup' Allow s3:DeleteObject")

    def test_unprefixed_list_bucket_fails_on_both_sides(self):
        self.mutate(self.template, """                Condition:
                  StringLike: { s3:prefix: [health/probe] }
""", "")
        self.mutate(self.terraform / "iam.tf", """    resources = [aws_s3_bucket.models.arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["health/probe"]
    }
""", "    resources = [aws_s3_bucket.models.arn]\n")
        self.assert_fails_naming("invariant (SAM): 'health' Allow s3:ListBucket", "invariant (Terraform): 'health' Allow s3:ListBucket")

    def test_update_item_on_job_items_fails_on_both_sides(self):
        self.mutate_after(self.template, "  DetectRole:", "Action: [dynamodb:GetItem, dynamodb:PutItem, dynamodb:Query]",
                          "Action: [dynamodb:GetItem, dynamodb:PutItem, dynamodb:UpdateItem, dynamodb:Query]")
        self.mutate_after(self.terraform / "iam.tf", 'data "aws_iam_policy_document" "detect" {',
                          'actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"]',
                          'actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"]')
        self.assert_fails_naming("invariant (SAM): 'detect' Allow dynamodb:UpdateItem {table} beyond API key items",
                                 "invariant (Terraform): 'detect' Allow dynamodb:UpdateItem {table} beyond API key items")

    def test_inline_auth_without_key_grant_fails(self):
        self.mutate_after(self.template, "  DetectFunction:", "          NOMALY_AUTH: authorizer\n", "          NOMALY_AUTH: inline\n")
        self.assert_fails_naming("environment: 'detect' NOMALY_AUTH",
                                 "invariant (SAM): 'detect' authenticates inline but may not update API key items")


    # ---------------------------------------------------------------- jobs state machine

    def test_state_machine_substitution_changed_fails(self):
        self.mutate(self.terraform / "jobs.tf", "    TrainEventsFunctionArn  = aws_lambda_function.train_events.arn\n",
                    "    TrainEventsFunctionArn  = aws_lambda_function.train.arn\n")
        self.assert_fails_naming("state_machines: 'sfn:jobs' substitutions")

    def test_state_machine_max_concurrency_not_the_parameter_fails(self):
        self.mutate(self.template, "        MaxConcurrency: !Ref BatchMaxConcurrency\n", "        MaxConcurrency: 10\n")
        self.assert_fails_naming("state_machines: 'sfn:jobs' substitutions")

    def test_state_machine_on_another_definition_fails(self):
        self.mutate(self.template, "      DefinitionUri: infra/statemachine/jobs.asl.json\n",
                    "      DefinitionUri: infra/statemachine/other.asl.json\n")
        self.assert_fails_naming("state_machines: 'sfn:jobs' definition", "'sfn:jobs' placeholders")

    def test_definition_placeholder_without_substitution_fails_on_both_sides(self):
        for definition in (self.definition_sam, self.definition_tf):
            self.mutate(definition, '"FunctionName": "${TrainEventsFunctionArn}",\n        "Payload": {\n          "action": "train_job"',
                        '"FunctionName": "${TrainFunctionArn}",\n        "Payload": {\n          "action": "train_job"')
        self.assert_fails_naming("invariant (SAM): 'sfn:jobs' definition placeholders",
                                 "invariant (Terraform): 'sfn:jobs' definition placeholders")

    def test_state_machine_logging_changed_fails(self):
        self.mutate(self.terraform / "jobs.tf", "    include_execution_data = false\n", "    include_execution_data = true\n")
        self.assert_fails_naming("state_machines: 'sfn:jobs' include_execution_data")

    def test_state_machine_tracing_missing_fails(self):
        self.mutate(self.template, "      Tracing:\n        Enabled: true\n", "")
        self.assert_fails_naming("state_machines: 'sfn:jobs' tracing")

    def test_state_machine_role_grant_dropped_fails(self):
        self.mutate(self.terraform / "jobs.tf", 'actions = ["states:DescribeExecution", "states:StopExecution"]',
                    'actions = ["states:DescribeExecution"]')
        self.assert_fails_naming("iam: 'sfn:jobs'", "states:StopExecution")

    def test_state_machine_plan_grant_widened_fails(self):
        self.mutate_after(self.template, "              - Sid: ReadPlans", "-${AWS::Region}/batch/*", "-${AWS::Region}/*")
        self.assert_fails_naming("iam: 'sfn:jobs' Allow s3:GetObject")

    def test_state_machine_trust_changed_fails(self):
        self.mutate(self.terraform / "jobs.tf", 'identifiers = ["states.amazonaws.com"]', 'identifiers = ["lambda.amazonaws.com"]')
        self.assert_fails_naming("state_machines: 'sfn:jobs' trust")

    def test_start_execution_grant_missing_fails(self):
        self.mutate_after(self.template, "  TrainRole:", "              - Sid: StartJobs\n                Effect: Allow\n"
                          "                Action: states:StartExecution\n                Resource: *JobsStateMachineArn\n", "")
        self.assert_fails_naming("iam: 'train' Allow states:StartExecution {sfn:jobs}: SAM \"<absent>\" != Terraform \"-\"")

    def test_jobs_state_machine_arn_variable_wrong_fails(self):
        self.mutate(self.terraform / "versions.tf", ":stateMachine:${var.name_prefix}-jobs", ":stateMachine:${var.name_prefix}-job")
        self.assert_fails_naming("environment: 'detect' NOMALY_JOBS_STATE_MACHINE_ARN", "iam: 'detect' Allow states:StartExecution")

    def test_batch_environment_missing_fails(self):
        self.mutate(self.template, "          NOMALY_BATCH_RANGE_BYTES: !Ref BatchRangeBytes\n", "")
        self.assert_fails_naming("environment: 'detect_events' NOMALY_BATCH_RANGE_BYTES")

    def test_upload_url_ttl_from_other_parameter_fails(self):
        self.mutate_after(self.terraform / "functions.tf", 'resource "aws_lambda_function" "train" {',
                          "NOMALY_UPLOAD_URL_TTL_SECS    = tostring(var.upload_url_ttl_seconds)",
                          "NOMALY_UPLOAD_URL_TTL_SECS    = tostring(var.detect_timeout)")
        self.assert_fails_naming("environment: 'train' NOMALY_UPLOAD_URL_TTL_SECS")

    def test_batch_objects_grant_narrowed_fails(self):
        self.mutate(self.terraform / "iam.tf",
                    'actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]\n'
                    '    resources = ["${aws_s3_bucket.models.arn}/batch/*"]',
                    'actions   = ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]\n'
                    '    resources = ["${aws_s3_bucket.models.arn}/batch/*"]')
        self.assert_fails_naming("iam: 'detect_events' Allow s3:DeleteObject {s3:models}/batch/*: SAM \"-\" != Terraform \"<absent>\"")

    def test_jobs_failed_alarm_missing_fails(self):
        self.remove_block(self.terraform / "monitoring.tf", 'resource "aws_cloudwatch_metric_alarm" "jobs_failed" {', "\n}\n")
        self.assert_fails_naming("alarms: 'jobs-failed' only in SAM")

    def test_jobs_failed_alarm_on_other_state_machine_fails(self):
        self.mutate(self.template, "Dimensions: [{ Name: StateMachineArn, Value: !Ref JobsStateMachine }]",
                    "Dimensions: [{ Name: StateMachineArn, Value: !Sub '${NamePrefix}-other' }]")
        self.assert_fails_naming("alarms: 'jobs-failed' dimensions")

    def test_batch_lifecycle_rule_changed_fails(self):
        self.mutate_after(self.terraform / "storage.tf", 'id     = "expire-batch"', "days = 2", "days = 7")
        self.assert_fails_naming("lifecycle: '{s3:models} expire-batch' expiration_days")

    def test_data_lifecycle_rule_missing_fails(self):
        self.remove_block(self.template, "          - Id: expire-data\n",
                          "ExpirationInDays: !If [IncomingKeptForever, 1, !Ref IncomingRetentionDays]\n")
        self.assert_fails_naming("lifecycle: '{s3:models} expire-data' only in Terraform")

    # ---------------------------------------------------------------- backup vault options

    def test_object_lock_mode_changed_fails(self):
        self.mutate(self.terraform / "storage.tf", '      mode = "GOVERNANCE"\n', '      mode = "COMPLIANCE"\n')
        self.assert_fails_naming("vault: '{s3:backups} object_lock' mode")

    def test_object_lock_always_enabled_fails(self):
        self.mutate(self.terraform / "storage.tf", "  object_lock_enabled = var.backup_object_lock_days != 0\n",
                    "  object_lock_enabled = true\n")
        self.assert_fails_naming("vault: '{s3:backups} object_lock' enabled_when")

    def test_replication_condition_changed_fails(self):
        self.mutate_after(self.terraform / "storage.tf", 'resource "aws_s3_bucket_replication_configuration" "backups" {',
                          'count  = var.backup_replica_bucket_arn != "" ? 1 : 0', "count  = var.backup_object_lock_days != 0 ? 1 : 0")
        self.assert_fails_naming("vault: '{s3:backups} replication' when")

    def test_replication_of_delete_markers_fails(self):
        self.mutate(self.template, "              DeleteMarkerReplication: { Status: Disabled }",
                    "              DeleteMarkerReplication: { Status: Enabled }")
        self.assert_fails_naming("vault: '{s3:backups} replication' rules")

    def test_replication_role_grant_widened_fails(self):
        self.mutate(self.terraform / "storage.tf", 'resources = ["${var.backup_replica_bucket_arn}/*"]', 'resources = ["*"]')
        self.assert_fails_naming("iam: 'role:backup_replication' Allow s3:ReplicateObject")

    # ---------------------------------------------------------------- streams, queues and alerts

    def test_streams_and_alerts_are_modelled(self):
        # Both models hold the input stream and queue on detect, the queues, the rules and the
        # variables the code reads, with the same values (not just the same absence).
        sam, tf = models()
        for side, model in (("SAM", sam), ("Terraform", tf)):
            esms = {k: v for k, v in model["events"].items() if k.startswith(("kinesis ", "sqs "))}
            self.assertEqual(sorted(esms), ["kinesis {kinesis:records}", "sqs {sqs:records}"], side)
            for key, esm in esms.items():
                self.assertEqual((esm["function"], esm["response_types"]), ("detect", ["ReportBatchItemFailures"]), f"{side} {key}")
            self.assertEqual(esms["kinesis {kinesis:records}"]["on_failure"], DLQ_ARN, side)
            self.assertEqual(model["streams"]["{sqs:records}"]["redrive"],
                             {"target": DLQ_ARN, "max_receive": "{param:queuemaxreceivecount}"}, side)
            self.assertEqual(sorted(model["streams"]), sorted(["{dlq}", "{kinesis:records}", "{sqs:records}", "{sqs:records_dead_letter}"]), side)
            self.assertEqual(sorted(k for k in model["alerts"] if k.startswith("rule ")),
                             ["rule {rule:alert_webhook}", "rule {rule:high_severity_alerts}"], side)
            env = model["environment"]["detect"]
            self.assertEqual(env["NOMALY_DEAD_LETTER_QUEUE_URL"], DLQ_URL, side)
            self.assertEqual(env["NOMALY_EVENT_BUS"], "{if:alertbusname!=default}?{bus.name}:default", side)
            self.assertIn('"model": "{param:streammodel}|omitted-when-empty"', env["NOMALY_STREAM_ROUTES"], side)
            for variable in ("NOMALY_ALERT_MIN_SEVERITY", "NOMALY_ALERT_WINDOW_SECS"):
                self.assertIn(variable, env, side)
            for alarm in ("detect-iterator-age", "records-dlq-depth"):
                self.assertIn(alarm, model["alarms"], side)

    def test_stream_mapping_setting_changed_fails(self):
        self.mutate(self.terraform / "streams.tf", "  batch_size                         = var.stream_batch_size\n",
                    "  batch_size                         = 10\n")
        self.assert_fails_naming("events: 'kinesis {kinesis:records}' batch_size")

    def test_queue_mapping_concurrency_changed_fails(self):
        self.mutate(self.template, "              MaximumConcurrency: !Ref QueueMaximumConcurrency\n",
                    "              MaximumConcurrency: 5\n")
        self.assert_fails_naming("events: 'sqs {sqs:records}' max_concurrency")

    def test_queue_mapping_missing_fails(self):
        self.remove_block(self.terraform / "streams.tf", 'resource "aws_lambda_event_source_mapping" "queue_records" {', "\n}\n")
        self.assert_fails_naming("events: 'sqs {sqs:records}' only in SAM")

    def test_batch_item_failures_not_reported_fails_on_both_sides(self):
        self.mutate_after(self.template, "        StreamRecords:", "            FunctionResponseTypes: [ReportBatchItemFailures]\n", "")
        self.mutate_after(self.terraform / "streams.tf", 'resource "aws_lambda_event_source_mapping" "stream_records" {',
                          '  function_response_types            = ["ReportBatchItemFailures"]\n', "")
        self.assert_fails_naming("invariant (SAM): 'kinesis {kinesis:records}' does not report batch item failures",
                                 "invariant (Terraform): 'kinesis {kinesis:records}' does not report batch item failures")

    def test_stream_failure_destination_missing_fails_on_both_sides(self):
        self.mutate(self.template, f"""            DestinationConfig:
              OnFailure:
                Destination: {SAM_DLQ_ARN}
""", "")
        self.mutate(self.terraform / "streams.tf", """  destination_config {
    on_failure {
      destination_arn = local.records_dead_letter_queue_arn
    }
  }
""", "")
        self.assert_fails_naming("invariant (SAM): 'kinesis {kinesis:records}' has no on-failure destination",
                                 "invariant (Terraform): 'kinesis {kinesis:records}' has no on-failure destination")

    def test_queue_redrive_missing_fails_on_both_sides(self):
        self.mutate(self.template, f"""      RedrivePolicy:
        deadLetterTargetArn: {SAM_DLQ_ARN}
        maxReceiveCount: !Ref QueueMaxReceiveCount
""", "")
        self.mutate(self.terraform / "streams.tf", """  redrive_policy = jsonencode({
    deadLetterTargetArn = local.records_dead_letter_queue_arn
    maxReceiveCount     = var.queue_max_receive_count
  })
""", "")
        self.assert_fails_naming("invariant (SAM): 'sqs {sqs:records}' reads a queue without a redrive policy",
                                 "invariant (Terraform): 'sqs {sqs:records}' reads a queue without a redrive policy")

    def test_queue_max_receive_count_changed_fails(self):
        self.mutate(self.terraform / "streams.tf", "    maxReceiveCount     = var.queue_max_receive_count\n",
                    "    maxReceiveCount     = 3\n")
        self.assert_fails_naming("streams: '{sqs:records}' redrive")

    def test_stream_read_grant_missing_fails_on_both_sides(self):
        self.mutate(self.template, "kinesis:DescribeStreamSummary, kinesis:GetRecords, kinesis:GetShardIterator",
                    "kinesis:DescribeStreamSummary, kinesis:GetShardIterator")
        self.mutate(self.terraform / "iam.tf", '"kinesis:DescribeStreamSummary", "kinesis:GetRecords", "kinesis:GetShardIterator"',
                    '"kinesis:DescribeStreamSummary", "kinesis:GetShardIterator"')
        self.assert_fails_naming("invariant (SAM): 'detect' lacks Allow kinesis:GetRecords {kinesis:records}",
                                 "invariant (Terraform): 'detect' lacks Allow kinesis:GetRecords {kinesis:records}")

    def test_queue_grant_on_other_queue_fails(self):
        self.mutate(self.terraform / "iam.tf", '"sqs:ChangeMessageVisibility"]\n    resources = [aws_sqs_queue.records.arn]',
                    '"sqs:ChangeMessageVisibility"]\n    resources = [aws_sqs_queue.records_dead_letter.arn]')
        self.assert_fails_naming("iam: 'detect' Allow sqs:ReceiveMessage {sqs:records}",
                                 "invariant (Terraform): 'detect' lacks Allow sqs:ReceiveMessage {sqs:records}")

    def test_stream_routes_tenant_from_other_variable_fails(self):
        self.mutate(self.terraform / "streams.tf", "merge({ tenant = var.stream_tenant }", "merge({ tenant = var.name_prefix }")
        self.assert_fails_naming("environment: 'detect' NOMALY_STREAM_ROUTES")

    def test_stream_routes_always_naming_a_model_fails(self):
        # An empty StreamModel must be omitted, not sent as "" (which no model is called).
        self.mutate(self.terraform / "streams.tf", 'var.stream_model == "" ? {} : { model = var.stream_model }',
                    "{ model = var.stream_model }")
        self.assert_fails_naming("environment: 'detect' NOMALY_STREAM_ROUTES")

    def test_queue_not_routed_fails_on_both_sides(self):
        self.mutate(self.template, ', "${RecordsQueue.Arn}": {"tenant": "${StreamTenant}", "model": "${StreamModel}"}}\'',
                    "}'")
        self.mutate(self.template, ', "${RecordsQueue.Arn}": {"tenant": "${StreamTenant}"}}\'', "}'")
        self.mutate(self.terraform / "streams.tf", "    (aws_sqs_queue.records.arn)      = local.stream_route\n", "")
        self.assert_fails_naming("invariant (SAM): 'detect' NOMALY_STREAM_ROUTES does not route {sqs:records}",
                                 "invariant (Terraform): 'detect' NOMALY_STREAM_ROUTES does not route {sqs:records}")

    def test_queue_unencrypted_fails_on_both_sides(self):
        self.mutate_after(self.template, "  RecordsQueue:\n", "      SqsManagedSseEnabled: true\n", "")
        self.mutate_after(self.terraform / "streams.tf", 'resource "aws_sqs_queue" "records" {',
                          "  sqs_managed_sse_enabled    = true\n", "")
        self.assert_fails_naming("invariant (SAM): '{sqs:records}' is not encrypted at rest",
                                 "invariant (Terraform): '{sqs:records}' is not encrypted at rest")

    def test_stream_key_changed_fails(self):
        self.mutate(self.terraform / "streams.tf", '  kms_key_id       = "alias/aws/kinesis"\n', '  kms_key_id       = "alias/other"\n')
        self.assert_fails_naming("streams: '{kinesis:records}' encryption")

    def test_queue_policy_missing_fails(self):
        self.remove_block(self.terraform / "streams.tf", 'resource "aws_sqs_queue_policy" "records_dead_letter" {', "\n}\n")
        self.assert_fails_naming("streams: '{sqs:records_dead_letter}' policy")

    def test_dead_letter_queue_url_of_other_queue_fails(self):
        self.mutate(self.terraform / "functions.tf", "NOMALY_DEAD_LETTER_QUEUE_URL  = local.records_dead_letter_queue_url",
                    "NOMALY_DEAD_LETTER_QUEUE_URL  = aws_sqs_queue.dlq.url")
        self.assert_fails_naming("environment: 'detect' NOMALY_DEAD_LETTER_QUEUE_URL",
                                 "invariant (Terraform): 'detect' has NOMALY_DEAD_LETTER_QUEUE_URL {dlq} but may not send to it")

    def test_dead_letter_send_grant_missing_fails_on_both_sides(self):
        self.remove_block(self.template, "              - Sid: RecordsDeadLetters\n", f"Resource: {SAM_DLQ_ARN}\n")
        self.remove_block(self.terraform / "iam.tf", '  statement {\n    sid       = "RecordsDeadLetters"', "\n  }\n")
        for side in ("SAM", "Terraform"):
            self.assert_fails_naming(f"invariant ({side}): 'detect' has NOMALY_DEAD_LETTER_QUEUE_URL {DLQ_URL} but may not send to it",
                                     f"invariant ({side}): 'detect' lacks Allow sqs:SendMessage {DLQ_ARN} "
                                     f"(the on-failure destination of kinesis {{kinesis:records}})")

    def test_put_events_on_default_bus_only_fails(self):
        self.mutate(self.terraform / "iam.tf", "    resources = [local.alert_bus_arn]\n",
                    '    resources = ["arn:${local.partition}:events:${local.region}:${local.account_id}:event-bus/default"]\n')
        self.assert_fails_naming("iam: 'detect' Allow events:PutEvents",
                                 "invariant (Terraform): 'detect' has NOMALY_EVENT_BUS {if:alertbusname!=default}?{bus.name}:default "
                                 "but may not put events on it")

    def test_alert_bus_always_created_fails(self):
        self.mutate(self.terraform / "alerts.tf", '  count = var.alert_bus_name != "default" ? 1 : 0\n', "")
        self.assert_fails_naming("alerts: 'bus' when")

    def test_alert_bus_name_changed_fails(self):
        self.mutate(self.template, '!If [AlertBusNameEmpty, !Sub "${NamePrefix}-alerts", !Ref AlertBusName]',
                    '!If [AlertBusNameEmpty, !Sub "${NamePrefix}-events", !Ref AlertBusName]')
        self.assert_fails_naming("alerts: 'bus' name")

    def test_high_severity_pattern_changed_fails(self):
        self.mutate_after(self.terraform / "alerts.tf", 'resource "aws_cloudwatch_event_rule" "high_severity_alerts" {',
                          '\\"severity\\":[\\"high\\"]', '\\"severity\\":[\\"medium\\",\\"high\\"]')
        self.assert_fails_naming("alerts: 'rule {rule:high_severity_alerts}' pattern")

    def test_alert_target_on_other_bus_fails(self):
        self.mutate_after(self.terraform / "alerts.tf", 'resource "aws_cloudwatch_event_target" "high_severity_alerts" {',
                          "  event_bus_name = local.alert_bus_name\n", '  event_bus_name = "default"\n')
        self.assert_fails_naming("alerts: 'rule {rule:high_severity_alerts}' targets",
                                 "invariant (Terraform): 'rule {rule:high_severity_alerts}' target alarm-topic is on bus default")

    def test_topic_policy_for_alerts_missing_fails_on_both_sides(self):
        self.remove_block(self.template, "          # High-severity alerts (HighSeverityAlertsRule), and no other rule.\n",
                          "ArnEquals: { aws:SourceArn: !GetAtt HighSeverityAlertsRule.Arn }\n")
        self.remove_block(self.terraform / "monitoring.tf", "  # High-severity alerts (aws_cloudwatch_event_rule.high_severity_alerts",
                          "\n    }\n  }\n")
        self.assert_fails_naming("invariant (SAM): 'rule {rule:high_severity_alerts}' target alarm-topic: the policy of {sns:alarms}",
                                 "invariant (Terraform): 'rule {rule:high_severity_alerts}' target alarm-topic: the policy of {sns:alarms}")

    def test_topic_policy_for_any_rule_fails(self):
        self.mutate(self.terraform / "monitoring.tf", "      values   = [aws_cloudwatch_event_rule.high_severity_alerts.arn]\n",
                    '      values   = ["arn:${local.partition}:events:${local.region}:${local.account_id}:rule/*"]\n')
        self.assert_fails_naming("alerts: 'topic_policy {sns:alarms}' statements",
                                 "invariant (Terraform): 'rule {rule:high_severity_alerts}' target alarm-topic")

    def test_webhook_always_created_fails(self):
        self.mutate_after(self.terraform / "alerts.tf", 'resource "aws_cloudwatch_event_connection" "alert_webhook" {',
                          '  count              = var.alert_webhook_url != "" ? 1 : 0\n', "")
        self.assert_fails_naming("alerts: 'connection {connection:alert_webhook}' when")

    def test_webhook_message_changed_fails(self):
        self.mutate(self.template, "for <entity>: score <score>\"}'", "for <entity>\"}'")
        self.assert_fails_naming("alerts: 'rule {rule:alert_webhook}' targets")

    def test_webhook_rate_changed_fails(self):
        self.mutate(self.terraform / "alerts.tf", "invocation_rate_limit_per_second = 10", "invocation_rate_limit_per_second = 300")
        self.assert_fails_naming("alerts: 'api_destination {api_destination:alert_webhook}' rate")

    def test_webhook_role_grant_missing_fails_on_both_sides(self):
        self.mutate(self.template, "                Action: events:InvokeApiDestination\n", "                Action: events:DescribeApiDestination\n")
        self.mutate(self.terraform / "alerts.tf", 'actions   = ["events:InvokeApiDestination"]', 'actions   = ["events:DescribeApiDestination"]')
        self.assert_fails_naming("invariant (SAM): 'rule {rule:alert_webhook}' target alert-webhook: its role {role:alert_webhook} may not invoke",
                                 "invariant (Terraform): 'rule {rule:alert_webhook}' target alert-webhook: its role {role:alert_webhook}")

    def test_alert_state_grant_missing_fails(self):
        self.remove_block(self.template, "              - Sid: AlertStates\n", 'dynamodb:LeadingKeys: ["T#*#ALERT#*"] }\n')
        self.assert_fails_naming("iam: 'detect' Allow dynamodb:GetItem {table}")

    def test_iterator_age_alarm_changed_fails(self):
        self.mutate_after(self.terraform / "monitoring.tf", 'resource "aws_cloudwatch_metric_alarm" "detect_iterator_age" {',
                          "  evaluation_periods  = 5\n", "  evaluation_periods  = 1\n")
        self.assert_fails_naming("alarms: 'detect-iterator-age' evaluation_periods")

    def test_records_dlq_alarm_missing_fails(self):
        self.remove_block(self.template, "  RecordsDeadLetterQueueAlarm:")
        self.assert_fails_naming("alarms: 'records-dlq-depth' only in Terraform")

    def test_alert_window_variable_missing_fails(self):
        self.mutate(self.terraform / "functions.tf", "      NOMALY_ALERT_WINDOW_SECS      = tostring(var.alert_window_seconds)\n", "")
        self.assert_fails_naming("environment: 'detect' NOMALY_ALERT_WINDOW_SECS")

    def test_output_missing_fails(self):
        self.remove_block(self.terraform / "outputs.tf", 'output "alert_bus_name" {', "\n}\n")
        self.assert_fails_naming("outputs: 'alert_bus_name' only in SAM")

    def test_records_panel_missing_fails(self):
        self.mutate(self.terraform / "dashboard.json.tftpl", '"title": "Alerts published and suppressed"', '"title": "Alerts"')
        self.assert_fails_naming("dashboard: bodies differ")

    # ---------------------------------------------------------------- records dead-letter queue (ours or the operator's)

    def test_records_dead_letter_queue_parameter_in_both(self):
        # RecordsDeadLetterQueueArn / records_dead_letter_queue_arn: empty by default, the same pattern
        # (SAM's AllowedPattern, the variable's validation), which takes a standard queue's ARN only.
        sam, tf = models()
        for side, model in (("SAM", sam), ("Terraform", tf)):
            self.assertEqual(model["parameters"]["{param:recordsdeadletterqueuearn}"], {"default": "", "pattern": DLQ_PATTERN}, side)
        template = parity.load_template(ROOT / "template.yaml")
        self.assertEqual(template["Conditions"]["CreateRecordsDeadLetterQueue"],
                         {"Fn::Equals": [{"Ref": "RecordsDeadLetterQueueArn"}, ""]})
        groups = {g["Label"]["default"]: g["Parameters"] for g in template["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]}
        self.assertIn("RecordsDeadLetterQueueArn", groups["Streams and queues (records scored by detect)"])
        for arn in ("", "arn:aws:sqs:eu-west-1:123456789012:my-dlq", "arn:aws-us-gov:sqs:us-gov-west-1:123456789012:a_b",
                    "arn:aws-cn:sqs:cn-north-1:123456789012:" + "q" * 80):
            self.assertTrue(parity.re.fullmatch(DLQ_PATTERN, arn), arn)
        for arn in ("my-dlq", "arn:aws:sqs:eu-west-1:123456789012:my-dlq.fifo", "arn:aws:sqs:eu-west-1:12345:my-dlq",
                    "arn:aws:sns:eu-west-1:123456789012:my-dlq", "arn:aws:sqs:eu-west-1:123456789012:" + "q" * 81,
                    "https://sqs.eu-west-1.amazonaws.com/123456789012/my-dlq"):
            self.assertFalse(parity.re.fullmatch(DLQ_PATTERN, arn), arn)

    def test_records_dead_letter_queue_pattern_changed_fails(self):
        self.mutate(self.terraform / "variables.tf", ":[0-9]{12}:[A-Za-z0-9_-]{1,80}$\", var.records_dead_letter_queue_arn",
                    ":[0-9]{12}:[A-Za-z0-9_.-]{1,80}$\", var.records_dead_letter_queue_arn")
        self.assert_fails_naming("parameters: '{param:recordsdeadletterqueuearn}' pattern")

    def test_records_dead_letter_queue_pattern_missing_fails(self):
        self.mutate(self.template, f'    AllowedPattern: "{DLQ_PATTERN}"\n', "")
        self.assert_fails_naming("parameters: '{param:recordsdeadletterqueuearn}' pattern: SAM null")

    def test_records_dead_letter_queue_default_changed_fails(self):
        self.mutate_after(self.terraform / "variables.tf", 'variable "records_dead_letter_queue_arn" {', 'default     = ""',
                          'default     = "arn:aws:sqs:us-east-1:123456789012:dlq"')
        self.assert_fails_naming("parameters: '{param:recordsdeadletterqueuearn}' default")

    def test_records_dead_letter_queue_created_by_default_in_both(self):
        # The queue and its policy are created when the parameter is empty (its default), and only then.
        sam, tf = models()
        for side, model in (("SAM", sam), ("Terraform", tf)):
            queue = model["streams"]["{sqs:records_dead_letter}"]
            self.assertEqual((queue["when"], queue["policy_when"]), (DLQ_WHEN, DLQ_WHEN), side)
            self.assertEqual((queue["name"], queue["encryption"]), ("{param:nameprefix}-records-dlq", "sqs-managed"), side)
            self.assertEqual(model["parameters"]["{param:recordsdeadletterqueuearn}"]["default"], "", side)
            for key, other in model["streams"].items():
                if key != "{sqs:records_dead_letter}":
                    self.assertEqual(other.get("when", "always"), "always", f"{side} {key}")

    def test_records_dead_letter_queue_always_created_fails(self):
        self.mutate_after(self.terraform / "streams.tf", 'resource "aws_sqs_queue" "records_dead_letter" {',
                          '  count                     = var.records_dead_letter_queue_arn == "" ? 1 : 0\n', "")
        self.assert_fails_naming("streams: '{sqs:records_dead_letter}' when: SAM \"" + DLQ_WHEN + "\" != Terraform \"always\"")

    def test_records_dead_letter_queue_policy_always_created_fails(self):
        self.mutate(self.template, "    Type: AWS::SQS::QueuePolicy\n    Condition: CreateRecordsDeadLetterQueue\n",
                    "    Type: AWS::SQS::QueuePolicy\n")
        self.assert_fails_naming("streams: '{sqs:records_dead_letter}' policy_when: SAM \"always\" != Terraform \"" + DLQ_WHEN + "\"")

    def test_every_records_dead_letter_use_goes_through_the_condition(self):
        # The stream mapping's failure destination, the input queue's redrive policy, the function's
        # URL, its sqs:SendMessage, the alarm, the dashboard panel and the output: our queue when the
        # parameter is empty, else the queue it names (its URL and name from the ARN's parts).
        sam, tf = models()
        for side, model in (("SAM", sam), ("Terraform", tf)):
            self.assertEqual(model["events"]["kinesis {kinesis:records}"]["on_failure"], DLQ_ARN, side)
            self.assertEqual(model["streams"]["{sqs:records}"]["redrive"]["target"], DLQ_ARN, side)
            self.assertEqual(model["environment"]["detect"]["NOMALY_DEAD_LETTER_QUEUE_URL"], DLQ_URL, side)
            self.assertEqual(model["iam"]["detect"].get(f"Allow sqs:SendMessage {DLQ_ARN}"), "-", side)
            self.assertEqual([g for g in model["iam"]["detect"] if "records_dead_letter" in g], [f"Allow sqs:SendMessage {DLQ_ARN}"], side)
            self.assertEqual(model["alarms"]["records-dlq-depth"]["dimensions"], {"QueueName": DLQ_NAME}, side)
            self.assertEqual(model["outputs"]["records_dead_letter_queue_url"]["value"], DLQ_URL, side)
            panels = [w["properties"]["metrics"] for w in model["dashboard"]["widgets"]
                      if w["properties"].get("title") == "Records dead-letter queue depth"]
            self.assertEqual(panels, [[["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", DLQ_NAME]]], side)
            self.assertEqual(parity._unguarded_uses(model, side, "{sqs:records_dead_letter}", DLQ_WHEN), [], side)

    def test_records_dead_letter_grant_without_the_condition_fails_on_both_sides(self):
        self.mutate(self.template, f"                Action: sqs:SendMessage\n                Resource: {SAM_DLQ_ARN}\n",
                    "                Action: sqs:SendMessage\n                Resource: !GetAtt RecordsDeadLetterQueue.Arn\n")
        self.mutate(self.terraform / "iam.tf", "    resources = [local.records_dead_letter_queue_arn]\n",
                    "    resources = [aws_sqs_queue.records_dead_letter[0].arn]\n")
        for side in ("SAM", "Terraform"):
            self.assert_fails_naming(f"invariant ({side}): '{{sqs:records_dead_letter}}' is created only when recordsdeadletterqueuearn=, "
                                     f"but iam uses {{sqs:records_dead_letter}} outside {{if:recordsdeadletterqueuearn=}}?",
                                     f"invariant ({side}): 'detect' lacks Allow sqs:SendMessage {DLQ_ARN}")

    def test_records_redrive_to_our_queue_only_fails(self):
        self.mutate(self.template, f"        deadLetterTargetArn: {SAM_DLQ_ARN}\n",
                    "        deadLetterTargetArn: !GetAtt RecordsDeadLetterQueue.Arn\n")
        self.assert_fails_naming("streams: '{sqs:records}' redrive",
                                 "invariant (SAM): '{sqs:records_dead_letter}' is created only when recordsdeadletterqueuearn=, "
                                 "but streams uses {sqs:records_dead_letter}")

    def test_records_stream_failure_to_the_parameter_only_fails(self):
        # Failed stream batches must reach our queue too when the parameter is empty.
        self.mutate(self.terraform / "streams.tf", "      destination_arn = local.records_dead_letter_queue_arn\n",
                    "      destination_arn = var.records_dead_letter_queue_arn\n")
        self.assert_fails_naming("events: 'kinesis {kinesis:records}' on_failure")

    def test_records_dead_letter_url_from_wrong_part_fails(self):
        self.mutate(self.terraform / "streams.tf", '"https://sqs.${local.records_dead_letter_arn_parts[3]}.',
                    '"https://sqs.${local.records_dead_letter_arn_parts[2]}.')
        self.assert_fails_naming("environment: 'detect' NOMALY_DEAD_LETTER_QUEUE_URL",
                                 "invariant (Terraform): 'detect' has NOMALY_DEAD_LETTER_QUEUE_URL")

    def test_records_dead_letter_url_on_another_host_fails(self):
        self.mutate_after(self.template, "          NOMALY_DEAD_LETTER_QUEUE_URL: !If\n",
                          "https://sqs.${Region}.${AWS::URLSuffix}/", "https://${Region}.queue.${AWS::URLSuffix}/")
        self.assert_fails_naming("environment: 'detect' NOMALY_DEAD_LETTER_QUEUE_URL",
                                 "invariant (SAM): 'detect' has NOMALY_DEAD_LETTER_QUEUE_URL")

    def test_records_dead_letter_alarm_on_other_part_fails(self):
        self.mutate(self.template, 'Value: !If [CreateRecordsDeadLetterQueue, !GetAtt RecordsDeadLetterQueue.QueueName, '
                    '!Select [5, !Split [":", !Sub "${RecordsDeadLetterQueueArn}:::::"]]]',
                    'Value: !If [CreateRecordsDeadLetterQueue, !GetAtt RecordsDeadLetterQueue.QueueName, '
                    '!Select [4, !Split [":", !Sub "${RecordsDeadLetterQueueArn}:::::"]]]')
        self.assert_fails_naming("alarms: 'records-dlq-depth' dimensions")

    def test_records_dead_letter_panel_without_the_condition_fails(self):
        self.mutate(self.terraform / "monitoring.tf", "    records_dlq_name       = local.records_dead_letter_queue_name\n",
                    "    records_dlq_name       = aws_sqs_queue.records_dead_letter[0].name\n")
        self.assert_fails_naming("dashboard: bodies differ",
                                 "invariant (Terraform): '{sqs:records_dead_letter}' is created only when recordsdeadletterqueuearn=, "
                                 "but dashboard uses {sqs:records_dead_letter.name}")

    def test_records_dead_letter_output_without_the_condition_fails(self):
        self.mutate(self.terraform / "outputs.tf", "  value       = local.records_dead_letter_queue_url\n",
                    "  value       = aws_sqs_queue.records_dead_letter[0].url\n")
        self.assert_fails_naming("outputs: 'records_dead_letter_queue_url' value",
                                 "invariant (Terraform): '{sqs:records_dead_letter}' is created only when recordsdeadletterqueuearn=, "
                                 "but outputs uses {sqs:records_dead_letter.url}")

    def test_output_value_changed_fails(self):
        self.mutate(self.terraform / "outputs.tf", "  value       = aws_sqs_queue.records.url\n", "  value       = aws_sqs_queue.records.arn\n")
        self.assert_fails_naming("outputs: 'records_queue_url' value")

    def test_parameter_pattern_changed_fails(self):
        self.mutate(self.template, 'AllowedPattern: "^[a-z0-9][a-z0-9-]{0,31}$"', 'AllowedPattern: "^[a-z0-9][a-z0-9-]{0,63}$"')
        self.assert_fails_naming("parameters: '{param:streamtenant}' pattern")

    # ---------------------------------------------------------------- samconfig.toml

    def test_samconfig_override_out_of_range_fails(self):
        # The API detect function is cut at 29 s; a batch-sized timeout belongs to detect-events.
        self.mutate(self.samconfig, 'RetrainEnabled=\\"true\\"', 'RetrainEnabled=\\"true\\" DetectTimeout=\\"300\\"')
        self.assert_fails_naming("samconfig: [prod.deploy] DetectTimeout='300': outside 1..29")

    def test_samconfig_override_of_unknown_parameter_fails(self):
        self.mutate(self.samconfig, 'IncomingRetentionDays=\\"90\\"', 'IncomingRetentionDay=\\"90\\"')
        self.assert_fails_naming("samconfig: [prod.deploy] IncomingRetentionDay='90': no such parameter")

    def test_samconfig_override_not_allowed_fails(self):
        self.mutate(self.samconfig, 'BackupEnabled=\\"true\\"', 'BackupEnabled=\\"yes\\"')
        self.assert_fails_naming("samconfig: [prod.deploy] BackupEnabled='yes': not one of")


if __name__ == "__main__":
    unittest.main(verbosity=1)
