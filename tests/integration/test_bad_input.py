"""Every handler against malformed and hostile events, through the Lambda API of the local cloud:
each answers with one of the named errors (pitwall/errors.py) or a logged ignore, and a rejected
event changes nothing: the bucket's object versions, the runs table, the messages to the racer
(SNS), the lifecycle events (EventBridge), the executions and the instances are compared before
and after each event."""

from __future__ import annotations

import inspect
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from pitwall import aws, errors, layout
from pitwall.runs import Pool, Run, RunKind, RunRequest, RunState, Segment
from pitwall_local.cloud import REPO_ROOT, LocalCloud
from pitwall_local.examples import example_files
from pitwall_local.template import load_template

NAMED_ERRORS = {
    name for name, value in vars(errors).items() if inspect.isclass(value) and issubclass(value, Exception)
}
FUNCTIONS = (
    "AwaitHost",
    "CollectOutcome",
    "DecideRecovery",
    "EvaluateOutcome",
    "FinishImport",
    "IncrementModel",
    "NotifyRun",
    "PollImport",
    "PrepareEvaluation",
    "PrepareImport",
    "PrepareRun",
    "ProvisionInstance",
    "ReapInstances",
    "RecordHeartbeat",
    "RewardSandbox",
    "RequestCheckpointSave",
    "StartFromInbox",
    "StartScheduledEvaluation",
    "SubmitImport",
    "TerminateInstance",
    "ValidateCustomFiles",
)
# what no handler accepts: no fields, ids that no run can have, other events' shapes (every event
# is a JSON object: moto's Lambda API takes no other payload)
MALFORMED: list[Any] = [
    {},
    {"unexpected": True},
    {"run_id": ""},
    {"run_id": "x" * 81},
    {"run_id": "../../etc"},
    {"run_id": 12},
    {"run_id": None},
    {"Records": []},
    {"Records": [{"s3": {}}]},
    {"detail-type": "EC2 Spot Instance Interruption Warning", "detail": {}},
]


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud(time_scale=60.0) as local:
        yield local


@pytest.fixture(scope="module")
def live(cloud: LocalCloud) -> Run:
    """A training run on an instance (tagged after its launch: no simulated host writes for it)."""
    ec2 = aws.client("ec2", cloud.region)
    subnet = ec2.describe_subnets()["Subnets"][0]
    image = ec2.describe_images(Owners=["self"])["Images"][0]["ImageId"]
    instance = ec2.run_instances(
        ImageId=image, InstanceType="g4dn.2xlarge", MinCount=1, MaxCount=1, SubnetId=subnet["SubnetId"]
    )["Instances"][0]["InstanceId"]
    run_id = f"live-{uuid.uuid4().hex[:6]}"
    ec2.create_tags(Resources=[instance], Tags=[{"Key": "pitwall:run-id", "Value": run_id}])
    now = cloud.clock().now()
    run = Run(
        run_id=run_id,
        kind=RunKind.TRAIN,
        request=RunRequest(model_name=run_id, track="reInvent2019_track", time_budget_minutes=120),
        state=RunState.RUNNING,
        created_at=now,
        updated_at=now,
        custom_files_prefix=f"runs/{run_id}/custom_files",
        execution_id=f"arn:aws:states:{cloud.region}:123456789012:execution:pitwall-Train:{run_id}",
        segments=[
            Segment(
                index=0,
                model_prefix=layout.segment_model_prefix(run_id, 0),
                deadline_epoch=now + 7200,
                instance_id=instance,
                pool=Pool(
                    instance_type="g4dn.2xlarge",
                    availability_zone=subnet["AvailabilityZone"],
                    subnet_id=subnet["SubnetId"],
                ),
                price_per_hour=0.3,
                launched_at=now,
                started_at=now,
                host_state="started",
                last_heartbeat_at=now,
            )
        ],
    )
    assert cloud.runs.create(run)
    return cloud.runs.get(run_id)


