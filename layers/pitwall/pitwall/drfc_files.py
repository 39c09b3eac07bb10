"""The files DRFC and the simulator write under a model prefix: the one module that knows each
file's format and what its fields mean. The controller reads with it; the local cloud's
simulated host writes with it. Standard library only, Python 3.8+ (the host agent may use it).

What the simapp (deepracer-simapp 5.x/6.x) and DRFC's prepare-config scripts write:

- `training_params.yaml` / `evaluation_params.yaml`: every value a single-quoted string
  (`yaml.dump(default_style="'", explicit_start=True)`, keys sorted); the evaluation's per-car
  keys (model, metrics, simtrace, car) are lists, one item per car.
- `ip/hyperparameters.json`: the trainer's full resolved set (its defaults filled in), sorted,
  indented by 2.
- `metrics/TrainingMetrics.json` (worker k > 0: `TrainingMetrics_<k>.json`): rewritten at every
  episode end. `episode` counts the worker's training episodes; `trial` counts the training
  episodes of the current iteration on worker 0 (reset when training resumes) and is never reset
  on the other workers; an evaluation row (worker 0 only) repeats the `episode` and `trial` of
  the training episode before it. `metric_time` / `start_time` are milliseconds of the
  simulation clock (seconds since the simulator started), not the epoch.
- `model/deepracer_checkpoints.json`: written by worker 0 when a training phase starts, so its
  `last_checkpoint` is the checkpoint just evaluated, one behind the newest upload
  (`model/.coach_checkpoint`); at the first phase both entries name the initial checkpoint with
  `avg_eval_metric` null. `time_stamp` is seconds of the simulation clock. `last` for an
  increment or an evaluation means this entry.
- checkpoints: `<n>_Step-<steps>.ckpt.{index,meta,data-00000-of-00001}` and `model_<n>.pb`;
  the trainer uploads an initial `<n>_Step-0` before any training, then one per iteration, and
  keeps 4 in all: the 3 newest and the best (the 4 newest when the best is among them).
- simtrace: `training-simtrace/<i>-iteration.csv` per iteration (several workers:
  `<worker>/training-simtrace/...`), one row per step of the training episodes; an evaluation
  writes `evaluation-<YYYYmmddHHMMSS>/evaluation-simtrace/0-iteration.csv`.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

LAP_COMPLETE = "Lap complete"
TRAINING = "training"
EVALUATION = "evaluation"

# -- checkpoints ----------------------------------------------------------------------------

BEST_CHECKPOINT = "best_checkpoint"
LAST_CHECKPOINT = "last_checkpoint"
KEPT_CHECKPOINTS = 4  # the simapp's NUM_MODELS_TO_KEEP: the best stays among them


def checkpoint_name(number: int, steps: int) -> str:
    return f"{number}_Step-{steps}.ckpt"


def checkpoint_steps(name: str) -> int:
    """`12_Step-34567.ckpt` -> 34567."""
    return int(name.split("_Step-")[1].split(".")[0])


def checkpoint_record(name: str, avg_eval_metric: float | None, time_stamp: float) -> dict[str, Any]:
    """One entry of deepracer_checkpoints.json."""
    return {"name": name, "avg_eval_metric": avg_eval_metric, "time_stamp": time_stamp}


def checkpoints_document(best: Mapping[str, Any], last: Mapping[str, Any]) -> dict[str, Any]:
    return {BEST_CHECKPOINT: dict(best), LAST_CHECKPOINT: dict(last)}


def checkpoint_choice(document: Mapping[str, Any] | None, which: str) -> str | None:
    """The checkpoint DRFC means by `last` or `best` (DR_LOCAL_S3_PRETRAINED_CHECKPOINT,
    DR_EVAL_CHECKPOINT), or None when the model has none yet."""
    if which not in ("last", "best"):
        raise ValueError(f"checkpoint choice {which!r}; allowed: last, best")
    entry = (document or {}).get(f"{which}_checkpoint") or {}
    return entry.get("name") or None


@dataclass(frozen=True)
class Checkpoints:
    last: str | None  # the checkpoint evaluated most recently (one behind the newest upload)
    best: str | None
    best_metric: float | None  # null until a checkpoint has been evaluated


def checkpoints_of(document: Mapping[str, Any] | None) -> Checkpoints:
    document = document or {}
    last = document.get(LAST_CHECKPOINT) or {}
    best = document.get(BEST_CHECKPOINT) or {}
    metric = best.get("avg_eval_metric", best.get("avg_comp_pct"))  # older files: avg_comp_pct
    return Checkpoints(
        last=last.get("name"), best=best.get("name"), best_metric=None if metric is None else float(metric)
    )


def kept_checkpoints(uploaded: Sequence[str], best: str | None) -> list[str]:
    """The checkpoints still in S3 after the simapp's clean-up, oldest first: of the uploads
    (oldest first), the oldest go while more than KEPT_CHECKPOINTS remain, except the best,
    which moves to the back of the queue instead."""
    queue = list(uploaded)
    while len(queue) > KEPT_CHECKPOINTS:
        oldest = queue.pop(0)
        if oldest == best:
            queue.append(oldest)
    return sorted(queue, key=lambda name: uploaded.index(name))


# -- TrainingMetrics.json and evaluation metrics --------------------------------------------

METRICS_VERSION = 2.0


def training_metrics_document(entries: Sequence[Mapping[str, Any]], best_model_metric: str) -> dict[str, Any]:
    return {"metrics": list(entries), "version": METRICS_VERSION, "best_model_metric": best_model_metric}


def evaluation_metrics_document(entries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {"metrics": list(entries)}  # no version: the console's service would not take one


@dataclass(frozen=True)
class Episode:
    episode: int
    phase: str
    completion_percentage: float
    status: str
    elapsed_ms: float
    reward: float = 0.0  # reward_score: the episode's total reward
    trial: int = 0  # see the module's docstring: per iteration on worker 0, cumulative elsewhere
    metric_time_ms: float = 0.0  # when it ended, on the simulation clock (0 when training began)


def episodes_of(document: Mapping[str, Any] | None) -> list[Episode]:
    if not document:
        return []
    return [
        Episode(
            episode=int(entry.get("episode", 0)),
            phase=str(entry.get("phase", TRAINING)),
            completion_percentage=float(entry.get("completion_percentage", 0)),
            status=str(entry.get("episode_status", "")),
            elapsed_ms=float(entry.get("elapsed_time_in_milliseconds", 0)),
            reward=float(entry.get("reward_score", 0)),
            trial=int(entry.get("trial", 0)),
            metric_time_ms=float(entry.get("metric_time", 0)),
        )
        for entry in document.get("metrics", [])
    ]


def training_episodes(episodes: Iterable[Episode]) -> list[Episode]:
    return [e for e in episodes if e.phase == TRAINING]


def episode_count(document: Mapping[str, Any] | None) -> int:
    """Training episodes one worker has finished: the highest training episode number."""
    return max((e.episode for e in training_episodes(episodes_of(document))), default=0)


def episodes_per_iteration(episodes_between_training: int, workers: int, worker: int) -> int:
    """The training episodes worker `worker` plays in each iteration: the iteration's episodes
    shared out, the first workers playing one more when they do not divide evenly."""
    share, extra = divmod(episodes_between_training, workers)
    return share + (1 if worker < extra else 0)


@dataclass(frozen=True)
class EvaluationSummary:
    lap_times_seconds: list[float]
    mean_completion_percent: float
    off_track_count: int
    crash_count: int
    completed_laps: int
    trials: int
    reset_count: int = 0


def evaluation_summary(document: Mapping[str, Any] | None) -> EvaluationSummary:
    entries = (document or {}).get("metrics", [])
    laps = [
        float(e.get("elapsed_time_in_milliseconds", 0)) / 1000
        for e in entries
        if e.get("episode_status") == LAP_COMPLETE
    ]
    completion = [float(e.get("completion_percentage", 0)) for e in entries]
    return EvaluationSummary(
        lap_times_seconds=laps,
        mean_completion_percent=round(sum(completion) / len(completion), 2) if completion else 0.0,
        off_track_count=sum(int(e.get("off_track_count", 0)) for e in entries),
        crash_count=sum(int(e.get("crash_count", 0)) for e in entries),
        completed_laps=len(laps),
        trials=len(entries),
        reset_count=sum(int(e.get("reset_count", 0)) for e in entries),
    )


# -- simtrace -------------------------------------------------------------------------------

SIMTRACE_COLUMNS = (
    "episode",
    "steps",
    "X",
    "Y",
    "yaw",
    "steer",
    "throttle",
    "action",
    "reward",
    "done",
    "all_wheels_on_track",
    "progress",
    "closest_waypoint",
    "track_len",
    "tstamp",
    "episode_status",
    "pause_duration",
    "obstacle_crash_counter",  # from simapp 5.3 (October 2024)
    "wall_clock",  # from simapp 6.0 (February 2026)
)
SIMTRACE_COLUMN_COUNTS = (17, 18, 19)
# the simulator's step statuses (the metrics files use labels such as "Lap complete")
STEP_STATUSES = ("prepare", "in_progress", "lap_complete", "off_track", "crashed", "reversed", "immobilized")


def training_simtrace_key(model_prefix: str, iteration: int, worker: int, workers: int) -> str:
    """The simapp's upload of one worker's steps of one iteration (0-based); its prefix is
    SIMTRACE_S3_PREFIX, the model prefix in DRFC, with the worker's number when there are several."""
    folder = model_prefix if workers == 1 else f"{model_prefix}/{worker}"
    return f"{folder}/training-simtrace/{iteration}-iteration.csv"


