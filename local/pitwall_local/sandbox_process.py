"""Run one Lambda handler in this process, for the Lambda shim's isolated functions:
`python -m pitwall_local.sandbox_process FOLDER MODULE ATTRIBUTE`, the event on stdin, the result
(or the error, as Lambda reports it) as the last line of stdout. Whatever the handler prints or
logs goes to stderr."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any


def main(folder: str, module_name: str, attribute: str) -> int:
    answer_stream = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # the handler's prints and logs: stderr
    sys.stdout = sys.stderr
    event = json.loads(sys.stdin.read() or "{}")
    path = Path(folder) / f"{module_name.replace('.', '/')}.py"
    answer: dict[str, Any]
    try:
        spec = importlib.util.spec_from_file_location("pitwall_sandboxed_function", path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {path}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        context = type(
            "Context",
            (),
            {
                "function_name": "sandbox",
                "memory_limit_in_mb": 1024,
                "invoked_function_arn": "arn:aws:lambda:::function:sandbox",
                "aws_request_id": "sandbox",
                "get_remaining_time_in_millis": lambda self: 60_000,
            },
        )()
        answer = {"result": getattr(module, attribute)(event, context)}
    except Exception as exc:
        answer = {
            "error": {
                "errorType": type(exc).__name__,
                "errorMessage": str(exc),
                "stackTrace": traceback.format_exception(exc)[-5:],
            }
        }
    answer_stream.write(json.dumps(answer) + "\n")
    answer_stream.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
