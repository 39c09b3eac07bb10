"""The user data of a launched instance: the host's boot script (`pitwall.host.userdata`), with
the host agent's archive uploaded to the bucket first (keyed by its digest, so once per version)."""

from __future__ import annotations

import hashlib
import math

from pitwall.host.packaging import archive_key, build_agent_archive
from pitwall.host.protocol import RunSpec
from pitwall.host.userdata import MAX_FALLBACK_MINUTES, render_user_data
from pitwall.lifecycle.ports import Store


def ensure_agent_archive(store: Store) -> tuple[str, str]:
    """The S3 key and the sha256 of the current host agent archive, uploaded if it is not there
    yet (the instance checks what it downloads against the digest)."""
    archive = build_agent_archive()
    key = archive_key(archive)
    if not store.exists(key):
        store.put_bytes(key, archive, "application/zip")
    return key, hashlib.sha256(archive).hexdigest()


def user_data_for(spec: RunSpec, agent_archive_key: str, now: float) -> str:
    minutes = math.ceil((spec.deadline_epoch - now) / 60)
    return render_user_data(
        run_id=spec.run_id,
        bucket=spec.bucket,
        region=spec.region,
        agent_archive_key=agent_archive_key,
        agent_archive_sha256=spec.agent_archive_sha256,
        fallback_shutdown_minutes=min(MAX_FALLBACK_MINUTES, max(1, minutes)),
    )
