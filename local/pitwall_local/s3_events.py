"""S3 notifications as AWS sends them for a versioned bucket: with the object's `versionId`.

moto builds the S3 -> Lambda notification without it (its EventBridge form has it). The
heartbeat handler reads the version it was notified of, not the object as it is now (a later
status report may already have overwritten it), so the local cloud adds the field, wrapping
moto's `notifications._get_s3_event`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest.mock import patch

from moto.s3 import notifications


@contextmanager
def versioned_notifications() -> Iterator[None]:
    build_event = notifications._get_s3_event

    def with_version_id(event_name: str, bucket: Any, key: Any, notification_id: str) -> dict[str, Any]:
        event = build_event(event_name, bucket, key, notification_id)
        version = getattr(key, "version_id", None)
        if version and version != "null":
            for record in event["Records"]:
                record["s3"]["object"].setdefault("versionId", str(version))
        return event

    with patch.object(notifications, "_get_s3_event", with_version_id):
        yield
