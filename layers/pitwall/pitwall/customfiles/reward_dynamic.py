"""The dynamic half of the reward-function validator: run it, for real, on synthesised params.

The reward function runs in a separate process (`reward_runner.py`, stdlib only and Python 3.8
compatible) under each chosen interpreter: the project's own Python (3.12, as simapp 6.x) and,
where the machine has one, a real Python 3.8 (as simapp 5.x). One process per interpreter
gets every case streamed in, so thousands of calls cost milliseconds, not a process each.

The cases are encoded once (JSON lines; each distinct `waypoints` list is sent once as a
table) and the same bytes go to every interpreter, in parallel. Each call has the console's
5 s limit (an alarm inside the runner, and a watchdog here in case the alarm cannot fire), and
the whole run has an overall limit. The first failing call is reported with its case label and
its params in full.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import selectors
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, computed_field

RUNNER = Path(__file__).with_name("reward_runner.py")
PER_CALL_TIMEOUT = 5.0  # seconds, as the console's validator
OVERALL_TIMEOUT = 120.0
STARTUP_ALLOWANCE = 10.0  # seconds to start the interpreter and import numpy before the load limit
WATCHDOG_MARGIN = 2.0  # seconds past the per-call limit before the process is killed from outside
SIMULATOR_HZ = 15.0
SLOW_CALL_SECONDS = 0.1 / SIMULATOR_HZ  # p99 above a tenth of a 15 Hz step slows training
CHUNK_LINES = 64  # lines sent to a runner at once (one queue item, one write)
QUEUE_CHUNKS = 64  # chunks buffered per runner before the case generator waits for it
ALLOWED_THIRD_PARTY = ("numpy", "scipy", "shapely")
Case = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class Interpreter:
    label: str  # "python3.12", "python3.8"
    path: str


def project_interpreter() -> Interpreter:
    return Interpreter(f"python{sys.version_info.major}.{sys.version_info.minor}", sys.executable)


# <repo>/.venv is sys.prefix when the project runs from its venv
SIMULATOR_PY38 = Path(sys.prefix).parent / ".tools" / "py38" / "bin" / "python"


def find_python38(search_roots: Sequence[Path] | None = None) -> Interpreter | None:
    """A real, working Python 3.8 on this machine, or None. First choice: the simulator-like 3.8
    environment (with numpy, scipy, shapely) that scripts/setup.sh makes in `.tools/py38` beside
    the project's venv; then a bare one under pyenv, or python3.8 on PATH."""
    roots = search_roots if search_roots is not None else [Path.home() / ".pyenv" / "versions"]
    candidates = [str(SIMULATOR_PY38)] if search_roots is None and SIMULATOR_PY38.exists() else []
    candidates += [str(path) for root in roots for path in sorted(root.glob("3.8*/bin/python"), reverse=True)]
    candidates += [found] if (found := shutil.which("python3.8")) else []
    for candidate in candidates:
        if _is_python(candidate, (3, 8)):
            return Interpreter("python3.8", candidate)
    return None


