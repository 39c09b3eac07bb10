"""The DRFC settings of one segment, as the host writes them into `run.env` and `system.env`.

The run spec carries the racer's settings; the spec's own fields (bucket, region, model prefix,
pretrained source) are the truth, so they are written over the settings, and a setting that
contradicts them is an error rather than a silent choice.
"""

from __future__ import annotations

from collections.abc import Mapping

from pitwall.customfiles import envfile
from pitwall.host.errors import InvalidRunSpec
from pitwall.host.protocol import RunSpec
from pitwall.layout import CUSTOM_FILES, RunKeys

MODEL_PREFIX = "DR_LOCAL_S3_MODEL_PREFIX"
CUSTOM_FILES_PREFIX = "DR_LOCAL_S3_CUSTOM_FILES_PREFIX"
PRETRAINED = "DR_LOCAL_S3_PRETRAINED"
PRETRAINED_PREFIX = "DR_LOCAL_S3_PRETRAINED_PREFIX"
PRETRAINED_CHECKPOINT = "DR_LOCAL_S3_PRETRAINED_CHECKPOINT"
LOCAL_BUCKET = "DR_LOCAL_S3_BUCKET"
UPLOAD_BUCKET = "DR_UPLOAD_S3_BUCKET"
REGION = "DR_AWS_APP_REGION"
CLOUD = "DR_CLOUD"
WORKERS = "DR_WORKERS"
SIMAPP_SOURCE = "DR_SIMAPP_SOURCE"
SIMAPP_VERSION = "DR_SIMAPP_VERSION"


def run_settings(spec: RunSpec) -> dict[str, str]:
    """run.env of the segment: the spec's settings with its model prefix, custom files prefix
    and (for an increment) its pretrained source written in."""
    settings = dict(spec.run_settings)
    _insist(settings, MODEL_PREFIX, spec.model_prefix, "run_settings")
    settings.setdefault(CUSTOM_FILES_PREFIX, RunKeys(spec.run_id).custom_files_prefix)
    if spec.pretrained_prefix:
        _insist(settings, PRETRAINED, "True", "run_settings")
        _insist(settings, PRETRAINED_PREFIX, spec.pretrained_prefix, "run_settings")
    elif settings.get(PRETRAINED, "False").lower() == "true":
        raise InvalidRunSpec(
            f"run spec of run {spec.run_id!r}: run_settings.{PRETRAINED} is True but the spec has no "
            "pretrained_prefix; set pretrained_prefix to the source model prefix"
        )
    _check_values(settings, "run_settings")
    return settings


def system_settings(spec: RunSpec) -> dict[str, str]:
    """system.env of the host: the spec's settings with its bucket and region written in."""
    settings = dict(spec.system_settings)
    _insist(settings, LOCAL_BUCKET, spec.bucket, "system_settings")
    _insist(settings, REGION, spec.region, "system_settings")
    settings.setdefault(UPLOAD_BUCKET, spec.bucket)
    settings.setdefault(CLOUD, "aws")
    _check_values(settings, "system_settings")
    return settings


def custom_files_prefix(spec: RunSpec) -> str:
    return run_settings(spec)[CUSTOM_FILES_PREFIX]


def custom_file_keys(spec: RunSpec) -> dict[str, str]:
    """Where the controller left each custom file of the run: file name -> S3 key."""
    keys = RunKeys(spec.run_id)
    return {name: keys.custom_file(name) for name in CUSTOM_FILES}


def worker_count(spec: RunSpec) -> int:
    raw = system_settings(spec).get(WORKERS, "1")
    try:
        workers = int(raw)
    except ValueError:
        workers = 0
    if workers < 1:
        raise InvalidRunSpec(
            f"run spec of run {spec.run_id!r}: system_settings.{WORKERS} is {raw!r}; allowed: an integer >= 1"
        )
    return workers


def _insist(settings: dict[str, str], name: str, value: str, section: str) -> None:
    present = settings.get(name)
    if present not in (None, "", value) and not (name == PRETRAINED and present.lower() == value.lower()):
        raise InvalidRunSpec(
            f"run spec: {section}.{name} is {present!r} but the spec says {value!r}; "
            "leave the setting out or make it match"
        )
    settings[name] = value


def _check_values(settings: Mapping[str, str], section: str) -> None:
    for name, value in settings.items():
        try:
            envfile.check_value(name, value)
        except ValueError as exc:
            raise InvalidRunSpec(
                f"run spec: {section}.{name} is {value!r}; allowed: one word without whitespace ({exc})"
            ) from exc


def render_env(existing_text: str, settings: Mapping[str, str]) -> str:
    """Write `settings` into the text of an env file (DRFC's run.env or system.env): a key
    already there keeps its line, its place and its comment; a new key is appended; every other
    line stays as it was."""
    env = envfile.EnvFile.parse(existing_text)
    env.update(settings)
    return env.render()
