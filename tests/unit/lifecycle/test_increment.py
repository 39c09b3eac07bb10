"""The classic increment step: every speed of the action space times a factor."""

from __future__ import annotations

import json

import pytest

from pitwall.errors import InvalidCustomFiles
from pitwall.lifecycle.deps import Deps
from pitwall.lifecycle.increment import increment_model, scale_speeds
from pitwall.lifecycle.models import IncrementInput, IncrementRequest
from pitwall.runs import Run, RunKind, RunRequest, RunState, Segment
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


def _trained_with_schedules(deps: Deps) -> None:
    run = Run(
        run_id="parent",
        kind=RunKind.TRAIN,
        request=RunRequest.model_validate(
            {
                "model_name": "parent",
                "track": "a",
                "evaluations": [{"every": "rate(2 hours)", "tracks": [{"track": "b"}], "trials": 5}],
            }
        ),
        state=RunState.SUCCEEDED,
        created_at=0,
        updated_at=0,
        custom_files_prefix="runs/parent/custom_files",
        segments=[
            Segment(index=0, model_prefix="parent/seg-000", deadline_epoch=1, last_checkpoint="3_Step-3.ckpt")
        ],
    )
    deps.runs.create(run)
    for name, body in example_files().items():
        deps.store.put_bytes(run.keys.custom_file(name), body)


def test_an_increment_keeps_its_parents_scheduled_evaluations_unless_given_its_own(fake_deps: Deps) -> None:
    _trained_with_schedules(fake_deps)
    kept = increment_model(
        IncrementInput(run_id="child", request=IncrementRequest(source_run_id="parent")), fake_deps
    )
    [schedule] = kept.request.evaluations
    assert (schedule.every, [leg.track for leg in schedule.tracks], schedule.trials) == (
        "rate(2 hours)",
        ["b"],
        5,
    )
    own = increment_model(
        IncrementInput(run_id="child2", request=IncrementRequest(source_run_id="parent", evaluations=[])),
        fake_deps,
    )
    assert own.request.evaluations == []
