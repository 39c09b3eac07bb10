"""The validator's entry point: which files, tracks, race type and interpreters it uses, and
how it reports."""

from __future__ import annotations

from pathlib import Path

import pytest

from pitwall.customfiles.problems import Problem
from pitwall.customfiles.reward_dynamic import DynamicResult
from pitwall.customfiles.validate import ValidationReport, _report_runs, validate_custom_files
from pitwall.errors import InvalidCustomFiles
from pitwall.tracks import builtin_tracks

GOOD = Path(__file__).resolve().parents[2] / "data" / "custom_files" / "good" / "discrete_ppo"
FILES = {
    name: (GOOD / name).read_bytes()
    for name in ("reward_function.py", "model_metadata.json", "hyperparameters.json")
}
RUN_ENV = "DR_WORLD_NAME={world}\nDR_RACE_TYPE={race}\nDR_LOCAL_S3_MODEL_PREFIX=models/m/seg-000\n"
OBJECTS_ONLY_FAIL = b"def reward_function(params):\n    return 1 if params['objects_location'] else 1.0\n"


def test_missing_files_are_problems_never_exceptions():
    report = validate_custom_files({}, tracks=builtin_tracks())

    assert [problem.render() for problem in report.problems] == [
        "reward_function.py: missing (allowed: the file is required)",
        "model_metadata.json: missing (allowed: the file is required)",
        "hyperparameters.json: missing (allowed: the file is required)",
    ]
    assert report.reward_runs == []


def test_the_runs_track_is_used_when_known():
    report = validate_custom_files(
        FILES, run_settings=RUN_ENV.format(world="oval", race="TIME_TRIAL"), tracks=builtin_tracks()
    )

    assert report.ok, report.render()
    assert report.tracks == ["oval"]


def test_without_tracks_given_the_runs_real_track_is_used():
    report = validate_custom_files(
        FILES, run_settings=RUN_ENV.format(world="reInvent2019_track", race="TIME_TRIAL")
    )

    assert report.ok, report.render()
    assert report.tracks == ["reInvent2019_track"]
    assert report.warnings == []


def test_an_unknown_track_falls_back_to_every_track_given_with_a_warning():
    tracks = builtin_tracks()

    report = validate_custom_files(
        FILES, run_settings=RUN_ENV.format(world="nowhere", race="TIME_TRIAL"), tracks=tracks
    )

    assert report.tracks == list(tracks)
    assert [(warning.file, warning.field) for warning in report.warnings] == [("run.env", "DR_WORLD_NAME")]


@pytest.mark.parametrize(
    ("race", "ok"), [("TIME_TRIAL", True), ("OBJECT_AVOIDANCE", False), ("HEAD_TO_BOT", False)]
)
def test_races_with_objects_get_cases_with_objects(race: str, ok: bool):
    files = {**FILES, "reward_function.py": OBJECTS_ONLY_FAIL}

    report = validate_custom_files(
        files,
        run_settings=RUN_ENV.format(world="oval", race=race),
        python_versions=["3.12"],
        tracks=builtin_tracks(),
    )

    assert report.ok is ok, report.render()


def test_rules_are_checked_before_anything_runs():
    files = {**FILES, "reward_function.py": b"import os\n\ndef reward_function(params):\n    return 1.0\n"}

    report = validate_custom_files(files, tracks=builtin_tracks())

    assert report.reward_runs == []
    assert any("not run: fix the problems above first" in warning.message for warning in report.warnings)


def test_static_only_and_chosen_interpreters():
    assert validate_custom_files(FILES, dynamic=False).reward_runs == []

    (run,) = validate_custom_files(FILES, python_versions=["3.12"], tracks=builtin_tracks()).reward_runs
    assert run.interpreter == "python3.12" and run.calls > 0


def test_report_renders_one_line_per_problem_and_raises_for_the_lifecycle():
    report = ValidationReport(
        problems=[
            Problem(
                file="hyperparameters.json", field="lr", value=0.1, message="too high", allowed="1e-8..1e-3"
            )
        ]
    )

    assert (
        report.render().splitlines()[0]
        == "hyperparameters.json: lr: too high (found: 0.1) (allowed: 1e-8..1e-3)"
    )
    with pytest.raises(InvalidCustomFiles, match=r"hyperparameters\.json: lr: too high"):
        report.raise_if_invalid()
    ValidationReport().raise_if_invalid()


def test_a_slow_reward_function_is_a_warning_and_a_skipped_interpreter_too():
    report = ValidationReport(
        reward_runs=[
            DynamicResult(interpreter="python3.12", cases=10, calls=10, p50_ms=2.0, p99_ms=12.0),
            DynamicResult(interpreter="python3.8", skipped="numpy is not installed for python3.8"),
        ]
    )

    _report_runs(report)

    assert report.ok
    assert [(warning.field, warning.message.split(":")[0]) for warning in report.warnings] == [
        ("python3.12", "slow"),
        ("python3.8", "not run"),
    ]
