"""Increment: a new model that continues from a trained one (new, empty model prefix; pretrained
= the source's latest segment and checkpoint), with its custom files copied and optionally
changed: the classic step raises every speed of the action space by `speed_factor`."""

from __future__ import annotations

import json

from pitwall import layout
from pitwall.errors import InvalidCustomFiles, NothingToContinueFrom
from pitwall.lifecycle.deps import Deps
from pitwall.lifecycle.models import IncrementInput, TrainInput
from pitwall.runs import PretrainedSource, RunKind, RunState

SPEED_DECIMALS = 2


def scale_speeds(model_metadata: bytes, factor: float) -> bytes:
    """model_metadata.json with every speed of its action space times `factor` (discrete: each
    action; continuous: low and high). Out-of-range results are left for the validator to name."""
    try:
        document = json.loads(model_metadata)
        space = document["action_space"]
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidCustomFiles(
            f"{layout.MODEL_METADATA_FILE}: action_space: cannot read it ({exc})"
        ) from exc
    if isinstance(space, list):
        for action in space:
            action["speed"] = round(float(action["speed"]) * factor, SPEED_DECIMALS)
    elif isinstance(space, dict) and isinstance(space.get("speed"), dict):
        for bound in ("low", "high"):
            space["speed"][bound] = round(float(space["speed"][bound]) * factor, SPEED_DECIMALS)
    else:
        raise InvalidCustomFiles(
            f"{layout.MODEL_METADATA_FILE}: action_space: expected a list of actions or "
            '{"speed": {"low", "high"}, ...}'
        )
    return (json.dumps(document, indent=2) + "\n").encode()


def increment_model(increment: IncrementInput, deps: Deps) -> TrainInput:
    task = increment.request
    source = deps.runs.get(task.source_run_id)
    segment = source.trained_segment  # the latest checkpoint of the source's lineage
    if source.kind != RunKind.TRAIN or source.state != RunState.SUCCEEDED or segment is None:
        raise NothingToContinueFrom(
            f"run {task.source_run_id} is a {source.kind} run in state {source.state}: "
            "an increment needs a training run that succeeded"
        )
    if segment.last_checkpoint is None:
        raise NothingToContinueFrom(f"run {task.source_run_id} wrote no checkpoint to continue from")
    unknown = sorted(set(task.custom_files) - set(layout.CUSTOM_FILES))
    if unknown:
        raise InvalidCustomFiles(
            f"custom_files: unknown file(s) {unknown}; allowed: {list(layout.CUSTOM_FILES)}"
        )
    target = layout.RunKeys(increment.run_id)
    for name in layout.CUSTOM_FILES:
        if name in task.custom_files:
            body = task.custom_files[name].encode()
        else:
            original = deps.store.get_bytes(source.keys.custom_file(name))
            if original is None:
                raise NothingToContinueFrom(
                    f"run {source.run_id}: {source.keys.custom_file(name)} is missing"
                )
            body = original
        if name == layout.MODEL_METADATA_FILE and task.speed_factor != 1.0:
            body = scale_speeds(body, task.speed_factor)
        deps.store.put_bytes(target.custom_file(name), body)
    request = source.request.model_copy(
        update={
            "model_name": task.model_name or increment.run_id[:64],
            "evaluate_after": task.evaluate_after,
            "import_after": task.import_after,
            # the parent's schedules, unless told otherwise: made again for the new model's run
            "evaluations": source.request.evaluations if task.evaluations is None else task.evaluations,
            "time_budget_minutes": task.time_budget_minutes or source.request.time_budget_minutes,
            "pretrained": PretrainedSource(model_prefix=segment.model_prefix, checkpoint=task.checkpoint),
        }
    )
    return TrainInput(
        run_id=increment.run_id, request=request, custom_files_prefix=target.custom_files_prefix
    )
