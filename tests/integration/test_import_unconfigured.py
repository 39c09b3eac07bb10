"""Import on a stack deployed without DRoA's settings (DroaSiteUrl and DroaUserName empty, the
parameters' defaults): a local cloud of its own, since one process holds one local cloud."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from pitwall import aws
from pitwall.runs import ImportState
from pitwall_local.cloud import LocalCloud

UNCONFIGURED = {"DroaSiteUrl": "", "DroaUserName": ""}


@pytest.fixture(scope="module")
def unconfigured() -> Iterator[LocalCloud]:
    with LocalCloud(time_scale=240.0, parameters=UNCONFIGURED) as local:
        yield local


def test_an_import_on_a_stack_without_droa_fails_on_the_run_and_is_told(unconfigured, helpers, capsys):
    cloud = unconfigured
    sqs = aws.client("sqs")
    inbox = sqs.create_queue(QueueName="unconfigured-racer-inbox")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"]
    inbox_arn = attributes["QueueArn"]
    topic = str(cloud.stack.outputs["NotificationTopicArn"])
    aws.client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=inbox_arn)
    run_id = helpers.new_run_id("unconfigured")
    train = cloud.wait(cloud.start("Train", helpers.train_input(cloud, run_id), name=run_id))
    assert train["status"] == "SUCCEEDED", train.get("cause")
    from pitwall_cli import main

    # `pitwall import RUN` refuses at once, naming what to set, and starts nothing
    imports = len(cloud.executions("Import"))
    assert main(["import", run_id, "--stack", cloud.stack_name, "--region", cloud.region]) == 1
    refused = capsys.readouterr().err
    assert "DroaNotConfigured" in refused and "empty DroaSiteUrl, DroaUserName" in refused
    assert len(cloud.executions("Import")) == imports
    # The Import machine started by other means (an event, the console) fails, recorded on the run
    execution = cloud.wait(cloud.start("Import", {"run_id": run_id}, name="import-nowhere"), timeout=120)
    assert execution["status"] == "FAILED" and execution["error"] == "DroaNotConfigured"
    (record,) = cloud.runs.get(run_id).imports
    assert record.import_id == "import-nowhere" and record.status == ImportState.FAILED
    assert "set the stack parameters DroaSiteUrl" in (record.failure or "")
    assert "DroaPasswordSecret" in (record.failure or "")
    # and the racer is told why
    told = []
    while messages := sqs.receive_message(QueueUrl=inbox, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            body = json.loads(message["Body"])
            attributes = {k: v["Value"] for k, v in body.get("MessageAttributes", {}).items()}
            if attributes.get("event") == "model-imported" and attributes.get("run_id") == run_id:
                told.append(body["Message"])
            sqs.delete_message(QueueUrl=inbox, ReceiptHandle=message["ReceiptHandle"])
    (body,) = told
    assert "DroaNotConfigured" in body and "DroaSiteUrl" in body
