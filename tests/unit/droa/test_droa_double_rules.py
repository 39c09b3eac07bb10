"""The DRoA double's import rules, on files as DRoA reads them (no AWS)."""

from __future__ import annotations

import pytest

from pitwall_local.droa import DroaDouble, track_directions

GOOD = {
    "training_params.yaml": b"WORLD_NAME: reInvent2019_track\nTRACK_DIRECTION_CLOCKWISE: true\n",
    "model_metadata.json": b'{"action_space_type": "discrete", "action_space": []}',
    "reward_function.py": b"def reward_function(params):\n    return 1.0\n",
    "ip/hyperparameters.json": b"{}",
    "model/3_Step-30.ckpt.index": b"",
    "model/3_Step-30.ckpt.meta": b"",
    "model/3_Step-30.ckpt.data-00000-of-00001": b"",
    "model/model_3.pb": b"",
    "model/.coach_checkpoint": b"3_Step-30.ckpt",
    "model/deepracer_checkpoints.json": b'{"best_checkpoint": {"name": "3_Step-30.ckpt"}, '
    b'"last_checkpoint": {"name": "3_Step-30.ckpt"}}',
}


@pytest.fixture
def double() -> DroaDouble:
    return DroaDouble(region="us-east-1", clock=lambda: 0.0)


def test_a_good_package_passes(double):
    assert double.check_import(GOOD) is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"training_params.yaml": b"WORLD_NAME: reInvent2019_track_cw\nTRACK_DIRECTION_CLOCKWISE: true\n"},
            "not available",
        ),
        (
            {"training_params.yaml": b"WORLD_NAME: reInvent2019_track\nTRACK_DIRECTION_CLOCKWISE: 'True'\n"},
            "boolean",
        ),
        (
            {
                "training_params.yaml": b"WORLD_NAME: reInvent2019_track\nTRACK_DIRECTION_CLOCKWISE: false\n"
                b"RACE_TYPE: OBJECT_AVOIDANCE\nNUMBER_OF_OBSTACLES: '3'\n"
            },
            "NUMBER_OF_OBSTACLES",
        ),
        ({"model/4_Step-40.ckpt.index": b""}, "exactly one checkpoint"),
        ({"model/.coach_checkpoint": b"2_Step-20.ckpt"}, ".coach_checkpoint"),
        ({"model/model_3.pb": None}, "model_3.pb"),
        ({"ip/hyperparameters.json": None}, "ip/hyperparameters.json"),
    ],
)
def test_each_rule_names_what_it_refuses(double, changes, message):
    files = {**GOOD, **changes}
    files = {k: v for k, v in files.items() if v is not None}
    assert message in (double.check_import(files) or "")


def test_a_track_driven_one_way_only_ignores_the_direction_flag(double):
    one_way = {
        **GOOD,
        "training_params.yaml": b"WORLD_NAME: reinvent_base\nTRACK_DIRECTION_CLOCKWISE: 'yes'\n",
    }
    assert double.check_import(one_way) is None


def test_the_api_checks_the_track_and_the_workflow_the_model_files(double):
    unknown = {**GOOD, "training_params.yaml": b"WORLD_NAME: Nowhere\n"}
    assert "Nowhere" in (double.check_request(unknown) or "")
    assert double.check_workflow(unknown) is None
    two = {**GOOD, "model/4_Step-40.ckpt.index": b""}
    assert double.check_request(two) is None
    assert "exactly one checkpoint" in (double.check_workflow(two) or "")


def test_track_directions_come_from_the_variant_files():
    tracks = track_directions({"a", "a_cw", "a_ccw", "b", "c_cw", "c_ccw"})
    assert tracks == {"a": {"cw", "ccw"}, "b": {"ccw"}, "c": {"cw", "ccw"}}
