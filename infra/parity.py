#!/usr/bin/env python3
"""Parity of the two deployments: template.yaml (AWS SAM) and infra/terraform (Terraform).

Reads both without AWS and without the Terraform provider, reduces each to the same model and
fails, with a diff, when they disagree on:

- parameters: every SAM parameter is a Terraform variable (snake case) with the same default and
  the same pattern (SAM's AllowedPattern, the `can(regex(...))` of the variable's validation)
  (Terraform's `lambda_dir`, where the zips are, has no SAM counterpart);
- functions: runtime, architecture, handler, tracing, log format and group, memory, timeout,
  reserved concurrency (as the parameter/variable that sets them);
- routes: method + path -> function, whether an API key is required, and which authorizer checks
  the caller first (`NONE` for a public route); SAM's from the functions' Api events and from paths
  declared in the Api's DefinitionBody (their integration URI names the function; a permission
  must let API Gateway invoke it), Terraform's from local.routes and the integration URIs;
- authorizers: the function behind each API Gateway authorizer, its type, identity source and
  result cache TTL;
- events: S3 notifications (bucket, events, prefix), schedules (rule name, expression, input,
  state), the asynchronous failure destination (retries, queue) and event source mappings (the
  Kinesis stream or SQS queue, the function, batch size and window, starting position, bisecting,
  retries, record age, failure destination, response types, maximum concurrency);
- streams: every Kinesis stream (name, mode, shards, retention, encryption) and SQS queue (name,
  retention, visibility timeout, encryption, redrive policy, when it is created) and the statements
  of its queue policy (and when that is created);
- alerts: the EventBridge bus (name, when it is created), every rule with an event pattern (name,
  bus, pattern, state, when, and its targets: ARN, role, input transformer), connections, API
  destinations, the roles targets use (trust; grants under `iam` as `role:NAME`) and the alarm
  topic's policy;
- outputs: the name and value of every output (SAM `AlertBusName` is Terraform's `alert_bus_name`;
  OUTPUT_VALUES_NOT_COMPARED are compared by name only);
- environment: every variable name per function and what it is set from;
- alarms: namespace, metric, dimensions, statistic, period, threshold, comparison, missing data,
  actions, the condition that creates them, and for metric-math alarms every query (id, metric,
  dimensions, period, stat, expression, label, whether it is the alarm's value);
- IAM: every (effect, action, resource, condition) of each function's role (an action on a
  resource granted by several statements lists each statement's condition);
- lifecycle: every rule of each bucket's lifecycle (prefix, status, expiration, noncurrent
  expiration, aborting incomplete uploads);
- the usage plan: its stage, per-key rate, burst and quota, the API keys in it (enabled or not),
  every API key's name, and the REST API's API key source; an environment variable set to an API
  key's value is `{apikey_value:NAME}` (the expressions of the value may differ: SAM has the stack
  id, Terraform not);
- the DynamoDB table (keys, indexes, TTL, PITR), API Gateway's own error responses and the
  dashboard body;
- state machines: name, type, the definition file (one file for both: SAM's DefinitionUri,
  Terraform's templatefile) and its placeholders, the substitutions (SAM's DefinitionSubstitutions,
  templatefile's variables), the role (its grants are under `iam`, as `sfn:NAME`), logging and
  tracing;
- the backup vault's options: Object Lock (when, mode, days) and replication (when, role, rules;
  the role's grants under `iam` as `role:NAME`).

Each model is also held to the invariants of `invariants()` (every s3:ListBucket limited by
s3:prefix, UpdateItem on API key items only, NOMALY_TIMEOUT_SECS = the function's timeout, job
writers get NOMALY_JOB_TTL_DAYS, no S3 uploads on an API function, a failure destination for every
event source, no overlapping lifecycle expirations, a state machine's placeholders are exactly its
substitutions, every route and role of REQUIRED_GRANTS holds the grants its code needs, every
event source mapping reports batch item failures, has somewhere for failed records to go, may read
its source and is routed by NOMALY_STREAM_ROUTES, every queue and stream is encrypted, a queue
created under a condition is used only through that condition, a function may send to its
NOMALY_DEAD_LETTER_QUEUE_URL and publish to its NOMALY_EVENT_BUS, every rule
targeting the alarm topic may publish to it, every API destination target's role may invoke it): a
mistake both sides share still fails. And
every parameter samconfig.toml overrides (any environment) must be one of template.yaml's, with a
value its AllowedValues, AllowedPattern, MinValue and MaxValue accept.

Values are compared after canonicalisation: a SAM parameter `DetectMemorySize` and a Terraform
variable `detect_memory_size` are both `{param:detectmemorysize}`; the models bucket (its name,
ARN or computed name) is `{s3:models}`; the table `{table}`; a function `{fn:detect}`; a SAM
`!If [Cond, A, B]` whose condition is `!Equals [!Ref P, V]` and a Terraform `var.p == V ? A : B`
are both `{if:p=V}?A:B` (`{if:p}?A:B` when V is "true" and Terraform tests the bool `var.p`); part
I of a parameter split on ':' (SAM `!Select [I, !Split [":", P]]`, Terraform `split(":", P)[I]`,
either padded with trailing ':') `{param:p[I]}`, and the SQS queue URL built from an ARN parameter's
parts (https://sqs.REGION.URL_SUFFIX/ACCOUNT/NAME) `{param:p.url}`; a
queue other than the dead-letter queue `{sqs:NAME}` (its ARN; `.url`, `.name`), a Kinesis stream
`{kinesis:NAME}` (`.name`), the alert bus `{bus}` (`{bus.name}`), an EventBridge rule
`{rule:NAME}`; a JSON environment value (SAM `!Sub` or an `!If` between two, Terraform
`jsonencode(local.NAME)`) is `json:` and the JSON, a key present only when a parameter is not
empty marked `|omitted-when-empty`; etc.

    python infra/parity.py [--template template.yaml] [--terraform infra/terraform] [--samconfig samconfig.toml] [--dump]

Exit status: 0 when both agree and keep the invariants, 1 on any difference or broken invariant
(printed), 2 when a file cannot be read.
Needs PyYAML and python-hcl2 (infra/requirements.txt).
"""

from __future__ import annotations

import argparse
import ast
import fnmatch
import json
import posixpath
import re
import shlex
import sys
import tomllib
from pathlib import Path

import hcl2
import yaml

ROOT = Path(__file__).resolve().parent.parent
CATEGORIES = ("parameters", "functions", "routes", "authorizers", "events", "environment", "alarms", "iam", "lifecycle",
              "usage_plan", "table", "gateway_responses", "dashboard", "state_machines", "vault", "streams", "alerts",
              "outputs")
# Terraform variables with no SAM parameter: where the zips are (SAM builds them itself).
TF_ONLY_VARIABLES = ("lambda_dir",)
# Outputs compared by name only: Terraform reads them from its resources (the stage's invoke_url,
# the dashboard's name), SAM computes them.
OUTPUT_VALUES_NOT_COMPARED = ("api_url", "dashboard_url")
# What the code behind a route (or a direct invocation) does with AWS, so the grants it cannot work
# without: `route METHOD path` is the role of the function serving it (the route must exist),
# anything else a key of the model's `iam` (a function, `sfn:NAME`). invariants() holds each
# deployment to them: both sides dropping one still fails. A grant ending ` on KEY` must also admit
# the table item whose partition key is KEY (no condition, or a dynamodb:LeadingKeys one matching
# it): GetItem on the table for model items does not read a series record.
BATCH_OBJECTS = "{s3:models}/batch/*"
SERIES_STATES = "{s3:models}/series/*"
SERIES_ITEMS = "{table} on T#acme#SERIES"
LABEL_ITEMS = "{table} on T#acme#LABELS#payments"
MODEL_ITEMS = "{table} on T#acme#MODEL#payments"
JOB_ITEMS = "{table} on T#acme#JOB#0001"
SOURCES = ("{s3:models}/incoming/*", "{s3:models}/data/*")
REQUIRED_GRANTS = {
    # A recorded job, and a presigned GET link to a batch job's results object.
    "route GET /api/v1/jobs/{id}": ["Allow dynamodb:GetItem {table}", "Allow s3:GetObject {s3:models}/results/*"],
    # A model's jobs: a Query of the jobs index (GSI1).
    "route GET /api/v1/models/{name}/jobs": ["Allow dynamodb:Query {table}/index/GSI1"],
    # A batch job on an object: HEAD of the source, the plan under batch/, the job item, an
    # execution of the jobs state machine.
    "route POST /api/v1/models/{name}/jobs": [*(f"Allow s3:GetObject {p}" for p in SOURCES),
                                              f"Allow s3:PutObject {BATCH_OBJECTS}", f"Allow s3:GetObject {BATCH_OBJECTS}",
                                              "Allow dynamodb:PutItem {table}", "Allow states:StartExecution {sfn:jobs}"],
    # Presigned PUT URLs act with the role's s3:PutObject.
    "route POST /api/v1/uploads": [f"Allow s3:PutObject {p}" for p in SOURCES],
    # Training from an object: HEAD of the source, a training job on the state machine; every
    # version learns from its model's labelled rows (a Query of T#{tenant}#LABELS#{model}).
    "route POST /api/v1/models": [*(f"Allow s3:GetObject {p}" for p in SOURCES), "Allow states:StartExecution {sfn:jobs}",
                                  f"Allow dynamodb:Query {LABEL_ITEMS}"],
    # The state machine invokes the events functions (train_job, job_fail; batch_range, batch_join).
    "sfn:jobs": ["Allow lambda:InvokeFunction {fn:train_events}", "Allow lambda:InvokeFunction {fn:detect_events}",
                 f"Allow s3:GetObject {BATCH_OBJECTS}"],
    # Time series: an append reads the record and the state it names, writes the new state, moves
    # the record with a conditional Put and deletes the superseded (or losing) state; a tenant's
    # series are a Query of its partition, one series a GetItem.
    "route POST /api/v1/series/{name}/points": [f"Allow dynamodb:GetItem {SERIES_ITEMS}", f"Allow dynamodb:PutItem {SERIES_ITEMS}",
                                                *(f"Allow s3:{a} {SERIES_STATES}" for a in ("GetObject", "PutObject", "DeleteObject"))],
    "route GET /api/v1/series": [f"Allow dynamodb:Query {SERIES_ITEMS}"],
    "route GET /api/v1/series/{name}": [f"Allow dynamodb:GetItem {SERIES_ITEMS}"],
    # Labelled rows (feedback): writing them reads the model's LATEST and version (its features),
    # the batch job a label names and that job's input object, reads the model's labels (Query)
    # and writes them with BatchWriteItem; listing them is a Query of the model's partition.
    "route POST /api/v1/models/{name}/labels": [f"Allow dynamodb:GetItem {MODEL_ITEMS}", f"Allow dynamodb:GetItem {JOB_ITEMS}",
                                                *(f"Allow s3:GetObject {p}" for p in SOURCES),
                                                *(f"Allow dynamodb:{a} {LABEL_ITEMS}" for a in ("Query", "BatchWriteItem"))],
    "route GET /api/v1/models/{name}/labels": [f"Allow dynamodb:Query {LABEL_ITEMS}"],
    # Backups hold the series (records and states) and restore writes them back; labelled rows
    # are scanned across tenants, and restore reads a model's labels (Query) and writes the
    # missing ones back (BatchWriteItem).
    "backup": [f"Allow dynamodb:Query {SERIES_ITEMS}", f"Allow dynamodb:PutItem {SERIES_ITEMS}",
               f"Allow s3:GetObject {SERIES_STATES}", f"Allow s3:PutObject {SERIES_STATES}",
               *(f"Allow dynamodb:{a} {LABEL_ITEMS}" for a in ("Scan", "Query", "BatchWriteItem"))],
    # train_job reads the source in the version the job pinned; uploads, training jobs and
    # retraining learn from the model's labelled rows.
    "train_events": [*(f"Allow s3:GetObject {p}" for p in SOURCES), *(f"Allow s3:GetObjectVersion {p}" for p in SOURCES),
                     "Allow dynamodb:GetItem {table}", "Allow dynamodb:PutItem {table}", f"Allow dynamodb:Query {LABEL_ITEMS}"],
}
# What the event source mapping of a function needs of its role to read its source (the Lambda
# service polls with the function's role), by the kind of source; and, for an SQS failure
# destination, sqs:SendMessage on it.
ESM_GRANTS = {
    "kinesis": ["kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords", "kinesis:GetShardIterator",
                "kinesis:ListShards"],
    "sqs": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"],
}
OMITTED_WHEN_EMPTY = "|omitted-when-empty"
DEFAULT_BUS_ARN = "arn:{partition}:events:{region}:{account}:event-bus/default"
INTEGRATION_URI = r"arn:\{partition\}:apigateway:\{region\}:lambda:path/2015-03-31/functions/(.+)/invocations"
FUNCTION_ARN = r"arn:\{partition\}:lambda:\{region\}:\{account\}:function:(.+)"


# ------------------------------------------------------------------------- loading


class CfnLoader(yaml.SafeLoader):
    """A YAML loader that turns CloudFormation's short-form intrinsic tags (!Ref, !Sub,
    !GetAtt, !If, ...) into their long JSON form ({"Ref": ...}, {"Fn::Sub": ...})."""


def _intrinsic(loader: yaml.Loader, suffix: str, node: yaml.Node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        resource, _, attribute = value.partition(".")
        return {"Fn::GetAtt": [resource, attribute]}
    if suffix == "Condition":
        return {"Condition": value}
    return {f"Fn::{suffix}": value}


CfnLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path) -> dict:
    with path.open(encoding="utf-8") as f:
        return yaml.load(f, Loader=CfnLoader)  # noqa: S506 - SafeLoader subclass


