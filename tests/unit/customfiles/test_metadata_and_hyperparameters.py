"""model_metadata.json and hyperparameters.json: console ranges, cross-field rules, exact
round trips."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pitwall.customfiles.hyperparameters import HyperParameters, problems_with_metadata
from pitwall.customfiles.metadata import DiscreteAction, ModelMetadata

GOOD = Path(__file__).resolve().parents[2] / "data" / "custom_files" / "good"
DISCRETE = (GOOD / "discrete_ppo" / "model_metadata.json").read_text()
CONTINUOUS = (GOOD / "continuous_sac" / "model_metadata.json").read_text()


def metadata_with(**changes: object) -> str:
    data = json.loads(DISCRETE)
    data.update(changes)
    return json.dumps(data)


def test_good_files_round_trip_byte_for_byte():
    for folder in ("discrete_ppo", "continuous_sac"):
        for document in (ModelMetadata, HyperParameters):
            text = (GOOD / folder / document.FILE).read_text()
            model, problems = document.check(text)
            assert problems == [] and model is not None
            assert model.to_json() == text


def test_unknown_fields_and_key_order_survive_a_change():
    text = (
        '{"version": "5", "action_space": [{"steering_angle": -10, "speed": 1, "index": 0},'
        ' {"steering_angle": 10, "speed": 1, "index": 1}], "custom_note": {"by": "me"}}'
    )
    model = ModelMetadata.from_json(text)

    model.action_space[1] = DiscreteAction(steering_angle=20, speed=1.5, index=1)  # type: ignore[index]
    data = json.loads(model.to_json())

    assert list(data) == ["version", "action_space", "custom_note"]
    assert data["action_space"][0] == {"steering_angle": -10, "speed": 1, "index": 0}  # 1 stays an int
    assert data["action_space"][1] == {"steering_angle": 20, "speed": 1.5, "index": 1}
    assert data["custom_note"] == {"by": "me"}
    assert "sensor" not in data  # defaults are not added


@pytest.mark.parametrize(
    ("changes", "field", "allowed"),
    [
        ({"action_space": [{"steering_angle": -31, "speed": 1}, {"steering_angle": 0, "speed": 1}]},
         "action_space[0].steering_angle", "-30..30 degrees"),
        ({"action_space": [{"steering_angle": 0, "speed": 0.05}, {"steering_angle": 0, "speed": 1}]},
         "action_space[0].speed", "0.1..4.0 m/s"),
        ({"action_space": [{"steering_angle": 0, "speed": True}, {"steering_angle": 0, "speed": 1}]},
         "action_space[0].speed", "0.1..4.0 m/s"),
        ({"training_algorithm": "ppo"}, "training_algorithm", "'clipped_ppo' or 'sac'"),
        ({"action_space_type": "both"}, "action_space_type", "'discrete' or 'continuous'"),
    ],
)  # fmt: skip
def test_field_problems_name_the_field_and_what_is_allowed(changes, field, allowed):
    model, problems = ModelMetadata.check(metadata_with(**changes))

    assert model is None
    assert [(problem.file, problem.field, problem.allowed) for problem in problems] == [
        ("model_metadata.json", field, allowed)
    ]


def test_rules_are_reported_beside_field_problems():
    text = metadata_with(
        sensor=["LEFT_CAMERA", "FRONT_FACING_CAMERA"],
        training_algorithm="sac",
        action_space=[{"steering_angle": 0, "speed": 9}, {"steering_angle": 0, "speed": 1}],
    )

    _, problems = ModelMetadata.check(text)

    assert [problem.field for problem in problems] == [
        "action_space[0].speed",
        "sensor",
        "training_algorithm",
    ]


def test_cross_field_rules_are_each_reported():
    text = metadata_with(
        training_algorithm="sac", sensor=["LEFT_CAMERA", "FRONT_FACING_CAMERA", "LIDAR", "SECTOR_LIDAR"]
    )

    _, problems = ModelMetadata.check(text)

    messages = sorted(problem.message for problem in problems)
    assert messages == [
        "SAC needs a continuous action space, not discrete",
        "at most one lidar, found 2",
        "needs exactly one camera, found 2",
    ]


def test_continuous_bounds_are_checked_and_low_must_be_below_high():
    data = json.loads(CONTINUOUS)
    data["action_space"]["steering_angle"] = {"low": -40, "high": 10}
    data["action_space"]["speed"] = {"low": 2, "high": 2}

    _, problems = ModelMetadata.check(json.dumps(data))

    # a bad field does not hide a broken rule elsewhere
    assert [(problem.field, problem.allowed) for problem in problems] == [
        ("action_space.steering_angle.low", "-30..0 degrees"),
        ("action_space.speed", "low < high"),
    ]
    data["action_space"]["steering_angle"] = {"low": -10, "high": 10}
    _, problems = ModelMetadata.check(json.dumps(data))
    assert [(problem.field, problem.message) for problem in problems] == [
        ("action_space.speed", "low must be below high")
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [("{", "not valid JSON"), ("[1]", "must be a JSON object"), (b"\xff", "not UTF-8"), ("{}", "missing")],
)
def test_unreadable_files_are_problems_not_exceptions(text, message):
    model, problems = ModelMetadata.check(text)

    assert model is None and message in problems[0].render()


@pytest.mark.parametrize(
    ("field", "value", "allowed"),
    [
        ("batch_size", 100, "32, 64, 128, 256 or 512"),
        ("num_epochs", 2, "3..10"),
        ("lr", 0.1, "1e-8..1e-3"),
        ("beta_entropy", 1.5, "0..1"),
        ("discount_factor", -0.1, "0..1"),
        ("loss_type", "mse", "'huber' or 'mean squared error'"),
        ("num_episodes_between_training", 0, "1..100"),
        ("exploration_type", "greedy", "'categorical' or 'e-greedy'"),
        ("epsilon_steps", 0, "> 0"),
        ("stack_size", 0, ">= 1"),
        ("sac_alpha", 2, "0..1"),
        ("num_epochs", 5.0, "3..10"),  # a float where DRFC needs an int
    ],
)
def test_hyperparameter_ranges(field, value, allowed):
    model, problems = HyperParameters.check(json.dumps({field: value}))

    assert model is None
    assert [(problem.field, problem.value, problem.allowed) for problem in problems] == [
        (field, value, allowed)
    ]


def test_sac_needs_one_episode_between_trainings():
    metadata = ModelMetadata.from_json(CONTINUOUS)

    assert (
        problems_with_metadata(HyperParameters.from_json('{"num_episodes_between_training": 1}'), metadata)
        == []
    )
    (problem,) = problems_with_metadata(HyperParameters.from_json('{"lr": 0.0003}'), metadata)
    assert problem.field == "num_episodes_between_training" and "unset, so 20" in problem.message
    ppo = ModelMetadata.from_json(DISCRETE)
    assert (
        problems_with_metadata(HyperParameters.from_json('{"num_episodes_between_training": 20}'), ppo) == []
    )
