"""The local cloud's instances: a simulated DRFC host for every instance the controller launches,
and the EC2 fault hook.

Both wrap moto's EC2 instance backend (`run_instances`, `terminate_instances`), below the
project's EC2 adapter, so the controller's own code runs unchanged:
- `SpotMarket` gives the pools spot prices (moto's are all 0.00001);
- `LaunchFaults` makes chosen launches fail with an EC2 capacity error, as AWS answers them
  (moto's spot pools never run out); an instant EC2 Fleet tries its pools in the order given,
  skips and reports (`Errors`) the refused ones and launches in the first with capacity, as
  AWS documents CreateFleet (moto always takes the first pool and never refuses);
- `InstanceRunner` starts the host agent (`pitwall.host.agent.HostAgent`) with the simulated
  DRFC backend in a thread when an instance is launched, on the controller's accelerated clock,
  stops it when the instance is terminated, and terminates the instance when the host powers
  itself off (instances are launched with InstanceInitiatedShutdownBehavior=terminate).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models.fleets import Fleet
from moto.ec2.models.instances import InstanceBackend
from moto.ec2.responses.fleets import Fleets
from moto.ec2.responses.spot_instances import SpotInstances

from pitwall import aws, pricing
from pitwall.adapters.ec2 import RUN_TAG, SEGMENT_TAG
from pitwall.clock import Clock
from pitwall.host.agent import HostAgent
from pitwall.observability import logger
from pitwall_local.simulated_drfc import SimulatedDrfc, SimulatedFaults, SimulatedPace


class CapacityError(EC2ClientError):
    def __init__(self, code: str, pool: str) -> None:
        super().__init__(code, f"There is no {pool} capacity available at this time (local cloud fault).")


@dataclass
class LaunchFaults:
    """Launches to refuse: the next `fail_next` attempts, and any in `unavailable` (type, AZ)."""

    fail_next: int = 0
    unavailable: set[tuple[str, str]] = field(default_factory=set)
    code: str = "InsufficientInstanceCapacity"
    attempts: list[tuple[str, str, bool]] = field(default_factory=list)  # (type, AZ, launched)

    def check(self, instance_type: str, zone: str) -> None:
        refused = self.fail_next > 0 or (instance_type, zone) in self.unavailable
        self.attempts.append((instance_type, zone, not refused))
        if refused:
            self.fail_next = max(0, self.fail_next - 1)
            raise CapacityError(self.code, f"{instance_type} in {zone}")


SPOT_SHARE_OF_ON_DEMAND = 0.35  # g4dn.2xlarge: median spot 0.26 of 0.752 on demand (shared/data README)
ZONE_PREMIUM = 0.06  # each further AZ of the region a little dearer, so ranking has work to do


@dataclass
class SpotMarket:
    """The local cloud's spot prices (moto answers 0.00001 for every pool): a share of the
    on-demand list price, a little dearer in each further AZ; `prices` overrides per pool."""

    region: str
    prices: dict[tuple[str, str], float] = field(default_factory=dict)

    def price(self, instance_type: str, zone: str) -> float | None:
        if (instance_type, zone) in self.prices:
            return self.prices[(instance_type, zone)]
        on_demand = pricing.on_demand_price(self.region, instance_type)
        if on_demand is None:
            return None
        return round(on_demand * SPOT_SHARE_OF_ON_DEMAND * (1 + ZONE_PREMIUM * (ord(zone[-1]) - ord("a"))), 4)


HostFaults = Callable[[str, int], SimulatedFaults | None]  # (run id, segment) -> faults


@dataclass
class HostThread:
    instance_id: str
    run_id: str
    segment: int
    agent: HostAgent
    backend: SimulatedDrfc
    thread: threading.Thread


class InstanceRunner:
    def __init__(
        self,
        *,
        region: str,
        bucket: str,
        clock_factory: Callable[[], Clock],
        host_faults: HostFaults | None = None,
        pace: SimulatedPace | None = None,
    ) -> None:
        self.region = region
        self.bucket = bucket
        self.clock_factory = clock_factory
        self.host_faults = host_faults or (lambda run_id, segment: None)
        self.pace = pace
        self.hosts: dict[str, HostThread] = {}
        self.launched: list[str] = []
        self.terminated: list[str] = []
        self.launched_at: dict[str, float] = {}  # instance id -> when, on the cloud's clock
        self.terminated_at: dict[str, float] = {}
        self._lock = threading.Lock()
        self._state_change_notices: list[threading.Thread] = []  # EventBridge notices under way
        self._stopped = False  # the cloud is closing: no more notices

    def on_launch(self, instance_id: str, tags: dict[str, str]) -> None:
        with self._lock:
            self.launched.append(instance_id)
            self.launched_at[instance_id] = self.clock_factory().now()
        if RUN_TAG not in tags:
            return
        run_id, segment = tags[RUN_TAG], int(tags.get(SEGMENT_TAG, "0"))
        clock = self.clock_factory()
        s3 = aws.client("s3", self.region)
        backend = SimulatedDrfc(
            s3=s3,
            clock=clock,
            seed=len(self.launched),
            faults=self.host_faults(run_id, segment),
            pace=self.pace,
            on_shutdown=lambda: self._power_off(instance_id),
        )
        agent = HostAgent(
            s3=s3, bucket=self.bucket, run_id=run_id, instance_id=instance_id, backend=backend, clock=clock
        )
        thread = threading.Thread(target=self._run, args=(agent,), name=f"host-{instance_id}", daemon=True)
        with self._lock:
            self.hosts[instance_id] = HostThread(instance_id, run_id, segment, agent, backend, thread)
        thread.start()

    @staticmethod
    def _run(agent: HostAgent) -> None:
        try:
            agent.run()
        except Exception:  # the agent reports its own failures; this is a bug in the simulation
            logger.exception("simulated host crashed")

    def on_terminate(self, instance_ids: list[str]) -> None:
        for instance_id in instance_ids:
            with self._lock:
                host = self.hosts.get(instance_id)
                first_time = instance_id not in self.terminated
                if first_time:
                    self.terminated.append(instance_id)
                    self.terminated_at[instance_id] = self.clock_factory().now()
            if host is not None:
                host.agent.stop()
            if first_time:  # EC2 tells EventBridge, a moment later (moto does not)
                notice = threading.Thread(target=self._state_changed, args=(instance_id,), daemon=True)
                with self._lock:
                    if self._stopped:
                        continue
                    self._state_change_notices.append(notice)
                notice.start()

    def _state_changed(self, instance_id: str) -> None:
        aws.client("events", self.region).put_events(
            Entries=[
                {
                    "Source": "aws.ec2",
                    "DetailType": "EC2 Instance State-change Notification",
                    "Detail": json.dumps({"instance-id": instance_id, "state": "shutting-down"}),
                }
            ]
        )

    def _power_off(self, instance_id: str) -> None:
        aws.client("ec2", self.region).terminate_instances(InstanceIds=[instance_id])

    def host_of_run(self, run_id: str, segment: int = 0) -> HostThread | None:
        with self._lock:
            return next((h for h in self.hosts.values() if h.run_id == run_id and h.segment == segment), None)

    def stop_all(self, timeout: float = 5.0) -> None:
        with self._lock:
            hosts = list(self.hosts.values())
        for host in hosts:
            host.agent.stop()
        for host in hosts:
            host.thread.join(timeout)
        with self._lock:  # a host's power-off sent one too: all before the mocks go, none after
            self._stopped = True
            notices = list(self._state_change_notices)
        for notice in notices:
            notice.join(timeout)


@contextmanager
def spot_prices_from(market: SpotMarket) -> Iterator[SpotMarket]:
    """While active, DescribeSpotPriceHistory answers the market's prices."""
    original = SpotInstances.describe_spot_price_history

    def describe_spot_price_history(self: Any) -> ActionResult:
        answer = original(self)
        history = [
            {**entry, "SpotPrice": str(price)}
            for entry in answer.result["SpotPriceHistory"]  # type: ignore[index]
            if (price := market.price(entry["InstanceType"], entry["AvailabilityZone"])) is not None
        ]
        return ActionResult({"SpotPriceHistory": history})

    SpotInstances.describe_spot_price_history = describe_spot_price_history  # type: ignore[method-assign]
    try:
        yield market
    finally:
        SpotInstances.describe_spot_price_history = original  # type: ignore[method-assign]


