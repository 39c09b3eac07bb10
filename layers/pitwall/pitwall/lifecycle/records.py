"""Read-change-write of a run record under the conditional write: on a lost race, read again
and apply the change again (the changes here are idempotent: sequence numbers, max())."""

from __future__ import annotations

from collections.abc import Callable

from pitwall.errors import RunRecordConflict
from pitwall.lifecycle.deps import Deps
from pitwall.runs import Run

ATTEMPTS = 8


def update_run[T](deps: Deps, run_id: str, change: Callable[[Run], tuple[bool, T]]) -> tuple[Run, T]:
    """Apply `change` to the latest record; save it when `change` says it changed something.
    Returns the run and what `change` returned. RunRecordConflict after ATTEMPTS lost races."""
    for attempt in range(ATTEMPTS):
        run = deps.runs.get(run_id)
        changed, result = change(run)
        if not changed:
            return run, result
        try:
            return deps.runs.save(run), result
        except RunRecordConflict:
            if attempt == ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")
