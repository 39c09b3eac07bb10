"""In-memory stand-ins for the adapters the lifecycle reaches through `Deps` (the interfaces in
`pitwall.lifecycle.ports`), each keeping the contract of the AWS call it stands for: a run is
saved only over the version it was read at, a task token answers once, an execution name is
taken once, a launch is idempotent per run, segment and pool. Lifecycle tests run on these;
what AWS itself does (S3 versions, SNS attributes, Scheduler requests) stays tested on moto."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pitwall.adapters.ec2 import RUN_TAG, SEGMENT_TAG, FleetUnavailable, LaunchSpec, PoolUnavailable
from pitwall.clock import Clock, ManualClock
from pitwall.errors import RunNotFound, RunRecordConflict
from pitwall.lifecycle.deps import Deps
from pitwall.notifications import Message
from pitwall.runs import STORED_RECORD, Pool, Run
from pitwall.schedules import EvaluationSchedule
from pitwall.settings import Settings

GONE = {"shutting-down", "terminated"}


class FakeRuns:
    """The runs table: records kept as JSON (a reader gets its own copy, as from DynamoDB)."""

    def __init__(self) -> None:
        self.bodies: dict[str, str] = {}

    def create(self, run: Run) -> bool:
        if run.run_id in self.bodies:
            return False
        self.bodies[run.run_id] = run.model_dump_json()
        return True

    def get(self, run_id: str) -> Run:
        if run_id not in self.bodies:
            raise RunNotFound(f"no run {run_id!r}")
        return Run.model_validate_json(self.bodies[run_id], context=STORED_RECORD)

    def save(self, run: Run) -> Run:
        stored = self.get(run.run_id)
        if stored.version != run.version:
            raise RunRecordConflict(f"run {run.run_id} changed since version {run.version}")
        updated = run.model_copy(update={"version": run.version + 1})
        self.bodies[run.run_id] = updated.model_dump_json()
        return updated

    def by_model_prefix(self, model_prefix: str) -> list[Run]:
        runs = [self.get(run_id) for run_id in self.bodies]
        return [run for run in runs if run.model_prefix == model_prefix]

    def all(self) -> list[Run]:
        return sorted((self.get(run_id) for run_id in self.bodies), key=lambda run: run.created_at)


class FakeStore:
    """The model bucket, unversioned: a read at a version id is a test that needs moto."""

    def __init__(self, bucket: str = "models-bucket") -> None:
        self._bucket = bucket
        self.objects: dict[str, bytes] = {}

    @property
    def bucket(self) -> str:
        return self._bucket

    def get_bytes(self, key: str, version_id: str | None = None) -> bytes | None:
        if version_id is not None:
            raise AssertionError("FakeStore keeps no versions: test this on moto's S3")
        return self.objects.get(key)

    def get_json(self, key: str) -> Any | None:
        body = self.objects.get(key)
        return None if body is None else json.loads(body)

    def exists(self, key: str) -> bool:
        return key in self.objects

    def put_bytes(self, key: str, body: bytes, content_type: str = "application/octet-stream") -> None:
        self.objects[key] = bytes(body)

    def put_text(self, key: str, text: str) -> None:
        self.put_bytes(key, text.encode())

    def put_json(self, key: str, value: Any) -> None:
        self.put_bytes(key, json.dumps(value, indent=2, sort_keys=True).encode())

    def copy(self, source_key: str, target_key: str) -> None:
        if source_key not in self.objects:
            raise KeyError(f"NoSuchKey: {source_key}")  # what CopyObject answers
        self.objects[target_key] = self.objects[source_key]

    def list_keys(self, prefix: str) -> list[str]:
        return sorted(key for key in self.objects if key.startswith(prefix))

    def list_sizes(self, prefix: str) -> dict[str, int]:
        return {key: len(self.objects[key]) for key in self.list_keys(prefix)}

    def open(self, key: str) -> io.BytesIO:
        return io.BytesIO(self.objects[key])

    def presigned_url(self, key: str, expires_seconds: int) -> str:
        return f"https://{self._bucket}.s3.example/{key}?expires={expires_seconds}"


class FakeTasks:
    """Task tokens: a token answers once (success or failure); later calls about it, and
    heartbeats of a token in `ended`, are False, as Step Functions' TaskTimedOut/InvalidToken."""

    def __init__(self) -> None:
        self.succeeded: dict[str, dict[str, Any]] = {}
        self.failed: dict[str, tuple[str, str]] = {}
        self.heartbeats: list[str] = []
        self.ended: set[str] = set()

    def _live(self, token: str) -> bool:
        return token not in self.ended and token not in self.succeeded and token not in self.failed

    def succeed(self, token: str, output: dict[str, Any]) -> bool:
        if not self._live(token):
            return False
        self.succeeded[token] = output
        return True

    def fail(self, token: str, error: str, cause: str) -> bool:
        if not self._live(token):
            return False
        self.failed[token] = (error, cause)
        return True

    def heartbeat(self, token: str) -> bool:
        if not self._live(token):
            return False
        self.heartbeats.append(token)
        return True


