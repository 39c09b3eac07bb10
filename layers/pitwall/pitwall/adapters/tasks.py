"""Step Functions task tokens: complete, fail or keep alive a waiting task."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from pitwall import aws

# The token's task already ended (succeeded, failed, timed out): nothing to do, not an error.
_GONE = {"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"}


def _call(method: str, **kwargs: Any) -> bool:
    try:
        getattr(aws.client("stepfunctions"), method)(**kwargs)
    except ClientError as exc:
        if exc.response["Error"]["Code"] in _GONE:
            return False
        raise
    return True


class TaskTokens:
    """Each call is False when the token's task already ended."""

    def succeed(self, token: str, output: dict[str, Any]) -> bool:
        return _call("send_task_success", taskToken=token, output=json.dumps(output))

    def fail(self, token: str, error: str, cause: str) -> bool:
        return _call("send_task_failure", taskToken=token, error=error, cause=cause[:32_000])

    def heartbeat(self, token: str) -> bool:
        return _call("send_task_heartbeat", taskToken=token)