def evaluation_simtrace_key(model_prefix: str, timestamp: str) -> str:
    """`timestamp` as DRFC names an evaluation: YYYYmmddHHMMSS."""
    return f"{model_prefix}/evaluation-{timestamp}/evaluation-simtrace/0-iteration.csv"


# the precision of the simapp's own SIM_TRACE_LOG line of the same values
SIMTRACE_ROW_FORMAT = "%d,%d,%.4f,%.4f,%.4f,%.2f,%.2f,%s,%.4f,%s,%s,%.4f,%d,%.2f,%.3f,%s,%.2f,%d,%.4f"


def simtrace_csv(rows: Iterable[Sequence[Any]]) -> str:
    """The CSV of a simtrace: the header, then one line per step, in the simulator's column order."""
    lines = [",".join(SIMTRACE_COLUMNS)]
    try:
        lines.extend(SIMTRACE_ROW_FORMAT % tuple(row) for row in rows)
    except TypeError as exc:
        raise ValueError(f"simtrace row: {exc}; allowed: {len(SIMTRACE_COLUMNS)} values") from exc
    return "\n".join(lines) + "\n"


def read_simtrace(text: str) -> list[dict[str, str]]:
    """The rows of a simtrace CSV of 17, 18 or 19 columns (older simapps wrote fewer), by column."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or tuple(header) != SIMTRACE_COLUMNS[: len(header)]:
        raise ValueError(f"simtrace header {header}; allowed: the first 17, 18 or 19 of {SIMTRACE_COLUMNS}")
    if len(header) not in SIMTRACE_COLUMN_COUNTS:
        raise ValueError(f"simtrace of {len(header)} columns; allowed: {SIMTRACE_COLUMN_COUNTS}")
    return [dict(zip(header, row)) for row in reader if row]


# -- hyperparameters ------------------------------------------------------------------------

_HYPERPARAMETER_DEFAULTS: dict[str, Any] = {
    "batch_size": 64,
    "stack_size": 1,
    "lr": 0.0003,
    "exploration_type": "categorical",
    "e_greedy_value": 0.05,
    "epsilon_steps": 10000,
    "discount_factor": 0.999,
    "loss_type": "mean squared error",
    "num_episodes_between_training": 20,
    "term_cond_max_episodes": 100000,
    "term_cond_avg_score": 100000.0,
}
_ALGORITHM_DEFAULTS: dict[str, dict[str, Any]] = {
    "clipped_ppo": {"beta_entropy": 0.01, "num_epochs": 10},
    "sac": {"sac_alpha": 0.2},
}


def resolved_hyperparameters(custom: Mapping[str, Any], training_algorithm: str) -> dict[str, Any]:
    """What the trainer trains with and writes to ip/hyperparameters.json: each known key from
    the racer's hyperparameters.json, else the trainer's default, cast to the default's type;
    the algorithm's own keys added (PPO: beta_entropy, num_epochs; SAC: sac_alpha)."""
    defaults = dict(_HYPERPARAMETER_DEFAULTS)
    defaults.update(_ALGORITHM_DEFAULTS.get(training_algorithm, {}))
    resolved: dict[str, Any] = {}
    for key, default in defaults.items():
        value = custom.get(key, default)
        try:
            resolved[key] = value.lower() if isinstance(default, str) else type(default)(value)
        except (TypeError, ValueError, AttributeError) as exc:
            raise ValueError(
                f"hyperparameters.json: {key} is {value!r}; allowed: a {type(default).__name__}"
            ) from exc
    return resolved


