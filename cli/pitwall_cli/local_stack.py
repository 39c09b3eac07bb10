"""`pitwall up` and `pitwall down`: the local stack, for every command to use as a deployed stack.

`pitwall up` starts the local cloud (template.yaml deployed into moto, the Lambdas and simulated
DRFC hosts in-process, an accelerated clock) as a detached process serving on 127.0.0.1
(`pitwall_local.stack`), waits until it answers, and prints the variables that point boto3, and
so every command, at it: `eval "$(pitwall up)"` sets them in the shell. The state file
(`~/.pitwall/local.json`, or `--state` / `PITWALL_LOCAL_STATE`) remembers the process; `pitwall
down` stops it and waits until it is gone.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from pitwall_local import stack


def register(subparsers: argparse._SubParsersAction) -> None:
    up = subparsers.add_parser("up", help="start the local stack: offline AWS on 127.0.0.1")
    up.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    up.add_argument("--time-scale", type=float, default=480.0, help="simulated seconds per real second (480)")
    up.add_argument("--region", default="us-east-1", help="the stack's region (us-east-1)")
    add_state_option(up)
    up.set_defaults(func=bring_up)
    down = subparsers.add_parser("down", help="stop the local stack started by `pitwall up`")
    add_state_option(down)
    down.set_defaults(func=bring_down)


def add_state_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state",
        type=Path,
        metavar="FILE",
        help="the local stack's state file (default: $PITWALL_LOCAL_STATE, else ~/.pitwall/local.json)",
    )


def exports(environment: dict[str, str]) -> str:
    return "\n".join(f"export {name}={shlex.quote(value)}" for name, value in environment.items())


def bring_up(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        print(f"--port {args.port}: allowed: 0 (a free port) to 65535", file=sys.stderr)
        return 2
    if args.time_scale < 1:
        print(f"--time-scale {args.time_scale}: allowed: a number >= 1", file=sys.stderr)
        return 2
    path = stack.state_path(args.state)
    try:
        running = stack.read_state(path)
        if running is not None and stack.is_serving(running.pid):
            print(f"the local stack is already up at {running.endpoint} (pid {running.pid})", file=sys.stderr)
            print(exports(running.environment()))
            return 0
        print("starting the local stack (deploying template.yaml into moto) ...", file=sys.stderr, flush=True)
        state = stack.start(path, port=args.port, time_scale=args.time_scale, region=args.region)
    except stack.StackError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(exports(state.environment()))
    print(
        f"local stack {state.stack_name} up at {state.endpoint} (pid {state.pid}, log {state.log}); "
        f"1 simulated hour takes {3600 / state.time_scale:.1f} s.\n"
        f'Point the CLI at it with the lines above (or `eval "$(pitwall up)"`), then e.g.\n'
        f"  pitwall submit my-model/ --model my-model --track reInvent2019_track\n"
        f"  pitwall runs; pitwall status RUN; pitwall metrics RUN\n"
        f"`pitwall down` stops it; everything in it lives in memory and goes with it.",
        file=sys.stderr,
    )
    return 0


def bring_down(args: argparse.Namespace) -> int:
    path = stack.state_path(args.state)
    try:
        state = stack.stop(path)
    except stack.StackError as exc:
        print(exc, file=sys.stderr)
        return 1
    if state is None:
        print(f"no local stack is up (no {path})")
        return 0
    print(f"local stack at {state.endpoint} (pid {state.pid}) stopped")
    return 0
