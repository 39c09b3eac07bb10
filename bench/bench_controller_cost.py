"""The controller's own AWS cost per training hour: Pitwall's event-driven design against a
polling design (a Wait loop that checks S3 every minute), measured the same way in one run.

Both are measured on the local cloud (template.yaml in moto, the real state machines, the
Lambdas in-process, a simulated DRFC host), not computed from a formula alone:
- Pitwall: a real Train execution of a 2-hour (simulated) training. Counted: state
  transitions (execution history), Lambda invocations x measured duration x memory (the shim),
  and every S3 / DynamoDB / SNS / EventBridge request the handlers make (with DynamoDB capacity
  units from the item sizes). The heartbeat function's share grows with training time, the
  rest does not: the 8-hour cost is the rest + the heartbeat share x 8 / 2.
- Polling: a Wait -> CheckProgress (Lambda: S3 GETs of TrainingMetrics.json and the host status,
  run record read and write) -> Choice loop, run for real for POLL_ITERATIONS iterations on the
  same local cloud, then 60 iterations per hour; it keeps the same lifecycle steps around the
  wait (validate, prepare, provision, collect, terminate, notify) as Pitwall.

Prices: AWS public list prices, us-east-1, as of 2026 (aws.amazon.com/<service>/pricing):
Step Functions Standard $0.025 per 1,000 state transitions; Lambda $0.20 per 1M requests and
$0.0000166667 per GB-second (x86, 1 ms billing); S3 Standard $0.005 per 1,000 PUT/COPY/POST/
LIST and $0.0004 per 1,000 GET/HEAD/other; DynamoDB on-demand $0.625 per 1M write request units
and $0.125 per 1M read request units; SNS $0.50 per 1M publishes; EventBridge $1.00 per 1M
custom events. CloudWatch Logs and X-Ray are left out of both designs alike.
Lambda durations are measured in-process against moto (an in-memory AWS): real AWS calls are
slower, so `lambda_duration_factor` in the report shows how much headroom the target keeps.
"""

from __future__ import annotations

import json
import logging
import math
import tempfile
import textwrap
import threading
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.client import BaseClient

from pitwall import aws
from pitwall.observability import logger
from pitwall_local.cloud import LocalCloud
from pitwall_local.examples import example_files
from pitwall_local.moto_lambda_shim import current_function

TRAINING_HOURS = 2.0  # simulated training measured for real
TARGET_HOURS = 8.0
POLLS_PER_HOUR = 60
POLL_ITERATIONS = 30
TIME_SCALE = 300.0  # 2 simulated hours in 24 s; the heartbeat window (600 s) is 2 s of wall clock
TARGET_USD_PER_TRAINING_HOUR = 0.002
TARGET_TRANSITION_RATIO = 10.0

SFN_PER_TRANSITION = 0.025 / 1000
LAMBDA_PER_REQUEST = 0.20 / 1_000_000
LAMBDA_PER_GB_SECOND = 0.0000166667
S3_PER_WRITE = 0.005 / 1000  # PUT, COPY, POST, LIST
S3_PER_READ = 0.0004 / 1000  # GET, HEAD, other
DDB_PER_WRU = 0.625 / 1_000_000
DDB_PER_RRU = 0.125 / 1_000_000
SNS_PER_PUBLISH = 0.50 / 1_000_000
EVENTS_PER_EVENT = 1.00 / 1_000_000
S3_WRITES = {"PutObject", "CopyObject", "PostObject", "ListObjectsV2", "ListObjects"}


