"""What a heartbeat or a host report changes in a run record: pure rules, no AWS.

A report counts only when it is about the run's current instance and newer than every report
seen from it (HostStatus.sequence); duplicated, late and out-of-order events change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from pitwall.host.protocol import HostState, HostStatus
from pitwall.recovery import HOST_FAILED_ERROR, HOST_SAVED_ERROR, STANDBY_FAILED_ERROR
from pitwall.runs import Awaiting, Run, RunKind, RunState, Segment


@dataclass(frozen=True)
class Verdict:
    """What to do with the waiting task after a report."""

    changed: bool
    settle: bool = False  # answer the task token with success
    fail_error: str | None = None  # answer it with this error instead


def _record_report(segment: Segment, status: HostStatus) -> bool:
    """The report on the segment; False when it is not this segment's or not newer."""
    if status.segment != segment.index or status.sequence <= segment.host_sequence:
        return False
    segment.host_sequence = status.sequence
    segment.host_state = status.state.value
    segment.host_detail = status.detail
    segment.last_heartbeat_at = max(segment.last_heartbeat_at or 0.0, status.at_epoch)
    return True


def apply_standby_status(run: Run, status: HostStatus, now: float) -> Verdict:
    """A report of the hand-over's replacement (`Run.standby`): READY answers the wait for it;
    a failure (or an end before it trained) fails that wait with StandbyFailed."""
    standby = run.standby
    if run.is_terminal or standby is None or standby.instance_id != status.instance_id:
        return Verdict(changed=False)
    if not _record_report(standby, status):
        return Verdict(changed=False)
    run.updated_at = now
    waiting = run.awaiting == Awaiting.READY
    if status.state in (HostState.FAILED, HostState.FINISHED, HostState.SAVED):
        standby.ended_at = standby.ended_at or status.at_epoch
        return Verdict(changed=True, fail_error=STANDBY_FAILED_ERROR if waiting else None)
    return Verdict(changed=True, settle=waiting and status.state == HostState.READY)


def apply_host_status(run: Run, status: HostStatus, now: float) -> Verdict:
    if run.standby is not None and run.standby.instance_id == status.instance_id:
        return apply_standby_status(run, status, now)
    segment = run.current_segment
    if run.is_terminal or segment is None or segment.instance_id != status.instance_id:
        return Verdict(changed=False)
    if not _record_report(segment, status):
        return Verdict(changed=False)
    if status.checkpoint:
        segment.last_checkpoint = status.checkpoint
    if status.state == HostState.STARTED:
        segment.started_at = segment.started_at or status.at_epoch
        if run.state == RunState.BOOTING:
            run.move_to(RunState.RUNNING, now)
    elif status.state == HostState.SAVED and _saved_on_its_own(run):
        # A training host that saved without being replaced heard the spot notice itself (the
        # instance metadata): the run continues on a new instance, not as finished.
        segment.ended_at = segment.ended_at or status.at_epoch
        run.updated_at = now
        return Verdict(changed=True, fail_error=HOST_SAVED_ERROR)
    elif status.state in (HostState.FINISHED, HostState.SAVED):
        segment.ended_at = segment.ended_at or status.at_epoch
        if run.state == RunState.BOOTING:
            run.move_to(RunState.RUNNING, now)
        if run.state == RunState.RUNNING:
            run.move_to(RunState.FINISHING, now)
    elif status.state == HostState.FAILED:
        # why the segment ends is the recovery's to write (`recovery.resolve`), from the error
        segment.ended_at = segment.ended_at or status.at_epoch
    run.updated_at = now
    if status.state == HostState.FAILED:
        return Verdict(changed=True, fail_error=HOST_FAILED_ERROR)
    return Verdict(changed=True, settle=reached(run.awaiting, status.state))


def _saved_on_its_own(run: Run) -> bool:
    return run.kind == RunKind.TRAIN and run.state in (RunState.BOOTING, RunState.RUNNING)


def failure_of(run: Run, status: HostStatus) -> str | None:
    """The error a waiting task gets for this report of the run's host, or None."""
    if status.state == HostState.FAILED:
        return HOST_FAILED_ERROR
    if status.state == HostState.SAVED and _saved_on_its_own(run):
        return HOST_SAVED_ERROR
    return None


def reached(awaiting: Awaiting | None, state: HostState) -> bool:
    """Whether a host in `state` has got where the waiting task waits for it to get."""
    if awaiting == Awaiting.SAVED:
        return state in (HostState.SAVED, HostState.FINISHED)
    if awaiting == Awaiting.STARTED:
        return state in (HostState.STARTED, HostState.FINISHED, HostState.SAVED)
    if awaiting == Awaiting.FINISHED:
        return state in (HostState.FINISHED, HostState.SAVED)
    if awaiting == Awaiting.READY:  # the standby's wait ends too when the current host's work ends
        return state in (HostState.READY, HostState.FINISHED, HostState.SAVED)
    return False


def apply_training_progress(
    run: Run, model_prefix: str, *, episodes: int | None, checkpoint: str | None, at: float
) -> bool:
    """Record progress read from the model prefix; False when the prefix is not the run's current one."""
    segment = run.current_segment
    if run.is_terminal or segment is None or segment.model_prefix != model_prefix:
        return False
    segment.last_heartbeat_at = max(segment.last_heartbeat_at or 0.0, at)
    if episodes is not None:
        segment.episodes = max(segment.episodes, episodes)
        segment.metrics_recorded_at = at
    if checkpoint:
        segment.last_checkpoint = checkpoint
    run.updated_at = at
    return True
