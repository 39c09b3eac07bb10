"""What DRoA publishes and checks, as Pitwall relies on it: the one place for these facts."""

from __future__ import annotations

import json
import re
from enum import StrEnum
from functools import cache
from importlib import resources

# a model's name and description; the patterns as pydantic's `pattern` takes them, the compiled
# ones for whole strings (fullmatch: Python's `$` alone would also match before a final newline)
MODEL_NAME_PATTERN = r"^[a-zA-Z0-9-]{1,64}$"
MODEL_DESCRIPTION_PATTERN = r"^[a-zA-Z0-9- ]{1,255}$"
MODEL_NAME = re.compile(MODEL_NAME_PATTERN)
MODEL_DESCRIPTION = re.compile(MODEL_DESCRIPTION_PATTERN)
MAX_PACKAGE_BYTES = 1_000_000_000  # the web UI's limit per model: 1 GB
SKIPPED_SUFFIXES = (".gz", ".zip")  # the import skips these files
UPLOAD_PREFIX = "uploads/models/"  # the only place in the upload bucket the user may write
ENV_JS_PATH = "/env.js"
ENV_JS_FIELDS = (
    "apiEndpointUrl",
    "userPoolId",
    "userPoolClientId",
    "identityPoolId",
    "region",
    "uploadBucketName",
)


class ModelStatus(StrEnum):
    DELETING = "DELETING"
    ERROR = "ERROR"
    EVALUATING = "EVALUATING"
    IMPORTING = "IMPORTING"
    QUEUED = "QUEUED"
    READY = "READY"
    STOPPING = "STOPPING"
    SUBMITTING = "SUBMITTING"
    TRAINING = "TRAINING"


# An import ends in one of these; every other status means "not yet".
FINAL_IMPORT_STATUSES = frozenset({ModelStatus.READY, ModelStatus.ERROR})


class TrackDirection(StrEnum):
    CLOCKWISE = "CLOCKWISE"
    COUNTER_CLOCKWISE = "COUNTER_CLOCKWISE"


@cache
def tracks() -> dict[str, frozenset[TrackDirection]]:
    """DRoA's published tracks (`droa/tracks.json`, which names its source): each track id and the
    directions DRoA offers it in. The import refuses any other track or direction; a track offered
    one way only is taken to run that way, whatever the model was trained on."""
    document = json.loads(resources.files(__package__).joinpath("tracks.json").read_text())
    return {
        track: frozenset(TrackDirection(d) for d in directions)
        for track, directions in document["tracks"].items()
    }
