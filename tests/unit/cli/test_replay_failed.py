"""`pitwall replay-failed` re-drives only the stack's asynchronous functions: a record in the
failure queue that names any other function is left there and reported (moto: SQS and the
stack's outputs)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from moto import mock_aws

from pitwall import aws
from pitwall_cli import main
from pitwall_cli.replay_failed import replay_failed

ACCOUNT = "123456789012"
OURS = [
    f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:pitwall-{name}"
    for name in ("RecordHeartbeat", "ReapInstances", "StartScheduledEvaluation")
]
FOREIGN = "arn:aws:lambda:us-east-1:999999999999:function:drain-the-bucket"


def _record(function_arn: str) -> str:
    """An invocation record as Lambda sends it to an on-failure destination."""
    return json.dumps(
        {
            "version": "1.0",
            "requestContext": {
                "requestId": "e4b46cbf-b738-xmpl-8880-a18cdf61200e",
                "functionArn": f"{function_arn}:$LATEST",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": 3,
            },
            "requestPayload": {"source": "aws.events"},
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "responsePayload": {"errorType": "X", "errorMessage": "y"},
        }
    )


@pytest.fixture
def queue() -> Iterator[str]:
    with mock_aws():
        aws.reset_clients()
        url = aws.client("sqs").create_queue(QueueName="failures")["QueueUrl"]
        aws.client("sqs").send_message(QueueUrl=url, MessageBody=_record(FOREIGN))
        yield str(url)
    aws.reset_clients()


def _left(url: str) -> int:
    attributes = aws.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def test_a_record_naming_another_function_is_refused_and_left_in_the_queue(queue: str) -> None:
    [refused] = replay_failed(queue, OURS, "us-east-1")
    assert refused.refused and not refused.redriven
    assert FOREIGN in refused.detail
    assert (
        "pitwall-ReapInstances, pitwall-RecordHeartbeat, pitwall-StartScheduledEvaluation" in refused.detail
    )
    assert _left(queue) == 1


@pytest.mark.filterwarnings("ignore:Tried to parse")  # moto models no placeholder resource
def test_the_command_reads_the_stacks_functions_and_fails_on_a_foreign_record(
    queue: str, capsys: pytest.CaptureFixture[str]
) -> None:
    template = {
        "Resources": {"Placeholder": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {
            "AsyncFailureQueueUrl": {"Value": queue},
            "AsyncFunctionArns": {"Value": ",".join(OURS)},
        },
    }
    aws.client("cloudformation").create_stack(StackName="pitwall", TemplateBody=json.dumps(template))
    assert main(["replay-failed", "--stack", "pitwall", "--region", "us-east-1"]) == 1
    out = capsys.readouterr().out
    assert "left" in out and FOREIGN in out and "pitwall-StartScheduledEvaluation" in out
    assert _left(queue) == 1
