"""Collect an evaluation's metrics (the newest evaluation JSON under the model prefix) into the
evaluation run and into the trained run's record."""

from __future__ import annotations

from pitwall import drfc_files, layout
from pitwall.errors import HostFailed
from pitwall.lifecycle import telemetry
from pitwall.lifecycle.deps import Deps
from pitwall.lifecycle.models import EvaluateOutput, RunRef
from pitwall.lifecycle.records import update_run
from pitwall.runs import EvaluationRequest, EvaluationResult, Run


def evaluate_outcome(task: RunRef, deps: Deps) -> EvaluateOutput:
    run = deps.runs.get(task.run_id)
    segment = run.current_segment
    if segment is None or run.source_run_id is None:
        raise HostFailed(f"evaluation run {run.run_id} has no segment to collect")
    model = layout.ModelKeys(segment.model_prefix)
    keys = sorted(deps.store.list_keys(model.evaluation_metrics_folder))
    if not keys:
        raise HostFailed(
            f"evaluation run {run.run_id}: no evaluation metrics under {model.evaluation_metrics_folder}"
        )
    summary = drfc_files.evaluation_summary(deps.store.get_json(keys[-1]))
    request = run.evaluation or EvaluationRequest()
    result = EvaluationResult(
        evaluation_run_id=run.run_id,
        checkpoint=request.checkpoint,
        track=request.track or run.request.track,
        trials=summary.trials,
        lap_times_seconds=summary.lap_times_seconds,
        mean_completion_percent=summary.mean_completion_percent,
        off_track_count=summary.off_track_count,
        crash_count=summary.crash_count,
        completed_laps=summary.completed_laps,
    )
    run.evaluations = [result]
    run.updated_at = deps.clock.now()
    deps.runs.save(run)

    def add_result(source: Run) -> tuple[bool, None]:
        source.evaluations = [e for e in source.evaluations if e.evaluation_run_id != run.run_id] + [result]
        return True, None

    update_run(deps, run.source_run_id, add_result)
    telemetry.evaluated(run.run_id, run.request.model_name, result.completed_laps, result.best_lap_seconds)
    return EvaluateOutput(run_id=run.run_id, result=result)