@pytest.fixture(scope="module")
def outbox(cloud: LocalCloud) -> str:
    """A queue that receives every message to the racer and every lifecycle event."""
    sqs = aws.client("sqs", cloud.region)
    url = sqs.create_queue(QueueName="bad-input-outbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topic = cloud.stack.refs["NotificationTopic"]
    aws.client("sns", cloud.region).subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    events = aws.client("events", cloud.region)
    bus = cloud.stack.refs["LifecycleBus"]
    events.put_rule(Name="bad-input-all", EventBusName=bus, EventPattern=json.dumps({"source": ["pitwall"]}))
    events.put_targets(Rule="bad-input-all", EventBusName=bus, Targets=[{"Id": "outbox", "Arn": arn}])
    return str(url)


def _state(cloud: LocalCloud, outbox: str) -> dict[str, Any]:
    s3 = aws.client("s3", cloud.region)
    versions = s3.list_object_versions(Bucket=cloud.bucket)
    table = aws.client("dynamodb", cloud.region).scan(TableName=cloud.stack.refs["RunsTable"])["Items"]
    messages = aws.client("sqs", cloud.region).receive_message(QueueUrl=outbox, MaxNumberOfMessages=10)
    executions = [arn for machine in ("Train", "Evaluate", "Increment") for arn in cloud.executions(machine)]
    return {
        "objects": sorted(
            (v["Key"], v["VersionId"])
            for v in versions.get("Versions", []) + versions.get("DeleteMarkers", [])
        ),
        "runs": sorted(json.dumps(item, sort_keys=True) for item in table),
        "messages": [m["Body"] for m in messages.get("Messages", [])],
        "executions": sorted(str(e) for e in executions),
        "instances": cloud.instance_states(),
    }


def _invoke(cloud: LocalCloud, function: str, event: Any) -> tuple[str | None, Any]:
    answer = aws.client("lambda", cloud.region).invoke(
        FunctionName=cloud.stack.refs[f"{function}Function"], Payload=json.dumps(event).encode()
    )
    body = json.loads(answer["Payload"].read())
    return (body["errorType"] if answer.get("FunctionError") else None), body


def _rejected_without_a_trace(cloud: LocalCloud, outbox: str, function: str, event: Any) -> dict[str, Any]:
    before = _state(cloud, outbox)
    error, body = _invoke(cloud, function, event)
    assert error is None or error in NAMED_ERRORS, f"{function}: {error}: {body}"
    after = _state(cloud, outbox)
    assert after == before, f"{function} changed something on {event!r}: {body}"
    return {"error": error, **(body if isinstance(body, dict) else {})}


@pytest.mark.parametrize("function", FUNCTIONS)
def test_a_malformed_event_is_a_named_error_and_changes_nothing(
    cloud: LocalCloud, live: Run, outbox: str, function: str
) -> None:
    for event in MALFORMED:
        answer = _rejected_without_a_trace(cloud, outbox, function, event)
        assert answer["error"] == "InvalidEvent", (function, event, answer)
        assert answer.get("errorMessage")


def test_the_table_names_every_function_of_the_stack() -> None:
    resources = load_template(REPO_ROOT / "template.yaml")["Resources"]
    functions = {
        name.removesuffix("Function")
        for name, resource in resources.items()
        if resource["Type"] == "AWS::Serverless::Function"
    }
    assert functions == set(FUNCTIONS)


def test_an_import_id_that_is_no_execution_name_is_refused(cloud: LocalCloud, live: Run, outbox: str) -> None:
    # an import id names a folder under the run's prefix: no dots, no slashes
    ref = {"run_id": live.run_id, "import_id": "../../inbox"}
    for function, event in (
        ("PrepareImport", {"request": {"run_id": live.run_id}, "import_id": ref["import_id"]}),
        ("SubmitImport", ref),
        ("PollImport", ref),
        ("FinishImport", ref),
    ):
        answer = _rejected_without_a_trace(cloud, outbox, function, event)
        assert answer["error"] == "InvalidEvent" and "import_id" in answer["errorMessage"], (function, answer)


def _ec2_event(detail_type: str, detail: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": "aws.ec2",
        "account": "123456789012",
        "time": "2026-11-22T04:02:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }


def _s3_event(bucket: str, key: str, version: str | None = None) -> dict[str, Any]:
    s3_object: dict[str, Any] = {"key": key, "size": 10, "eTag": "0" * 32}
    if version:
        s3_object["versionId"] = version
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventName": "ObjectCreated:Put",
                "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": bucket}, "object": s3_object},
            }
        ]
    }


