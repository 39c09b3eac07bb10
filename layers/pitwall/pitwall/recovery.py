"""What a run does when something goes wrong with its instance: the pure recovery rules.

One function decides (`decide`), one applies the decision to the run record (`apply`), and one
ties them to a conditional write of the record (`resolve`), so that of two racing events about
the same instance (a spot interruption warning and a heartbeat timeout, say) exactly one
replaces it: both read version v; the first write wins and marks the segment as ending; the
second write fails on the version, reads the record again, and now decides `Ignore`.

Events and what they lead to:

- spot interruption warning / rebalance recommendation: ask the host to save its latest
  checkpoint (`save_first`), then continue as a new segment from checkpoint `last`, preferring
  other pools over the interrupted one for `pool_cooldown_seconds`; for a training segment that
  has a checkpoint, that new segment's instance launches before the save (`Step.launch_first`)
  and boots meanwhile; an evaluation saves nothing: its new segment evaluates the same model
  prefix and checkpoint again, from the start;
- rebalance recommendation for a training segment that has a checkpoint: hand over instead
  (`HandOver`): the next segment's instance (`Run.standby`) boots at once in another pool while
  this one trains on; when its host is set up and waits (STANDBY_READY), this segment is
  replaced as above (save, terminate) and the standby, not a new launch, continues from the
  saved checkpoint. A warning before that is the ordinary replacement (the standby still takes
  over); a standby that fails to boot is dropped and the segment replaced as today;
- heartbeat timeout (a stall), boot timeout, host failed (a dead container): continue as a new
  segment from the last checkpoint in S3; a host that fails twice in a row without a new
  checkpoint in between stops the run (the cause is not the instance);
- an instance that ends without a warning (its EC2 state change to shutting-down): continue as
  a new segment at once, from the last checkpoint in S3 (nothing left to save);
- capacity errors in every pool: wait and try again while the budget allows;
- an event about an instance that is not the run's current one, or about a segment that is
  already ending, or for a run that ended: `Ignore` (late, duplicated, out-of-order events).

Every replacement respects THE budget rule (`budget.segment_seconds`) and the circuit breaker
(`breaker.check`); what the next segment looks like is decided in one place, `next_segment`.

Pure domain: no boto3, no environment.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, ClassVar, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pitwall import breaker, budget, layout
from pitwall.errors import BudgetExhausted, RunRecordConflict
from pitwall.host.protocol import HostState
from pitwall.runs import Awaiting, Pool, PretrainedSource, Run, RunKind, RunState, Segment
from pitwall.settings import Settings


class EventKind(StrEnum):
    INTERRUPTION_WARNING = "interruption-warning"  # EventBridge "EC2 Spot Instance Interruption Warning"
    REBALANCE_RECOMMENDATION = "rebalance-recommendation"  # "EC2 Instance Rebalance Recommendation"
    HEARTBEAT_TIMEOUT = "heartbeat-timeout"  # States.HeartbeatTimeout of the work wait: a stall
    BOOT_TIMEOUT = "boot-timeout"  # States.Timeout of the "started" wait
    HOST_FAILED = "host-failed"  # the host reported FAILED (a command failed, a container died)
    NO_CAPACITY = "no-capacity"  # SpotCapacityUnavailable: every pool refused a launch
    # "EC2 Instance State-change Notification" to shutting-down/terminated with no warning before
    # (terminated by hand, a host failure, a reclaim without notice)
    INSTANCE_GONE = "instance-gone"
    STANDBY_READY = "standby-ready"  # a hand-over's replacement is set up and waits for the go
    STANDBY_FAILED = "standby-failed"  # it failed, or did not get ready within the boot timeout
    # at a checkpoint, a pool now costs clearly less per useful episode (`episode_cost.worth_moving`)
    CHEAPER_POOL = "cheaper-pool"


HEARTBEAT_TOLERANCE = 0.9  # share of the window a recorded heartbeat must be inside to void a timeout

SPOT_EVENTS = frozenset({EventKind.INTERRUPTION_WARNING, EventKind.REBALANCE_RECOMMENDATION})

# EventBridge `detail-type` of the EC2 events about one instance.
_DETAIL_TYPES = {
    "EC2 Spot Instance Interruption Warning": EventKind.INTERRUPTION_WARNING,
    "EC2 Instance Rebalance Recommendation": EventKind.REBALANCE_RECOMMENDATION,
}


def event_kind_of_detail_type(detail_type: str) -> EventKind | None:
    """The event kind of an EventBridge EC2 event, or None for any other detail-type."""
    return _DETAIL_TYPES.get(detail_type)


# How a host wait is failed after the host's report (lifecycle.progress), read back here.
HOST_FAILED_ERROR = "HostFailed"
HOST_SAVED_ERROR = "HostSaved"
INSTANCE_GONE_ERROR = "InstanceGone"  # a save wait ends: the instance went before its host saved
STANDBY_READY_ERROR = "StandbyReady"  # what the Train machine passes on when the standby is ready
STANDBY_FAILED_ERROR = "StandbyFailed"  # how the standby's wait is failed after its host's report


def event_kind_of_error(error: str, awaiting: Awaiting | None) -> EventKind | None:
    """The event kind of a Step Functions error caught around the host waits and provisioning,
    or None when the error is no recovery matter (a failure to record, or a decision already in
    the record such as SegmentReplaced: follow `next_step`).

    `awaiting`: what the failed wait waited for; a plain States.Timeout of the "started" wait is
    a boot timeout, of the "finished" wait the end of the time budget (not a recovery).
    """
    if error == "States.HeartbeatTimeout":
        return EventKind.HEARTBEAT_TIMEOUT
    if error == "States.Timeout" and awaiting == Awaiting.STARTED:
        return EventKind.BOOT_TIMEOUT
    if error == HOST_FAILED_ERROR:
        return EventKind.HOST_FAILED
    if error == HOST_SAVED_ERROR:  # the host heard the spot notice itself and saved
        return EventKind.INTERRUPTION_WARNING
    if error == "SpotCapacityUnavailable":
        return EventKind.NO_CAPACITY
    if error == STANDBY_READY_ERROR:
        return EventKind.STANDBY_READY
    if error == STANDBY_FAILED_ERROR or (
        error in ("States.Timeout", "States.HeartbeatTimeout") and awaiting == Awaiting.READY
    ):
        return EventKind.STANDBY_FAILED
    return None


class Reason(StrEnum):
    """Why a segment ended or a run stopped: the first word of `Segment.end_reason`."""

    SPOT_INTERRUPTION = "spot-interruption"
    REBALANCE_RECOMMENDATION = "rebalance-recommendation"
    STALL = "stall"
    BOOT_TIMEOUT = "boot-timeout"
    HOST_FAILED = "host-failed"
    NO_CAPACITY = "no-capacity"
    BUDGET_EXHAUSTED = "budget-exhausted"
    CIRCUIT_BREAKER = "circuit-breaker"
    REPEATED_HOST_FAILURE = "repeated-host-failure"
    CAPACITY_WAIT_TOO_LONG = "capacity-wait-too-long"
    INSTANCE_GONE = "instance-gone"
    CHEAPER_POOL = "cheaper-pool"


_REASON_OF_EVENT = {
    EventKind.INTERRUPTION_WARNING: Reason.SPOT_INTERRUPTION,
    EventKind.REBALANCE_RECOMMENDATION: Reason.REBALANCE_RECOMMENDATION,
    EventKind.HEARTBEAT_TIMEOUT: Reason.STALL,
    EventKind.BOOT_TIMEOUT: Reason.BOOT_TIMEOUT,
    EventKind.HOST_FAILED: Reason.HOST_FAILED,
    EventKind.NO_CAPACITY: Reason.NO_CAPACITY,
    EventKind.INSTANCE_GONE: Reason.INSTANCE_GONE,
    EventKind.CHEAPER_POOL: Reason.CHEAPER_POOL,
    # a standby event ends the segment for the hand-over's own reason (`Segment.handover_reason`)
    EventKind.STANDBY_READY: Reason.REBALANCE_RECOMMENDATION,
    EventKind.STANDBY_FAILED: Reason.REBALANCE_RECOMMENDATION,
}

# Events that start a hand-over when `hands_over` allows one.
HANDOVER_EVENTS = frozenset({EventKind.REBALANCE_RECOMMENDATION, EventKind.CHEAPER_POOL})

# Events about a hand-over's replacement (`Run.standby`), not about the current instance.
STANDBY_EVENTS = frozenset({EventKind.STANDBY_READY, EventKind.STANDBY_FAILED})

# Segment ends that say "this pool's spot capacity was taken back": skip the pool for a while.
POOL_LOSS_REASONS = frozenset({Reason.SPOT_INTERRUPTION, Reason.REBALANCE_RECOMMENDATION})


def end_reason_text(reason: Reason, detail: str) -> str:
    """What `Segment.end_reason` holds: `<reason>: <detail>` (`reason_of` reads it back)."""
    return f"{reason.value}: {detail}" if detail else reason.value


def reason_of(end_reason: str | None) -> Reason | None:
    """The `Reason` a segment ended for, or None when it ended otherwise (completed, ...)."""
    if not end_reason:
        return None
    head = end_reason.split(":", 1)[0].strip()
    try:
        return Reason(head)
    except ValueError:
        return None


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RunEvent(_Model):
    """Something that happened to a run. Every kind but NO_CAPACITY is about one instance."""

    kind: EventKind
    at: float = Field(description="when it happened, epoch seconds (the event's own time)")
    instance_id: str | None = None
    detail: str = ""

    @model_validator(mode="after")
    def _instance_named(self) -> RunEvent:
        if self.kind != EventKind.NO_CAPACITY and not self.instance_id:
            raise ValueError(f"a {self.kind.value} event must name its instance_id")
        return self


class RecoveryPolicy(_Model):
    """The settings of the recovery rules (durations in seconds of the controller's clock)."""

    boot_seconds: float = Field(gt=0, description="launch -> training; the boot timeout")
    heartbeat_window_seconds: float = Field(gt=0)
    default_time_budget_seconds: float = Field(gt=0, description="for runs that name no time budget")
    pool_cooldown_seconds: float = Field(default=3600.0, ge=0)
    capacity_retry_seconds: float = Field(default=300.0, gt=0)
    max_capacity_wait_seconds: float = Field(default=2 * 3600.0, gt=0)
    max_relaunches_per_hour: int = Field(default=breaker.DEFAULT_MAX_RELAUNCHES, ge=0)
    # how often (and how long after it started) a training segment looks for a cheaper pool
    move_check_seconds: float = Field(default=900.0, gt=0)

    @property
    def breaker(self) -> breaker.BreakerSettings:
        return breaker.BreakerSettings(max_relaunches=self.max_relaunches_per_hour)

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: float) -> RecoveryPolicy:
        """The policy of the Lambdas: boot timeout, heartbeat window, default budget and the
        breaker's limit from the settings, the rest at their defaults unless overridden."""
        return cls.model_validate(
            {
                "boot_seconds": settings.boot_timeout_seconds,
                "heartbeat_window_seconds": settings.heartbeat_window_seconds,
                "default_time_budget_seconds": settings.default_time_budget_minutes * 60.0,
                "max_relaunches_per_hour": settings.max_relaunches_per_hour,
                "move_check_seconds": settings.move_check_minutes * 60.0,
                **overrides,
            }
        )