def _unquote(value):
    """python-hcl2 keeps string literals quoted ('"abc"') and expressions as '${...}'."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        inner = value[1:-1]
        return inner.replace('\\"', '"').replace("\\\\", "\\")
    return value


def _clean(value):
    if isinstance(value, dict):
        return {
            _unquote(k): _clean(v)
            for k, v in value.items()
            if k not in ("__is_block__", "__comments__", "__inline_comments__", "__start_line__", "__end_line__")
        }
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return _unquote(value)


_PARSED: dict[str, str] = {}  # .tf text -> its parse (as JSON): test_parity.py reads the same files many times


def _parse_hcl(text: str) -> dict:
    if text not in _PARSED:
        _PARSED[text] = json.dumps(_clean(hcl2.loads(text)))
    return json.loads(_PARSED[text])


def load_terraform(directory: Path) -> dict:
    """Every .tf file of the directory merged: resources[type][name], data[type][name], locals,
    variables, and the raw text of each file (for templatefile arguments)."""
    out = {"resource": {}, "data": {}, "locals": {}, "variable": {}, "output": {}, "files": {}}
    files = sorted(directory.glob("*.tf"))
    if not files:
        raise FileNotFoundError(f"no .tf files in {directory}")
    for path in files:
        text = path.read_text(encoding="utf-8")
        parsed = _parse_hcl(text)
        out["files"][path.name] = text
        for kind in ("resource", "data"):
            for block in parsed.get(kind, []):
                for rtype, named in block.items():
                    for name, body in named.items():
                        out[kind].setdefault(rtype, {})[name] = body
        for block in parsed.get("locals", []):
            out["locals"].update(block)
        for block in parsed.get("variable", []):
            out["variable"].update(block)
        for block in parsed.get("output", []):
            out["output"].update(block)
    return out


# ------------------------------------------------------------------------- canonical values


def _param(name: str) -> str:
    return "{param:" + name.replace("_", "").lower() + "}"


SAM_PSEUDO = {"AWS::Partition": "{partition}", "AWS::AccountId": "{account}", "AWS::Region": "{region}",
              "AWS::URLSuffix": "{urlsuffix}", "AWS::StackName": "{stack}"}


class Sam:
    """Canonical strings for SAM values."""

    def __init__(self, template: dict):
        self.t = template
        self.params = template.get("Parameters", {})
        self.resources = template.get("Resources", {})
        self.conditions = template.get("Conditions", {})

    def token(self, ref: str) -> str:
        if ref in SAM_PSEUDO:
            return SAM_PSEUDO[ref]
        if ref in self.params:
            return _param(ref)
        name, _, attr = ref.partition(".")
        rtype = self.resources.get(name, {}).get("Type", "")
        if rtype == "AWS::S3::Bucket":
            return "{s3:models}" if name == "ModelsBucket" else "{s3:backups}" if name == "BackupBucket" else "{s3:" + name + "}"
        if rtype == "AWS::DynamoDB::Table":
            return "{table}"
        if rtype == "AWS::SQS::Queue":
            if name == "DeadLetterQueue":  # the asynchronous failure destination
                return "{dlq}"
            suffix = {"": ".url", "QueueUrl": ".url", "QueueName": ".name"}.get(attr, "")
            return "{sqs:" + _snake(name[: -len("Queue")] if name.endswith("Queue") else name) + suffix + "}"
        if rtype == "AWS::Kinesis::Stream":
            return "{kinesis:" + _snake(name[: -len("Stream")] if name.endswith("Stream") else name) + (".name" if attr == "" else "") + "}"
        if rtype == "AWS::Events::EventBus":
            return "{bus}" if attr == "Arn" else "{bus.name}"
        if rtype == "AWS::Events::Rule":
            return "{rule:" + _snake(name[: -len("Rule")] if name.endswith("Rule") else name) + ("" if attr == "Arn" else ".name") + "}"
        if rtype == "AWS::Events::Connection":
            return "{connection:" + _snake(name[: -len("Connection")] if name.endswith("Connection") else name) + "}"
        if rtype == "AWS::Events::ApiDestination":
            return "{api_destination:" + _snake(name[: -len("Destination")] if name.endswith("Destination") else name) + "}"
        if rtype == "AWS::SNS::Topic":
            return "{sns:alarms}"
        if rtype == "AWS::Logs::LogGroup":
            return "{logs:" + _snake(name[: -len("LogGroup")]) + "}"
        if rtype == "AWS::Serverless::Function":
            return "{fn:" + _snake(name[: -len("Function")]) + "}"
        if rtype == "AWS::Serverless::Api":
            return "{stage}" if attr == "Stage" else "{api}"
        if rtype == "AWS::ApiGateway::UsagePlan":
            return "{usage_plan}"
        if rtype in ("AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine"):
            return "{sfn:" + _snake(name[: -len("StateMachine")] if name.endswith("StateMachine") else name) + "}"
        if rtype == "AWS::IAM::Role":
            return "{role:" + _snake(name[: -len("Role")] if name.endswith("Role") else name) + "}"
        if rtype == "AWS::ApiGateway::ApiKey":
            return "{apikey:" + _snake(name[: -len("Key")] if name.endswith("Key") else name) + "}"
        return "{" + ref + "}"

    def api_key_value(self, v) -> str | None:
        """`{apikey_value:NAME}` when v is the Value of an API key resource of the template."""
        for name, r in self.resources.items():
            if r.get("Type") == "AWS::ApiGateway::ApiKey" and "Value" in r.get("Properties", {}) \
                    and r["Properties"]["Value"] == v:
                return self.token(name).replace("{apikey:", "{apikey_value:")
        return None

    def cond_param(self, condition: str) -> str:
        """`p` for a condition `!Equals [!Ref P, "true"]`, `p=V` for `!Equals [!Ref P, V]`, else
        the condition's own name (which Terraform cannot match: a difference)."""
        expr = self.conditions.get(condition, {})
        negated = isinstance(expr, dict) and isinstance(expr.get("Fn::Not"), list) and len(expr["Fn::Not"]) == 1
        if negated:  # !Not [!Equals [!Ref P, V]]: `p!=V`
            expr = expr["Fn::Not"][0]
        args = expr.get("Fn::Equals") if isinstance(expr, dict) else None
        if args and isinstance(args[0], dict) and "Ref" in args[0]:
            name = self.token(args[0]["Ref"]).strip("{}").replace("param:", "")
            value = str(args[1]).lower() if isinstance(args[1], bool) else _num(str(args[1]))
            if negated:
                return f"{name}!={value}"
            return name if value == "true" else f"{name}={value}"
        return condition

    def value(self, v):
        if isinstance(v, dict) and len(v) == 1:
            (k, a), = v.items()
            if k == "Ref":
                return self.token(a)
            if k == "Fn::GetAtt":
                return self.token(f"{a[0]}.{a[1]}")
            if k == "Fn::Sub":
                text, variables = (a, {}) if isinstance(a, str) else (a[0], {n: str(self.value(x)) for n, x in a[1].items()})
                return _buckets(re.sub(r"\$\{([^}!]+)\}", lambda m: variables.get(m.group(1)) or self.token(m.group(1)), text))
            if k == "Fn::Select" and isinstance(a[1], dict) and "Fn::Split" in a[1]:
                delimiter, source = a[1]["Fn::Split"]
                return _part(str(self.value(source)), delimiter, a[0])
            if k == "Fn::If":
                cond, yes, no = a
                if no == {"Ref": "AWS::NoValue"}:
                    return self.value(yes)
                if yes == {"Ref": "AWS::NoValue"}:
                    return self.value(no)
                return "{if:" + self.cond_param(cond) + "}?" + str(self.value(yes)) + ":" + str(self.value(no))
        if isinstance(v, list):
            return [self.value(x) for x in v]
        if isinstance(v, dict):
            return {k: self.value(x) for k, x in v.items()}
        if isinstance(v, bool):
            return str(v).lower()
        return _buckets(str(v)) if v is not None else None


