"""`pitwall up` as a racer runs it: the local stack in a process of its own on loopback, then
`submit`, `runs`, `status` and `metrics` as separate CLI processes pointed at it only by the
variables `up` prints, until the run has finished; then `pitwall down`, which leaves no process
of the stack behind."""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pitwall import layout
from pitwall_local import stack
from pitwall_local.examples import example_files

PITWALL = [sys.executable, "-m", "pitwall_cli"]
TRACK = "reInvent2019_track"
RUN_DEADLINE = 240.0  # wall seconds for a 30-minute run at 480x (about 15 s on an idle machine)

pytestmark = pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="reads processes from /proc")


def pitwall(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PITWALL, *args], env=env, capture_output=True, text=True, timeout=timeout)


def exported(text: str) -> dict[str, str]:
    """The variables of the `export NAME=VALUE` lines `pitwall up` prints."""
    pairs = [shlex.split(line)[1] for line in text.splitlines() if line.startswith("export ")]
    return dict(pair.split("=", 1) for pair in pairs)


def session_processes(session: int) -> list[int]:
    """Live processes (not zombies) of `session`: the server starts a session of its own, so
    anything it started (reward-function runners, the template translator) would be there."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:  # it ended while we looked
            continue
        if fields[0] != "Z" and int(fields[3]) == session:
            found.append(int(stat.parent.name))
    return found


def refuses_connections(endpoint: str) -> bool:
    host, port = endpoint.removeprefix("http://").split(":")
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
    except OSError:
        return True
    return False


@pytest.fixture
def racer_environment(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A shell without AWS settings, whose local stack state lives in tmp_path; the stack is
    stopped at the end even when the test failed before `pitwall down`."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    env["HOME"] = str(tmp_path / "home")
    env[stack.STATE_ENV] = str(tmp_path / "home" / "local.json")
    yield env
    stack.stop(Path(env[stack.STATE_ENV]))


def wait_for_run_id(model: str, env: dict[str, str]) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        listing = pitwall("runs", env=env)
        assert listing.returncode == 0, listing.stderr
        ids = [line.split()[0] for line in listing.stdout.splitlines() if line.startswith(f"{model}-")]
        if ids:
            return ids[0]
        time.sleep(0.5)
    raise AssertionError(f"no run of {model} in `pitwall runs` after 60 s")


def wait_until_finished(run_id: str, env: dict[str, str]) -> dict[str, Any]:
    deadline = time.monotonic() + RUN_DEADLINE
    while True:
        status = pitwall("status", run_id, "--json", env=env)
        assert status.returncode == 0, status.stdout + status.stderr
        record = json.loads(status.stdout)
        if record["state"] in ("succeeded", "failed"):
            return dict(record)
        assert time.monotonic() < deadline, f"{run_id} still {record['state']} after {RUN_DEADLINE} s"
        time.sleep(1.0)


def test_a_racer_trains_their_folder_on_the_local_stack_through_the_cli(
    racer_environment: dict[str, str], tmp_path: Path
) -> None:
    env = racer_environment
    folder = tmp_path / "my-model"
    folder.mkdir()
    for name, body in example_files().items():
        (folder / name).write_bytes(body)

    # Given a local stack, started as a racer starts it
    up = pitwall("up", env=env, timeout=stack.READY_TIMEOUT + 30)
    assert up.returncode == 0, up.stdout + up.stderr
    state = stack.read_state(Path(env[stack.STATE_ENV]))
    assert state is not None and stack.is_serving(state.pid)
    assert state.endpoint.startswith(f"http://{stack.LOOPBACK}:")
    variables = exported(up.stdout)
    assert variables["AWS_ENDPOINT_URL"] == state.endpoint
    again = pitwall("up", env=env)  # a second `up` (a new shell) gets the same stack
    assert again.returncode == 0
    assert "already up" in again.stderr
    assert exported(again.stdout) == variables
    env.update(variables)

    # When they submit their folder and follow the run with the CLI
    options = ["--model", "my-model", "--track", TRACK, "--minutes", "30"]
    submit = pitwall("submit", str(folder), *options, env=env)
    assert submit.returncode == 0, submit.stdout + submit.stderr
    assert f"{layout.INBOX_PREFIX}my-model/" in submit.stdout
    named = re.search(r"run (\S+); follow it", submit.stdout)
    assert named, submit.stdout
    run_id = named.group(1)
    assert wait_for_run_id("my-model", env) == run_id
    record = wait_until_finished(run_id, env)

    # Then the run trained on a simulated host, and status and metrics tell the same story
    assert record["state"] == "succeeded", record.get("failure")
    episodes = sum(segment["episodes"] for segment in record["segments"])
    assert episodes > 0
    assert record["outcome"]["last_checkpoint"]
    status = pitwall("status", run_id, env=env)
    assert f"run {run_id} (train) of model my-model on {TRACK}: succeeded" in status.stdout
    metrics = pitwall("metrics", run_id, "--json", env=env)
    assert metrics.returncode == 0, metrics.stdout + metrics.stderr
    lineage = json.loads(metrics.stdout)
    assert lineage["state"] == "succeeded"
    assert lineage["episodes"] == episodes
    assert lineage["rows"]

    # And they import the model into (the local stack's) DRoA and write its car file
    imported = pitwall("import", run_id, env=env)
    assert imported.returncode == 0, imported.stdout + imported.stderr
    deadline = time.monotonic() + 120
    while not (imports := wait_until_finished(run_id, env)["imports"]) or imports[-1]["status"] in (
        "PACKAGED",
        "IMPORTING",
    ):
        assert time.monotonic() < deadline, f"import still {imports}"
        time.sleep(1.0)
    assert imports[-1]["status"] == "READY", imports[-1]
    assert "car file: http" in pitwall("status", run_id, env=env).stdout
    car = pitwall("car", run_id, "-o", str(tmp_path / "carfile.tar.gz"), env=env)
    assert car.returncode == 0, car.stdout + car.stderr
    assert (tmp_path / "carfile.tar.gz").stat().st_size > 0

    # When they stop it, nothing of it is left
    down = pitwall("down", env=env)
    assert down.returncode == 0, down.stdout + down.stderr
    assert f"pid {state.pid}" in down.stdout
    assert not stack.is_serving(state.pid)
    assert session_processes(state.pid) == []
    assert refuses_connections(state.endpoint)
    assert not Path(env[stack.STATE_ENV]).exists()
    again = pitwall("down", env=env)
    assert again.returncode == 0
    assert "no local stack is up" in again.stdout


def test_up_on_a_taken_port_fails_with_the_reason(racer_environment: dict[str, str]) -> None:
    with socket.create_server((stack.LOOPBACK, 0)) as taken:
        port = taken.getsockname()[1]

        up = pitwall("up", "--port", str(port), env=racer_environment, timeout=stack.READY_TIMEOUT + 30)

    assert up.returncode == 1
    assert "before serving" in up.stderr
    assert f"Port {port} is in use" in up.stderr  # the server's log, as werkzeug says it
    assert not Path(racer_environment[stack.STATE_ENV]).exists()
