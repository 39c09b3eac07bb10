"""Parts of the local cloud on their own: intrinsic functions of the deployer, event target
inputs, S3 notifications with their version id (on moto, to catch a moto upgrade that changes
the event it builds)."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from pitwall_local.deployer import Deployer
from pitwall_local.relay import target_input
from pitwall_local.s3_events import versioned_notifications


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
    deployer = _deployer({"Resources": {"Fleet": {"Type": "AWS::GameLift::Fleet", "Properties": {}}}})
    with pytest.raises(NotImplementedError, match=r"AWS::GameLift::Fleet \(Fleet\)"):
        deployer.deploy({})


def test_image_builder_resources_are_skipped_by_name_and_their_refs_still_resolve() -> None:
    template = {
        "Resources": {
            "Pipeline": {"Type": "AWS::ImageBuilder::ImagePipeline", "Properties": {"Name": "p"}},
            "Topic": {"Type": "AWS::SNS::Topic", "Properties": {}},
        },
        "Outputs": {"PipelineArn": {"Value": {"Ref": "Pipeline"}}},
    }
    with mock_aws():
        stack = _deployer(template).deploy({})
    assert stack.skipped == ["Pipeline"]
    assert "Topic" in stack.refs
    assert stack.outputs["PipelineArn"].endswith(":skipped/Pipeline")


def test_a_parameter_without_value_or_default_is_named() -> None:
    deployer = _deployer({"Parameters": {"VpcId": {"Type": "String"}}, "Resources": {}})
    with pytest.raises(ValueError, match="VpcId"):
        deployer.deploy({})


def test_event_targets_get_their_input_path_or_fixed_input() -> None:
    event = {"detail-type": "Model trained", "detail": {"evaluation": {"source_run_id": "r"}}}
    assert target_input({"InputPath": "$.detail.evaluation"}, event) == {"source_run_id": "r"}
    assert target_input({"Input": '{"a": 1}'}, event) == {"a": 1}
    assert target_input({}, event) == event


def test_s3_notifications_carry_the_version_id_of_the_object_as_aws_sends_them() -> None:
    with mock_aws(), versioned_notifications():
        s3, sqs = boto3.client("s3", region_name="us-east-1"), boto3.client("sqs", region_name="us-east-1")
        queue_url = sqs.create_queue(QueueName="events")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        s3.create_bucket(Bucket="models")
        s3.put_bucket_versioning(Bucket="models", VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_notification_configuration(
            Bucket="models",
            NotificationConfiguration={
                "QueueConfigurations": [{"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}]
            },
        )
        versions = [s3.put_object(Bucket="models", Key="k", Body=body)["VersionId"] for body in (b"1", b"2")]
        bodies = [
            json.loads(m["Body"])
            for m in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
        ]
        notified = [r["s3"]["object"].get("versionId") for b in bodies for r in b.get("Records", [])]
        assert sorted(notified) == sorted(versions)