class _Decision(_Model):
    reason: Reason | None
    detail: str
    run_version: int = Field(description="the version of the run record the decision was made on")


class Replace(_Decision):
    """End the current segment and continue as a new one (`next_segment`) on a new instance."""

    action: Literal["replace"] = "replace"
    task_error: ClassVar[str] = "SegmentReplaced"  # how a waiting task token is failed
    reason: Reason
    segment_index: int
    instance_id: str
    save_first: bool = Field(description="ask the host to save its latest checkpoint before terminating")
    exclude_pools: list[str] = Field(description="pool labels to try only after all the others")
    segment_seconds: float = Field(description="what the budget leaves the next segment, boot included")
    drop_standby: bool = Field(default=False, description="the hand-over's replacement failed: launch anew")

    @property
    def end_reason(self) -> str:
        return end_reason_text(self.reason, self.detail)


class HandOver(_Decision):
    """A rebalance recommendation: launch the next segment's instance now as a standby, while
    this segment trains on (the overlap is paid: both instances count in the run's cost)."""

    action: Literal["handover"] = "handover"
    task_error: ClassVar[str] = "HandingOver"  # the work wait ends; the machine launches the standby
    reason: Reason
    segment_index: int
    instance_id: str
    exclude_pools: list[str]
    segment_seconds: float


