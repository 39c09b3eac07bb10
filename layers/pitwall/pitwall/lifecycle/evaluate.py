"""Collect an evaluation's results, one per leg (track, direction): each leg's evaluation
metrics file, as its host recorded it (`layout.RunKeys.evaluation_leg`), into the evaluation
run and into the trained run's record."""

from __future__ import annotations

from pitwall import drfc_files, notifications
from pitwall.errors import HostFailed
from pitwall.host.protocol import EvaluationLegDone
from pitwall.lifecycle import telemetry
from pitwall.lifecycle.deps import Deps
from pitwall.lifecycle.models import EvaluateOutput, RunRef
from pitwall.lifecycle.records import update_run
from pitwall.runs import EvaluationRequest, EvaluationResult, Run


def evaluate_outcome(task: RunRef, deps: Deps) -> EvaluateOutput:
    run = deps.runs.get(task.run_id)
    if run.current_segment is None or run.source_run_id is None:
        raise HostFailed(f"evaluation run {run.run_id} has no segment to collect")
    request = run.evaluation or EvaluationRequest()
    results: list[EvaluationResult] = []
    missing: list[str] = []
    for index, leg in enumerate(request.legs(run.request.track)):
        record = deps.store.get_json(run.keys.evaluation_leg(index))
        if record is None:
            missing.append(leg.label)
            continue
        done = EvaluationLegDone.from_dict(record)
        summary = drfc_files.evaluation_summary(deps.store.get_json(done.metrics_key))
        results.append(
            EvaluationResult(
                evaluation_run_id=run.run_id,
                checkpoint=request.checkpoint,
                checkpoint_name=run.evaluated_checkpoint,
                track=leg.track,
                direction=leg.direction,
                evaluated_at=done.finished_at_epoch,
                trials=summary.trials,
                lap_times_seconds=summary.lap_times_seconds,
                mean_completion_percent=summary.mean_completion_percent,
                off_track_count=summary.off_track_count,
                crash_count=summary.crash_count,
                completed_laps=summary.completed_laps,
                reset_count=summary.reset_count,
            )
        )
    if missing:  # the host said finished, yet a leg has no result: its time budget ended first
        raise HostFailed(f"evaluation run {run.run_id}: no result for {', '.join(missing)}")
    run.evaluations = results
    run.updated_at = deps.clock.now()
    deps.runs.save(run)

    def add_results(source: Run) -> tuple[bool, list[tuple[EvaluationResult, float | None]]]:
        earlier = [e for e in source.evaluations if e.evaluation_run_id != run.run_id]
        source.evaluations = earlier + results
        return True, new_best_laps(earlier, results)

    source, records = update_run(deps, run.source_run_id, add_results)
    for result in results:
        telemetry.evaluated(
            run.run_id, run.request.model_name, result.completed_laps, result.best_lap_seconds
        )
    model = source.request.model_name
    for result, before in records:
        track = f"{result.track} ({result.direction})"
        lap = result.best_lap_seconds or 0.0
        message = notifications.evaluation_best_lap(model, source.run_id, track, lap, before)
        deps.messaging.send(message)
    return EvaluateOutput(run_id=run.run_id, results=results)


def new_best_laps(
    earlier: list[EvaluationResult], results: list[EvaluationResult]
) -> list[tuple[EvaluationResult, float | None]]:
    """The results that set a model's best lap on their track and direction, with the best before."""
    records = []
    for result in results:
        lap = result.best_lap_seconds
        if lap is None:
            continue
        before = [
            e.best_lap_seconds
            for e in earlier
            if (e.track, e.direction) == (result.track, result.direction) and e.best_lap_seconds is not None
        ]
        best_before = min(before) if before else None
        if best_before is None or lap < best_before:
            records.append((result, best_before))
    return records
