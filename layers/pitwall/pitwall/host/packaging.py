"""The host agent as one zip: exactly the modules `python -m pitwall.host` imports on the
instance (standard library and boto3 besides). The instance runs it straight from the zip
(`PYTHONPATH=pitwall-agent.zip python3 -m pitwall.host ...`). The bytes depend only on the
sources, so the archive's S3 key (`layout.agent_archive_key`) can name its digest."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

from pitwall.layout import agent_archive_key

PACKAGE_ROOT = Path(__file__).resolve().parent.parent  # .../pitwall
AGENT_MODULES = (
    "pitwall/__init__.py",
    "pitwall/clock.py",
    "pitwall/drfc_files.py",
    "pitwall/layout.py",
    "pitwall/strenum.py",
    "pitwall/customfiles/__init__.py",
    "pitwall/customfiles/envfile.py",
    "pitwall/host/__init__.py",
    "pitwall/host/__main__.py",
    "pitwall/host/agent.py",
    "pitwall/host/backend.py",
    "pitwall/host/backends/__init__.py",
    "pitwall/host/backends/drfc.py",
    "pitwall/host/drfc_settings.py",
    "pitwall/host/errors.py",
    "pitwall/host/imds.py",
    "pitwall/host/protocol.py",
    "pitwall/host/s3objects.py",
)
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def build_agent_archive() -> bytes:
    """The zip of the agent's modules, byte-for-byte the same for the same sources."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in AGENT_MODULES:
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, (PACKAGE_ROOT.parent / name).read_bytes())
    return buffer.getvalue()


def archive_key(archive: bytes) -> str:
    """Where the controller uploads this archive: its key names the content's digest."""
    return agent_archive_key(hashlib.sha256(archive).hexdigest()[:16])