def hyperparameters_json(resolved: Mapping[str, Any]) -> str:
    return json.dumps(dict(resolved), indent=2, sort_keys=True)


# -- training_params.yaml / evaluation_params.yaml ------------------------------------------

EVALUATION_PER_CAR_KEYS = (
    "BODY_SHELL_TYPE",
    "CAR_COLOR",
    "DISPLAY_NAME",
    "METRICS_S3_BUCKET",
    "METRICS_S3_OBJECT_KEY",
    "MODEL_S3_BUCKET",
    "MODEL_S3_PREFIX",
    "MP4_S3_BUCKET",
    "MP4_S3_OBJECT_PREFIX",
    "RACER_NAME",
    "SIMTRACE_S3_BUCKET",
    "SIMTRACE_S3_PREFIX",
)


@dataclass(frozen=True)
class ParamsTarget:
    """Where the simulator reads and writes: what DRFC takes from system.env and the model."""

    region: str
    bucket: str
    model_prefix: str
    custom_files_prefix: str
    workers: int = 1


def training_params(settings: Mapping[str, str], target: ParamsTarget) -> dict[str, Any]:
    """training_params.yaml as DRFC's training prepare-config writes it from run.env
    (`settings`): the keys the simapp requires (SAGEMAKER_SHARED_*, METRICS_*,
    MODEL_METADATA_FILE_S3_KEY, BODY_SHELL_TYPE, CAR_COLOR) and the rest, with DRFC's defaults."""
    get = settings.get
    custom = target.custom_files_prefix
    params: dict[str, Any] = {
        "AWS_REGION": target.region,
        "JOB_TYPE": "TRAINING",
        "KINESIS_VIDEO_STREAM_NAME": get("DR_KINESIS_STREAM_NAME", ""),
        "METRICS_S3_BUCKET": target.bucket,
        "METRICS_S3_OBJECT_KEY": f"{_metrics_prefix(settings, target)}/TrainingMetrics.json",
        "MODEL_METADATA_FILE_S3_KEY": get("DR_LOCAL_S3_MODEL_METADATA_KEY", f"{custom}/model_metadata.json"),
        "REWARD_FILE_S3_KEY": get("DR_LOCAL_S3_REWARD_KEY", f"{custom}/reward_function.py"),
        "ROBOMAKER_SIMULATION_JOB_ACCOUNT_ID": "Dummy",
        "NUM_WORKERS": str(target.workers),
        "SAGEMAKER_SHARED_S3_BUCKET": target.bucket,
        "SAGEMAKER_SHARED_S3_PREFIX": target.model_prefix,
        "SIMTRACE_S3_BUCKET": target.bucket,
        "SIMTRACE_S3_PREFIX": target.model_prefix,
        "TRAINING_JOB_ARN": "arn:Dummy",
        "BODY_SHELL_TYPE": get("DR_CAR_BODY_SHELL_TYPE", "deepracer"),
        "CAR_COLOR": get("DR_CAR_COLOR", "Red"),
        "CAR_NAME": get("DR_CAR_NAME", "MyCar"),
        "RACE_TYPE": get("DR_RACE_TYPE", "TIME_TRIAL"),
        "WORLD_NAME": get("DR_WORLD_NAME", "LGSWide"),
        "DISPLAY_NAME": get("DR_DISPLAY_NAME", "racer1"),
        "RACER_NAME": get("DR_RACER_NAME", "racer1"),
        "REVERSE_DIR": get("DR_TRAIN_REVERSE_DIRECTION", "False"),
        "ALTERNATE_DRIVING_DIRECTION": get("DR_TRAIN_ALTERNATE_DRIVING_DIRECTION", "false"),
        "CHANGE_START_POSITION": get("DR_TRAIN_CHANGE_START_POSITION", "true"),
        "ROUND_ROBIN_ADVANCE_DIST": get("DR_TRAIN_ROUND_ROBIN_ADVANCE_DIST", "0.05"),
        "START_POSITION_OFFSET": get("DR_TRAIN_START_POSITION_OFFSET", "0.00"),
        "ENABLE_DOMAIN_RANDOMIZATION": get("DR_ENABLE_DOMAIN_RANDOMIZATION", "false"),
        "MIN_EVAL_TRIALS": get("DR_TRAIN_MIN_EVAL_TRIALS", "5"),
        "CAMERA_MAIN_ENABLE": get("DR_CAMERA_MAIN_ENABLE", "True"),
        "CAMERA_SUB_ENABLE": get("DR_CAMERA_SUB_ENABLE", "True"),
        "BEST_MODEL_METRIC": get("DR_TRAIN_BEST_MODEL_METRIC", "progress"),
        "ENABLE_EXTRA_KVS_OVERLAY": get("DR_ENABLE_EXTRA_KVS_OVERLAY", "False"),
    }
    params.update(_race_params(settings, params["RACE_TYPE"]))
    return params


