"""Fault injection on the local cloud (issue 4's fault suite): each fault acts through a seam the
real cloud has, so the controller's own code meets it unchanged.

Injectors:
- `spot_interruption`: the "EC2 Spot Instance Interruption Warning" put on the default bus (the
  relay delivers it to the deployed rules, as EventBridge would), then the instance terminated
  two minutes of cloud time later, as EC2 does; `rebalance_recommendation`, the earlier hint;
- `host_crash` (a container dies) and `heartbeat_stop` (the simulator freezes: nothing more is
  written, yet the containers look alive), through the simulated DRFC host of the instance;
- `transient_lambda_errors`: the next invocations of functions fail as the Lambda service would
  (`Lambda.ServiceException`, `Lambda.TooManyRequestsException`), through the Lambda shim;
- `capacity_outage`: every pool refuses launches for a while, then capacity returns;
- `EventTap.duplicate_for`: for a while every S3 notification and EventBridge event is delivered
  twice, the copy after the next event (duplicated and out of order);
- `late_events_about`: an interruption warning for an instance already terminated, and a stale
  host status naming it.

`EventTap` also keeps the ledger of every checkpoint file version the hosts wrote (the model
bucket is versioned), and tells the suite when a run reaches a state. `FaultSuite.run_case`
runs one (state, fault) case and measures what issue 4 asks: checkpoints lost, instances left
running, budget overrun, and whether the finished model continues from the last checkpoint
(DRFC's `last`).
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from unittest.mock import patch

from moto.s3 import notifications
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

from pitwall import aws, drfc_files, layout
from pitwall.errors import RunNotFound
from pitwall.host.protocol import HostState, HostStatus
from pitwall.runs import Run, RunKind, RunState
from pitwall_local.cloud import REPO_ROOT, LocalCloud
from pitwall_local.examples import example_files
from pitwall_local.instances import LaunchFaults
from pitwall_local.simulated_drfc import SimulatedFaults
from pitwall_local.template import load_template

SPOT_NOTICE_SECONDS = 120.0  # EC2 terminates a spot instance two minutes after the warning
INTERRUPTION_WARNING = "EC2 Spot Instance Interruption Warning"
REBALANCE_RECOMMENDATION = "EC2 Instance Rebalance Recommendation"
TRANSIENT_ERRORS = ("ServiceException", "TooManyRequestsException")

STATES = ("provisioning", "booting", "training", "saving", "evaluating")
FAULTS = (
    "spot-interruption",
    "host-crash",
    "heartbeat-stops",
    "transient-lambda-errors",
    "capacity-errors",
    "duplicated-reordered-events",
    "late-event-old-instance",
)

# -- injectors ------------------------------------------------------------------------------------


def put_instance_event(cloud: LocalCloud, detail_type: str, instance_id: str) -> None:
    """An EC2 event about one instance on the default bus, as EC2 puts it."""
    detail = {"instance-id": instance_id, "instance-action": "terminate"}
    if detail_type == REBALANCE_RECOMMENDATION:
        detail = {"instance-id": instance_id}
    aws.client("events", cloud.region).put_events(
        Entries=[{"Source": "aws.ec2", "DetailType": detail_type, "Detail": json.dumps(detail)}]
    )


def _terminate(cloud: LocalCloud, instance_id: str) -> None:
    if cloud.instance_states().get(instance_id) not in ("shutting-down", "terminated"):
        aws.client("ec2", cloud.region).terminate_instances(InstanceIds=[instance_id])


def _after(seconds: float, cloud: LocalCloud, action: Callable[[], None], name: str) -> threading.Thread:
    """Run `action` after `seconds` of the cloud's clock, in a thread of its own."""
    clock = cloud.clock()

    def later() -> None:
        clock.sleep(seconds)
        action()

    thread = threading.Thread(target=later, name=name, daemon=True)
    thread.start()
    return thread


def spot_interruption(
    cloud: LocalCloud, instance_id: str, notice_seconds: float = SPOT_NOTICE_SECONDS
) -> threading.Thread:
    """The interruption warning now, the termination `notice_seconds` of cloud time later."""
    put_instance_event(cloud, INTERRUPTION_WARNING, instance_id)
    return _after(notice_seconds, cloud, lambda: _terminate(cloud, instance_id), f"spot-{instance_id}")


def lost_spot_warning(cloud: LocalCloud, instance_id: str) -> threading.Thread:
    """A spot warning the interruption handler fails on (a bug): Lambda's attempts fail and the
    event lands in the failure queue; then the bug is fixed and `pitwall replay-failed`
    re-drives it, inside the two-minute notice. Returns the thread that fixes and replays."""
    from pitwall_cli.replay_failed import replay_failed  # the operator's command

    function = cloud.stack.refs["RequestCheckpointSaveFunction"]
    queued = len(cloud.invoker.failed)
    cloud.shim.failing_events[function] = lambda event: (
        isinstance(event, dict) and event.get("detail-type") == INTERRUPTION_WARNING
    )

    def fix_and_replay() -> None:
        deadline = time.monotonic() + 10
        while len(cloud.invoker.failed) == queued and time.monotonic() < deadline:
            time.sleep(0.005)
        cloud.shim.failing_events.pop(function, None)
        outputs = cloud.stack.outputs
        replay_failed(outputs["AsyncFailureQueueUrl"], outputs["AsyncFunctionArns"].split(","), cloud.region)

    thread = threading.Thread(target=fix_and_replay, name=f"replay-{instance_id}", daemon=True)
    thread.start()
    spot_interruption(cloud, instance_id)
    return thread


