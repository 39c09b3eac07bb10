"""Which checkpoint of a model an evaluation evaluates, and its copy as a model of its own."""

from __future__ import annotations

from pitwall import drfc_files, layout
from pitwall.lifecycle.deps import Deps


def checkpoint_to_evaluate(model_prefix: str, which: str | int, deps: Deps) -> str | None:
    """The name of a model's `best`, `last`, numbered or named checkpoint, if it is (still) in S3:
    the trainer keeps only its newest few and the best."""
    model = layout.ModelKeys(model_prefix)
    if isinstance(which, str) and layout.is_checkpoint_name(which):
        name: str | None = which
    elif isinstance(which, int):
        names = {
            key.rsplit("/", 1)[1].removesuffix(".index")
            for key in deps.store.list_keys(model.model_folder)
            if key.endswith(".ckpt.index")
        }
        numbered = [n for n in names if layout.is_checkpoint_name(n) and layout.checkpoint_number(n) == which]
        name = max(numbered, key=lambda n: int(n.split("_Step-")[1].split(".")[0]), default=None)
    else:
        found = drfc_files.checkpoints_of(deps.store.get_json(model.checkpoints_json))
        name = found.best if which == "best" else found.last
    if name is None or not all(deps.store.exists(key) for key in model.checkpoint_files(name)):
        return None
    return name


def copy_checkpoint(source_prefix: str, name: str, target_prefix: str, deps: Deps) -> None:
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
