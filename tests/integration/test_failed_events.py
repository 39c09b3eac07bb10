"""Asynchronous events that fail every attempt: the local cloud retries them as Lambda does
(template.yaml's EventInvokeConfig), sends the invocation record to the failure queue, and
`pitwall replay-failed` re-drives it."""

from __future__ import annotations

import json
import time
from typing import Any

from pitwall import aws
from pitwall_cli import main
from pitwall_cli.replay_failed import Replayed, replay_failed
from pitwall_local.cloud import REPO_ROOT, LocalCloud
from pitwall_local.faults import INTERRUPTION_WARNING, put_instance_event

# what the reaper's schedule sends: valid, so a re-driven one succeeds (and is not retried again)
SCHEDULE_EVENT = (REPO_ROOT / "events" / "reap_instances__schedule.json").read_bytes()


def _queued(cloud: LocalCloud, timeout: float = 20.0) -> dict[str, Any]:
    """The first record in the failure queue (left there), waiting for it to arrive."""
    sqs = aws.client("sqs", cloud.region)
    url = cloud.stack.outputs["AsyncFailureQueueUrl"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=0)
        if answer.get("Messages"):
            return dict(json.loads(answer["Messages"][0]["Body"]))
        time.sleep(0.05)
    raise AssertionError("no record reached the failure queue")


def _replay(cloud: LocalCloud) -> list[Replayed]:
    outputs = cloud.stack.outputs
    return replay_failed(
        outputs["AsyncFailureQueueUrl"], outputs["AsyncFunctionArns"].split(","), cloud.region
    )


def _invocations(cloud: LocalCloud, function: str) -> list[tuple[bool, str]]:
    return [(i.errored, i.error) for i in list(cloud.shim.invocations) if i.function_name == function]


def test_the_async_functions_have_retries_an_age_limit_and_the_failure_queue(cloud: LocalCloud) -> None:
    lambdas = aws.client("lambda", cloud.region)
    queue_arn = aws.client("sqs", cloud.region).get_queue_attributes(
        QueueUrl=cloud.stack.outputs["AsyncFailureQueueUrl"], AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    ages = {}
    # invoked by S3 and EventBridge, and by EventBridge Scheduler (each schedule firing)
    for logical in (
        "RecordHeartbeat",
        "StartFromInbox",
        "RequestCheckpointSave",
        "ReapInstances",
        "StartScheduledEvaluation",
    ):
        config = lambdas.get_function_event_invoke_config(FunctionName=cloud.stack.refs[f"{logical}Function"])
        assert config["DestinationConfig"]["OnFailure"]["Destination"] == queue_arn
        ages[logical] = config["MaximumEventAgeInSeconds"]
    assert ages["RequestCheckpointSave"] == 120  # a spot warning is worthless after the notice


def test_a_spot_warning_that_fails_every_attempt_lands_in_the_queue_and_replays(cloud: LocalCloud) -> None:
    function = cloud.stack.refs["RequestCheckpointSaveFunction"]
    before = len(_invocations(cloud, function))
    # Given the interruption handler failing on every spot warning (a bug)
    cloud.shim.failing_events[function] = lambda event: event.get("detail-type") == INTERRUPTION_WARNING
    try:
        put_instance_event(cloud, INTERRUPTION_WARNING, "i-0123456789abcdef0")
        # Then Lambda's attempts fail and the invocation record reaches the queue
        record = _queued(cloud)
    finally:
        del cloud.shim.failing_events[function]
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2  # one retry (template.yaml)
    assert record["requestPayload"]["detail-type"] == INTERRUPTION_WARNING
    assert record["responsePayload"]["errorType"] == "InjectedHandlerFailure"
    attempts = _invocations(cloud, function)[before:]
    assert [errored for errored, _ in attempts] == [True, True]
    # When the fixed function's events are re-driven
    replayed = _replay(cloud)
    # Then the warning runs again, without error, and the queue is empty
    assert [(r.function.rsplit(":", 1)[-1], r.redriven) for r in replayed] == [(function, True)]
    assert _invocations(cloud, function)[before + 2 :] == [(False, "")]
    assert _replay(cloud) == []


def test_replay_failed_on_the_command_line_lists_and_redrives(cloud: LocalCloud, capsys) -> None:
    function = cloud.stack.refs["ReapInstancesFunction"]
    cloud.shim.failing_events[function] = lambda event: True
    try:
        lambdas = aws.client("lambda", cloud.region)
        lambdas.invoke(FunctionName=function, InvocationType="Event", Payload=SCHEDULE_EVENT)
        _queued(cloud)
    finally:
        del cloud.shim.failing_events[function]
    queue = cloud.stack.outputs["AsyncFailureQueueUrl"]
    assert main(["replay-failed", "--queue", queue, "--region", cloud.region, "--dry-run"]) == 0
    assert "left" in capsys.readouterr().out
    assert main(["replay-failed", "--queue", queue, "--region", cloud.region]) == 0
    out = capsys.readouterr().out
    assert "re-driven" in out and "RetriesExhausted" in out


def test_an_event_older_than_its_maximum_age_is_not_tried_again(cloud: LocalCloud) -> None:
    lambdas = aws.client("lambda", cloud.region)
    function = cloud.stack.refs["ReapInstancesFunction"]
    kept = lambdas.get_function_event_invoke_config(FunctionName=function)
    # Given an event worth a minute only, and two retries (one and two minutes later); moto adds a
    # configuration on each put, so the old one goes first
    lambdas.delete_function_event_invoke_config(FunctionName=function)
    lambdas.put_function_event_invoke_config(
        FunctionName=function,
        MaximumRetryAttempts=2,
        MaximumEventAgeInSeconds=60,
        DestinationConfig=kept["DestinationConfig"],
    )
    cloud.shim.failing_events[function] = lambda event: True
    try:
        lambdas.invoke(FunctionName=function, InvocationType="Event", Payload=SCHEDULE_EVENT)
        record = _queued(cloud)
    finally:
        del cloud.shim.failing_events[function]
        lambdas.delete_function_event_invoke_config(FunctionName=function)
        lambdas.put_function_event_invoke_config(
            FunctionName=function,
            MaximumRetryAttempts=kept["MaximumRetryAttempts"],
            MaximumEventAgeInSeconds=kept["MaximumEventAgeInSeconds"],
            DestinationConfig=kept["DestinationConfig"],
        )
    # Then the second attempt (a minute old) ran, the third (three minutes) did not
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert _replay(cloud)[0].redriven
