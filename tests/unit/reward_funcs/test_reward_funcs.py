"""The reward-function library: each function does what it promises on real geometry, returns
a finite float for every state (off track and crashed included), obeys the console's rules,
runs on Python 3.8, and passes the full validator on every real track."""

from __future__ import annotations

import json
import math
import runpy
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pitwall.rewardparams import PlacedObject, params_at, params_cases
from pitwall.tracks import Track, builtin_tracks, load_tracks

REPO_ROOT = Path(__file__).resolve().parents[3]
LIBRARY = REPO_ROOT / "reward_funcs"
PYTHON38 = Path("/root/.pyenv/versions/3.8.18/bin/python")
MINIMUM = 1e-3
ACTIONS = [
    {"steering_angle": a, "speed": s} for a in (-30.0, -10.0, 0.0, 10.0, 30.0) for s in (0.5, 2.0, 4.0)
]

RewardFunction = Callable[[dict[str, Any]], float]


def _library_files() -> list[Path]:
    return sorted(LIBRARY.glob("*.py"))


def _function(name: str) -> RewardFunction:
    return runpy.run_path(str(LIBRARY / f"{name}.py"))["reward_function"]


@pytest.fixture(scope="module")
def real_tracks(simulator_tracks_folder: Path) -> dict[str, Track]:
    return load_tracks(simulator_tracks_folder)


@pytest.fixture(scope="module")
def many_tracks(real_tracks) -> list[Track]:
    """Every fourth real track, each in both directions, plus the built-in ones."""
    chosen = list(real_tracks.values())[::4] + list(builtin_tracks().values())
    return chosen + [track.reversed_view() for track in chosen]


