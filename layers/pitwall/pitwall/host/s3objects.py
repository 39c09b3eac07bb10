"""Small S3 reads and writes the host needs, over a boto3 S3 client passed in."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from pitwall.drfc_files import checkpoint_choice
from pitwall.layout import ModelKeys

_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})


def read_bytes(s3: Any, bucket: str, key: str) -> bytes | None:
    """The object's body, or None when there is no such object."""
    try:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in _MISSING:
            return None
        raise


def read_json(s3: Any, bucket: str, key: str) -> Any | None:
    body = read_bytes(s3, bucket, key)
    return None if body is None else json.loads(body)


def exists(s3: Any, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in _MISSING:
            return False
        raise
    return True


def write_bytes(s3: Any, bucket: str, key: str, body: bytes, content_type: str) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)


def write_text(s3: Any, bucket: str, key: str, text: str, content_type: str = "text/plain") -> None:
    write_bytes(s3, bucket, key, text.encode(), content_type)


def write_json(s3: Any, bucket: str, key: str, document: Any) -> None:
    write_bytes(s3, bucket, key, json.dumps(document).encode(), "application/json")


def delete(s3: Any, bucket: str, key: str) -> None:
    s3.delete_object(Bucket=bucket, Key=key)


def checkpoint_named(s3: Any, bucket: str, model: ModelKeys, which: str = "last") -> str | None:
    """The name of the model's `last` or `best` checkpoint as DRFC means them (read from
    deepracer_checkpoints.json), or None when the model has none yet."""
    if which not in ("last", "best"):
        raise ValueError(f"checkpoint choice {which!r}; allowed: last, best")
    return checkpoint_choice(read_json(s3, bucket, model.checkpoints_json), which)


def checkpoint_is_complete(s3: Any, bucket: str, model: ModelKeys, name: str) -> bool:
    return all(exists(s3, bucket, key) for key in model.checkpoint_files(name))
