"""Prepare a run: its record (once per run id), its custom files and DRFC settings in S3."""

from __future__ import annotations

from pitwall import layout, recovery
from pitwall.errors import InvalidRunRequest, NothingToContinueFrom, RunAlreadyStarted, RunNotFound
from pitwall.lifecycle import drfc, metrics
from pitwall.lifecycle.deps import Deps
from pitwall.lifecycle.models import EvaluatePlan, Plan, PrepareEvaluationInput, PrepareInput
from pitwall.runs import Run, RunKind, RunState

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
    return _plan(run, deps, _time_budget_seconds(run, deps) + deps.settings.boot_timeout_seconds)


def checkpoint_to_evaluate(model_prefix: str, which: str | int, deps: Deps) -> str | None:
    """The name of a model's `best`, `last` or numbered checkpoint, if it is (still) in S3: the
    trainer keeps only its newest few and the best."""
    model = layout.ModelKeys(model_prefix)
    if isinstance(which, int):
        names = {
            key.rsplit("/", 1)[1].removesuffix(".index")
            for key in deps.store.list_keys(model.model_folder)
            if key.endswith(".ckpt.index")
        }
        numbered = [n for n in names if layout.is_checkpoint_name(n) and layout.checkpoint_number(n) == which]
        name = numbered[0] if numbered else None
    else:
        found = metrics.checkpoints_of(deps.store.get_json(model.checkpoints_json))
        name = found.best if which == "best" else found.last
    if name is None or not all(deps.store.exists(key) for key in model.checkpoint_files(name)):
        return None
    return name


def _copy_checkpoint(source_prefix: str, name: str, target_prefix: str, deps: Deps) -> None:
    """One checkpoint as a model of its own (last = best = it), as DRFC reads a model."""
    source, target = layout.ModelKeys(source_prefix), layout.ModelKeys(target_prefix)
    for source_key, target_key in zip(
        source.checkpoint_files(name), target.checkpoint_files(name), strict=True
    ):
        deps.store.copy(source_key, target_key)
    deps.store.copy(source.model_metadata, target.model_metadata)
    record = {"name": name, "time_stamp": deps.clock.now(), "avg_eval_metric": 0.0}
    deps.store.put_text(target.coach_checkpoint, name)
    deps.store.put_json(target.checkpoints_json, {"best_checkpoint": record, "last_checkpoint": record})


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
    run = Run(
        run_id=task.evaluation_id,
        kind=RunKind.EVALUATE,
        request=source.request.model_copy(update={"evaluate_after": None, "pretrained": None}),
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
        _copy_checkpoint(trained.model_prefix, run.evaluated_checkpoint, target, deps)
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
