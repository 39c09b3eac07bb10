"""The recovery task (`lifecycle.recover.decide_recovery`) on the in-memory adapters: how each
failed step turns into a decision in the run record and the Train machine's next step."""

from __future__ import annotations

import pytest

from pitwall import notifications, recovery
from pitwall.clock import ManualClock
from pitwall.host.protocol import HostState, HostStatus
from pitwall.lifecycle.deps import Deps
from pitwall.lifecycle.interruption import request_checkpoint_save
from pitwall.lifecycle.models import ErrorInfo, InstanceEvent, RecoveryInput
from pitwall.lifecycle.recover import decide_recovery
from pitwall.runs import Awaiting, Pool, Run, RunKind, RunRequest, RunState, Segment

START = 1_800_000_000.0
HOUR = 3600.0


@pytest.fixture
def start_epoch() -> float:
    return START


@pytest.fixture
def deps(fake_deps: Deps) -> Deps:
    return fake_deps


def _running_run(deps: Deps, *, checkpoint: str | None, state: RunState = RunState.RUNNING) -> Run:
    segment = Segment(
        index=0,
        model_prefix="models/m/seg-000",
        deadline_epoch=START + 2 * HOUR,
        instance_id="i-0",
        pool=Pool(instance_type="g4dn.2xlarge", availability_zone="us-east-1a", subnet_id="subnet-1"),
        price_per_hour=0.3,
        launched_at=START,
        started_at=START + 480 if state == RunState.RUNNING else None,
        host_state="started" if state == RunState.RUNNING else "booting",
        last_heartbeat_at=START + 600,
        last_checkpoint=checkpoint,
    )
    run = Run(
        run_id="run-1",
        kind=RunKind.TRAIN,
        request=RunRequest(model_name="m", track="t", time_budget_minutes=120),
        state=state,
        created_at=START,
        updated_at=START,
        custom_files_prefix="runs/run-1/custom_files",
        segments=[segment],
    )
    assert deps.runs.create(run)
    return deps.runs.get("run-1")


def _advance(deps: Deps, seconds: float) -> None:
    assert isinstance(deps.clock, ManualClock)
    deps.clock.advance(seconds)


def _decide(deps: Deps, error: str, failed_wait: str, cause: str = "") -> tuple[str, Run]:
    task = RecoveryInput(run_id="run-1", error=ErrorInfo(Error=error, Cause=cause), failed_wait=failed_wait)  # type: ignore[arg-type]
    answer = decide_recovery(task, deps)
    return answer.action, deps.runs.get("run-1")


def test_a_work_wait_timeout_inside_the_budget_is_a_stall_and_replaces_the_instance(deps: Deps) -> None:
    _running_run(deps, checkpoint="3_Step-30.ckpt")
    _advance(deps, 600 + 700)
    action, run = _decide(deps, "States.Timeout", "finished")  # moto's name for a heartbeat timeout
    assert action == "replace"
    assert run.state == RunState.PROVISIONING
    assert (run.segments[0].end_reason or "").startswith("stall")
    # and the racer is told once, that the run goes on
    assert [m.event for m in deps.messaging.messages] == [notifications.Event.RUN_INTERRUPTED]


def test_a_stop_sends_no_message_of_its_own_the_runs_end_is_told_once_by_notify_run(deps: Deps) -> None:
    # Given a run whose first host failed without a checkpoint, on its second instance
    run = _running_run(deps, checkpoint=None)
    first = run.segments[0].model_copy(
        update={"ended_at": START + 900, "end_reason": "host-failed: the container exited"}
    )
    second = first.model_copy(
        update={
            "index": 1,
            "instance_id": "i-1",
            "ended_at": None,
            "end_reason": None,
            "launched_at": START + 960,
        }
    )
    run.segments = [first, second]
    deps.runs.save(run)
    _advance(deps, 1200)
    # When that host fails too
    action, run = _decide(deps, "HostFailed", "finished", cause="the container exited")
    # Then the run stops, and the recovery sends nothing (notify_run tells the run-failed)
    assert action == "fail" and run.state == RunState.FAILED
    assert deps.messaging.messages == []


def test_a_work_wait_timeout_past_the_budget_finishes_with_the_checkpoints(deps: Deps) -> None:
    _running_run(deps, checkpoint="3_Step-30.ckpt")
    _advance(deps, 2 * HOUR + 60)
    action, run = _decide(deps, "States.Timeout", "finished")
    assert action == "finish"
    assert run.state == RunState.FINISHING
    assert (run.segments[0].end_reason or "").startswith("budget-exhausted")


