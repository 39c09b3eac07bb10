"""The host agent's archive runs on a real Python 3.8, the oldest Python of the Ubuntu images
DRFC runs on: every module in it imports, the protocol's JSON and the env files come out the
same as on the controller's Python, and the agent itself runs a segment to its end.

That interpreter has no boto3: a tiny stand-in `boto3` / `botocore` package is put on its path
(the agent only imports `botocore.exceptions.ClientError` at module top; `boto3` in __main__),
and the agent's S3 is an in-memory object with the calls the agent makes.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from pitwall.customfiles.envfile import EnvFile
from pitwall.host.drfc_settings import render_env
from pitwall.host.packaging import AGENT_MODULES, PACKAGE_ROOT, build_agent_archive
from pitwall.host.protocol import (
    ControlAction,
    ControlRequest,
    HostState,
    HostStatus,
    Mode,
    RunSpec,
)

PYTHON_38 = Path("/root/.pyenv/versions/3.8.18/bin/python")
pytestmark = pytest.mark.skipif(not PYTHON_38.exists(), reason=f"no Python 3.8 at {PYTHON_38}")

STUBS = {
    "boto3/__init__.py": '"""Stand-in: the agent imports boto3 only to make its S3 client."""\n',
    "botocore/__init__.py": "",
    "botocore/exceptions.py": (
        "class ClientError(Exception):\n"
        "    def __init__(self, error_response, operation_name):\n"
        "        super().__init__(error_response['Error']['Code'])\n"
        "        self.response = error_response\n"
    ),
}

ENV_TEXT = (
    "# DRFC run settings\n"
    "\n"
    "DR_WORLD_NAME=reInvent2019_track      # Track to use\n"
    "#DR_TRAIN_RTF=1.0\n"
    "DR_DISPLAY_NAME=$DR_CAR_NAME\n"
    'DR_QUOTED="a#b"   # quoted\n'
    "export DR_EXPORTED=1\n"
    "DR_TWICE=first\n"
    "DR_TWICE=second\r\n"
    "not an assignment\n"
    "DR_LAST=no-newline"
)
ENV_UPDATE = {"DR_WORLD_NAME": "2022_april_open", "DR_TWICE": "third", "DR_NEW": "added"}

SPEC = RunSpec(
    run_id="run-38",
    segment=1,
    mode=Mode.TRAIN,
    bucket="pitwall-models",
    region="us-east-1",
    model_prefix="models/m/seg-001",
    run_settings={"DR_WORLD_NAME": "reInvent2019_track"},
    system_settings={"DR_WORKERS": "2", "DR_SIMAPP_VERSION": "5.3.3-gpu"},
    deadline_epoch=1_800_000_000.0,
    pretrained_prefix="models/m/seg-000",
)
STATUS = HostStatus(
    run_id="run-38",
    segment=1,
    instance_id="i-038",
    state=HostState.SAVED,
    sequence=7,
    at_epoch=1_790_000_123.5,
    detail="saved 3_Step-300.ckpt",
    checkpoint="3_Step-300.ckpt",
    extra={"within_warning": True},
)
REQUEST = ControlRequest(
    request_id="q-1", action=ControlAction.SAVE, instance_id="i-038", requested_at_epoch=1_790_000_100.0
)

# Runs under Python 3.8 with the archive and the stubs on its path; reads JSON on stdin,
# prints one JSON document of what it found.
PROBE = r"""
import importlib, json, sys, zipfile

archive, given = sys.argv[1], json.load(sys.stdin)
imported = []
for name in zipfile.ZipFile(archive).namelist():
    module = name[: -len(".py")].replace("/", ".")
    if module.endswith(".__init__"):
        module = module[: -len(".__init__")]
    importlib.import_module(module)
    imported.append(module)

