"""Cost per call of each reward function of `reward_funcs/`, against a naive version of the same
function that scans all waypoints, measured in the same run on the same params.

The naive version is what many published reward functions do every step: find the car's
nearest waypoint by going through the whole `waypoints` list (a pure-Python loop over ~200
points on a real track), then work from there. Here it does that scan, sets
`closest_waypoints` from it, and then runs the library function itself, so the two differ by
exactly the scan the library avoids by reading `closest_waypoints`.

Params: `pitwall.rewardparams.params_cases` on every 6th of the simulator's tracks (shipped with the
package), capped per track, with objects for
`avoid_objects`. Each timing is the best of `REPEATS` passes over all params.
Target: every library function at least `TARGET_RATIO` (10x) cheaper than its naive version.
"""

from __future__ import annotations

import runpy
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pitwall.rewardparams import params_cases
from pitwall.tracks import Track, load_tracks

REPO_ROOT = Path(__file__).resolve().parent.parent
LIBRARY = REPO_ROOT / "reward_funcs"
ACTIONS = [{"steering_angle": a, "speed": s} for a in (-30.0, -15.0, 0.0, 15.0, 30.0) for s in (1.0, 3.0)]
TRACK_STRIDE = 6
CASES_PER_TRACK = 300
REPEATS = 3
TARGET_RATIO = 10.0

Params = dict[str, Any]
RewardFunction = Callable[[Params], float]


def _tracks() -> tuple[str, list[Track]]:
    return f"every {TRACK_STRIDE}th of the simulator's tracks", list(load_tracks(None).values())[
        ::TRACK_STRIDE
    ]


def _params(tracks: list[Track], race_type: str) -> list[Params]:
    chosen: list[Params] = []
    for track in tracks:
        cases = [params for _, params in params_cases(track, ACTIONS, race_type)]
        step = max(1, len(cases) // CASES_PER_TRACK)
        chosen += cases[::step][:CASES_PER_TRACK]
    return chosen


def naive(reward_function: RewardFunction) -> RewardFunction:
    """The same function, finding the nearest waypoint by scanning them all."""

    def scanning(params: Params) -> float:
        x, y = params["x"], params["y"]
        waypoints = params["waypoints"]
        nearest, best = 0, float("inf")
        for index, (wx, wy) in enumerate(waypoints):
            distance = (wx - x) ** 2 + (wy - y) ** 2
            if distance < best:
                nearest, best = index, distance
        following = nearest + 1 if nearest + 1 < len(waypoints) else 0
        params["closest_waypoints"] = [nearest, following]
        return reward_function(params)

    return scanning


def _seconds_per_call(function: RewardFunction, all_params: list[Params]) -> float:
    best = float("inf")
    for _ in range(REPEATS):
        started = time.perf_counter()
        for params in all_params:
            function(params)
        best = min(best, time.perf_counter() - started)
    return best / len(all_params)


def run() -> dict[str, Any]:
    source, tracks = _tracks()
    by_race = {race: _params(tracks, race) for race in ("TIME_TRIAL", "OBJECT_AVOIDANCE")}
    functions: dict[str, Any] = {}
    for path in sorted(LIBRARY.glob("*.py")):
        library_function = runpy.run_path(str(path))["reward_function"]
        all_params = by_race["OBJECT_AVOIDANCE" if path.stem == "avoid_objects" else "TIME_TRIAL"]
        # fresh copies for the naive pass: it rewrites closest_waypoints (to the scan's result)
        naive_params = [dict(params) for params in all_params]
        library_cost = _seconds_per_call(library_function, all_params)
        naive_cost = _seconds_per_call(naive(library_function), naive_params)
        functions[path.stem] = {
            "library_us_per_call": round(library_cost * 1e6, 3),
            "naive_us_per_call": round(naive_cost * 1e6, 3),
            "ratio": round(naive_cost / library_cost, 1),
        }
    worst = min(entry["ratio"] for entry in functions.values())
    return {
        "tracks": source,
        "track_count": len(tracks),
        "calls_per_pass": len(by_race["TIME_TRIAL"]),
        "median_waypoints": sorted(track.waypoint_count for track in tracks)[len(tracks) // 2],
        "functions": functions,
        "worst_ratio": worst,
        "target_ratio": TARGET_RATIO,
        "targets_met": worst >= TARGET_RATIO,
    }
