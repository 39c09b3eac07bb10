"""Task-token heartbeats as Step Functions answers them.

AWS accepts SendTaskHeartbeat for the token of any task that waits on it, with or without
`HeartbeatSeconds`; moto's callback endpoint answers InvalidToken for a wait that has no heartbeat
timer (and for every wait while its Lambda still runs: the timer is set up after the invocation).
AwaitHost sends a heartbeat to check that a token belongs to a waiting task before storing it, so
the local cloud answers such a heartbeat as AWS does, wrapping moto's `notify_heartbeat`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackEndpoint


@contextmanager
def heartbeats_of_any_waiting_task() -> Iterator[None]:
    original = CallbackEndpoint.notify_heartbeat

    def notify_heartbeat(self: Any) -> bool:
        original(self)
        return True  # the endpoint exists: its task waits on the token

    CallbackEndpoint.notify_heartbeat = notify_heartbeat  # type: ignore[method-assign]
    try:
        yield
    finally:
        CallbackEndpoint.notify_heartbeat = original  # type: ignore[method-assign]