@dataclass
class Usage:
    """What a design used; `cost()` prices it."""

    transitions: float = 0.0
    lambda_requests: float = 0.0
    lambda_gb_seconds: float = 0.0
    s3_writes: float = 0.0
    s3_reads: float = 0.0
    ddb_wru: float = 0.0
    ddb_rru: float = 0.0
    sns_publishes: float = 0.0
    events: float = 0.0

    def plus(self, other: Usage, times: float = 1.0) -> Usage:
        return Usage(**{k: getattr(self, k) + getattr(other, k) * times for k in self.__dataclass_fields__})

    def scaled(self, factor: float) -> Usage:
        return Usage().plus(self, factor)

    def cost(self) -> float:
        return (
            self.transitions * SFN_PER_TRANSITION
            + self.lambda_requests * LAMBDA_PER_REQUEST
            + self.lambda_gb_seconds * LAMBDA_PER_GB_SECOND
            + self.s3_writes * S3_PER_WRITE
            + self.s3_reads * S3_PER_READ
            + self.ddb_wru * DDB_PER_WRU
            + self.ddb_rru * DDB_PER_RRU
            + self.sns_publishes * SNS_PER_PUBLISH
            + self.events * EVENTS_PER_EVENT
        )


def _size(item: Any) -> int:
    return len(json.dumps(item, default=str))


@dataclass
class Meter:
    """Every AWS request a Lambda handler makes, by function (the shim says which runs)."""

    usage: dict[str, Usage] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, service: str, operation: str, params: dict[str, Any], result: dict[str, Any]) -> None:
        function = current_function()
        if function is None:
            return  # a host's or the test driver's request, not the controller's
        with self._lock:
            usage = self.usage.setdefault(function, Usage())
            self.calls[f"{service}.{operation}"] += 1
            if service == "s3":
                if operation in S3_WRITES:
                    usage.s3_writes += 1
                else:
                    usage.s3_reads += 1
            elif service == "dynamodb":
                if operation in ("PutItem", "UpdateItem", "DeleteItem"):
                    usage.ddb_wru += max(1, math.ceil(_size(params.get("Item", {})) / 1024))
                elif operation == "GetItem":
                    consistent = 1.0 if params.get("ConsistentRead") else 0.5
                    usage.ddb_rru += consistent * max(1, math.ceil(_size(result.get("Item", {})) / 4096))
                elif operation in ("Query", "Scan"):
                    usage.ddb_rru += 0.5 * max(1, math.ceil(_size(result.get("Items", [])) / 4096))
            elif service == "sns" and operation == "Publish":
                usage.sns_publishes += 1
            elif service == "events" and operation == "PutEvents":
                usage.events += len(params.get("Entries", []))

    @contextmanager
    def active(self) -> Iterator[Meter]:
        original = BaseClient._make_api_call
        meter = self

        def metered(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
            result = original(client, operation, params)
            meter.record(client.meta.service_model.endpoint_prefix, operation, params, result)
            return result

        BaseClient._make_api_call = metered
        try:
            yield self
        finally:
            BaseClient._make_api_call = original


def _lambda_usage(cloud: LocalCloud, since: int, function_filter: Any = None) -> dict[str, Usage]:
    per_function: dict[str, Usage] = {}
    for invocation in cloud.shim.invocations[since:]:
        if function_filter and not function_filter(invocation.function_name):
            continue
        usage = per_function.setdefault(invocation.function_name, Usage())
        usage.lambda_requests += 1
        billed = max(0.001, math.ceil(invocation.seconds * 1000) / 1000)
        usage.lambda_gb_seconds += billed * invocation.memory_mb / 1024
    return per_function


def _transitions(cloud: LocalCloud, execution_arn: str) -> int:
    history = cloud.history(execution_arn)
    entered = sum(1 for e in history if e["type"].endswith("StateEntered"))
    retries = sum(1 for e in history if e["type"] == "TaskScheduled") - sum(
        1 for e in history if e["type"] == "TaskStateEntered"
    )
    return entered + max(0, retries)


def _merge(*parts: dict[str, Usage]) -> dict[str, Usage]:
    merged: dict[str, Usage] = {}
    for part in parts:
        for name, usage in part.items():
            merged[name] = merged.get(name, Usage()).plus(usage)
    return merged


POLLING_HANDLER = textwrap.dedent(
    '''
    """The polling design's check: read the heartbeat objects, record progress, say if done."""
    import json
    import os

    import boto3


    def lambda_handler(event, context):
        s3 = boto3.client("s3")
        dynamodb = boto3.client("dynamodb")
        bucket, table = os.environ["PITWALL_MODEL_BUCKET"], os.environ["PITWALL_RUNS_TABLE"]
        s3.get_object(Bucket=bucket, Key=event["metrics_key"])
        status = json.loads(s3.get_object(Bucket=bucket, Key=event["status_key"])["Body"].read())
        item = dynamodb.get_item(TableName=table, Key={"run_id": {"S": event["run_id"]}}, ConsistentRead=True)
        dynamodb.put_item(TableName=table, Item=item["Item"])
        iteration = event["iteration"] + 1
        # the real loop ends when the host is done; the measured one runs its iterations
        done = iteration >= event["max_iterations"] or (status["state"] == "failed" and not event["measure"])
        return {**event, "iteration": iteration, "done": done}
    '''
)


def _polling_machine(cloud: LocalCloud, folder: Path) -> str:
    """The baseline: Wait -> CheckProgress -> Choice, deployed beside the stack's resources."""
    (folder / "app.py").write_text(POLLING_HANDLER)
    role = next(iter(cloud.stack.attributes[name]["Arn"] for name in cloud.stack.of_type("AWS::IAM::Role")))
    environment = {"Variables": _stack_environment(cloud)}
    answer = aws.client("lambda").create_function(
        FunctionName="polling-check-progress",
        Runtime="python3.12",
        Role=role,
        Handler="app.lambda_handler",
        Code={"ZipFile": _zip(folder / "app.py")},
        MemorySize=256,
        Environment=environment,
    )
    cloud.shim.function_code["polling-check-progress"] = folder
    definition = {
        "StartAt": "WaitAMinute",
        "States": {
            "WaitAMinute": {"Type": "Wait", "SecondsPath": "$.poll_seconds", "Next": "CheckProgress"},
            "CheckProgress": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": answer["FunctionArn"], "Payload.$": "$"},
                "OutputPath": "$.Payload",
                "Next": "Done?",
            },
            "Done?": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.done", "BooleanEquals": True, "Next": "Finished"}],
                "Default": "WaitAMinute",
            },
            "Finished": {"Type": "Succeed"},
        },
    }
    return str(
        aws.client("stepfunctions").create_state_machine(
            name="polling-baseline", definition=json.dumps(definition), roleArn=role
        )["stateMachineArn"]
    )


