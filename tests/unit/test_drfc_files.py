"""The formats of DRFC's and the simulator's files: checkpoints, metrics, simtrace, parameters."""

from __future__ import annotations

import json

import pytest
import yaml

from pitwall.drfc_files import (
    SIMTRACE_COLUMNS,
    ParamsTarget,
    checkpoint_choice,
    checkpoints_of,
    episode_count,
    episodes_of,
    episodes_per_iteration,
    evaluation_params,
    evaluation_simtrace_key,
    evaluation_summary,
    hyperparameters_json,
    kept_checkpoints,
    params_yaml,
    read_simtrace,
    resolved_hyperparameters,
    simtrace_csv,
    training_params,
    training_simtrace_key,
)

TARGET = ParamsTarget("eu-west-1", "bucket", "models/m/seg-001", "runs/r/custom_files", workers=3)


def _entry(episode: int, phase: str = "training", completion: int = 50, status: str = "Off track") -> dict:
    return {
        "episode": episode,
        "phase": phase,
        "completion_percentage": completion,
        "episode_status": status,
        "elapsed_time_in_milliseconds": 12_000,
        "reward_score": 10,
        "trial": 1,
    }


def test_episode_count_is_the_highest_training_episode() -> None:
    document = {"metrics": [_entry(1), _entry(2), _entry(1, phase="evaluation"), _entry(3)], "version": 2.0}
    assert episode_count(document) == 3
    assert episode_count(None) == 0
    assert len(episodes_of(document)) == 4


def test_checkpoints_read_both_the_new_and_the_old_metric_names() -> None:
    new = {
        "best_checkpoint": {"name": "5_Step-10.ckpt", "avg_eval_metric": 71.5},
        "last_checkpoint": {"name": "6_Step-12.ckpt", "avg_eval_metric": 60.0},
    }
    old = {
        "best_checkpoint": {"name": "2_Step-3.ckpt", "avg_comp_pct": 40.0},
        "last_checkpoint": {"name": "2_Step-3.ckpt"},
    }
    assert checkpoints_of(new).best == "5_Step-10.ckpt" and checkpoints_of(new).last == "6_Step-12.ckpt"
    assert checkpoints_of(new).best_metric == 71.5
    assert checkpoints_of(old).best_metric == 40.0
    assert checkpoints_of(None).last is None


def test_evaluation_summary_counts_laps_offtracks_and_crashes() -> None:
    document = {
        "metrics": [
            {
                **_entry(1, "evaluation", 100, "Lap complete"),
                "elapsed_time_in_milliseconds": 11_500,
                "off_track_count": 0,
                "crash_count": 0,
            },
            {
                **_entry(2, "evaluation", 100, "Lap complete"),
                "elapsed_time_in_milliseconds": 10_900,
                "off_track_count": 1,
                "crash_count": 0,
            },
            {**_entry(3, "evaluation", 40, "Crashed"), "off_track_count": 0, "crash_count": 1},
        ]
    }
    summary = evaluation_summary(document)
    assert summary.lap_times_seconds == [11.5, 10.9]
    assert summary.completed_laps == 2
    assert summary.trials == 3
    assert summary.off_track_count == 1 and summary.crash_count == 1
    assert summary.mean_completion_percent == 80.0


def test_the_initial_checkpoints_file_names_the_initial_checkpoint_with_no_metric() -> None:
    initial = {"name": "0_Step-0.ckpt", "avg_eval_metric": None, "time_stamp": 12.5}
    document = {"best_checkpoint": initial, "last_checkpoint": initial}

    assert checkpoints_of(document).best_metric is None
    assert checkpoint_choice(document, "last") == checkpoint_choice(document, "best") == "0_Step-0.ckpt"
    assert checkpoint_choice(None, "last") is None
    with pytest.raises(ValueError, match="allowed: last, best"):
        checkpoint_choice(document, "newest")


@pytest.mark.parametrize(
    ("best", "kept"),
    [
        ("1_Step-1.ckpt", ["1_Step-1.ckpt", "4_Step-4.ckpt", "5_Step-5.ckpt", "6_Step-6.ckpt"]),
        ("5_Step-5.ckpt", ["3_Step-3.ckpt", "4_Step-4.ckpt", "5_Step-5.ckpt", "6_Step-6.ckpt"]),
        (None, ["3_Step-3.ckpt", "4_Step-4.ckpt", "5_Step-5.ckpt", "6_Step-6.ckpt"]),
    ],
)
def test_four_checkpoints_are_kept_the_best_and_the_newest(best, kept) -> None:
    uploaded = [f"{n}_Step-{n}.ckpt" for n in range(7)]
    assert kept_checkpoints(uploaded, best) == kept
    assert kept_checkpoints(uploaded[:3], best) == uploaded[:3]


def test_an_iterations_episodes_are_shared_out_the_first_workers_playing_one_more() -> None:
    assert [episodes_per_iteration(20, 8, worker) for worker in range(8)] == [3, 3, 3, 3, 2, 2, 2, 2]
    assert [episodes_per_iteration(20, 3, worker) for worker in range(3)] == [7, 7, 6]
    assert episodes_per_iteration(20, 1, 0) == 20


