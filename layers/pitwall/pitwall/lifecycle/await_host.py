"""Register a task token: the state machine waits until the host reports `started` (boot) or
`finished` (the work); the heartbeat Lambda answers the token. If the host got there before the
token was registered, answer it at once."""

from __future__ import annotations

from enum import StrEnum

from pitwall.adapters import tasks
from pitwall.host.protocol import HostState, HostStatus
from pitwall.lifecycle.deps import Deps
from pitwall.lifecycle.models import AwaitInput, AwaitOutput, HostReport
from pitwall.lifecycle.progress import apply_host_status, reached
from pitwall.lifecycle.records import update_run
from pitwall.runs import Run


class _Answer(StrEnum):
    WAIT = "wait"
    SUCCEED = "succeed"
    FAIL = "fail"
    RUN_ENDED = "run_ended"


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
    body = deps.store.get_bytes(deps.runs.get(task.run_id).keys.host_status)
    status = HostStatus.from_json(body) if body else None
    now = deps.clock.now()

    def register(run: Run) -> tuple[bool, _Answer]:
        if run.is_terminal:
            return False, _Answer.RUN_ENDED
        run.awaiting, run.task_token = task.awaiting, task.task_token
        segment = run.current_segment
        if status is None or segment is None or status.instance_id != segment.instance_id:
            return True, _Answer.WAIT
        apply_host_status(run, status, now)
        if status.state == HostState.FAILED:
            answer = _Answer.FAIL
        elif reached(task.awaiting, status.state):
            answer = _Answer.SUCCEED
        else:
            return True, _Answer.WAIT
        run.awaiting, run.task_token = None, None
        return True, answer

    run, answer = update_run(deps, task.run_id, register)
    if answer == _Answer.RUN_ENDED:
        tasks.fail(task.task_token, "RunEnded", f"run {run.run_id} is {run.state}: {run.failure or ''}")
    elif answer == _Answer.FAIL and status is not None:
        tasks.fail(task.task_token, "HostFailed", status.detail or "the host reported a failure")
    elif answer == _Answer.SUCCEED and status is not None:
        tasks.succeed(task.task_token, host_report(run, status).model_dump(mode="json"))
    return AwaitOutput(run_id=run.run_id, awaiting=task.awaiting, settled_now=answer != _Answer.WAIT)