def _profile_arn(value: Any) -> str | None:
    """The instance profile ARN moto's fleet launch spec holds (a text, or {"Arn": text})."""
    while isinstance(value, dict):
        value = value.get("Arn")
    return value if isinstance(value, str) and value else None


_fleet_choice = threading.local()  # the pool an instant fleet just checked: its launch is not checked again


@contextmanager
def instant_fleets(faults: LaunchFaults) -> Iterator[LaunchFaults]:
    """While active, an instant fleet's launch goes through `faults` pool by pool (see above)."""
    original_counts = Fleet.get_launch_spec_counts
    original_create = Fleets.create_fleet

    def get_launch_spec_counts(self: Any, weight_to_add: float) -> Any:
        if self.fleet_type != "instant":
            return original_counts(self, weight_to_add)
        errors: list[dict[str, Any]] = self.__dict__.setdefault("local_errors", [])
        ordered = sorted(self.launch_specs, key=lambda spec: float((spec.overrides or {}).get("Priority", 0)))
        for spec in ordered:
            zone = self.ec2_backend.get_subnet(spec.subnet_id).availability_zone
            try:
                faults.check(spec.instance_type, zone)
            except CapacityError as exc:
                errors.append(
                    {
                        "LaunchTemplateAndOverrides": {
                            "LaunchTemplateSpecification": spec.launch_template_spec,
                            "Overrides": spec.overrides,
                        },
                        "Lifecycle": "spot" if self.spot_options else "on-demand",
                        "ErrorCode": exc.code,
                        "ErrorMessage": exc.message,
                    }
                )
                continue
            _fleet_choice.pool = (spec.instance_type, zone)
            _fleet_choice.profile = _profile_arn(getattr(spec, "_iam_instance_profile_arn", None))
            return {spec: 1}, float(spec.weighted_capacity)
        return {}, 0.0

    def create_fleet(self: Any) -> ActionResult:
        answer = original_create(self)
        result: dict[str, Any] = answer.result  # type: ignore[assignment]
        fleet = self.ec2_backend.get_fleet(result["FleetId"])
        errors = fleet.__dict__.get("local_errors") if fleet is not None else None
        if errors:
            result["Errors"] = errors
        return ActionResult(result)

    Fleet.get_launch_spec_counts = get_launch_spec_counts  # type: ignore[method-assign]
    Fleets.create_fleet = create_fleet  # type: ignore[method-assign]
    try:
        yield faults
    finally:
        Fleet.get_launch_spec_counts = original_counts  # type: ignore[method-assign]
        Fleets.create_fleet = original_create  # type: ignore[method-assign]


