"""Collect a training run's outcome from S3 over its whole lineage of segments: last and best
checkpoint (of the latest segment that has one), episodes, mean completion, laps completed."""

from __future__ import annotations

from pitwall import drfc_files, layout
from pitwall.lifecycle.deps import Deps
from pitwall.lifecycle.models import CollectOutput, RunRef
from pitwall.runs import TrainingOutcome

MAX_WORKERS = 16  # never read more TrainingMetrics files than this per segment


def collect_outcome(task: RunRef, deps: Deps) -> CollectOutput:
    run = deps.runs.get(task.run_id)
    episodes: list[drfc_files.Episode] = []
    for segment in run.segments:
        model = layout.ModelKeys(segment.model_prefix)
        segment_episodes = 0
        for worker in range(min(segment.workers, MAX_WORKERS)):
            found = drfc_files.training_episodes(
                drfc_files.episodes_of(deps.store.get_json(model.training_metrics(worker)))
            )
            episodes += found
            segment_episodes += len(found)
        segment.episodes = max(segment.episodes, segment_episodes)
    # the model is the latest segment that wrote a checkpoint: a replacement that never trained
    # (the budget ended while it booted) leaves the one before it as the result
    checkpoints = drfc_files.checkpoints_of(None)
    for segment in reversed(run.segments):
        written = drfc_files.checkpoints_of(
            deps.store.get_json(layout.ModelKeys(segment.model_prefix).checkpoints_json)
        )
        if written.last:
            segment.last_checkpoint, checkpoints = written.last, written
            break
    completion = [e.completion_percentage for e in episodes]
    outcome = TrainingOutcome(
        last_checkpoint=checkpoints.last,
        best_checkpoint=checkpoints.best,
        best_metric=checkpoints.best_metric,
        episodes=len(episodes),
        mean_completion_percent=round(sum(completion) / len(completion), 2) if completion else 0.0,
        lap_completions=sum(1 for e in episodes if e.status == drfc_files.LAP_COMPLETE),
    )
    run.outcome = outcome
    run.updated_at = deps.clock.now()
    deps.runs.save(run)  # a RunRecordConflict is retried by the state machine: read again
    return CollectOutput(run_id=run.run_id, outcome=outcome)
