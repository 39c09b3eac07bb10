"""Per-segment instance roles: the controller's IAM permissions in template.yaml allow roles only
under the path and the boundary; a launch retries while a new instance profile is not usable yet;
the role adapter against moto's IAM."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from botocore.exceptions import ClientError
from moto import mock_aws

from pitwall import aws
from pitwall.adapters import ec2 as ec2_adapter
from pitwall.adapters.ec2 import Ec2, LaunchSpec, is_profile_not_ready
from pitwall.adapters.iam import POLICY_NAME, ROLE_PATH, SegmentRoles
from pitwall.runs import Pool

REPO = Path(__file__).resolve().parents[3]


class _CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation's short tags (!Sub, !Ref, ...) as {"Fn": value}."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node)
    else:
        value = loader.construct_mapping(node)  # type: ignore[arg-type]
    return {suffix: value}


_CfnLoader.add_multi_constructor("!", _tag)
TEMPLATE = yaml.load((REPO / "template.yaml").read_text(), Loader=_CfnLoader)


def _statements(function: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for policy in TEMPLATE["Resources"][function]["Properties"]["Policies"]:
        for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
            found[statement["Sid"]] = statement
    return found


def test_the_controller_creates_roles_only_under_the_path_and_with_the_boundary() -> None:
    statements = _statements("ProvisionInstanceFunction")
    create = statements["SegmentRolesOnlyUnderTheBoundary"]
    assert set(create["Action"]) == {"iam:CreateRole", "iam:PutRolePolicy"}
    assert create["Resource"]["Sub"].endswith(":role/pitwall/*")
    assert create["Condition"]["StringEquals"]["iam:PermissionsBoundary"] == {
        "Ref": "HostPermissionsBoundary"
    }
    passing = statements["GiveHostsOnlySegmentRoles"]
    assert passing["Action"] == "iam:PassRole" and passing["Resource"]["Sub"].endswith(":role/pitwall/*")
    every_iam_resource = [
        resource["Sub"]
        for s in statements.values()
        if any(a.startswith("iam:") for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"]))
        for resource in [s["Resource"]]
    ]
    assert all("/pitwall/*" in resource for resource in every_iam_resource)


def test_the_boundary_allows_at_most_the_model_bucket_and_logs() -> None:
    boundary = TEMPLATE["Resources"]["HostPermissionsBoundary"]["Properties"]["PolicyDocument"]
    actions = {
        a
        for s in boundary["Statement"]
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert {a.split(":")[0] for a in actions} == {"s3", "logs"}
    assert not any(a.endswith("*") for a in actions)


class _FlakyEc2:
    """RunInstances refuses the profile `refusals` times, as EC2 does right after it was created."""

    def __init__(self, refusals: int, code: str = "InvalidParameterValue") -> None:
        self.refusals, self.code, self.calls = refusals, code, 0

    def run_instances(self, **request: Any) -> dict[str, Any]:
        self.calls += 1
        if self.calls <= self.refusals:
            message = (
                "Value (arn:aws:iam::1:instance-profile/pitwall/x) for parameter iamInstanceProfile.arn "
                "is invalid. Invalid IAM Instance Profile ARN"
            )
            raise ClientError({"Error": {"Code": self.code, "Message": message}}, "RunInstances")
        return {"Instances": [{"InstanceId": "i-1"}]}


def _launch(monkeypatch: pytest.MonkeyPatch, client: _FlakyEc2) -> tuple[str, list[float]]:
    monkeypatch.setattr(Ec2, "_ec2", property(lambda self: client))
    slept: list[float] = []
    pool = Pool(instance_type="g4dn.2xlarge", availability_zone="us-east-1a", subnet_id="subnet-1")
    spec = LaunchSpec("ami-1", "sg-1", "arn:aws:iam::1:instance-profile/pitwall/x", "#!/bin/bash", "run-1", 0)
    return Ec2("us-east-1", sleep=slept.append).launch(pool, spec), slept


def test_a_launch_waits_for_a_new_instance_profile_with_a_short_backoff(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    instance_id, slept = _launch(monkeypatch, _FlakyEc2(refusals=2))
    assert instance_id == "i-1"
    assert slept == list(ec2_adapter.PROFILE_RETRY_SECONDS[:2])


def test_a_profile_that_never_becomes_usable_fails_the_launch(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ClientError) as raised:
        _launch(monkeypatch, _FlakyEc2(refusals=99))
    assert is_profile_not_ready(raised.value)


def test_other_invalid_parameters_are_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    client = _FlakyEc2(refusals=1, code="InvalidAMIID.NotFound")
    with pytest.raises(ClientError):
        _launch(monkeypatch, client)
    assert client.calls == 1


def test_segment_roles_are_created_idempotently_and_deleted_without_a_trace() -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
    }
    with mock_aws():
        aws.reset_clients()
        iam = aws.client("iam")
        boundary = iam.create_policy(PolicyName="boundary", PolicyDocument=json.dumps(policy))["Policy"][
            "Arn"
        ]
        roles = SegmentRoles(boundary)
        first = roles.create("pitwall-run-1-0", policy, {"pitwall:run-id": "run-1"})
        assert roles.create("pitwall-run-1-0", policy, {"pitwall:run-id": "run-1"}) == first  # a retried step
        role = iam.get_role(RoleName="pitwall-run-1-0")["Role"]
        assert role["Path"] == ROLE_PATH
        assert role["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary
        assert (
            iam.get_role_policy(RoleName="pitwall-run-1-0", PolicyName=POLICY_NAME)["PolicyDocument"]
            == policy
        )
        assert roles.delete("pitwall-run-1-0") is True
        assert roles.delete("pitwall-run-1-0") is False  # idempotent
        assert iam.list_roles(PathPrefix=ROLE_PATH)["Roles"] == []
        assert iam.list_instance_profiles(PathPrefix=ROLE_PATH)["InstanceProfiles"] == []
    aws.reset_clients()