class Retry(_Decision):
    """No pool could launch: wait `after_seconds` and provision again."""

    action: Literal["retry"] = "retry"
    reason: Reason
    after_seconds: float


class Stop(_Decision):
    """End the run. `finish`: the work so far is the result (budget spent): collect the outcome;
    otherwise the run fails with `detail` as its reason."""

    action: Literal["stop"] = "stop"
    task_error: ClassVar[str] = "RunStopped"
    reason: Reason
    finish: bool
    segment_index: int | None = None
    instance_id: str | None = None
    save_first: bool = False

    @property
    def end_reason(self) -> str:
        return end_reason_text(self.reason, self.detail)


class Ignore(_Decision):
    """Change nothing: the event is late, duplicated, or about an instance that is not the run's."""

    action: Literal["ignore"] = "ignore"
    reason: None = None


Decision = Annotated[Replace | HandOver | Retry | Stop | Ignore, Field(discriminator="action")]


class NextSegment(_Model):
    """What a new segment of a run is: its index, its new model prefix, where it continues from."""

    index: int
    model_prefix: str
    pretrained: PretrainedSource | None


# -- the one place for the next segment's settings and the run's spending ----------------------


def next_segment(run: Run) -> NextSegment:
    """The segment a run continues with.

    Training: a new, empty prefix (`layout.segment_model_prefix`), pretrained from the LATEST
    segment that has a checkpoint, checkpoint `last` (a segment interrupted while booting, or
    before its first checkpoint, has nothing to continue from); before any checkpoint, from the
    request's own source (an increment) or from scratch.
    Evaluation: the same model under test again, no pretrained source.
    """
    index = len(run.segments)
    if run.kind == RunKind.EVALUATE:
        current = run.current_segment
        if current is None:
            raise ValueError(f"run {run.run_id}: an evaluation's first segment comes from its source run")
        return NextSegment(index=index, model_prefix=current.model_prefix, pretrained=None)
    trained = [segment for segment in run.segments if segment.last_checkpoint]
    pretrained = (
        PretrainedSource(model_prefix=trained[-1].model_prefix, checkpoint="last")
        if trained
        else run.request.pretrained
    )
    return NextSegment(
        index=index,
        model_prefix=layout.segment_model_prefix(run.request.model_name, index),
        pretrained=pretrained,
    )