from pitwall.clock import ManualClock
from pitwall.customfiles.envfile import EnvFile
from pitwall.host.agent import HostAgent
from pitwall.host.backend import WorkProgress, WorkState
from pitwall.host.drfc_settings import render_env, run_settings, system_settings
from pitwall.host.protocol import ControlRequest, HostState, HostStatus, Mode, RunSpec
from pitwall.layout import RunKeys, classify_heartbeat
from botocore.exceptions import ClientError

spec = RunSpec.from_json(given["spec"])
status = HostStatus.from_json(given["status"])
request = ControlRequest.from_json(given["request"])
env = EnvFile.parse(given["env_text"])
heartbeat = classify_heartbeat("models/m/seg-001/metrics/TrainingMetrics_1.json")


class MemoryS3:
    def __init__(self):
        self.objects = {}

    def get_object(self, Bucket, Key):
        if (Bucket, Key) not in self.objects:
            raise ClientError({"Error": {"Code": "NoSuchKey"}}, "GetObject")
        body = self.objects[(Bucket, Key)]
        return {"Body": type("Body", (), {"read": lambda self: body})()}

    def head_object(self, Bucket, Key):
        self.get_object(Bucket, Key)

    def put_object(self, Bucket, Key, Body, ContentType):
        self.objects[(Bucket, Key)] = Body


class TwoPollBackend:
    def __init__(self):
        self.calls, self.polls = [], 0

    def setup(self, spec):
        self.calls.append("setup " + str(spec.mode))

    def start(self, spec):
        self.calls.append(f"start {spec.mode}")

    def poll(self):
        self.polls += 1
        return WorkProgress(WorkState.DONE if self.polls == 2 else WorkState.RUNNING, "trained")

    def save_latest_checkpoint(self):
        return None

    def stop(self):
        self.calls.append("stop")

    def shutdown(self):
        self.calls.append("shutdown")


s3, backend, clock = MemoryS3(), TwoPollBackend(), ManualClock(1_790_000_000.0)
agent_spec = RunSpec.from_dict({**spec.__dict__, "deadline_epoch": clock.now() + 600})
s3.objects[(spec.bucket, RunKeys(spec.run_id).run_spec)] = agent_spec.to_json().encode()
agent = HostAgent(s3=s3, bucket=spec.bucket, run_id=spec.run_id, instance_id="i-038",
                  backend=backend, clock=clock)
final = agent.run()
last_status = HostStatus.from_json(s3.objects[(spec.bucket, RunKeys(spec.run_id).host_status)])

