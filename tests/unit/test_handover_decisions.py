"""Hand-over before an interruption: a rebalance recommendation boots the next instance while the
current one trains; the current one saves only once the replacement is ready."""

from __future__ import annotations

import pytest

from pitwall import layout, reaper, recovery
from pitwall.host.protocol import HostState, HostStatus
from pitwall.lifecycle.progress import apply_host_status
from pitwall.recovery import EventKind, HandOver, Ignore, Reason, Replace, RunEvent
from pitwall.runs import Awaiting, Pool, Run, RunKind, RunRequest, RunState, Segment

T0 = 1_790_000_000.0
HOUR = 3600.0
POLICY = recovery.RecoveryPolicy(
    boot_seconds=480, heartbeat_window_seconds=600, default_time_budget_seconds=24 * HOUR
)
STANDBY_ID = "i-0001"


def pool(type_: str = "g4dn.2xlarge", zone: str = "us-east-1a") -> Pool:
    return Pool(instance_type=type_, availability_zone=zone, subnet_id=f"subnet-{zone}")


def training_run() -> Run:
    """Segment 0 trains on i-0000 and has a checkpoint; the machine waits for the work."""
    current = Segment(
        index=0,
        model_prefix=layout.segment_model_prefix("fast-car", 0),
        deadline_epoch=T0 + 24 * HOUR,
        instance_id="i-0000",
        pool=pool(),
        price_per_hour=0.26,
        launched_at=T0,
        started_at=T0 + 480,
        host_state="started",
        last_heartbeat_at=T0 + 600,
        last_checkpoint="3_Step-900.ckpt",
    )
    return Run(
        run_id="run-1",
        kind=RunKind.TRAIN,
        request=RunRequest(model_name="fast-car", track="reInvent2019_track"),
        state=RunState.RUNNING,
        version=7,
        created_at=T0 - 60,
        updated_at=T0,
        custom_files_prefix=layout.RunKeys("run-1").custom_files_prefix,
        segments=[current],
        task_token="token-of-the-work-wait",
    )


def event(kind: EventKind, at: float, instance_id: str = "i-0000", detail: str = "") -> RunEvent:
    return RunEvent(kind=kind, at=at, instance_id=instance_id, detail=detail)


def standby(launched_at: float, **fields: object) -> Segment:
    values: dict[str, object] = {
        "index": 1,
        "model_prefix": layout.segment_model_prefix("fast-car", 1),
        "deadline_epoch": T0 + 24 * HOUR,
        "instance_id": STANDBY_ID,
        "pool": pool("g5.2xlarge"),
        "price_per_hour": 0.40,
        "launched_at": launched_at,
    }
    values.update(fields)
    return Segment.model_validate(values)


def handing_over(now: float = T0 + HOUR, **standby_fields: object):
    """A run whose segment 0 got a rebalance recommendation at `now` and whose standby was launched."""
    run = training_run()
    decision = recovery.decide(run, event(EventKind.REBALANCE_RECOMMENDATION, now), now, POLICY)
    recovery.apply(run, decision, now)
    run.standby = standby(now + 5, **standby_fields)
    run.version += 1
    return run


def test_a_rebalance_recommendation_for_a_trained_segment_hands_over_and_the_segment_trains_on():
    run = training_run()
    now = T0 + HOUR

    decision = recovery.decide(run, event(EventKind.REBALANCE_RECOMMENDATION, now), now, POLICY)

    assert isinstance(decision, HandOver)
    assert decision.exclude_pools == [pool().label]  # the replacement boots in another pool
    token = recovery.apply(run, decision, now)
    assert token == "token-of-the-work-wait"  # the work wait ends: the machine launches the standby
    segment0 = run.segments[0]
    assert run.state == RunState.RUNNING and segment0.end_reason is None and segment0.ended_at is None
    assert segment0.handover_requested_at == now and segment0.save_requested_at is None
    assert recovery.next_step(run) == recovery.Step(action="handover")


def test_a_second_rebalance_recommendation_while_handing_over_changes_nothing():
    run = handing_over()
    later = T0 + HOUR + 60
    decision = recovery.decide(run, event(EventKind.REBALANCE_RECOMMENDATION, later), later, POLICY)
    assert isinstance(decision, Ignore) and "already handing over" in decision.detail


def test_the_standby_ready_saves_the_current_segment_then_replaces_it():
    run = handing_over()
    now = T0 + HOUR + 200

    decision = recovery.decide(run, event(EventKind.STANDBY_READY, now, STANDBY_ID), now, POLICY)

    assert isinstance(decision, Replace)
    assert decision.reason == Reason.REBALANCE_RECOMMENDATION and decision.save_first
    assert not decision.drop_standby and STANDBY_ID in decision.detail
    recovery.apply(run, decision, now)
    assert run.state == RunState.PROVISIONING and run.standby is not None
    assert run.standby.end_reason is None  # it takes over (provisioning adopts it)
    assert recovery.next_step(run).action == "replace" and recovery.next_step(run).save_first


