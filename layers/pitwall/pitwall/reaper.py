"""The scheduled reaper's rule: which Pitwall-tagged instances to terminate, and why.

The last of three independent guards against an instance that outlives its purpose (the state
machine's timeouts and the host's own shutdown timer come first). An instance is terminated when

- its run tag names no run, or a run that ended;
- it is not its run's current instance (an old segment's instance that was never terminated),
  nor its hand-over's replacement (`Run.standby`, booting while the current one trains);
- its segment ended (replaced, finished) more than a grace period ago and it still runs;
- it runs past its segment's deadline (what the run's budget allowed, `budget.segment_seconds`)
  plus a grace period.

An instance younger than `launch_grace_seconds` is spared the first three rules: the provision
step launches an instance before it writes it into the run record.

A run tag is not proof enough: anyone who may tag an instance could have it terminated. Only an
instance that also carries a segment's instance profile (under `ReaperPolicy.profile_path`, which
only the provision step creates and passes) was launched by Pitwall; any other is left alone.

Pure domain: the instances and runs come in as arguments (the EC2 adapter lists the instances
tagged `pitwall:run-id`, the runs table gives the runs).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pitwall.runs import Run, RunState

# EC2 instance states that still cost money or may start to (stopped spot instances keep volumes).
LIVE_INSTANCE_STATES = frozenset({"pending", "running", "stopping", "stopped"})


@dataclass(frozen=True)
class TaggedInstance:
    instance_id: str
    run_id: str | None  # the value of the run tag; None or "" when it is missing
    launched_at: float  # epoch seconds
    state: str  # the EC2 state name
    profile_arn: str | None = None  # its instance profile, given at launch


def tagged_instance(description: Mapping[str, Any], run_tag: str) -> TaggedInstance:
    """A TaggedInstance from one `Instances` entry of EC2 DescribeInstances."""
    tags = {tag["Key"]: tag["Value"] for tag in description.get("Tags", [])}
    launch = description["LaunchTime"]
    launched_at = launch.timestamp() if isinstance(launch, datetime) else float(launch)
    return TaggedInstance(
        instance_id=description["InstanceId"],
        run_id=tags.get(run_tag) or None,
        launched_at=launched_at,
        state=description["State"]["Name"],
        profile_arn=description.get("IamInstanceProfile", {}).get("Arn"),
    )


@dataclass(frozen=True)
class ReaperPolicy:
    grace_seconds: float = 10 * 60.0  # past a deadline, or after a segment ended
    launch_grace_seconds: float = 10 * 60.0  # a new instance may not be in its run's record yet
    profile_path: str = "/pitwall/"  # where the segments' instance profiles are (adapters.iam)

    def launched_by_pitwall(self, instance: TaggedInstance) -> bool:
        return (
            instance.profile_arn is not None
            and f":instance-profile{self.profile_path}" in instance.profile_arn
        )

    def __post_init__(self) -> None:
        for name in ("grace_seconds", "launch_grace_seconds"):
            if getattr(self, name) < 0:
                raise ValueError(f"reaper {name} must be >= 0, got {getattr(self, name)}")


@dataclass(frozen=True)
class Termination:
    instance_id: str
    run_id: str | None
    reason: str


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min"


def _verdict(instance: TaggedInstance, run: Run | None, now: float, policy: ReaperPolicy) -> str | None:
    """Why `instance` must go, or None when it may stay."""
    age = now - instance.launched_at
    young = age < policy.launch_grace_seconds
    if not instance.run_id:
        return None if young else "its pitwall:run-id tag is empty"
    if run is None:
        return None if young else f"no run {instance.run_id} in the runs table"
    if run.is_terminal:
        return f"its run {run.run_id} ended ({run.state.value})"
    segment = next((s for s in reversed(run.segments) if s.instance_id == instance.instance_id), None)
    current = run.current_segment
    if segment is None and run.standby is not None and run.standby.instance_id == instance.instance_id:
        segment = current = run.standby
    if segment is None:
        if young:
            return None
        now_on = current.instance_id if current and current.instance_id else "no instance"
        return f"it is not in run {run.run_id}'s record (the run is on {now_on})"
    if segment is not current:
        return (
            f"it belongs to segment {segment.index} of run {run.run_id}; "
            f"the run is on segment {len(run.segments) - 1}"
        )
    if now > segment.deadline_epoch + policy.grace_seconds:
        return (
            f"it runs {_minutes(now - segment.deadline_epoch)} past the deadline of run {run.run_id} "
            f"(segment {segment.index}; grace {_minutes(policy.grace_seconds)})"
        )
    ended = (
        segment.ended_at if segment.ended_at is not None else (run.updated_at if segment.end_reason else None)
    )
    if ended is not None and now > ended + policy.grace_seconds:
        return (
            f"segment {segment.index} of run {run.run_id} ended {_minutes(now - ended)} ago "
            f"({segment.end_reason or 'finished'}) and the instance still runs"
        )
    return None


def instances_to_terminate(
    instances: Iterable[TaggedInstance], runs: Mapping[str, Run], now: float, policy: ReaperPolicy
) -> list[Termination]:
    """The instances to terminate, each with the reason to record and log."""
    terminations: list[Termination] = []
    for instance in instances:
        if instance.state not in LIVE_INSTANCE_STATES or not policy.launched_by_pitwall(instance):
            continue
        run = runs.get(instance.run_id) if instance.run_id else None
        reason = _verdict(instance, run, now, policy)
        if reason is not None:
            terminations.append(Termination(instance.instance_id, instance.run_id, reason))
    return terminations


@dataclass(frozen=True)
class FleetView:
    """What the scheduled look at the fleet counts (the dashboard's gauges and two alarms)."""

    live_runs: int  # runs not ended that have an instance
    stale_runs: int  # of them, training or evaluating with no heartbeat within the window
    budget_used_percent: float  # the highest share of its money budget a live run has spent
    live_cost_usd: float  # what the live runs have spent so far, together


def fleet_view(runs: Iterable[Run], now: float, heartbeat_window_seconds: float) -> FleetView:
    live = [run for run in runs if not run.is_terminal]
    stale = 0
    used = 0.0
    for run in live:
        segment = run.current_segment
        if run.state == RunState.RUNNING and segment is not None and segment.ended_at is None:
            last = segment.last_heartbeat_at or segment.started_at or segment.launched_at or run.updated_at
            stale += now - last > heartbeat_window_seconds
        if run.request.money_budget_usd:
            used = max(used, 100.0 * run.spent_usd(now) / run.request.money_budget_usd)
    return FleetView(
        live_runs=len(live),
        stale_runs=stale,
        budget_used_percent=used,
        live_cost_usd=sum(run.spent_usd(now) for run in live),
    )
