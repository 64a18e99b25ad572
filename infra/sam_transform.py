"""Expands template.yaml's SAM transform offline (aws-sam-translator) into plain CloudFormation
JSON, so cfn-lint checks the resources SAM generates (API methods, the authorizer, permissions, S3
notifications, event rules, the state machine's definition) and not only the SAM shorthand.

    python infra/sam_transform.py template.yaml > .aws-sam/transformed.json
"""

import json
import logging
import sys
from pathlib import Path

from samtranslator.public.translator import ManagedPolicyLoader  # noqa: F401  (documents the API)
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


# Parameters SAM substitutes into generated definitions rather than leaving to CloudFormation.
KEPT_AS_REFS = ("AuthorizerCacheTtl",)


class NoManagedPolicies:
    """The template names no managed policy in a function's Policies (each function has its own
    explicit role), so the translator never needs IAM; fail loudly if that changes."""

    def load(self):
        raise SystemExit("sam_transform: the template uses a managed policy name; resolve it offline first")


def main() -> None:
    logging.disable(logging.WARNING)  # feature-toggle chatter; errors still raise
    path = sys.argv[1] if len(sys.argv) > 1 else "template.yaml"
    with open(path, encoding="utf-8") as f:
        template = yaml_parse(f.read())
    # `sam package` replaces local code paths (and state machine definitions) with S3 URIs before
    # CloudFormation sees them.
    definitions = {}
    for name, resource in template.get("Resources", {}).items():
        props = resource.get("Properties", {})
        if resource.get("Type") == "AWS::Serverless::Function" and not str(props.get("CodeUri", "s3://")).startswith("s3://"):
            props["CodeUri"] = f"s3://sam-artifacts/{name}.zip"
        if resource.get("Type") == "AWS::Serverless::StateMachine" and isinstance(props.get("DefinitionUri"), str) \
                and not props["DefinitionUri"].startswith("s3://"):
            definitions[name] = Path(path).resolve().parent / props["DefinitionUri"]
            props["DefinitionUri"] = f"s3://sam-artifacts/{name}.asl.json"
    # Default parameter values; the deployed region and account do not change the shape. SAM
    # resolves a parameter it copies into the API definition (the authorizer's TTL) with the value
    # it is given, which offline would be the default and leave the parameter looking unused
    # (cfn-lint W2001); handed its own Ref, it stays a Ref that CloudFormation resolves.
    kept = {name: {"Ref": name} for name in KEPT_AS_REFS if name in template.get("Parameters", {})}
    output = transform(template, {"AWS::Region": "us-east-1", **kept}, NoManagedPolicies())
    # CloudFormation reads an uploaded definition from S3, where cfn-lint cannot: hand it the file
    # itself (Definition, with the same DefinitionSubstitutions), so it checks the states.
    for name, file in definitions.items():
        machine = output["Resources"][name]["Properties"]
        machine.pop("DefinitionS3Location", None)
        machine["Definition"] = json.loads(file.read_text(encoding="utf-8"))
    json.dump(output, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