def _snake(camel: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", camel).lower()


def _part(source: str, delimiter: str, index) -> str:
    """Part `index` of `source` split on `delimiter`: `{param:p[I]}` for a token split on ':' (padded
    with trailing ':' or not: the padding only adds parts after the ARN's last)."""
    m = re.fullmatch(r"\{([^{}]+)\}:*", source)
    if delimiter == ":" and m:
        return "{" + m.group(1) + f"[{_num(str(index))}]" + "}"
    return "{part " + str(index) + " of " + source + " split on " + delimiter + "}"


def _buckets(text: str) -> str:
    """Computed bucket names and ARNs (SAM) become the bucket token; a state machine's ARN computed
    from its name (both sides: the functions cannot refer to the machine that invokes them) its
    token; the URL of the SQS queue an ARN parameter names, built from the ARN's parts
    (arn:PARTITION:sqs:REGION:ACCOUNT:NAME), `{param:p.url}`."""
    text = re.sub(r"https://sqs\.\{(param:\w+)\[3\]\}\.\{urlsuffix\}/\{\1\[4\]\}/\{\1\[5\]\}", r"{\1.url}", text)
    text = re.sub(r"^arn:\{partition\}:states:\{region\}:\{account\}:stateMachine:\{param:nameprefix\}-(\w+)$",
                  lambda m: "{sfn:" + m.group(1).replace("-", "_") + "}", text)
    text = re.sub(r"arn:\{partition\}:s3:::\{param:nameprefix\}-(models|backups)-\{account\}-\{region\}",
                  r"{s3:\1}", text)
    return re.sub(r"\{param:nameprefix\}-(models|backups)-\{account\}-\{region\}", r"{s3:\1}", text)


TF_TOKENS = [
    (r"tostring\((.+)\)", None),
    (r"var\.(\w+)", lambda m: _param(m.group(1))),
    (r"aws_s3_bucket\.(models|backups)\.(arn|id|bucket)", lambda m: "{s3:" + m.group(1) + "}"),
    (r"aws_dynamodb_table\.\w+\.(arn|name|id)", lambda m: "{table}"),
    (r"aws_sqs_queue\.dlq\.(arn|name|id|url)", lambda m: "{dlq}"),
    (r"aws_sqs_queue\.(\w+)(?:\[\d+\])?\.arn", lambda m: "{sqs:" + m.group(1) + "}"),
    (r"aws_sqs_queue\.(\w+)(?:\[\d+\])?\.(id|url)", lambda m: "{sqs:" + m.group(1) + ".url}"),
    (r"aws_sqs_queue\.(\w+)(?:\[\d+\])?\.name", lambda m: "{sqs:" + m.group(1) + ".name}"),
    (r"aws_kinesis_stream\.(\w+)\.(arn|id)", lambda m: "{kinesis:" + m.group(1) + "}"),
    (r"aws_kinesis_stream\.(\w+)\.name", lambda m: "{kinesis:" + m.group(1) + ".name}"),
    (r"aws_cloudwatch_event_bus\.\w+(?:\[\d+\])?\.arn", lambda m: "{bus}"),
    (r"aws_cloudwatch_event_bus\.\w+(?:\[\d+\])?\.(name|id)", lambda m: "{bus.name}"),
    (r"aws_cloudwatch_event_rule\.(\w+)(?:\[\d+\])?\.arn", lambda m: "{rule:" + m.group(1) + "}"),
    (r"aws_cloudwatch_event_rule\.(\w+)(?:\[\d+\])?\.(name|id)", lambda m: "{rule:" + m.group(1) + ".name}"),
    (r"aws_cloudwatch_event_connection\.(\w+)(?:\[\d+\])?\.arn", lambda m: "{connection:" + m.group(1) + "}"),
    (r"aws_cloudwatch_event_api_destination\.(\w+)(?:\[\d+\])?\.arn", lambda m: "{api_destination:" + m.group(1) + "}"),
    (r"aws_sns_topic\.\w+\.(arn|id)", lambda m: "{sns:alarms}"),
    (r"aws_cloudwatch_log_group\.(\w+)\.(arn|name)", lambda m: "{logs:" + m.group(1) + "}"),
    (r"aws_lambda_function\.(\w+)\.(arn|function_name|invoke_arn)", lambda m: "{fn:" + m.group(1) + "}"),
    (r"local\.account_id", lambda m: "{account}"),
    (r"local\.region", lambda m: "{region}"),
    (r"local\.partition", lambda m: "{partition}"),
    (r"local\.url_suffix|data\.aws_partition\.\w+\.dns_suffix", lambda m: "{urlsuffix}"),
    (r"aws_api_gateway_rest_api\.\w+\.id", lambda m: "{api}"),
    (r"aws_api_gateway_stage\.\w+\.stage_name", lambda m: "{stage}"),
    (r"aws_api_gateway_usage_plan\.\w+\.id", lambda m: "{usage_plan}"),
    (r"aws_api_gateway_api_key\.(\w+)\.id", lambda m: "{apikey:" + m.group(1) + "}"),
    (r"aws_sfn_state_machine\.(\w+)\.(arn|id|name)", lambda m: "{sfn:" + m.group(1) + "}"),
    (r"aws_iam_role\.(\w+)(?:\[0\])?\.(arn|id|name)", lambda m: "{role:" + m.group(1) + "}"),
    (r"var\.(\w+)(?:\s*(==|!=)\s*(\"[^\"]*\"|-?[\d.]+))?\s*\?\s*(\"[^\"]*\"|[\w.\-\[\]]+)\s*:\s*(\"[^\"]*\"|[\w.\-\[\]]+)",
     lambda m: "{if:" + m.group(1).replace("_", "").lower()
     + ("=" if m.group(2) == "==" else m.group(2) or "") + (_num(m.group(3).strip('"')) if m.group(3) is not None else "") + "}?"
     + tf_expr(m.group(4)) + ":" + tf_expr(m.group(5))),
]

# The string locals of the Terraform configuration being read (tf_model sets them): `local.NAME`
# is its value, canonicalised.
_TF_STRING_LOCALS: dict[str, str] = {}
# Every local (tf_model sets them), for jsonencode(local.NAME).
_TF_LOCALS: dict[str, object] = {}


def _json_canon(value) -> str:
    """A JSON value as compared: `json:` and its text with sorted keys."""
    return "json:" + json.dumps(value, sort_keys=True)


def _merge_optional(param: str, present, absent):
    """The two branches of a choice on whether `param` is empty as one value: what only the branch
    where it is set has (its value must be the parameter) is marked OMITTED_WHEN_EMPTY; None when
    the branches differ otherwise."""
    if isinstance(present, dict) and isinstance(absent, dict):
        merged = {}
        for key in present:
            if key in absent:
                value = _merge_optional(param, present[key], absent[key])
                if value is None:
                    return None
                merged[key] = value
            elif present[key] == _param(param):
                merged[key] = present[key] + OMITTED_WHEN_EMPTY
            else:
                return None
        return merged if set(absent) <= set(present) else None
    return present if present == absent else None


def _tf_json(value):
    """The JSON a Terraform value (a local's parse) encodes: object keys `(expr)` and values
    `local.NAME` resolved, `merge({k = v, ...}, var.p == "" ? {} : {k2 = var.p})` as an object whose
    k2 is OMITTED_WHEN_EMPTY; None when it is something else."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            m = re.fullmatch(r"\$\{\((.+)\)\}", key)
            resolved = _tf_json(item)
            if resolved is None:
                return None
            out[tf_expr(m.group(1)) if m else key] = resolved
        return out
    if isinstance(value, str):
        m = re.fullmatch(r"\$\{local\.(\w+)\}", value)
        if m and m.group(1) in _TF_LOCALS:
            return _tf_json(_TF_LOCALS[m.group(1)])
        m = re.fullmatch(r'\$\{merge\(\{([^{}]*)\},\s*var\.(\w+)\s*==\s*""\s*\?\s*\{\}\s*:\s*\{([^{}]*)\}\)\}', value, re.S)
        if m:
            items = lambda body: {k: tf_expr(v) for k, v in re.findall(r"(\w+)\s*=\s*([^,]+?)\s*(?:,|$)", body.strip())}
            out = items(m.group(1))
            for key, item in items(m.group(3)).items():
                if item != _param(m.group(2)):
                    return None
                out[key] = item + OMITTED_WHEN_EMPTY
            return out
        if value.startswith("${") and ("{" in value[2:] or "(" in value):
            return None
        return tf_value(value)
    if isinstance(value, list):
        items = [_tf_json(v) for v in value]
        return None if any(v is None for v in items) else items
    return tf_value(value)


def tf_expr(expr: str) -> str:
    """Canonical form of one Terraform expression (the inside of ${...})."""
    expr = expr.strip()
    m = re.fullmatch(r'"((?:[^"\\]|\\.)*)"', expr)
    if m:  # a string literal, as in merge(local.function_env, {NOMALY_AUTH = "authorizer"})
        return tf_value(m.group(1).replace('\\"', '"'))
    m = re.fullmatch(r"tostring\((.+)\)", expr)
    if m:
        return tf_expr(m.group(1))
    if re.fullmatch(r"-?\d+(\.\d+)?", expr):  # a number literal, as in `cond ? 1 : var.days`
        return _num(expr)
    for pattern, make in TF_TOKENS[1:]:
        m = re.fullmatch(pattern, expr)
        if m:
            return make(m)
    m = re.fullmatch(r"local\.(\w+)", expr)
    if m and m.group(1) in _TF_STRING_LOCALS:
        return tf_value(_TF_STRING_LOCALS[m.group(1)])
    # split(":", P)[I], directly or through a local holding the split.
    m = re.fullmatch(r"local\.(\w+)\[(\d+)\]", expr)
    if m and re.fullmatch(r"\$\{split\(.*\)\}", str(_TF_STRING_LOCALS.get(m.group(1))), re.S):
        return tf_expr(_TF_STRING_LOCALS[m.group(1)][2:-1] + f"[{m.group(2)}]")
    m = re.fullmatch(r'split\("((?:[^"\\]|\\.)*)",\s*(.+)\)\[(\d+)\]', expr, re.S)
    if m:
        return _part(str(tf_expr(m.group(2))), m.group(1), m.group(3))
    m = re.fullmatch(r"jsonencode\(local\.(\w+)\)", expr)
    if m and m.group(1) in _TF_LOCALS:
        encoded = _tf_json(_TF_LOCALS[m.group(1)])
        if encoded is not None:
            return _json_canon(encoded)
    return "{" + expr + "}"


def tf_value(v):
    if isinstance(v, str):
        text = re.sub(r"\$\{([^{}]*(?:\{[^{}]*\}[^{}]*)*)\}", lambda m: tf_expr(m.group(1)), v)
        # CloudFormation's log group Arn attribute already ends in :*.
        return _buckets(re.sub(r"(\{logs:\w+\}):\*", r"\1", text))
    if isinstance(v, list):
        return [tf_value(x) for x in v]
    if isinstance(v, dict):
        return {k: tf_value(x) for k, x in v.items()}
    if isinstance(v, bool):
        return str(v).lower()
    return str(v) if v is not None else None


def _one(block):
    """A Terraform nested block parses as a list of one dict."""
    if isinstance(block, list):
        return block[0] if block else {}
    return block or {}


def _num(v):
    """Numbers compare as numbers whichever way they were written."""
    try:
        f = float(v)
        return str(int(f)) if f == int(f) else str(f)
    except (TypeError, ValueError):
        return v


# ------------------------------------------------------------------------- SAM model


def sam_model(template: dict, base: Path = ROOT) -> dict:
    """The SAM side; `base` is the template's folder (DefinitionUri is relative to it)."""
    sam = Sam(template)
    res = sam.resources
    glob = template.get("Globals", {}).get("Function", {})
    model = {k: {} for k in CATEGORIES}
    for name, p in sam.params.items():
        model["parameters"][_param(name)] = {"default": _default(p.get("Default")), "pattern": p.get("AllowedPattern")}

    api_key_default, default_authorizer, authorizer_fn = {}, {}, {}
    for name, r in res.items():
        if r.get("Type") == "AWS::Serverless::Api":
            auth = r["Properties"].get("Auth", {})
            api_key_default[name] = bool(auth.get("ApiKeyRequired", False))
            default_authorizer[name] = auth.get("DefaultAuthorizer", "NONE")
            for auth_name, a in auth.get("Authorizers", {}).items():
                function = sam.value(a.get("FunctionArn"))
                authorizer_fn[(name, auth_name)] = function
                identity = a.get("Identity", {})
                sources = [f"method.request.header.{h}" for h in identity.get("Headers", [])]
                sources += [f"method.request.querystring.{q}" for q in identity.get("QueryStrings", [])]
                model["authorizers"][function] = {
                    "type": a.get("FunctionPayloadType", "TOKEN"),
                    "identity_source": ", ".join(sources),
                    "ttl": _num(sam.value(identity.get("ReauthorizeEvery", 300)))}
            for rtype, g in r["Properties"].get("GatewayResponses", {}).items():
                model["gateway_responses"][rtype] = {
                    "status": g.get("StatusCode"),
                    "body": json.dumps(g.get("ResponseTemplates", {}).get("application/json"))}

    for name, r in res.items():
        if r.get("Type") != "AWS::Serverless::Function":
            continue
        fn = _snake(name[: -len("Function")])
        p = {**glob, **r.get("Properties", {})}
        logging = p.get("LoggingConfig", {})
        model["functions"][fn] = {
            "runtime": sam.value(p.get("Runtime")),
            "architectures": sam.value(p.get("Architectures", ["x86_64"])),
            "handler": sam.value(p.get("Handler")),
            "tracing": sam.value(p.get("Tracing", "PassThrough")),
            "log_format": sam.value(logging.get("LogFormat", "Text")),
            "log_group": sam.value(logging.get("LogGroup")),
            "memory": _num(sam.value(p.get("MemorySize"))),
            "timeout": _num(sam.value(p.get("Timeout"))),
            "reserved_concurrency": _num(sam.value(p.get("ReservedConcurrentExecutions"))),
        }
        env = {**glob.get("Environment", {}).get("Variables", {}),
               **r.get("Properties", {}).get("Environment", {}).get("Variables", {})}
        model["environment"][fn] = {k: sam.api_key_value(v) or _sam_json(sam, v) or sam.value(v) for k, v in env.items()}

        for event_name, event in p.get("Events", {}).items():
            ep = event.get("Properties", {})
            kind = event.get("Type")
            if kind == "Api":
                api = ep.get("RestApiId", {}).get("Ref", "")
                key = ep.get("Auth", {}).get("ApiKeyRequired", api_key_default.get(api, False))
                authorizer = ep.get("Auth", {}).get("Authorizer", default_authorizer.get(api, "NONE"))
                route = f"{ep['Method'].upper()} {ep['Path']}"
                model["routes"][route] = {
                    "function": fn, "api_key_required": str(bool(key)).lower(),
                    "authorizer": "NONE" if authorizer == "NONE" else authorizer_fn.get((api, authorizer), f"<unknown {authorizer}>")}
            elif kind == "S3":
                rules = ep.get("Filter", {}).get("S3Key", {}).get("Rules", [])
                prefix = next((x["Value"] for x in rules if x["Name"].lower() == "prefix"), "")
                events = ep["Events"] if isinstance(ep["Events"], list) else [ep["Events"]]
                model["events"][f"s3 {prefix}"] = {
                    "function": fn, "bucket": sam.value(ep["Bucket"]), "events": sorted(events)}
            elif kind == "Schedule":
                state = ep.get("State", "ENABLED" if ep.get("Enabled", True) else "DISABLED")
                model["events"][f"schedule {_snake(event_name)}"] = {
                    "function": fn, "name": sam.value(ep.get("Name")), "schedule": sam.value(ep["Schedule"]),
                    "input": json.loads(ep["Input"]) if "Input" in ep else None, "state": sam.value(state)}
            elif kind in ("Kinesis", "SQS"):
                source = sam.value(ep.get("Stream") if kind == "Kinesis" else ep.get("Queue"))
                model["events"][f"{_source_kind(source)} {source}"] = _esm(sam.value, fn, {**ep, "EventSourceArn": None})
            else:
                model["events"][f"{kind} {event_name}"] = {"function": fn}
        invoke = p.get("EventInvokeConfig")
        if invoke:
            failure = invoke.get("DestinationConfig", {}).get("OnFailure", {})
            model["events"][f"async {fn}"] = {
                "retries": _num(invoke.get("MaximumRetryAttempts")),
                "on_failure": sam.value(failure.get("Destination"))}

        model["iam"][fn] = _grants(_sam_role_statements(sam, p.get("Role")), sam.value, sam_conditions=True)

    _sam_state_machines(sam, model, base)
    _sam_vault(sam, model)
    _sam_event_source_mappings(sam, model)
    _sam_streams(sam, model)
    _sam_alerts(sam, model)
    model["outputs"] = {_snake(name): {"declared": "yes", "value": None if _snake(name) in OUTPUT_VALUES_NOT_COMPARED
                                        else sam.value(o.get("Value"))}
                        for name, o in template.get("Outputs", {}).items()}

    _sam_definition_routes(sam, model, api_key_default, default_authorizer, authorizer_fn)
    _sam_usage_plan(sam, model)

    for name, r in res.items():
        p = r.get("Properties", {})
        if r.get("Type") == "AWS::CloudWatch::Alarm":
            alarm_name = sam.value(p["AlarmName"]).replace("{param:nameprefix}-", "")
            model["alarms"][alarm_name] = {
                "namespace": p.get("Namespace"), "metric": p.get("MetricName"),
                "dimensions": {d["Name"]: sam.value(d["Value"]) for d in p.get("Dimensions", [])},
                "statistic": p.get("Statistic") or p.get("ExtendedStatistic"),
                "period": _num(p.get("Period")), "evaluation_periods": _num(p.get("EvaluationPeriods")),
                "threshold": _num(sam.value(p.get("Threshold"))), "comparison": p.get("ComparisonOperator"),
                "missing_data": p.get("TreatMissingData", "missing"),
                "alarm_actions": sorted(sam.value(p.get("AlarmActions", []))),
                "ok_actions": sorted(sam.value(p.get("OKActions", []))),
                "condition": "{if:" + sam.cond_param(r["Condition"]) + "}?1:0" if "Condition" in r else "always",
                "metrics": {q["Id"]: _query(
                    sam.value(q.get("Expression")), q.get("Label"), q.get("ReturnData"),
                    q.get("MetricStat", {}).get("Metric", {}).get("Namespace"),
                    q.get("MetricStat", {}).get("Metric", {}).get("MetricName"),
                    {d["Name"]: sam.value(d["Value"]) for d in q.get("MetricStat", {}).get("Metric", {}).get("Dimensions", [])},
                    q.get("MetricStat", {}).get("Period"), q.get("MetricStat", {}).get("Stat"))
                    for q in p.get("Metrics", [])},
            }
        elif r.get("Type") == "AWS::S3::Bucket":
            for rule in p.get("LifecycleConfiguration", {}).get("Rules", []):
                prefix = rule.get("Prefix", rule.get("Filter", {}).get("Prefix", ""))
                model["lifecycle"][f"{sam.token(name)} {rule.get('Id')}"] = _rule(
                    prefix, sam.value(rule.get("Status")), sam.value(rule.get("ExpirationInDays")),
                    sam.value(rule.get("NoncurrentVersionExpiration", {}).get("NoncurrentDays")),
                    sam.value(rule.get("AbortIncompleteMultipartUpload", {}).get("DaysAfterInitiation")),
                    sam.value(rule.get("ExpiredObjectDeleteMarker")))
        elif r.get("Type") == "AWS::DynamoDB::Table":
            model["table"] = {
                "keys": {k["KeyType"]: k["AttributeName"] for k in p["KeySchema"]},
                "attributes": {a["AttributeName"]: a["AttributeType"] for a in p["AttributeDefinitions"]},
                "billing": p.get("BillingMode"),
                "indexes": {g["IndexName"]: {"keys": {k["KeyType"]: k["AttributeName"] for k in g["KeySchema"]},
                                             "projection": g["Projection"]["ProjectionType"]}
                            for g in p.get("GlobalSecondaryIndexes", [])},
                "ttl": p.get("TimeToLiveSpecification", {}).get("AttributeName"),
                "pitr": str(p.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled", False)).lower(),
                "encryption": str(p.get("SSESpecification", {}).get("SSEEnabled", False)).lower(),
                "deletion_protection": sam.value(p.get("DeletionProtectionEnabled")),
            }
        elif r.get("Type") == "AWS::CloudWatch::Dashboard":
            body = sam.value(p["DashboardBody"])
            model["dashboard"] = json.loads(body)
    return model


def _sam_json(sam: Sam, v) -> str | None:
    """`json:...` for an environment value that is the !Sub of a JSON object, or an !If between two
    on whether a parameter is empty (what only one branch has is OMITTED_WHEN_EMPTY); else None."""
    def parse(x):
        if not (isinstance(x, dict) and "Fn::Sub" in x):
            return None
        try:
            value = json.loads(sam.value(x))
        except ValueError:
            return None
        return value if isinstance(value, (dict, list)) else None

    if isinstance(v, dict) and "Fn::If" in v:
        cond, yes, no = v["Fn::If"]
        a, b = parse(yes), parse(no)
        m = re.fullmatch(r"(\w+)(!?=)", sam.cond_param(cond))
        if a is None or b is None or not m:
            return None
        merged = _merge_optional(m.group(1), *((a, b) if m.group(2) == "!=" else (b, a)))
        return None if merged is None else _json_canon(merged)
    value = parse(v)
    return None if value is None else _json_canon(value)


def _branches(value: str) -> list[str]:
    """The values a `{if:COND}?A:B` may take (A a single token, as every conditional resource is
    one), else the value itself."""
    m = re.fullmatch(r"\{if:[^{}]*\}\?(\{[^{}]*\}|[^:{}]*):(.*)", str(value), re.S)
    return [m.group(1), *_branches(m.group(2))] if m else [str(value)]


def _source_kind(source: str) -> str:
    """`kinesis` or `sqs` for an event source token (for a choice between sources, the kind of the
    first that has one: the other is a parameter naming one of the same kind)."""
    for branch in _branches(source):
        if branch.startswith("{kinesis:"):
            return "kinesis"
        if branch.startswith("{sqs:") or branch == "{dlq}":
            return "sqs"
    return "other"


def _esm(canon, fn, p: dict, tf: bool = False) -> dict:
    """One event source mapping, from SAM's (Kinesis/SQS event or AWS::Lambda::EventSourceMapping)
    property names or, with tf, aws_lambda_event_source_mapping's."""
    if tf:
        failure = _one(_one(p.get("destination_config")).get("on_failure")).get("destination_arn")
        settings = (p.get("batch_size"), p.get("maximum_batching_window_in_seconds"), p.get("starting_position"),
                    p.get("bisect_batch_on_function_error"), p.get("maximum_retry_attempts"), p.get("maximum_record_age_in_seconds"),
                    failure, p.get("function_response_types", []), _one(p.get("scaling_config")).get("maximum_concurrency"),
                    p.get("enabled", True))
    else:
        failure = p.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        settings = (p.get("BatchSize"), p.get("MaximumBatchingWindowInSeconds"), p.get("StartingPosition"),
                    p.get("BisectBatchOnFunctionError"), p.get("MaximumRetryAttempts"), p.get("MaximumRecordAgeInSeconds"),
                    failure, p.get("FunctionResponseTypes", []), p.get("ScalingConfig", {}).get("MaximumConcurrency"),
                    p.get("Enabled", True))
    batch, window, start, bisect, retries, age, failure, types, concurrency, enabled = (
        None if v is None else canon(v) for v in settings)
    return {"function": fn, "batch_size": _num(batch), "batching_window": _num(window), "starting_position": start,
            "bisect": bisect, "retries": _num(retries), "max_record_age": _num(age), "on_failure": failure,
            "response_types": sorted(types), "max_concurrency": _num(concurrency), "enabled": enabled}


def _sam_event_source_mappings(sam: Sam, model: dict):
    """AWS::Lambda::EventSourceMapping resources written out (SAM's Kinesis and SQS events are read
    with the functions)."""
    for r in sam.resources.values():
        if r.get("Type") == "AWS::Lambda::EventSourceMapping":
            p = r.get("Properties", {})
            source = sam.value(p.get("EventSourceArn"))
            fn = str(sam.value(p.get("FunctionName"))).removeprefix("{fn:").removesuffix("}")
            model["events"][f"{_source_kind(source)} {source}"] = _esm(sam.value, fn, p)


def _statement(sid, effect, actions, principals, resources, conditions) -> str:
    """One statement of a resource policy, as compared."""
    listed = lambda v: sorted(v if isinstance(v, list) else [v])
    return (f"{sid or '-'} {effect or 'Allow'} {','.join(listed(actions))} principal={','.join(sorted(principals))} "
            f"resource={','.join(listed(resources))} condition={' & '.join(sorted(conditions)) or '-'}")


def _sam_statement(sam: Sam, s: dict) -> str:
    principal = s.get("Principal")
    principals = ["*"] if principal == "*" else [
        "*" if v == "*" and k == "AWS" else f"{k.lower()}:{sam.value(v)}"
        for k, vs in (principal or {}).items() for v in (vs if isinstance(vs, list) else [vs])]
    conditions = [f"{test}:{var}={sorted(sam.value(v) for v in (vals if isinstance(vals, list) else [vals]))}"
                  for test, body in s.get("Condition", {}).items() for var, vals in body.items()]
    return _statement(s.get("Sid"), s.get("Effect"), s.get("Action"), principals, sam.value(s.get("Resource")), conditions)


def _sam_when_condition(sam: Sam, r: dict) -> str:
    return "{if:" + sam.cond_param(r["Condition"]) + "}?1:0" if "Condition" in r else "always"


def _queue_encryption(managed, kms_key) -> str:
    if kms_key:
        return f"kms:{kms_key}"
    return "sqs-managed" if str(managed).lower() == "true" else "none"


def _sam_streams(sam: Sam, model: dict):
    """Kinesis streams, SQS queues and their queue policies."""
    for name, r in sam.resources.items():
        p = r.get("Properties", {})
        if r.get("Type") == "AWS::Kinesis::Stream":
            encryption = p.get("StreamEncryption")
            model["streams"][sam.token(name + ".Arn")] = {
                "kind": "kinesis", "name": sam.value(p.get("Name")),
                "mode": p.get("StreamModeDetails", {}).get("StreamMode", "PROVISIONED"),
                "shards": _num(sam.value(p.get("ShardCount"))), "retention_hours": _num(sam.value(p.get("RetentionPeriodHours", 24))),
                "encryption": f"{encryption['EncryptionType']}:{sam.value(encryption.get('KeyId'))}" if encryption else "NONE"}
        elif r.get("Type") == "AWS::SQS::Queue":
            redrive = p.get("RedrivePolicy")
            model["streams"].setdefault(sam.token(name + ".Arn"), {"policy": [], "policy_when": "never"}).update({
                "kind": "sqs", "name": sam.value(p.get("QueueName")), "when": _sam_when_condition(sam, r),
                "retention": _num(sam.value(p.get("MessageRetentionPeriod"))),
                "visibility_timeout": _num(sam.value(p.get("VisibilityTimeout"))),
                "encryption": _queue_encryption(sam.value(p.get("SqsManagedSseEnabled")), sam.value(p.get("KmsMasterKeyId"))),
                "redrive": {"target": sam.value(redrive.get("deadLetterTargetArn")),
                            "max_receive": _num(sam.value(redrive.get("maxReceiveCount")))} if redrive else None})
    for r in sam.resources.values():
        if r.get("Type") == "AWS::SQS::QueuePolicy":
            p = r["Properties"]
            for queue in p.get("Queues", []):
                key = re.sub(r"\.url\}$", "}", str(sam.value(queue)))
                _add_queue_policy(model, key, [_sam_statement(sam, s) for s in p["PolicyDocument"]["Statement"]],
                                  _sam_when_condition(sam, r))


def _add_queue_policy(model: dict, key: str, statements: list, when: str):
    """A queue policy's statements (and when it is created) under its queue."""
    entry = model["streams"].setdefault(key, {"policy": [], "policy_when": "never"})
    entry["policy"] = sorted(entry.get("policy", []) + statements)
    whens = set(entry.get("policy_when", "never").split(" | ")) - {"never"} | {when}
    entry["policy_when"] = " | ".join(sorted(whens))


def _sam_alerts(sam: Sam, model: dict):
    """The EventBridge bus, rules with an event pattern and their targets, connections, API
    destinations, the roles targets use and the SNS topic's policy."""
    roles = set()
    for name, r in sam.resources.items():
        p, rtype, when = r.get("Properties", {}), r.get("Type"), _sam_when_condition(sam, r)
        if rtype == "AWS::Events::EventBus":
            model["alerts"]["bus"] = {"name": sam.value(p.get("Name")), "when": when}
        elif rtype == "AWS::Events::Rule" and "EventPattern" in p:
            bus = sam.value(p.get("EventBusName", "default"))
            targets = {}
            for target in p.get("Targets", []):
                role = target.get("RoleArn")
                if isinstance(role, dict) and "Fn::GetAtt" in role:
                    roles.add(role["Fn::GetAtt"][0])
                transformer = target.get("InputTransformer", {})
                targets[target["Id"]] = {
                    "arn": sam.value(target.get("Arn")), "role": sam.value(role), "bus": bus, "when": when,
                    "input": json.loads(target["Input"]) if "Input" in target else None,
                    "input_paths": sam.value(transformer.get("InputPathsMap")), "input_template": transformer.get("InputTemplate")}
            model["alerts"][f"rule {sam.token(name + '.Arn')}"] = {
                "name": sam.value(p.get("Name")), "bus": bus, "pattern": p["EventPattern"], "state": sam.value(p.get("State", "ENABLED")),
                "when": when, "targets": targets}
        elif rtype == "AWS::Events::Connection":
            key = p.get("AuthParameters", {}).get("ApiKeyAuthParameters", {})
            model["alerts"][f"connection {sam.token(name + '.Arn')}"] = {
                "name": sam.value(p.get("Name")), "when": when, "authorization": p.get("AuthorizationType"),
                "key_name": sam.value(key.get("ApiKeyName")), "key_value": sam.value(key.get("ApiKeyValue"))}
        elif rtype == "AWS::Events::ApiDestination":
            model["alerts"][f"api_destination {sam.token(name + '.Arn')}"] = {
                "name": sam.value(p.get("Name")), "when": when, "connection": sam.value(p.get("ConnectionArn")),
                "endpoint": sam.value(p.get("InvocationEndpoint")), "method": p.get("HttpMethod"),
                "rate": _num(sam.value(p.get("InvocationRateLimitPerSecond")))}
        elif rtype == "AWS::SNS::TopicPolicy":
            for topic in p.get("Topics", []):
                model["alerts"][f"topic_policy {sam.value(topic)}"] = {
                    "statements": sorted(_sam_statement(sam, s) for s in p["PolicyDocument"]["Statement"])}
    for role in sorted(roles):
        token = sam.token(role).strip("{}")
        ref = {"Fn::GetAtt": [role, "Arn"]}
        model["alerts"][f"role {{{token}}}"] = {"when": _sam_when_condition(sam, sam.resources[role]), "trust": _sam_trust(sam, ref)}
        model["iam"][token] = _grants(_sam_role_statements(sam, ref), sam.value, sam_conditions=True)


def _sam_role_statements(sam: Sam, role) -> list:
    """Every statement of the inline policies (and managed policies) of the role `role` names."""
    statements = []
    if isinstance(role, dict) and "Fn::GetAtt" in role:
        rp = sam.resources[role["Fn::GetAtt"][0]]["Properties"]
        for policy in rp.get("Policies", []):
            statements += policy["PolicyDocument"]["Statement"]
        statements += [{"Effect": "Allow", "Action": "managed", "Resource": sam.value(a)}
                       for a in rp.get("ManagedPolicyArns", [])]
    else:
        statements.append({"Effect": "Allow", "Action": "no-explicit-role", "Resource": str(role)})
    return statements


def _sam_trust(sam: Sam, role) -> list[str]:
    """Who may assume the role `role` names: `service | conditions` per statement."""
    if not (isinstance(role, dict) and "Fn::GetAtt" in role):
        return [f"<not a role of the template: {role}>"]
    out = []
    for s in sam.resources[role["Fn::GetAtt"][0]]["Properties"]["AssumeRolePolicyDocument"]["Statement"]:
        services = s.get("Principal", {}).get("Service", [])
        conditions = sorted(f"{test}:{var}={sorted(sam.value(vals if isinstance(vals, list) else [vals]))}"
                            for test, body in s.get("Condition", {}).items() for var, vals in body.items())
        out += [f"{svc} | {' & '.join(conditions) or '-'}" for svc in (services if isinstance(services, list) else [services])]
    return sorted(out)


def _sam_when(sam: Sam, v) -> tuple[str, object]:
    """`!If [Cond, X, !Ref AWS::NoValue]` is X when `{if:cond}?1:0`; anything else always."""
    if isinstance(v, dict) and "Fn::If" in v and v["Fn::If"][2] == {"Ref": "AWS::NoValue"}:
        return "{if:" + sam.cond_param(v["Fn::If"][0]) + "}?1:0", v["Fn::If"][1]
    return ("never", None) if v is None else ("always", v)


def _definition_file(base: Path, relative: str) -> Path | None:
    """A definition file named relative to `base`, else to the repository (a copied template)."""
    for root in (base, ROOT):
        path = root / relative
        if path.is_file():
            return path
    return None


def _placeholders(path: Path | None) -> list[str]:
    """The `${NAME}` placeholders a definition file holds (what the substitutions must fill)."""
    if path is None:
        return ["<missing definition file>"]
    return sorted(set(re.findall(r"\$\{(\w+)\}", path.read_text(encoding="utf-8"))))


def _sam_state_machines(sam: Sam, model: dict, base: Path):
    for name, r in sam.resources.items():
        if r.get("Type") != "AWS::Serverless::StateMachine":
            continue
        p = r.get("Properties", {})
        key = sam.token(name).strip("{}")
        logging = p.get("Logging", {})
        destination = (logging.get("Destinations") or [{}])[0].get("CloudWatchLogsLogGroup", {}).get("LogGroupArn")
        uri = p.get("DefinitionUri")
        model["state_machines"][key] = {
            "name": sam.value(p.get("Name")), "type": p.get("Type", "STANDARD"),
            "definition": posixpath.normpath(uri) if isinstance(uri, str) else f"<not a file: {uri}>",
            "placeholders": _placeholders(_definition_file(base, uri) if isinstance(uri, str) else None),
            "substitutions": {k: sam.value(v) for k, v in p.get("DefinitionSubstitutions", {}).items()},
            "role": sam.value(p.get("Role")), "trust": _sam_trust(sam, p.get("Role")),
            "log_level": logging.get("Level", "OFF"),
            "include_execution_data": sam.value(logging.get("IncludeExecutionData", False)),
            "log_group": sam.value(destination),
            "tracing": sam.value(p.get("Tracing", {}).get("Enabled", False)),
        }
        model["iam"][key] = _grants(_sam_role_statements(sam, p.get("Role")), sam.value, sam_conditions=True)


def _sam_vault(sam: Sam, model: dict):
    """Object Lock and replication of the buckets (the backup vault's options)."""
    for name, r in sam.resources.items():
        if r.get("Type") != "AWS::S3::Bucket":
            continue
        p, bucket = r.get("Properties", {}), sam.token(name)
        enabled_when, enabled = _sam_when(sam, p.get("ObjectLockEnabled"))
        configured_when, lock = _sam_when(sam, p.get("ObjectLockConfiguration"))
        if enabled is not None or lock is not None:
            retention = (lock or {}).get("Rule", {}).get("DefaultRetention", {})
            model["vault"][f"{bucket} object_lock"] = {
                "enabled_when": enabled_when if sam.value(enabled) == "true" else "never", "configured_when": configured_when,
                "mode": retention.get("Mode"), "days": _num(sam.value(retention.get("Days"))),
                "years": _num(sam.value(retention.get("Years")))}
        when, replication = _sam_when(sam, p.get("ReplicationConfiguration"))
        if replication is not None:
            role = replication.get("Role")
            role_name = role["Fn::GetAtt"][0] if isinstance(role, dict) and "Fn::GetAtt" in role else None
            role_resource = sam.resources.get(role_name, {})
            model["vault"][f"{bucket} replication"] = {
                "when": when, "role": sam.value(role), "trust": _sam_trust(sam, role),
                "role_when": "{if:" + sam.cond_param(role_resource["Condition"]) + "}?1:0" if "Condition" in role_resource else "always",
                "rules": {rule.get("Id"): _replication_rule(
                    rule.get("Filter", {}).get("Prefix", rule.get("Prefix", "")), rule.get("Status"), _num(rule.get("Priority")),
                    rule.get("DeleteMarkerReplication", {}).get("Status"),
                    rule.get("SourceSelectionCriteria", {}).get("SseKmsEncryptedObjects", {}).get("Status"),
                    sam.value(rule.get("Destination", {}).get("Bucket")),
                    sam.value(rule.get("Destination", {}).get("EncryptionConfiguration", {}).get("ReplicaKmsKeyID")))
                    for rule in replication.get("Rules", [])}}
            model["iam"][sam.token(role_name).strip("{}") if role_name else "role:<unknown>"] = _grants(
                _sam_role_statements(sam, role), sam.value, sam_conditions=True)


def _replication_rule(prefix, status, priority, delete_markers, sse_kms, destination, kms_key) -> dict:
    return {"prefix": prefix or "", "status": status, "priority": priority, "delete_markers": delete_markers,
            "sse_kms_objects": sse_kms, "destination": destination, "replica_kms_key": kms_key}


def _function_of_uri(uri: str, by_name: dict) -> str:
    """The function an API Gateway integration URI invokes: `{fn:NAME}` (a reference) or a
    computed function ARN whose name is one of the functions' names."""
    m = re.fullmatch(INTEGRATION_URI, uri or "")
    target = m.group(1) if m else uri
    m = re.fullmatch(r"\{fn:(\w+)\}", target or "")
    if m:
        return m.group(1)
    m = re.fullmatch(FUNCTION_ARN, target or "")
    if m and m.group(1) in by_name:
        return by_name[m.group(1)]
    return f"<unknown integration {uri}>"


def _sam_definition_routes(sam: Sam, model: dict, api_key_default: dict, default_authorizer: dict, authorizer_fn: dict):
    """Routes declared in an Api's DefinitionBody (SAM applies the Api's Auth defaults to them
    unless the operation has its own `security`). Each needs a Lambda permission for API Gateway,
    which SAM adds only for events."""
    res = sam.resources
    by_name = {sam.value(r["Properties"]["FunctionName"]): _snake(name[: -len("Function")])
               for name, r in res.items()
               if r.get("Type") == "AWS::Serverless::Function" and "FunctionName" in r.get("Properties", {})}
    permissions = []
    for r in res.values():
        p = r.get("Properties", {})
        if r.get("Type") == "AWS::Lambda::Permission" and p.get("Principal") == "apigateway.amazonaws.com":
            permissions.append((sam.value(p.get("FunctionName")), sam.value(p.get("SourceArn", ""))))
    for api, r in res.items():
        if r.get("Type") != "AWS::Serverless::Api":
            continue
        for path, operations in (r["Properties"].get("DefinitionBody") or {}).get("paths", {}).items():
            for method, op in operations.items():
                if method.startswith("x-") or method == "parameters":
                    continue
                integration = op.get("x-amazon-apigateway-integration", {})
                fn = _function_of_uri(sam.value(integration.get("uri", "")), by_name)
                security = op.get("security")
                if security is None:
                    key, authorizer = api_key_default.get(api, False), default_authorizer.get(api, "NONE")
                else:
                    schemes = [k for requirement in security for k in requirement]
                    key = "api_key" in schemes
                    authorizer = next((k for k in schemes if k != "api_key"), "NONE")
                route = f"{method.upper()} {path}"
                model["routes"][route] = {
                    "function": fn, "api_key_required": str(bool(key)).lower(),
                    "authorizer": "NONE" if authorizer == "NONE" else authorizer_fn.get((api, authorizer), f"<unknown {authorizer}>")}
                invoked = f"{method.upper()}{path}"
                if not any(function == "{fn:" + fn + "}" and re.fullmatch(r"arn:\{partition\}:execute-api:\{region\}:\{account\}:\{api\}/(.+)", arn)
                           and fnmatch.fnmatchcase(f"stage/{invoked}", arn.split("{api}/", 1)[1])
                           for function, arn in permissions):
                    model["routes"][route]["invoke_permission"] = "missing"


def _sam_usage_plan(sam: Sam, model: dict):
    res = sam.resources
    for name, r in res.items():
        p = r.get("Properties", {})
        if r.get("Type") == "AWS::Serverless::Api":
            model["usage_plan"]["api_key_source"] = {"source": sam.value(p.get("ApiKeySourceType", "HEADER"))}
        elif r.get("Type") == "AWS::ApiGateway::UsagePlan":
            throttle, quota = p.get("Throttle", {}), p.get("Quota", {})
            keys = sorted(f"{sam.value(k['Properties']['KeyId'])} {k['Properties'].get('KeyType')}" for k in res.values()
                          if k.get("Type") == "AWS::ApiGateway::UsagePlanKey"
                          and sam.value(k["Properties"].get("UsagePlanId")) == sam.token(name))
            model["usage_plan"]["plan " + sam.value(p.get("UsagePlanName")).replace("{param:nameprefix}-", "")] = {
                "stages": sorted(f"{sam.value(s['ApiId'])}/{sam.value(s['Stage'])}" for s in p.get("ApiStages", [])),
                "rate": _num(sam.value(throttle.get("RateLimit"))), "burst": _num(sam.value(throttle.get("BurstLimit"))),
                "quota": _num(sam.value(quota.get("Limit"))), "period": sam.value(quota.get("Period")), "keys": keys}
        elif r.get("Type") == "AWS::ApiGateway::ApiKey":
            model["usage_plan"]["key " + sam.token(name)] = {
                "name": sam.value(p.get("Name")), "enabled": sam.value(p.get("Enabled", False)),
                "value": "set" if "Value" in p else "generated"}


def _grants(statements, canon, sam_conditions: bool):
    """{ "Allow s3:GetObject {s3:models}/models/*": condition } for every action x resource."""
    out = {}
    for s in statements:
        if sam_conditions:
            effect = s.get("Effect", "Allow")
            actions = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
            resources = s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]
            conditions = sorted(
                f"{test}:{var}={sorted(canon(v) for v in (vals if isinstance(vals, list) else [vals]))}"
                for test, body in s.get("Condition", {}).items() for var, vals in body.items())
        else:
            effect = s.get("effect", "Allow")
            actions, resources = s.get("actions", []), s.get("resources", [])
            conditions = sorted(f"{c['test']}:{c['variable']}={sorted(canon(v) for v in c['values'])}" for c in s.get("condition", []))
            assert not any(isinstance(c["values"], str) for c in s.get("condition", [])), "unresolved condition values"
        for a in actions:
            for r in resources:
                key, condition = f"{effect} {a} {canon(r)}", " & ".join(conditions) or "-"
                # Several statements may grant one action on one resource (each under its own
                # condition): all of them, in order.
                out[key] = " | ".join(sorted(set(out[key].split(" | ")) | {condition})) if key in out else condition
    return out


def _default(value):
    """A parameter's or variable's default, compared as text (true/false, numbers as numbers)."""
    if value is None:
        return "<none>"
    if isinstance(value, bool):
        return str(value).lower()
    return _num(value) if isinstance(value, (int, float)) or re.fullmatch(r"-?\d+(\.\d+)?", str(value)) else str(value)


def _query(expression, label, return_data, namespace, metric, dimensions, period, stat) -> dict:
    """One query of a metric-math alarm (an expression, or a metric with its statistic)."""
    query = {"return_data": str(return_data).lower() if return_data is not None else "<absent>"}
    if expression is not None:
        query.update(expression=expression, label=label)
    else:
        query.update(metric=f"{namespace}/{metric}", dimensions=dimensions, period=_num(period), stat=stat, label=label)
    return query


def _rule(prefix, status, expiration, noncurrent, abort, delete_marker) -> dict:
    """One bucket lifecycle rule."""
    return {"prefix": prefix or "", "status": status, "expiration_days": _num(expiration),
            "noncurrent_days": _num(noncurrent), "abort_multipart_days": _num(abort),
            "expired_delete_marker": delete_marker}


# ------------------------------------------------------------------------- Terraform model


def tf_model(tf: dict) -> dict:
    R, D, L = tf["resource"], tf["data"], tf["locals"]
    _TF_STRING_LOCALS.clear()
    _TF_STRING_LOCALS.update({k: v for k, v in L.items() if isinstance(v, str)})
    _TF_LOCALS.clear()
    _TF_LOCALS.update(L)
    model = {k: {} for k in CATEGORIES}
    for name, v in tf["variable"].items():
        if name not in TF_ONLY_VARIABLES:
            model["parameters"][_param(name)] = {"default": _default(v.get("default")), "pattern": _tf_pattern(name, v)}
    for rtype, g in L.get("gateway_responses", {}).items():
        status = g.get("status")
        model["gateway_responses"][rtype] = {
            "status": None if status in (None, "null", "${null}") else status, "body": json.dumps(g.get("body"))}

    def ref_name(expr: str, rtype: str) -> str | None:
        m = re.search(rtype.replace(".", r"\.") + r"\.(\w+)", expr or "")
        return m.group(1) if m else None

    # An environment value that is an API key's value (its canonical form) is that key's value.
    key_values = {tf_value(k["value"]): "{apikey_value:" + name + "}"
                  for name, k in R.get("aws_api_gateway_api_key", {}).items() if "value" in k}

    for fn, p in R.get("aws_lambda_function", {}).items():
        logging = _one(p.get("logging_config"))
        model["functions"][fn] = {
            "runtime": p.get("runtime"), "architectures": p.get("architectures", ["x86_64"]),
            "handler": p.get("handler"), "tracing": _one(p.get("tracing_config")).get("mode", "PassThrough"),
            "log_format": logging.get("log_format", "Text"), "log_group": tf_value(logging.get("log_group")),
            "memory": _num(tf_value(p.get("memory_size"))), "timeout": _num(tf_value(p.get("timeout"))),
            "reserved_concurrency": _num(tf_value(p.get("reserved_concurrent_executions"))),
        }
        env = _tf_env(_one(p.get("environment")).get("variables"), L)
        model["environment"][fn] = {k: key_values.get(v, v) for k, v in env.items()}

        model["iam"][fn] = _grants(_tf_role_statements(tf, ref_name(p.get("role"), "aws_iam_role"), p.get("role")),
                                   tf_value, sam_conditions=False)

    _tf_state_machines(tf, model)
    _tf_vault(tf, model)

    # Routes: local.routes, each hung on an API resource whose path must be the route's path.
    # Authorizers, by the function behind them.
    authorizer_fn = {}
    for name, a in R.get("aws_api_gateway_authorizer", {}).items():
        function = "{fn:" + str(ref_name(a.get("authorizer_uri"), "aws_lambda_function")) + "}"
        authorizer_fn[name] = function
        model["authorizers"][function] = {
            "type": a.get("type", "TOKEN"), "identity_source": a.get("identity_source", ""),
            "ttl": _num(tf_value(a.get("authorizer_result_ttl_in_seconds", 300)))}

    # Routes: local.routes, each hung on an API resource whose path must be the route's path; the
    # method resource (for_each over local.routes) says whether a key is needed and which
    # authorizer checks the caller when the route is `authorized`; aws_lambda_permission.api
    # (for_each over function names) lets API Gateway invoke the route's function.
    api_permission = R.get("aws_lambda_permission", {}).get("api", {})
    permitted = set(re.findall(r'\\?"(\w+)\\?"', str(api_permission.get("for_each", "")))) \
        if api_permission.get("principal") == "apigateway.amazonaws.com" else set()
    paths = _tf_paths(R.get("aws_api_gateway_resource", {}))
    resource_ids = L.get("api_resource_ids", {})
    method = R.get("aws_api_gateway_method", {}).get("route", {})
    method_authorizer = ref_name(method.get("authorizer_id"), "aws_api_gateway_authorizer")
    custom = "CUSTOM" in str(method.get("authorization", ""))
    for key, route in L.get("routes", {}).items():
        method_name, path = key.split(" ", 1)
        res_name = ref_name(resource_ids.get(route["resource"], ""), "aws_api_gateway_resource")
        actual = paths.get(res_name, f"<unknown resource {route['resource']}>")
        api_key = method.get("api_key_required", False)
        if "each.value.api_key_required" in str(api_key):
            api_key = route.get("api_key_required", False)
        elif str(api_key) == "${each.value.authorized}":
            api_key = route.get("authorized", False)
        authorized = str(route.get("authorized", False)).lower() == "true"
        if authorized and custom and method_authorizer:
            authorizer = authorizer_fn.get(method_authorizer, f"<unknown {method_authorizer}>")
        elif authorized:
            authorizer = f"<authorized but the method is {method.get('authorization')}>"
        else:
            authorizer = "NONE"
        model["routes"][key] = {"function": route["function"], "api_key_required": tf_value(api_key),
                                "authorizer": authorizer}
        if actual != path:
            model["routes"][key]["path_of_resource"] = actual
        if route["function"] not in permitted:
            model["routes"][key]["invoke_permission"] = "missing"

    # local.functions (the API permissions) names each function; the integrations invoke
    # local.integration_uris[route.function] (or local.functions[...].invoke_arn): each entry must
    # be that function, by reference or by its computed ARN.
    for name, expr in L.get("functions", {}).items():
        if ref_name(expr, "aws_lambda_function") != name:
            model["routes"][f"local.functions.{name}"] = {"refers_to": expr}
    by_name = {tf_value(f.get("function_name")): name for name, f in R.get("aws_lambda_function", {}).items()}
    uri = str(R.get("aws_api_gateway_integration", {}).get("route", {}).get("uri"))
    if uri == "${local.integration_uris[each.value.function]}":
        for name, expr in L.get("integration_uris", {}).items():
            m = re.fullmatch(r"\$\{aws_lambda_function\.(\w+)\.invoke_arn\}", expr)
            reached = m.group(1) if m else _function_of_uri(tf_value(expr), by_name)
            if reached != name:
                model["routes"][f"local.integration_uris.{name}"] = {"refers_to": expr}
    elif uri != "${local.functions[each.value.function].invoke_arn}":
        model["routes"]["integration uri"] = {"refers_to": uri}

    for note in R.get("aws_s3_bucket_notification", {}).values():
        bucket = tf_value(note.get("bucket"))
        for lf in note.get("lambda_function", []):
            model["events"][f"s3 {lf.get('filter_prefix', '')}"] = {
                "function": ref_name(lf["lambda_function_arn"], "aws_lambda_function"),
                "bucket": bucket, "events": sorted(lf["events"])}
    rules = R.get("aws_cloudwatch_event_rule", {})
    for target in R.get("aws_cloudwatch_event_target", {}).values():
        rule_name = ref_name(target.get("rule"), "aws_cloudwatch_event_rule")
        rule = rules.get(rule_name, {})
        if "event_pattern" in rule:  # an alert rule (alerts), not a schedule
            continue
        model["events"][f"schedule {rule_name}"] = {
            "function": ref_name(target.get("arn"), "aws_lambda_function"), "name": tf_value(rule.get("name")),
            "schedule": tf_value(rule.get("schedule_expression")),
            "input": json.loads(target["input"]) if "input" in target else None,
            "state": tf_value(rule.get("state", "ENABLED"))}
    for cfg in R.get("aws_lambda_function_event_invoke_config", {}).values():
        fn = ref_name(cfg.get("function_name"), "aws_lambda_function")
        failure = _one(_one(cfg.get("destination_config")).get("on_failure"))
        model["events"][f"async {fn}"] = {
            "retries": _num(cfg.get("maximum_retry_attempts")), "on_failure": tf_value(failure.get("destination"))}

    for m in R.get("aws_lambda_event_source_mapping", {}).values():
        source = tf_value(m.get("event_source_arn"))
        model["events"][f"{_source_kind(source)} {source}"] = _esm(tf_value, ref_name(m.get("function_name"), "aws_lambda_function"),
                                                                     m, tf=True)
    _tf_streams(tf, model)
    _tf_alerts(tf, model)
    model["outputs"] = {name: {"declared": "yes", "value": None if name in OUTPUT_VALUES_NOT_COMPARED else tf_value(o.get("value"))}
                        for name, o in tf.get("output", {}).items()}

    for p in R.get("aws_api_gateway_rest_api", {}).values():
        model["usage_plan"]["api_key_source"] = {"source": p.get("api_key_source", "HEADER")}
    for name, p in R.get("aws_api_gateway_usage_plan", {}).items():
        throttle, quota = _one(p.get("throttle_settings")), _one(p.get("quota_settings"))
        keys = sorted(f"{tf_value(k['key_id'])} {k.get('key_type')}" for k in R.get("aws_api_gateway_usage_plan_key", {}).values()
                      if tf_value(k.get("usage_plan_id")) == "{usage_plan}")
        model["usage_plan"]["plan " + tf_value(p.get("name")).replace("{param:nameprefix}-", "")] = {
            "stages": sorted(f"{tf_value(s['api_id'])}/{tf_value(s['stage'])}" for s in p.get("api_stages", [])),
            "rate": _num(tf_value(throttle.get("rate_limit"))), "burst": _num(tf_value(throttle.get("burst_limit"))),
            "quota": _num(tf_value(quota.get("limit"))), "period": tf_value(quota.get("period")), "keys": keys}
    for name, p in R.get("aws_api_gateway_api_key", {}).items():
        model["usage_plan"]["key {apikey:" + name + "}"] = {
            "name": tf_value(p.get("name")), "enabled": tf_value(p.get("enabled", True)),
            "value": "set" if "value" in p else "generated"}

    for p in R.get("aws_cloudwatch_metric_alarm", {}).values():
        name = tf_value(p["alarm_name"]).replace("{param:nameprefix}-", "")
        model["alarms"][name] = {
            "namespace": p.get("namespace"), "metric": p.get("metric_name"),
            "dimensions": tf_value(p.get("dimensions", {})),
            "statistic": p.get("statistic") or p.get("extended_statistic"),
            "period": _num(p.get("period")), "evaluation_periods": _num(p.get("evaluation_periods")),
            "threshold": _num(tf_value(p.get("threshold"))), "comparison": p.get("comparison_operator"),
            "missing_data": p.get("treat_missing_data", "missing"),
            "alarm_actions": sorted(tf_value(p.get("alarm_actions", []))),
            "ok_actions": sorted(tf_value(p.get("ok_actions", []))),
            "condition": tf_value(p["count"]) if "count" in p else "always",
            "metrics": {q["id"]: _query(
                tf_value(q.get("expression")), q.get("label"), q.get("return_data"),
                _one(q.get("metric")).get("namespace"), _one(q.get("metric")).get("metric_name"),
                tf_value(_one(q.get("metric")).get("dimensions", {})),
                _one(q.get("metric")).get("period"), _one(q.get("metric")).get("stat"))
                for q in p.get("metric_query", [])},
        }

    for lc in R.get("aws_s3_bucket_lifecycle_configuration", {}).values():
        bucket = tf_value(lc.get("bucket"))
        for rule in lc.get("rule", []):
            filt = _one(rule.get("filter"))
            model["lifecycle"][f"{bucket} {rule.get('id')}"] = _rule(
                filt.get("prefix", ""), tf_value(rule.get("status")), tf_value(_one(rule.get("expiration")).get("days")),
                tf_value(_one(rule.get("noncurrent_version_expiration")).get("noncurrent_days")),
                tf_value(_one(rule.get("abort_incomplete_multipart_upload")).get("days_after_initiation")),
                tf_value(_one(rule.get("expiration")).get("expired_object_delete_marker")))

    for p in R.get("aws_dynamodb_table", {}).values():
        model["table"] = {
            "keys": {"HASH": p.get("hash_key"), "RANGE": p.get("range_key")},
            "attributes": {a["name"]: a["type"] for a in p.get("attribute", [])},
            "billing": p.get("billing_mode"),
            "indexes": {g["name"]: {"keys": {"HASH": g["hash_key"], "RANGE": g["range_key"]},
                                    "projection": g["projection_type"]} for g in p.get("global_secondary_index", [])},
            "ttl": _one(p.get("ttl")).get("attribute_name"),
            "pitr": tf_value(_one(p.get("point_in_time_recovery")).get("enabled", False)),
            "encryption": tf_value(_one(p.get("server_side_encryption")).get("enabled", False)),
            "deletion_protection": tf_value(p.get("deletion_protection_enabled")),
        }

    for p in R.get("aws_cloudwatch_dashboard", {}).values():
        model["dashboard"] = _tf_dashboard(p.get("dashboard_body", ""), tf)
    return model


def _tf_pattern(name: str, variable: dict):
    """The pattern a variable's validation holds it to (`can(regex("PATTERN", var.NAME))`, the
    string's escapes undone), as SAM's AllowedPattern; None without one."""
    for validation in variable.get("validation", []):
        m = re.search(r'can\(regex\("((?:[^"\\]|\\.)*)",\s*var\.' + name + r"\)\)", str(validation.get("condition", "")))
        if m:
            return re.sub(r"\\(.)", r"\1", m.group(1))
    return None


def _tf_statement(s: dict) -> str:
    principals = []
    for principal in s.get("principals", []):
        for identifier in principal.get("identifiers", []):
            principals.append("*" if principal.get("type") in ("*", "AWS") and identifier == "*"
                              else f"{str(principal.get('type')).lower()}:{tf_value(identifier)}")
    conditions = [f"{c['test']}:{c['variable']}={sorted(tf_value(v) for v in c['values'])}" for c in s.get("condition", [])]
    return _statement(s.get("sid"), s.get("effect"), s.get("actions", []), principals, tf_value(s.get("resources", [])), conditions)


def _tf_document(tf: dict, expr) -> list:
    """The statements of the data.aws_iam_policy_document `expr` (`....json`) names."""
    doc = _tf_ref(expr, "data.aws_iam_policy_document")
    return tf["data"].get("aws_iam_policy_document", {}).get(doc or "", {}).get("statement", [])


def _tf_streams(tf: dict, model: dict):
    """Kinesis streams, SQS queues and their queue policies."""
    R = tf["resource"]
    for name, s in R.get("aws_kinesis_stream", {}).items():
        encryption = s.get("encryption_type", "NONE")
        model["streams"][tf_expr(f"aws_kinesis_stream.{name}.arn")] = {
            "kind": "kinesis", "name": tf_value(s.get("name")), "mode": _one(s.get("stream_mode_details")).get("stream_mode", "PROVISIONED"),
            "shards": _num(tf_value(s.get("shard_count"))), "retention_hours": _num(tf_value(s.get("retention_period", 24))),
            "encryption": f"{encryption}:{tf_value(s.get('kms_key_id'))}" if encryption != "NONE" else "NONE"}
    for name, q in R.get("aws_sqs_queue", {}).items():
        redrive = None
        m = re.fullmatch(r"\$\{jsonencode\(\{(.*)\}\)\}", str(q.get("redrive_policy", "")), re.S)
        if m:
            items = dict(re.findall(r"(\w+)\s*=\s*([^,]+?)\s*(?:,|$)", m.group(1).strip()))
            redrive = {"target": tf_expr(items.get("deadLetterTargetArn", "")), "max_receive": _num(tf_expr(items.get("maxReceiveCount", "")))}
        elif "redrive_policy" in q:
            redrive = {"unparsed": q["redrive_policy"]}
        model["streams"].setdefault(tf_expr(f"aws_sqs_queue.{name}.arn"), {"policy": [], "policy_when": "never"}).update({
            "kind": "sqs", "name": tf_value(q.get("name")), "when": _tf_when(q.get("count")),
            "retention": _num(tf_value(q.get("message_retention_seconds"))),
            "visibility_timeout": _num(tf_value(q.get("visibility_timeout_seconds"))),
            "encryption": _queue_encryption(tf_value(q.get("sqs_managed_sse_enabled")), tf_value(q.get("kms_master_key_id"))),
            "redrive": redrive})
    for policy in R.get("aws_sqs_queue_policy", {}).values():
        key = re.sub(r"\.url\}$", "}", str(tf_value(policy.get("queue_url"))))
        _add_queue_policy(model, key, [_tf_statement(s) for s in _tf_document(tf, policy.get("policy"))], _tf_when(policy.get("count")))


def _tf_alerts(tf: dict, model: dict):
    """The EventBridge bus, rules with an event pattern and their targets, connections, API
    destinations, the roles targets use and the SNS topic's policy."""
    R = tf["resource"]
    for bus in R.get("aws_cloudwatch_event_bus", {}).values():
        model["alerts"]["bus"] = {"name": tf_value(bus.get("name")), "when": _tf_when(bus.get("count"))}
    targets, roles = {}, set()
    for target in R.get("aws_cloudwatch_event_target", {}).values():
        rule = _tf_ref(target.get("rule"), "aws_cloudwatch_event_rule")
        role = _tf_ref(target.get("role_arn"), "aws_iam_role")
        if role:
            roles.add(role)
        transformer = _one(target.get("input_transformer"))
        targets.setdefault(rule, {})[target.get("target_id")] = {
            "arn": tf_value(target.get("arn")), "role": tf_value(target.get("role_arn")),
            "bus": tf_value(target.get("event_bus_name", "default")), "when": _tf_when(target.get("count")),
            "input": json.loads(target["input"]) if "input" in target else None,
            "input_paths": tf_value(transformer.get("input_paths")), "input_template": transformer.get("input_template")}
    for name, rule in R.get("aws_cloudwatch_event_rule", {}).items():
        if "event_pattern" not in rule:
            continue
        model["alerts"][f"rule {{rule:{name}}}"] = {
            "name": tf_value(rule.get("name")), "bus": tf_value(rule.get("event_bus_name", "default")),
            "pattern": json.loads(rule["event_pattern"]), "state": tf_value(rule.get("state", "ENABLED")),
            "when": _tf_when(rule.get("count")), "targets": targets.get(name, {})}
    for name, c in R.get("aws_cloudwatch_event_connection", {}).items():
        key = _one(_one(c.get("auth_parameters")).get("api_key"))
        model["alerts"][f"connection {{connection:{name}}}"] = {
            "name": tf_value(c.get("name")), "when": _tf_when(c.get("count")), "authorization": c.get("authorization_type"),
            "key_name": tf_value(key.get("key")), "key_value": tf_value(key.get("value"))}
    for name, d in R.get("aws_cloudwatch_event_api_destination", {}).items():
        model["alerts"][f"api_destination {{api_destination:{name}}}"] = {
            "name": tf_value(d.get("name")), "when": _tf_when(d.get("count")), "connection": tf_value(d.get("connection_arn")),
            "endpoint": tf_value(d.get("invocation_endpoint")), "method": d.get("http_method"),
            "rate": _num(tf_value(d.get("invocation_rate_limit_per_second")))}
    for policy in R.get("aws_sns_topic_policy", {}).values():
        model["alerts"][f"topic_policy {tf_value(policy.get('arn'))}"] = {
            "statements": sorted(_tf_statement(s) for s in _tf_document(tf, policy.get("policy")))}
    for role in sorted(roles):
        model["alerts"][f"role {{role:{role}}}"] = {"when": _tf_when(R.get("aws_iam_role", {}).get(role, {}).get("count")),
                                                    "trust": _tf_trust(tf, role)}
        model["iam"]["role:" + role] = _grants(_tf_role_statements(tf, role), tf_value, sam_conditions=False)


def _tf_ref(expr, rtype: str) -> str | None:
    m = re.search(rtype.replace(".", r"\.") + r"\.(\w+)", expr or "")
    return m.group(1) if m else None


def _tf_role_statements(tf: dict, role: str | None, expr=None) -> list:
    """Every statement of the policies attached to aws_iam_role.ROLE."""
    R, D, L = tf["resource"], tf["data"], tf["locals"]
    statements = []
    for pol in R.get("aws_iam_role_policy", {}).values():
        if _tf_ref(pol.get("role"), "aws_iam_role") == role:
            doc = _tf_ref(pol.get("policy"), "data.aws_iam_policy_document")
            statements += [_tf_locals_in_conditions(s, L)
                           for s in D.get("aws_iam_policy_document", {}).get(doc, {}).get("statement", [])]
    for att in R.get("aws_iam_role_policy_attachment", {}).values():
        if _tf_ref(att.get("role"), "aws_iam_role") == role:
            statements.append({"actions": ["managed"], "resources": [att.get("policy_arn")]})
    if not role:
        statements.append({"actions": ["no-explicit-role"], "resources": [str(expr)]})
    return statements


def _tf_trust(tf: dict, role: str | None) -> list[str]:
    """Who may assume aws_iam_role.ROLE: `service | conditions` per statement."""
    r = tf["resource"].get("aws_iam_role", {}).get(role or "", {})
    doc = _tf_ref(r.get("assume_role_policy"), "data.aws_iam_policy_document")
    if not doc:
        return [f"<no trust policy document for {role}>"]
    out = []
    for s in tf["data"].get("aws_iam_policy_document", {}).get(doc, {}).get("statement", []):
        conditions = sorted(f"{c['test']}:{c['variable']}={sorted(tf_value(c['values']))}" for c in s.get("condition", []))
        for principal in s.get("principals", []):
            out += [f"{svc} | {' & '.join(conditions) or '-'}" for svc in principal.get("identifiers", [])
                    if principal.get("type") == "Service"]
    return sorted(out)


def _tf_when(v) -> str:
    """`var.X == V`, `var.X != V` (alone, or `? 1 : 0`, `? true : false`) as `{if:x=V}?1:0`,
    `{if:x!=V}?1:0`; absent: always (count) or never (object_lock_enabled)."""
    text = str(v)
    m = re.fullmatch(r'\$\{var\.(\w+)\s*(==|!=)\s*("[^"]*"|-?[\d.]+)(?:\s*\?\s*(?:1|true)\s*:\s*(?:0|false))?\}', text)
    if m:
        return "{if:" + m.group(1).replace("_", "").lower() + ("=" if m.group(2) == "==" else "!=") \
            + _num(m.group(3).strip('"')) + "}?1:0"
    return "always" if v is None or text in ("True", "true", "${true}") else "never" if text in ("False", "false", "${false}") \
        else "{" + text + "}"


def _tf_state_machines(tf: dict, model: dict):
    for name, p in tf["resource"].get("aws_sfn_state_machine", {}).items():
        key = "sfn:" + name
        m = re.search(r'templatefile\("\$\{path\.module\}/([^"]+)",\s*\{(.*)\}\)', str(p.get("definition", "")), re.S)
        logging = _one(p.get("logging_configuration"))
        role = _tf_ref(p.get("role_arn"), "aws_iam_role")
        if m:
            relative = m.group(1)
            file = Path(tf["dir"]) / relative
            file = file if file.is_file() else _definition_file(ROOT / "infra" / "terraform", relative)
            definition = posixpath.normpath(posixpath.join("infra/terraform", relative))
            substitutions = {k: tf_expr(v) for k, v in re.findall(r"(\w+)\s*=\s*([\w.\[\]]+)", m.group(2))}
        else:
            file, definition, substitutions = None, f"<not a templatefile: {p.get('definition')}>", {}
        model["state_machines"][key] = {
            "name": tf_value(p.get("name")), "type": p.get("type", "STANDARD"),
            "definition": definition, "placeholders": _placeholders(file), "substitutions": substitutions,
            "role": "{role:" + str(role) + "}", "trust": _tf_trust(tf, role),
            "log_level": logging.get("level", "OFF"),
            "include_execution_data": tf_value(logging.get("include_execution_data", False)),
            "log_group": tf_value(logging.get("log_destination")),
            "tracing": tf_value(_one(p.get("tracing_configuration")).get("enabled", False)),
        }
        model["iam"][key] = _grants(_tf_role_statements(tf, role, p.get("role_arn")), tf_value, sam_conditions=False)


def _tf_vault(tf: dict, model: dict):
    """Object Lock and replication of the buckets (the backup vault's options)."""
    R = tf["resource"]
    for name, b in R.get("aws_s3_bucket", {}).items():
        locks = [c for c in R.get("aws_s3_bucket_object_lock_configuration", {}).values()
                 if _tf_ref(c.get("bucket"), "aws_s3_bucket") == name]
        if "object_lock_enabled" in b or locks:
            lock = locks[0] if locks else {}
            retention = _one(_one(lock.get("rule")).get("default_retention"))
            model["vault"]["{s3:" + name + "} object_lock"] = {
                "enabled_when": _tf_when(b.get("object_lock_enabled", False)),
                "configured_when": _tf_when(lock.get("count")) if lock else "never",
                "mode": retention.get("mode"), "days": _num(tf_value(retention.get("days"))),
                "years": _num(tf_value(retention.get("years")))}
        for replication in R.get("aws_s3_bucket_replication_configuration", {}).values():
            if _tf_ref(replication.get("bucket"), "aws_s3_bucket") != name:
                continue
            role = _tf_ref(replication.get("role"), "aws_iam_role")
            rules = {}
            for rule in replication.get("rule", []):
                destination = _one(rule.get("destination"))
                rules[rule.get("id")] = _replication_rule(
                    _one(rule.get("filter")).get("prefix", rule.get("prefix", "")), rule.get("status"), _num(rule.get("priority")),
                    _one(rule.get("delete_marker_replication")).get("status"),
                    _one(_one(rule.get("source_selection_criteria")).get("sse_kms_encrypted_objects")).get("status"),
                    tf_value(destination.get("bucket")),
                    tf_value(_one(destination.get("encryption_configuration")).get("replica_kms_key_id")))
            model["vault"]["{s3:" + name + "} replication"] = {
                "when": _tf_when(replication.get("count")), "role": "{role:" + str(role) + "}", "trust": _tf_trust(tf, role),
                "role_when": _tf_when(R.get("aws_iam_role", {}).get(role or "", {}).get("count")), "rules": rules}
            model["iam"]["role:" + str(role)] = _grants(_tf_role_statements(tf, role, replication.get("role")),
                                                          tf_value, sam_conditions=False)


def _tf_locals_in_conditions(statement: dict, locals_: dict) -> dict:
    """A statement whose condition values (or resources) are `local.NAME` (a list in locals) with
    that list."""
    resources = statement.get("resources")
    m = re.fullmatch(r"\$\{local\.(\w+)\}", resources) if isinstance(resources, str) else None
    if m and isinstance(locals_.get(m.group(1)), list):
        statement = {**statement, "resources": locals_[m.group(1)]}
    conditions = []
    for c in statement.get("condition", []):
        values = c.get("values")
        m = re.fullmatch(r"\$\{local\.(\w+)\}", values) if isinstance(values, str) else None
        conditions.append({**c, "values": locals_.get(m.group(1), values) if m else values})
    return {**statement, "condition": conditions} if conditions else statement


def _tf_paths(resources: dict) -> dict:
    paths = {}

    def path_of(name, seen=()):
        if name in paths:
            return paths[name]
        r = resources[name]
        parent = re.search(r"aws_api_gateway_resource\.(\w+)\.id", r.get("parent_id", ""))
        base = "" if not parent or parent.group(1) in seen else path_of(parent.group(1), seen + (name,))
        paths[name] = f"{base}/{r['path_part']}"
        return paths[name]

    for name in resources:
        path_of(name)
    return paths


def _tf_env(variables, locals_: dict) -> dict:
    """Environment variables: a map literal, local.NAME, or merge(local.NAME, {K = expr, ...})."""
    if isinstance(variables, dict):
        return {k: tf_value(v) for k, v in variables.items()}
    text = (variables or "").strip()
    m = re.fullmatch(r"\$\{local\.(\w+)\}", text)
    if m:
        return {k: tf_value(v) for k, v in locals_.get(m.group(1), {}).items()}
    m = re.fullmatch(r"\$\{merge\(local\.(\w+),\s*\{(.*)\}\)\}", text, re.S)
    if m:
        env = {k: tf_value(v) for k, v in locals_.get(m.group(1), {}).items()}
        for key, expr in re.findall(r"([A-Z_][A-Z0-9_]*)\s*=\s*([^,}]+)", m.group(2)):
            env[key] = tf_expr(expr)
        return env
    return {"<unparsed>": text}


def _tf_dashboard(body: str, tf: dict):
    m = re.search(r'templatefile\("\$\{path\.module\}/([^"]+)",\s*\{(.*)\}\)', body, re.S)
    if not m:
        return {"<unparsed>": body}
    tpl = (Path(tf["dir"]) / m.group(1)).read_text(encoding="utf-8")
    variables = {k: tf_expr(v) for k, v in re.findall(r"(\w+)\s*=\s*([\w.\[\]]+)", m.group(2))}
    text = re.sub(r"\$\{(\w+)\}", lambda mm: variables.get(mm.group(1), "{" + mm.group(1) + "}"), tpl)
    return json.loads(text)


# ------------------------------------------------------------------------- diff


def diff(a: dict, b: dict, names=("SAM", "Terraform")) -> list[str]:
    problems = []
    for category in a:
        left, right = a[category], b.get(category, {})
        if category == "dashboard":
            if left != right:
                problems.append(f"dashboard: bodies differ\n    {names[0]}: {json.dumps(left, sort_keys=True)[:400]}...\n"
                                f"    {names[1]}: {json.dumps(right, sort_keys=True)[:400]}...")
            continue
        for key in sorted(set(left) | set(right)):
            if key not in right:
                problems.append(f"{category}: '{key}' only in {names[0]}: {json.dumps(left[key], sort_keys=True)}")
            elif key not in left:
                problems.append(f"{category}: '{key}' only in {names[1]}: {json.dumps(right[key], sort_keys=True)}")
            elif left[key] != right[key]:
                lv, rv = left[key], right[key]
                if isinstance(lv, dict) and isinstance(rv, dict):
                    for sub in sorted(set(lv) | set(rv)):
                        if lv.get(sub, "<absent>") != rv.get(sub, "<absent>"):
                            problems.append(f"{category}: '{key}' {sub}: {names[0]} {json.dumps(lv.get(sub, '<absent>'))}"
                                            f" != {names[1]} {json.dumps(rv.get(sub, '<absent>'))}")
                else:
                    problems.append(f"{category}: '{key}': {names[0]} {json.dumps(lv)} != {names[1]} {json.dumps(rv)}")
    return problems


# ------------------------------------------------------------------------- invariants


def invariants(model: dict, name: str) -> list[str]:
    """Rules each deployment must keep on its own (agreeing on a mistake is no excuse):

    - every s3:ListBucket grant is limited by an s3:prefix condition;
    - dynamodb:UpdateItem is granted on API key items only (the code's only UpdateItem is on them:
      revoking a key, and touch_key when a function authenticates inline), and every API function
      authenticating inline (NOMALY_AUTH not `authorizer`) has it;
    - every function's NOMALY_TIMEOUT_SECS is its own timeout;
    - every function that may write job items (PutItem on the table without a condition, or under
      one naming T#*#JOB#*) gets NOMALY_JOB_TTL_DAYS from JobRetentionDays;
    - no function serving API routes receives S3 uploads, and every function receiving S3 uploads
      or schedules has a failure destination;
    - no two lifecycle rules of a bucket that may both be enabled and cover overlapping prefixes
      set the same kind of expiration (S3 applies the shorter, silently capping the longer);
    - a state machine's definition file holds exactly the placeholders its substitutions fill (a
      placeholder left would reach Step Functions as text; Terraform's templatefile fails on it);
    - every route of REQUIRED_GRANTS exists and its function holds the grants listed there (on the
      table items named there, when one is), and so does every other role listed there; a function
      given NOMALY_JOBS_STATE_MACHINE_ARN may start executions of that state machine;
    - every event source mapping reports batch item failures (the code answers batchItemFailures,
      which Lambda ignores otherwise: a failed record would count as scored), has somewhere for
      records that keep failing to go (a Kinesis mapping's on-failure destination, an SQS queue's
      redrive policy), its function may read the source (ESM_GRANTS) and send to the destination,
      and its function's NOMALY_STREAM_ROUTES routes the source (else every record is a dead
      letter);
    - every queue and stream is encrypted at rest, and one created under a condition (the records
      dead-letter queue, when RecordsDeadLetterQueueArn is empty) is used (ARN, URL, name) only in
      the first branch of an `{if:}` on that condition: never a reference to a queue that is not there;
    - a function may send to its NOMALY_DEAD_LETTER_QUEUE_URL and put events on its NOMALY_EVENT_BUS;
    - a rule's targets are on the rule's bus; a rule targeting an SNS topic is allowed, by the
      topic's policy, to publish to it (events.amazonaws.com, aws:SourceArn the rule); an API
      destination target has a role that may invoke it.
    """
    problems = []
    api_functions = {r.get("function") for r in model["routes"].values()}
    for fn, grants in model["iam"].items():
        for grant, conditions in grants.items():
            alternatives = conditions.split(" | ")
            if grant.startswith("Allow s3:ListBucket ") and any("s3:prefix" not in c for c in alternatives):
                problems.append(f"invariant ({name}): '{fn}' {grant} without an s3:prefix condition")
            if grant == "Allow dynamodb:UpdateItem {table}" and any("dynamodb:LeadingKeys=['T#*#KEYS']" not in c for c in alternatives):
                problems.append(f"invariant ({name}): '{fn}' {grant} beyond API key items ({conditions})")
        env = model["environment"].get(fn, {})
        if fn in api_functions and env.get("NOMALY_AUTH") != "authorizer" and \
                "dynamodb:LeadingKeys=['T#*#KEYS']" not in grants.get("Allow dynamodb:UpdateItem {table}", ""):
            problems.append(f"invariant ({name}): '{fn}' authenticates inline but may not update API key items (touch_key)")
        timeout = model["functions"].get(fn, {}).get("timeout")
        if env.get("NOMALY_TIMEOUT_SECS") != timeout:
            problems.append(f"invariant ({name}): '{fn}' NOMALY_TIMEOUT_SECS is {json.dumps(env.get('NOMALY_TIMEOUT_SECS'))}, "
                            f"its timeout {json.dumps(timeout)}")
        put = grants.get("Allow dynamodb:PutItem {table}", "")
        if put and any(c == "-" or "T#*#JOB#*" in c for c in put.split(" | ")) \
                and env.get("NOMALY_JOB_TTL_DAYS") != _param("JobRetentionDays"):
            problems.append(f"invariant ({name}): '{fn}' writes jobs but NOMALY_JOB_TTL_DAYS is "
                            f"{json.dumps(env.get('NOMALY_JOB_TTL_DAYS'))}, not {_param('JobRetentionDays')}")
    for key, event in model["events"].items():
        if key.startswith("s3 ") and event["function"] in api_functions:
            problems.append(f"invariant ({name}): '{event['function']}' serves API routes and receives S3 uploads ({key})")
        if key.startswith(("s3 ", "schedule ")) and f"async {event['function']}" not in model["events"]:
            problems.append(f"invariant ({name}): '{event['function']}' receives {key} but has no failure destination")
    rules = [(k.split(" ", 1)[0], k, r) for k, r in model["lifecycle"].items() if r["status"] != "Disabled"]
    for i, (bucket, key, rule) in enumerate(rules):
        for other_bucket, other_key, other in rules[i + 1:]:
            overlap = bucket == other_bucket and (rule["prefix"].startswith(other["prefix"]) or other["prefix"].startswith(rule["prefix"]))
            for kind in ("expiration_days", "noncurrent_days"):
                if overlap and rule[kind] is not None and other[kind] is not None:
                    problems.append(f"invariant ({name}): lifecycle rules '{key}' and '{other_key}' both set {kind} on overlapping prefixes")
    for key, grants in REQUIRED_GRANTS.items():
        if key.startswith("route "):
            route = model["routes"].get(key[len("route "):])
            if route is None:
                problems.append(f"invariant ({name}): no route '{key[len('route '):]}'")
                continue
            holder, why = route.get("function"), f" (it serves {key[len('route '):]})"
        else:
            holder, why = key, ""
        for grant in grants:
            action, _, item = grant.partition(" on ")
            conditions = model["iam"].get(holder, {}).get(action)
            if conditions is None or (item and not any(_admits_item(c, item) for c in conditions.split(" | "))):
                problems.append(f"invariant ({name}): '{holder}' lacks {grant}{why}")
    for fn, env in model["environment"].items():
        machine = env.get("NOMALY_JOBS_STATE_MACHINE_ARN")
        if machine and f"Allow states:StartExecution {machine}" not in model["iam"].get(fn, {}):
            problems.append(f"invariant ({name}): '{fn}' has NOMALY_JOBS_STATE_MACHINE_ARN but may not start executions of {machine}")
    for key, machine in model.get("state_machines", {}).items():
        if machine["placeholders"] != sorted(machine["substitutions"]):
            problems.append(f"invariant ({name}): '{key}' definition placeholders {machine['placeholders']} are not its "
                            f"substitutions {sorted(machine['substitutions'])}")
    problems += _stream_invariants(model, name) + _alert_invariants(model, name)
    return problems


def _admits_item(condition: str, partition_key: str) -> bool:
    """Whether a grant's condition (as _grants writes it: `-`, or tests joined by ` & `) lets it
    reach the item whose partition key is `partition_key`: every dynamodb:LeadingKeys test must
    match it (StringLike patterns, StringEquals values); tests of other keys do not restrict it."""
    if condition == "-":
        return True
    for test in condition.split(" & "):
        match = re.fullmatch(r"(.+):dynamodb:LeadingKeys=(\[.*\])", test)
        if not match:
            continue
        values = ast.literal_eval(match[2])
        like = match[1].endswith("StringLike")
        if not any(fnmatch.fnmatchcase(partition_key, v) if like else partition_key == v for v in values):
            return False
    return True


def _stream_invariants(model: dict, name: str) -> list[str]:
    """Event source mappings, queues and streams, and the variables naming the dead-letter queue
    and the event bus (see invariants())."""
    problems = []
    for key, esm in model["events"].items():
        kind, _, source = key.partition(" ")
        if kind not in ESM_GRANTS:
            continue
        fn, grants = esm["function"], model["iam"].get(esm["function"], {})
        if "ReportBatchItemFailures" not in esm["response_types"]:
            problems.append(f"invariant ({name}): '{key}' does not report batch item failures (FunctionResponseTypes "
                            f"ReportBatchItemFailures): a record the function fails would count as scored")
        if kind == "kinesis" and not esm["on_failure"]:
            problems.append(f"invariant ({name}): '{key}' has no on-failure destination: a batch failing past its retries is lost")
        if kind == "sqs" and not (model["streams"].get(source) or {}).get("redrive"):
            problems.append(f"invariant ({name}): '{key}' reads a queue without a redrive policy: a message that always fails "
                            f"is retried until it expires")
        for action in ESM_GRANTS[kind]:
            if f"Allow {action} {source}" not in grants:
                problems.append(f"invariant ({name}): '{fn}' lacks Allow {action} {source} (its event source mapping reads it)")
        if esm["on_failure"] and _source_kind(esm["on_failure"]) == "sqs" and f"Allow sqs:SendMessage {esm['on_failure']}" not in grants:
            problems.append(f"invariant ({name}): '{fn}' lacks Allow sqs:SendMessage {esm['on_failure']} (the on-failure "
                            f"destination of {key})")
        routes = model["environment"].get(fn, {}).get("NOMALY_STREAM_ROUTES") or ""
        if source not in (json.loads(routes[len("json:"):]) if routes.startswith("json:") else {}):
            problems.append(f"invariant ({name}): '{fn}' NOMALY_STREAM_ROUTES does not route {source} (every record of "
                            f"{key} would be a dead letter)")
    for key, stream in model["streams"].items():
        if stream.get("encryption") in (None, "none", "NONE"):
            problems.append(f"invariant ({name}): '{key}' is not encrypted at rest")
        problems += _unguarded_uses(model, name, key, stream.get("when", "always"))
    for fn, env in model["environment"].items():
        grants = model["iam"].get(fn, {})
        queue = env.get("NOMALY_DEAD_LETTER_QUEUE_URL")
        if queue and f"Allow sqs:SendMessage {re.sub(r'[.]url[}]', '}', queue)}" not in grants:
            problems.append(f"invariant ({name}): '{fn}' has NOMALY_DEAD_LETTER_QUEUE_URL {queue} but may not send to it")
        bus = env.get("NOMALY_EVENT_BUS")
        buses = {g[len("Allow events:PutEvents "):].replace(DEFAULT_BUS_ARN, "default").replace("{bus}", "{bus.name}")
                 for g in grants if g.startswith("Allow events:PutEvents ")}
        if bus and bus not in buses:
            problems.append(f"invariant ({name}): '{fn}' has NOMALY_EVENT_BUS {bus} but may not put events on it")
    return problems


def _unguarded_uses(model: dict, name: str, token: str, when: str) -> list[str]:
    """A resource created only when `when` ({if:COND}?1:0) may be used (its token `{kind:NAME}`, its
    `.url` or `.name`) only as the first branch of `{if:COND}?`: elsewhere it is a reference to
    nothing when COND does not hold. Its own entry (the queue's policy) is its own business."""
    m = re.fullmatch(r"\{if:([^{}]*)\}\?1:0", when)
    if not m:
        return []
    guard, problems = "{if:" + m.group(1) + "}?", []
    pattern = re.compile(re.escape(token[:-1]) + r"(?:\.url|\.name)?\}")
    for category, entries in model.items():
        text = json.dumps({k: v for k, v in entries.items() if not (category == "streams" and k == token)}
                          if isinstance(entries, dict) else entries, sort_keys=True)
        for use in pattern.finditer(text):
            if not text[:use.start()].endswith(guard):
                at = text[max(0, use.start() - 80):use.end()]
                problems.append(f"invariant ({name}): '{token}' is created only when {m.group(1)}, but {category} uses "
                                f"{use.group(0)} outside {guard}: ...{at}")
    return problems


def _alert_invariants(model: dict, name: str) -> list[str]:
    """Rules, their targets and what lets the targets be reached (see invariants())."""
    problems = []
    for key, rule in model["alerts"].items():
        if not key.startswith("rule "):
            continue
        rule_arn = key[len("rule "):]
        for target_id, target in rule["targets"].items():
            arn, where = str(target["arn"]), f"'{key}' target {target_id}"
            if target["bus"] != rule["bus"]:
                problems.append(f"invariant ({name}): {where} is on bus {target['bus']}, its rule on {rule['bus']}")
            if arn.startswith("{sns:"):
                statements = model["alerts"].get(f"topic_policy {arn}", {}).get("statements", [])
                if not any(s.split(" ", 1)[1].startswith(f"Allow sns:Publish principal=service:events.amazonaws.com resource={arn} ")
                           and "aws:SourceArn=['" + rule_arn + "']" in s for s in statements):
                    problems.append(f"invariant ({name}): {where}: the policy of {arn} does not let events.amazonaws.com publish "
                                    f"for {rule_arn} (aws:SourceArn)")
            if arn.startswith("{api_destination:"):
                role = str(target["role"] or "").strip("{}")
                if f"Allow events:InvokeApiDestination {arn}" not in model["iam"].get(role, {}):
                    problems.append(f"invariant ({name}): {where}: its role {target['role']} may not invoke {arn}")
    return problems


def samconfig_problems(template: dict, path: Path) -> list[str]:
    """Every `parameter_overrides` of samconfig.toml names a parameter of the template and gives it
    a value the parameter accepts (what `sam deploy --config-env ENV` would otherwise refuse, or
    deploy with a parameter that no longer exists)."""
    if not path.exists():
        return []
    params = template.get("Parameters", {})
    problems = []
    for env, commands in tomllib.loads(path.read_text(encoding="utf-8")).items():
        if not isinstance(commands, dict):
            continue
        for command, settings in commands.items():
            overrides = (settings or {}).get("parameters", {}).get("parameter_overrides")
            if not overrides:
                continue
            tokens = shlex.split(overrides) if isinstance(overrides, str) else list(overrides)
            for token in tokens:
                name, _, value = token.partition("=")
                where = f"samconfig: [{env}.{command}] {name}={value!r}"
                p = params.get(name)
                if p is None:
                    problems.append(f"{where}: no such parameter in template.yaml")
                    continue
                if "AllowedValues" in p and value not in [str(v).lower() if isinstance(v, bool) else str(v) for v in p["AllowedValues"]]:
                    problems.append(f"{where}: not one of {p['AllowedValues']}")
                if "AllowedPattern" in p and not re.fullmatch(p["AllowedPattern"], value):
                    problems.append(f"{where}: does not match {p['AllowedPattern']}")
                if p.get("Type") == "Number":
                    try:
                        number = float(value)
                    except ValueError:
                        problems.append(f"{where}: not a number")
                        continue
                    if "MinValue" in p and number < float(p["MinValue"]) or "MaxValue" in p and number > float(p["MaxValue"]):
                        problems.append(f"{where}: outside {p.get('MinValue', '-inf')}..{p.get('MaxValue', 'inf')}")
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--template", type=Path, default=ROOT / "template.yaml")
    parser.add_argument("--terraform", type=Path, default=ROOT / "infra" / "terraform")
    parser.add_argument("--samconfig", type=Path, default=ROOT / "samconfig.toml")
    parser.add_argument("--dump", action="store_true", help="print both models as JSON")
    args = parser.parse_args(argv)
    try:
        template = load_template(args.template)
        sam = sam_model(template, args.template.resolve().parent)
        tf_raw = load_terraform(args.terraform)
        tf_raw["dir"] = str(args.terraform)
        tf = tf_model(tf_raw)
        config_problems = samconfig_problems(template, args.samconfig)
    except (OSError, yaml.YAMLError, KeyError, ValueError, tomllib.TOMLDecodeError) as e:
        print(f"parity: cannot read the templates: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    if args.dump:
        print(json.dumps({"sam": sam, "terraform": tf}, indent=1, sort_keys=True))
    problems = diff(sam, tf) + invariants(sam, "SAM") + invariants(tf, "Terraform") + config_problems
    counts = ", ".join(f"{len(sam[c])} {c}" for c in ("parameters", "functions", "routes", "authorizers", "events", "environment", "alarms",
                                                        "iam", "lifecycle"))
    iam = sum(len(v) for v in sam["iam"].values())
    if problems:
        print(f"parity: template.yaml and infra/terraform differ or break an invariant ({len(problems)} problem(s)):")
        for p in problems:
            print(f"  - {p}")
        return 1
    plans = sum(1 for k in sam["usage_plan"] if k.startswith("plan "))
    keys = sum(1 for k in sam["usage_plan"] if k.startswith("key "))
    print(f"parity: template.yaml and infra/terraform agree ({counts} rules; {iam} IAM grants; {plans} usage plan, {keys} API key, "
          f"key source {sam['usage_plan'].get('api_key_source', {}).get('source')}; {len(sam['gateway_responses'])} gateway responses; "
          f"{len(sam['state_machines'])} state machine(s) on {', '.join(sorted({m['definition'] for m in sam['state_machines'].values()}))}; "
          f"{len(sam['vault'])} vault option(s); {len(sam['streams'])} streams and queues; "
          f"{sum(1 for k in sam['alerts'] if k.startswith('rule '))} alert rules; {len(sam['outputs'])} outputs; "
          f"table; dashboard; samconfig.toml's overrides valid)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