def test_simtrace_keys_follow_the_simapps_prefixes() -> None:
    assert training_simtrace_key("m", 0, 0, 1) == "m/training-simtrace/0-iteration.csv"
    assert training_simtrace_key("m", 4, 2, 3) == "m/2/training-simtrace/4-iteration.csv"
    assert evaluation_simtrace_key("m", "20261129120000") == (
        "m/evaluation-20261129120000/evaluation-simtrace/0-iteration.csv"
    )


def test_simtrace_csv_round_trips_and_older_column_sets_are_read() -> None:
    row = [
        0,
        1.0,
        2.5,
        0.7,
        90.0,
        15.0,
        1.5,
        3,
        1.0,
        False,
        True,
        0.4,
        1,
        23.12,
        0.066,
        "prepare",
        0.0,
        0,
        1.7e9,
    ]
    text = simtrace_csv([row])

    (read,) = read_simtrace(text)
    assert (
        list(read) == list(SIMTRACE_COLUMNS)
        and read["done"] == "False"
        and read["episode_status"] == "prepare"
    )
    older = "\n".join([",".join(SIMTRACE_COLUMNS[:17]), ",".join(str(v) for v in row[:17])])
    assert read_simtrace(older)[0]["pause_duration"] == "0.0"
    with pytest.raises(ValueError, match="allowed"):
        read_simtrace("episode,steps\n1,2\n")
    with pytest.raises(ValueError, match="19"):
        simtrace_csv([row[:5]])


def test_hyperparameters_are_the_trainers_full_resolved_set() -> None:
    ppo = resolved_hyperparameters({"batch_size": "128", "lr": 0.0001, "loss_type": "Huber"}, "clipped_ppo")
    assert ppo["batch_size"] == 128 and ppo["lr"] == 0.0001 and ppo["loss_type"] == "huber"
    assert ppo["num_episodes_between_training"] == 20 and ppo["term_cond_max_episodes"] == 100000
    assert {"beta_entropy", "num_epochs"} <= ppo.keys() and "sac_alpha" not in ppo
    assert resolved_hyperparameters({}, "sac")["sac_alpha"] == 0.2
    assert list(json.loads(hyperparameters_json(ppo))) == sorted(ppo)
    with pytest.raises(ValueError, match=r"hyperparameters\.json: batch_size is 'big'"):
        resolved_hyperparameters({"batch_size": "big"}, "clipped_ppo")


def test_training_params_hold_the_keys_the_simulator_requires_and_the_custom_file_keys() -> None:
    settings = {
        "DR_WORLD_NAME": "reInvent2019_track",
        "DR_LOCAL_S3_METRICS_PREFIX": "models/m/seg-001/metrics",
    }
    params = training_params(settings, TARGET)

    required = ["SAGEMAKER_SHARED_S3_BUCKET", "SAGEMAKER_SHARED_S3_PREFIX", "METRICS_S3_BUCKET"]
    required += ["METRICS_S3_OBJECT_KEY", "MODEL_METADATA_FILE_S3_KEY", "BODY_SHELL_TYPE", "CAR_COLOR"]
    assert all(params[key] for key in required)
    assert params["NUM_WORKERS"] == "3" and params["SIMTRACE_S3_PREFIX"] == "models/m/seg-001"
    assert params["METRICS_S3_OBJECT_KEY"] == "models/m/seg-001/metrics/TrainingMetrics.json"
    assert params["MODEL_METADATA_FILE_S3_KEY"] == "runs/r/custom_files/model_metadata.json"
    assert params["REWARD_FILE_S3_KEY"] == "runs/r/custom_files/reward_function.py"


def test_evaluation_params_give_lists_per_car_and_an_object_key_for_the_metrics() -> None:
    params = evaluation_params({"DR_EVAL_NUMBER_OF_TRIALS": "3"}, TARGET, "20261129120000")

    assert params["MODEL_S3_PREFIX"] == ["models/m/seg-001"]
    assert params["METRICS_S3_OBJECT_KEY"] == [
        "models/m/seg-001/metrics/evaluation/evaluation-20261129120000.json"
    ]
    assert params["SIMTRACE_S3_PREFIX"] == ["models/m/seg-001/evaluation-20261129120000"]
    assert params["NUMBER_OF_TRIALS"] == "3" and params["MP4_S3_BUCKET"] == []


def test_params_yaml_is_byte_for_byte_what_drfcs_yaml_dump_writes() -> None:
    settings = {
        "DR_RACE_TYPE": "OBJECT_AVOIDANCE",
        "DR_OA_OBJECT_POSITIONS": "0.2,1;0.5,-1",
        "DR_CAR_NAME": "it's",
    }
    for params in (training_params(settings, TARGET), evaluation_params(settings, TARGET, "20261129120000")):
        text = params_yaml(params)
        assert text == yaml.dump(params, default_flow_style=False, default_style="'", explicit_start=True)
        assert yaml.safe_load(text) == params
