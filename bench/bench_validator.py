"""The validator's speed: one reward function, fully validated over all 127 real tracks
(every custom file, the rules, and every synthesised params case under Python 3.12 and, where
present, a real Python 3.8), against the naive way measured in the same run (one new process
per call, as a console-style check would do it, timed on a sample and extrapolated to the same
number of calls). Target: the full validation in under 10 s."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from pitwall.customfiles.validate import validate_custom_files
from pitwall.layout import CUSTOM_FILES
from pitwall.rewardparams import params_cases
from pitwall.tracks import load_tracks

REPO = Path(__file__).resolve().parents[1]
CUSTOM_FILES_DIR = REPO / "tests" / "data" / "custom_files" / "good" / "discrete_ppo"
TARGET_SECONDS = 10.0
NAIVE_SAMPLE = 15
NAIVE_CALL = (
    "import json, sys\n"
    "namespace = {}\n"
    "exec(sys.argv[1], namespace)\n"
    "value = namespace['reward_function'](json.loads(sys.stdin.read()))\n"
    "assert isinstance(value, float)\n"
)


def _naive_seconds_per_call(source: str, sample: list[dict]) -> float:
    started = time.perf_counter()
    for params in sample:
        subprocess.run(
            [sys.executable, "-I", "-c", NAIVE_CALL, source], input=json.dumps(params), text=True, check=True
        )
    return (time.perf_counter() - started) / len(sample)


def run() -> dict:
    files = {name: (CUSTOM_FILES_DIR / name).read_bytes() for name in CUSTOM_FILES}
    tracks = load_tracks(None)  # the simulator's 127, shipped with the package

    started = time.perf_counter()
    report = validate_custom_files(files, tracks=tracks)
    full_seconds = time.perf_counter() - started

    action_space = json.loads(files["model_metadata.json"])["action_space"]
    first_track = next(iter(tracks.values()))
    sample = [params for _, params in list(params_cases(first_track, action_space))[:NAIVE_SAMPLE]]
    naive_per_call = _naive_seconds_per_call(files["reward_function.py"].decode(), sample)
    calls = sum(run.cases for run in report.reward_runs)
    naive_seconds = naive_per_call * calls

    return {
        "tracks": len(report.tracks),
        "interpreters": [run.interpreter for run in report.reward_runs],
        "calls": calls,
        "valid": report.ok,
        "full_validation_seconds": round(full_seconds, 2),
        "per_interpreter_seconds": {run.interpreter: run.seconds for run in report.reward_runs},
        "reward_p50_ms": {run.interpreter: run.p50_ms for run in report.reward_runs},
        "reward_p99_ms": {run.interpreter: run.p99_ms for run in report.reward_runs},
        "naive_seconds_per_call": round(naive_per_call, 4),
        "naive_extrapolated_seconds": round(naive_seconds, 1),
        "speedup_vs_naive": round(naive_seconds / full_seconds, 1),
        "target_seconds": TARGET_SECONDS,
        "load_average_1min": round(os.getloadavg()[0], 2),  # other work on the 2 shared cores
        "targets_met": report.ok and full_seconds < TARGET_SECONDS,
    }
