"""boto3 clients, created lazily and cached: nothing talks to AWS at import time, so moto can
start before any client exists. Tests call `reset_clients()` between emulated accounts."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3


@cache
def client(service: str, region: str | None = None) -> Any:
    return boto3.session.Session().client(service, region_name=region)


def reset_clients() -> None:
    client.cache_clear()
