"""Prepare a run: its record (once per run id), its custom files and DRFC settings in S3."""

from __future__ import annotations

from pitwall import layout, recovery
from pitwall.errors import (
    InvalidRunRequest,
    NothingToContinueFrom,
    RunAlreadyStarted,
    RunNotFound,
)
from pitwall.lifecycle import drfc, scheduled
from pitwall.lifecycle.checkpoints import checkpoint_to_evaluate, copy_checkpoint
from pitwall.lifecycle.deps import Deps
from pitwall.lifecycle.models import EvaluatePlan, Plan, PrepareEvaluationInput, PrepareInput
from pitwall.runs import EvaluationRequest, Run, RunKind, RunState

# Beyond the run's time budget, how long the work wait may last before Step Functions gives up
# (the host's own shutdown timer and the budget end training before).
WORK_TIMEOUT_GRACE_SECONDS = 30 * 60
# How long a replaced spot host may take to upload its latest checkpoint: the two-minute warning
# and a little more (the run goes on without the save after that, from the checkpoint before).
SAVE_TIMEOUT_SECONDS = 150
# Whatever the clock scale, a save takes a few Lambda and S3 round trips of wall time (the local
# cloud's accelerated clock would leave it under a second).
MIN_SAVE_TIMEOUT_WALL_SECONDS = 5


def _plan(run: Run, deps: Deps, work_seconds: float) -> Plan:
    settings = deps.settings
    return Plan(
        run_id=run.run_id,
        kind=run.kind,
        boot_timeout_seconds=settings.wall_seconds(settings.boot_timeout_seconds),
        heartbeat_seconds=settings.wall_seconds(settings.heartbeat_window_seconds),
        work_timeout_seconds=settings.wall_seconds(work_seconds + WORK_TIMEOUT_GRACE_SECONDS),
        save_timeout_seconds=max(MIN_SAVE_TIMEOUT_WALL_SECONDS, settings.wall_seconds(SAVE_TIMEOUT_SECONDS)),
    )


def _time_budget_seconds(run: Run, deps: Deps) -> float:
    return recovery.run_budget(run, recovery.RecoveryPolicy.from_settings(deps.settings)).time_seconds


def _exists(run_id: str, deps: Deps) -> bool:
    try:
        deps.runs.get(run_id)
    except RunNotFound:
        return False
    return True


def _claim(run: Run, deps: Deps) -> Run:
    """Create the record, or return it when this very execution created it before (a retry)."""
    if deps.runs.create(run):
        return run
    existing = deps.runs.get(run.run_id)
    if existing.execution_id != run.execution_id:
        raise RunAlreadyStarted(f"run {run.run_id} belongs to execution {existing.execution_id}")
    return existing


def prepare_run(task: PrepareInput, deps: Deps) -> Plan:
    now = deps.clock.now()
    first_prefix = layout.segment_model_prefix(task.request.model_name, 0)
    run = Run(
        run_id=task.run_id,
        kind=RunKind.TRAIN,
        request=task.request,
        created_at=now,
        updated_at=now,
        execution_id=task.execution_id,
        custom_files_prefix=layout.RunKeys(task.run_id).custom_files_prefix,
    )
    if not _exists(run.run_id, deps) and deps.store.list_keys(first_prefix + "/"):
        raise InvalidRunRequest(
            f"run request of {task.run_id}: model_name {task.request.model_name!r} is taken "
            f"(s3://{deps.settings.model_bucket}/{first_prefix}/ holds data); choose a new model_name"
        )
    run = _claim(run, deps)
    if run.state == RunState.PREPARED:
        keys = run.keys
        for name in layout.CUSTOM_FILES:
            source = layout.custom_file_key(task.custom_files_prefix, name)
            if source != keys.custom_file(name):
                deps.store.copy(source, keys.custom_file(name))
        deps.store.put_json(keys.prefix + "run-request.json", task.request.model_dump(mode="json"))
        scheduled.create_run_schedules(run, deps)
    return _plan(run, deps, _time_budget_seconds(run, deps) + deps.settings.boot_timeout_seconds)