def test_a_warning_before_the_standby_is_ready_saves_and_replaces_as_today():
    run = handing_over()
    now = T0 + HOUR + 90

    decision = recovery.decide(run, event(EventKind.INTERRUPTION_WARNING, now), now, POLICY)

    assert isinstance(decision, Replace) and decision.save_first and not decision.drop_standby
    assert decision.reason == Reason.SPOT_INTERRUPTION
    recovery.apply(run, decision, now)
    assert run.standby is not None and run.standby.end_reason is None  # still the replacement
    late_ready = recovery.decide(run, event(EventKind.STANDBY_READY, now + 60, STANDBY_ID), now + 60, POLICY)
    assert isinstance(late_ready, Ignore)  # the replacement is under way already


def test_a_standby_that_fails_is_dropped_and_the_segment_replaced_as_for_a_warning():
    run = handing_over()
    now = T0 + HOUR + 900

    decision = recovery.decide(
        run, event(EventKind.STANDBY_FAILED, now, STANDBY_ID, "never got ready"), now, POLICY
    )

    assert isinstance(decision, Replace) and decision.save_first and decision.drop_standby
    recovery.apply(run, decision, now)
    assert run.standby is not None and run.standby.end_reason is not None  # provisioning drops it


def test_a_standby_that_could_not_be_launched_replaces_the_segment_as_for_a_warning():
    run = training_run()
    now = T0 + HOUR
    recovery.apply(
        run, recovery.decide(run, event(EventKind.REBALANCE_RECOMMENDATION, now), now, POLICY), now
    )

    decision = recovery.decide(run, event(EventKind.STANDBY_FAILED, now + 5), now + 5, POLICY)

    assert isinstance(decision, Replace) and decision.save_first


def test_events_about_another_instance_than_the_standby_change_nothing():
    run = handing_over()
    now = T0 + HOUR + 200
    assert isinstance(
        recovery.decide(run, event(EventKind.STANDBY_READY, now, "i-9999"), now, POLICY), Ignore
    )
    not_handing_over = training_run()
    ready = event(EventKind.STANDBY_READY, now)
    assert isinstance(recovery.decide(not_handing_over, ready, now, POLICY), Ignore)


def test_errors_of_the_standby_wait_are_standby_events():
    assert recovery.event_kind_of_error("StandbyReady", Awaiting.READY) == EventKind.STANDBY_READY
    assert recovery.event_kind_of_error("StandbyFailed", Awaiting.READY) == EventKind.STANDBY_FAILED
    assert recovery.event_kind_of_error("States.Timeout", Awaiting.READY) == EventKind.STANDBY_FAILED
    # the current host's own failure during the wait is its own event
    assert recovery.event_kind_of_error("HostFailed", Awaiting.READY) == EventKind.HOST_FAILED


def _standby_status(state: HostState, sequence: int) -> HostStatus:
    return HostStatus(
        run_id="run-1",
        segment=1,
        instance_id=STANDBY_ID,
        state=state,
        sequence=sequence,
        at_epoch=T0 + HOUR + 99,
    )


def test_the_standby_ready_report_answers_the_ready_wait_and_leaves_the_current_segment_alone():
    run = handing_over()
    run.awaiting, run.task_token = Awaiting.READY, "ready-token"
    before = run.segments[0].model_copy(deep=True)

    booting = apply_host_status(run, _standby_status(HostState.BOOTING, 1), now=T0 + HOUR + 50)
    ready = apply_host_status(run, _standby_status(HostState.READY, 2), now=T0 + HOUR + 100)

    assert booting.changed and not booting.settle
    assert ready.changed and ready.settle and ready.fail_error is None
    assert run.standby is not None and run.standby.host_state == "ready"
    assert run.segments[0] == before and run.state == RunState.RUNNING


def test_a_standby_that_ends_before_the_go_fails_the_ready_wait():
    run = handing_over()
    run.awaiting, run.task_token = Awaiting.READY, "ready-token"
    verdict = apply_host_status(run, _standby_status(HostState.FAILED, 3), now=T0 + HOUR + 100)
    assert verdict.fail_error == recovery.STANDBY_FAILED_ERROR
    assert run.standby is not None and run.standby.ended_at is not None


def test_the_overlap_is_paid_and_counted_in_the_runs_cost():
    run = handing_over()
    now = T0 + 2 * HOUR
    alone = run.segments[0].cost_usd(now)
    assert run.spent_usd(now) == pytest.approx(alone + (HOUR - 5) / HOUR * 0.40)
    run.dropped_standby_cost_usd = 0.1
    assert run.spent_usd(now) == pytest.approx(alone + (HOUR - 5) / HOUR * 0.40 + 0.1)


def test_the_reaper_spares_a_booting_standby_past_the_launch_grace():
    run = handing_over()
    booted = reaper.TaggedInstance(
        instance_id=STANDBY_ID,
        run_id="run-1",
        launched_at=T0 + HOUR,
        state="running",
        profile_arn="arn:aws:iam::123456789012:instance-profile/pitwall/run-1-1",
    )
    policy = reaper.ReaperPolicy(grace_seconds=600, launch_grace_seconds=600)
    later = T0 + HOUR + 1200
    assert reaper.instances_to_terminate([booted], {"run-1": run}, later, policy) == []
    run.standby = None  # dropped without being terminated: now an orphan
    assert [
        t.instance_id for t in reaper.instances_to_terminate([booted], {"run-1": run}, later, policy)
    ] == [STANDBY_ID]
