"""The rendered user data, executed: bash runs it with fake `curl` (an IMDSv2 that wants its
token), `shutdown`, `systemctl`, `git`, `apt-get` and pip on PATH, the machine's paths moved
under a temporary folder, and S3 reads served from a folder. The image's `python3` is a real
interpreter (this venv's 3.12 with boto3, or a bare 3.8 like Ubuntu 20.04's), so the bootstrap's
own version and boto3 checks really run. What it did is then checked."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pitwall.host.userdata import (
    BAKED_IMAGE_MARKER,
    BOTO3_REQUIREMENTS,
    DEFAULT_DRFC_VERSION,
    DRFC_COMMITS,
    OLDER_PYTHON_BOTO3_VERSIONS,
    render_user_data,
)
from pitwall.layout import RunKeys, agent_archive_key

RUN_ID = "run-42"
BUCKET = "pitwall-models"
ARCHIVE_KEY = agent_archive_key("feedbeef00000000")
INSTANCE_ID = "i-0bootstrap000001"
PYTHON_38 = Path("/root/.pyenv/versions/3.8.18/bin/python")
needs_python_38 = pytest.mark.skipif(not PYTHON_38.exists(), reason=f"no Python 3.8 at {PYTHON_38}")

FAKES = {
    "curl": """#!/bin/bash
echo "curl $*" >> "$FAKE_STATE/calls"
[ -f "$FAKE_STATE/imds-down" ] && { echo "curl: (7) Failed to connect" >&2; exit 7; }
case "$*" in
  *"-X PUT"*"X-aws-ec2-metadata-token-ttl-seconds: 300"*/latest/api/token*) echo -n "token-123" ;;
  *"X-aws-ec2-metadata-token: token-123"*/latest/meta-data/instance-id*) echo -n "%(instance)s" ;;
  *) echo "401 Unauthorized" >&2; exit 22 ;;
esac
""",
    "shutdown": '#!/bin/bash\necho "shutdown $*" >> "$FAKE_STATE/calls"\n',
    "systemctl": """#!/bin/bash
echo "systemctl $*" >> "$FAKE_STATE/calls"
[ "$1" = is-system-running ] && echo "${FAKE_SYSTEM_STATE:-running}"
exit 0
""",
    # a clone makes DRFC's folder; rev-parse answers the commit in $FAKE_STATE/drfc-commit
    "git": """#!/bin/bash
if [ "$1" = -C ] && [ "$3" = rev-parse ]; then cat "$FAKE_STATE/drfc-commit"; exit 0; fi
echo "git $*" >> "$FAKE_STATE/calls"
target="${@: -1}"
mkdir -p "$target/bin" && touch "$target/bin/activate.sh"
""",
    # the image's python3: the interpreter named in $FAKE_STATE/python; pip is logged, not run
    "python3": """#!/bin/bash
if [ "$1" = -m ] && [ "$2" = pip ]; then
  [ -f "$FAKE_STATE/has-pip" ] || { echo "python3: No module named pip" >&2; exit 1; }
  [ "$3" = --version ] || echo "pip ${*:3}" >> "$FAKE_STATE/calls"
  exit 0
fi
[ "$1" = - ] && export PYTHONPATH="$FAKE_STUBS:${PYTHONPATH:-}"  # the script that reads S3
exec "$(cat "$FAKE_STATE/python")" "$@"
""",
    # apt-get install python3 gives the interpreter in $FAKE_APT_PYTHON (when set)
    "apt-get": """#!/bin/bash
echo "apt-get $*" >> "$FAKE_STATE/calls"
case " $* " in *" python3-pip "*) touch "$FAKE_STATE/has-pip" ;; esac
if [[ " $* " = *" python3 "* && -n "${FAKE_APT_PYTHON:-}" ]]; then
  echo "$FAKE_APT_PYTHON" >"$FAKE_STATE/python"
fi
exit 0
""",
    # an image's Python 3.6: fails every version check
    "python3.6": """#!/bin/bash
