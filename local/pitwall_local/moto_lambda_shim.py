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

import ctypes
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
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


class InjectedHandlerFailure(Exception):
    """A handler's own unhandled error (fault injection): the invocation fails as a bug would."""


class LambdaShim:
    """Which folder holds each function's code, the loaded handlers, and what ran (for benches)."""

    def __init__(self, function_code: dict[str, Path]) -> None:
        self.function_code = function_code
        self.invocations: list[Invocation] = []
        self._modules: dict[Path, ModuleType] = {}
        self._lock = threading.Lock()
        self._count = 0
        self.injected_errors: dict[str, list[str]] = {}  # function name -> errors of its next invocations
        # function name -> the events its handler fails on (fault injection: a bug in the function,
        # an unhandled error, as long as the entry stays)
        self.failing_events: dict[str, Callable[[Any], bool]] = {}
        self._running = 0  # handlers running now
        self._idle = threading.Condition(self._lock)

    def wait_until_idle(self, timeout: float) -> bool:
        """Wait until no handler runs (True), or `timeout` seconds (False)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._running == 0, timeout)

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

        with self._lock:
            injected = self.injected_errors.get(function.function_name)
            error = injected.pop(0) if injected else None
        if error is not None:
            raise InjectedLambdaError(error)
        payload = json.loads(event) if isinstance(event, str | bytes) else (event or {})
        if function.tags.get(ISOLATION_TAG) == "sandbox":
            return self._invoke_isolated(function, payload)
        os.environ.update({k: str(v) for k, v in function.environment_vars.items()})
        os.environ["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"] = function.region  # as the runtime does
        with self._lock:
            self._count += 1
            self._running += 1
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
        failing = self.failing_events.get(function.function_name)
        try:
            if failing is not None and failing(payload):
                raise InjectedHandlerFailure(f"{function.function_name}: injected by the fault suite")
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
            with self._idle:
                self._running -= 1
                self._idle.notify_all()
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

    def _invoke_isolated(self, function: LambdaFunction, payload: Any) -> tuple[str, bool, str]:
        """Run the handler in a process of its own, as its own Lambda would: a clean environment
        (the function's variables, no credentials), a user and network namespace of its own (no
        network), and this process made non-dumpable first, so nothing started there can read
        this process's memory or /proc/<pid>/environ (where the controller's credentials are)."""
        started = time.perf_counter()
        folder = self.function_code[function.function_name]
        module_name, _, attribute = str(function.handler).rpartition(".")
        _make_undumpable()
        environment = {
            **{name: str(value) for name, value in function.environment_vars.items()},
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "PYTHONPATH": os.pathsep.join(p for p in sys.path if p and os.path.isdir(p)),
            "LANG": "C.UTF-8",
            "AWS_REGION": function.region,
            "AWS_DEFAULT_REGION": function.region,
            "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon to reach
        }
        command = [
            *ISOLATION_COMMAND,
            sys.executable,
            "-m",
            "pitwall_local.sandbox_process",
            str(folder),
            module_name,
            attribute,
        ]
        with tempfile.TemporaryDirectory(prefix="pitwall-sandbox-") as workdir:
            # bandit B603: our own runner module under unshare; the event goes on stdin
            completed = subprocess.run(  # nosec B603
                command,
                input=json.dumps(payload),
                capture_output=True,
                text=True,
                env={**environment, "HOME": workdir},  # its own /tmp, as Lambda's
                cwd=workdir,
                timeout=float(function.timeout) + 30,
                check=False,
            )
        lines = completed.stdout.strip().splitlines()
        answer = json.loads(lines[-1]) if lines else {}
        errored = "result" not in answer
        error = answer.get("error") or {
            "errorType": "Runtime.ExitError",
            "errorMessage": f"the sandbox exited with {completed.returncode}: {completed.stderr[-2000:]}",
        }
        body = json.dumps(error if errored else answer["result"])
        with self._lock:
            self.invocations.append(
                Invocation(
                    function.function_name,
                    time.perf_counter() - started,
                    int(function.memory_size),
                    errored,
                    body if errored else "",
                )
            )
        return body, errored, ""


# Functions tagged with it run isolated (template.yaml: the reward sandbox).
ISOLATION_TAG = "pitwall:isolation"
# A user namespace (no rights over this process) and a network namespace with nothing in it.
ISOLATION_COMMAND = ("unshare", "--user", "--map-root-user", "--net", "--")
PR_SET_DUMPABLE = 4


def _make_undumpable() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        raise OSError(
            ctypes.get_errno(), "prctl(PR_SET_DUMPABLE, 0) failed: the sandbox would not be isolated"
        )


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
