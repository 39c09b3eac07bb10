"""boto3 clients, created lazily and cached: nothing talks to AWS at import time, so moto can
start before any client exists. Tests call `reset_clients()` between emulated accounts.

The cached clients share one session, and every session shares one loader of botocore's model
files: each file is read and parsed once per process (reading them again was the larger part of
making a client, and `reset_clients()` makes a new session)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from functools import cache
from typing import Any

import boto3
import botocore.loaders
import botocore.session
from botocore import UNSIGNED
from botocore.config import Config

_creating = threading.Lock()  # a session is not thread-safe (its clients are)


@cache
def _loader() -> botocore.loaders.Loader:
    return botocore.loaders.create_loader()


@cache
def _session() -> boto3.session.Session:
    core = botocore.session.get_session()
    core.register_component("data_loader", _loader())
    session = boto3.session.Session(botocore_session=core)
    paths = _loader().search_paths  # boto3 adds its own data folder to the loader each time
    paths[:] = list(dict.fromkeys(paths))
    return session


@cache
def client(service: str, region: str | None = None) -> Any:
    with _creating:
        return _session().client(service, region_name=region)


def reset_clients() -> None:
    client.cache_clear()
    unsigned_client.cache_clear()
    _session.cache_clear()


@cache
def unsigned_client(service: str, region: str) -> Any:
    """A client that signs nothing: for calls made before there are credentials (Cognito sign-in)."""
    with _creating:
        return _session().client(
            service,
            region_name=region,
            config=Config(signature_version=UNSIGNED, retries={"mode": "standard"}),
        )


def client_as(service: str, region: str, credentials: Mapping[str, str]) -> Any:
    """A client with someone else's temporary credentials (never cached: they expire)."""
    return boto3.session.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretKey"],
        aws_session_token=credentials["SessionToken"],
    ).client(service, region_name=region, config=Config(retries={"mode": "standard"}))
