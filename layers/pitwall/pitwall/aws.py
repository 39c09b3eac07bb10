"""boto3 clients, created lazily and cached: nothing talks to AWS at import time, so moto can
start before any client exists. Tests call `reset_clients()` between emulated accounts."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

import boto3
from botocore import UNSIGNED
from botocore.config import Config


@cache
def client(service: str, region: str | None = None) -> Any:
    return boto3.session.Session().client(service, region_name=region)


def reset_clients() -> None:
    client.cache_clear()
    unsigned_client.cache_clear()


@cache
def unsigned_client(service: str, region: str) -> Any:
    """A client that signs nothing: for calls made before there are credentials (Cognito sign-in)."""
    return boto3.session.Session().client(
        service, region_name=region, config=Config(signature_version=UNSIGNED, retries={"mode": "standard"})
    )


def client_as(service: str, region: str, credentials: Mapping[str, str]) -> Any:
    """A client with someone else's temporary credentials (never cached: they expire)."""
    return boto3.session.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretKey"],
        aws_session_token=credentials["SessionToken"],
    ).client(service, region_name=region, config=Config(retries={"mode": "standard"}))
