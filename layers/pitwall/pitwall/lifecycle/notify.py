"""Record a run's ending (succeeded, or failed with the reason), tell the racer (SNS) and emit the
event that may start the next lifecycle (EventBridge)."""

from __future__ import annotations

import contextlib
import json

from pitwall import layout, notifications
from pitwall.errors import InvalidEvent, RunNotFound
from pitwall.lifecycle import events, scheduled, telemetry
from pitwall.lifecycle.deps import Deps
from pitwall.lifecycle.models import ErrorInfo, EvaluateInput, ImportInput, NotifyInput, NotifyOutput
from pitwall.runs import Run, RunKind, RunState, summarize


def failure_reason(error: ErrorInfo | None, run: Run | None) -> str | None:
    """`Error: cause`; when the cause got lost on the way, what the run's segment recorded."""
    if error is None:
        return None
    segment = run.current_segment if run else None
    cause = error.Cause or (segment.end_reason if segment and segment.end_reason else "") or ""
    with contextlib.suppress(ValueError, AttributeError):  # a Lambda error's cause: JSON, errorMessage
        cause = json.loads(cause).get("errorMessage", cause)
    return f"{error.Error}: {cause}".strip().rstrip(":")


def import_wanted(run: Run) -> ImportInput | None:
    """The Import machine's input when this run's ending asks for one: a training run whose request
    imports after training; an evaluation (of the trained run) that reached the completion the
    request names, when it imports after evaluation: the checkpoint that evaluation ran."""
    wanted = run.request.import_after
    if wanted is None:
        return None
    trained_run, checkpoint = run.run_id, wanted.checkpoint
    if run.kind == RunKind.EVALUATE:
        minimum = wanted.min_completion_percent
        if wanted.after != "evaluation" or not run.evaluations or run.source_run_id is None:
            return None
        # an evaluation of several tracks reaches the completion when each of its legs does
        if minimum is not None and any(r.mean_completion_percent < minimum for r in run.evaluations):
            return None
        trained_run = run.source_run_id
        if run.evaluated_checkpoint:  # by number: the trained segment it came from is the latest with it
            checkpoint = str(layout.checkpoint_number(run.evaluated_checkpoint))
    elif wanted.after != "training":
        return None
    return ImportInput(
        run_id=trained_run,
        checkpoint=checkpoint,
        model_name=wanted.model_name,
        description=wanted.description,
    )


def _import_fields(run: Run) -> dict[str, object]:
    wanted = import_wanted(run)
    return {
        "import_requested": wanted is not None,
        "import": wanted.model_dump(mode="json", exclude_none=True) if wanted else None,
    }


def _event_of(run: Run) -> tuple[str, dict[str, object]]:
    if run.state == RunState.FAILED:
        return events.RUN_FAILED, {"run_id": run.run_id, "kind": run.kind.value, "reason": run.failure}
    if run.kind == RunKind.EVALUATE:
        return events.MODEL_EVALUATED, {
            "run_id": run.run_id,
            "source_run_id": run.source_run_id,
            "results": [result.model_dump(mode="json") for result in run.evaluations],
            **_import_fields(run),
        }
    wanted = run.request.evaluate_after
    evaluation = (
        EvaluateInput(source_run_id=run.run_id, evaluation=wanted).model_dump(mode="json") if wanted else None
    )
    return events.MODEL_TRAINED, {
        "run_id": run.run_id,
        "model_name": run.request.model_name,
        "model_prefix": trained.model_prefix if (trained := run.trained_segment) else None,
        "outcome": run.outcome.model_dump(mode="json") if run.outcome else None,
        "evaluation_requested": evaluation is not None,
        "evaluation": evaluation,
        **_import_fields(run),
    }


def notify_run(task: NotifyInput, deps: Deps) -> NotifyOutput:
    now = deps.clock.now()
    try:
        run = deps.runs.get(task.run_id)
    except RunNotFound:
        if task.error is None:
            raise  # only a failure can come before the record: nothing to tell anyone
        # e.g. invalid custom files: the run never got a record
        reason = failure_reason(task.error, None)
        if task.source_run_id is not None:  # an evaluation that failed to prepare
            scheduled.release_reservation(task.source_run_id, task.run_id, deps)
        message_id = deps.messaging.send(notifications.run_rejected(task.run_id, reason or ""))
        return NotifyOutput(
            run_id=task.run_id, state=None, reason=reason or "", message_id=message_id, event=None
        )
    if run.execution_id is not None and run.execution_id != task.execution_id:
        raise InvalidEvent(
            f"NotifyInput: execution_id: run {run.run_id} belongs to execution {run.execution_id}, "
            f"not {task.execution_id}"
        )
    reason = failure_reason(task.error, run)
    if reason is not None:
        run.fail(reason, now)
    elif not run.is_terminal:
        if run.state == RunState.RUNNING:
            run.move_to(RunState.FINISHING, now)
        run.move_to(RunState.SUCCEEDED, now)
    run.awaiting, run.task_token = None, None
    run = deps.runs.save(run)
    # scheduled evaluations: a training's schedules end with it, and so do the reservations of
    # its evaluations no longer running; an evaluation's cost is its model's run's to bear
    if run.kind == RunKind.TRAIN:
        scheduled.end_run_schedules(run, deps)
        run = scheduled.settle_ended_run(run, deps)
    elif run.source_run_id is not None:
        scheduled.charge_evaluation(run, deps, now)
    summary = summarize(run, now)
    telemetry.run_ended(run.run_id, run.request.model_name, run.state == RunState.SUCCEEDED, summary.cost_usd)
    message = (
        notifications.run_finished(run, now)
        if run.state == RunState.SUCCEEDED
        else notifications.run_failed(run, now)
    )
    message_id = deps.messaging.send(message)
    detail_type, detail = _event_of(run)
    deps.messaging.put_event(detail_type, detail)
    return NotifyOutput(
        run_id=run.run_id, state=run.state, reason=run.failure or "", message_id=message_id, event=detail_type
    )