def evaluation_money(
    source: Run, evaluation: EvaluationRequest, evaluation_id: str, deps: Deps
) -> float | None:
    """An evaluation's money budget: what its schedule's firing reserved for it on its model's
    run, else its own cap within what that run has not committed (the run's instances and its
    evaluations spend one budget)."""
    reserved = source.evaluation_reservations.get(evaluation_id)
    if reserved is not None:
        return reserved
    return scheduled.uncommitted_money(source, evaluation.max_usd, deps, deps.clock.now())


def _fired_by_schedule(source: Run, evaluation_id: str) -> bool:
    """Whether a schedule started this evaluation (a firing is recorded before its start)."""
    return any(f.evaluation_run_id == evaluation_id for f in source.schedule_firings)


def prepare_evaluation(task: PrepareEvaluationInput, deps: Deps) -> EvaluatePlan:
    """An evaluation is a run of its own (kind evaluate) over a copy of the checkpoint under
    test (`layout.evaluation_model_prefix`): its training may go on, and delete old checkpoints,
    meanwhile."""
    source = deps.runs.get(task.source_run_id)
    trained = source.trained_segment
    if source.kind != RunKind.TRAIN or trained is None:
        raise NothingToContinueFrom(f"run {task.source_run_id} has no trained checkpoint to evaluate")
    now = deps.clock.now()
    evaluation = task.evaluation.model_copy(update={"tracks": task.evaluation.legs(source.request.track)})
    # only the evaluation the finished training's evaluate_after started imports (a model still
    # training cannot be imported; a schedule's firings import nothing); the import keeps the
    # evaluate_after it needs (RunRequest's rule)
    imports = source.is_terminal and not _fired_by_schedule(source, task.evaluation_id)
    carried = source.request.import_after if imports else None
    request = source.request.model_copy(
        update={
            "evaluate_after": source.request.evaluate_after if carried else None,
            "pretrained": None,
            "evaluations": [],
            "money_budget_usd": evaluation_money(source, evaluation, task.evaluation_id, deps),
            "import_after": carried,
        }
    )
    run = Run(
        run_id=task.evaluation_id,
        kind=RunKind.EVALUATE,
        request=request,
        created_at=now,
        updated_at=now,
        execution_id=task.execution_id,
        custom_files_prefix=source.custom_files_prefix,
        evaluation=evaluation,
        source_run_id=source.run_id,
    )
    if not _exists(run.run_id, deps):
        name = checkpoint_to_evaluate(trained.model_prefix, evaluation.checkpoint, deps)
        if name is None:
            raise NothingToContinueFrom(
                f"run {source.run_id}: checkpoint {evaluation.checkpoint!r} is not (or no longer) under "
                f"s3://{deps.settings.model_bucket}/{trained.model_prefix}/model/"
            )
        run.evaluated_checkpoint = name
    run = _claim(run, deps)
    if run.state == RunState.PREPARED and run.evaluated_checkpoint:
        for file in layout.CUSTOM_FILES:
            deps.store.copy(source.keys.custom_file(file), run.keys.custom_file(file))
        target = layout.evaluation_model_prefix(run.request.model_name, run.run_id)
        copy_checkpoint(trained.model_prefix, run.evaluated_checkpoint, target, deps)
    # an evaluation gets the default time budget; trials end it long before
    plan = _plan(run, deps, deps.settings.default_time_budget_minutes * 60.0)
    return EvaluatePlan(**plan.model_dump(), source_run_id=source.run_id)


def segment_prefix_for(run: Run, deps: Deps) -> str:
    """A new segment's model prefix: a new, empty one for training; the evaluation's own copy of
    its checkpoint for an evaluation."""
    if run.kind == RunKind.EVALUATE:
        return layout.evaluation_model_prefix(run.request.model_name, run.run_id)
    return layout.segment_model_prefix(run.request.model_name, len(run.segments))


def render_settings_files(
    run: Run, run_settings: dict[str, str], system_settings: dict[str, str], deps: Deps
) -> None:
    """run.env and system.env beside the run's spec, for the racer to read (the host renders its own)."""
    deps.store.put_text(run.keys.run_env, drfc.render_env(run_settings))
    deps.store.put_text(run.keys.system_env, drfc.render_env(system_settings))