print(json.dumps({
    "python": list(sys.version_info[:2]),
    "imported": imported,
    "spec": spec.to_json(),
    "status": status.to_json(),
    "request": request.to_json(),
    "enums": [
        [type(x).__name__, str(x), f"{x}", "{:>9}".format(x), x == x.value, x is type(x)(x.value)]
        for x in (spec.mode, status.state, request.action)
    ],
    "env_render": env.render(),
    "env_values": env.as_dict(),
    "env_updated": render_env(given["env_text"], given["env_update"]),
    "run_settings": run_settings(spec),
    "system_settings": system_settings(spec),
    "heartbeat": [str(heartbeat.kind), heartbeat.prefix, heartbeat.worker],
    "agent": {"final": str(final), "calls": backend.calls, "last_status": last_status.to_json()},
}))
"""


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("python38")
    archive = folder / "pitwall-agent.zip"
    archive.write_bytes(build_agent_archive())
    stubs = folder / "stubs"
    for name, text in STUBS.items():
        (stubs / name).parent.mkdir(parents=True, exist_ok=True)
        (stubs / name).write_text(text)
    given = {
        "spec": SPEC.to_json(),
        "status": STATUS.to_json(),
        "request": REQUEST.to_json(),
        "env_text": ENV_TEXT,
        "env_update": ENV_UPDATE,
    }
    result = subprocess.run(
        [str(PYTHON_38), "-c", PROBE, str(archive)],
        input=json.dumps(given),
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": f"{archive}{os.pathsep}{stubs}", "PYTHONNOUSERSITE": "1"},
        cwd=folder,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_it_is_a_real_python_3_8_that_imports_every_module_of_the_archive(report):
    assert report["python"] == [3, 8]
    names = zipfile.ZipFile(io.BytesIO(build_agent_archive())).namelist()
    assert len(report["imported"]) == len(names)
    assert {"pitwall.host.__main__", "pitwall.host.agent", "pitwall.host.backends.drfc"} <= set(
        report["imported"]
    )


def test_the_protocol_round_trips_between_the_controller_and_python_3_8(report):
    # what 3.8 writes back is byte-for-byte what the controller wrote, and reads as the same object
    assert report["spec"] == SPEC.to_json()
    assert report["status"] == STATUS.to_json()
    assert report["request"] == REQUEST.to_json()
    assert RunSpec.from_json(report["spec"]) == SPEC
    assert HostStatus.from_json(report["status"]) == STATUS
    assert ControlRequest.from_json(report["request"]) == REQUEST


def test_enums_behave_on_python_3_8_as_they_do_here(report):
    here = [
        [type(x).__name__, str(x), f"{x}", f"{x:>9}", x == x.value, x is type(x)(x.value)]
        for x in (SPEC.mode, STATUS.state, REQUEST.action)
    ]
    assert report["enums"] == here
    assert here[0] == ["Mode", "train", "train", "    train", True, True]


def test_env_files_parse_and_render_the_same_on_python_3_8(report):
    assert report["env_render"] == ENV_TEXT
    assert report["env_values"] == EnvFile.parse(ENV_TEXT).as_dict()
    assert report["env_updated"] == render_env(ENV_TEXT, ENV_UPDATE)
    assert "DR_TWICE=third\r\n" in report["env_updated"]


def test_the_segment_settings_and_the_layout_agree_on_python_3_8(report):
    from pitwall.host.drfc_settings import run_settings, system_settings

    assert report["run_settings"] == run_settings(SPEC)
    assert report["system_settings"] == system_settings(SPEC)
    assert report["heartbeat"] == ["training_metrics", "models/m/seg-001", 1]


def test_the_agent_runs_a_segment_to_its_end_on_python_3_8(report):
    agent = report["agent"]
    assert agent["final"] == "finished"
    assert agent["calls"] == ["setup train", "start train", "shutdown"]
    last = HostStatus.from_json(agent["last_status"])
    assert (last.state, last.run_id, last.instance_id) == (HostState.FINISHED, "run-38", "i-038")
    assert last.sequence == 3  # booting, started, finished


def test_the_entry_point_answers_help_on_python_3_8(tmp_path):
    archive = tmp_path / "pitwall-agent.zip"
    archive.write_bytes(build_agent_archive())
    stubs = tmp_path / "stubs"
    for name, text in STUBS.items():
        (stubs / name).parent.mkdir(parents=True, exist_ok=True)
        (stubs / name).write_text(text)
    result = subprocess.run(
        [str(PYTHON_38), "-m", "pitwall.host", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": f"{archive}{os.pathsep}{stubs}"},
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "--run-id" in result.stdout


def test_ruff_checks_every_module_of_the_archive_as_python_3_8_code():
    # a `match` statement, 3.10 syntax, given to ruff under each module's own path
    ruff = Path(sys.executable).parent / "ruff"
    source = "def f(x: int) -> None:\n    match x:\n        case 1:\n            pass\n"
    not_checked_as_38 = []
    for name in AGENT_MODULES:
        result = subprocess.run(
            [str(ruff), "check", "--no-cache", "--stdin-filename", str(PACKAGE_ROOT.parent / name), "-"],
            input=source,
            capture_output=True,
            text=True,
            cwd=PACKAGE_ROOT.parents[2],
            timeout=60,
        )
        if "Cannot use `match` statement on Python 3.8" not in result.stdout:
            not_checked_as_38.append(name)
    assert not_checked_as_38 == [], "add them to [tool.ruff.per-file-target-version] in pyproject.toml"
