"""The one entry point of the validator, used by `pitwall validate` and by the lifecycle Lambda.

`validate_custom_files` checks the three custom files and, when given, run.env / system.env:
every file on its own, the rules across files, the reward function's static rules, and then a
real run of the reward function on params synthesised from track geometry (the run's
DR_WORLD_NAME when known, else every track given) under Python 3.12 and, where present, 3.8.

Missing files, bad JSON and wrong types are problems in the report, never exceptions.
Validation never writes anything.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, computed_field

from pitwall.customfiles.envfile import EnvFile
from pitwall.customfiles.hyperparameters import HyperParameters, problems_with_metadata
from pitwall.customfiles.metadata import ModelMetadata
from pitwall.customfiles.problems import Problem
from pitwall.customfiles.reward_dynamic import (
    OVERALL_TIMEOUT,
    PER_CALL_TIMEOUT,
    SIMULATOR_HZ,
    DynamicResult,
    Interpreter,
    available_interpreters,
    run_reward_function,
)
from pitwall.customfiles.reward_static import check_reward_source
from pitwall.customfiles.settings import RUN_ENV, SYSTEM_ENV, SettingsCheck, load_settings
from pitwall.errors import InvalidCustomFiles
from pitwall.layout import CUSTOM_FILES, HYPERPARAMETERS_FILE, MODEL_METADATA_FILE, REWARD_FUNCTION_FILE
from pitwall.tracks import Track

SETTINGS_FILES = (RUN_ENV, SYSTEM_ENV)
PYTHON_VERSIONS = ("3.12", "3.8")
# Used for the reward function's run when model_metadata.json itself is unusable (DRFC's default).
FALLBACK_ACTION_SPACE = [{"steering_angle": angle, "speed": 0.6} for angle in (-30, -15, 0, 15, 30)]


class ValidationReport(BaseModel):
    problems: list[Problem] = Field(default_factory=list)
    warnings: list[Problem] = Field(default_factory=list)
    tracks: list[str] = Field(default_factory=list)  # tracks the reward function ran on
    reward_runs: list[DynamicResult] = Field(default_factory=list)  # one per interpreter
    seconds: float = 0.0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ok(self) -> bool:
        return not self.problems

    def render(self) -> str:
        """One line per problem and warning: `file: field: message (allowed: ...)`, then the
        first failing params in full and a summary."""
        lines = [problem.render() for problem in self.problems]
        lines += [f"warning: {warning.render()}" for warning in self.warnings]
        shown: set[str | None] = set()
        for run in self.reward_runs:
            if run.failure is not None and run.failure.params is not None and run.failure.case not in shown:
                shown.add(run.failure.case)
                lines.append(f"first failing params (case {run.failure.case!r}):")
                lines.append(json.dumps(run.failure.params, indent=2, sort_keys=True))
        lines.append(self.summary())
        return "\n".join(lines)

    def summary(self) -> str:
        verdict = "OK" if self.ok else "INVALID"
        text = f"{verdict}: {len(self.problems)} problem(s), {len(self.warnings)} warning(s)"
        for run in self.reward_runs:
            if run.calls:
                text += (
                    f"; {run.interpreter}: {run.calls} calls on {len(self.tracks)} track(s), "
                    f"p50 {run.p50_ms} ms, p99 {run.p99_ms} ms"
                )
        return text + f"; {self.seconds:.2f} s"

    def raise_if_invalid(self) -> None:
        """For the lifecycle: raise InvalidCustomFiles listing every problem."""
        if not self.ok:
            raise InvalidCustomFiles("\n".join(problem.render() for problem in self.problems))


def validate_custom_files(
    files: Mapping[str, bytes],
    *,
    run_settings: str | None = None,
    system_settings: str | None = None,
    tracks: Mapping[str, Track] | None = None,
    python_versions: Sequence[str] = PYTHON_VERSIONS,
    dynamic: bool = True,
    per_call_timeout: float = PER_CALL_TIMEOUT,
    overall_timeout: float = OVERALL_TIMEOUT,
) -> ValidationReport:
    """Check the custom files (`files` maps file name -> content; run.env / system.env may be in
    it too, or given as text) and report every problem and warning."""
    started = time.monotonic()
    report = ValidationReport()
    for name in CUSTOM_FILES:
        if name not in files:
            report.problems.append(Problem(file=name, message="missing", allowed="the file is required"))

    metadata = hyperparameters = None
    if MODEL_METADATA_FILE in files:
        metadata, problems = ModelMetadata.check(files[MODEL_METADATA_FILE])
        report.problems += problems
    if HYPERPARAMETERS_FILE in files:
        hyperparameters, problems = HyperParameters.check(files[HYPERPARAMETERS_FILE])
        report.problems += problems
    if metadata is not None and hyperparameters is not None:
        report.problems += problems_with_metadata(hyperparameters, metadata)

    settings = _check_settings(files, run_settings, system_settings, report)

    if REWARD_FUNCTION_FILE in files:
        _check_reward_function(
            files[REWARD_FUNCTION_FILE],
            report,
            metadata=metadata,
            settings=settings,
            tracks=tracks,
            python_versions=python_versions,
            dynamic=dynamic,
            per_call_timeout=per_call_timeout,
            overall_timeout=overall_timeout,
        )
    report.seconds = round(time.monotonic() - started, 3)
    return report


def validate_folder(folder: Path, **options: Any) -> ValidationReport:
    """Validate the custom files in `folder` (plus run.env / system.env when present there)."""
    folder = Path(folder)
    if not folder.is_dir():
        report = ValidationReport()
        report.problems.append(Problem(file=str(folder), message="not a folder"))
        return report
    files = {
        name: (folder / name).read_bytes()
        for name in (*CUSTOM_FILES, *SETTINGS_FILES)
        if (folder / name).is_file()
    }
    return validate_custom_files(files, **options)


def _check_settings(
    files: Mapping[str, bytes],
    run_settings: str | None,
    system_settings: str | None,
    report: ValidationReport,
) -> SettingsCheck | None:
    texts = {RUN_ENV: run_settings, SYSTEM_ENV: system_settings}
    envs: dict[str, EnvFile | None] = {}
    for name, text in texts.items():
        if text is None and name in files:
            try:
                text = files[name].decode("utf-8")
            except UnicodeDecodeError as error:
                report.problems.append(Problem(file=name, message=f"not UTF-8 text: {error}"))
        envs[name] = EnvFile.parse(text) if text is not None else None
    if envs[RUN_ENV] is None and envs[SYSTEM_ENV] is None:
        return None
    settings = load_settings(envs[RUN_ENV], envs[SYSTEM_ENV])
    report.problems += settings.problems
    report.warnings += settings.warnings
    return settings


def _check_reward_function(
    source: bytes,
    report: ValidationReport,
    *,
    metadata: ModelMetadata | None,
    settings: SettingsCheck | None,
    tracks: Mapping[str, Track] | None,
    python_versions: Sequence[str],
    dynamic: bool,
    per_call_timeout: float,
    overall_timeout: float,
) -> None:
    static = check_reward_source(source)
    report.problems += static.problems
    if not dynamic:
        return
    if not static.safe_to_run:
        report.warnings.append(
            Problem(file=REWARD_FUNCTION_FILE, message="not run: fix the problems above first")
        )
        return
    interpreters = _interpreters(python_versions, static.parses_on_38 and static.runs_on_38, report)
    chosen_tracks = _chosen_tracks(tracks, settings, report)
    report.tracks = list(chosen_tracks)
    action_space = metadata.to_data()["action_space"] if metadata is not None else FALLBACK_ACTION_SPACE
    race_type = settings.run.race_type if settings is not None and settings.run is not None else "TIME_TRIAL"
    cases = _cases(chosen_tracks, action_space, race_type)
    text = source.decode("utf-8")
    report.reward_runs = run_reward_function(
        text, cases, interpreters, per_call_timeout=per_call_timeout, overall_timeout=overall_timeout
    )
    _report_runs(report)


def _interpreters(
    versions: Sequence[str], may_run_on_38: bool, report: ValidationReport
) -> list[Interpreter]:
    wanted = [version for version in versions if version != "3.8" or may_run_on_38]
    chosen = available_interpreters(wanted)
    if "3.8" in wanted and not any(interpreter.label == "python3.8" for interpreter in chosen):
        report.warnings.append(
            Problem(
                file=REWARD_FUNCTION_FILE,
                message="no Python 3.8 on this machine: not run under 3.8 (simapp 5.x); "
                "the 3.8 grammar was still checked",
            )
        )
    return chosen


def _chosen_tracks(
    tracks: Mapping[str, Track] | None, settings: SettingsCheck | None, report: ValidationReport
) -> dict[str, Track]:
    if tracks is None:
        from pitwall.tracks import simulator_tracks

        tracks = simulator_tracks()
    world = settings.run.world_name if settings is not None and settings.run is not None else None
    if world is not None and world in tracks:
        return {world: tracks[world]}
    if world is not None:
        report.warnings.append(
            Problem(
                file=RUN_ENV,
                field="DR_WORLD_NAME",
                value=world,
                message=f"no such track among the {len(tracks)} given: the reward function ran on all",
            )
        )
    return dict(tracks)


def _cases(
    tracks: Mapping[str, Track], action_space: Any, race_type: str
) -> Iterator[tuple[str, dict[str, Any]]]:
    from pitwall.rewardparams import params_cases

    for track in tracks.values():
        yield from params_cases(track, action_space, race_type)


def _report_runs(report: ValidationReport) -> None:
    failures: dict[tuple[str | None, str], list[str]] = {}
    for run in report.reward_runs:
        if run.skipped is not None:
            report.warnings.append(
                Problem(file=REWARD_FUNCTION_FILE, field=run.interpreter, message=f"not run: {run.skipped}")
            )
        if run.failure is not None:
            failures.setdefault((run.failure.case, run.failure.message), []).append(run.interpreter)
        if run.slow:
            step_ms = 1000 / SIMULATOR_HZ
            report.warnings.append(
                Problem(
                    file=REWARD_FUNCTION_FILE,
                    field=run.interpreter,
                    value=f"p99 {run.p99_ms} ms",
                    message=f"slow: the simulator steps at {SIMULATOR_HZ:.0f} Hz ({step_ms:.1f} ms a step, "
                    "shared with physics and the network); a slow reward function slows training",
                    allowed=f"p99 under {step_ms / 10:.1f} ms",
                )
            )
    for run in report.reward_runs:
        failure = run.failure
        if failure is None or run.interpreter != failures[(failure.case, failure.message)][0]:
            continue
        where = ", ".join(failures[(failure.case, failure.message)])
        stage = "loading the module" if failure.stage == "load" else f"case {failure.case!r}"
        report.problems.append(
            Problem(
                file=REWARD_FUNCTION_FILE,
                field=f"{where} {failure.kind}",
                value=failure.params,
                message=f"{failure.message} ({stage})",
                allowed="a finite float within [-1e5, 1e5], within 5 s, on every call",
            )
        )