[ "$1" = -V ] && echo "Python 3.6.9"
exit 1
""",
}

BOTO3_STUB = '''"""boto3 as the bootstrap uses it, reading "S3" from a folder."""
import os
import shutil


class _S3:
    def download_file(self, bucket, key, filename):
        shutil.copyfile(os.path.join(os.environ["FAKE_S3_DIR"], bucket, key), filename)


class _Session:
    def client(self, service, region_name=None):
        assert service == "s3" and region_name
        return _S3()


class session:
    Session = _Session
'''


class Machine:
    def __init__(self, root: Path, python: Path = Path(sys.executable), has_pip: bool = True) -> None:
        self.root = root
        self.bin = root / "fake-bin"
        self.state = root / "state"
        self.stubs = root / "stubs"
        self.s3 = root / "s3"
        self.home = root / "opt" / "pitwall"
        self.units = root / "etc" / "systemd"
        self.logs = root / "log"
        self.drfc = root / "drfc"
        self.marker = root / "etc" / "pitwall" / "baked-image"
        for folder in (self.bin, self.state, self.stubs / "boto3", self.units, self.logs):
            folder.mkdir(parents=True)
        for name, text in FAKES.items():
            (self.bin / name).write_text(text % {"instance": INSTANCE_ID} if name == "curl" else text)
            (self.bin / name).chmod(0o755)
        (self.stubs / "boto3" / "__init__.py").write_text(BOTO3_STUB)
        (self.state / "python").write_text(str(python))
        if has_pip:
            (self.state / "has-pip").write_text("")
        (self.state / "drfc-commit").write_text(DRFC_COMMITS[DEFAULT_DRFC_VERSION] + "\n")
        for key, body in ((ARCHIVE_KEY, b"PK-agent"), (RunKeys(RUN_ID).run_spec, b'{"run_id": "run-42"}')):
            path = self.s3 / BUCKET / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(body)

    def script(self) -> str:
        text = render_user_data(
            run_id=RUN_ID,
            bucket=BUCKET,
            region="us-west-2",
            agent_archive_key=ARCHIVE_KEY,
            agent_archive_sha256=hashlib.sha256(b"PK-agent").hexdigest(),
            fallback_shutdown_minutes=90,
            drfc_dir=str(self.drfc),
        )
        return (
            text.replace("/etc/systemd/system/", f"{self.units}/")
            .replace("/var/log/", f"{self.logs}/")
            .replace("readonly PITWALL_HOME='/opt/pitwall'", f"readonly PITWALL_HOME='{self.home}'")
            .replace(
                f"readonly BAKED_IMAGE_MARKER='{BAKED_IMAGE_MARKER}'",
                f"readonly BAKED_IMAGE_MARKER='{self.marker}'",
            )
        )

    def env(self, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "PATH": f"{self.bin}:{os.environ['PATH']}",
            "FAKE_STATE": str(self.state),
            "FAKE_STUBS": str(self.stubs),
            "FAKE_S3_DIR": str(self.s3),
            **extra,
        }

    def run(self, path: Path, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(path)], env=self.env(**extra), capture_output=True, text=True, timeout=60
        )

    def calls(self) -> list[str]:
        path = self.state / "calls"
        return path.read_text().splitlines() if path.exists() else []


@pytest.fixture
def machine(tmp_path) -> Machine:
    return Machine(tmp_path)


def test_the_bootstrap_installs_and_starts_the_agent_service(machine):
    script = machine.root / "user-data.sh"
    script.write_text(machine.script())
    result = machine.run(script)
    assert result.returncode == 0, (machine.logs / "pitwall-bootstrap.log").read_text()
    calls = machine.calls()
    # the deadline power-off comes first, then IMDSv2 (token, then a GET that carries it)
    assert calls[0] == f"shutdown -h +90 pitwall: run {RUN_ID} reached its deadline"
    assert calls[1].startswith("curl -sSf -X PUT -H X-aws-ec2-metadata-token-ttl-seconds: 300")
    assert calls[2].startswith("curl -sSf -H X-aws-ec2-metadata-token: token-123")
    # the image's python3 is new enough and has a boto3 that knows IMDSv2: nothing is installed
    assert not any(call.startswith(("apt-get", "pip")) for call in calls)
    assert any(
        call.startswith(f"git clone --quiet --depth 1 --branch {DEFAULT_DRFC_VERSION}") for call in calls
    )
    assert calls[-3:] == [
        "systemctl daemon-reload",
        "systemctl enable pitwall-agent.service",
        "systemctl start --no-block pitwall-agent.service",
    ]
    # the agent archive and the run spec came from the run's bucket
    assert (machine.home / "pitwall-agent.zip").read_bytes() == b"PK-agent"
    assert (machine.home / "run-spec.json").read_bytes() == b'{"run_id": "run-42"}'
    # the service runs the agent from its archive with this run's arguments
    unit = (machine.units / "pitwall-agent.service").read_text().splitlines()
    assert f"Environment=PYTHONPATH={machine.home}/pitwall-agent.zip:{machine.home}/site" in unit
    assert (
        f"ExecStart={machine.bin}/python3 -m pitwall.host --run-id {RUN_ID} --bucket {BUCKET}"
        f"   --region us-west-2 --drfc-dir {machine.drfc} --instance-id {INSTANCE_ID}"
    ) in unit
    assert f"ExecStartPre={machine.home}/arm-deadline.sh" in unit
    assert f"ExecStopPost={machine.home}/after-agent.sh" in unit


def test_the_deadline_is_re_armed_at_each_agent_start_and_the_agent_end_powers_off(machine):
    script = machine.root / "user-data.sh"
    script.write_text(machine.script())
    assert machine.run(script).returncode == 0
    (machine.state / "calls").write_text("")
    assert machine.run(machine.home / "arm-deadline.sh").returncode == 0
    (rearm,) = machine.calls()
    assert rearm in ("shutdown -h +90", "shutdown -h +89")  # minutes left of the same deadline
    (machine.state / "calls").write_text("")
    assert machine.run(machine.home / "after-agent.sh").returncode == 0
    assert machine.calls() == ["systemctl is-system-running", "shutdown -h now"]
    # during the reboot that finishes DRFC's install, the agent's end must not power off
    (machine.state / "calls").write_text("")
    assert machine.run(machine.home / "after-agent.sh", FAKE_SYSTEM_STATE="stopping").returncode == 0
    assert machine.calls() == ["systemctl is-system-running"]


def test_a_failing_bootstrap_powers_off_at_once(machine):
    (machine.state / "imds-down").write_text("")
    script = machine.root / "user-data.sh"
    script.write_text(machine.script())
    result = machine.run(script)
    assert result.returncode != 0
    calls = machine.calls()
    assert calls[0].startswith("shutdown -h +90")
    assert calls[-1] == "shutdown -h now"
    assert "pitwall: bootstrap failed at line" in (machine.logs / "pitwall-bootstrap.log").read_text()
    assert not (machine.units / "pitwall-agent.service").exists()


def test_an_image_with_drfc_is_not_cloned_again(machine):
    (machine.drfc / "bin").mkdir(parents=True)
    (machine.drfc / "bin" / "activate.sh").write_text("")
    script = machine.root / "user-data.sh"
    script.write_text(machine.script())
    assert machine.run(script).returncode == 0
    assert not any(call.startswith("git ") for call in machine.calls())


def _bake(machine: Machine, drfc_version: str) -> None:
    """The image as Pitwall's Image Builder pipeline leaves it: DRFC installed, then the marker."""
    (machine.drfc / "bin").mkdir(parents=True)
    (machine.drfc / "bin" / "activate.sh").write_text("")
    (machine.drfc / "run.env").write_text("DR_WORLD_NAME=reInvent2019_track\n")
    machine.marker.parent.mkdir(parents=True)
    machine.marker.write_text(f"DRFC_VERSION={drfc_version}\n")