def test_a_budget_that_ends_without_a_checkpoint_fails_the_run(deps: Deps) -> None:
    _running_run(deps, checkpoint=None, state=RunState.BOOTING)
    _advance(deps, 2 * HOUR + 60)
    action, run = _decide(deps, "BudgetExhausted", "provision", cause="1.0 min left")
    assert action == "fail"
    assert run.state == RunState.FAILED
    assert run.failure is not None and "no checkpoint was written" in run.failure


def test_a_replacements_boot_timeout_near_the_budget_end_finishes_with_the_earlier_checkpoint(
    deps: Deps,
) -> None:
    run = _running_run(deps, checkpoint="3_Step-30.ckpt")
    first = run.segments[0]
    first.ended_at, first.end_reason = START + HOUR, "stall: no heartbeat"
    replacement = first.model_copy(
        update={
            "index": 1,
            "model_prefix": "models/m/seg-001",
            "instance_id": "i-1",
            "launched_at": START + HOUR,
            "started_at": None,
            "ended_at": None,
            "end_reason": None,
            "host_state": "booting",
            "last_checkpoint": None,
        }
    )
    run.segments.append(replacement)
    run.state = RunState.BOOTING
    deps.runs.save(run)
    _advance(deps, 2 * HOUR - 15 * 60)  # the boot timeout: 15 min left, under a boot and 5 min
    action, run = _decide(deps, "States.Timeout", "started")
    assert action == "finish"
    assert run.state == RunState.FINISHING
    assert (run.segments[1].end_reason or "").startswith("budget-exhausted")
    assert run.trained_segment is run.segments[0]


def test_no_capacity_anywhere_waits_and_tries_again(deps: Deps) -> None:
    run = _running_run(deps, checkpoint=None)
    run.state, run.segments = RunState.PROVISIONING, []
    deps.runs.save(run)
    task = RecoveryInput(
        run_id="run-1",
        error=ErrorInfo(
            Error="SpotCapacityUnavailable", Cause='{"errorMessage": "none of 3 pools could launch"}'
        ),
        failed_wait="provision",
    )
    answer = decide_recovery(task, deps)
    assert answer.action == "retry"
    assert answer.wait_seconds == 300
    assert "none of 3 pools could launch" in answer.reason


def test_a_segment_another_handler_replaced_is_replaced_here_too_without_a_second_decision(
    deps: Deps,
) -> None:
    run = _running_run(deps, checkpoint="3_Step-30.ckpt")
    run.segments[0].end_reason = "spot-interruption: EC2 Spot Instance Interruption Warning"
    run.state = RunState.PROVISIONING
    deps.runs.save(run)
    version = deps.runs.get("run-1").version
    answer = decide_recovery(RecoveryInput(run_id="run-1", error=ErrorInfo(Error="SegmentReplaced")), deps)
    assert (answer.action, answer.save_first) == ("replace", True)  # the host saves, then goes
    assert deps.runs.get("run-1").version == version  # nothing written


def test_a_host_failure_whose_cause_got_lost_is_described_with_the_hosts_own_report(deps: Deps) -> None:
    run = _running_run(deps, checkpoint="3_Step-30.ckpt")
    run.segments[0].host_state, run.segments[0].host_detail = "failed", "container robomaker exited with 139"
    deps.runs.save(run)
    action, run = _decide(deps, "HostFailed", "finished", cause="")
    assert action == "replace"
    assert (run.segments[0].end_reason or "").startswith("host-failed")
    assert "robomaker exited with 139" in (run.segments[0].end_reason or "")


def test_an_instance_that_shuts_down_during_the_save_wait_ends_the_wait(deps: Deps, ec2_event_of) -> None:
    instance_id = deps.ec2.add_instance("run-1")
    run = _running_run(deps, checkpoint="3_Step-30.ckpt")
    run.segments[0].instance_id = instance_id
    run.segments[0].end_reason = "spot-interruption: warning"
    run.state, run.awaiting, run.task_token = RunState.PROVISIONING, Awaiting.SAVED, "token-of-the-save-wait"
    deps.runs.save(run)
    event = ec2_event_of(
        "EC2 Instance State-change Notification", {"instance-id": instance_id, "state": "shutting-down"}
    )
    answer = request_checkpoint_save(InstanceEvent.model_validate(event), deps)
    assert answer.decision == "save-wait-ended"
    assert deps.tasks.failed["token-of-the-save-wait"][0] == recovery.INSTANCE_GONE_ERROR
    run = deps.runs.get("run-1")
    assert run.awaiting is None and run.task_token is None
    assert run.segments[0].ended_at == START
    assert recovery.next_step(run).save_first is False  # nothing more to wait for: terminate, go on


