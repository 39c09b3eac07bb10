"""The classic increment step: every speed of the action space times a factor."""

from __future__ import annotations

import json

import pytest

from pitwall.errors import InvalidCustomFiles
from pitwall.lifecycle.increment import scale_speeds
from pitwall_local.examples import example_files


def test_discrete_speeds_are_scaled_and_steering_is_kept() -> None:
    original = json.loads(example_files()["model_metadata.json"])
    scaled = json.loads(scale_speeds(example_files()["model_metadata.json"], 1.5))
    assert [a["speed"] for a in scaled["action_space"]] == [
        round(a["speed"] * 1.5, 2) for a in original["action_space"]
    ]
    assert [a["steering_angle"] for a in scaled["action_space"]] == [
        a["steering_angle"] for a in original["action_space"]
    ]


def test_continuous_speed_bounds_are_scaled() -> None:
    metadata = {
        "action_space_type": "continuous",
        "action_space": {"steering_angle": {"low": -30, "high": 30}, "speed": {"low": 1.0, "high": 2.0}},
    }
    scaled = json.loads(scale_speeds(json.dumps(metadata).encode(), 1.25))
    assert scaled["action_space"]["speed"] == {"low": 1.25, "high": 2.5}


def test_metadata_without_an_action_space_is_a_named_error() -> None:
    with pytest.raises(InvalidCustomFiles, match=r"model_metadata\.json: action_space"):
        scale_speeds(b'{"sensor": ["FRONT_FACING_CAMERA"]}', 1.2)