def _stack_environment(cloud: LocalCloud) -> dict[str, str]:
    configuration = aws.client("lambda").get_function_configuration(
        FunctionName=next(iter(cloud.stack.function_code))
    )
    return dict(configuration["Environment"]["Variables"])


def _zip(path: Path) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.write(path, path.name)
    return buffer.getvalue()


def run() -> dict[str, Any]:
    started = time.monotonic()
    logger.setLevel(logging.WARNING)  # the handlers' and hosts' logs are not the report
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    parameters = {"HeartbeatWindowSeconds": 600, "BootTimeoutSeconds": 900}
    with (
        LocalCloud(time_scale=TIME_SCALE, parameters=parameters) as cloud,
        tempfile.TemporaryDirectory() as tmp,
    ):
        meter = Meter()
        with meter.active():
            # Pitwall: one real training run
            run_id = "bench-cost"
            cloud.upload_custom_files("uploads/bench", example_files())
            train_input = {
                "run_id": run_id,
                "request": {"model_name": run_id, "track": "reInvent2019_track", "time_budget_minutes": 120},
                "custom_files_prefix": "uploads/bench",
            }
            execution = cloud.wait(cloud.start("Train", train_input, name=run_id), timeout=300)
            if execution["status"] != "SUCCEEDED":
                raise RuntimeError(f"the measured training failed: {execution.get('cause')}")
            record = cloud.runs.get(run_id)
            segment = record.segments[0]
            trained_hours = ((segment.ended_at or 0) - (segment.started_at or 0)) / 3600
            pitwall = _merge(_lambda_usage(cloud, 0), meter.usage)
            pitwall_transitions = _transitions(cloud, execution["executionArn"])
            heartbeat_name = next(n for n in pitwall if "RecordHeartbeat" in n)
            per_hour = pitwall[heartbeat_name]
            fixed = Usage(transitions=pitwall_transitions)
            for name, usage in pitwall.items():
                if name != heartbeat_name:
                    fixed = fixed.plus(usage)
            pitwall_8h = fixed.plus(per_hour, TARGET_HOURS / trained_hours)

            # Polling: the same check, every minute, measured for real per iteration
            machine = _polling_machine(cloud, Path(tmp))
            invocations_before = len(cloud.shim.invocations)
            meter.usage.pop("polling-check-progress", None)
            poll = cloud.wait(
                aws.client("stepfunctions").start_execution(
                    stateMachineArn=machine,
                    name="polling",
                    input=json.dumps(
                        {
                            "run_id": run_id,
                            "metrics_key": f"{segment.model_prefix}/metrics/TrainingMetrics.json",
                            "status_key": record.keys.host_status,
                            "iteration": 0,
                            "max_iterations": POLL_ITERATIONS,
                            "poll_seconds": 0,  # 60 in AWS; the count does not depend on it
                            "done": False,
                            "measure": True,
                        }
                    ),
                )["executionArn"],
                timeout=120,
            )
            if poll["status"] != "SUCCEEDED":
                raise RuntimeError(f"the polling baseline failed: {poll.get('cause')}")
            name = "polling-check-progress"
            checks = _lambda_usage(cloud, invocations_before, lambda n: n == name).get(name, Usage())
            loop = Usage(transitions=_transitions(cloud, poll["executionArn"]) - 1)  # minus the final Succeed
            per_poll = loop.plus(checks).plus(meter.usage.get(name, Usage())).scaled(1 / POLL_ITERATIONS)
            # the same lifecycle around the wait, without Pitwall's two task-token waits
            await_host = pitwall[next(n for n in pitwall if "AwaitHost" in n)]
            lifecycle = fixed.plus(await_host, -1).plus(Usage(transitions=-2))
            polling_8h = lifecycle.plus(per_poll, POLLS_PER_HOUR * TARGET_HOURS)

    pitwall_per_hour = pitwall_8h.cost() / TARGET_HOURS
    polling_per_hour = polling_8h.cost() / TARGET_HOURS
    transition_ratio = polling_8h.transitions / pitwall_8h.transitions
    return {
        "simulated_training_hours_measured": round(trained_hours, 2),
        "scaled_to_hours": TARGET_HOURS,
        "pitwall": {
            "usd_per_training_hour": round(pitwall_per_hour, 6),
            "usage_8h": {k: round(v, 2) for k, v in pitwall_8h.__dict__.items()},
            "heartbeat_invocations_per_hour": round(per_hour.lambda_requests / trained_hours, 1),
        },
        "polling": {
            "usd_per_training_hour": round(polling_per_hour, 6),
            "usage_8h": {k: round(v, 2) for k, v in polling_8h.__dict__.items()},
        },
        "cost_ratio_polling_over_pitwall": round(polling_per_hour / pitwall_per_hour, 2),
        "transition_ratio_polling_over_pitwall": round(transition_ratio, 1),
        "lambda_duration_factor_headroom": round(TARGET_USD_PER_TRAINING_HOUR / pitwall_per_hour, 1),
        "targets": {
            "usd_per_training_hour_below": TARGET_USD_PER_TRAINING_HOUR,
            "transition_ratio_at_least": TARGET_TRANSITION_RATIO,
        },
        "targets_met": pitwall_per_hour < TARGET_USD_PER_TRAINING_HOUR
        and transition_ratio >= TARGET_TRANSITION_RATIO,
        "wall_seconds": round(time.monotonic() - started, 1),
    }
