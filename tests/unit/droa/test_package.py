"""The DRoA package and the car file, built from a lineage's listings (pure)."""

from __future__ import annotations

import io
import json
import re
import tarfile
from pathlib import Path

import numpy as np
import pytest
import yaml

import pitwall.tracks
from pitwall import layout
from pitwall.droa import contract, package
from pitwall.errors import CheckpointMissing, DroaTrackUnknown, InvalidImportRequest

DRFC_PARAMS = (
    b'AWS_REGION: "us-east-1"\nJOB_TYPE: "TRAINING"\nWORLD_NAME: "reInvent2019_track_ccw"\n'
    b'RACE_TYPE: "TIME_TRIAL"\nMODEL_S3_BUCKET: "b"\nMODEL_S3_PREFIX: "models/m/seg-000"\n'
    b'REVERSE_DIR: "False"\nMIN_EVAL_TRIALS: "5"\nBEST_MODEL_METRIC: "progress"\n'
)


def segment(prefix: str, names: list[str], best: str | None, last: str | None, metric: float = 50.0):
    model = layout.ModelKeys(prefix)
    sizes = {key: 100 for name in names for key in model.checkpoint_files(name)}
    sizes[model.checkpoints_json] = 10
    document = {}
    if best:
        document["best_checkpoint"] = {"name": best, "avg_eval_metric": metric, "time_stamp": 1.0}
    if last:
        document["last_checkpoint"] = {"name": last, "avg_eval_metric": 10.0, "time_stamp": 2.0}
    return package.SegmentListing(prefix=prefix, checkpoints=document, sizes=sizes)


LINEAGE = [
    segment(
        "models/m/seg-000", ["3_Step-300.ckpt", "4_Step-400.ckpt"], "3_Step-300.ckpt", "4_Step-400.ckpt", 80.0
    ),
    segment(
        "models/m/seg-001", ["5_Step-500.ckpt", "6_Step-600.ckpt"], "5_Step-500.ckpt", "6_Step-600.ckpt", 70.0
    ),
]


def test_best_is_chosen_over_the_whole_lineage():
    chosen = package.choose_checkpoint(LINEAGE, "best")
    assert (chosen.prefix, chosen.name) == ("models/m/seg-000", "3_Step-300.ckpt")
    assert chosen.record["avg_eval_metric"] == 80.0


def test_last_is_the_latest_segments_last_and_a_number_is_found_where_it_lives():
    assert package.choose_checkpoint(LINEAGE, "last").name == "6_Step-600.ckpt"
    assert package.choose_checkpoint(LINEAGE, "4").prefix == "models/m/seg-000"


def test_a_checkpoint_number_no_segment_has_names_the_ones_that_exist():
    with pytest.raises(CheckpointMissing) as error:
        package.choose_checkpoint(LINEAGE, "2")
    assert "models/m/seg-000: 3_Step-300.ckpt" in str(error.value)
    assert "models/m/seg-001: 6_Step-600.ckpt" in str(error.value)


def test_a_best_checkpoint_the_simulator_deleted_is_missing_with_the_ones_that_exist():
    # Given the best of seg-000 was rotated out (only 4 kept): its files are gone
    gone = segment("models/m/seg-000", ["4_Step-400.ckpt"], "3_Step-300.ckpt", "4_Step-400.ckpt", 99.0)
    with pytest.raises(CheckpointMissing) as error:
        package.choose_checkpoint([gone, LINEAGE[1]], "best")
    assert "3_Step-300.ckpt" in str(error.value) and "4_Step-400.ckpt" in str(error.value)


def test_a_choice_that_is_neither_best_last_nor_a_number_is_refused():
    with pytest.raises(InvalidImportRequest, match="best, last or a checkpoint number"):
        package.parse_choice("newest")


@pytest.mark.parametrize("name", ["has_underscore", "", "x" * 65, "spaces not allowed", "ends-in-newline\n"])
def test_model_names_follow_droas_rule(name):
    with pytest.raises(InvalidImportRequest, match="model name"):
        package.check_model_name(name)


