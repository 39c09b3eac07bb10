"""Secrets Manager: the DRoA password, read inside the step that needs it and never kept."""

from __future__ import annotations

from botocore.exceptions import ClientError

from pitwall import aws
from pitwall.errors import DroaSignInFailed


def secret_string(secret_id: str) -> str:
    try:
        value = aws.client("secretsmanager").get_secret_value(SecretId=secret_id).get("SecretString")
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        if code in ("ResourceNotFoundException", "InvalidRequestException"):
            raise DroaSignInFailed(
                f"secret {secret_id}: {code}; put the DRoA password in it "
                "(aws secretsmanager put-secret-value --secret-id ... --secret-string ...)"
            ) from exc
        raise
    if not value:
        raise DroaSignInFailed(f"secret {secret_id} holds no password string")
    return str(value)
