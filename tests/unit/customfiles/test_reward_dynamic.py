"""Running the reward function in a separate process: every call checked, the first failure
reported with its params in full, per-call and overall limits, timing per call."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

from pitwall.customfiles.reward_dynamic import (
    Interpreter,
    encode_cases,
    find_python38,
    project_interpreter,
    run_reward_function,
)

WAYPOINTS = [(0.0, 0.0), (1.0, 0.0), (2.0, 0.5), (3.0, 1.0)]
PYTHON38 = find_python38()
INTERPRETERS = [project_interpreter(), *([PYTHON38] if PYTHON38 else [])]


def hand_made_cases(count: int = 40) -> list[tuple[str, dict]]:
    """A tiny stand-in for rewardparams: the same waypoints object shared by every case."""
    cases = []
    for step in range(1, count + 1):
        params = {
            "all_wheels_on_track": step % 10 != 0,
            "is_offtrack": step % 10 == 0,
            "distance_from_center": 0.01 * step,
            "track_width": 0.76,
            "speed": 1.5,
            "steps": float(step),
            "closest_waypoints": [step % 3, step % 3 + 1],
            "waypoints": WAYPOINTS,
        }
        cases.append((f"hand-made step {step}", params))
    return cases


def run(source: str, **options) -> list:
    return run_reward_function(source, hand_made_cases(), INTERPRETERS, **options)


def test_a_good_function_runs_every_case_under_every_interpreter_with_timings():
    source = (
        "import math\n\ndef reward_function(params):\n"
        "    a, b = params['waypoints'][params['closest_waypoints'][0]]\n"
        "    return float(math.exp(-params['distance_from_center']) + a * 0)\n"
    )

    results = run(source)

    assert [result.interpreter for result in results] == [interpreter.label for interpreter in INTERPRETERS]
    for result in results:
        assert result.ok, result.failure
        assert result.calls == result.cases == 40
        assert result.p50_ms is not None and result.p99_ms is not None and 0 < result.p50_ms <= result.p99_ms


def test_python_3_8_is_really_3_8_where_the_machine_has_it():
    if PYTHON38 is None:
        pytest.skip("no Python 3.8 on this machine")

    (result,) = run_reward_function("def reward_function(params):\n    return 1.0\n", [], [PYTHON38])

    assert result.python_version is not None and result.python_version.startswith("3.8.")


@pytest.mark.parametrize(
    ("body", "kind", "fragment"),
    [
        ("return 1", "value", "returned int 1"),
        ("return True", "value", "returned bool True"),
        ("return float('nan')", "value", "returned nan; the reward must be finite"),
        ("return float('-inf')", "value", "returned -inf"),
        ("return -1e5 - 1.0", "value", "within [-1e5, 1e5]"),
        ("return None", "value", "returned NoneType None"),
    ],
)
def test_bad_return_values_fail_on_the_first_call(body, kind, fragment):
    for result in run(f"def reward_function(params):\n    {body}\n"):
        assert result.failure is not None
        assert (result.failure.kind, result.failure.case_number) == (kind, 0)
        assert fragment in result.failure.message


def test_the_first_failing_case_is_reported_with_its_params_in_full():
    source = (
        "def reward_function(params):\n"
        "    if params['is_offtrack']:\n"
        "        return 1.0 / (params['speed'] - 1.5)\n"
        "    return 1.0\n"
    )

    for result in run(source):
        failure = result.failure
        assert failure is not None and failure.kind == "error"
        assert failure.case == "hand-made step 10" and failure.case_number == 9
        assert "ZeroDivisionError" in failure.message and "line 3 in reward_function" in failure.message
        assert failure.params == {
            **hand_made_cases()[9][1],
            "waypoints": [list(point) for point in WAYPOINTS],
        }
        assert result.calls == 9


def test_a_call_over_the_time_limit_is_stopped_and_named():
    source = "def reward_function(params):\n    while params['steps'] >= 3:\n        pass\n    return 1.0\n"

    for result in run(source, per_call_timeout=0.3):
        assert result.failure is not None
        assert (result.failure.kind, result.failure.case) == ("timeout", "hand-made step 3")
        assert "took longer than 0.3 s" in result.failure.message


def test_a_function_that_defeats_the_alarm_is_killed_from_outside():
    source = (
        "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\n\n"
        "def reward_function(params):\n    while params['steps'] >= 2:\n        pass\n    return 1.0\n"
    )

    (result,) = run_reward_function(source, hand_made_cases(), [project_interpreter()], per_call_timeout=0.2)

    assert result.failure is not None
    assert (result.failure.kind, result.failure.case) == ("timeout", "hand-made step 2")


def test_the_overall_limit_ends_a_long_run():
    source = "import time\n\ndef reward_function(params):\n    time.sleep(0.05)\n    return 1.0\n"

    (result,) = run_reward_function(
        source, hand_made_cases(200), [project_interpreter()], overall_timeout=2.0
    )

    assert result.failure is not None and "exceeded its time limit" in result.failure.message
    assert 0 < result.calls < 200


def test_a_process_that_dies_is_reported_at_the_case_that_killed_it():
    source = (
        "import os\n\ndef reward_function(params):\n"
        "    if params['steps'] == 5:\n        os._exit(3)\n    return 1.0\n"
    )

    for result in run(source):
        assert result.failure is not None
        assert (result.failure.kind, result.failure.case) == ("crash", "hand-made step 5")


def test_errors_while_loading_are_reported_as_load_failures():
    (result,) = run_reward_function("x = 1 / 0\n", hand_made_cases(), [project_interpreter()])

    assert result.failure is not None and result.failure.stage == "load"
    assert "ZeroDivisionError" in result.failure.message and result.failure.params is None


def test_printing_does_not_disturb_the_runner():
    source = (
        "def reward_function(params):\n    print('1 2')\n    print('{\"loaded\": true}')\n    return 0.5\n"
    )

    assert all(result.ok and result.calls == 40 for result in run(source))


def test_a_missing_allowed_library_is_a_skip_not_a_failure(tmp_path: Path):
    source = "import scipy\n\ndef reward_function(params):\n    return 1.0\n"

    (result,) = run_reward_function(
        source, hand_made_cases(), [Interpreter("python-without-scipy", sys.executable)]
    )

    try:
        import scipy  # noqa: F401
    except ImportError:
        assert result.skipped == "scipy is not installed for python-without-scipy" and result.failure is None
    else:
        assert result.ok


def test_each_waypoints_list_is_sent_once():
    encoded = encode_cases(hand_made_cases())

    assert len(encoded.tables) == 1
    assert len(encoded.lines) == 41 and len(encoded.labels) == 40 and list(encoded.tables) == ["0"]
    assert encoded.params(3)["steps"] == 4.0 and encoded.params(3)["waypoints"][1] == [1.0, 0.0]
    assert math.isclose(encoded.params(0)["distance_from_center"], 0.01)


def test_a_broken_python_is_not_taken_for_python_3_8(tmp_path: Path):
    fake = tmp_path / "3.8.99" / "bin" / "python"
    fake.parent.mkdir(parents=True)
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)

    found = find_python38([tmp_path])

    assert found is None or found.path != str(fake)


def test_batches_encoded_ahead_mix_with_plain_cases():
    cases = hand_made_cases(12)
    batch = encode_cases(cases[4:8], prefix="batch.")
    source = "def reward_function(params):\n    return 1.0 if params['steps'] != 7 else 1\n"

    (result,) = run_reward_function(source, [*cases[:4], batch, *cases[8:]], [project_interpreter()])

    assert result.failure is not None and result.failure.case == "hand-made step 7"
    assert result.failure.params is not None and result.failure.params["waypoints"][0] == [0.0, 0.0]
