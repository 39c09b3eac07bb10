"""The action-space generator and `pitwall action-space`: valid model_metadata.json documents,
clear errors beyond the console's ranges."""

from __future__ import annotations

import json

import pytest

from pitwall.customfiles.metadata import ModelMetadata
from pitwall_cli import main
from pitwall_cli.action_spaces import InvalidActionSpace, continuous_bounds, discrete_actions, model_metadata


def test_a_symmetric_grid_mirrors_the_angles():
    actions = discrete_actions([1, 2, 3], [0, 15, 30], symmetric=True)
    assert len(actions) == 15
    assert sorted({a["steering_angle"] for a in actions}) == [-30, -15, 0, 15, 30]
    assert actions[0] == {"steering_angle": -30.0, "speed": 1.0}
    assert actions[-1] == {"steering_angle": 30.0, "speed": 3.0}


def test_a_plain_grid_keeps_the_angles_given_and_drops_repeats():
    actions = discrete_actions([2.0, 1.0, 2.0], [10, -10])
    assert actions == [
        {"steering_angle": -10.0, "speed": 1.0},
        {"steering_angle": -10.0, "speed": 2.0},
        {"steering_angle": 10.0, "speed": 1.0},
        {"steering_angle": 10.0, "speed": 2.0},
    ]


def test_generated_documents_pass_the_metadata_model():
    discrete = model_metadata(discrete_actions([0.5, 1.5, 4.0], [0, 10, 20, 30], symmetric=True))
    continuous = model_metadata(continuous_bounds((0.5, 3.5), (-30, 30)), training_algorithm="sac")
    for document in (discrete, continuous):
        parsed = ModelMetadata.model_validate(document)
        assert parsed.sensor == ["FRONT_FACING_CAMERA"]
    assert discrete["action_space_type"] == "discrete" and len(discrete["action_space"]) == 21
    assert continuous["action_space_type"] == "continuous"
    assert continuous["action_space"] == {
        "steering_angle": {"low": -30.0, "high": 30.0},
        "speed": {"low": 0.5, "high": 3.5},
    }


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: discrete_actions([1, 2, 3], range(-30, 31, 6)),
            "11 steering angles x 3 speeds = 33 actions",
        ),
        (lambda: discrete_actions([1], [0]), "= 1 actions (allowed: 2..30 actions)"),
        (lambda: discrete_actions([1, 5], [0]), "speed: 5 out of range (allowed: 0.1..4 m/s)"),
        (lambda: discrete_actions([1], [0, 35], symmetric=True), "steering angle: -35, 35 out of range"),
        (lambda: discrete_actions([], [0]), "speeds: none given"),
        (lambda: continuous_bounds((3.0, 1.0), (-30, 30)), "speed: low 3 is not below high 1"),
        (lambda: continuous_bounds((0.2, 1.0), (-30, 30)), "speed: 0.2 out of range (allowed: 0.5..4 m/s)"),
        (
            lambda: continuous_bounds((1, 2), (5, 30)),
            "steering low: 5 out of range (allowed: -30..0 degrees)",
        ),
        (
            lambda: model_metadata(discrete_actions([1, 2], [0]), training_algorithm="sac"),
            "sac needs a continuous",
        ),
        (lambda: model_metadata(discrete_actions([1, 2], [0]), training_algorithm="dqn"), "'dqn' (allowed"),
    ],
)
def test_bad_requests_are_clear_errors(make, message):
    with pytest.raises(InvalidActionSpace) as caught:
        make()
    assert message in str(caught.value)


def test_cli_discrete_writes_a_file(tmp_path, capsys):
    out = tmp_path / "model_metadata.json"
    code = main(
        [
            "action-space",
            "discrete",
            "--speeds",
            "1,2,3",
            "--angles",
            "0,15,30",
            "--symmetric",
            "-o",
            str(out),
        ]
    )
    assert code == 0
    document = json.loads(out.read_text())
    assert len(document["action_space"]) == 15
    ModelMetadata.model_validate(document)
    assert "15 actions" in capsys.readouterr().out


def test_cli_continuous_accepts_negative_bounds_after_a_space(capsys):
    code = main(
        ["action-space", "continuous", "--speed", "0.5:3.5", "--steering", "-30:30", "--algorithm", "sac"]
    )
    assert code == 0
    document = json.loads(capsys.readouterr().out)
    assert document["action_space"]["steering_angle"] == {"low": -30.0, "high": 30.0}
    assert document["training_algorithm"] == "sac"


def test_cli_negative_angle_lists_are_values_too(capsys):
    assert main(["action-space", "discrete", "--speeds", "1,2", "--angles", "-20,0,20"]) == 0
    assert len(json.loads(capsys.readouterr().out)["action_space"]) == 6


def test_cli_reports_a_rule_and_exits_non_zero(tmp_path, capsys):
    out = tmp_path / "model_metadata.json"
    code = main(["action-space", "discrete", "--speeds", "1,2,3,4", "--angles", "0,5,10,15,20", "--symmetric",
                 "-o", str(out)])  # fmt: skip
    assert code == 2
    assert "36 actions (allowed: 2..30 actions)" in capsys.readouterr().err
    assert not out.exists()


def test_cli_rejects_malformed_numbers():
    with pytest.raises(SystemExit):
        main(["action-space", "continuous", "--speed", "fast", "--steering", "-30:30"])