def run_budget(run: Run, policy: RecoveryPolicy) -> budget.Budget:
    minutes = run.request.time_budget_minutes
    seconds = minutes * 60.0 if minutes else policy.default_time_budget_seconds
    return budget.Budget(time_seconds=seconds, money_usd=run.request.money_budget_usd)


def spent(run: Run, now: float) -> budget.Spent:
    """What the budget counts as used: wall time since the run's first launch, and the money it
    spent or reserved for its running evaluations."""
    first_launch = min((s.launched_at for s in run.segments if s.launched_at is not None), default=None)
    elapsed = 0.0 if first_launch is None else max(0.0, now - first_launch)
    return budget.Spent(elapsed_seconds=elapsed, committed_usd=run.committed_usd(now))


def excluded_pools(run: Run, now: float, policy: RecoveryPolicy) -> list[str]:
    """Labels of the pools that took an instance of this run back within the cooldown."""
    labels: list[str] = []
    current = run.current_segment
    if current is not None and current.pool is not None and _handing_over(run, current):
        labels.append(current.pool.label)  # the hand-over's replacement boots elsewhere
    for segment in run.segments:
        if segment.pool is None or reason_of(segment.end_reason) not in POOL_LOSS_REASONS:
            continue
        ended = segment.ended_at if segment.ended_at is not None else now
        if now - ended <= policy.pool_cooldown_seconds and segment.pool.label not in labels:
            labels.append(segment.pool.label)
    return labels


class _HasPool(Protocol):  # pools.PricedPool, episode_cost.Candidate
    @property
    def pool(self) -> Pool: ...


def order_pools[Ranked: _HasPool](ranked: Sequence[Ranked], excluded: Collection[str]) -> list[Ranked]:
    """The ranked pools with the excluded ones moved to the end, in their ranked order: a pool
    that just took an instance back is tried only when no other pool can launch."""
    return [p for p in ranked if p.pool.label not in excluded] + [
        p for p in ranked if p.pool.label in excluded
    ]


# -- deciding -----------------------------------------------------------------------------------


