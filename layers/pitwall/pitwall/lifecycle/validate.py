"""Validate a run's custom files with the project's one validator (`pitwall.customfiles`); the
reward function's dynamic check runs in the reward sandbox function."""

from __future__ import annotations

from pitwall import layout
from pitwall.adapters.sandbox import sandbox_runner
from pitwall.customfiles.validate import RewardRunner
from pitwall.customfiles.validate import validate_custom_files as check_files
from pitwall.errors import InvalidCustomFiles
from pitwall.lifecycle import drfc
from pitwall.lifecycle.deps import Deps
from pitwall.lifecycle.models import TrainInput, ValidationOutput
from pitwall.lifecycle.ports import Store
from pitwall.runs import RunRequest
from pitwall.settings import Settings


def read_custom_files(store: Store, folder: str) -> dict[str, bytes]:
    files = {name: store.get_bytes(layout.custom_file_key(folder, name)) for name in layout.CUSTOM_FILES}
    missing = [name for name, body in files.items() if body is None]
    if missing:
        raise InvalidCustomFiles(
            f"{folder}: missing {', '.join(missing)}; a run needs all of {', '.join(layout.CUSTOM_FILES)}"
        )
    return {name: body for name, body in files.items() if body is not None}


def reward_sandbox(settings: Settings) -> RewardRunner:
    """Uploaded reward code runs in the sandbox function, never in a validating function."""
    if settings.reward_sandbox_function is None:
        raise ValueError("PITWALL_REWARD_SANDBOX_FUNCTION is not set: a validating function needs it")
    return sandbox_runner(settings.reward_sandbox_function, settings.region)


def problems_of(files: dict[str, bytes], request: RunRequest, deps: Deps) -> str | None:
    """The validator's report as text when the files break a rule; None when they are fine."""
    report = check_files(
        files,
        run_settings=drfc.render_env(drfc.run_settings_preview(request)),
        reward_runner=reward_sandbox(deps.settings),
    )
    return None if report.ok else report.render()


def validate_custom_files(task: TrainInput, deps: Deps) -> ValidationOutput:
    files = read_custom_files(deps.store, task.custom_files_prefix)
    problems = problems_of(files, task.request, deps)
    if problems:
        raise InvalidCustomFiles(f"{task.custom_files_prefix}: {problems}")
    return ValidationOutput(
        run_id=task.run_id, files=sorted(files), summary=f"{len(files)} custom files valid"
    )
