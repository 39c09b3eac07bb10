"""The DRoA double's import rules, on files as DRoA reads them (no AWS)."""

from __future__ import annotations

import pytest

from pitwall_local.droa import DroaDouble, load_tracks

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
            {"training_params.yaml": b"WORLD_NAME: Nowhere_track\n"},
            "Track Nowhere_track is not available in direction COUNTER_CLOCKWISE",
        ),
        (
            {
                "training_params.yaml": b"WORLD_NAME: reInvent2019_track\nTRACK_DIRECTION_CLOCKWISE: false\n"
                b"RACE_TYPE: OBJECT_AVOIDANCE\nNUMBER_OF_OBSTACLES: 7\n"
            },
            "Number of obstacle positions is invalid",
        ),
        (
            {
                "training_params.yaml": b"WORLD_NAME: reInvent2019_track\nRACE_TYPE: OBJECT_AVOIDANCE\n"
                b"NUMBER_OF_OBSTACLES: 2\nOBJECT_POSITIONS: ['0.5, 1', '0.55, -1']\n"
            },
            "Obstacle position distances are invalid",
        ),
        (
            {
                "training_params.yaml": b"WORLD_NAME: reInvent2019_track\nRACE_TYPE: OBJECT_AVOIDANCE\n"
                b"NUMBER_OF_OBSTACLES: 2\nOBJECT_POSITIONS: ['0.5, 1']\n"
            },
            "equal to number of objects",
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
    # Albert is clockwise only in DRoA: a counter-clockwise flag is not read
    one_way = {**GOOD, "training_params.yaml": b"WORLD_NAME: Albert\nTRACK_DIRECTION_CLOCKWISE: false\n"}
    assert double.check_import(one_way) is None


@pytest.mark.parametrize("flag", [b"'True'", b"1", b"yes-please", b"null"])
def test_anything_but_a_real_true_is_counter_clockwise(double, flag):
    # a track DRoA offers both ways: any other value is read as counter-clockwise, not refused
    params = b"WORLD_NAME: reInvent2019_track\nTRACK_DIRECTION_CLOCKWISE: " + flag + b"\n"
    assert double.check_import({**GOOD, "training_params.yaml": params}) is None


def test_object_positions_are_read_as_droa_reads_them(double):
    params = (
        b"WORLD_NAME: reInvent2019_track\nRACE_TYPE: OBJECT_AVOIDANCE\nNUMBER_OF_OBSTACLES: 2\n"
        b"OBJECT_POSITIONS: ['0.5, 1', '0.7,-1']\nRANDOMIZE_OBSTACLE_LOCATIONS: false\n"
    )
    assert double.check_import({**GOOD, "training_params.yaml": params}) is None


def test_the_api_checks_the_track_and_the_workflow_the_model_files(double):
    unknown = {**GOOD, "training_params.yaml": b"WORLD_NAME: Nowhere\n"}
    assert "Nowhere" in (double.check_request(unknown) or "")
    assert double.check_workflow(unknown) is None
    two = {**GOOD, "model/4_Step-40.ckpt.index": b""}
    assert double.check_request(two) is None
    assert "exactly one checkpoint" in (double.check_workflow(two) or "")


def test_the_doubles_tracks_are_droas_published_list():
    tracks = load_tracks()
    assert len(tracks) == 62
    assert tracks["Albert"] == {"CLOCKWISE"} and tracks["reinvent_base"] == {"COUNTER_CLOCKWISE"}
    assert tracks["reInvent2019_track"] == {"CLOCKWISE", "COUNTER_CLOCKWISE"}