class FakeMessaging:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.events: list[tuple[str, dict[str, Any]]] = []

    def send(self, message: Message) -> str:
        self.messages.append(message)
        return f"message-{len(self.messages)}"

    def put_event(self, detail_type: str, detail: dict[str, Any]) -> None:
        json.dumps(detail)  # EventBridge takes the detail as JSON: it must serialise
        self.events.append((detail_type, detail))


class FakeMachines:
    """Executions by name: a name is taken once (ExecutionAlreadyExists); each runs until a test
    ends it (`end`), as DescribeExecution and ListExecutions would report."""

    def __init__(self) -> None:
        self.executions: dict[str, tuple[str, dict[str, Any]]] = {}
        self.statuses: dict[str, str] = {}

    def start(self, state_machine_arn: str, name: str, payload: dict[str, Any]) -> bool:
        if name in self.executions:
            return False
        self.executions[name] = (state_machine_arn, json.loads(json.dumps(payload)))
        self.statuses[name] = "RUNNING"
        return True

    def end(self, name: str, status: str = "SUCCEEDED") -> None:
        self.statuses[name] = status

    def status(self, state_machine_arn: str, name: str) -> str | None:
        found = self.executions.get(name)
        return self.statuses[name] if found and found[0] == state_machine_arn else None

    def running(self, state_machine_arn: str) -> dict[str, dict[str, Any]]:
        return {
            name: payload
            for name, (machine, payload) in self.executions.items()
            if machine == state_machine_arn and self.statuses[name] == "RUNNING"
        }