def rebalance_recommendation(cloud: LocalCloud, instance_id: str) -> None:
    put_instance_event(cloud, REBALANCE_RECOMMENDATION, instance_id)


def host_crash(cloud: LocalCloud, instance_id: str) -> None:
    """A container of the instance's DRFC dies now (the host reports it as failed)."""
    cloud.runner.hosts[instance_id].backend.crash()


def heartbeat_stop(cloud: LocalCloud, instance_id: str) -> None:
    """The instance's simulator freezes now: no more metrics or checkpoints, containers still up."""
    cloud.runner.hosts[instance_id].backend.freeze()


def task_functions(cloud: LocalCloud) -> list[str]:
    """The deployed functions that the state machines call (those with no event source in
    template.yaml): their callers see a service error as the task's error and retry it."""
    template = load_template(cloud.root / "template.yaml")
    event_driven = {
        Path(str(resource["Properties"]["CodeUri"])).name
        for resource in template["Resources"].values()
        if resource.get("Type") == "AWS::Serverless::Function" and resource["Properties"].get("Events")
    }
    return sorted(
        name for name, folder in cloud.shim.function_code.items() if folder.name not in event_driven
    )


def transient_lambda_errors(
    cloud: LocalCloud, functions: list[str], errors: tuple[str, ...] = TRANSIENT_ERRORS
) -> None:
    """The next `len(errors)` invocations of each function fail with these Lambda service errors."""
    with cloud.shim._lock:
        for function in functions:
            cloud.shim.injected_errors.setdefault(function, []).extend(errors)


def _listed(value: Any) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list | tuple) else str(value).split(",")


def every_pool(cloud: LocalCloud) -> set[tuple[str, str]]:
    """(instance type, AZ) of every pool the deployed stack may launch in."""
    types = _listed(cloud.stack.parameters["InstanceTypes"])
    subnet_ids = _listed(cloud.stack.parameters["SubnetIds"])
    subnets = aws.client("ec2", cloud.region).describe_subnets(SubnetIds=subnet_ids)["Subnets"]
    return {(instance_type, s["AvailabilityZone"]) for instance_type in types for s in subnets}


def capacity_outage(cloud: LocalCloud, seconds: float) -> threading.Thread:
    """Every pool refuses launches (InsufficientInstanceCapacity) for `seconds` of cloud time."""
    pools = every_pool(cloud)
    cloud.launch_faults.unavailable |= pools
    return _after(seconds, cloud, lambda: cloud.launch_faults.unavailable.difference_update(pools), "outage")


def late_events_about(cloud: LocalCloud, run_id: str, old_instance_id: str, segment: int) -> None:
    """Events about an instance that is no longer the run's: an interruption warning, and a host
    status naming it (delivered late: it overwrites the run's status object)."""
    put_instance_event(cloud, INTERRUPTION_WARNING, old_instance_id)
    stale = HostStatus(
        run_id=run_id,
        segment=segment,
        instance_id=old_instance_id,
        state=HostState.FAILED,
        sequence=1_000_000,
        at_epoch=cloud.clock().now(),
        detail="container deepracer-0_robomaker.1 exited with code 139 (a late report of an old instance)",
    )
    cloud.store.put_text(layout.RunKeys(run_id).host_status, stale.to_json())


@contextmanager
def accelerated_retries(time_scale: float) -> Iterator[None]:
    """Step Functions' retry intervals on the cloud's accelerated clock (moto sleeps wall time:
    a 2 s retry would be 8 minutes of a 240x cloud)."""
    original = retrier_decl.time

    class _ScaledTime:
        @staticmethod
        def sleep(seconds: float) -> None:
            time.sleep(seconds / time_scale)

    retrier_decl.time = _ScaledTime  # type: ignore[assignment]
    try:
        yield
    finally:
        retrier_decl.time = original


# -- the event tap: the checkpoint ledger, state triggers, duplicated and reordered delivery ------

_CHECKPOINT_FILE = re.compile(
    r"^(?P<prefix>.+)/model/(?P<name>\d+_Step-\d+\.ckpt)\.(index|meta|data-\d+-of-\d+)$"
)
_FROZEN_GRAPH = re.compile(r"^(?P<prefix>.+)/model/model_(?P<number>\d+)\.pb$")

Listener = Callable[[str, bytes], bool]  # (key, body) -> done (remove me)