def evaluation_params(settings: Mapping[str, str], target: ParamsTarget, timestamp: str) -> dict[str, Any]:
    """evaluation_params.yaml as DRFC's evaluation prepare-config writes it (one car):
    the per-car keys as lists; `timestamp` (YYYYmmddHHMMSS) names the metrics object and the
    simtrace folder."""
    get = settings.get
    prefix = target.model_prefix
    params: dict[str, Any] = {key: [] for key in EVALUATION_PER_CAR_KEYS}
    params.update(
        {
            "AWS_REGION": target.region,
            "JOB_TYPE": "EVALUATION",
            "KINESIS_VIDEO_STREAM_NAME": get("DR_KINESIS_STREAM_NAME", ""),
            "ROBOMAKER_SIMULATION_JOB_ACCOUNT_ID": "Dummy",
            "MODEL_S3_PREFIX": [prefix],
            "MODEL_S3_BUCKET": [target.bucket],
            "SIMTRACE_S3_BUCKET": [target.bucket],
            "SIMTRACE_S3_PREFIX": [f"{prefix}/evaluation-{timestamp}"],
            "METRICS_S3_BUCKET": [target.bucket],
            "METRICS_S3_OBJECT_KEY": [
                f"{_metrics_prefix(settings, target)}/evaluation/evaluation-{timestamp}.json"
            ],
            "EVAL_CHECKPOINT": get("DR_EVAL_CHECKPOINT", "last"),
            "BODY_SHELL_TYPE": [get("DR_CAR_BODY_SHELL_TYPE", "deepracer")],
            "CAR_COLOR": [get("DR_CAR_COLOR", "Red")],
            "DISPLAY_NAME": [get("DR_DISPLAY_NAME", "racer1")],
            "RACER_NAME": [get("DR_RACER_NAME", "racer1")],
            "RACE_TYPE": get("DR_RACE_TYPE", "TIME_TRIAL"),
            "WORLD_NAME": get("DR_WORLD_NAME", "LGSWide"),
            "NUMBER_OF_TRIALS": get("DR_EVAL_NUMBER_OF_TRIALS", "5"),
            "ENABLE_DOMAIN_RANDOMIZATION": get("DR_ENABLE_DOMAIN_RANDOMIZATION", "false"),
            "RESET_BEHIND_DIST": get("DR_EVAL_RESET_BEHIND_DIST", "1.0"),
            "IS_CONTINUOUS": get("DR_EVAL_IS_CONTINUOUS", "True"),
            "NUMBER_OF_RESETS": get("DR_EVAL_MAX_RESETS", "0"),
            "OFF_TRACK_PENALTY": get("DR_EVAL_OFF_TRACK_PENALTY", "5.0"),
            "COLLISION_PENALTY": get("DR_COLLISION_PENALTY", "5.0"),
            "CAMERA_MAIN_ENABLE": get("DR_CAMERA_MAIN_ENABLE", "True"),
            "CAMERA_SUB_ENABLE": get("DR_CAMERA_SUB_ENABLE", "True"),
            "REVERSE_DIR": get("DR_EVAL_REVERSE_DIRECTION", "False"),
            "ENABLE_EXTRA_KVS_OVERLAY": get("DR_ENABLE_EXTRA_KVS_OVERLAY", "False"),
        }
    )
    if get("DR_EVAL_SAVE_MP4", "False").lower() in ("yes", "true", "t", "1"):
        params["MP4_S3_BUCKET"] = [target.bucket]
        params["MP4_S3_OBJECT_PREFIX"] = [f"{prefix}/mp4"]
    params.update(_race_params(settings, params["RACE_TYPE"]))
    return params


