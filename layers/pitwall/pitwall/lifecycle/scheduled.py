"""Scheduled evaluations at run time: a run's schedules are created when it is prepared and
deleted when it ends (those that end with it); each firing starts an evaluation of the model's
newest checkpoint, or records on the run why it started none:

- the previous evaluation of the same model is still running: an Evaluate execution runs on it
  (no pile-up);
- the checkpoint is the one the last evaluation on each of the schedule's tracks evaluated
  (no waste), unless the schedule says `repeat`;
- the model has no checkpoint yet, or its run ended or used its time (a schedule that ends
  with it then deletes itself: the run's NotifyRun may be late or lost);
- the run has no money left beside what its training will still cost: a firing reserves its
  evaluation's money on the run (`budget.evaluation_money`) until the evaluation ends and charges
  its cost; one that ended charging nothing has its reservation released by its failure (to
  prepare), the model's next firing (a start that failed) or its run's end.
"""

from __future__ import annotations

import contextlib

from pitwall import budget, recovery
from pitwall.errors import BudgetExhausted, RunNotFound
from pitwall.lifecycle.checkpoints import checkpoint_to_evaluate
from pitwall.lifecycle.deps import Deps
from pitwall.lifecycle.models import EvaluateInput, FiringOutput
from pitwall.lifecycle.records import update_run
from pitwall.observability import logger
from pitwall.runs import Run, RunKind
from pitwall.schedules import EvaluationSchedule, ScheduleFiring, ScheduleSpec, schedule_id_for

# A firing is written on the run before its Evaluate execution starts, so that a firing of the
# model's other schedule at the same moment sees it. Until that execution exists, for this much
# wall time at most, its evaluation counts as starting: a start that failed leaves none, and a
# Lambda retry, a minute later or more, then finds the model free.
STARTING_WALL_SECONDS = 30


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


def evaluation_cost(evaluation: Run, now: float) -> float:
    return round(sum(segment.cost_usd(now) for segment in evaluation.segments), 6)


def charge_evaluation(evaluation: Run, deps: Deps, now: float) -> None:
    """Record what an ended evaluation cost on its model's run, in place of the money its firing
    reserved (once: keyed by its id)."""
    cost = evaluation_cost(evaluation, now)

    def charge(source: Run) -> tuple[bool, None]:
        reserved = source.evaluation_reservations.pop(evaluation.run_id, None)
        changed = reserved is not None or source.evaluation_costs.get(evaluation.run_id) != cost
        source.evaluation_costs[evaluation.run_id] = cost
        return changed, None

    update_run(deps, evaluation.source_run_id or "", charge)


def uncommitted_money(source: Run, cap_usd: float | None, deps: Deps, now: float) -> float | None:
    """What an evaluation of `source` may spend now: `budget.evaluation_money` on its record."""
    return budget.evaluation_money(
        recovery.run_budget(source, recovery.RecoveryPolicy.from_settings(deps.settings)),
        recovery.spent(source, now),
        training_committed_usd=source.training_committed_usd(now),
        cap_usd=cap_usd,
    )


def _live_evaluations(run: Run, deps: Deps, now: float) -> list[str]:
    """The model's evaluations running now: the Evaluate executions running on it, whoever
    started them (a schedule, `evaluate_after`, the CLI), and its firings still starting."""
    machine = deps.settings.evaluate_state_machine_arn
    running = {
        name
        for name, task in deps.machines.running(machine).items()
        if task.get("source_run_id") == run.run_id
    }
    recent = now - STARTING_WALL_SECONDS * deps.settings.clock_scale
    starting = {
        firing.evaluation_run_id
        for firing in run.schedule_firings
        if firing.evaluation_run_id is not None
        and firing.at >= recent
        and firing.evaluation_run_id not in running
        and deps.machines.status(machine, firing.evaluation_run_id) is None
    }
    return sorted(running | starting)


