#!/usr/bin/env python3
"""The jobs state machine's definition (infra/statemachine/jobs.asl.json) has the shape the code
relies on: what each state invokes, with which payload, how every task retries, where failures go.
scripts/check_infra.sh also validates it against the Amazon States Language (asl-validator, pinned
in infra/package-lock.json) and cfn-lint checks it after the SAM transform; infra/parity.py checks
that both templates fill its placeholders.

    python infra/test_statemachine.py            (unittest; run by scripts/check_infra.sh)
    python infra/test_statemachine.py --render   (the definition with sample values, for the validator)
"""

import json
import re
import sys
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFINITION = ROOT / "infra" / "statemachine" / "jobs.asl.json"
JOB_TICKET = ROOT / "shared" / "application" / "src" / "domain" / "job_ticket.rs"

# What SAM (DefinitionSubstitutions) and Terraform (templatefile) put in the placeholders.
SAMPLE = {
    "DetectEventsFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:nomaly-detect-events",
    "TrainEventsFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:nomaly-train-events",
    "MaxConcurrency": "100",
}
RETRIED = ["Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException",
           "Lambda.TooManyRequestsException", "States.TaskFailed"]
RETRY = [{"ErrorEquals": RETRIED, "IntervalSeconds": 5, "MaxAttempts": 3, "BackoffRate": 2}]
INVOKE = "arn:aws:states:::lambda:invoke"


def render(values: dict = SAMPLE) -> str:
    """The definition as the deployments hand it to Step Functions (text substitution)."""
    text = DEFINITION.read_text(encoding="utf-8")
    for name, value in values.items():
        text = text.replace("${" + name + "}", value)
    return text


def walk(states: dict):
    """Every state, nested ones (a Map's ItemProcessor, a Parallel's branches) included."""
    for name, state in states.items():
        yield name, state
        if "ItemProcessor" in state:
            yield from walk(state["ItemProcessor"]["States"])
        for branch in state.get("Branches", []):
            yield from walk(branch["States"])


