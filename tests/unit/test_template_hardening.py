"""Least privilege and failure handling as template.yaml declares them, read from the template
itself (the local cloud deploys the same file; moto does not enforce IAM)."""

from __future__ import annotations

from typing import Any

from pitwall_local.cloud import REPO_ROOT
from pitwall_local.template import load_template

TEMPLATE: dict[str, Any] = load_template(REPO_ROOT / "template.yaml")
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
FUNCTIONS = {name: r for name, r in RESOURCES.items() if r["Type"] == "AWS::Serverless::Function"}


def _policy_templates(function: dict[str, Any]) -> set[str]:
    """The SAM policy templates a function names (`- S3ReadPolicy: {...}`), with the keys of its
    inline documents (`Version`, `Statement`) and references (`Ref`)."""
    return {name for policy in function["Properties"].get("Policies", []) for name in policy}


def test_no_function_uses_sams_s3_crud_policy() -> None:
    # S3CrudPolicy grants PutObjectAcl, PutLifecycleConfiguration and DeleteObject, which no
    # function needs: writers take the stack's ModelBucketReadWritePolicy
    crud = sorted(
        name for name, function in FUNCTIONS.items() if "S3CrudPolicy" in _policy_templates(function)
    )
    assert crud == []
    writers = [
        name
        for name, function in FUNCTIONS.items()
        if {"Ref": "ModelBucketReadWritePolicy"} in function["Properties"].get("Policies", [])
    ]
    assert "PrepareImportFunction" in writers


def test_every_function_with_a_failure_destination_may_send_to_the_queue() -> None:
    configs = [r["Properties"] for r in RESOURCES.values() if r["Type"] == "AWS::Lambda::EventInvokeConfig"]
    assert all(
        c["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": ["AsyncFailureQueue", "Arn"]}
        for c in configs
    )
    configured = {c["FunctionName"]["Ref"] + "Role" for c in configs}
    allowed = {role["Ref"] for role in RESOURCES["SendFailedEventsPolicy"]["Properties"]["Roles"]}
    assert configured == allowed
    assert "StartScheduledEvaluationFunctionRole" in configured


def test_replay_failed_is_told_exactly_the_functions_with_a_failure_destination() -> None:
    configs = [r["Properties"] for r in RESOURCES.values() if r["Type"] == "AWS::Lambda::EventInvokeConfig"]
    configured = {c["FunctionName"]["Ref"] for c in configs}
    output = TEMPLATE["Outputs"]["AsyncFunctionArns"]["Value"]
    separator, arns = output["Fn::Join"]
    assert separator == ","
    assert sorted(arn["Fn::GetAtt"][0] for arn in arns) == sorted(configured)


def test_the_readme_names_every_accepted_parliament_finding_with_its_resource() -> None:
    accepted = {
        (logical, skip["issue"])
        for logical, resource in RESOURCES.items()
        for skip in (resource.get("Metadata") or {}).get("parliament", {}).get("skip", [])
    }
    readme = (REPO_ROOT / "README.md").read_text()
    # each resource's accepted findings are said where the README names the resource
    clauses = " ".join(readme.split()).split("; ")
    unsaid = [
        (logical, issue)
        for logical, issue in accepted
        if not any(f"`{logical}`" in clause and issue in clause for clause in clauses)
    ]
    assert accepted and unsaid == []