def test_descriptions_follow_droas_rule():
    assert package.check_description("Pitwall run 7 checkpoint 3") == "Pitwall run 7 checkpoint 3"
    for refused in ("no_underscores", "no final newline\n"):
        with pytest.raises(InvalidImportRequest, match="description"):
            package.check_description(refused)


def test_training_params_are_typed_yaml_with_the_droa_track_and_direction():
    params = yaml.safe_load(package.droa_training_params(DRFC_PARAMS))
    assert params["WORLD_NAME"] == "reInvent2019_track"
    assert params["TRACK_DIRECTION_CLOCKWISE"] is False
    assert params["MIN_EVAL_TRIALS"] == 5
    assert params["RACE_TYPE"] == "TIME_TRIAL"
    assert params["BODY_SHELL_TYPE"] and params["CAR_COLOR"]
    assert "REVERSE_DIR" not in params and "MODEL_S3_PREFIX" not in params


def test_training_params_carry_nothing_that_points_into_pitwalls_bucket():
    # DRFC's training_params.yaml (as the host writes it) names where the job read and wrote
    from pitwall import drfc_files

    target = drfc_files.ParamsTarget(
        region="us-east-1",
        bucket="pitwall-models",
        model_prefix="models/m/seg-000",
        custom_files_prefix="runs/r/custom_files",
    )
    drfc = drfc_files.training_params({"DR_WORLD_NAME": "reInvent2019_track"}, target)
    assert any("pitwall-models" in str(v) for v in drfc.values())
    params = yaml.safe_load(package.droa_training_params(yaml.safe_dump(drfc).encode()))
    assert not [k for k, v in params.items() if "pitwall-models" in str(v) or "/" in str(v)]
    assert "TRAINING_JOB_ARN" not in params and "SIMTRACE_S3_PREFIX" not in params


@pytest.mark.parametrize(
    ("world", "reverse", "expected"),
    [
        ("2022_april_open_cw", "False", ("2022_april_open", True)),
        ("2022_april_open_ccw", "True", ("2022_april_open", True)),
        ("reInvent2019_track", "True", ("reInvent2019_track", True)),
        ("reInvent2019_track.npy", "false", ("reInvent2019_track", False)),
    ],
)
def test_direction_folds_the_suffix_and_the_reversal(world, reverse, expected):
    text = f'WORLD_NAME: "{world}"\nREVERSE_DIR: "{reverse}"\n'.encode()
    params = yaml.safe_load(package.droa_training_params(text))
    assert (params["WORLD_NAME"], params["TRACK_DIRECTION_CLOCKWISE"]) == expected


def test_object_avoidance_keys_are_typed():
    text = (
        b'WORLD_NAME: "reInvent2019_track"\nRACE_TYPE: "OBJECT_AVOIDANCE"\n'
        b'OBJECT_POSITIONS: "0.23,-1;0.67,1"\nRANDOMIZE_OBSTACLE_LOCATIONS: "True"\n'
    )
    params = yaml.safe_load(package.droa_training_params(text))
    assert params["OBJECT_POSITIONS"] == ["0.23,-1", "0.67,1"]
    assert params["NUMBER_OF_OBSTACLES"] == 2
    assert params["RANDOMIZE_OBSTACLE_LOCATIONS"] is True


def test_a_params_file_without_a_track_is_refused():
    with pytest.raises(DroaTrackUnknown):
        package.droa_training_params(b'RACE_TYPE: "TIME_TRIAL"\n')


def build(chosen):
    return package.build_package(
        chosen,
        training_params=DRFC_PARAMS,
        model_metadata=b'{"action_space": []}',
        reward_function=b"def reward_function(params):\n    return 1.0\n",
        hyperparameters=b"{}",
        sizes=next(s for s in LINEAGE if s.prefix == chosen.prefix).sizes,
    )


