"""Audit every IAM policy of the stack with parliament: the expanded template's role policies,
managed policies and IAM::Policy resources, and the per-segment instance policy the controller
writes (pitwall.host.iam). Run by `make static` with the security tool venv's Python:

    PYTHONPATH=layers/pitwall .tools/security/bin/python scripts/audit_policies.py EXPANDED.json

Intrinsic functions are replaced by example values of the same shape (an account, a region, an
ARN), which is all parliament needs. A finding that is accepted is named, with the reason, in the
resource's `Metadata: parliament: skip: [{issue, comment}]` in template.yaml; any other finding
fails the audit.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml
from parliament import analyze_policy_string

PSEUDO = {"AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::AccountId": "123456789012"}
# Example ARNs of the resource types whose Ref or Arn attribute a policy names.
EXAMPLE_ARNS = {
    "AWS::StepFunctions::StateMachine": "arn:aws:states:us-east-1:123456789012:stateMachine:example",
    "AWS::SNS::Topic": "arn:aws:sns:us-east-1:123456789012:example",
    "AWS::IAM::ManagedPolicy": "arn:aws:iam::123456789012:policy/pitwall/example",
    "AWS::SQS::Queue": "arn:aws:sqs:us-east-1:123456789012:example",
    "AWS::Lambda::Function": "arn:aws:lambda:us-east-1:123456789012:function:example",
    "AWS::S3::Bucket": "arn:aws:s3:::example",
    "AWS::IAM::Role": "arn:aws:iam::123456789012:role/example",
    "AWS::Events::EventBus": "arn:aws:events:us-east-1:123456789012:event-bus/example",
    "AWS::DynamoDB::Table": "arn:aws:dynamodb:us-east-1:123456789012:table/example",
    "AWS::SecretsManager::Secret": "arn:aws:secretsmanager:us-east-1:123456789012:secret:example-AbCdEf",
    "AWS::KMS::Key": "arn:aws:kms:us-east-1:123456789012:key/example",
}

REF_IS_ARN = {
    "AWS::StepFunctions::StateMachine",
    "AWS::SNS::Topic",
    "AWS::IAM::ManagedPolicy",
    "AWS::SecretsManager::Secret",
}


def _resolve(value: Any, types: dict[str, str]) -> Any:
    """Intrinsics -> example strings of the same shape."""
    if isinstance(value, list):
        return [_resolve(item, types) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((key, argument),) = value.items()
        if key == "Fn::Sub":
            text, names = (argument, {}) if isinstance(argument, str) else (argument[0], argument[1])
            values = {**PSEUDO, **{name: str(_resolve(v, types)) for name, v in names.items()}}
            return re.sub(r"\$\{([^}]+)\}", lambda m: values.get(m.group(1), "example"), text)
        if key == "Ref":  # an ARN for these types; a name (or a URL) for the others
            kind = types.get(argument, "")
            return PSEUDO.get(argument) or (EXAMPLE_ARNS[kind] if kind in REF_IS_ARN else "example")
        if key == "Fn::GetAtt":  # .Arn: an ARN; a name (TopicName, QueueName, ...) otherwise
            name, attribute = argument if isinstance(argument, list) else str(argument).split(".", 1)
            return EXAMPLE_ARNS.get(types.get(name, ""), "example") if attribute == "Arn" else "example"
        if key == "Fn::Join":
            return argument[0].join(str(_resolve(part, types)) for part in argument[1])
        if key.startswith("Fn::"):
            return "example"
    return {key: _resolve(item, types) for key, item in value.items()}


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (their values do not matter here)."""


_CfnLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def accepted_in(template_yaml: Path) -> dict[str, set[str]]:
    """logical id -> parliament issues accepted there (`Metadata: parliament: skip`). A SAM
    function's skips apply to the role SAM makes for it (`<Function>Role`)."""
    # bandit B506: _CfnLoader is a SafeLoader that reads CloudFormation's tags as nothing
    resources = yaml.load(template_yaml.read_text(), Loader=_CfnLoader)["Resources"]  # nosec B506
    accepted: dict[str, set[str]] = {}
    for logical, resource in resources.items():
        issues = {e["issue"] for e in (resource.get("Metadata") or {}).get("parliament", {}).get("skip", [])}
        if issues:
            accepted[logical] = accepted[f"{logical}Role"] = issues
    return accepted


def policies_of(template: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(logical id, where, policy document) for every policy in the expanded template."""
    found = []
    for logical, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        kind = resource["Type"]
        if kind == "AWS::IAM::Role":
            for policy in properties.get("Policies", []):
                found.append((logical, f"{logical}/{policy['PolicyName']}", policy["PolicyDocument"]))
        elif kind in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"):
            found.append((logical, logical, properties["PolicyDocument"]))
    return found


def main(expanded: str, template_yaml: str = "template.yaml") -> int:
    from pitwall.host.iam import instance_policy

    template = json.loads(Path(expanded).read_text())
    types = {logical: resource["Type"] for logical, resource in template["Resources"].items()}
    accepted = accepted_in(Path(template_yaml))
    policies = policies_of(template)
    segment = instance_policy(
        bucket="pitwall-models-123456789012-us-east-1",
        run_id="run-1",
        model_prefix="models/model/seg-001",
        pretrained_prefix="models/model/seg-000",
        agent_archive_key="agent/pitwall-agent-0123456789abcdef.zip",
    )
    policies.append(("", "segment instance role (pitwall.host.iam)", segment))
    failed = 0
    for logical, where, document in policies:
        document = {"Version": "2012-10-17", **_resolve(document, types)}
        for finding in analyze_policy_string(json.dumps(document)).findings:
            if finding.issue in accepted.get(logical, set()):
                continue
            failed += 1
            print(f"{where}: {finding.severity} {finding.issue}: {finding.detail}")
    print(f"parliament: {len(policies)} policies, {failed} finding(s) not accepted")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