def _spots(track: Track) -> range:
    """Waypoints spread along the track, clear of the ends of an open track."""
    return range(3, track.waypoint_count - 4, max(1, track.waypoint_count // 8))


def _at(track: Track, waypoint: int, **state: Any) -> dict[str, Any]:
    state.setdefault("speed", 2.0)
    state.setdefault("steering_angle", 0.0)
    return params_at(track, waypoint=waypoint, reversed=track.is_reversed, **state)


def test_the_library_holds_the_six_promised_functions():
    names = {path.stem for path in _library_files()}
    assert {
        "follow_centre_line",
        "stay_inside_borders",
        "penalise_zigzag",
        "speed_with_progress",
        "follow_waypoint_heading",
        "avoid_objects",
    } <= names
    assert (LIBRARY / "README.md").is_file()


@pytest.mark.parametrize("path", _library_files(), ids=lambda p: p.stem)
def test_each_obeys_the_console_rules(path):
    from pitwall.customfiles.reward_static import check_reward_source

    result = check_reward_source(path.read_bytes())
    assert result.problems == []
    assert result.parses_on_38 and result.parses_on_312


@pytest.mark.parametrize("path", _library_files(), ids=lambda p: p.stem)
def test_each_returns_a_finite_float_everywhere_and_the_minimum_off_track(path, many_tracks):
    reward_function = _function(path.stem)
    for track in many_tracks[::2]:
        for race in ("TIME_TRIAL", "OBJECT_AVOIDANCE", "HEAD_TO_BOT"):
            for label, params in params_cases(track, ACTIONS, race):
                reward = reward_function(params)
                assert type(reward) is float and math.isfinite(reward), label
                assert MINIMUM <= reward <= 1e5, label
                if params["is_offtrack"] or params["is_crashed"]:
                    assert reward == MINIMUM, label


def test_follow_centre_line_centre_beats_edge(many_tracks):
    reward_function = _function("follow_centre_line")
    for track in many_tracks:
        for i in _spots(track):
            half = float(track.widths[i]) / 2
            centre = reward_function(_at(track, i))
            for side in (1, -1):
                edge = reward_function(_at(track, i, offset=side * 0.9 * half))
                assert centre > edge, (track.name, track.is_reversed, i, side)


def test_stay_inside_borders_inside_beats_the_border_and_beyond(many_tracks):
    reward_function = _function("stay_inside_borders")
    for track in many_tracks:
        for i in _spots(track):
            half = float(track.widths[i]) / 2
            inside = reward_function(_at(track, i, offset=0.5 * half))
            on_border = reward_function(_at(track, i, offset=-half))
            beyond = reward_function(_at(track, i, offset=half + 0.4))
            assert inside == 1.0 and on_border == MINIMUM and beyond == MINIMUM, (track.name, i)
            # it does not care where across the track the car is
            assert reward_function(_at(track, i, offset=-0.5 * half)) == inside


def test_penalise_zigzag_smooth_beats_sharp_steering(many_tracks):
    reward_function = _function("penalise_zigzag")
    for track in many_tracks:
        for i in _spots(track):
            for speed in (1.0, 3.5):
                smooth = reward_function(_at(track, i, steering_angle=5.0, speed=speed))
                sharp = reward_function(_at(track, i, steering_angle=-25.0, speed=speed))
                assert smooth > sharp, (track.name, i, speed)
            slow_sharp = reward_function(_at(track, i, steering_angle=25.0, speed=1.0))
            fast_sharp = reward_function(_at(track, i, steering_angle=25.0, speed=4.0))
            assert slow_sharp > fast_sharp, (track.name, i)


def test_speed_with_progress_rewards_pace_and_speed(many_tracks):
    reward_function = _function("speed_with_progress")
    for track in many_tracks:
        for i in _spots(track):
            if i < 2:
                continue
            # the same place reached in fewer steps means a faster pace
            quick = reward_function(_at(track, i, steps=float(4 * i)))
            slow = reward_function(_at(track, i, steps=float(8 * i)))
            assert quick > slow, (track.name, i)
            # further along in the same number of steps is more progress per step
            further = reward_function(_at(track, i, steps=40.0))
            behind = reward_function(_at(track, i // 2, steps=40.0))
            assert further > behind, (track.name, i)
            assert reward_function(_at(track, i, speed=3.5)) > reward_function(_at(track, i, speed=1.0))


def test_speed_with_progress_pays_a_quicker_lap_more():
    reward_function = _function("speed_with_progress")
    track = builtin_tracks()["oval"]
    quick = _at(track, 0, steps=300.0) | {"progress": 100.0}
    slow = _at(track, 0, steps=600.0) | {"progress": 100.0}
    assert reward_function(quick) > reward_function(slow)


def _towards_the_track_ahead(track: Track, i: int) -> float:
    """Heading offset (from the track's heading at waypoint i) that points the car along the
    centre line from waypoint i to three waypoints on."""
    start, end = track.center.points[i], track.center.points[i + 3]
    direction = math.degrees(math.atan2(end[1] - start[1], end[0] - start[0]))
    return direction - track.waypoint_heading(i)


def test_follow_waypoint_heading_aligned_beats_misaligned(many_tracks):
    reward_function = _function("follow_waypoint_heading")
    for track in many_tracks:
        for i in _spots(track):
            towards = _towards_the_track_ahead(track, i)
            aligned = reward_function(_at(track, i, heading_offset=towards))
            assert aligned > 0.8, (track.name, i)
            for off in (30.0, -30.0, 120.0):
                misaligned = reward_function(_at(track, i, heading_offset=towards + off))
                assert aligned > misaligned, (track.name, i, off)


def test_avoid_objects_a_clear_lane_beats_an_object_ahead_in_the_same_lane(many_tracks):
    reward_function = _function("avoid_objects")
    for track in many_tracks:
        quarter = 0.25 * float(track.widths[0])
        for i in _spots(track):
            ahead = i + 2  # about 0.6 m ahead on most tracks
            for lane in (quarter, -quarter):
                objects = [PlacedObject(ahead, lane)]
                same = reward_function(_at(track, i, offset=lane, objects=objects))
                other = reward_function(_at(track, i, offset=-lane, objects=objects))
                assert other > same, (track.name, i, lane)
            # no objects at all (a time trial) is as good as a clear lane
            assert reward_function(_at(track, i, offset=quarter)) == pytest.approx(5.0)


_RUNNER = """
import json, math, runpy, sys
function = runpy.run_path(sys.argv[1])["reward_function"]
count = 0
for line in sys.stdin:
    label, params = json.loads(line)
    reward = function(params)
    if type(reward) is not float or not math.isfinite(reward):
        print("FAIL %s: %r" % (label, reward))
        sys.exit(1)
    count += 1
print("OK %d" % count)
"""


@pytest.fixture(scope="module")
def cases_as_json_lines(many_tracks) -> str:
    lines = [
        json.dumps([label, params])
        for track in many_tracks[:3] + list(builtin_tracks().values())
        for race in ("TIME_TRIAL", "HEAD_TO_BOT")
        for label, params in params_cases(track, ACTIONS, race)
    ]
    return "\n".join(lines) + "\n"


@pytest.mark.skipif(not PYTHON38.exists(), reason=f"no Python 3.8 at {PYTHON38}")
@pytest.mark.parametrize("path", _library_files(), ids=lambda p: p.stem)
def test_each_runs_under_python_38(path, cases_as_json_lines):
    done = subprocess.run(
        [str(PYTHON38), "-I", "-c", _RUNNER, str(path)],
        input=cases_as_json_lines,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == f"OK {cases_as_json_lines.count(chr(10))}"
