"""Task tokens as Step Functions answers them.

AWS accepts SendTaskHeartbeat for the token of any task that waits on it, with or without
`HeartbeatSeconds`; moto's callback endpoint answers InvalidToken for a wait that has no heartbeat
timer (and for every wait while its Lambda still runs: the timer is set up after the invocation).
AwaitHost sends a heartbeat to check that a token belongs to a waiting task before storing it, so
the local cloud answers such a heartbeat as AWS does, wrapping moto's `notify_heartbeat`.

The same late timer loses answers: a task with `HeartbeatSeconds` looks at its outcome only when
its heartbeat timer fires, and a SendTaskSuccess/Failure that came while its Lambda still ran
(AwaitHost answering at once: the host got there first, the segment was replaced) set no timer.
AWS ends the task at once; moto would wait for the next heartbeat, or time out when none comes.
The wrapped `setup_heartbeat_endpoint` fires a new timer at once when the answer is already in."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackEndpoint


@contextmanager
def task_tokens_as_in_aws() -> Iterator[None]:
    original = CallbackEndpoint.notify_heartbeat
    original_setup = CallbackEndpoint.setup_heartbeat_endpoint

    def notify_heartbeat(self: Any) -> bool:
        original(self)
        return True  # the endpoint exists: its task waits on the token

    def setup_heartbeat_endpoint(self: Any, heartbeat_seconds: int) -> Any:
        timer = original_setup(self, heartbeat_seconds)
        if self.get_outcome() is not None:  # answered while its Lambda ran: look at it now
            timer.notify()
        return timer

    CallbackEndpoint.notify_heartbeat = notify_heartbeat  # type: ignore[method-assign]
    CallbackEndpoint.setup_heartbeat_endpoint = setup_heartbeat_endpoint  # type: ignore[method-assign]
    try:
        yield
    finally:
        CallbackEndpoint.notify_heartbeat = original  # type: ignore[method-assign]
        CallbackEndpoint.setup_heartbeat_endpoint = original_setup  # type: ignore[method-assign]
