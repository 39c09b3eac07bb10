# ruff: noqa: UP031
"""Runs a reward function in its own process for the validator: `python reward_runner.py`.

MUST STAY Python 3.8 compatible and standard-library only: it runs under the project's Python
and under a real Python 3.8 (the simapp 5.x runtime), where nothing else is installed.

Protocol, one JSON document per line:
  stdin   {"source": "<reward_function.py>", "per_call_timeout": 5.0,     first line
           "flush_each_call": false, "first_case": 0}
          {"table": <id>, "waypoints": [[x, y], ...]}                       a waypoints table
          {"params": {...}, "w": <table id or null>}                        one call, numbered
                                                                            on from first_case
  stdout  {"loaded": true} | {"failed": "load", "kind": ..., "message": ...}
          <n> <seconds>                                     a good call (plain text: cheap)
          {"i": <n>, "failed": "call", "kind": ..., "message": ..., "value": <repr>}  then exit

A call must return a finite float (an int or a bool fails) within [-1e5, 1e5]. The runner
stops at the first failure. Anything the reward function prints goes to /dev/null.
"""

import json
import math
import os
import signal
import sys
import time
import traceback

MAX_ABS_REWARD = 1e5
FILENAME = "reward_function.py"
FLUSH_SECONDS = 0.2  # the parent sees progress without a flush per call ("flush_each_call" for exactness)


class CallTimeout(BaseException):
    """Raised by the alarm inside the reward function; a BaseException, so `except Exception`
    in the user's code cannot swallow it."""


def _on_alarm(signum, frame):
    raise CallTimeout()


def _describe(error):
    """The exception and the reward function's own lines of the traceback."""
    frames = [frame for frame in traceback.extract_tb(error.__traceback__) if frame.filename == FILENAME]
    where = " <- ".join(f"line {frame.lineno} in {frame.name}" for frame in reversed(frames))
    text = "".join(traceback.format_exception_only(type(error), error)).strip()
    return text + (" at " + where if where else "")


def _check_value(value):
    """None when `value` is an acceptable reward, else what is wrong with it."""
    if isinstance(value, bool) or not isinstance(value, float):
        kind = type(value).__module__ + "." + type(value).__name__
        kind = kind.replace("builtins.", "")
        return f"returned {kind} {value!r}; the reward must be a float (return float(...))"
    if not math.isfinite(value):
        return f"returned {value!r}; the reward must be finite"
    if abs(value) > MAX_ABS_REWARD:
        return f"returned {value!r}; the reward must lie within [-1e5, 1e5]"
    return None


def _emit(stream, message):
    stream.write(json.dumps(message) + "\n")
    stream.flush()


def _timed(timeout, function, *arguments):
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        return function(*arguments)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _load(source, timeout):
    namespace = {"__name__": "reward_function", "__file__": FILENAME}
    code = compile(source, FILENAME, "exec", dont_inherit=True)
    _timed(timeout, exec, code, namespace)
    function = namespace.get("reward_function")
    if not callable(function):
        raise NameError("reward_function is not defined at the top level")
    return function


def main():
    # The protocol keeps the real stdout; the reward function's prints go to /dev/null.
    protocol = os.fdopen(os.dup(1), "w")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    sys.stdout = os.fdopen(os.dup(devnull), "w")
    signal.signal(signal.SIGALRM, _on_alarm)

    first = json.loads(sys.stdin.readline())
    timeout = float(first["per_call_timeout"])
    flush_seconds = 0.0 if first.get("flush_each_call") else FLUSH_SECONDS
    try:
        reward_function = _load(first["source"], timeout)
    except CallTimeout:
        message = f"loading the module took longer than {timeout} s"
        _emit(protocol, {"failed": "load", "kind": "timeout", "message": message})
        return 0
    except SyntaxError as error:
        message = f"{error.msg} (line {error.lineno})"
        _emit(protocol, {"failed": "load", "kind": "syntax", "message": message})
        return 0
    except ImportError as error:
        _emit(
            protocol, {"failed": "load", "kind": "import", "module": error.name, "message": _describe(error)}
        )
        return 0
    except (Exception, SystemExit) as error:
        _emit(protocol, {"failed": "load", "kind": "error", "message": _describe(error)})
        return 0
    _emit(protocol, {"loaded": True, "python": sys.version.split()[0]})

    tables = {}
    next_case = int(first.get("first_case", 0))
    clock = time.perf_counter
    last_flush = clock()
    for line in sys.stdin:
        message = json.loads(line)
        if "table" in message:
            tables[message["table"]] = [tuple(point) for point in message["waypoints"]]
            continue
        params = message["params"]
        if message["w"] is not None:
            params["waypoints"] = tables[message["w"]]
        number = next_case
        next_case += 1
        start = clock()
        try:
            value = _timed(timeout, reward_function, params)
        except CallTimeout:
            text = f"took longer than {timeout} s"
            _emit(protocol, {"i": number, "failed": "call", "kind": "timeout", "message": text})
            return 0
        except (Exception, SystemExit) as error:
            _emit(protocol, {"i": number, "failed": "call", "kind": "error", "message": _describe(error)})
            return 0
        elapsed = clock() - start
        problem = _check_value(value)
        if problem is not None:
            _emit(protocol, {"i": number, "failed": "call", "kind": "value", "message": problem})
            return 0
        protocol.write("%d %.9f\n" % (number, elapsed))
        if start - last_flush >= flush_seconds:
            protocol.flush()
            last_flush = start
    protocol.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