@dataclass
class FakeEc2:
    """Instances as DescribeInstances describes them. Pools whose label is in `refused` have no
    capacity; a launch is idempotent per run, segment and pool (the client token)."""

    clock: Clock
    zones: dict[str, str] = field(default_factory=lambda: {"subnet-1": "us-east-1a"})
    prices: dict[tuple[str, str], float] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)
    refused: set[str] = field(default_factory=set)
    instances: dict[str, dict[str, Any]] = field(default_factory=dict)
    _launched: dict[str, str] = field(default_factory=dict)

    def add_instance(self, run_id: str | None, segment: int = 0, state: str = "running") -> str:
        """An instance started outside the lifecycle (a test's given)."""
        instance_id = f"i-{len(self.instances):017x}"
        tags = (
            []
            if run_id is None
            else [{"Key": RUN_TAG, "Value": run_id}, {"Key": SEGMENT_TAG, "Value": str(segment)}]
        )
        self.instances[instance_id] = {
            "InstanceId": instance_id,
            "State": {"Name": state},
            "LaunchTime": datetime.fromtimestamp(self.clock.now(), UTC),
            "Tags": tags,
        }
        return instance_id

    def subnet_zones(self, subnet_ids: Sequence[str]) -> dict[str, str]:
        return {subnet: self.zones[subnet] for subnet in subnet_ids}

    def spot_prices(self, instance_types: Sequence[str]) -> dict[tuple[str, str], float]:
        return {key: price for key, price in self.prices.items() if key[0] in instance_types}

    def image_in_parameter(self, name: str) -> str | None:
        return self.parameters.get(name)

    def launch(self, pool: Pool, spec: LaunchSpec) -> str:
        if pool.label in self.refused:
            raise PoolUnavailable(pool, "InsufficientInstanceCapacity", "no capacity in this pool")
        token = f"{spec.run_id}/{spec.segment}/{pool.label}"
        if token not in self._launched:
            instance_id = self.add_instance(spec.run_id, spec.segment)
            self.instances[instance_id].update(
                {
                    "ImageId": spec.image_id,
                    "IamInstanceProfile": {"Arn": spec.instance_profile_arn},
                    "InstanceType": pool.instance_type,
                    "SubnetId": pool.subnet_id,
                    "Placement": {"AvailabilityZone": pool.availability_zone},
                }
            )
            self._launched[token] = instance_id
        return self._launched[token]

    def launch_fleet(self, candidates: Sequence[Pool], spec: LaunchSpec) -> tuple[str, Pool, list[str]]:
        refused = [pool.label for pool in candidates if pool.label in self.refused]
        for pool in candidates:
            if pool.label not in self.refused:
                return self.launch(pool, spec), pool, refused
        raise FleetUnavailable(
            candidates, [f"{label}: InsufficientInstanceCapacity" for label in refused], tried=True
        )

    def terminate(self, instance_id: str) -> bool:
        found = self.instances.get(instance_id)
        if found is None:
            return False
        alive = found["State"]["Name"] not in GONE
        found["State"] = {"Name": "terminated"}
        return alive

    def tagged_instances(self) -> list[dict[str, Any]]:
        return [
            description
            for description in self.instances.values()
            if any(tag["Key"] == RUN_TAG for tag in description["Tags"])
        ]

    def run_of_instance(self, instance_id: str) -> tuple[str, int] | None:
        found = self.instances.get(instance_id)
        tags = {tag["Key"]: tag["Value"] for tag in found["Tags"]} if found else {}
        if RUN_TAG not in tags:
            return None
        return tags[RUN_TAG], int(tags.get(SEGMENT_TAG, "0"))

    def live(self) -> list[str]:
        return [
            i for i, d in self.instances.items() if d["State"]["Name"] not in {"shutting-down", "terminated"}
        ]


@dataclass
class FakePrices:
    prices: dict[str, float] = field(default_factory=lambda: {"g4dn.2xlarge": 0.752})

    def on_demand(self, instance_type: str) -> float | None:
        return self.prices.get(instance_type)


class FakeSchedules:
    def __init__(self) -> None:
        self.schedules: dict[str, EvaluationSchedule] = {}

    def create(self, schedule: EvaluationSchedule, now: float) -> bool:
        if schedule.schedule_id in self.schedules:
            return False
        self.schedules[schedule.schedule_id] = schedule
        return True

    def delete(self, schedule_id: str) -> bool:
        return self.schedules.pop(schedule_id, None) is not None

    def all(self) -> list[EvaluationSchedule]:
        return [schedule for _, schedule in sorted(self.schedules.items())]

    def of_run(self, run_id: str) -> list[EvaluationSchedule]:
        return [schedule for schedule in self.all() if schedule.source_run_id == run_id]


class FakeRoles:
    def __init__(self) -> None:
        self.roles: dict[str, dict[str, Any]] = {}

    def create(self, name: str, policy: dict[str, Any], tags: dict[str, str]) -> str:
        self.roles[name] = policy
        return f"arn:aws:iam::123456789012:instance-profile/pitwall/{name}"

    def delete(self, name: str) -> bool:
        return self.roles.pop(name, None) is not None


def fake_deps_of(settings: Settings, clock: ManualClock) -> Deps:
    return Deps(
        settings=settings,
        store=FakeStore(settings.model_bucket),
        runs=FakeRuns(),
        ec2=FakeEc2(clock),
        clock=clock,
        roles=FakeRoles(),
        tasks=FakeTasks(),
        messaging=FakeMessaging(),
        machines=FakeMachines(),
        prices=FakePrices(),
        schedules=FakeSchedules(),
    )
