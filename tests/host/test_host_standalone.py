"""The host package runs on the instance's Python with the standard library and boto3 only,
and its archive holds exactly what `python -m pitwall.host` imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile

from pitwall.host.packaging import AGENT_MODULES, archive_key, build_agent_archive

# Runs in a fresh interpreter: blocks what the instance lacks, imports, reports what loaded.
PROBE = """
import importlib, importlib.abc, json, pkgutil, sys

ABSENT = {"pydantic", "pydantic_core", "aws_lambda_powertools", "numpy", "yaml"}

class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ABSENT:
            raise ImportError(f"{name} is not on the instance")
        return None

sys.meta_path.insert(0, Absent())
targets = sys.argv[1:]
if targets == ["every-host-module"]:
    import pitwall.host
    found = pkgutil.walk_packages(pitwall.host.__path__, "pitwall.host.")
    targets = ["pitwall.host"] + [module.name for module in found]
for name in targets:
    importlib.import_module(name)
import pitwall
print(json.dumps({
    "imported": targets,
    "pitwall_file": pitwall.__file__,
    "pitwall_modules": sorted(n for n in sys.modules if n == "pitwall" or n.startswith("pitwall.")),
    "third_party": sorted(
        {n.split(".")[0] for n in sys.modules if not n.startswith("__")}
        - set(sys.stdlib_module_names) - {"pitwall"}
    ),
}))
"""
BOTO3_AND_ITS_DEPENDENCIES = {
    "boto3",
    "botocore",
    "s3transfer",
    "jmespath",
    "dateutil",
    "urllib3",
    "six",
    "certifi",
}


def probe(*targets: str, pythonpath: str | None = None) -> dict:
    env = {**os.environ}
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *targets], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_every_host_module_imports_without_pydantic_or_powertools():
    report = probe("every-host-module")
    assert {"pitwall.host.agent", "pitwall.host.backends.drfc", "pitwall.host.userdata"} <= set(
        report["imported"]
    )
    assert set(report["third_party"]) <= BOTO3_AND_ITS_DEPENDENCIES, report["third_party"]
    allowed = {
        "pitwall",
        "pitwall.layout",
        "pitwall.clock",
        "pitwall.drfc_files",
        "pitwall.strenum",
        "pitwall.customfiles",
        "pitwall.customfiles.envfile",
    }
    assert all(name in allowed or name.startswith("pitwall.host") for name in report["pitwall_modules"])


def test_the_archive_holds_exactly_what_the_entry_point_imports(tmp_path):
    archive = build_agent_archive()
    path = tmp_path / "pitwall-agent.zip"
    path.write_bytes(archive)
    report = probe("pitwall.host.__main__", pythonpath=str(path))
    assert report["pitwall_file"] == f"{path}/pitwall/__init__.py"  # from the zip, not the checkout
    as_files = {
        name.replace(".", "/")
        + ("/__init__.py" if f"{name.replace('.', '/')}/__init__.py" in AGENT_MODULES else ".py")
        for name in report["pitwall_modules"]
    }
    assert as_files == set(AGENT_MODULES)
    assert set(report["third_party"]) <= BOTO3_AND_ITS_DEPENDENCIES
    assert sorted(zipfile.ZipFile(path).namelist()) == sorted(AGENT_MODULES)


def test_the_archive_is_the_same_bytes_every_time_and_named_by_its_digest():
    first, second = build_agent_archive(), build_agent_archive()
    assert first == second
    assert archive_key(first).startswith("agent/pitwall-agent-") and archive_key(first).endswith(".zip")
    assert archive_key(first) == archive_key(second)


def test_the_entry_point_runs_from_the_archive(tmp_path):
    path = tmp_path / "pitwall-agent.zip"
    path.write_bytes(build_agent_archive())
    result = subprocess.run(
        [sys.executable, "-m", "pitwall.host", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(path)},
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "--run-id" in result.stdout and "--bucket" in result.stdout
