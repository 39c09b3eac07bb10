"""The EC2 instance metadata service, version 2 only: a session token first (PUT), then GETs
that carry it. Instances are launched with tokens required, so version 1 would not answer."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from pitwall.host.errors import HostError

DEFAULT_BASE_URL = "http://169.254.169.254"
# bandit B105: a metadata-service path and header names, no passwords
TOKEN_PATH = "/latest/api/token"  # nosec B105
TOKEN_TTL_HEADER = "X-aws-ec2-metadata-token-ttl-seconds"  # nosec B105
TOKEN_HEADER = "X-aws-ec2-metadata-token"  # nosec B105


class MetadataUnavailable(HostError):
    """The instance metadata service did not answer as expected."""


@dataclass(frozen=True)
class SpotInstanceAction:
    """`spot/instance-action`: EC2 will stop, hibernate or terminate the instance at `time`."""

    action: str
    time: str


class ImdsClient:
    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        timeout_seconds: float = 2.0,
        token_ttl_seconds: int = 21600,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_seconds = timeout_seconds
        self.token_ttl_seconds = token_ttl_seconds
        self._token: str | None = None
        self._token_expires = 0.0

    def instance_id(self) -> str:
        return self._require("/latest/meta-data/instance-id")

    def region(self) -> str:
        return self._require("/latest/meta-data/placement/region")

    def spot_instance_action(self) -> SpotInstanceAction | None:
        """The pending spot interruption, or None (the service answers 404 until there is one)."""
        body = self.get("/latest/meta-data/spot/instance-action")
        if body is None:
            return None
        try:
            document = json.loads(body)
            return SpotInstanceAction(action=str(document["action"]), time=str(document["time"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise MetadataUnavailable(f"spot/instance-action: unexpected answer {body!r}") from exc

    def get(self, path: str) -> str | None:
        """GET a metadata path with the session token; None for 404. A rejected token (401) is
        renewed once."""
        for attempt in (1, 2):
            request = urllib.request.Request(
                self.base_url + path, headers={TOKEN_HEADER: self._session_token()}
            )
            try:
                # bandit B310: the metadata service's http:// URL, never a caller's
                with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:  # nosec B310
                    return response.read().decode()
            except urllib.error.HTTPError as exc:
                if exc.code == 404:
                    return None
                if exc.code == 401 and attempt == 1:
                    self._token = None
                    continue
                raise MetadataUnavailable(f"GET {path}: HTTP {exc.code}") from exc
            except (urllib.error.URLError, OSError) as exc:
                raise MetadataUnavailable(f"GET {path}: {exc}") from exc
        raise MetadataUnavailable(f"GET {path}: the token was rejected twice")

    def _require(self, path: str) -> str:
        body = self.get(path)
        if not body:
            raise MetadataUnavailable(f"GET {path}: not found")
        return body.strip()

    def _session_token(self) -> str:
        if self._token is not None and time.monotonic() < self._token_expires:
            return self._token
        request = urllib.request.Request(
            self.base_url + TOKEN_PATH,
            method="PUT",
            headers={TOKEN_TTL_HEADER: str(self.token_ttl_seconds)},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:  # nosec B310
                token = response.read().decode().strip()
        except (urllib.error.URLError, OSError) as exc:
            raise MetadataUnavailable(f"PUT {TOKEN_PATH}: {exc}") from exc
        if not token:
            raise MetadataUnavailable(f"PUT {TOKEN_PATH}: empty token")
        self._token = token
        self._token_expires = time.monotonic() + self.token_ttl_seconds * 0.9
        return token