class JobsDefinition(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.raw = DEFINITION.read_text(encoding="utf-8")
        cls.sm = json.loads(render())
        cls.states = cls.sm["States"]
        cls.inner = cls.states["ScoreRanges"]["ItemProcessor"]["States"]

    def test_raw_file_is_valid_json_with_only_the_known_placeholders(self):
        json.loads(self.raw)  # valid JSON before substitution too (editors, SAM, cfn-lint)
        self.assertEqual(sorted(set(re.findall(r"\$\{(\w+)\}", self.raw))), sorted(SAMPLE))
        # Terraform's templatefile reads ${...} and %{...} as its own syntax.
        self.assertNotIn("%{", self.raw)
        self.assertEqual(re.findall(r"\$\{(?!\w+\})", self.raw), [])

    def test_an_execution_times_out_after_a_day(self):
        # Inside the 25-hour lease of a split job (the code): an execution stuck past it is stopped
        # by Step Functions (ExecutionsTimedOut), and the sweep then marks its job failed.
        self.assertEqual(self.sm["TimeoutSeconds"], 86400)
        self.assertIsInstance(self.sm["TimeoutSeconds"], int)

    def test_route_sends_training_to_train_and_the_rest_to_batch(self):
        route = self.states["Route"]
        self.assertEqual(self.sm["StartAt"], "Route")
        self.assertEqual(route["Type"], "Choice")
        self.assertEqual(route["Choices"], [{"Variable": "$.job.kind", "StringEquals": "train", "Next": "Train"}])
        self.assertEqual(route["Default"], "BatchLimits")
        self.assertEqual(self.states["BatchLimits"]["Next"], "ScoreRanges")

    def test_train_invokes_train_events_and_fails_the_job_on_any_error(self):
        train = self.states["Train"]
        self.assertEqual((train["Type"], train["Resource"]), ("Task", INVOKE))
        self.assertEqual(train["Parameters"], {"FunctionName": SAMPLE["TrainEventsFunctionArn"],
                                               "Payload": {"action": "train_job", "job.$": "$.job"}})
        self.assertEqual(train["ResultSelector"], {"status.$": "$.Payload.status"})
        self.assertEqual(train["ResultPath"], "$.outcome")
        self.assertEqual(train["Catch"], [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "FailTrain"}])
        self.assertTrue(train["End"])
        fail = self.states["FailTrain"]
        self.assertEqual(fail["Parameters"], {"FunctionName": SAMPLE["TrainEventsFunctionArn"],
                                              "Payload": {"action": "job_fail", "job.$": "$.job", "error.$": "$.error"}})
        self.assertEqual(fail["Next"], "Failed")

    def test_score_ranges_is_a_distributed_map_over_the_plan(self):
        m = self.states["ScoreRanges"]
        self.assertEqual(m["Type"], "Map")
        self.assertEqual(m["ItemProcessor"]["ProcessorConfig"], {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"})
        self.assertEqual(m["ItemReader"], {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSON"},
                                           "Parameters": {"Bucket.$": "$.job.bucket", "Key.$": "$.job.plan_key"}})
        self.assertEqual(m["ItemSelector"], {"action": "batch_range", "job.$": "$.job", "range.$": "$$.Map.Item.Value"})
        self.assertEqual(m["ToleratedFailurePercentage"], 0)
        self.assertIsNone(m["ResultPath"])  # ranges write their own objects; nothing is collected
        self.assertEqual(m["Catch"], [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "FailBatch"}])
        self.assertEqual(m["Next"], "JoinResults")

    def test_max_concurrency_is_the_substituted_number(self):
        # A substitution is text: BatchLimits turns it into a number (States.StringToJson) that the
        # Map reads through MaxConcurrencyPath.
        m, limits = self.states["ScoreRanges"], self.states["BatchLimits"]
        self.assertNotIn("MaxConcurrency", m)
        self.assertEqual(m["MaxConcurrencyPath"], "$.limits.max_concurrency")
        self.assertEqual((limits["Type"], limits["ResultPath"]), ("Pass", "$.limits"))
        call = re.fullmatch(r"States\.StringToJson\('(.*)'\)", limits["Parameters"]["max_concurrency.$"])
        self.assertIsNotNone(call)
        for value in ("1", "100", "1000"):
            sm = json.loads(render({**SAMPLE, "MaxConcurrency": value}))
            arg = re.fullmatch(r"States\.StringToJson\('(.*)'\)", sm["States"]["BatchLimits"]["Parameters"]["max_concurrency.$"])
            self.assertEqual(json.loads(arg.group(1)), int(value))

    def test_a_range_fails_when_its_rows_could_not_be_scored(self):
        self.assertEqual(self.states["ScoreRanges"]["ItemProcessor"]["StartAt"], "ScoreRange")
        score = self.inner["ScoreRange"]
        self.assertEqual((score["Type"], score["Resource"]), ("Task", INVOKE))
        self.assertEqual(score["Parameters"], {"FunctionName": SAMPLE["DetectEventsFunctionArn"], "Payload.$": "$"})
        self.assertEqual(score["ResultSelector"], {"failed.$": "$.Payload.failed"})
        self.assertEqual(score["Next"], "RangeVerdict")
        verdict = self.inner["RangeVerdict"]
        self.assertEqual(verdict["Choices"], [{"Variable": "$.failed", "BooleanEquals": True, "Next": "RangeFailed"}])
        self.assertEqual(verdict["Default"], "RangeDone")
        self.assertEqual(self.inner["RangeFailed"]["Type"], "Fail")
        self.assertEqual(self.inner["RangeFailed"]["Error"], "RangeFailed")
        self.assertEqual(self.inner["RangeDone"]["Type"], "Succeed")

    def test_join_then_end_or_fail_the_batch(self):
        join = self.states["JoinResults"]
        self.assertEqual(join["Parameters"], {"FunctionName": SAMPLE["DetectEventsFunctionArn"],
                                              "Payload": {"action": "batch_join", "job.$": "$.job"}})
        self.assertEqual(join["Catch"], [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "FailBatch"}])
        self.assertTrue(join["End"])
        fail = self.states["FailBatch"]
        self.assertEqual(fail["Parameters"], {"FunctionName": SAMPLE["DetectEventsFunctionArn"],
                                              "Payload": {"action": "job_fail", "job.$": "$.job", "error.$": "$.error"}})
        self.assertEqual(fail["Next"], "Failed")
        self.assertEqual(self.states["Failed"]["Type"], "Fail")

    def test_every_task_retries_lambda_errors(self):
        tasks = [name for name, state in walk(self.states) if state["Type"] == "Task"]
        self.assertEqual(sorted(tasks), ["FailBatch", "FailTrain", "JoinResults", "ScoreRange", "Train"])
        for name, state in walk(self.states):
            if state["Type"] == "Task":
                self.assertEqual(state["Resource"], INVOKE, name)
                self.assertEqual(state["Retry"], RETRY, name)

    def test_every_top_level_failure_reaches_a_fail_task(self):
        # Each state that can fail (a task, the map) catches everything into the job_fail task of
        # its kind, but the job_fail tasks themselves (they end in Failed either way).
        for name, fail in (("Train", "FailTrain"), ("ScoreRanges", "FailBatch"), ("JoinResults", "FailBatch")):
            self.assertEqual([c["Next"] for c in self.states[name]["Catch"]], [fail], name)
        for name in ("FailTrain", "FailBatch"):
            self.assertNotIn("Catch", self.states[name])

    def test_every_job_path_is_a_field_of_the_job_ticket(self):
        if not JOB_TICKET.exists():
            self.skipTest(f"{JOB_TICKET} not found")
        rust = JOB_TICKET.read_text(encoding="utf-8")
        struct = rust[rust.index("pub struct JobTicket"):]
        fields = set(re.findall(r"pub (\w+):", struct[: struct.index("\n}")]))
        used = set(re.findall(r"\$\.job\.(\w+)", self.raw))
        self.assertTrue(used, "the definition reads no $.job.* field")
        self.assertLessEqual(used, fields, f"$.job fields the ticket lacks: {sorted(used - fields)}")


if __name__ == "__main__":
    if sys.argv[1:] == ["--render"]:
        sys.stdout.write(render())
        sys.exit(0)
    unittest.main(verbosity=1)
