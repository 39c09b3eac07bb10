"""What DRoA publishes and checks, as Pitwall relies on it: the one place for these facts."""

from __future__ import annotations

import re
from enum import StrEnum

MODEL_NAME = re.compile(r"^[a-zA-Z0-9-]{1,64}$")
MODEL_DESCRIPTION = re.compile(r"^[a-zA-Z0-9- ]{1,255}$")
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