def _settle_reservations(run: Run, live: list[str], deps: Deps, now: float) -> None:
    """Release the money reserved for evaluations no longer running whose end charged nothing (a
    start or a PrepareEvaluation that failed): their record's cost, if they made one, else 0."""
    for evaluation_id in [e for e in run.evaluation_reservations if e not in live]:
        del run.evaluation_reservations[evaluation_id]
        if evaluation_id in run.evaluation_costs:
            continue
        try:
            made = deps.runs.get(evaluation_id)
        except RunNotFound:
            continue  # never prepared: it launched nothing
        run.evaluation_costs[evaluation_id] = evaluation_cost(made, now)


def release_reservation(source_run_id: str, evaluation_id: str, deps: Deps) -> None:
    """Free what a firing reserved for an evaluation that failed before it had a record (it
    launched nothing, so it charges nothing)."""

    def release(source: Run) -> tuple[bool, None]:
        return source.evaluation_reservations.pop(evaluation_id, None) is not None, None

    with contextlib.suppress(RunNotFound):
        update_run(deps, source_run_id, release)


def settle_ended_run(run: Run, deps: Deps) -> Run:
    """A training run ended: release what its firings reserved for evaluations no longer running
    that charged nothing (a next firing would have, but none may come); an evaluation still
    running keeps its reservation until it ends and charges its cost."""
    now = deps.clock.now()

    def settle(latest: Run) -> tuple[bool, None]:
        before = dict(latest.evaluation_reservations), dict(latest.evaluation_costs)
        if latest.evaluation_reservations:
            _settle_reservations(latest, _live_evaluations(latest, deps, now), deps, now)
        return (latest.evaluation_reservations, latest.evaluation_costs) != before, None

    settled, _ = update_run(deps, run.run_id, settle)
    return settled


def _already_evaluated(run: Run, schedule: EvaluationSchedule, checkpoint: str) -> bool:
    """Whether the last evaluation on each of the schedule's legs evaluated this checkpoint."""
    for leg in schedule.legs(run.request.track):
        results = [r for r in run.evaluations if (r.track, r.direction) == (leg.track, leg.direction)]
        latest = max(results, key=lambda r: r.evaluated_at or 0.0, default=None)
        if latest is None or latest.checkpoint_name != checkpoint:
            return False
    return True


def run_over(run: Run, deps: Deps, now: float) -> str | None:
    """Why a schedule that ends with this run should end now: the run ended, or used its time
    (its NotifyRun, which deletes its schedules, may be late or lost)."""
    if run.is_terminal:
        return f"run {run.run_id} has ended"
    time_left = budget.left(
        recovery.run_budget(run, recovery.RecoveryPolicy.from_settings(deps.settings)),
        recovery.spent(run, now),
    ).time_seconds
    if time_left <= 0:
        return f"run {run.run_id} is past its time budget"
    return None


def skip_reason(
    run: Run, schedule: EvaluationSchedule, checkpoint: str | None, live: list[str], over: str | None
) -> str | None:
    if run.kind != RunKind.TRAIN:
        return f"run {run.run_id} is not a training run"
    if over is not None and schedule.ends_with_run:
        return over
    if live:
        return f"the previous evaluation of this model ({', '.join(live)}) is still running"
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
        # second reads again and sees the first one's evaluation starting
        live = _live_evaluations(latest, deps, now)
        _settle_reservations(latest, live, deps, now)
        reason = skip_reason(latest, schedule, checkpoint, live, run_over(latest, deps, now))
        if reason is None and latest.request.money_budget_usd is not None:
            try:  # the evaluation's money, reserved on the run until it ends and charges its cost
                reserved = uncommitted_money(latest, schedule.max_usd, deps, now)
                latest.evaluation_reservations[evaluation_id] = reserved or 0.0
            except BudgetExhausted as exc:
                reason = str(exc)
        firing = ScheduleFiring(
            schedule_id=schedule.schedule_id,
            at=now,
            evaluation_run_id=None if reason else evaluation_id,
            skipped=reason,
            checkpoint_name=checkpoint,
        )
        latest.record_firing(firing)
        return True, firing

    # recorded before the start: a firing at the same moment sees the evaluation starting
    latest, firing = update_run(deps, run.run_id, record)
    if schedule.ends_with_run and run_over(latest, deps, now) is not None:
        deps.schedules.delete(schedule.schedule_id)  # it would fire in vain until its end date
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