def test_the_package_holds_exactly_one_checkpoint_in_droas_layout():
    result = build(package.choose_checkpoint(LINEAGE, "best"))
    paths = sorted(f.path for f in result.files)
    assert paths == sorted(
        [
            "training_params.yaml",
            "model_metadata.json",
            "reward_function.py",
            "ip/hyperparameters.json",
            "model/model_metadata.json",
            "model/.coach_checkpoint",
            "model/deepracer_checkpoints.json",
            "model/3_Step-300.ckpt.index",
            "model/3_Step-300.ckpt.meta",
            "model/3_Step-300.ckpt.data-00000-of-00001",
            "model/model_3.pb",
        ]
    )
    assert result.file("model/.coach_checkpoint").body == b"3_Step-300.ckpt"
    checkpoints = json.loads(result.file("model/deepracer_checkpoints.json").body or b"")
    assert (
        checkpoints["best_checkpoint"]["name"] == checkpoints["last_checkpoint"]["name"] == "3_Step-300.ckpt"
    )
    assert result.file("model/model_3.pb").source_key == "models/m/seg-000/model/model_3.pb"
    assert not any(f.path.endswith((".gz", ".zip")) for f in result.files)


def test_a_package_over_one_gigabyte_is_refused():
    chosen = package.choose_checkpoint(LINEAGE, "best")
    model = layout.ModelKeys(chosen.prefix)
    huge = {**LINEAGE[0].sizes, model.checkpoint_files(chosen.name)[2]: 2_000_000_000}
    with pytest.raises(InvalidImportRequest, match="at most"):
        package.build_package(
            chosen,
            training_params=DRFC_PARAMS,
            model_metadata=b"{}",
            reward_function=b"",
            hyperparameters=b"{}",
            sizes=huge,
        )


def test_the_car_file_holds_the_frozen_graph_and_the_metadata_and_is_reproducible():
    body = package.car_file(b"GRAPH", b'{"sensor": ["FRONT_FACING_CAMERA"]}')
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as archive:
        assert sorted(archive.getnames()) == ["agent/model.pb", "model_metadata.json"]
        assert archive.extractfile("agent/model.pb").read() == b"GRAPH"  # type: ignore[union-attr]
    assert package.car_file(b"GRAPH", b"{}") == package.car_file(b"GRAPH", b"{}")


# -- DRoA's tracks and directions ----------------------------------------------------------------


def test_pitwalls_copy_of_droas_tracks_is_the_published_list():
    tracks = contract.tracks()
    assert len(tracks) == 62
    assert tracks["Albert"] == {contract.TrackDirection.CLOCKWISE}
    assert tracks["reInvent2019_track"] == set(contract.TrackDirection)


@pytest.mark.parametrize(
    ("world", "message"),
    [
        ("Nowhere_track", "DRoA has no track 'Nowhere_track'"),
        ("reInvent2019_trak", "close names: reInvent2019_track"),
        ("bad/track", "DRoA has no track 'bad/track'"),
    ],
)
def test_a_track_droa_lacks_is_refused_naming_close_ones(world, message):
    with pytest.raises(DroaTrackUnknown, match=re.escape(message)):
        package.droa_training_params(f'WORLD_NAME: "{world}"\n'.encode())


def test_a_one_way_track_driven_the_other_way_is_refused_naming_droas_direction():
    # Albert runs clockwise in its file; reversed it is a direction DRoA does not have
    assert package.droa_track("Albert", False) == ("Albert", True)
    with pytest.raises(DroaTrackUnknown, match="DRoA has Albert only CLOCKWISE"):
        package.droa_training_params(b'WORLD_NAME: "Albert"\nREVERSE_DIR: "True"\n')


def test_a_tracks_own_file_runs_the_way_the_direction_rule_says():
    # the rule for a name without _cw/_ccw, checked on the simulator's waypoints: a positive
    # signed area of the centre line is counter-clockwise
    folder = Path(pitwall.tracks.__file__).parent / "data"
    checked = 0
    for track, directions in contract.tracks().items():
        path = folder / f"{track}.npy"
        if not path.is_file():
            continue
        x, y = np.load(path)[:, 0], np.load(path)[:, 1]
        counter_clockwise = float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y)) > 0
        assert package.droa_track(track, False) == (track, not counter_clockwise), directions
        checked += 1
    assert checked >= 50