class EventTap:
    """Sees every object created in the model bucket (before its notification goes out)."""

    def __init__(self, cloud: LocalCloud) -> None:
        self.cloud = cloud
        self.written: dict[str, list[str]] = {}  # checkpoint file key -> versions written
        self.written_at: dict[str, float] = {}  # checkpoint file key -> last written, cloud time
        self.listeners: list[Listener] = []
        self.duplicate_until = 0.0  # cloud time
        self.duplicated = 0
        self._previous: dict[str, tuple[Any, ...]] = {}
        self._lock = threading.Lock()

    # the ledger
    def _record(self, key: str, version: str | None) -> None:
        if _CHECKPOINT_FILE.match(key) or _FROZEN_GRAPH.match(key):
            with self._lock:
                self.written.setdefault(key, []).append(str(version))
                self.written_at[key] = self.cloud.clock().now()

    def checkpoints_written(self, model_folder: str) -> dict[str, list[str]]:
        """Complete checkpoints written under `model_folder`: model prefix -> names, in order."""
        with self._lock:
            keys = [key for key in self.written if key.startswith(model_folder)]
        found: dict[str, list[str]] = {}
        for key in keys:
            match = _CHECKPOINT_FILE.match(key)
            if match and key.endswith(".index"):
                prefix, name = match["prefix"], match["name"]
                if all(k in self.written for k in layout.ModelKeys(prefix).checkpoint_files(name)):
                    found.setdefault(prefix, []).append(name)
        return {p: sorted(names, key=layout.checkpoint_number) for p, names in found.items()}

    def newest_checkpoint_at(self, model_folder: str) -> float | None:
        """When the newest checkpoint under `model_folder` was written (cloud time)."""
        with self._lock:
            times = [t for key, t in self.written_at.items() if key.startswith(model_folder)]
        return max(times, default=None)

    def versions_lost(self, model_folder: str) -> list[str]:
        """Checkpoint file versions written under `model_folder` that S3 no longer holds (the
        ledger is read first: a host still writing adds versions the listing may not show yet)."""
        with self._lock:
            written = [
                (k, v) for k, versions in self.written.items() if k.startswith(model_folder) for v in versions
            ]
        s3 = aws.client("s3", self.cloud.region)
        held: set[tuple[str, str]] = set()
        for page in s3.get_paginator("list_object_versions").paginate(
            Bucket=self.cloud.bucket, Prefix=model_folder
        ):
            held |= {(v["Key"], str(v["VersionId"])) for v in page.get("Versions", [])}
        return [f"{key}@{version}" for key, version in written if (key, version) not in held]

    # delivery
    def duplicate_for(self, seconds: float) -> None:
        self.duplicate_until = self.cloud.clock().now() + seconds

    def _duplicating(self) -> bool:
        return self.cloud.clock().now() < self.duplicate_until

    @contextmanager
    def installed(self) -> Iterator[EventTap]:
        original_send, original_invoke = notifications.send_event, notifications._invoke_awslambda
        relay = self.cloud.relay
        original_deliver = relay.deliver

        def send_event(account_id: str, event_name: Any, bucket: Any, key: Any) -> None:
            if str(event_name.value if hasattr(event_name, "value") else event_name).startswith(
                "s3:ObjectCreated"
            ):
                self._record(key.name, key.version_id)
                for listener in list(self.listeners):
                    if listener(key.name, bytes(key.value)):
                        self.listeners.remove(listener)
            original_send(account_id, event_name, bucket, key)

        def invoke_awslambda(account_id: str, body: Any, arn: str, region: str) -> None:
            original_invoke(account_id, body, arn, region)
            if self._duplicating():  # the copy of the previous event, after this one
                with self._lock:
                    previous = self._previous.get(arn)
                if previous is not None:
                    self.duplicated += 1
                    original_invoke(*previous)
            with self._lock:
                self._previous[arn] = (account_id, body, arn, region)

        def deliver(target: dict[str, Any], event: dict[str, Any]) -> None:
            original_deliver(target, event)
            if self._duplicating():
                self.duplicated += 1
                original_deliver(target, event)

        with (
            patch.object(notifications, "send_event", send_event),
            patch.object(notifications, "_invoke_awslambda", invoke_awslambda),
            patch.object(relay, "deliver", deliver),
        ):
            yield self


class SuiteLaunchFaults(LaunchFaults):
    """LaunchFaults that also call hooks at each launch attempt (the provisioning trigger)."""

    def __init__(self) -> None:
        super().__init__()
        self.on_attempt: list[Callable[[], None]] = []

    def check(self, instance_type: str, zone: str) -> None:
        hooks, self.on_attempt = self.on_attempt, []
        for hook in hooks:
            hook()
        super().check(instance_type, zone)


# -- the suite: one accelerated run per (state, fault), and what it shows -------------------------