def _stale(run: Run, event: RunEvent, policy: RecoveryPolicy) -> str | None:
    """Why `event` no longer concerns the run, or None when it does."""
    if run.is_terminal:
        return f"run {run.run_id} already ended ({run.state.value})"
    if event.kind == EventKind.NO_CAPACITY:
        if run.state != RunState.PROVISIONING:
            return f"run {run.run_id} is {run.state.value}, not provisioning"
        return None
    segment = run.current_segment
    if segment is None or segment.instance_id is None:
        return f"run {run.run_id} has no instance yet"
    if event.kind in STANDBY_EVENTS:  # about the standby, or its launch (no standby: the current)
        standby = run.standby
        about = standby.instance_id if standby is not None else segment.instance_id
        if event.instance_id != about or (standby is not None and standby.end_reason is not None):
            return f"{event.kind.value} about instance {event.instance_id}: not run {run.run_id}'s standby"
        if segment.end_reason is not None or run.state != RunState.RUNNING:
            return f"run {run.run_id} is {run.state.value}; segment {segment.index}: {segment.end_reason}"
        if segment.handover_requested_at is None:
            return f"segment {segment.index} of run {run.run_id} is not handing over"
        return None
    if event.instance_id != segment.instance_id:
        return (
            f"{event.kind.value} about instance {event.instance_id}; run {run.run_id} now runs on "
            f"{segment.instance_id} (segment {segment.index})"
        )
    if segment.end_reason is not None:
        return f"segment {segment.index} of run {run.run_id} is already ending: {segment.end_reason}"
    if run.state not in (RunState.BOOTING, RunState.RUNNING):
        return f"run {run.run_id} is {run.state.value}"
    if event.kind in HANDOVER_EVENTS and segment.handover_requested_at is not None:
        return f"segment {segment.index} of run {run.run_id} is already handing over"
    if event.kind == EventKind.BOOT_TIMEOUT and (run.state != RunState.BOOTING or segment.started_at):
        return f"instance {segment.instance_id} already started"
    if event.kind == EventKind.HEARTBEAT_TIMEOUT and segment.last_heartbeat_at is not None:
        # the record's heartbeat time comes a moment after the keep-alive that restarted the
        # timer: only a heartbeat clearly inside the window means the timeout was a mistake
        quiet = event.at - segment.last_heartbeat_at
        if quiet < policy.heartbeat_window_seconds * HEARTBEAT_TOLERANCE:
            return f"a heartbeat of instance {segment.instance_id} came {quiet:.0f} s before the timeout"
    return None


def _failed_twice_without_progress(run: Run) -> bool:
    """The current segment failed and so did the one before, with no checkpoint from either."""
    if len(run.segments) < 2:
        return False
    previous, current = run.segments[-2], run.segments[-1]
    return reason_of(previous.end_reason) == Reason.HOST_FAILED and not (
        previous.last_checkpoint or current.last_checkpoint
    )


def _has_checkpoint(run: Run) -> bool:
    """A training run that can finish with what it has; an evaluation never finishes half done."""
    return run.kind == RunKind.TRAIN and any(segment.last_checkpoint for segment in run.segments)


