"""The DRFC settings (run.env, system.env) of a run's segment, as the controller writes them into
the run spec (reference section 1). The host writes them out on the instance."""

from __future__ import annotations

from pitwall import layout
from pitwall.customfiles.envfile import EnvFile
from pitwall.host import drfc_settings as names
from pitwall.runs import EvaluationRequest, PretrainedSource, RunRequest, TrackLeg
from pitwall.settings import Settings

SIMAPP_SOURCE = "awsdeepracercommunity/deepracer-simapp"
SIMAPP_RELEASE = "6.0.4"  # simapp 6.x runs reward functions on Python 3.12; tag <release>-gpu or -cpu

# The spec's own facts: a racer's run_settings may not override these.
_CONTROLLER_OWNED = frozenset(
    {
        names.MODEL_PREFIX,
        names.CUSTOM_FILES_PREFIX,
        names.PRETRAINED,
        names.PRETRAINED_PREFIX,
        names.PRETRAINED_CHECKPOINT,
    }
)


def render_env(values: dict[str, str]) -> str:
    env = EnvFile()
    env.update(values)
    return env.render()


def run_settings(
    request: RunRequest,
    *,
    run_id: str,
    model_prefix: str,
    pretrained: PretrainedSource | None,
    evaluation: EvaluationRequest | None = None,
) -> dict[str, str]:
    """run.env of one segment: the racer's extra settings, then the facts of this segment."""
    model = layout.ModelKeys(model_prefix)
    custom_files = layout.RunKeys(run_id).custom_files_prefix
    values = {key: value for key, value in request.run_settings.items() if key not in _CONTROLLER_OWNED}
    values.update(
        {
            "DR_RUN_ID": "0",
            "DR_WORLD_NAME": request.track,
            "DR_RACE_TYPE": values.get("DR_RACE_TYPE", "TIME_TRIAL"),
            "DR_CAR_NAME": request.model_name,
            names.MODEL_PREFIX: model_prefix,
            names.CUSTOM_FILES_PREFIX: custom_files,
            "DR_LOCAL_S3_REWARD_KEY": f"{custom_files}/{layout.REWARD_FUNCTION_FILE}",
            "DR_LOCAL_S3_MODEL_METADATA_KEY": f"{custom_files}/{layout.MODEL_METADATA_FILE}",
            "DR_LOCAL_S3_HYPERPARAMETERS_KEY": f"{custom_files}/{layout.HYPERPARAMETERS_FILE}",
            "DR_LOCAL_S3_METRICS_PREFIX": model.metrics_folder.rstrip("/"),
            "DR_LOCAL_S3_TRAINING_PARAMS_FILE": "training_params.yaml",
            "DR_LOCAL_S3_EVAL_PARAMS_FILE": "evaluation_params.yaml",
            "DR_TRAIN_BEST_MODEL_METRIC": values.get("DR_TRAIN_BEST_MODEL_METRIC", "progress"),
            names.PRETRAINED: "True" if pretrained else "False",
        }
    )
    if pretrained:
        values[names.PRETRAINED_PREFIX] = pretrained.model_prefix
        values[names.PRETRAINED_CHECKPOINT] = pretrained.checkpoint
    if evaluation:
        values.update(evaluation_settings(evaluation, evaluation.legs(request.track)[0]))
        values.setdefault("DR_EVAL_SAVE_MP4", "False")
    return values


def evaluation_settings(evaluation: EvaluationRequest, leg: TrackLeg) -> dict[str, str]:
    """run.env of an evaluation (of its first leg; the host sets each leg's world and direction).
    The model under test is a copy of one checkpoint, so `last` names it whatever was asked."""
    values = {
        "DR_WORLD_NAME": leg.track,
        "DR_EVAL_REVERSE_DIRECTION": "True" if leg.direction == "counterclockwise" else "False",
        "DR_EVAL_CHECKPOINT": evaluation.checkpoint if evaluation.checkpoint in ("best", "last") else "last",
        "DR_EVAL_NUMBER_OF_TRIALS": str(evaluation.trials),
        "DR_RACE_TYPE": evaluation.race_type,
        "DR_EVAL_IS_CONTINUOUS": "True" if evaluation.continuous else "False",
    }
    if evaluation.off_track_penalty_seconds is not None:
        values["DR_EVAL_OFF_TRACK_PENALTY"] = f"{evaluation.off_track_penalty_seconds:g}"
    return values


def run_settings_preview(request: RunRequest, run_id: str = "validation") -> dict[str, str]:
    """run.env as the first segment would get it: what the validator checks before any launch."""
    return run_settings(
        request,
        run_id=run_id,
        model_prefix=layout.segment_model_prefix(request.model_name, 0),
        pretrained=request.pretrained,
    )


def system_settings(settings: Settings, *, workers: int, gpu: bool = True) -> dict[str, str]:
    """system.env of one segment: `workers` simulators, the simapp image of the instance's kind."""
    return {
        names.CLOUD: "aws",
        names.REGION: settings.region,
        names.LOCAL_BUCKET: settings.model_bucket,
        names.UPLOAD_BUCKET: settings.model_bucket,
        names.WORKERS: str(workers),
        "DR_DOCKER_STYLE": "compose",
        names.SIMAPP_SOURCE: SIMAPP_SOURCE,
        names.SIMAPP_VERSION: f"{SIMAPP_RELEASE}-{'gpu' if gpu else 'cpu'}",
        "DR_WEBVIEWER_PORT": "8100",
        "DR_KINESIS_STREAM_ENABLE": "False",
        "DR_CLOUD_WATCH_ENABLE": "False",
    }
