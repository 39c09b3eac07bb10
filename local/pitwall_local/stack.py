"""The local stack: the local cloud as a long-running process on loopback, for every CLI verb.

`pitwall up` starts this module as a process of its own (`python -m pitwall_local.stack`). It
deploys template.yaml into moto with the Lambdas, the event relay and the simulated hosts in this
process (`LocalCloud`, on its accelerated clock) and serves moto's backends over HTTP on
127.0.0.1 with moto's own server application. A request that arrives over HTTP reaches the same
in-memory backends as the in-process clients of the Lambdas and hosts (moto's backends are
module state), so an upload from `pitwall submit` fires the S3 notification, the Lambda shim
runs the handler in this process, and the relay delivers the events, exactly as for an upload
made in-process. The CLI talks to it as to AWS: `AWS_ENDPOINT_URL` points boto3 at it, and the
commands find the resources from the stack's CloudFormation outputs.

The state file (`~/.pitwall/local.json`, or `PITWALL_LOCAL_STATE`) is written once the server
answers and removed when it stops; SIGTERM or SIGINT stops it (`pitwall down`).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

# imported with the module, so `pitwall up` / `down` name the `local` extra when moto is missing
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

LOOPBACK = "127.0.0.1"
STATE_ENV = "PITWALL_LOCAL_STATE"
DEFAULT_STATE = Path("~/.pitwall/local.json")
SERVER_MODULE = "pitwall_local.stack"
READY_TIMEOUT = 180.0  # deploying the template takes about 10 s; a loaded machine, much more
STOP_TIMEOUT = 30.0
# moto accepts any credentials; these name no real account
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


class StackError(Exception):
    """The local stack could not be started or stopped; the message says why."""


@dataclass(frozen=True)
class StackState:
    """What the state file holds: where the stack answers and which process serves it."""

    pid: int
    endpoint: str
    region: str
    stack_name: str
    time_scale: float
    log: str

    def environment(self) -> dict[str, str]:
        """The variables that point boto3, and so every CLI command, at this stack."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_DEFAULT_REGION": self.region,
            **FAKE_CREDENTIALS,
        }


def state_path(explicit: Path | None = None) -> Path:
    """The state file: `explicit`, else `$PITWALL_LOCAL_STATE`, else ~/.pitwall/local.json."""
    return (explicit or Path(os.environ.get(STATE_ENV) or DEFAULT_STATE)).expanduser()


def read_state(path: Path) -> StackState | None:
    try:
        return StackState(**json.loads(path.read_text()))
    except FileNotFoundError:
        return None
    except (ValueError, TypeError) as exc:
        raise StackError(f"{path}: not a local stack state file ({exc}); remove it") from exc


def _write_state(path: Path, state: StackState) -> None:
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(asdict(state), indent=2) + "\n")
    partial.replace(path)  # atomic: a reader sees no file or the whole file


def is_serving(pid: int) -> bool:
    """Whether `pid` is a live local stack server (on Linux: not a zombie, not a recycled pid)."""
    if Path("/proc/self").is_dir():
        try:
            return SERVER_MODULE.encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# -- the CLI's side: start and stop the server process ---------------------------------------


def start(
    path: Path, *, port: int, time_scale: float, region: str, timeout: float = READY_TIMEOUT
) -> StackState:
    """Start the server process, detached, and return its state once it answers."""
    running = read_state(path)
    if running is not None and is_serving(running.pid):
        raise StackError(f"a local stack is already up at {running.endpoint} (pid {running.pid})")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)  # left by a stack that did not stop cleanly
    log = path.with_suffix(".log")
    command = [sys.executable, "-m", SERVER_MODULE, "--state", str(path), "--port", str(port)]
    command += ["--time-scale", str(time_scale), "--region", region]
    with log.open("w") as out:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + timeout
    while (state := read_state(path)) is None or state.pid != process.pid:
        if process.poll() is not None:
            raise StackError(f"the local stack exited ({process.returncode}) before serving:\n{_tail(log)}")
        if time.monotonic() > deadline:
            process.terminate()
            process.wait(STOP_TIMEOUT)
            raise StackError(f"the local stack was not serving after {timeout:.0f} s; its log: {log}")
        time.sleep(0.2)
    return state


def stop(path: Path, timeout: float = STOP_TIMEOUT) -> StackState | None:
    """Stop the server named by the state file and wait for it to exit; None if none was up."""
    state = read_state(path)
    if state is None:
        return None
    if is_serving(state.pid):
        os.kill(state.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while is_serving(state.pid):
            if time.monotonic() > deadline:
                os.kill(state.pid, signal.SIGKILL)
                raise StackError(f"pid {state.pid} did not stop within {timeout:.0f} s: killed")
            time.sleep(0.1)
    path.unlink(missing_ok=True)
    return state


def _tail(log: Path, lines: int = 20) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


# -- the server process -----------------------------------------------------------------------


def serve(path: Path, *, port: int, time_scale: float, region: str) -> None:
    """Deploy the local cloud, serve it on loopback until SIGTERM or SIGINT, then clean up."""
    from pitwall_local.cloud import LocalCloud  # all of moto's backends: only the server loads them

    # this process's own clients (Lambdas, hosts) reach moto in-process, never over HTTP
    for name in [name for name in os.environ if name.startswith("AWS_ENDPOINT_URL")]:
        del os.environ[name]
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())

    # the port first: a taken one fails at once, not after the deployment (werkzeug says why
    # and exits 1)
    server = make_server(
        LOOPBACK,
        port,
        DomainDispatcherApplication(create_backend_app),
        threaded=True,
        request_handler=MotoRequestHandler,
    )
    with LocalCloud(time_scale=time_scale, region=region) as cloud:
        thread = threading.Thread(target=server.serve_forever, name="moto-server", daemon=True)
        thread.start()
        try:
            state = StackState(
                pid=os.getpid(),
                endpoint=f"http://{LOOPBACK}:{server.server_port}",
                region=region,
                stack_name=cloud.stack_name,
                time_scale=time_scale,
                log=str(path.with_suffix(".log")),
            )
            _write_state(path, state)
            print(f"local stack {cloud.stack_name} serving at {state.endpoint}", flush=True)
            while not stopping.wait(1.0):
                pass
            print("stopping", flush=True)
        finally:
            server.shutdown()
            thread.join()
            server.server_close()
            path.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {SERVER_MODULE}", description=__doc__)
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--time-scale", type=float, required=True)
    parser.add_argument("--region", required=True)
    args = parser.parse_args(argv)
    serve(args.state, port=args.port, time_scale=args.time_scale, region=args.region)
    return 0


if __name__ == "__main__":
    sys.exit(main())