def decide(run: Run, event: RunEvent, now: float, policy: RecoveryPolicy) -> Decision:
    """What the run does about `event`, decided on the record as read (`run.version`)."""
    stale = _stale(run, event, policy)
    if stale is not None:
        return Ignore(detail=stale, run_version=run.version)
    if event.kind == EventKind.NO_CAPACITY:
        return _after_no_capacity(run, event, now, policy)
    segment = run.current_segment
    assert segment is not None and segment.instance_id is not None  # _stale checked
    reason = _REASON_OF_EVENT[event.kind]
    if event.kind in STANDBY_EVENTS and segment.handover_reason:
        reason = Reason(segment.handover_reason)
    if event.kind == EventKind.CHEAPER_POOL and not hands_over(run, event):
        # a move is worth it only as a hand-over: never stop the training for it
        return Ignore(
            detail=f"no hand-over to a cheaper pool now: {_describe(event, segment)}", run_version=run.version
        )
    # an evaluation has nothing to save: its replacement evaluates the same checkpoint again
    spot = event.kind in SPOT_EVENTS | STANDBY_EVENTS
    save_first = spot and run.state == RunState.RUNNING and run.kind == RunKind.TRAIN
    detail = _describe(event, segment, run.standby)
    about = {"segment_index": segment.index, "instance_id": segment.instance_id, "save_first": save_first}

    if event.kind == EventKind.HOST_FAILED and _failed_twice_without_progress(run):
        return Stop(
            reason=Reason.REPEATED_HOST_FAILURE,
            detail=(
                f"the host failed on two instances in a row without a new checkpoint ({detail}); "
                "the cause is not the instance: check the custom files and the DRFC image"
            ),
            run_version=run.version,
            finish=False,
            **about,
        )
    tripped = breaker.check(run, now, policy.breaker)
    optional = event.kind == EventKind.CHEAPER_POOL  # never stops a run: it just does not move
    if tripped is not None and optional:
        return Ignore(detail=f"not moving: {tripped}", run_version=run.version)
    if tripped is not None:
        return Stop(
            reason=Reason.CIRCUIT_BREAKER,
            detail=f"{tripped} (last: {detail})",
            run_version=run.version,
            finish=False,
            **about,
        )
    # The next segment starts after this one's save and a new boot; price it like this one.
    try:
        seconds = budget.segment_seconds(
            run_budget(run, policy),
            spent(run, now),
            price_per_hour=segment.price_per_hour,
            boot_seconds=policy.boot_seconds,
        )
    except BudgetExhausted as exc:
        if optional:
            return Ignore(detail=f"not moving: {exc}", run_version=run.version)
        return Stop(
            reason=Reason.BUDGET_EXHAUSTED,
            detail=f"{detail}; not replaced: {exc}",
            run_version=run.version,
            finish=_has_checkpoint(run),
            **about,
        )
    exclude = excluded_pools(run, now, policy)
    pool_lost = event.kind in SPOT_EVENTS or (event.kind in STANDBY_EVENTS and reason in POOL_LOSS_REASONS)
    if pool_lost and segment.pool is not None and segment.pool.label not in exclude:
        exclude.append(segment.pool.label)
    if hands_over(run, event):
        return HandOver(
            reason=reason,
            detail=detail,
            run_version=run.version,
            exclude_pools=exclude,
            segment_seconds=seconds,
            segment_index=segment.index,
            instance_id=segment.instance_id,
        )
    return Replace(
        reason=reason,
        detail=detail,
        run_version=run.version,
        exclude_pools=exclude,
        segment_seconds=seconds,
        drop_standby=event.kind == EventKind.STANDBY_FAILED,
        **about,
    )


def hands_over(run: Run, event: RunEvent) -> bool:
    """A rebalance recommendation for a training segment that has a checkpoint to continue from,
    with no hand-over under way: boot the replacement first. Before a first checkpoint, while
    booting, or for an evaluation, the segment is replaced as for a warning (nothing to lose)."""
    segment = run.current_segment
    return (
        event.kind in HANDOVER_EVENTS
        and run.kind == RunKind.TRAIN
        and run.state == RunState.RUNNING
        and run.standby is None
        and segment is not None
        and segment.last_checkpoint is not None
        and segment.handover_requested_at is None
    )


def _describe(event: RunEvent, segment: Segment, standby: Segment | None = None) -> str:
    where = f"instance {segment.instance_id}" + (f" in {segment.pool.label}" if segment.pool else "")
    if event.kind in STANDBY_EVENTS and standby is not None:
        what = "handed over to" if event.kind == EventKind.STANDBY_READY else "its replacement failed:"
        why = (
            "a cheaper pool"
            if segment.handover_reason == Reason.CHEAPER_POOL
            else "spot rebalance recommendation"
        )
        text = f"{why} for {where} (segment {segment.index}); {what} {standby.instance_id}"
        return f"{text}: {event.detail}" if event.detail else text
    what = {
        EventKind.INTERRUPTION_WARNING: "spot interruption warning",
        EventKind.REBALANCE_RECOMMENDATION: "spot rebalance recommendation",
        EventKind.HEARTBEAT_TIMEOUT: "no heartbeat within the window (stalled)",
        EventKind.BOOT_TIMEOUT: "never reported started within the boot timeout",
        EventKind.HOST_FAILED: "host reported a failure",
        EventKind.NO_CAPACITY: "no pool could launch",
        EventKind.INSTANCE_GONE: "the instance ended without a warning",
        EventKind.CHEAPER_POOL: "a pool costs clearly less per useful episode",
        EventKind.STANDBY_READY: "its replacement is ready",
        EventKind.STANDBY_FAILED: "its replacement failed",
    }[event.kind]
    text = f"{what} for {where} (segment {segment.index})"
    return f"{text}: {event.detail}" if event.detail else text


