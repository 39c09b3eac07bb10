"""The local stack's state file, `pitwall down`'s care to signal only the stack's server, and the
`local` extra named when moto is missing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest

from pitwall_local.stack import StackError, StackState, is_serving, read_state, state_path, stop


def a_state(pid: int) -> StackState:
    return StackState(
        pid=pid,
        endpoint="http://127.0.0.1:4566",
        region="eu-west-1",
        stack_name="pitwall",
        time_scale=480.0,
        log="/tmp/local.log",
    )


def test_the_state_points_boto3_at_the_endpoint_with_fake_credentials() -> None:
    environment = a_state(1).environment()

    assert environment["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4566"
    assert environment["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert environment["AWS_ACCESS_KEY_ID"] and environment["AWS_SECRET_ACCESS_KEY"]


def test_the_state_file_is_the_option_else_the_variable_else_the_home_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("PITWALL_LOCAL_STATE", raising=False)
    assert state_path() == tmp_path / ".pitwall" / "local.json"
    monkeypatch.setenv("PITWALL_LOCAL_STATE", str(tmp_path / "other.json"))
    assert state_path() == tmp_path / "other.json"
    assert state_path(tmp_path / "given.json") == tmp_path / "given.json"


def test_a_state_file_that_is_not_one_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "local.json"
    path.write_text("{not json")

    with pytest.raises(StackError, match=r"local\.json: not a local stack state file"):
        read_state(path)


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="tells processes apart by /proc")
def test_down_with_a_stale_state_signals_no_process_and_removes_the_file(tmp_path: Path) -> None:
    # Given a state file whose pid now belongs to another process (this one: were it signalled,
    # the test run would end with SIGTERM)
    path = tmp_path / "local.json"
    path.write_text(json.dumps(asdict(a_state(os.getpid()))))
    assert not is_serving(os.getpid())

    stopped = stop(path)

    assert stopped is not None and stopped.pid == os.getpid()
    assert not path.exists()


def test_down_without_a_state_file_stops_nothing(tmp_path: Path) -> None:
    assert stop(tmp_path / "local.json") is None


@pytest.mark.parametrize("command", ["up", "down"])
def test_without_the_local_extra_up_and_down_name_it(command: str) -> None:
    # moto made unimportable, as in a plain install
    program = (
        f"import sys; sys.modules['moto'] = None; from pitwall_cli import main; sys.exit(main([{command!r}]))"
    )

    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)

    assert result.returncode == 2
    assert f"pitwall {command} needs the 'local' extra" in result.stderr
    assert "Traceback" not in result.stderr