TIME_SCALE = 120.0  # a simulated hour takes 30 s. Heartbeat windows, boot timeouts and the spot
# notice are wall seconds here: any lag of the loaded machine becomes minutes of cloud time (the
# spot notice is 1 s of wall time), so the suite runs slower than the demo's 240x
BUDGET_MINUTES = 30  # a stall in the first minutes is found after the window and still leaves
# the budget rule a boot and five minutes for the replacement
PARAMETERS = {  # seconds of cloud time; the simulated host boots in 45 s
    "BootTimeoutSeconds": 300,
    "HeartbeatWindowSeconds": 480,
    "DefaultTimeBudgetMinutes": BUDGET_MINUTES,
    "MoveCheckMinutes": 5,  # a segment looks for a cheaper pool within the suite's short runs
}
EPISODES_PER_ITERATION = 10  # a checkpoint every few minutes of cloud time
OUTAGE_SECONDS = 240.0
DUPLICATE_SECONDS = 300.0
OVERRUN_ALLOWED_SECONDS = 60.0
# A run hit early (the suite's faults come in its first minutes) must keep training to its
# budget's end: replaced within the heartbeat window plus a boot, a checkpoint every few minutes.
KEEP_GOING_SLACK_SECONDS = 600.0
CASE_TIMEOUT_SECONDS = 90.0  # wall
TRACK = "reInvent2019_track"
EVALUATION_TRIALS = 10  # minutes of cloud time: the fault lands while it evaluates
LOCAL_IMAGE = "ami-12c6146b"  # one of moto's built-in images
# Cases beyond the matrix, at the training state: a spot warning whose handler fails every
# attempt (failure queue, replay), an instance terminated with no warning (replaced at once).
LOST_EVENT_FAULTS = ("spot-warning-lost", "unannounced-termination")
# Hand-over cases, at the training state: a rebalance recommendation (after the first checkpoint
# is in the run record), then the spot warning before the replacement is ready; no warning at
# all; or a replacement that never gets ready (its first launch hangs in the DRFC set-up); or a
# spot warning with no recommendation before it (the replacement boots while the host saves).
# The move back: the run's pool turns dear (spot prices rise tenfold) while a baked image makes
# a boot short enough for the move to pay within the run's half hour.
HANDOVER_FAULTS = (
    "rebalance-then-warning",
    "rebalance-no-warning",
    "rebalance-replacement-fails",
    "warning-no-rebalance",
    "pool-turns-dear",
)
DEAR_PRICE_FACTOR = 10.0
REBALANCE_AFTER_CHECKPOINT_SECONDS = 60.0  # cloud time: the heartbeat records the checkpoint first
WARNING_AFTER_REBALANCE_SECONDS = 20.0  # the simulated host boots in 45 s: not ready yet
_NEEDS_INSTANCE = frozenset(
    {"spot-interruption", "host-crash", "heartbeat-stops", *LOST_EVENT_FAULTS, *HANDOVER_FAULTS}
)


@dataclass
class CaseResult:
    state: str
    fault: str
    run_id: str
    injected: bool
    execution_status: str
    run_state: str
    segments: int
    checkpoints_written: int
    checkpoints_lost: list[str]
    orphans: list[str]
    overrun_seconds: float | None  # None: an instance was left running
    lineage_problem: str | None  # None: the finished model continues from the latest checkpoint
    ended_early_seconds: float = 0.0  # training: its budget's end - when its last instance ended
    idle_seconds: float = 0.0  # training: when its last instance ended - its newest checkpoint
    detail: str = ""

    @property
    def problems(self) -> list[str]:
        found = []
        if not self.injected:
            found.append(f"the fault was never injected (the run never reached {self.state})")
        if self.execution_status != "SUCCEEDED" or self.run_state != RunState.SUCCEEDED.value:
            found.append(f"execution {self.execution_status}, run {self.run_state}: {self.detail}")
        if self.checkpoints_lost:
            found.append(f"{len(self.checkpoints_lost)} checkpoint(s) lost: {self.checkpoints_lost}")
        if self.orphans:
            found.append(f"instances left running: {self.orphans}")
        if self.overrun_seconds is not None and self.overrun_seconds > OVERRUN_ALLOWED_SECONDS:
            found.append(f"budget overrun by {self.overrun_seconds:.0f} s")
        if self.lineage_problem:
            found.append(self.lineage_problem)
        if self.ended_early_seconds > KEEP_GOING_SLACK_SECONDS:
            found.append(f"training stopped {self.ended_early_seconds / 60:.0f} min before its budget ended")
        if self.idle_seconds > KEEP_GOING_SLACK_SECONDS:
            found.append(f"no checkpoint in the last {self.idle_seconds / 60:.0f} min the run paid for")
        return found

    @property
    def survived(self) -> bool:
        return not self.problems

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> CaseResult:
        return cls(**json.loads(text))


def suite_files() -> dict[str, bytes]:
    files = example_files()
    hyper = json.loads(files[layout.HYPERPARAMETERS_FILE])
    hyper["num_episodes_between_training"] = EPISODES_PER_ITERATION
    files[layout.HYPERPARAMETERS_FILE] = json.dumps(hyper).encode()
    return files


