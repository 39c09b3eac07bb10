"""Pure parts of the local cloud: intrinsic functions of the deployer, event target inputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from pitwall.localcloud.deployer import Deployer
from pitwall.localcloud.relay import target_input


def _deployer(template: dict) -> Deployer:
    deployer = Deployer(template, stack_name="stack", region="eu-west-1", root=Path("."))
    deployer.stack.parameters = {"Prefix": "models", "Types": ["a", "b"], "Email": ""}
    deployer.stack.refs = {"Table": "stack-Table"}
    deployer.stack.attributes = {"Role": {"Arn": "arn:aws:iam::123456789012:role/r"}}
    return deployer


def test_intrinsic_functions_resolve_like_cloudformation() -> None:
    deployer = _deployer({"Resources": {}})
    deployer._conditions = {"HasEmail": False}
    assert (
        deployer.resolve({"Fn::Sub": "${Prefix}-${AWS::AccountId}-${AWS::Region}"})
        == "models-123456789012-eu-west-1"
    )
    assert deployer.resolve({"Fn::Sub": ["${Name}/${Role.Arn}", {"Name": {"Ref": "Table"}}]}) == (
        "stack-Table/arn:aws:iam::123456789012:role/r"
    )
    assert deployer.resolve({"Fn::Join": [",", {"Ref": "Types"}]}) == "a,b"
    assert deployer.resolve({"Fn::If": ["HasEmail", "yes", {"Ref": "AWS::NoValue"}]}) is not None
    assert deployer.resolve({"A": {"Fn::If": ["HasEmail", "yes", {"Ref": "AWS::NoValue"}]}, "B": 1}) == {
        "B": 1
    }
    assert deployer.resolve({"Fn::GetAtt": ["Role", "Arn"]}) == "arn:aws:iam::123456789012:role/r"


def test_a_resource_type_the_local_cloud_cannot_create_is_named() -> None:
    deployer = _deployer({"Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {}}}})
    with pytest.raises(NotImplementedError, match=r"AWS::SQS::Queue \(Queue\)"):
        deployer.deploy({})


def test_a_parameter_without_value_or_default_is_named() -> None:
    deployer = _deployer({"Parameters": {"VpcId": {"Type": "String"}}, "Resources": {}})
    with pytest.raises(ValueError, match="VpcId"):
        deployer.deploy({})


def test_event_targets_get_their_input_path_or_fixed_input() -> None:
    event = {"detail-type": "Model trained", "detail": {"evaluation": {"source_run_id": "r"}}}
    assert target_input({"InputPath": "$.detail.evaluation"}, event) == {"source_run_id": "r"}
    assert target_input({"Input": '{"a": 1}'}, event) == {"a": 1}
    assert target_input({}, event) == event
