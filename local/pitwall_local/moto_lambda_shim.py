"""Run Lambda handlers in this process instead of in Docker.

moto runs a Lambda function by starting its runtime image in Docker; this machine has no Docker
engine. This module replaces moto's one execution hook, `LambdaFunction._invoke_lambda(event)
-> (result, errored, logs)`, with an in-process call of the function's handler, loaded from the
code folder the deployer recorded. Errors come back as AWS returns them
(`{"errorType", "errorMessage"}`, errored), so Step Functions sees the exception's class name as
the task's Error, as in AWS. `tests/integration/test_moto_lambda_shim.py` fails if a moto
upgrade moves the hook.
"""

from __future__ import annotations

import importlib.util
import json
import os
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from moto.awslambda.models import LambdaFunction
from moto.core.exceptions import JsonRESTError

HOOK_NAME = "_invoke_lambda"
_current = threading.local()  # the function a handler in this thread runs for (benchmarks meter it)


def current_function() -> str | None:
    """The name of the Lambda function whose handler runs in this thread, if any."""
    stack: list[str] = getattr(_current, "stack", [])
    return stack[-1] if stack else None


Handler = Callable[[Any, Any], Any]


@dataclass
class InProcessContext:
    """The Lambda context a handler gets."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/local"
    log_stream_name: str = "local"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@dataclass
class Invocation:
    function_name: str
    seconds: float
    memory_mb: int
    errored: bool
    error: str = ""


class InjectedLambdaError(JsonRESTError):
    """A transient error of the Lambda service itself (fault injection): the caller gets it as
    AWS answers it, so Step Functions sees `Lambda.<error_type>`."""

    def __init__(self, error_type: str) -> None:
        super().__init__(error_type, f"{error_type}: injected by the local cloud's fault suite")
        self.code = 429 if error_type == "TooManyRequestsException" else 500


class LambdaShim:
    """Which folder holds each function's code, the loaded handlers, and what ran (for benches)."""

    def __init__(self, function_code: dict[str, Path]) -> None:
        self.function_code = function_code
        self.invocations: list[Invocation] = []
        self._modules: dict[Path, ModuleType] = {}
        self._lock = threading.Lock()
        self._count = 0
        self.injected_errors: dict[str, list[str]] = {}  # function name -> errors of its next invocations

    def handler_of(self, function: LambdaFunction) -> Handler:
        folder = self.function_code[function.function_name]
        module_name, _, attribute = str(function.handler).rpartition(".")
        with self._lock:
            module = self._modules.get(folder)
            if module is None:
                path = folder / f"{module_name.replace('.', '/')}.py"
                spec = importlib.util.spec_from_file_location(f"pitwall_local_fn_{folder.name}", path)
                if spec is None or spec.loader is None:
                    raise ImportError(f"cannot load {path}")
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
                self._modules[folder] = module
        return getattr(module, attribute)

    def invoke(self, function: LambdaFunction, event: Any) -> tuple[str, bool, str]:
        import time

        with self._lock:
            injected = self.injected_errors.get(function.function_name)
            error = injected.pop(0) if injected else None
        if error is not None:
            raise InjectedLambdaError(error)
        payload = json.loads(event) if isinstance(event, str | bytes) else (event or {})
        os.environ.update({k: str(v) for k, v in function.environment_vars.items()})
        os.environ["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"] = function.region  # as the runtime does
        with self._lock:
            self._count += 1
            request_id = f"local-{self._count:08d}"
        context = InProcessContext(
            function_name=function.function_name,
            memory_limit_in_mb=int(function.memory_size),
            invoked_function_arn=function.function_arn,
            aws_request_id=request_id,
        )
        started = time.perf_counter()
        stack = _current.__dict__.setdefault("stack", [])
        stack.append(function.function_name)
        try:
            result = self.handler_of(function)(payload, context)
            errored, body = False, json.dumps(result)
        except Exception as exc:
            errored = True
            body = json.dumps(
                {
                    "errorType": type(exc).__name__,
                    "errorMessage": str(exc),
                    "stackTrace": traceback.format_exception(exc)[-5:],
                }
            )
        finally:
            stack.pop()
        seconds = time.perf_counter() - started
        with self._lock:
            self.invocations.append(
                Invocation(
                    function.function_name,
                    seconds,
                    int(function.memory_size),
                    errored,
                    body if errored else "",
                )
            )
        return body, errored, ""


@contextmanager
def lambdas_in_process(shim: LambdaShim) -> Iterator[LambdaShim]:
    """While active, every moto Lambda invocation runs through `shim`."""
    original = getattr(LambdaFunction, HOOK_NAME)

    def invoke_in_process(self: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
        return shim.invoke(self, event)

    setattr(LambdaFunction, HOOK_NAME, invoke_in_process)
    try:
        yield shim
    finally:
        setattr(LambdaFunction, HOOK_NAME, original)