class FaultSuite:
    """Runs fault cases one after the other on one local cloud (see `fault_suite`)."""

    def __init__(self, cloud: LocalCloud, tap: EventTap, launch_faults: SuiteLaunchFaults) -> None:
        self.cloud = cloud
        self.tap = tap
        self.launch_faults = launch_faults
        self.results: list[CaseResult] = []
        self._source_run_id: str | None = None

    # -- runs -------------------------------------------------------------------------------

    def train_input(self, run_id: str) -> dict[str, Any]:
        folder = f"uploads/{run_id}"
        self.cloud.upload_custom_files(folder, suite_files())
        # one simulator per host, as the cases were timed: every further worker's metrics are
        # more S3 events for the local cloud to carry within the same wall seconds
        request = {"model_name": run_id, "track": TRACK, "time_budget_minutes": BUDGET_MINUTES, "workers": 1}
        return {"run_id": run_id, "request": request, "custom_files_prefix": folder}

    def source_run_id(self) -> str:
        """A trained model (no faults) that the evaluating cases evaluate."""
        if self._source_run_id is None:
            run_id = f"source-{uuid.uuid4().hex[:8]}"
            execution = self.cloud.wait(
                self.cloud.start("Train", self.train_input(run_id), name=run_id), CASE_TIMEOUT_SECONDS
            )
            if execution["status"] != "SUCCEEDED":
                raise RuntimeError(f"the source model did not train: {execution.get('cause')}")
            self._source_run_id = run_id
        return self._source_run_id

    def _run(self, run_id: str) -> Run | None:
        try:
            return self.cloud.runs.get(run_id)
        except RunNotFound:
            return None

    def _hosts_of(self, run_id: str) -> list[str]:
        hosts = sorted(
            (h for h in list(self.cloud.runner.hosts.values()) if h.run_id == run_id), key=lambda h: h.segment
        )
        return [h.instance_id for h in hosts]

    def _old_instance(self, run_id: str) -> tuple[str, int]:
        """An instance that is no longer the run's: its previous one, else another run's."""
        own = self._hosts_of(run_id)
        if len(own) > 1:
            return own[-2], len(own) - 2
        others = [i for i in self.cloud.runner.terminated if i not in own]
        if others:
            return others[-1], 0
        ec2 = aws.client("ec2", self.cloud.region)  # none yet: one that lived and went
        old = ec2.run_instances(ImageId=LOCAL_IMAGE, MinCount=1, MaxCount=1, InstanceType="m5.large")
        instance_id = str(old["Instances"][0]["InstanceId"])
        _terminate(self.cloud, instance_id)
        return instance_id, 0

    # -- injecting --------------------------------------------------------------------------

    def inject(self, fault: str, run_id: str, instance_id: str | None, state: str) -> None:
        cloud = self.cloud
        if fault in _NEEDS_INSTANCE and instance_id is None:
            raise ValueError(f"{fault} needs an instance")
        if fault == "spot-interruption":
            spot_interruption(cloud, str(instance_id))
        elif fault == "host-crash":
            host_crash(cloud, str(instance_id))
        elif fault == "heartbeat-stops":
            heartbeat_stop(cloud, str(instance_id))
        elif fault == "transient-lambda-errors":
            transient_lambda_errors(cloud, task_functions(cloud))
        elif fault == "capacity-errors":
            capacity_outage(cloud, OUTAGE_SECONDS)
            if instance_id is not None and state != "provisioning":  # AWS takes the capacity back
                spot_interruption(cloud, instance_id)
        elif fault == "duplicated-reordered-events":
            self.tap.duplicate_for(DUPLICATE_SECONDS)
        elif fault == "late-event-old-instance":
            old, segment = self._old_instance(run_id)
            late_events_about(cloud, run_id, old, segment)
        elif fault == "spot-warning-lost":
            lost_spot_warning(cloud, str(instance_id))
        elif fault == "unannounced-termination":
            _terminate(cloud, str(instance_id))
        elif fault in HANDOVER_FAULTS:
            self._hand_over(fault, run_id, str(instance_id))
        else:
            raise ValueError(f"unknown fault {fault!r}; known: {', '.join(FAULTS)}")

    def _hand_over(self, fault: str, run_id: str, instance_id: str) -> None:
        cloud = self.cloud
        if fault == "pool-turns-dear":
            run = self._run(run_id)
            segment = run.current_segment if run else None
            if segment is None or segment.pool is None:
                raise RuntimeError(f"run {run_id} has no pool yet")
            pool = (segment.pool.instance_type, segment.pool.availability_zone)
            price = cloud.spot_market.price(*pool)
            cloud.spot_market.prices[pool] = (price or 1.0) * DEAR_PRICE_FACTOR
            aws.client("ssm", cloud.region).put_parameter(
                Name=self._image_parameter, Value=LOCAL_IMAGE, Type="String", Overwrite=True
            )
            return
        if fault == "rebalance-replacement-fails":
            self._first_launch_never_boots(run_id, segment=len(self._hosts_of(run_id)))

        def warn() -> None:
            spot_interruption(cloud, instance_id)

        if fault == "warning-no-rebalance":
            _after(REBALANCE_AFTER_CHECKPOINT_SECONDS, cloud, warn, f"warning-{instance_id}")
            return

        def recommend() -> None:
            rebalance_recommendation(cloud, instance_id)
            if fault == "rebalance-then-warning":
                _after(WARNING_AFTER_REBALANCE_SECONDS, cloud, warn, f"warning-{instance_id}")

        _after(REBALANCE_AFTER_CHECKPOINT_SECONDS, cloud, recommend, f"rebalance-{instance_id}")

    def _first_launch_never_boots(self, run_id: str, segment: int) -> None:
        """The next instance of the run's `segment` hangs in its set-up (once: a later launch of
        the same segment boots)."""
        runner = self.cloud.runner
        before = runner.host_faults
        hung = SimulatedFaults(never_boots=True)

        def faults(of_run: str, of_segment: int) -> SimulatedFaults | None:
            if (of_run, of_segment) == (run_id, segment):
                runner.host_faults = before
                return hung
            return before(of_run, of_segment)

        runner.host_faults = faults

    def _arm(self, state: str, fault: str, run_id: str, fired: threading.Event, errors: list[str]) -> None:
        """Inject `fault` when the run reaches `state`."""

        def fire(instance_id: str | None) -> None:
            try:
                self.inject(fault, run_id, instance_id, state)
            except Exception as exc:  # reported with the case
                errors.append(f"injecting {fault}: {exc!r}")
            fired.set()

        def in_thread(instance_id: str | None) -> None:
            threading.Thread(target=fire, args=(instance_id,), name=f"inject-{fault}", daemon=True).start()

        def now(instance_id: str | None) -> None:
            """Before the host writes anything more (in its own thread, where the trigger
            runs); a late event about another instance comes from elsewhere."""
            (in_thread if fault == "late-event-old-instance" else fire)(instance_id)

        status_key = layout.RunKeys(run_id).host_status

        def on_status(wanted: HostState, then: Callable[[str], None]) -> Listener:
            def listener(key: str, body: bytes) -> bool:
                if key != status_key:
                    return False
                status = HostStatus.from_json(body)
                if status.state != wanted:
                    return False
                then(status.instance_id)
                return True

            return listener

        def on_first_checkpoint(then: Callable[[str], None]) -> Listener:
            """At the first trained checkpoint: the checkpoints file names one evaluated (the
            trainer's initial checkpoint, named at once with no metric, does not count)."""
            folder = f"{layout.MODELS_PREFIX}{run_id}/"

            def listener(key: str, body: bytes) -> bool:
                if not (key.startswith(folder) and key.endswith("/model/deepracer_checkpoints.json")):
                    return False
                if drfc_files.checkpoints_of(json.loads(body)).best_metric is None:
                    return False
                then(self._hosts_of(run_id)[-1])
                return True

            return listener

        if state == "provisioning":

            def at_launch_attempt() -> None:
                if fault == "capacity-errors":
                    fire(None)  # before this very attempt
                elif fault in _NEEDS_INSTANCE:  # as soon as the instance exists
                    threading.Thread(target=self._when_launched, args=(run_id, fire), daemon=True).start()
                else:
                    in_thread(None)

            self.launch_faults.on_attempt.append(at_launch_attempt)
        elif state == "booting":
            self.tap.listeners.append(on_status(HostState.BOOTING, now))
        elif state == "training":
            self.tap.listeners.append(on_first_checkpoint(now))
        elif state == "saving":

            def interrupt(instance_id: str) -> None:
                self.tap.listeners.append(on_status(HostState.SAVING, now))
                threading.Thread(
                    target=spot_interruption, args=(self.cloud, instance_id), daemon=True
                ).start()

            self.tap.listeners.append(on_first_checkpoint(interrupt))
        elif state == "evaluating":
            self.tap.listeners.append(on_status(HostState.STARTED, now))
        else:
            raise ValueError(f"unknown state {state!r}; known: {', '.join(STATES)}")

    def _when_launched(self, run_id: str, then: Callable[[str | None], None]) -> None:
        deadline = time.monotonic() + 10
        while not (hosts := self._hosts_of(run_id)) and time.monotonic() < deadline:
            time.sleep(0.002)
        then(hosts[-1] if hosts else None)

    @property
    def _image_parameter(self) -> str:
        return f"/pitwall/{self.cloud.stack_name}/host-image-id"  # template.yaml's

    def _disarm(self) -> None:
        self.cloud.spot_market.prices.clear()
        with contextlib.suppress(aws.client("ssm", self.cloud.region).exceptions.ParameterNotFound):
            aws.client("ssm", self.cloud.region).delete_parameter(Name=self._image_parameter)
        self.tap.listeners.clear()
        self.tap.duplicate_until = 0.0
        self.launch_faults.on_attempt.clear()
        self.launch_faults.unavailable.clear()
        with self.cloud.shim._lock:
            self.cloud.shim.injected_errors.clear()
            self.cloud.shim.failing_events.clear()

    # -- one case ---------------------------------------------------------------------------

    def run_case(self, state: str, fault: str) -> CaseResult:
        evaluating = state == "evaluating"
        source_id = self.source_run_id() if evaluating else None
        run_id = f"{state[:5]}-{fault.split('-')[0]}-{uuid.uuid4().hex[:6]}"
        fired, errors = threading.Event(), list[str]()
        self._arm(state, fault, run_id, fired, errors)
        try:
            if evaluating:
                evaluation = {"checkpoint": "last", "trials": EVALUATION_TRIALS}
                payload = {"source_run_id": source_id, "evaluation": evaluation}
                arn = self.cloud.start("Evaluate", payload, name=run_id)
            else:
                arn = self.cloud.start("Train", self.train_input(run_id), name=run_id)
            execution = self.cloud.wait(arn, CASE_TIMEOUT_SECONDS)
            fired.wait(2.0)  # an injection under way when the run ended
        finally:
            self._disarm()
        result = self._measure(state, fault, run_id, source_id, execution, fired.is_set())
        if errors:
            result.detail = "; ".join([*errors, result.detail])
        self.results.append(result)
        self.cloud.freeze_heap()  # what the case left lives on: out of the collector's walks
        return result

    def _last_checkpoint_of(self, model_prefix: str) -> str | None:
        """What DRFC means by the prefix's `last` checkpoint (its deepracer_checkpoints.json)."""
        document = self.cloud.store.get_json(layout.ModelKeys(model_prefix).checkpoints_json)
        return drfc_files.checkpoint_choice(document, "last")

    def _settle(self, instances: list[str], seconds: float = 3.0) -> list[str]:
        """The instances still running after a short while (a host powers itself off)."""
        deadline = time.monotonic() + seconds
        while True:
            states = self.cloud.instance_states()
            running = [i for i in instances if states.get(i) not in ("shutting-down", "terminated")]
            if not running or time.monotonic() > deadline:
                return running
            time.sleep(0.05)

    def _measure(
        self,
        state: str,
        fault: str,
        run_id: str,
        source_id: str | None,
        execution: dict[str, Any],
        injected: bool,
    ) -> CaseResult:
        run = self._run(run_id)
        instances = self._hosts_of(run_id)
        orphans = self._settle(instances)
        for orphan in orphans:  # counted; now stop them, so they trouble no later case
            _terminate(self.cloud, orphan)
        model_name = source_id if source_id else run_id
        folder = f"{layout.MODELS_PREFIX}{model_name}/"
        written = self.tap.checkpoints_written(folder)
        lost_versions = self.tap.versions_lost(folder)
        lost = sorted({re.sub(r"\.(index|meta|data-.*)@.*$|@.*$", "", v) for v in lost_versions})
        runner = self.cloud.runner
        budget = BUDGET_MINUTES * 60.0
        overrun: float | None = 0.0  # no instance: nothing spent
        ended_early = idle = 0.0
        if orphans:
            overrun = None
        elif instances:
            first = min(runner.launched_at[i] for i in instances)
            last = max(runner.terminated_at.get(i, first) for i in instances)
            overrun = last - first - budget
            newest = self.tap.newest_checkpoint_at(folder)
            if run is not None and run.kind == RunKind.TRAIN:
                ended_early = max(0.0, first + budget - last)
                idle = max(0.0, last - (newest if newest is not None else first))
        if run is None:
            lineage: str | None = "no run record"
        elif run.kind == RunKind.EVALUATE:
            lineage = _evaluation_problem(self.cloud, run)
        else:
            lineage = _lineage_problem(run, written, self._last_checkpoint_of)
        succeeded = execution["status"] == "SUCCEEDED"
        return CaseResult(
            state=state,
            fault=fault,
            run_id=run_id,
            injected=injected,
            execution_status=str(execution["status"]),
            run_state=run.state.value if run else "missing",
            segments=len(run.segments) if run else 0,
            checkpoints_written=sum(len(names) for names in written.values()),
            checkpoints_lost=lost,
            orphans=orphans,
            overrun_seconds=overrun,
            lineage_problem=lineage if succeeded else None,
            ended_early_seconds=ended_early if succeeded else 0.0,
            idle_seconds=idle if succeeded else 0.0,
            detail=_what_happened(run) if run else str(execution.get("cause", "")),
        )