def _after_no_capacity(run: Run, event: RunEvent, now: float, policy: RecoveryPolicy) -> Decision:
    last = run.current_segment
    waiting_since = (last.ended_at if last and last.ended_at is not None else None) or run.created_at
    waited = max(0.0, now - waiting_since)
    detail = f"no pool could launch{': ' + event.detail if event.detail else ''}"
    # never wait for capacity longer than the run's whole time budget
    limit = min(policy.max_capacity_wait_seconds, run_budget(run, policy).time_seconds)
    if waited + policy.capacity_retry_seconds > limit:
        return Stop(
            reason=Reason.CAPACITY_WAIT_TOO_LONG,
            detail=f"{detail}; waited {waited / 60:.0f} min for capacity (limit {limit / 60:.0f} min)",
            run_version=run.version,
            finish=_has_checkpoint(run),
        )
    try:
        budget.segment_seconds(
            run_budget(run, policy),
            spent(run, now + policy.capacity_retry_seconds),
            price_per_hour=last.price_per_hour if last else None,
            boot_seconds=policy.boot_seconds,
        )
    except BudgetExhausted as exc:
        return Stop(
            reason=Reason.BUDGET_EXHAUSTED,
            detail=f"{detail}; not waiting for capacity: {exc}",
            run_version=run.version,
            finish=_has_checkpoint(run),
        )
    return Retry(
        reason=Reason.NO_CAPACITY,
        detail=f"{detail}; trying again in {policy.capacity_retry_seconds:.0f} s",
        run_version=run.version,
        after_seconds=policy.capacity_retry_seconds,
    )


# -- applying and writing -------------------------------------------------------------------------


# A Stop that finishes: from training, and from a replacement still launching or booting.
_FINISHABLE = frozenset({RunState.PROVISIONING, RunState.BOOTING, RunState.RUNNING})


def apply(run: Run, decision: Decision, now: float) -> str | None:
    """Write `decision` into the run record (in memory). Returns the task token the state machine
    waits on, which the caller must answer (Replace, Stop), after the record is saved.

    Replace: the current segment is marked as ending (its instance stays until it saved and is
    terminated, which records `ended_at`), the run goes back to PROVISIONING.
    Stop: finish -> FINISHING (collect the outcome, from any live state: the budget may end
    while a replacement boots); otherwise FAILED with the detail.
    Retry and Ignore change nothing.
    """
    if decision.run_version != run.version:
        raise RunRecordConflict(
            f"run {run.run_id}: decision made on version {decision.run_version}, record is {run.version}"
        )
    if isinstance(decision, Retry | Ignore):
        return None
    token = run.task_token
    segment = run.current_segment
    if isinstance(decision, HandOver):
        assert segment is not None and segment.index == decision.segment_index
        segment.handover_requested_at = now
        segment.handover_reason = decision.reason.value
        run.updated_at = now
        run.awaiting, run.task_token = None, None
        return token
    if isinstance(decision, Replace):
        assert segment is not None and segment.index == decision.segment_index
        if decision.drop_standby and run.standby is not None:
            run.standby.end_reason = run.standby.end_reason or f"replacement failed: {decision.detail}"
        segment.end_reason = decision.end_reason
        if decision.save_first:
            segment.save_requested_at = now
        run.move_to(RunState.PROVISIONING, now)
        run.awaiting, run.task_token = None, None
        return token
    if segment is not None and decision.segment_index == segment.index:
        segment.end_reason = segment.end_reason or decision.end_reason
        if decision.save_first and decision.finish:
            segment.save_requested_at = now  # the run finishes with what the host saves now
    if decision.finish and run.state in _FINISHABLE:
        run.move_to(RunState.FINISHING, now)
        run.awaiting, run.task_token = None, None
    else:
        run.fail(decision.end_reason, now)
    return token


