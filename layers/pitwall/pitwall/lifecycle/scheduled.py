"""Scheduled evaluations at run time: a run's schedules are created when it is prepared and
deleted when it ends (those that end with it); each firing starts an evaluation of the model's
newest checkpoint, or records on the run why it started none:

- the previous evaluation of the same model is still running (no pile-up);
- the checkpoint is the one the last evaluation on each of the schedule's tracks evaluated
  (no waste), unless the schedule says `repeat`;
- the model has no checkpoint yet, or its run ended.
"""

from __future__ import annotations

from pitwall.errors import RunNotFound
from pitwall.lifecycle.checkpoints import checkpoint_to_evaluate
from pitwall.lifecycle.deps import Deps
from pitwall.lifecycle.models import EvaluateInput, FiringOutput
from pitwall.lifecycle.records import update_run
from pitwall.observability import logger
from pitwall.runs import Run, RunKind
from pitwall.schedules import EvaluationSchedule, ScheduleFiring, ScheduleSpec, schedule_id_for


def schedule_of(run: Run, spec: ScheduleSpec, suffix: str) -> EvaluationSchedule:
    return EvaluationSchedule(
        **spec.model_dump(),
        schedule_id=schedule_id_for(run.run_id, suffix),
        source_run_id=run.run_id,
        model_name=run.request.model_name,
    )


def create_run_schedules(run: Run, deps: Deps) -> list[str]:
    """The schedules a run request asks for (`evaluations`); a retry finds them made."""
    made = []
    for index, spec in enumerate(run.request.evaluations):
        schedule = schedule_of(run, spec, f"e{index}")
        deps.schedules.create(schedule, deps.clock.now())
        made.append(schedule.schedule_id)
    return made


def end_run_schedules(run: Run, deps: Deps) -> list[str]:
    """Delete the schedules that end with this run."""
    ended = [s.schedule_id for s in deps.schedules.of_run(run.run_id) if s.ends_with_run]
    for schedule_id in ended:
        deps.schedules.delete(schedule_id)
    return ended


def charge_evaluation(evaluation: Run, deps: Deps, now: float) -> None:
    """Record what an ended evaluation cost on its model's run (once: keyed by its id)."""
    cost = round(sum(segment.cost_usd(now) for segment in evaluation.segments), 6)

    def charge(source: Run) -> tuple[bool, None]:
        changed = source.evaluation_costs.get(evaluation.run_id) != cost
        source.evaluation_costs[evaluation.run_id] = cost
        return changed, None

    update_run(deps, evaluation.source_run_id or "", charge)


def _live_evaluation(run: Run, deps: Deps) -> str | None:
    """The model's scheduled evaluation still running, if any (its record is not terminal)."""
    ids = {f.evaluation_run_id for f in run.schedule_firings if f.evaluation_run_id}
    for evaluation_id in sorted(ids):
        try:
            evaluation = deps.runs.get(evaluation_id)
        except RunNotFound:  # started, not prepared yet: it is running
            return evaluation_id
        if not evaluation.is_terminal:
            return evaluation_id
    return None


def _already_evaluated(run: Run, schedule: EvaluationSchedule, checkpoint: str) -> bool:
    """Whether the last evaluation on each of the schedule's legs evaluated this checkpoint."""
    for leg in schedule.legs(run.request.track):
        results = [r for r in run.evaluations if (r.track, r.direction) == (leg.track, leg.direction)]
        latest = max(results, key=lambda r: r.evaluated_at or 0.0, default=None)
        if latest is None or latest.checkpoint_name != checkpoint:
            return False
    return True


def skip_reason(
    run: Run, schedule: EvaluationSchedule, checkpoint: str | None, live: str | None
) -> str | None:
    if run.kind != RunKind.TRAIN:
        return f"run {run.run_id} is not a training run"
    if run.is_terminal and schedule.ends_with_run:
        return f"run {run.run_id} has ended"
    if live is not None:
        return f"the previous evaluation of this model ({live}) is still running"
    if checkpoint is None:
        return f"no checkpoint {schedule.checkpoint!r} to evaluate yet"
    if not schedule.repeat and _already_evaluated(run, schedule, checkpoint):
        return f"checkpoint {checkpoint} has not changed since its last evaluation on these tracks"
    return None


def fire_schedule(schedule: EvaluationSchedule, deps: Deps) -> FiringOutput:
    now = deps.clock.now()
    run = deps.runs.get(schedule.source_run_id)
    trained = run.trained_segment
    checkpoint = checkpoint_to_evaluate(trained.model_prefix, schedule.checkpoint, deps) if trained else None
    evaluation_id = f"{schedule.schedule_id}-{int(now)}"

    def record(latest: Run) -> tuple[bool, ScheduleFiring]:
        # decided on the record it is written to: of two firings at once, the one that writes
        # second reads again and sees the first one's evaluation running
        reason = skip_reason(latest, schedule, checkpoint, _live_evaluation(latest, deps))
        firing = ScheduleFiring(
            schedule_id=schedule.schedule_id,
            at=now,
            evaluation_run_id=None if reason else evaluation_id,
            skipped=reason,
            checkpoint_name=checkpoint,
        )
        latest.record_firing(firing)
        return True, firing

    # recorded before the start: a later firing sees the evaluation as running
    _, firing = update_run(deps, run.run_id, record)
    if firing.evaluation_run_id is not None:
        payload = EvaluateInput(
            source_run_id=run.run_id,
            # the checkpoint checked above, by name: a newer one may come while this one starts
            evaluation=schedule.evaluation().model_copy(update={"checkpoint": checkpoint}),
        )
        deps.machines.start(
            deps.settings.evaluate_state_machine_arn,
            firing.evaluation_run_id,
            payload.model_dump(mode="json"),
        )
    logger.info("schedule fired", extra=firing.model_dump())
    return FiringOutput(**firing.model_dump())
