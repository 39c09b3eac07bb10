import json

import boto3
from moto import mock_aws

from pitwall.host.iam import instance_policy
from pitwall.layout import agent_archive_key


def test_iam_accepts_the_instance_policy_document():
    document = instance_policy(
        bucket="pitwall-models",
        run_id="run-7",
        model_prefix="models/fast/seg-001",
        pretrained_prefix="models/fast/seg-000",
        agent_archive_key=agent_archive_key("abc123"),
    )
    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        created = iam.create_policy(PolicyName="pitwall-run-7", PolicyDocument=json.dumps(document))
        assert created["Policy"]["PolicyName"] == "pitwall-run-7"
