"""Heartbeats and host reports change a run only when they are new and about its instance."""

from __future__ import annotations

from pitwall.host.protocol import HostState, HostStatus
from pitwall.lifecycle.progress import apply_host_status, apply_training_progress
from pitwall.runs import Awaiting, Run, RunKind, RunRequest, RunState, Segment


def _booting_run() -> Run:
    segment = Segment(
        index=0, model_prefix="models/m/seg-000", deadline_epoch=9e9, instance_id="i-1", launched_at=0.0
    )
    return Run(
        run_id="run-1",
        kind=RunKind.TRAIN,
        request=RunRequest(model_name="m", track="t"),
        state=RunState.BOOTING,
        created_at=0,
        updated_at=0,
        custom_files_prefix="runs/run-1/custom_files",
        segments=[segment],
        awaiting=Awaiting.STARTED,
        task_token="token",
    )


def _status(state: HostState, sequence: int, instance_id: str = "i-1", **extra) -> HostStatus:
    return HostStatus(
        run_id="run-1",
        segment=0,
        instance_id=instance_id,
        state=state,
        sequence=sequence,
        at_epoch=100.0 + sequence,
        **extra,
    )


def test_started_moves_the_run_to_running_and_settles_the_boot_wait() -> None:
    run = _booting_run()
    verdict = apply_host_status(run, _status(HostState.STARTED, 2), now=102.0)
    assert verdict.changed and verdict.settle
    assert run.state == RunState.RUNNING
    assert run.segments[0].started_at == 102.0


def test_a_duplicated_or_late_report_changes_nothing() -> None:
    run = _booting_run()
    apply_host_status(run, _status(HostState.STARTED, 2), now=102.0)
    before = run.model_copy(deep=True)
    assert not apply_host_status(run, _status(HostState.STARTED, 2), now=103.0).changed  # duplicate
    assert not apply_host_status(run, _status(HostState.BOOTING, 1), now=104.0).changed  # late
    assert run == before


def test_a_report_from_another_instance_changes_nothing() -> None:
    run = _booting_run()
    verdict = apply_host_status(run, _status(HostState.FAILED, 9, instance_id="i-old"), now=110.0)
    assert not verdict.changed
    assert run.state == RunState.BOOTING


def test_finished_walks_the_run_to_finishing_and_settles_a_finished_wait() -> None:
    run = _booting_run()
    run.awaiting = Awaiting.FINISHED
    verdict = apply_host_status(run, _status(HostState.FINISHED, 5, checkpoint="7_Step-100.ckpt"), now=200.0)
    assert verdict.settle
    assert run.state == RunState.FINISHING
    assert run.segments[0].last_checkpoint == "7_Step-100.ckpt"
    assert run.segments[0].ended_at == 105.0


def test_a_failed_host_fails_the_wait_and_records_why() -> None:
    run = _booting_run()
    verdict = apply_host_status(run, _status(HostState.FAILED, 3, detail="container exited 139"), now=103.0)
    assert verdict.fail_error == "HostFailed"
    assert run.segments[0].host_state == "failed" and run.segments[0].ended_at == 103.0
    assert run.segments[0].end_reason is None  # the recovery writes why the segment ends


def test_training_progress_counts_only_for_the_current_prefix_and_never_goes_back() -> None:
    run = _booting_run()
    assert apply_training_progress(run, "models/m/seg-000", episodes=40, checkpoint=None, at=50.0)
    assert apply_training_progress(run, "models/m/seg-000", episodes=20, checkpoint="2_Step-9.ckpt", at=40.0)
    assert run.segments[0].episodes == 40
    assert run.segments[0].last_heartbeat_at == 50.0
    assert not apply_training_progress(run, "models/m/seg-001", episodes=99, checkpoint=None, at=60.0)
