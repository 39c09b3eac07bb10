"""The recovery rules: what a run does on each event, and exactly one replacement per instance."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pitwall import budget, layout, recovery
from pitwall.errors import RunRecordConflict
from pitwall.pools import PricedPool
from pitwall.recovery import EventKind, Ignore, Reason, Replace, Retry, RunEvent, Stop
from pitwall.runs import Awaiting, Pool, PretrainedSource, Run, RunKind, RunRequest, RunState, Segment
from pitwall.settings import Settings

T0 = 1_790_000_000.0
HOUR = 3600.0
MODEL = "fast-car"
POLICY = recovery.RecoveryPolicy(
    boot_seconds=480, heartbeat_window_seconds=600, default_time_budget_seconds=24 * HOUR
)


def pool(type_: str = "g4dn.2xlarge", zone: str = "us-east-1a") -> Pool:
    return Pool(instance_type=type_, availability_zone=zone, subnet_id=f"subnet-{zone}")


def segment(index: int, *, launched_at: float, checkpoint: str | None = None, **fields: object) -> Segment:
    values: dict[str, object] = {
        "index": index,
        "model_prefix": layout.segment_model_prefix(MODEL, index),
        "deadline_epoch": T0 + 24 * HOUR,
        "instance_id": f"i-{index:04d}",
        "pool": pool(),
        "price_per_hour": 0.26,
        "launched_at": launched_at,
        "started_at": launched_at + 480,
        "host_state": "started",
        "last_heartbeat_at": launched_at + 600,
        "last_checkpoint": checkpoint,
    }
    values.update(fields)
    return Segment.model_validate(values)


def training_run(*segments: Segment, state: RunState = RunState.RUNNING, **request: object) -> Run:
    return Run(
        run_id="run-1",
        kind=RunKind.TRAIN,
        request=RunRequest(model_name=MODEL, track="reInvent2019_track", **request),  # type: ignore[arg-type]
        state=state,
        version=7,
        created_at=T0 - 60,
        updated_at=T0,
        custom_files_prefix=layout.RunKeys("run-1").custom_files_prefix,
        segments=list(segments) or [segment(0, launched_at=T0, checkpoint="3_Step-900.ckpt")],
        task_token="token-of-the-work-wait",
    )


def event(kind: EventKind, at: float, instance_id: str | None = "i-0000", detail: str = "") -> RunEvent:
    return RunEvent(kind=kind, at=at, instance_id=instance_id, detail=detail)


# -- spot interruptions ---------------------------------------------------------------------------


def test_an_interruption_warning_saves_first_and_replaces_away_from_the_pool():
    run = training_run()
    now = T0 + 2 * HOUR

    decision = recovery.decide(run, event(EventKind.INTERRUPTION_WARNING, now), now, POLICY)

    assert isinstance(decision, Replace)
    assert decision.reason == Reason.SPOT_INTERRUPTION
    assert decision.save_first
    assert decision.exclude_pools == [pool().label]
    assert (decision.segment_index, decision.instance_id, decision.run_version) == (0, "i-0000", 7)
    expected = budget.segment_seconds(
        budget.Budget(24 * HOUR), budget.Spent(2 * HOUR, 2 * 0.26), price_per_hour=0.26, boot_seconds=480
    )
    assert decision.segment_seconds == pytest.approx(expected)


def test_a_rebalance_recommendation_before_a_first_checkpoint_is_handled_like_a_warning():
    run = training_run(segment(0, launched_at=T0))
    decision = recovery.decide(run, event(EventKind.REBALANCE_RECOMMENDATION, T0 + HOUR), T0 + HOUR, POLICY)
    assert isinstance(decision, Replace)
    assert decision.reason == Reason.REBALANCE_RECOMMENDATION
    assert decision.save_first and decision.exclude_pools == [pool().label]


def test_an_instance_interrupted_while_booting_has_nothing_to_save():
    booting = segment(1, launched_at=T0 + HOUR, started_at=None, host_state="booting", last_heartbeat_at=None)
    run = training_run(segment(0, launched_at=T0, checkpoint="3_Step-900.ckpt"), booting)
    run.state = RunState.BOOTING
    now = T0 + HOUR + 120

    decision = recovery.decide(run, event(EventKind.INTERRUPTION_WARNING, now, "i-0001"), now, POLICY)

    assert isinstance(decision, Replace) and not decision.save_first


def test_pools_that_took_an_instance_back_are_tried_last_until_the_cooldown_ends():
    lost_a = segment(
        0, launched_at=T0, checkpoint="3_Step-900.ckpt", ended_at=T0 + HOUR, end_reason="spot-interruption: x"
    )
    stalled_b = segment(
        1, launched_at=T0 + HOUR, pool=pool(zone="us-east-1b"), ended_at=T0 + 2 * HOUR, end_reason="stall: y"
    )
    current = segment(2, launched_at=T0 + 2 * HOUR, pool=pool("g5.2xlarge"))
    run = training_run(lost_a, stalled_b, current)

    soon = T0 + 1.5 * HOUR
    assert recovery.excluded_pools(run, soon, POLICY) == [pool().label]
    later = T0 + HOUR + POLICY.pool_cooldown_seconds + 1
    assert recovery.excluded_pools(run, later, POLICY) == []

    ranked = [
        PricedPool(pool(), 0.25),
        PricedPool(pool(zone="us-east-1b"), 0.25),
        PricedPool(pool("g5.2xlarge"), 0.4),
    ]
    ordered = recovery.order_pools(ranked, [pool().label])
    assert [p.pool.label for p in ordered] == [
        pool(zone="us-east-1b").label,
        pool("g5.2xlarge").label,
        pool().label,
    ]


# -- stalls, boots, host failures -----------------------------------------------------------------


def test_a_heartbeat_timeout_replaces_a_stalled_instance_without_a_save():
    run = training_run()
    last_beat = run.segments[0].last_heartbeat_at
    assert last_beat is not None
    now = last_beat + 600

    decision = recovery.decide(run, event(EventKind.HEARTBEAT_TIMEOUT, now), now, POLICY)

    assert isinstance(decision, Replace)
    assert decision.reason == Reason.STALL and not decision.save_first
    assert decision.exclude_pools == []  # a stall says nothing about the pool's capacity


def test_a_heartbeat_timeout_is_ignored_when_a_heartbeat_was_recorded_within_the_window():
    run = training_run()
    run.segments[0].last_heartbeat_at = T0 + HOUR
    now = T0 + HOUR + 300

    decision = recovery.decide(run, event(EventKind.HEARTBEAT_TIMEOUT, now), now, POLICY)

    assert isinstance(decision, Ignore)
    assert "300 s before the timeout" in decision.detail


def test_a_boot_timeout_replaces_an_instance_that_never_started_and_ignores_one_that_did():
    never = segment(0, launched_at=T0, started_at=None, host_state="booting", last_heartbeat_at=None)
    booting = training_run(never, state=RunState.BOOTING)
    decision = recovery.decide(booting, event(EventKind.BOOT_TIMEOUT, T0 + 900), T0 + 900, POLICY)
    assert isinstance(decision, Replace) and decision.reason == Reason.BOOT_TIMEOUT

    started = training_run()
    late = recovery.decide(started, event(EventKind.BOOT_TIMEOUT, T0 + 900), T0 + 900, POLICY)
    assert isinstance(late, Ignore)


def test_a_failed_host_is_replaced_once_but_a_second_failure_without_progress_stops_the_run():
    first = training_run(segment(0, launched_at=T0, checkpoint=None))
    decision = recovery.decide(
        first, event(EventKind.HOST_FAILED, T0 + 900, detail="container exited"), T0 + 900, POLICY
    )
    assert isinstance(decision, Replace) and decision.reason == Reason.HOST_FAILED
    assert "container exited" in decision.detail

    failed = segment(0, launched_at=T0, ended_at=T0 + 900, end_reason="host-failed: container exited")
    again = segment(1, launched_at=T0 + 1000)
    second = training_run(failed, again)
    now = T0 + 2000
    stop = recovery.decide(
        second, event(EventKind.HOST_FAILED, now, "i-0001", "container exited"), now, POLICY
    )
    assert isinstance(stop, Stop)
    assert stop.reason == Reason.REPEATED_HOST_FAILURE and not stop.finish
    assert "custom files" in stop.detail


# -- events that change nothing -------------------------------------------------------------------


def test_an_event_about_an_instance_that_is_no_longer_the_runs_is_ignored():
    old = segment(0, launched_at=T0, checkpoint="3_Step-900.ckpt", ended_at=T0 + HOUR, end_reason="stall: x")
    run = training_run(old, segment(1, launched_at=T0 + HOUR))
    now = T0 + 2 * HOUR

    decision = recovery.decide(run, event(EventKind.INTERRUPTION_WARNING, now, "i-0000"), now, POLICY)

    assert isinstance(decision, Ignore)
    assert "i-0000" in decision.detail and "i-0001" in decision.detail


def test_events_for_an_ended_run_or_an_ending_segment_are_ignored():
    ended = training_run(state=RunState.SUCCEEDED)
    assert isinstance(recovery.decide(ended, event(EventKind.HOST_FAILED, T0), T0, POLICY), Ignore)

    ending = training_run(segment(0, launched_at=T0, end_reason="spot-interruption: x"))
    ending.state = RunState.PROVISIONING
    for kind in (EventKind.HEARTBEAT_TIMEOUT, EventKind.INTERRUPTION_WARNING, EventKind.HOST_FAILED):
        decision = recovery.decide(ending, event(kind, T0 + 2 * HOUR), T0 + 2 * HOUR, POLICY)
        assert isinstance(decision, Ignore), kind
        assert "already ending" in decision.detail


def test_an_instance_event_must_name_its_instance():
    with pytest.raises(ValidationError, match="instance_id"):
        RunEvent(kind=EventKind.HEARTBEAT_TIMEOUT, at=T0)
    assert RunEvent(kind=EventKind.NO_CAPACITY, at=T0).instance_id is None


# -- budget and circuit breaker -------------------------------------------------------------------


def test_no_replacement_when_the_budget_cannot_pay_a_boot_and_a_minimum_segment():
    run = training_run(time_budget_minutes=120)
    now = T0 + 120 * 60 - 10 * 60  # 10 min left: under an 8 min boot + 5 min of training

    decision = recovery.decide(run, event(EventKind.INTERRUPTION_WARNING, now), now, POLICY)

    assert isinstance(decision, Stop)
    assert decision.reason == Reason.BUDGET_EXHAUSTED
    assert decision.finish  # the run has a checkpoint: its work so far is the result
    assert decision.save_first  # and the latest checkpoint is saved before the end


def test_the_money_budget_counts_as_much_as_the_time_budget():
    run = training_run(money_budget_usd=0.55)  # at 0.26 $/h: 2 h 7 min of it
    now = T0 + 2 * HOUR

    decision = recovery.decide(run, event(EventKind.HEARTBEAT_TIMEOUT, now), now, POLICY)

    assert isinstance(decision, Stop) and decision.reason == Reason.BUDGET_EXHAUSTED
    assert "$0.03" in decision.detail


def test_the_breaker_stops_a_run_that_relaunches_more_than_four_times_an_hour():
    segments = [
        segment(0, launched_at=T0, checkpoint="1_Step-100.ckpt", end_reason="stall: x", ended_at=T0 + 900)
    ]
    segments += [
        segment(i, launched_at=T0 + i * 600, end_reason="boot-timeout: x", ended_at=T0 + i * 600 + 500)
        for i in range(1, 5)
    ]
    segments.append(segment(5, launched_at=T0 + 5 * 600, started_at=None, host_state="booting"))
    run = training_run(*segments, state=RunState.BOOTING)
    now = T0 + 5 * 600 + 900

    decision = recovery.decide(run, event(EventKind.BOOT_TIMEOUT, now, "i-0005"), now, POLICY)

    assert isinstance(decision, Stop)
    assert decision.reason == Reason.CIRCUIT_BREAKER and not decision.finish
    assert "limit 4" in decision.detail and "boot timeout" in decision.detail


def test_no_capacity_waits_and_retries_while_the_budget_allows():
    run = training_run(
        segment(0, launched_at=T0, checkpoint="3_Step-900.ckpt", ended_at=T0 + HOUR, end_reason="stall: x")
    )
    run.state = RunState.PROVISIONING
    now = T0 + HOUR + 60

    decision = recovery.decide(run, event(EventKind.NO_CAPACITY, now, None), now, POLICY)

    assert isinstance(decision, Retry)
    assert decision.after_seconds == POLICY.capacity_retry_seconds


def test_no_capacity_stops_when_waiting_would_leave_too_little_budget_or_lasts_too_long():
    short = training_run(time_budget_minutes=60)
    short.segments[0].ended_at = T0 + 40 * 60
    short.state = RunState.PROVISIONING
    now = T0 + 45 * 60
    decision = recovery.decide(short, event(EventKind.NO_CAPACITY, now, None), now, POLICY)
    assert isinstance(decision, Stop) and decision.reason == Reason.BUDGET_EXHAUSTED and decision.finish

    never_launched = training_run()
    never_launched.segments = []
    never_launched.state = RunState.PROVISIONING
    late = never_launched.created_at + POLICY.max_capacity_wait_seconds
    decision = recovery.decide(never_launched, event(EventKind.NO_CAPACITY, late, None), late, POLICY)
    assert isinstance(decision, Stop) and decision.reason == Reason.CAPACITY_WAIT_TOO_LONG
    assert not decision.finish  # nothing trained: the run failed


# -- the next segment -----------------------------------------------------------------------------


def test_the_next_segment_continues_from_the_latest_segment_with_a_checkpoint():
    trained = segment(0, launched_at=T0, checkpoint="9_Step-2700.ckpt", end_reason="spot-interruption: x")
    lost_while_booting = segment(1, launched_at=T0 + HOUR, checkpoint=None, end_reason="spot-interruption: y")
    run = training_run(trained, lost_while_booting)

    nxt = recovery.next_segment(run)

    assert nxt.index == 2
    assert nxt.model_prefix == layout.segment_model_prefix(MODEL, 2)
    assert nxt.pretrained == PretrainedSource(
        model_prefix=layout.segment_model_prefix(MODEL, 0), checkpoint="last"
    )


def test_the_first_segments_continue_from_the_requests_source_until_they_have_a_checkpoint():
    source = PretrainedSource(model_prefix="models/older/seg-004", checkpoint="best")
    run = training_run(segment(0, launched_at=T0, checkpoint=None), pretrained=source)
    assert recovery.next_segment(run).pretrained == source
    run.segments = []
    assert recovery.next_segment(run).index == 0 and recovery.next_segment(run).pretrained == source


def test_an_evaluation_runs_the_same_model_again():
    run = training_run(segment(0, launched_at=T0, model_prefix="models/fast-car/seg-003"))
    run.kind = RunKind.EVALUATE
    nxt = recovery.next_segment(run)
    assert nxt.model_prefix == "models/fast-car/seg-003" and nxt.pretrained is None


def evaluation_run() -> Run:
    run = training_run(segment(0, launched_at=T0, model_prefix="models/fast-car/seg-003"))
    run.kind = RunKind.EVALUATE
    return run


def test_an_evaluation_on_a_lost_spot_instance_is_replaced_without_a_save():
    run = evaluation_run()
    now = T0 + 600

    decision = recovery.decide(run, event(EventKind.INTERRUPTION_WARNING, now), now, POLICY)
    assert isinstance(decision, Replace) and not decision.save_first
    assert decision.exclude_pools == [pool().label]  # the pool that took it back goes last
    recovery.apply(run, decision, now)

    assert run.segments[0].save_requested_at is None
    assert recovery.next_step(run) == recovery.Step(
        action="replace", save_first=False, reason=run.segments[0].end_reason
    )
    nxt = recovery.next_segment(run)
    assert (nxt.index, nxt.model_prefix, nxt.pretrained) == (1, "models/fast-car/seg-003", None)


@pytest.mark.parametrize("kind", [EventKind.HOST_FAILED, EventKind.HEARTBEAT_TIMEOUT])
def test_a_crashed_or_frozen_evaluation_host_is_replaced(kind: EventKind):
    run = evaluation_run()
    now = T0 + 2 * HOUR

    decision = recovery.decide(run, event(kind, now), now, POLICY)

    assert isinstance(decision, Replace) and not decision.save_first
    assert decision.reason == {EventKind.HOST_FAILED: Reason.HOST_FAILED}.get(kind, Reason.STALL)


def test_an_evaluation_host_that_fails_twice_stops_the_evaluation():
    run = evaluation_run()
    run.segments[0].end_reason = "host-failed: the simulator died"
    run.segments[0].ended_at = T0 + 300
    run.segments.append(segment(1, launched_at=T0 + 400, model_prefix="models/fast-car/seg-003"))
    now = T0 + 1200

    decision = recovery.decide(run, event(EventKind.HOST_FAILED, now, "i-0001"), now, POLICY)

    assert isinstance(decision, Stop) and decision.reason == Reason.REPEATED_HOST_FAILURE
    assert not decision.finish


# -- applying a decision --------------------------------------------------------------------------


def test_applying_a_replacement_ends_the_segment_and_provisions_again():
    run = training_run()
    now = T0 + HOUR
    decision = recovery.decide(run, event(EventKind.INTERRUPTION_WARNING, now), now, POLICY)

    token = recovery.apply(run, decision, now)

    assert token == "token-of-the-work-wait"
    assert run.state == RunState.PROVISIONING and run.task_token is None
    assert recovery.reason_of(run.segments[0].end_reason) == Reason.SPOT_INTERRUPTION
    assert run.segments[0].ended_at is None  # the instance still runs: it saves, then is terminated
    assert recovery.next_step(run) == recovery.Step(
        action="replace", save_first=True, launch_first=True, reason=run.segments[0].end_reason
    )


@pytest.mark.parametrize(
    ("kind", "checkpoint", "standby", "launch_first"),
    [
        (EventKind.INTERRUPTION_WARNING, "3_Step-900.ckpt", False, True),  # boots during the save
        (EventKind.REBALANCE_RECOMMENDATION, None, False, False),  # no checkpoint to continue from
        (EventKind.INTERRUPTION_WARNING, None, False, False),  # nothing to continue from yet
        (EventKind.INTERRUPTION_WARNING, "3_Step-900.ckpt", True, False),  # the standby takes over
        (EventKind.HOST_FAILED, "3_Step-900.ckpt", False, False),  # no save: launched after the end
    ],
)
def test_a_replacement_boots_during_the_save_only_when_the_pool_is_lost_and_there_is_a_checkpoint(
    kind: EventKind, checkpoint: str | None, standby: bool, launch_first: bool
):
    # Given a training segment (with or without a checkpoint, a hand-over's replacement)
    run = training_run(segment(0, launched_at=T0, checkpoint=checkpoint))
    if standby:
        run.standby = segment(1, launched_at=T0 + HOUR, started_at=None, host_state="ready")
    now = T0 + HOUR
    # When the event replaces it
    decision = recovery.decide(run, event(kind, now), now, POLICY)
    assert isinstance(decision, Replace)
    recovery.apply(run, decision, now)
    # Then the next segment's instance launches before the save only for a lost pool with a
    # checkpoint to continue from and no replacement yet
    step = recovery.next_step(run)
    assert (step.action, step.launch_first) == ("replace", launch_first)


def test_applying_a_stop_finishes_a_run_with_a_checkpoint_and_fails_one_without():
    run = training_run(time_budget_minutes=60)
    now = T0 + 55 * 60
    stop = recovery.decide(run, event(EventKind.HEARTBEAT_TIMEOUT, now), now, POLICY)
    assert isinstance(stop, Stop) and stop.finish
    recovery.apply(run, stop, now)
    assert run.state == RunState.FINISHING and recovery.next_step(run).action == "finish"

    broken = training_run(
        segment(0, launched_at=T0, end_reason="host-failed: exit 1", ended_at=T0 + 600),
        segment(1, launched_at=T0 + 700),
    )
    fail = recovery.decide(broken, event(EventKind.HOST_FAILED, T0 + 900, "i-0001"), T0 + 900, POLICY)
    recovery.apply(broken, fail, T0 + 900)
    assert broken.state == RunState.FAILED
    assert broken.failure is not None and broken.failure.startswith("repeated-host-failure: ")
    assert recovery.next_step(broken).action == "fail"


def test_a_decision_made_on_another_version_is_refused():
    run = training_run()
    decision = recovery.decide(run, event(EventKind.INTERRUPTION_WARNING, T0 + HOUR), T0 + HOUR, POLICY)
    run.version += 1
    with pytest.raises(RunRecordConflict, match="version 7"):
        recovery.apply(run, decision, T0 + HOUR)


# -- exactly one replacement ----------------------------------------------------------------------


class VersionedRecord:
    """The runs table's contract (adapters.runs_table.RunsTable): `save` writes only when the
    stored version is the one the writer read, and bumps it."""

    def __init__(self, run: Run) -> None:
        self.stored = run.model_copy(deep=True)
        self.writes = 0

    def load(self) -> Run:
        return self.stored.model_copy(deep=True)

    def save(self, run: Run) -> Run:
        if run.version != self.stored.version:
            raise RunRecordConflict(f"run {run.run_id} changed since version {run.version}")
        self.stored = run.model_copy(update={"version": run.version + 1}, deep=True)
        self.writes += 1
        return self.load()


@pytest.mark.parametrize("first_kind", [EventKind.INTERRUPTION_WARNING, EventKind.HEARTBEAT_TIMEOUT])
def test_an_interruption_and_a_heartbeat_timeout_at_the_same_moment_replace_once(first_kind):
    # Given a stalled instance that also gets a spot warning, and two handlers that both read
    # the record before either writes
    record = VersionedRecord(training_run())
    now = T0 + 3 * HOUR
    second_kind = (
        EventKind.HEARTBEAT_TIMEOUT
        if first_kind == EventKind.INTERRUPTION_WARNING
        else EventKind.INTERRUPTION_WARNING
    )
    read_by_second_before_the_first_wrote = record.load()
    reads = iter([read_by_second_before_the_first_wrote])

    # When both resolve their event
    first = recovery.resolve(
        event(first_kind, now), load=record.load, save=record.save, now=now, policy=POLICY
    )
    second = recovery.resolve(
        event(second_kind, now),
        load=lambda: next(reads, None) or record.load(),
        save=record.save,
        now=now,
        policy=POLICY,
    )

    # Then one replacement was recorded, the other event changed nothing
    assert isinstance(first.decision, Replace)
    assert isinstance(second.decision, Ignore)
    assert "already ending" in second.decision.detail
    assert record.writes == 1
    assert record.stored.state == RunState.PROVISIONING
    assert recovery.reason_of(record.stored.segments[0].end_reason) == first.decision.reason
    assert first.task_token == "token-of-the-work-wait" and second.task_token is None
    # and both handlers send the state machine the same way: the record's replacement
    assert recovery.next_step(second.run) == recovery.next_step(first.run)
    assert recovery.next_step(record.stored).action == "replace"


def test_a_duplicated_event_after_the_replacement_launched_changes_nothing():
    record = VersionedRecord(training_run())
    now = T0 + HOUR
    warning = event(EventKind.INTERRUPTION_WARNING, now)
    recovery.resolve(warning, load=record.load, save=record.save, now=now, policy=POLICY)
    replaced = record.load()
    replaced.segments[0].ended_at = now + 60
    replaced.segments.append(segment(1, launched_at=now + 90, started_at=None, host_state="booting"))
    replaced.state = RunState.BOOTING
    record.stored = replaced

    again = recovery.resolve(warning, load=record.load, save=record.save, now=now + 100, policy=POLICY)

    assert isinstance(again.decision, Ignore)
    assert record.writes == 1


def test_resolve_gives_up_when_the_record_never_stops_changing():
    record = VersionedRecord(training_run())

    def always_conflict(run: Run) -> Run:
        raise RunRecordConflict("someone else wrote")

    with pytest.raises(RunRecordConflict, match="3 attempts"):
        recovery.resolve(
            event(EventKind.HOST_FAILED, T0 + HOUR),
            load=record.load,
            save=always_conflict,
            now=T0 + HOUR,
            policy=POLICY,
        )


# -- what the Lambdas feed in ---------------------------------------------------------------------


def test_eventbridge_and_step_functions_names_map_to_event_kinds():
    assert recovery.event_kind_of_detail_type("EC2 Spot Instance Interruption Warning") == (
        EventKind.INTERRUPTION_WARNING
    )
    assert recovery.event_kind_of_detail_type("EC2 Instance Rebalance Recommendation") == (
        EventKind.REBALANCE_RECOMMENDATION
    )
    assert recovery.event_kind_of_detail_type("EC2 Instance State-change Notification") is None

    assert (
        recovery.event_kind_of_error("States.HeartbeatTimeout", Awaiting.FINISHED)
        == EventKind.HEARTBEAT_TIMEOUT
    )
    assert recovery.event_kind_of_error("States.Timeout", Awaiting.STARTED) == EventKind.BOOT_TIMEOUT
    assert recovery.event_kind_of_error("States.Timeout", Awaiting.FINISHED) is None  # the budget ended
    assert recovery.event_kind_of_error("HostFailed", Awaiting.FINISHED) == EventKind.HOST_FAILED
    assert recovery.event_kind_of_error("SpotCapacityUnavailable", None) == EventKind.NO_CAPACITY
    assert recovery.event_kind_of_error(Replace.task_error, Awaiting.FINISHED) is None


def test_the_policy_of_the_lambdas_comes_from_their_settings():
    settings = Settings.model_validate(
        {
            "AWS_REGION": "us-east-1",
            "PITWALL_MODEL_BUCKET": "models-bucket",
            "PITWALL_RUNS_TABLE": "runs",
            "PITWALL_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:pitwall",
            "PITWALL_EVENT_BUS": "default",
            "PITWALL_INSTANCE_TYPES": "g4dn.2xlarge,g5.2xlarge",
            "PITWALL_SUBNET_IDS": "subnet-a",
            "PITWALL_SECURITY_GROUP_ID": "sg-1",
            "PITWALL_IMAGE_ID": "ami-1",
            "PITWALL_HOST_PERMISSIONS_BOUNDARY_ARN": "arn:aws:iam::123456789012:policy/pitwall-host-boundary",
            "PITWALL_MAX_RELAUNCHES_PER_HOUR": "4",
            "PITWALL_WORKER_SCALING_EXPONENT": "0.65",
            "PITWALL_MOVE_CHECK_MINUTES": "15",
            "PITWALL_HOST_IMAGE_PARAMETER": "/pitwall/test/host-image-id",
            "PITWALL_DEFAULT_TIME_BUDGET_MINUTES": "90",
            "PITWALL_HEARTBEAT_WINDOW_SECONDS": "600",
            "PITWALL_BOOT_TIMEOUT_SECONDS": "900",
            "PITWALL_HOST_POLL_SECONDS": "5",
            "PITWALL_CLOCK_SCALE": "1",
            "PITWALL_CLOCK_ANCHOR_EPOCH": "0",
            "PITWALL_SCHEDULE_GROUP": "pitwall-evaluations",
            "PITWALL_SCHEDULER_ROLE_ARN": "arn:aws:iam::123456789012:role/pitwall-scheduler",
            "PITWALL_SCHEDULED_EVALUATION_ARN": "arn:aws:lambda:us-east-1:123456789012:function:p-Sched",
            "PITWALL_EVALUATE_STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:p-Eval",
        }
    )
    policy = recovery.RecoveryPolicy.from_settings(settings, max_relaunches_per_hour=2)
    assert (policy.boot_seconds, policy.heartbeat_window_seconds) == (900, 600)
    assert policy.default_time_budget_seconds == 90 * 60
    assert policy.breaker.max_relaunches == 2
