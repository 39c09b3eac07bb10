"""The ONE recovery task of the Train and Evaluate machines: a host wait or a provisioning step
failed (a stall, a boot timeout, a dead container, a host that saved on a spot notice, no capacity
in any pool, or another Lambda already decided: SegmentReplaced / RunStopped). Turn the error into
a run event, let `recovery.resolve` decide and write it under the run record's version, tell the
racer, and answer where the machine goes next, read from the record (`recovery.next_step`), so
that of two events about one instance only the first one acts.
"""

from __future__ import annotations

import contextlib
import json
import uuid

from pitwall import budget, notifications, recovery
from pitwall.host.protocol import ControlAction, ControlRequest
from pitwall.lifecycle import telemetry
from pitwall.lifecycle.deps import Deps
from pitwall.lifecycle.models import ErrorInfo, RecoveryInput, RecoveryOutput
from pitwall.lifecycle.records import update_run
from pitwall.observability import logger
from pitwall.runs import Awaiting, Run, RunKind, RunState

# The run's time is over: the work wait's own timeout (budget plus a grace), or no budget left
# to launch a segment. The run finishes with what it has, or fails when it has no checkpoint.
BUDGET_ERRORS = frozenset({"BudgetExhausted"})


def cause_of(error: ErrorInfo | None) -> str:
    """An error's cause as text: a Lambda error's cause is JSON with an errorMessage."""
    if error is None or not error.Cause:
        return ""
    cause = error.Cause
    with contextlib.suppress(ValueError, AttributeError):
        cause = json.loads(cause).get("errorMessage", cause)
    return str(cause)


def ask_to_save(run: Run, instance_id: str, why: str, deps: Deps) -> None:
    """Ask the run's host on `instance_id` to upload its latest checkpoint and stop (a SAVE control
    request; one request id per instance and cause, so a repeated event asks once)."""
    request = ControlRequest(
        request_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{instance_id}/{why}")),
        action=ControlAction.SAVE,
        instance_id=instance_id,
        requested_at_epoch=deps.clock.now(),
    )
    deps.store.put_text(run.keys.host_control, request.to_json())


def report_recovery(
    run: Run, decision: recovery.Decision, deps: Deps, *, ends_handover: bool = False
) -> None:
    """Count what the recovery did (metrics) and tell the racer: nothing for an ignored event, and
    no message for a stop (the run's end is told once, by notify_run: failed or finished).
    `ends_handover`: the decision is about a hand-over's replacement (ready, or failed)."""
    if isinstance(decision, recovery.Ignore):
        return
    telemetry.recovery_decided(
        run.run_id, decision.action, decision.reason.value, ends_handover=ends_handover
    )
    if isinstance(decision, recovery.Stop):
        return
    message = notifications.run_interrupted(run, decision.action, decision.reason.value, decision.detail)
    deps.messaging.send(message)


def _end_for_budget(run_id: str, detail: str, deps: Deps) -> Run:
    """The budget is over: a training run goes FINISHING with the checkpoints so far, FAILED
    without any; an evaluation that has not finished its trials FAILS (no partial result)."""
    now = deps.clock.now()
    reason = recovery.end_reason_text(recovery.Reason.BUDGET_EXHAUSTED, detail)

    def end(run: Run) -> tuple[bool, None]:
        if run.is_terminal or run.state == RunState.FINISHING:
            return False, None
        segment = run.current_segment
        if segment is not None and segment.end_reason is None:
            segment.end_reason = reason
        if run.kind == RunKind.EVALUATE:
            run.fail(f"{reason}; the evaluation did not finish its trials", now)
        elif run.trained_segment is not None and run.state != RunState.PREPARED:
            run.move_to(RunState.FINISHING, now)
            run.awaiting, run.task_token = None, None
        else:
            run.fail(f"{reason}; no checkpoint was written", now)
        return True, None

    run, _ = update_run(deps, run_id, end)
    return run


def _time_is_over(run: Run, now: float, policy: recovery.RecoveryPolicy) -> bool:
    left = budget.left(recovery.run_budget(run, policy), recovery.spent(run, now))
    return left.time_seconds <= 0


def _event(run: Run, kind: recovery.EventKind, now: float, detail: str) -> recovery.RunEvent:
    segment = run.current_segment
    instance_id = None if kind == recovery.EventKind.NO_CAPACITY or segment is None else segment.instance_id
    if kind in recovery.STANDBY_EVENTS and run.standby is not None:
        instance_id = run.standby.instance_id
    if kind == recovery.EventKind.HOST_FAILED and segment is not None:
        detail = detail or segment.host_detail  # a task failure's cause can get lost on the way
    return recovery.RunEvent(kind=kind, at=now, instance_id=instance_id, detail=detail)


def decide_recovery(task: RecoveryInput, deps: Deps) -> RecoveryOutput:
    settings = deps.settings
    policy = recovery.RecoveryPolicy.from_settings(settings)
    now = deps.clock.now()
    error = task.error.Error if task.error else ""
    detail = cause_of(task.error)
    awaiting = Awaiting(task.failed_wait) if task.failed_wait in ("started", "finished", "ready") else None
    decision: recovery.Decision | None = None
    run = deps.runs.get(task.run_id)
    kind = recovery.event_kind_of_error(error, awaiting)
    if error == "States.Timeout" and awaiting == Awaiting.FINISHED and not _time_is_over(run, now, policy):
        # the work wait's own timeout lies past the budget: before that, a timeout is the
        # heartbeat's (the local cloud's Step Functions reports it as States.Timeout)
        kind = recovery.EventKind.HEARTBEAT_TIMEOUT
    if error in BUDGET_ERRORS or (error == "States.Timeout" and kind is None):
        run = _end_for_budget(task.run_id, detail or "the run's time is over", deps)
    else:
        if kind is not None:
            resolved = recovery.resolve(
                _event(run, kind, now, detail),
                load=lambda: deps.runs.get(task.run_id),
                save=deps.runs.save,
                now=now,
                policy=policy,
            )
            run, decision = resolved.run, resolved.decision
            saves = isinstance(decision, recovery.Replace | recovery.Stop) and decision.save_first
            if kind in recovery.STANDBY_EVENTS and saves and run.current_segment is not None:
                # the hand-over's replacement is ready (or failed, or the budget has no room for
                # one): the current host, still training, saves now
                ask_to_save(run, str(run.current_segment.instance_id), kind.value, deps)
            if resolved.task_token and isinstance(decision, recovery.Replace | recovery.Stop):
                # the wait that failed is this machine's own: its token is gone, this is a no-op
                deps.tasks.fail(resolved.task_token, decision.task_error, decision.end_reason)
            report_recovery(run, decision, deps, ends_handover=kind in recovery.STANDBY_EVENTS)
    if isinstance(decision, recovery.Retry):
        step = recovery.Step(action="retry", reason=decision.detail)
        wait_seconds = settings.wall_seconds(decision.after_seconds)
    else:
        step = recovery.next_step(run)
        wait_seconds = settings.wall_seconds(policy.capacity_retry_seconds)
    logger.info(
        "recovery",
        extra={
            "run_id": run.run_id,
            "error": error,
            "decision": decision and decision.action,
            "step": step.action,
        },
    )
    return RecoveryOutput(
        run_id=run.run_id,
        action=step.action,
        save_first=step.save_first,
        launch_first=step.launch_first,
        reason=step.reason or detail or error,
        wait_seconds=wait_seconds,
        awaiting=Awaiting.STARTED if run.state == RunState.BOOTING else Awaiting.FINISHED,
    )