class Step(_Model):
    """Where the state machine goes next, read from the record (not from the event that woke it):
    after a lost race the loser's decision is Ignore, but the record says what the winner decided.

    wait: keep waiting for the current instance; handover: launch the standby (or keep waiting
    for the one launched) while the current instance trains; replace: (save,) terminate,
    provision the next segment (the standby, when one is ready to take over); retry: provision
    again (after a wait); finish: collect the outcome; fail: record it.

    launch_first (replace): launch the next segment's instance as a standby before waiting for
    the save, so that it boots while the old host saves and takes over once it is set up.
    """

    action: Literal["wait", "handover", "replace", "retry", "finish", "fail"]
    save_first: bool = False
    launch_first: bool = False
    reason: str | None = None


_TRAINING_HOST_STATES = frozenset({HostState.STARTED.value, HostState.SAVING.value})  # work to save


def next_step(run: Run) -> Step:
    segment = run.current_segment
    if run.state == RunState.FAILED:
        return Step(action="fail", reason=run.failure)
    if run.state in (RunState.FINISHING, RunState.SUCCEEDED):
        saving = run.state == RunState.FINISHING and segment is not None and _saving(run, segment)
        return Step(action="finish", save_first=saving, reason=segment.end_reason if segment else None)
    if run.state == RunState.PROVISIONING:
        if segment is None or segment.end_reason is None:
            return Step(action="retry")
        saving = _saving(run, segment)
        return Step(
            action="replace",
            save_first=saving,
            launch_first=saving and _boots_during_save(run, segment),
            reason=segment.end_reason,
        )
    if run.state == RunState.RUNNING and segment is not None and _handing_over(run, segment):
        return Step(action="handover", reason=segment.end_reason)
    return Step(action="wait")


def move_check_due(run: Run, now: float, policy: RecoveryPolicy) -> bool:
    """At a new checkpoint of a training segment: look for a cheaper pool at most every
    `move_check_seconds`, and not before the segment has trained that long (a segment that just
    moved never moves again at once; with `episode_cost.worth_moving`'s margins: no flapping)."""
    segment = run.current_segment
    if run.kind != RunKind.TRAIN or run.state != RunState.RUNNING or run.standby is not None:
        return False
    if segment is None or segment.started_at is None or segment.end_reason or segment.ended_at is not None:
        return False
    if segment.handover_requested_at is not None:
        return False
    last = segment.move_checked_at if segment.move_checked_at is not None else segment.started_at
    return now - last >= policy.move_check_seconds


def _handing_over(run: Run, segment: Segment) -> bool:
    """A hand-over was asked for and neither it nor the segment has ended."""
    if segment.handover_requested_at is None or segment.end_reason or segment.ended_at is not None:
        return False
    return run.standby is None or run.standby.end_reason is None


def _saving(run: Run, segment: Segment) -> bool:
    """The host was asked to save (or lost its spot pool) and may still be uploading: wait for it.
    An evaluation host never saves anything."""
    if run.kind != RunKind.TRAIN:
        return False
    training = segment.ended_at is None and segment.host_state in _TRAINING_HOST_STATES
    return training and (
        segment.save_requested_at is not None or reason_of(segment.end_reason) in POOL_LOSS_REASONS
    )


def _boots_during_save(run: Run, segment: Segment) -> bool:
    """A training segment that lost its spot pool and has a checkpoint to continue from, with no
    hand-over's replacement yet: its replacement can boot while it saves (nothing it needs comes
    before the go, and the go comes after the save)."""
    return (
        run.standby is None
        and segment.last_checkpoint is not None
        and reason_of(segment.end_reason) in POOL_LOSS_REASONS
    )


@dataclass(frozen=True)
class Resolved:
    decision: Decision
    run: Run  # the record as saved (or as read, when nothing changed)
    task_token: str | None  # the wait to answer, when the decision ended one


def resolve(
    event: RunEvent,
    *,
    load: Callable[[], Run],
    save: Callable[[Run], Run],
    now: float,
    policy: RecoveryPolicy,
    attempts: int = 3,
) -> Resolved:
    """Read the record, decide, apply, and write it conditionally on the version read; when
    another writer came first (RunRecordConflict), read again and decide again. The event that
    loses a race about the same instance finds the segment ending and is ignored."""
    for _ in range(attempts):
        run = load()
        decision = decide(run, event, now, policy)
        if isinstance(decision, Retry | Ignore):
            return Resolved(decision, run, None)
        token = apply(run, decision, now)
        try:
            saved = save(run)
        except RunRecordConflict:
            continue
        return Resolved(decision, saved, token)
    raise RunRecordConflict(f"{event.kind.value}: the run record kept changing over {attempts} attempts")
