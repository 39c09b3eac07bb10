"""The 3.8 check runs in a simulator-like Python 3.8 (`.tools/py38`, made by scripts/setup.sh)
that has the libraries the console allows, so a reward function using them is really run."""

from __future__ import annotations

import pytest

from pitwall.customfiles.reward_dynamic import SIMULATOR_PY38, find_python38, run_reward_function

USES_EVERY_ALLOWED_LIBRARY = """
import math
import numpy as np
from scipy import spatial
from shapely.geometry import Point


def reward_function(params):
    here = Point(params["x"], params["y"])
    gap = spatial.distance.euclidean([params["x"], params["y"]], [0.0, 0.0])
    return float(np.clip(1.0 - here.distance(Point(0.0, 0.0)) * 0.0 - gap * 0.0, 1e-3, 1.0)) + math.pi * 0
"""


@pytest.mark.skipif(not SIMULATOR_PY38.exists(), reason="no .tools/py38 (no Python 3.8 on this machine)")
def test_the_simulator_python38_is_preferred_and_runs_numpy_scipy_and_shapely():
    python38 = find_python38()
    assert python38 is not None and python38.path == str(SIMULATOR_PY38)

    cases = [(f"case {i}", {"x": float(i), "y": 1.0}) for i in range(20)]
    (result,) = run_reward_function(USES_EVERY_ALLOWED_LIBRARY, cases, interpreters=[python38])

    assert result.skipped is None
    assert result.failure is None
    assert result.calls == 20
