"""Each library function passes the project's full reward-function validator (static rules,
then every params case of every real track, under Python 3.12 and, where present, 3.8)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pitwall.customfiles.reward_dynamic import available_interpreters, run_reward_function
from pitwall.customfiles.validate import validate_custom_files
from pitwall.layout import HYPERPARAMETERS_FILE, MODEL_METADATA_FILE, REWARD_FUNCTION_FILE
from pitwall.rewardparams import params_cases
from pitwall.tracks import Track, load_tracks

REPO_ROOT = Path(__file__).resolve().parents[3]
LIBRARY = REPO_ROOT / "reward_funcs"
GOOD_SET = REPO_ROOT / "tests" / "data" / "custom_files" / "good" / "discrete_ppo"


@pytest.fixture(scope="module")
def real_tracks(simulator_tracks_folder: Path) -> dict[str, Track]:
    return load_tracks(simulator_tracks_folder)


def _files(reward: Path) -> dict[str, bytes]:
    return {
        REWARD_FUNCTION_FILE: reward.read_bytes(),
        MODEL_METADATA_FILE: (GOOD_SET / MODEL_METADATA_FILE).read_bytes(),
        HYPERPARAMETERS_FILE: (GOOD_SET / HYPERPARAMETERS_FILE).read_bytes(),
    }


@pytest.mark.parametrize("reward", sorted(LIBRARY.glob("*.py")), ids=lambda p: p.stem)
def test_each_passes_the_full_validator_on_every_real_track(reward, real_tracks):
    report = validate_custom_files(_files(reward), tracks=real_tracks)
    assert report.ok, report.render()
    assert sorted(report.tracks) == sorted(real_tracks)
    assert report.reward_runs and all(run.failure is None and run.calls > 0 for run in report.reward_runs)


@pytest.mark.parametrize("race_type", ["OBJECT_AVOIDANCE", "HEAD_TO_BOT"])
def test_avoid_objects_passes_the_dynamic_check_with_objects_on_every_real_track(race_type, real_tracks):
    # The validator takes the race type from a complete run.env, which names ONE track; here
    # its dynamic half is driven directly with every track's object cases.
    action_space = json.loads((GOOD_SET / MODEL_METADATA_FILE).read_text())["action_space"]
    cases = (case for track in real_tracks.values() for case in params_cases(track, action_space, race_type))
    source = (LIBRARY / "avoid_objects.py").read_text()
    results = run_reward_function(source, cases, available_interpreters(["3.12"]))
    assert results and all(result.failure is None for result in results), results
    expected = sum(1 for track in real_tracks.values() for _ in params_cases(track, action_space, race_type))
    assert all(result.calls == expected for result in results)


def test_the_dynamic_check_would_catch_a_function_that_fails_on_objects(real_tracks):
    action_space = json.loads((GOOD_SET / MODEL_METADATA_FILE).read_text())["action_space"]
    track = next(iter(real_tracks.values()))
    source = 'def reward_function(params):\n    return 1.0 / len(params["objects_location"])\n'
    results = run_reward_function(
        source, params_cases(track, action_space, "TIME_TRIAL"), available_interpreters(["3.12"])
    )
    assert results[0].failure is not None and "division by zero" in results[0].failure.message
    results = run_reward_function(
        source, params_cases(track, action_space, "OBJECT_AVOIDANCE"), available_interpreters(["3.12"])
    )
    assert results[0].failure is None
