"""Asynchronous Lambda invocations as Lambda makes them: retries, a maximum event age, and the
failure destination.

S3 notifications, EventBridge rules and `InvocationType=Event` invoke a function asynchronously.
moto invokes once and drops a failure; Lambda retries a failed event (about one minute after the
first attempt, two minutes after the second) up to the function's `MaximumRetryAttempts`, drops
it once it is older than `MaximumEventAgeInSeconds`, and sends the invocation record of a dropped
event to the `OnFailure` destination (template.yaml: AWS::Lambda::EventInvokeConfig). This module
does the same on the cloud's accelerated clock: the first attempt in the caller's thread (S3
notifies inline, the relay from its own thread), the retries in a thread of their own, the
record in the format Lambda sends it (`requestContext.condition`, `requestPayload`,
`responsePayload`) to the SQS destination.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from unittest.mock import patch

from botocore.exceptions import ClientError
from moto.awslambda.models import LambdaFunction
from moto.s3 import notifications

from pitwall import aws

RETRY_DELAYS_SECONDS = (60.0, 120.0)  # Lambda's waits before the second and the third attempt
DEFAULT_RETRIES = 2
DEFAULT_MAX_AGE_SECONDS = 6 * 3600


@dataclass(frozen=True)
class InvokeConfig:
    retries: int = DEFAULT_RETRIES
    max_age_seconds: float = DEFAULT_MAX_AGE_SECONDS
    on_failure: str | None = None  # an SQS queue ARN


@dataclass
class AsyncInvoker:
    region: str
    time_scale: float
    now: Callable[[], float]  # the cloud's clock, epoch seconds
    failed: list[dict[str, Any]] = field(default_factory=list)  # the records sent to a destination
    _threads: list[threading.Thread] = field(default_factory=list)
    _closed: threading.Event = field(default_factory=threading.Event)

    def close(self) -> None:
        """No more retries: the cloud is going away (a retry then would reach past moto)."""
        self._closed.set()

    def config_of(self, function: str) -> InvokeConfig:
        try:
            answer = aws.client("lambda", self.region).get_function_event_invoke_config(FunctionName=function)
        except ClientError:
            return InvokeConfig()  # none configured: Lambda's defaults, no destination
        destination = answer.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        return InvokeConfig(
            retries=int(answer.get("MaximumRetryAttempts", DEFAULT_RETRIES)),
            max_age_seconds=float(answer.get("MaximumEventAgeInSeconds", DEFAULT_MAX_AGE_SECONDS)),
            on_failure=destination or None,
        )

    def invoke(self, function: str, payload: Any) -> dict[str, Any] | None:
        """The first attempt now; on failure the retries go on in their own thread. Returns the
        first attempt's error (None when it succeeded)."""
        error = self._attempt(function, payload)
        if error is not None:
            thread = threading.Thread(
                target=self._retry, args=(function, payload, error), name="retry", daemon=True
            )
            self._threads.append(thread)
            thread.start()
        return error

    def _attempt(self, function: str, payload: Any) -> dict[str, Any] | None:
        try:
            answer = aws.client("lambda", self.region).invoke(
                FunctionName=function, Payload=json.dumps(payload).encode()
            )
        except ClientError as exc:  # throttled, a service error: retried as well
            return {"errorType": exc.response["Error"]["Code"], "errorMessage": str(exc)}
        if answer.get("FunctionError"):
            body = json.loads(answer["Payload"].read() or b"{}")
            return body if isinstance(body, dict) else {"errorMessage": str(body)}
        return None

    def _retry(self, function: str, payload: Any, error: dict[str, Any]) -> None:
        try:
            self._retry_until_done(function, payload, error)
        except Exception:
            if not self._closed.is_set():
                raise
            # the cloud closed under this retry: its event goes nowhere, as the cloud itself

    def _retry_until_done(self, function: str, payload: Any, error: dict[str, Any]) -> None:
        config = self.config_of(function)
        attempts, condition, age = 1, "RetriesExhausted", 0.0
        for delay in RETRY_DELAYS_SECONDS[: config.retries]:
            if self._closed.wait(delay / self.time_scale):
                return
            # the event's age counts the waits only: a handler takes well under a second in Lambda,
            # minutes on the accelerated clock of a loaded machine
            age += delay
            if age > config.max_age_seconds:
                condition = "EventAgeExceeded"
                break
            attempts += 1
            retried = self._attempt(function, payload)
            if retried is None:
                return
            error = retried
        if config.on_failure:
            self._send(config.on_failure, function, payload, error, condition, attempts)

    def _send(
        self,
        queue_arn: str,
        function: str,
        payload: Any,
        error: dict[str, Any],
        condition: str,
        attempts: int,
    ) -> None:
        function_arn = aws.client("lambda", self.region).get_function(FunctionName=function)["Configuration"][
            "FunctionArn"
        ]
        record = {
            "version": "1.0",
            "timestamp": datetime.fromtimestamp(self.now(), UTC).isoformat(timespec="milliseconds"),
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": f"{function_arn}:$LATEST",
                "condition": condition,
                "approximateInvokeCount": attempts,
            },
            "requestPayload": payload,
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "responsePayload": error,
        }
        sqs = aws.client("sqs", self.region)
        url = sqs.get_queue_url(QueueName=queue_arn.rsplit(":", 1)[-1])["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(record))
        self.failed.append(record)


@contextmanager
def asynchronous_invocations(invoker: AsyncInvoker) -> Iterator[AsyncInvoker]:
    """While active, S3 notifications and `InvocationType=Event` go through `invoker` (the relay
    takes it as an argument)."""
    original_invoke = LambdaFunction.invoke

    def invoke_awslambda(account_id: str, body: Any, arn: str, region: str) -> None:
        invoker.invoke(arn, body)

    def invoke(self: LambdaFunction, body: str, request_headers: Any, response_headers: Any) -> Any:
        headers = {name.lower(): value for name, value in dict(request_headers).items()}
        if headers.get("x-amz-invocation-type") == "Event":
            invoker.invoke(self.function_arn, json.loads(body) if body else {})
            return ""
        return original_invoke(self, body, request_headers, response_headers)

    with (
        patch.object(notifications, "_invoke_awslambda", invoke_awslambda),
        patch.object(LambdaFunction, "invoke", invoke),
    ):
        yield invoker
