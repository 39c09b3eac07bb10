"""The model bucket (S3)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from pitwall import aws

_MISSING = {"NoSuchKey", "NoSuchVersion", "404", "NotFound"}


@dataclass(frozen=True)
class ObjectStore:
    bucket: str

    @property
    def _s3(self) -> Any:
        return aws.client("s3")

    def get_bytes(self, key: str, version_id: str | None = None) -> bytes | None:
        """The object's content (that version's, when given), or None when there is no such object."""
        version = {"VersionId": version_id} if version_id else {}
        try:
            return self._s3.get_object(Bucket=self.bucket, Key=key, **version)["Body"].read()
        except ClientError as exc:
            if exc.response["Error"]["Code"] in _MISSING:
                return None
            raise

    def exists(self, key: str) -> bool:
        try:
            self._s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in _MISSING:
                return False
            raise
        return True

    def get_json(self, key: str) -> Any | None:
        body = self.get_bytes(key)
        return None if body is None else json.loads(body)

    def put_bytes(self, key: str, body: bytes, content_type: str = "application/octet-stream") -> None:
        self._s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)

    def put_text(self, key: str, text: str) -> None:
        self.put_bytes(key, text.encode(), "text/plain; charset=utf-8")

    def put_json(self, key: str, value: Any) -> None:
        self.put_bytes(key, json.dumps(value, indent=2, sort_keys=True).encode(), "application/json")

    def copy(self, source_key: str, target_key: str) -> None:
        self._s3.copy_object(
            Bucket=self.bucket, Key=target_key, CopySource={"Bucket": self.bucket, "Key": source_key}
        )

    def list_keys(self, prefix: str) -> list[str]:
        keys: list[str] = []
        for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            keys += [item["Key"] for item in page.get("Contents", [])]
        return keys

    def list_sizes(self, prefix: str) -> dict[str, int]:
        """Every key under `prefix` with its size in bytes."""
        sizes: dict[str, int] = {}
        for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            sizes.update({item["Key"]: int(item["Size"]) for item in page.get("Contents", [])})
        return sizes

    def open(self, key: str) -> Any:
        """The object's body as a stream (large objects: never read whole)."""
        return self._s3.get_object(Bucket=self.bucket, Key=key)["Body"]

    def presigned_url(self, key: str, expires_seconds: int) -> str:
        return str(
            self._s3.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_seconds
            )
        )