@cache
def _is_python(path: str, version: tuple[int, int]) -> bool:
    """True when `path` runs and is that Python version (a pyenv shim may exist and fail)."""
    try:
        # bandit: an interpreter found on this machine, asked its version; no shell, fixed code
        completed = subprocess.run(  # nosec B603
            [path, "-I", "-c", "import sys; print(sys.version_info[0], sys.version_info[1])"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return completed.returncode == 0 and completed.stdout.split() == [str(part) for part in version]


def available_interpreters(python_versions: Iterable[str] = ("3.12", "3.8")) -> list[Interpreter]:
    """The interpreters to run under: the project's own for its version, 3.8 where one exists."""
    chosen = []
    for version in python_versions:
        if version == "3.8":
            python38 = find_python38()
            if python38 is not None:
                chosen.append(python38)
        elif version == f"{sys.version_info.major}.{sys.version_info.minor}":
            chosen.append(project_interpreter())
        else:
            raise ValueError(f"python version {version!r}: allowed 3.8 or the project's own")
    return chosen


class CallFailure(BaseModel):
    """The first call that failed: which case, why, and the params it was given, in full."""

    stage: str  # "load" or "call"
    kind: str  # syntax, import, error, timeout, value, crash
    message: str
    case_number: int | None = None
    case: str | None = None
    params: dict[str, Any] | None = None


class DynamicResult(BaseModel):
    interpreter: str
    python_version: str | None = None
    cases: int = 0
    calls: int = 0  # calls that returned an acceptable value
    seconds: float = 0.0
    p50_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    failure: CallFailure | None = None
    skipped: str | None = None  # why this interpreter could not judge the function (not its fault)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ok(self) -> bool:
        return self.failure is None

    @property
    def slow(self) -> bool:
        return self.p99_ms is not None and self.p99_ms > SLOW_CALL_SECONDS * 1000


@dataclass
class EncodedCases:
    """Cases as the lines sent to a runner, encoded once for every interpreter. A run's whole
    stream is one; a batch encoded elsewhere (another process) is one too, and is appended."""

    lines: list[bytes] = field(default_factory=list)  # waypoint tables and calls, in order
    labels: list[str] = field(default_factory=list)  # case number -> label
    call_lines: list[int] = field(default_factory=list)  # case number -> index into `lines`
    tables: dict[str, Any] = field(default_factory=dict)  # table id -> the waypoints object
    complete: bool = False  # every case has been generated

    def params(self, number: int) -> dict[str, Any]:
        message = json.loads(self.lines[self.call_lines[number]])
        params: dict[str, Any] = message["params"]
        if message["w"] is not None:
            params["waypoints"] = json.loads(json.dumps(self.tables[message["w"]], default=_plain))
        return params

    def extend(self, batch: EncodedCases) -> None:
        offset = len(self.lines)
        self.lines += batch.lines
        self.labels += batch.labels
        self.call_lines += [offset + index for index in batch.call_lines]
        self.tables.update(batch.tables)


def _plain(value: Any) -> Any:
    """JSON fallback for numpy scalars and arrays and other sequences."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    raise TypeError(f"cannot send {type(value).__name__} to the reward function")


_CALL_PREFIX = b'{"params"'


class _Encoder:
    """Turns cases into runner lines, remembering each line (to show a failing case's params).
    Each distinct waypoints object becomes one table, sent once; `prefix` keeps table ids of
    batches encoded apart from colliding."""

    def __init__(self, encoded: EncodedCases, prefix: str = "") -> None:
        self.encoded = encoded
        self.prefix = prefix
        self._table_ids: dict[int, str] = {}  # id(waypoints) -> table id; encoded.tables keeps it alive
        self._dumps = json.JSONEncoder(default=_plain, allow_nan=True, separators=(",", ":")).encode

    def add(self, label: str, params: dict[str, Any]) -> None:
        encoded = self.encoded
        waypoints = params.get("waypoints")
        table = None
        if waypoints is not None:
            table = self._table_ids.get(id(waypoints))
            if table is None:
                table = f"{self.prefix}{len(self._table_ids)}"
                self._table_ids[id(waypoints)] = table
                encoded.tables[table] = waypoints
                encoded.lines.append(self._dumps({"table": table, "waypoints": waypoints}).encode() + b"\n")
            params = {key: value for key, value in params.items() if key != "waypoints"}
        encoded.lines.append(self._dumps({"params": params, "w": table}).encode() + b"\n")
        encoded.call_lines.append(len(encoded.lines) - 1)
        encoded.labels.append(label)


def encode_cases(cases: Iterable[Case], prefix: str = "") -> EncodedCases:
    """Encode cases ahead of a run (e.g. in another process); the result may be passed to
    `run_reward_function` among its cases."""
    encoded = EncodedCases()
    encoder = _Encoder(encoded, prefix)
    for label, params in cases:
        encoder.add(label, params)
    encoded.complete = True
    return encoded


_END = b""


class _Run:
    """One runner process: its input queue and writer thread, and what it has been sent."""

    def __init__(
        self,
        interpreter: Interpreter,
        source: str,
        per_call_timeout: float,
        flush_each_call: bool = False,
        first_case: int = 0,
    ) -> None:
        self.interpreter = interpreter
        # bandit: running the uploaded reward code is the point; it comes on stdin, never as an
        # argument or through a shell, and in the Lambdas only inside the reward sandbox function
        self.process = subprocess.Popen(  # nosec B603
            [interpreter.path, "-I", str(RUNNER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=tempfile.gettempdir(),
            env={"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "PYTHONIOENCODING": "utf-8"},
        )
        self.queue: queue.Queue[tuple[bytes, int]] = queue.Queue(maxsize=QUEUE_CHUNKS)
        self.sent = 0  # call lines written to the process
        self.dead = False  # the process stopped reading (it failed, or was killed)
        self.writer = threading.Thread(target=self._write, daemon=True)
        options = {
            "source": source,
            "per_call_timeout": per_call_timeout,
            "flush_each_call": flush_each_call,
            "first_case": first_case,
        }
        first = json.dumps(options).encode() + b"\n"
        self.queue.put((first, 0))
        self.writer.start()

    def _write(self) -> None:
        stream = self.process.stdin
        assert stream is not None
        while True:
            chunk, calls = self.queue.get()
            if chunk is _END:
                break
            if self.dead:
                continue  # drain, so the feeder never blocks on a stopped process
            try:
                stream.write(chunk)
                stream.flush()
                self.sent += calls
            except (BrokenPipeError, OSError, ValueError):
                self.dead = True
        with contextlib.suppress(BrokenPipeError, OSError, ValueError):
            stream.close()

    def put(self, chunk: bytes, calls: int) -> None:
        """Queue `chunk` (lines holding `calls` calls) for the process."""
        if not self.dead:
            self.queue.put((chunk, calls))

    def finish_input(self) -> None:
        self.queue.put((_END, 0))

    def stop(self) -> str:
        """Kill the process if still running; its stderr."""
        self.dead = True
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        assert self.process.stderr is not None and self.process.stdout is not None
        stderr = self.process.stderr.read().decode("utf-8", "replace")
        self.process.stdout.close()
        self.process.stderr.close()
        return stderr


def run_reward_function(
    source: str,
    cases: Iterable[Case | EncodedCases],
    interpreters: Sequence[Interpreter] | None = None,
    *,
    per_call_timeout: float = PER_CALL_TIMEOUT,
    overall_timeout: float = OVERALL_TIMEOUT,
) -> list[DynamicResult]:
    """Call the reward function on every case under each interpreter, all in parallel: the
    cases are generated, encoded and streamed while the runners already work on them.
    `cases` holds (label, params) pairs and/or batches already encoded by `encode_cases`."""
    chosen = list(interpreters) if interpreters is not None else available_interpreters()
    if not chosen:
        return []
    deadline = time.monotonic() + overall_timeout
    encoded = EncodedCases()
    runs = [_Run(interpreter, source, per_call_timeout) for interpreter in chosen]
    feeding_error: list[BaseException] = []
    feeder = threading.Thread(target=_feed, args=(cases, encoded, runs, feeding_error), daemon=True)
    feeder.start()
    with ThreadPoolExecutor(max_workers=len(runs)) as pool:
        results = list(pool.map(lambda run: _collect(run, encoded, per_call_timeout, deadline), runs))
        feeder.join()
        for run in runs:
            run.writer.join()
        if feeding_error:
            raise feeding_error[0]
        retried = [
            pool.submit(_pinpoint, source, result, interpreter, encoded, per_call_timeout, deadline)
            for result, interpreter in zip(results, chosen, strict=True)
            if _needs_pinpointing(result)
        ]
        for future in retried:
            future.result()
    return results


def _needs_pinpointing(result: DynamicResult) -> bool:
    """A crash or a hang seen from outside may have lost the runner's last unflushed answers,
    so the case it names may be early."""
    failure = result.failure
    return (
        failure is not None
        and failure.stage == "call"
        and failure.kind in {"crash", "timeout"}
        and failure.case_number is not None
        and "whole validation run" not in failure.message
    )


def _pinpoint(
    source: str,
    result: DynamicResult,
    interpreter: Interpreter,
    encoded: EncodedCases,
    per_call_timeout: float,
    deadline: float,
) -> None:
    """Run again from the first unconfirmed case, answers flushed after every call, to name
    the exact case that crashed or hung. Updates `result.failure` in place."""
    assert result.failure is not None and result.failure.case_number is not None
    start = result.failure.case_number
    first_line = encoded.call_lines[start]
    lines = [
        line
        for index, line in enumerate(encoded.lines)
        if index >= first_line or not line.startswith(_CALL_PREFIX)
    ]
    run = _Run(interpreter, source, per_call_timeout, flush_each_call=True, first_case=start)
    _send([run], lines)
    run.finish_input()
    again = _collect(run, encoded, per_call_timeout, deadline, first_case=start)
    if again.failure is not None and again.failure.case_number is not None:
        result.failure = again.failure


def _feed(
    cases: Iterable[Case | EncodedCases], encoded: EncodedCases, runs: list[_Run], error: list[BaseException]
) -> None:
    encoder = _Encoder(encoded, prefix="f")
    try:
        sent = 0  # lines of `encoded` already sent
        for item in cases:
            if isinstance(item, EncodedCases):
                encoded.extend(item)
            else:
                encoder.add(*item)
            if len(encoded.lines) - sent >= CHUNK_LINES:
                if all(run.dead for run in runs):
                    break  # every runner has stopped: no need to make more cases
                _send(runs, encoded.lines[sent:])
                sent = len(encoded.lines)
        _send(runs, encoded.lines[sent:])
    except BaseException as exc:  # re-raised in the caller's thread
        error.append(exc)
        for run in runs:
            run.dead = True
    finally:
        encoded.complete = True
        for run in runs:
            run.finish_input()


def _send(runs: list[_Run], lines: list[bytes]) -> None:
    if lines:
        chunk = b"".join(lines)
        calls = sum(1 for line in lines if line.startswith(_CALL_PREFIX))
        for run in runs:
            run.put(chunk, calls)


def _collect(
    run: _Run, encoded: EncodedCases, per_call_timeout: float, deadline: float, first_case: int = 0
) -> DynamicResult:
    result = DynamicResult(interpreter=run.interpreter.label)
    started = time.monotonic()
    times: list[float] = []
    try:
        _read_results(run, result, encoded, times, per_call_timeout, deadline, first_case)
    finally:
        stderr = run.stop()  # its writer drains whatever the feeder still sends, then ends
    result.cases = len(encoded.labels)
    if result.failure is None and result.skipped is None and result.calls < run.sent:
        result.failure = CallFailure(
            stage="call" if result.python_version else "load",
            kind="crash",
            message=f"the process ended after {result.calls} calls: {stderr.strip()[-500:] or 'no output'}",
        )
        _attach_case(result.failure, encoded, first_case + result.calls)
    result.seconds = round(time.monotonic() - started, 4)
    _fill_timing(result, times)
    return result


def _read_results(
    run: _Run,
    result: DynamicResult,
    encoded: EncodedCases,
    times: list[float],
    per_call_timeout: float,
    deadline: float,
    first_case: int,
) -> None:
    stdout = run.process.stdout
    assert stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(stdout, selectors.EVENT_READ)
    fd = stdout.fileno()
    buffer = b""
    quiet_limit = per_call_timeout + STARTUP_ALLOWANCE
    last_progress = time.monotonic()
    while True:
        now = time.monotonic()
        if result.python_version is not None and run.sent <= result.calls:
            last_progress = now  # nothing outstanding: the runner is waiting for input, not stuck
        if now > deadline or now - last_progress > quiet_limit:
            message = f"no answer within {per_call_timeout} s"
            if now > deadline:
                message = "the whole validation run exceeded its time limit"
            stage = "call" if result.python_version else "load"
            result.failure = CallFailure(stage=stage, kind="timeout", message=message)
            _attach_case(result.failure, encoded, first_case + result.calls)
            return
        if not selector.select(timeout=min(0.5, max(0.0, deadline - now))):
            continue
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return
        last_progress = time.monotonic()
        buffer += chunk
        *complete, buffer = buffer.split(b"\n")
        for line in complete:
            if not line.startswith(b"{"):  # the fast path: "<case number> <seconds>"
                times.append(float(line.split()[1]))
                continue
            result.calls = len(times)
            if _handle(json.loads(line), result, encoded):
                return
        result.calls = len(times)
        if result.python_version is not None:
            quiet_limit = per_call_timeout + WATCHDOG_MARGIN


def _handle(message: dict[str, Any], result: DynamicResult, encoded: EncodedCases) -> bool:
    """Record one runner message (other than a good call); True when the run is over."""
    if message.get("loaded"):
        result.python_version = message["python"]
        return False
    if (
        message.get("failed") == "load"
        and message["kind"] == "import"
        and message.get("module") in ALLOWED_THIRD_PARTY
    ):
        result.skipped = f"{message['module']} is not installed for {result.interpreter}"
        return True
    failure = CallFailure(stage=message["failed"], kind=message["kind"], message=message["message"])
    if "i" in message:
        _attach_case(failure, encoded, message["i"])
    result.failure = failure
    return True


def _attach_case(failure: CallFailure, encoded: EncodedCases, number: int) -> None:
    if failure.stage == "call" and 0 <= number < len(encoded.labels):
        failure.case_number = number
        failure.case = encoded.labels[number]
        failure.params = encoded.params(number)


def _fill_timing(result: DynamicResult, times: list[float]) -> None:
    if not times:
        return
    ordered = sorted(times)
    result.p50_ms = round(ordered[len(ordered) // 2] * 1000, 4)
    result.p99_ms = round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 4)
    result.max_ms = round(ordered[-1] * 1000, 4)