def _what_happened(run: Run) -> str:
    """The run's failure, or how each of its segments ended."""
    if run.failure:
        return run.failure
    return " | ".join(f"seg {s.index}: {s.end_reason or s.host_state}"[:160] for s in run.segments)


def _lineage_problem(
    run: Run, written: dict[str, list[str]], last_of: Callable[[str], str | None]
) -> str | None:
    """Why the run's model does not continue from its last checkpoint, or None when it does: each
    segment that trained starts from the checkpoint DRFC calls `last` (`last_of`: the
    deepracer_checkpoints.json entry, one behind the newest upload) of the latest earlier segment
    that has one, its initial checkpoint numbered after it; and the run's outcome is the last
    checkpoint of its last trained segment."""
    trained: list[str] = []
    for segment in run.segments:
        names = written.get(segment.model_prefix, [])
        if names and trained:
            source = trained[-1]
            if segment.pretrained is None or segment.pretrained.model_prefix != source:
                got = segment.pretrained.model_prefix if segment.pretrained else "nothing"
                return f"segment {segment.index} continued from {got}, not from {source}"
            if segment.pretrained.checkpoint != "last":
                return f"segment {segment.index} continued from its source's {segment.pretrained.checkpoint}"
            last = last_of(source) or ""
            if layout.checkpoint_number(names[0]) != layout.checkpoint_number(last) + 1:
                return f"segment {segment.index} starts at {names[0]}, not after {source}'s last {last}"
        if last_of(segment.model_prefix):
            trained.append(segment.model_prefix)
    if not trained:
        return "no checkpoint was written"
    final = last_of(trained[-1])
    outcome = run.outcome.last_checkpoint if run.outcome else None
    if outcome != final:
        return f"the run's outcome is {outcome}, not the last checkpoint {final}"
    return None


