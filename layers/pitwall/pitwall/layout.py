"""The S3 layout of the model bucket: the one place that knows where every object lives.

DRFC's own layout (reference section 2) sits under a model prefix; Pitwall's own objects sit
under `runs/<run_id>/` and the upload inbox under `inbox/`. Nothing else in the project builds
an S3 key by hand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # checked as enum.StrEnum (3.11+), which pitwall.strenum mirrors for 3.8+
    from enum import StrEnum
else:
    from pitwall.strenum import StrEnum

REWARD_FUNCTION_FILE = "reward_function.py"
MODEL_METADATA_FILE = "model_metadata.json"
HYPERPARAMETERS_FILE = "hyperparameters.json"
CUSTOM_FILES = (REWARD_FUNCTION_FILE, MODEL_METADATA_FILE, HYPERPARAMETERS_FILE)


def custom_file_key(folder: str, name: str) -> str:
    """One custom file in a custom-files folder (a run's, or an inbox upload)."""
    return f"{folder.rstrip('/')}/{name}"


# The upload inbox: inbox/<request-name>/{the custom files, run-request.json}
INBOX_PREFIX = "inbox/"
RUN_REQUEST_FILE = "run-request.json"
VALIDATION_REPORT_FILE = "validation-report.json"

MODELS_PREFIX = "models/"
RUNS_PREFIX = "runs/"
# A run id: its folder under runs/, its key in the runs table, its Train execution's name.
RUN_ID_PATTERN = r"^[a-zA-Z0-9-]{1,80}$"
AGENT_PREFIX = "agent/"

_CHECKPOINT_NAME = re.compile(r"^(\d+)_Step-(\d+)\.ckpt$")


def checkpoint_number(checkpoint_name: str) -> int:
    """DRFC's checkpoint number: `12_Step-34567.ckpt` -> 12."""
    return int(checkpoint_name.split("_Step")[0])


def is_checkpoint_name(name: str) -> bool:
    return bool(_CHECKPOINT_NAME.match(name))


def segment_model_prefix(model_name: str, segment: int) -> str:
    """The DRFC model prefix of one training segment of a model (segment 0 is the first).

    A run that is interrupted continues as a new segment that uses the previous one as its
    pretrained source, so each segment needs a new, empty prefix.
    """
    return f"{MODELS_PREFIX}{model_name}/seg-{segment:03d}"


def evaluation_model_prefix(model_name: str, evaluation_id: str) -> str:
    """The model prefix of one evaluation: a copy of the one checkpoint under test, so the
    evaluation neither reads a prefix its training still writes nor loses the checkpoint when
    the trainer deletes old ones, and its metrics belong to it alone."""
    return f"{MODELS_PREFIX}{model_name}/eval-{evaluation_id}"


@dataclass(frozen=True)
class ModelKeys:
    """The keys DRFC reads and writes under one model prefix (reference section 2)."""

    prefix: str

    def _key(self, relative: str) -> str:
        return f"{self.prefix}/{relative}"

    @property
    def training_params(self) -> str:
        return self._key("training_params.yaml")

    @property
    def evaluation_params(self) -> str:
        return self._key("evaluation_params.yaml")

    @property
    def reward_function(self) -> str:
        return self._key(REWARD_FUNCTION_FILE)

    @property
    def ip_hyperparameters(self) -> str:
        return self._key("ip/hyperparameters.json")

    @property
    def model_folder(self) -> str:
        return self._key("model/")

    @property
    def model_metadata(self) -> str:
        return self._key(f"model/{MODEL_METADATA_FILE}")

    @property
    def coach_checkpoint(self) -> str:
        return self._key("model/.coach_checkpoint")

    @property
    def checkpoints_json(self) -> str:
        return self._key("model/deepracer_checkpoints.json")

    @property
    def lock_marker(self) -> str:
        return self._key("model/.lock")

    @property
    def ready_marker(self) -> str:
        """Written by the trainer once its initial checkpoint is uploaded."""
        return self._key("model/.ready")

    @property
    def finished_marker(self) -> str:
        return self._key("model/.finished")

    def checkpoint_files(self, checkpoint_name: str) -> list[str]:
        """The objects that make up one checkpoint, including its frozen graph."""
        number = checkpoint_number(checkpoint_name)
        return [
            self._key(f"model/{checkpoint_name}.index"),
            self._key(f"model/{checkpoint_name}.meta"),
            self._key(f"model/{checkpoint_name}.data-00000-of-00001"),
            self._key(f"model/model_{number}.pb"),
        ]

    @property
    def metrics_folder(self) -> str:
        return self._key("metrics/")

    def training_metrics(self, worker: int = 0) -> str:
        suffix = "" if worker == 0 else f"_{worker}"
        return self._key(f"metrics/TrainingMetrics{suffix}.json")

    @property
    def evaluation_metrics_folder(self) -> str:
        return self._key("metrics/evaluation/")

    def evaluation_metrics(self, timestamp: str) -> str:
        """`timestamp` as DRFC writes it: YYYYmmddHHMMSS."""
        return self._key(f"metrics/evaluation/evaluation-{timestamp}.json")


@dataclass(frozen=True)
class RunKeys:
    """Pitwall's own objects for one run: its spec, custom files, and the host's channel."""

    run_id: str

    @property
    def prefix(self) -> str:
        return f"{RUNS_PREFIX}{self.run_id}/"

    @property
    def custom_files_prefix(self) -> str:
        """DR_LOCAL_S3_CUSTOM_FILES_PREFIX of the run (no trailing slash, as DRFC wants it)."""
        return f"{self.prefix}custom_files"

    def custom_file(self, name: str) -> str:
        return custom_file_key(self.custom_files_prefix, name)

    @property
    def run_spec(self) -> str:
        return f"{self.prefix}run-spec.json"

    @property
    def run_env(self) -> str:
        return f"{self.prefix}run.env"

    @property
    def system_env(self) -> str:
        return f"{self.prefix}system.env"

    @property
    def host_folder(self) -> str:
        return f"{self.prefix}host/"

    @property
    def host_status(self) -> str:
        """Written by the host agent: started / finished / failed / saved, with its instance id."""
        return f"{self.host_folder}status.json"

    @property
    def host_control(self) -> str:
        """Written by the controller, polled by the host: e.g. a save-checkpoint request."""
        return f"{self.host_folder}control.json"

    def evaluation_leg(self, index: int) -> str:
        """Written by an evaluation host when one leg (track, direction) is done: which
        evaluation metrics file holds it. A replacement host evaluates only the legs without one."""
        return f"{self.host_folder}evaluation/leg-{index:02d}.json"

    def import_folder(self, import_id: str) -> str:
        """One import of the run's model into DRoA: the export and the car file, kept here because
        DRoA's upload bucket expires its objects after a day."""
        return f"{self.prefix}imports/{import_id}/"

    def droa_export_prefix(self, import_id: str) -> str:
        """The package exactly as uploaded to DRoA (also what `pitwall import --to-folder` writes)."""
        return f"{self.import_folder(import_id)}droa/"

    def car_file(self, import_id: str) -> str:
        """The file for the physical car: agent/model.pb and model_metadata.json."""
        return f"{self.import_folder(import_id)}carfile.tar.gz"

    def host_instance_log(self, instance_id: str) -> str:
        """The host agent's log on one instance: one per instance, so a later segment's host
        never overwrites the log of the one before it."""
        return f"{self.host_folder}logs/{instance_id}.log"


def agent_archive_key(digest: str) -> str:
    """The host agent's zip (`pitwall.host.packaging.build_agent_archive`), by content digest."""
    return f"{AGENT_PREFIX}pitwall-agent-{digest}.zip"


def inbox_request_folder(key: str) -> str | None:
    """`inbox/<name>/run-request.json` -> `inbox/<name>/`; None for any other key."""
    if not key.startswith(INBOX_PREFIX) or not key.endswith("/" + RUN_REQUEST_FILE):
        return None
    folder = key[: -len(RUN_REQUEST_FILE)]
    return folder if folder.count("/") == 2 else None


class HeartbeatKind(StrEnum):
    TRAINING_METRICS = "training_metrics"
    CHECKPOINTS = "checkpoints"
    EVALUATION_METRICS = "evaluation_metrics"  # rewritten after each evaluation trial
    HOST_STATUS = "host_status"


@dataclass(frozen=True)
class Heartbeat:
    """What an S3 key tells about a run: which prefix (model prefix, or run folder) and what kind."""

    kind: HeartbeatKind
    prefix: str
    worker: int = 0


_TRAINING_METRICS = re.compile(r"^(?P<prefix>.+)/metrics/TrainingMetrics(?:_(?P<worker>\d+))?\.json$")
_CHECKPOINTS = re.compile(r"^(?P<prefix>.+)/model/deepracer_checkpoints\.json$")
_EVALUATION_METRICS = re.compile(r"^(?P<prefix>.+)/metrics/evaluation/evaluation-\d{14}\.json$")
_HOST_STATUS = re.compile(rf"^(?P<prefix>{RUNS_PREFIX}[^/]+/)host/status\.json$")


def classify_heartbeat(key: str) -> Heartbeat | None:
    """Which heartbeat an object-created key is, or None when it is none."""
    if match := _TRAINING_METRICS.match(key):
        return Heartbeat(HeartbeatKind.TRAINING_METRICS, match["prefix"], int(match["worker"] or 0))
    if match := _CHECKPOINTS.match(key):
        return Heartbeat(HeartbeatKind.CHECKPOINTS, match["prefix"])
    if match := _EVALUATION_METRICS.match(key):
        return Heartbeat(HeartbeatKind.EVALUATION_METRICS, match["prefix"])
    if match := _HOST_STATUS.match(key):
        return Heartbeat(HeartbeatKind.HOST_STATUS, match["prefix"])
    return None