def test_a_baked_image_installs_nothing_and_starts_the_agent(machine):
    # Given an image baked with the pinned DRFC version
    _bake(machine, DEFAULT_DRFC_VERSION)
    script = machine.root / "user-data.sh"
    script.write_text(machine.script())
    # When the bootstrap runs
    result = machine.run(script)
    # Then it clones nothing, installs nothing, keeps the image's DRFC and starts the agent
    assert result.returncode == 0, (machine.logs / "pitwall-bootstrap.log").read_text()
    calls = machine.calls()
    assert not any(call.startswith(("git ", "apt-get", "pip")) for call in calls)
    assert (machine.drfc / "run.env").exists()
    log = (machine.logs / "pitwall-bootstrap.log").read_text()
    assert f"baked image with DRFC {DEFAULT_DRFC_VERSION}: nothing to install" in log
    assert calls[-1] == "systemctl start --no-block pitwall-agent.service"


def test_a_stock_image_clones_drfc_and_says_nothing_of_a_baked_image(machine):
    script = machine.root / "user-data.sh"
    script.write_text(machine.script())
    assert machine.run(script).returncode == 0
    assert any(
        call.startswith(f"git clone --quiet --depth 1 --branch {DEFAULT_DRFC_VERSION}")
        for call in machine.calls()
    )
    assert "baked" not in (machine.logs / "pitwall-bootstrap.log").read_text()