def test_an_unknown_ec2_detail_type_about_a_live_instance_saves_and_replaces_nothing(
    cloud: LocalCloud, live: Run, outbox: str
) -> None:
    instance = live.segments[0].instance_id
    assert instance is not None
    event = _ec2_event("EC2 Instance Something New", {"instance-id": instance})
    answer = _rejected_without_a_trace(cloud, outbox, "RequestCheckpointSave", event)
    assert answer["error"] == "InvalidEvent" and "detail-type" in answer["errorMessage"]
    # a state change that is no ending, and events about unknown instances: ignored
    for ignored in (
        _ec2_event("EC2 Instance State-change Notification", {"instance-id": instance, "state": "running"}),
        _ec2_event("EC2 Spot Instance Interruption Warning", {"instance-id": "i-0123456789abcdef0"}),
    ):
        answer = _rejected_without_a_trace(cloud, outbox, "RequestCheckpointSave", ignored)
        assert answer["error"] is None and answer["requested"] is False and answer["decision"] is None


def test_an_s3_event_from_another_bucket_is_ignored(
    cloud: LocalCloud, live: Run, outbox: str, caplog: pytest.LogCaptureFixture
) -> None:
    status_key = live.keys.host_status
    for function, key in (("RecordHeartbeat", status_key), ("StartFromInbox", "inbox/x/run-request.json")):
        caplog.clear()
        answer = _rejected_without_a_trace(cloud, outbox, function, _s3_event("someone-elses-bucket", key))
        assert answer["error"] is None, answer
        # ignored for its bucket: the same key in the model bucket holds nothing either, so only
        # the log line tells the bucket check from a lookup that found nothing
        ignored = [
            record
            for record in caplog.records
            if "another bucket" in record.getMessage()
            and getattr(record, "bucket", None) == "someone-elses-bucket"
        ]
        assert len(ignored) == 1, (function, [record.getMessage() for record in caplog.records])


def test_notify_run_for_an_unknown_run_or_from_another_execution_sends_nothing(
    cloud: LocalCloud, live: Run, outbox: str
) -> None:
    execution = f"arn:aws:states:{cloud.region}:123456789012:execution:pitwall-Train:other"
    unknown = {"run_id": "never-was", "execution_id": execution}
    assert _rejected_without_a_trace(cloud, outbox, "NotifyRun", unknown)["error"] == "RunNotFound"
    hostile = {"run_id": live.run_id, "execution_id": execution, "error": {"Error": "X", "Cause": "y"}}
    answer = _rejected_without_a_trace(cloud, outbox, "NotifyRun", hostile)
    assert answer["error"] == "InvalidEvent" and live.execution_id in answer["errorMessage"]
    assert cloud.runs.get(live.run_id).state == RunState.RUNNING


def test_a_forged_task_token_is_not_stored(cloud: LocalCloud, live: Run, outbox: str) -> None:
    for token in ("forged-token", "AAAAKgAAAAIAAAAAAAAAAf" * 10):
        event = {"run_id": live.run_id, "awaiting": "finished", "task_token": token}
        answer = _rejected_without_a_trace(cloud, outbox, "AwaitHost", event)
        assert answer["error"] == "InvalidEvent" and "token" in answer["errorMessage"]
    assert cloud.runs.get(live.run_id).task_token is None


def test_a_malformed_host_status_is_ignored(cloud: LocalCloud, live: Run, outbox: str) -> None:
    s3 = aws.client("s3", cloud.region)
    for body in (b"not json", b"[]", b'{"run_id": 1}', json.dumps({"state": "exploded"}).encode(), b"\xff"):
        # the upload itself notifies the heartbeat function (as S3 does); then the same event again
        version = s3.put_object(Bucket=cloud.bucket, Key=live.keys.host_status, Body=body)["VersionId"]
        event = _s3_event(cloud.bucket, live.keys.host_status, version)
        answer = _rejected_without_a_trace(cloud, outbox, "RecordHeartbeat", event)
        assert answer["error"] is None and answer["ignored"] == 1, answer


def test_an_inbox_folder_with_non_ascii_letters_gets_a_report_and_an_ascii_run_id(cloud: LocalCloud) -> None:
    # (the last test of the module: the valid upload starts a training)
    name = f"café-{uuid.uuid4().hex[:4]}"
    request = {"model_name": "cafe", "track": "reInvent2019_track", "time_budget_minutes": 30}
    folder = cloud.upload_inbox_request(name, example_files(), request)  # S3 notifies the inbox
    report = cloud.store.get_json(folder + layout.VALIDATION_REPORT_FILE)
    assert report is not None and report["ok"] is True, report
    assert report["run_id"].isascii() and report["run_id"].startswith("caf-")
