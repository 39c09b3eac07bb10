"""Register a task token: the state machine waits until the host reports `started` (boot) or
`finished` (the work); the heartbeat Lambda answers the token. If the host got there before the
token was registered, answer it at once."""

from __future__ import annotations

from enum import StrEnum

from pydantic import TypeAdapter, ValidationError

from pitwall import recovery
from pitwall.errors import InvalidEvent
from pitwall.host.protocol import HostState, HostStatus
from pitwall.lifecycle.deps import Deps
from pitwall.lifecycle.models import AwaitInput, AwaitOutput, HostReport
from pitwall.lifecycle.progress import apply_host_status, apply_standby_status, failure_of, reached
from pitwall.lifecycle.records import update_run
from pitwall.observability import logger
from pitwall.runs import Awaiting, Run, RunState, Segment

_HOST_STATUS = TypeAdapter(HostStatus)


def parse_host_status(body: bytes, key: str) -> HostStatus | None:
    """A host's status.json, checked field by field; None (logged) when it is not one: a host's
    malformed report is its bug, and the wait goes on until a good one or the timeout."""
    try:
        return _HOST_STATUS.validate_json(body)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(file)'}: {e['msg']}" for e in exc.errors())
        logger.warning("ignored a malformed host status", extra={"key": key, "problems": problems})
        return None


class _Answer(StrEnum):
    WAIT = "wait"
    SUCCEED = "succeed"
    FAIL = "fail"
    RUN_ENDED = "run_ended"
    REPLACED = "replaced"
    GONE = "gone"
    SAVED_BEFORE = "saved_before"  # the heartbeat recorded the save before this wait began
    STANDBY_READY = "standby_ready"
    STANDBY_FAILED = "standby_failed"
    HANDING_OVER = "handing_over"


_SAVE_ENDED = frozenset({HostState.SAVED.value, HostState.FINISHED.value})


def _gone_or_wait(run: Run, awaiting: Awaiting) -> _Answer:
    """The status file says nothing about the wait (it may hold a replacement's report now): a
    save the record holds already answers it, and a save cannot come from an instance that
    already ended (its state-change event came first)."""
    segment = run.current_segment
    if awaiting != Awaiting.SAVED or segment is None:
        return _Answer.WAIT
    if segment.host_state in _SAVE_ENDED:
        run.awaiting, run.task_token = None, None
        return _Answer.SAVED_BEFORE
    if segment.ended_at is not None:
        run.awaiting, run.task_token = None, None
        return _Answer.GONE
    return _Answer.WAIT


def _recorded_report(run: Run, segment: Segment) -> HostReport:
    """A segment's host's latest report as the run record holds it (the status file may hold
    another host's report since)."""
    return HostReport(
        run_id=run.run_id,
        instance_id=str(segment.instance_id),
        state=str(segment.host_state),
        sequence=segment.host_sequence,
        checkpoint=segment.last_checkpoint,
        detail=segment.host_detail,
    )


def host_report(run: Run, status: HostStatus) -> HostReport:
    return HostReport(
        run_id=run.run_id,
        instance_id=status.instance_id,
        state=status.state.value,
        sequence=status.sequence,
        checkpoint=status.checkpoint,
        detail=status.detail,
    )


def await_host(task: AwaitInput, deps: Deps) -> AwaitOutput:
    if not deps.tasks.heartbeat(task.task_token):
        # only a waiting task's token is stored: anything else would silence the real wait
        raise InvalidEvent(f"AwaitInput: task_token: no waiting task of run {task.run_id} holds this token")
    now = deps.clock.now()
    failure: str | None = None
    status: HostStatus | None = None

    def register(run: Run) -> tuple[bool, _Answer]:
        nonlocal failure, status
        # read at each attempt: a report the heartbeat recorded meanwhile (it made this write
        # lose its race) is in S3 by now, and it found no token to answer
        body = deps.store.get_bytes(run.keys.host_status)
        status = parse_host_status(body, run.keys.host_status) if body else None
        if run.is_terminal:
            return False, _Answer.RUN_ENDED
        if run.state == RunState.PROVISIONING and task.awaiting != Awaiting.SAVED:
            return False, _Answer.REPLACED  # the recovery replaced the segment before this wait began
        handing_over = recovery.next_step(run).action == "handover"
        if handing_over and task.awaiting in (Awaiting.STARTED, Awaiting.FINISHED):
            return False, _Answer.HANDING_OVER  # a hand-over began before this wait (no token then)
        run.awaiting, run.task_token = task.awaiting, task.task_token
        segment = run.current_segment
        standby = run.standby
        if task.awaiting == Awaiting.READY and standby is not None:
            # the hand-over's replacement: its report may be recorded already (the heartbeat
            # found no token) and the status file may hold the current host's newer report
            if status is not None and status.instance_id == standby.instance_id:
                apply_standby_status(run, status, now)
            if standby.ended_at is not None or standby.host_state == HostState.READY.value:
                failure = None if standby.ended_at is None else recovery.STANDBY_FAILED_ERROR
                run.awaiting, run.task_token = None, None
                return True, _Answer.STANDBY_FAILED if failure else _Answer.STANDBY_READY
        if status is None or segment is None or status.instance_id != segment.instance_id:
            return True, _gone_or_wait(run, task.awaiting)
        failure = failure_of(run, status)  # before the report moves the run on
        apply_host_status(run, status, now)
        if failure is not None:
            answer = _Answer.FAIL
        elif reached(task.awaiting, status.state):
            answer = _Answer.SUCCEED
        else:
            return True, _gone_or_wait(run, task.awaiting)
        run.awaiting, run.task_token = None, None
        return True, answer

    run, answer = update_run(deps, task.run_id, register)
    standby = run.standby
    if answer == _Answer.STANDBY_READY and standby is not None and standby.instance_id:
        deps.tasks.succeed(task.task_token, _recorded_report(run, standby).model_dump(mode="json"))
    elif answer == _Answer.STANDBY_FAILED:
        detail = standby.host_detail if standby else ""
        detail = detail or "the hand-over's replacement failed"
        deps.tasks.fail(task.task_token, recovery.STANDBY_FAILED_ERROR, detail)
    elif answer == _Answer.GONE:
        deps.tasks.fail(
            task.task_token,
            recovery.INSTANCE_GONE_ERROR,
            f"run {run.run_id}: the instance ended before its host saved",
        )
    elif answer == _Answer.HANDING_OVER:
        deps.tasks.fail(task.task_token, recovery.HandOver.task_error, f"run {run.run_id}: a hand-over began")
    elif answer == _Answer.REPLACED:
        deps.tasks.fail(
            task.task_token, recovery.Replace.task_error, f"run {run.run_id}: the segment is replaced"
        )
    elif answer == _Answer.RUN_ENDED:
        deps.tasks.fail(task.task_token, "RunEnded", f"run {run.run_id} is {run.state}: {run.failure or ''}")
    elif answer == _Answer.FAIL and status is not None and failure is not None:
        deps.tasks.fail(task.task_token, failure, status.detail or f"the host reported {status.state.value}")
    elif answer == _Answer.SAVED_BEFORE and run.current_segment is not None:
        deps.tasks.succeed(
            task.task_token, _recorded_report(run, run.current_segment).model_dump(mode="json")
        )
    elif answer == _Answer.SUCCEED and status is not None:
        deps.tasks.succeed(task.task_token, host_report(run, status).model_dump(mode="json"))
    return AwaitOutput(run_id=run.run_id, awaiting=task.awaiting, settled_now=answer != _Answer.WAIT)