def test_an_image_baked_with_another_drfc_version_is_set_aside_and_installed_as_stock(machine):
    _bake(machine, "v5.3.3")
    script = machine.root / "user-data.sh"
    script.write_text(machine.script())
    result = machine.run(script)
    assert result.returncode == 0, (machine.logs / "pitwall-bootstrap.log").read_text()
    assert any(
        call.startswith(f"git clone --quiet --depth 1 --branch {DEFAULT_DRFC_VERSION}")
        for call in machine.calls()
    )
    assert not (machine.drfc / "run.env").exists()  # the fresh clone, not the old initialised one
    assert [
        p.name.startswith("drfc.baked-") for p in machine.root.iterdir() if p.name.startswith("drfc.")
    ] == [True]
    log = (machine.logs / "pitwall-bootstrap.log").read_text()
    assert f"image baked with DRFC_VERSION=v5.3.3, this run pins {DEFAULT_DRFC_VERSION}: installing" in log


@needs_python_38
def test_an_ubuntu_20_04_python_without_boto3_or_pip_gets_both(tmp_path):
    # Given the image's python3 is a bare 3.8 (no boto3, no pip)
    machine = Machine(tmp_path, python=PYTHON_38, has_pip=False)
    script = machine.root / "user-data.sh"
    script.write_text(machine.script())
    # When the bootstrap runs
    result = machine.run(script)
    # Then pip comes from apt, and boto3 at the last release for 3.8 goes beside the image's packages
    assert result.returncode == 0, (machine.logs / "pitwall-bootstrap.log").read_text()
    calls = machine.calls()
    assert "apt-get install -y -q python3-pip" in calls
    assert not any(call.startswith("apt-get install") and call.endswith(" python3") for call in calls)
    target, requirements = machine.home / "site", machine.home / "requirements.txt"
    pip = f"pip install -q --require-hashes --no-deps --only-binary=:all: --target {target} -r {requirements}"
    assert pip in calls
    assert requirements.read_text().splitlines() == list(BOTO3_REQUIREMENTS["3.8"])
    assert f"boto3=={OLDER_PYTHON_BOTO3_VERSIONS['3.8']} --hash=sha256:" in requirements.read_text()
    assert (machine.home / "pitwall-agent.zip").read_bytes() == b"PK-agent"  # read by that 3.8
    assert calls[-1] == "systemctl start --no-block pitwall-agent.service"


def test_an_image_python_older_than_3_8_is_replaced_from_apt(tmp_path):
    machine = Machine(tmp_path, python=tmp_path / "fake-bin" / "python3.6")
    script = machine.root / "user-data.sh"
    script.write_text(machine.script())
    result = machine.run(script, FAKE_APT_PYTHON=sys.executable)
    assert result.returncode == 0, (machine.logs / "pitwall-bootstrap.log").read_text()
    calls = machine.calls()
    assert calls.index("apt-get update -q") < calls.index("apt-get install -y -q python3")
    assert not any(call.startswith("pip") for call in calls)  # the new python3 has boto3
    assert calls[-1] == "systemctl start --no-block pitwall-agent.service"


def test_without_a_python_3_8_the_bootstrap_says_so_and_powers_off(tmp_path):
    machine = Machine(tmp_path, python=tmp_path / "fake-bin" / "python3.6")
    script = machine.root / "user-data.sh"
    script.write_text(machine.script())
    result = machine.run(script)  # apt-get brings nothing newer
    assert result.returncode != 0
    assert machine.calls()[-1] == "shutdown -h now"
    log = (machine.logs / "pitwall-bootstrap.log").read_text()
    assert "the host agent needs Python >= 3.8; python3 is Python 3.6.9" in log
    assert not (machine.units / "pitwall-agent.service").exists()


def test_an_agent_archive_that_is_not_the_launched_one_stops_the_boot(machine):
    # Given the bucket holds another archive under the key (someone overwrote it)
    (machine.s3 / BUCKET / ARCHIVE_KEY).write_bytes(b"PK-something-else")
    script = machine.root / "user-data.sh"
    script.write_text(machine.script())
    result = machine.run(script)
    # Then the bootstrap fails before the agent is installed, and the instance powers off
    assert result.returncode != 0
    log = (machine.logs / "pitwall-bootstrap.log").read_text()
    assert "agent archive sha256" in log
    assert "shutdown -h now" in machine.calls()
    assert not any(call.startswith("systemctl start") for call in machine.calls())


def test_a_drfc_tag_that_moved_to_another_commit_stops_the_boot(machine):
    (machine.state / "drfc-commit").write_text("0" * 40 + "\n")
    script = machine.root / "user-data.sh"
    script.write_text(machine.script())
    result = machine.run(script)
    assert result.returncode != 0
    assert (
        f"expected {DRFC_COMMITS[DEFAULT_DRFC_VERSION]}"
        in (machine.logs / "pitwall-bootstrap.log").read_text()
    )
    assert not machine.drfc.exists()  # the wrong clone is gone
    assert "shutdown -h now" in machine.calls()