def _evaluation_problem(cloud: LocalCloud, run: Run) -> str | None:
    if run.source_run_id is None:
        return "the evaluation names no source run"
    source = cloud.runs.get(run.source_run_id)
    results = [result for result in source.evaluations if result.evaluation_run_id == run.run_id]
    if not results:
        return f"no evaluation result of {run.run_id} in the record of {source.run_id}"
    if results[-1].trials != EVALUATION_TRIALS:
        return f"the evaluation has {results[-1].trials} of {EVALUATION_TRIALS} trials"
    return None


@contextmanager
def fault_suite(
    time_scale: float = TIME_SCALE, parameters: dict[str, Any] | None = None
) -> Iterator[FaultSuite]:
    """A local cloud set up for the fault suite: the accelerated parameters, the event tap,
    launch hooks, and Step Functions retries on the cloud's clock."""
    launch_faults = SuiteLaunchFaults()
    with ExitStack() as stack:
        cloud = stack.enter_context(
            LocalCloud(
                time_scale=time_scale,
                parameters={**PARAMETERS, **(parameters or {})},
                launch_faults=launch_faults,
                root=REPO_ROOT,
            )
        )
        stack.enter_context(accelerated_retries(time_scale))
        tap = stack.enter_context(EventTap(cloud).installed())
        yield FaultSuite(cloud, tap, launch_faults)