@contextmanager
def hooked_instances(runner: InstanceRunner, faults: LaunchFaults) -> Iterator[InstanceRunner]:
    """While active, moto's launches (instant fleets too) go through `faults` and start hosts;
    terminations stop them. On exit every host stops and the EventBridge notices of the
    terminations are sent, while moto is still on."""
    original_run = InstanceBackend.run_instances
    original_terminate = InstanceBackend.terminate_instances
    # moto's EC2 backend is not thread-safe: two terminations of one instance at once (a spot
    # reclaim and the controller's) race to detach its volume and one fails, where AWS accepts both
    terminating = threading.Lock()

    def run_instances(
        self: Any, image_id: str, count: int, user_data: Any, security_group_names: Any, **kwargs: Any
    ) -> Any:
        subnet_id = kwargs.get("subnet_id")
        zone = self.get_subnet(subnet_id).availability_zone if subnet_id else self.region_name + "a"
        pool = (str(kwargs.get("instance_type")), zone)
        profile = None
        if getattr(_fleet_choice, "pool", None) == pool:
            _fleet_choice.pool = None  # an instant fleet checked this pool a moment ago
            profile, _fleet_choice.profile = getattr(_fleet_choice, "profile", None), None
        else:
            faults.check(*pool)
        reservation = original_run(self, image_id, count, user_data, security_group_names, **kwargs)
        for instance in reservation.instances if profile else []:
            # AWS gives a fleet's instance the launch template's profile; moto's fleet drops it
            self.associate_iam_instance_profile(instance_id=instance.id, iam_instance_profile_arn=profile)
        tags = kwargs.get("tags", {}).get("instance", {})
        for instance in reservation.instances:
            runner.on_launch(instance.id, dict(tags))
        return reservation

    def terminate_instances(self: Any, instance_ids: list[str]) -> Any:
        with terminating:
            result = original_terminate(self, instance_ids)
        runner.on_terminate(list(instance_ids))
        return result

    InstanceBackend.run_instances = run_instances  # type: ignore[method-assign]
    InstanceBackend.terminate_instances = terminate_instances  # type: ignore[method-assign]
    try:
        with instant_fleets(faults):
            yield runner
    finally:
        runner.stop_all()
        InstanceBackend.run_instances = original_run  # type: ignore[method-assign]
        InstanceBackend.terminate_instances = original_terminate  # type: ignore[method-assign]