def _metrics_prefix(settings: Mapping[str, str], target: ParamsTarget) -> str:
    return settings.get("DR_LOCAL_S3_METRICS_PREFIX") or f"{target.model_prefix}/metrics"


def _race_params(settings: Mapping[str, str], race_type: str) -> dict[str, Any]:
    get = settings.get
    params: dict[str, Any] = {}
    if race_type == "OBJECT_AVOIDANCE":
        params["NUMBER_OF_OBSTACLES"] = get("DR_OA_NUMBER_OF_OBSTACLES", "6")
        params["MIN_DISTANCE_BETWEEN_OBSTACLES"] = get("DR_OA_MIN_DISTANCE_BETWEEN_OBSTACLES", "2.0")
        params["RANDOMIZE_OBSTACLE_LOCATIONS"] = get("DR_OA_RANDOMIZE_OBSTACLE_LOCATIONS", "True")
        params["IS_OBSTACLE_BOT_CAR"] = get("DR_OA_IS_OBSTACLE_BOT_CAR", "false")
        params["OBSTACLE_TYPE"] = get("DR_OA_OBSTACLE_TYPE", "box_obstacle")
        positions = get("DR_OA_OBJECT_POSITIONS", "")
        if positions:
            params["OBJECT_POSITIONS"] = positions.split(";")
            params["NUMBER_OF_OBSTACLES"] = str(len(params["OBJECT_POSITIONS"]))
    elif race_type == "HEAD_TO_BOT":
        params["IS_LANE_CHANGE"] = get("DR_H2B_IS_LANE_CHANGE", "False")
        params["LOWER_LANE_CHANGE_TIME"] = get("DR_H2B_LOWER_LANE_CHANGE_TIME", "3.0")
        params["UPPER_LANE_CHANGE_TIME"] = get("DR_H2B_UPPER_LANE_CHANGE_TIME", "5.0")
        params["LANE_CHANGE_DISTANCE"] = get("DR_H2B_LANE_CHANGE_DISTANCE", "1.0")
        params["NUMBER_OF_BOT_CARS"] = get("DR_H2B_NUMBER_OF_BOT_CARS", "0")
        params["MIN_DISTANCE_BETWEEN_BOT_CARS"] = get("DR_H2B_MIN_DISTANCE_BETWEEN_BOT_CARS", "2.0")
        params["RANDOMIZE_BOT_CAR_LOCATIONS"] = get("DR_H2B_RANDOMIZE_BOT_CAR_LOCATIONS", "False")
        params["BOT_CAR_SPEED"] = get("DR_H2B_BOT_CAR_SPEED", "0.2")
        params["PENALTY_SECONDS"] = get("DR_H2B_BOT_CAR_PENALTY", "2.0")
    return params


def params_yaml(params: Mapping[str, Any]) -> str:
    """The YAML DRFC writes (`yaml.dump(params, default_flow_style=False, default_style="'",
    explicit_start=True)`): keys sorted, every key and string single-quoted, lists in block style."""
    lines = ["---"]
    for key in sorted(params):
        value = params[key]
        if isinstance(value, (list, tuple)):
            lines.append(f"{_quoted(key)}:" + ("" if value else " []"))
            lines.extend(f"- {_quoted(str(item))}" for item in value)
        else:
            lines.append(f"{_quoted(key)}: {_quoted(str(value))}")
    return "\n".join(lines) + "\n"


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