def format_matrix(results: list[CaseResult]) -> str:
    """The matrix (fault x state: ok, or what went wrong in short), then the totals."""
    width = max(len(f) for f in FAULTS) + 2
    lines = ["fault \\ state".ljust(width) + "".join(s.ljust(14) for s in STATES)]
    by_case = {(r.fault, r.state): r for r in results}
    for fault in [*FAULTS, *(f for f in LOST_EVENT_FAULTS if any(r.fault == f for r in results))]:
        cells = []
        for state in STATES:
            result = by_case.get((fault, state))
            cells.append(("-" if result is None else _cell(result)).ljust(14))
        lines.append(fault.ljust(width) + "".join(cells))
    injected = [r for r in results if r.injected]
    lines.append(
        f"faults injected {len(injected)}/{len(results)}, survived {sum(r.survived for r in results)}, "
        f"checkpoints lost {sum(len(r.checkpoints_lost) for r in results)}, "
        f"orphans {sum(len(r.orphans) for r in results)}, "
        f"replacements {sum(max(0, r.segments - 1) for r in results)}"
    )
    failed = [r for r in results if not r.survived]
    for result in failed:
        problems = "; ".join(result.problems)
        if result.execution_status == "SUCCEEDED":  # how its segments ended says why
            problems += f" [{result.detail}]"
        lines.append(f"  {result.fault} @ {result.state} ({result.run_id}): {problems[:500]}")
    return "\n".join(lines)


def _cell(result: CaseResult) -> str:
    if result.survived:
        return f"ok ({result.segments} seg)"
    if not result.injected:
        return "NOT INJECTED"
    if result.checkpoints_lost:
        return "LOST CKPT"
    if result.orphans:
        return "ORPHAN"
    if result.execution_status != "SUCCEEDED":
        return result.execution_status
    if result.overrun_seconds is not None and result.overrun_seconds > OVERRUN_ALLOWED_SECONDS:
        return "OVERRUN"
    if result.lineage_problem:
        return "LINEAGE"
    return "STOPPED" if result.ended_early_seconds > KEEP_GOING_SLACK_SECONDS else "IDLE"