def test_an_evaluation_whose_time_is_over_fails_rather_than_collect_half_its_trials(deps: Deps) -> None:
    run = _running_run(deps, checkpoint="3_Step-30.ckpt")  # even with a checkpoint recorded
    run.kind, run.source_run_id = RunKind.EVALUATE, "source-1"
    deps.runs.save(run)
    _advance(deps, 2 * HOUR + 60)
    action, run = _decide(deps, "States.Timeout", "finished")
    assert action == "fail"
    assert run.state == RunState.FAILED
    assert run.failure is not None and "the evaluation did not finish its trials" in run.failure


def test_an_instance_that_ends_without_a_warning_fails_the_wait_and_is_replaced_at_once(
    deps: Deps, ec2_event_of
) -> None:
    # Given a training run whose instance ends unannounced (terminated by hand, a host failure)
    instance_id = deps.ec2.add_instance("run-1")
    run = _running_run(deps, checkpoint="3_Step-30.ckpt")
    run.segments[0].instance_id = instance_id
    run.awaiting, run.task_token = Awaiting.FINISHED, "token-of-the-work-wait"
    deps.runs.save(run)
    event = ec2_event_of(
        "EC2 Instance State-change Notification", {"instance-id": instance_id, "state": "shutting-down"}
    )
    # When its state change arrives
    answer = request_checkpoint_save(InstanceEvent.model_validate(event), deps)
    # Then the segment is replaced now, from the last checkpoint, with nothing to save
    assert answer.decision == "replace" and answer.requested is False
    assert "token-of-the-work-wait" in deps.tasks.failed
    run = deps.runs.get("run-1")
    assert run.state == RunState.PROVISIONING and run.task_token is None
    assert (run.segments[0].end_reason or "").startswith("instance-gone")
    assert recovery.next_step(run).action == "replace" and recovery.next_step(run).save_first is False
    # and the same event again changes nothing
    again = request_checkpoint_save(InstanceEvent.model_validate(event), deps)
    assert again.decision in (None, "ignore")


def _host_reported(deps: Deps, state: HostState, detail: str) -> str:
    """A training run waiting for its work, whose host reported `state` before the controller
    recorded it; the instance's id."""
    instance_id = deps.ec2.add_instance("run-1")
    run = _running_run(deps, checkpoint="3_Step-30.ckpt")
    run.segments[0].instance_id = instance_id
    run.awaiting, run.task_token = Awaiting.FINISHED, "token-of-the-work-wait"
    deps.runs.save(run)
    status = HostStatus(
        run_id="run-1",
        segment=0,
        instance_id=instance_id,
        state=state,
        sequence=3,
        at_epoch=deps.clock.now(),
        detail=detail,
    )
    deps.store.put_text(run.keys.host_status, status.to_json())
    return instance_id


def test_a_spot_warning_after_the_host_finished_its_work_replaces_nothing(deps: Deps, ec2_event_of) -> None:
    # Given a run whose host reported its work finished, before the controller recorded it
    instance_id = _host_reported(deps, HostState.FINISHED, "work finished")
    # When EC2 warns that the instance will be interrupted
    event = ec2_event_of("EC2 Spot Instance Interruption Warning", {"instance-id": instance_id})
    answer = request_checkpoint_save(InstanceEvent.model_validate(event), deps)
    # Then the run goes on to collect what the host finished: nothing replaced, the wait kept
    assert answer.decision is None and answer.requested is False
    run = deps.runs.get("run-1")
    assert run.state == RunState.RUNNING and run.task_token == "token-of-the-work-wait"
    assert run.segments[0].end_reason is None


def test_an_instance_whose_host_reported_a_failure_ends_as_a_host_failure(deps: Deps, ec2_event_of) -> None:
    # Given a run whose host reported FAILED and powered its instance off, the report not yet
    # in the record when the instance's state change comes
    instance_id = _host_reported(
        deps, HostState.FAILED, "container deepracer-0_robomaker.1 exited with code 139"
    )
    event = ec2_event_of(
        "EC2 Instance State-change Notification", {"instance-id": instance_id, "state": "shutting-down"}
    )
    # When the state change arrives
    answer = request_checkpoint_save(InstanceEvent.model_validate(event), deps)
    # Then the segment is replaced as a host failure, naming what the host said
    assert answer.decision == "replace"
    end_reason = deps.runs.get("run-1").segments[0].end_reason or ""
    assert end_reason.startswith("host-failed") and "exited with code 139" in end_reason
