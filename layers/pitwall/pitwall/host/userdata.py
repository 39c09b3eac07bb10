"""The user data of a run's instance: a bash script, rendered per segment by the controller.

It holds no secret (the instance profile grants exactly what the run needs, see `host.iam`)
and talks to the metadata service with IMDSv2 tokens only. In order, it:
1. schedules a power-off at the run's deadline (`shutdown -h +N`), so the instance never
   outlives its run whatever happens next, and powers off at once if the bootstrap fails;
2. uses the image's python3 when it is >= 3.8 (DRFC's Ubuntu 20.04 / 22.04 images have 3.8 /
   3.10; the agent runs on 3.8+) and its boto3 when that knows IMDSv2; only what is missing is
   installed: python3 with apt, boto3 with pip into PITWALL_HOME/site at a pinned version;
3. fetches the host agent archive and the run spec from the run's bucket;
4. on a baked image (Pitwall's Image Builder pipeline: the marker file `BAKED_IMAGE_MARKER`
   names the DRFC version it holds, initialised, with the simapp images pulled) installs
   nothing more; otherwise clones DeepRacer-for-Cloud at a pinned version (the agent then runs
   bin/prepare.sh and bin/init.sh; the simapp image version is pinned in the spec's system
   settings); a baked image of another DRFC version is set aside and installed as a stock one;
5. installs and starts the agent (`python3 -m pitwall.host ...`) as a systemd service, so it
   comes back after the reboot DRFC's install needs; each start re-arms the deadline's
   power-off, and the instance powers off when the agent ends.
"""

from __future__ import annotations

import re

from pitwall.layout import RunKeys

DRFC_REPOSITORY = "https://github.com/aws-deepracer-community/deepracer-for-cloud.git"
DEFAULT_DRFC_VERSION = "v6.0.4"  # a DRFC release tag (simapp 6.0.4); every instance runs the same scripts
# The commit that tag named when it was pinned: a tag can move, the clone is checked against this.
DRFC_COMMITS = {"v6.0.4": "8af6820f564d18586c88273fd62584d42d97f888"}
DEFAULT_DRFC_DIR = "/home/ubuntu/deepracer-for-cloud"
INSTANCE_BOTO3_VERSION = "1.44.5"  # the boto3 pin of pyproject.toml (a test keeps them equal)
# boto3 1.44 needs Python >= 3.10: an instance Python below that gets the last boto3 for it
OLDER_PYTHON_BOTO3_VERSIONS = {"3.8": "1.37.38", "3.9": "1.42.97"}
# What pip installs on an instance, every wheel pinned by its sha256 (`pip install
# --require-hashes --no-deps`): boto3 and its whole dependency tree, per instance Python.
_DATEUTIL_SHA256 = "a8b2bc7bffae282281c8140a97d3aa9c14da0b136dfe83f850eea9a5f7470427"
BOTO3_REQUIREMENTS = {
    "3.8": (
        "boto3==1.37.38 --hash=sha256:b6d42803607148804dff82389757827a24ce9271f0583748853934c86310999f",
        "botocore==1.37.38 --hash=sha256:23b4097780e156a4dcaadfc1ed156ce25cb95b6087d010c4bb7f7f5d9bc9d219",
        "jmespath==1.0.1 --hash=sha256:02e2e4cc71b5bcab88332eebf907519190dd9e6e82107fa7f83b1003a6252980",
        "python-dateutil==2.9.0.post0 --hash=sha256:" + _DATEUTIL_SHA256,
        "s3transfer==0.11.5 --hash=sha256:757af0f2ac150d3c75bc4177a32355c3862a98d20447b69a0161812992fe0bd4",
        "six==1.17.0 --hash=sha256:4721f391ed90541fddacab5acf947aa0d3dc7d27b2e1e8eda2be8970586c3274",
        "urllib3==2.2.3 --hash=sha256:ca899ca043dcb1bafa3e262d73aa25c465bfb49e0bd9dd5d59f1d0acba2f8fac",
    ),
    "3.9": (
        "boto3==1.42.97 --hash=sha256:966e49f0510af9a64057a902b7df53d4348c447de0d3df4cc855dfd85e058fcd",
        "botocore==1.42.97 --hash=sha256:77d2c8ce1bc592d3fbd7c01c35836f4a5b0cac2ca03ccdf6ffc60faa16b5fadc",
        "jmespath==1.1.0 --hash=sha256:a5663118de4908c91729bea0acadca56526eb2698e83de10cd116ae0f4e97c64",
        "python-dateutil==2.9.0.post0 --hash=sha256:" + _DATEUTIL_SHA256,
        "s3transfer==0.16.1 --hash=sha256:61bcd00ccb83b21a0fe7e91a553fff9729d46c83b4e0106e7c314a733891f7c2",
        "six==1.17.0 --hash=sha256:4721f391ed90541fddacab5acf947aa0d3dc7d27b2e1e8eda2be8970586c3274",
        "urllib3==2.6.3 --hash=sha256:bf272323e553dfb2e87d9bfd225ca7b0f467b919d7bbd355436d3fd37cb0acd4",
    ),
    "*": (
        "boto3==1.44.5 --hash=sha256:70c3e0409794b29ec1900bcaff0695b73234a2d32ffaed35045b94caa26212a5",
        "botocore==1.44.8 --hash=sha256:76342a76c338701db80dcb8afe1c9bd079283d6fffbb9d881442abb02a215043",
        "jmespath==1.1.0 --hash=sha256:a5663118de4908c91729bea0acadca56526eb2698e83de10cd116ae0f4e97c64",
        "python-dateutil==2.9.0.post0 --hash=sha256:" + _DATEUTIL_SHA256,
        "s3transfer==0.19.3 --hash=sha256:24eb7535804306355e31c952a90022bf5b2f9d760f9a11062c7493a217c08553",
        "six==1.17.0 --hash=sha256:4721f391ed90541fddacab5acf947aa0d3dc7d27b2e1e8eda2be8970586c3274",
        "urllib3==2.8.0 --hash=sha256:0cf3cae568d36aa9576b28dfb35f11328f1cb974ca7647d9475ebb86c75ac6e3",
    ),
}
MIN_PYTHON = (3, 8)
MIN_IMAGE_BOTOCORE = (1, 13, 25)  # the first botocore that gets the instance role's keys with IMDSv2
PITWALL_HOME = "/opt/pitwall"
BOOTSTRAP_LOG = "/var/log/pitwall-bootstrap.log"
AGENT_LOG = "/var/log/pitwall-agent.log"
MAX_FALLBACK_MINUTES = 7 * 24 * 60
# Written last by the image's build (template.yaml, HostImageComponent): "DRFC_VERSION=<tag>"
BAKED_IMAGE_MARKER = "/etc/pitwall/baked-image"

_RULES = {
    "run_id": (re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"), "letters, digits, '.', '_', '-'"),
    "bucket": (re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"), "an S3 bucket name"),
    "region": (re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$"), "an AWS region such as us-east-1"),
    "agent_archive_key": (
        re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$"),
        "an S3 key of letters, digits, . _ - /",
    ),
    "drfc_version": (re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$"), "a git tag or branch such as v5.3.3"),
    "drfc_dir": (re.compile(r"^/[A-Za-z0-9._/-]+$"), "an absolute path of letters, digits, . _ - /"),
    "drfc_commit": (re.compile(r"^[0-9a-f]{40}$"), "a full git commit id (40 hex digits)"),
    "agent_archive_sha256": (re.compile(r"^[0-9a-f]{64}$"), "a sha256 digest (64 hex digits)"),
}

_TEMPLATE = r"""#!/bin/bash
# Pitwall host bootstrap for run __RUN_ID__. Rendered per run by the controller; it holds no
# secret (the instance profile grants what the run needs). IMDSv2 only.
set -Eeuo pipefail
exec >>__BOOTSTRAP_LOG__ 2>&1

readonly RUN_ID='__RUN_ID__'
readonly BUCKET='__BUCKET__'
readonly REGION='__REGION__'
readonly AGENT_ARCHIVE_KEY='__AGENT_ARCHIVE_KEY__'
readonly RUN_SPEC_KEY='__RUN_SPEC_KEY__'
readonly DRFC_DIR='__DRFC_DIR__'
readonly DRFC_REPOSITORY='__DRFC_REPOSITORY__'
readonly DRFC_VERSION='__DRFC_VERSION__'
readonly DRFC_COMMIT='__DRFC_COMMIT__'
readonly AGENT_ARCHIVE_SHA256='__AGENT_ARCHIVE_SHA256__'
readonly PITWALL_HOME='__PITWALL_HOME__'
readonly FALLBACK_MINUTES='__FALLBACK_MINUTES__'
readonly BAKED_IMAGE_MARKER='__BAKED_IMAGE_MARKER__'
readonly IMDS='http://169.254.169.254'

# 1. The instance never outlives its run: power off at the run's deadline, whatever happens
#    below (it is launched to terminate on shutdown), and at once if this script fails.
DEADLINE_EPOCH="$(( $(date +%s) + FALLBACK_MINUTES * 60 ))"
shutdown -h "+${FALLBACK_MINUTES}" "pitwall: run ${RUN_ID} reached its deadline"
trap 'echo "pitwall: bootstrap failed at line ${LINENO}"; shutdown -h now' ERR

imds_get() {
  local token
  token="$(curl -sSf -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' "${IMDS}/latest/api/token")"
  curl -sSf -H "X-aws-ec2-metadata-token: ${token}" "${IMDS}/latest/meta-data/$1"
}
INSTANCE_ID="$(imds_get instance-id)"
echo "pitwall: run ${RUN_ID} on ${INSTANCE_ID}, $(date -u +%FT%TZ)"

# 2. The image's python3 when it is new enough, with its boto3 when that knows IMDSv2. Only
#    what is missing is installed: python3 with apt, boto3 with pip into PITWALL_HOME/site.
python_is_new_enough() {
  command -v python3 >/dev/null && python3 -c 'import sys; sys.exit(sys.version_info < __MIN_PYTHON__)'
}
if ! python_is_new_enough; then
  apt-get update -q
  apt-get install -y -q python3
fi
if ! python_is_new_enough; then
  echo "pitwall: the host agent needs Python >= __MIN_PYTHON_TEXT__; python3 is $(python3 -V 2>&1 || true)"
  false
fi
PYTHON="$(command -v python3)"
mkdir -p "${PITWALL_HOME}/site"
export PYTHONPATH="${PITWALL_HOME}/site"
if ! "${PYTHON}" -c 'import sys, boto3, botocore
sys.exit(tuple(map(int, botocore.__version__.split(".")[:3])) < __MIN_IMAGE_BOTOCORE__)' 2>/dev/null; then
  if ! "${PYTHON}" -m pip --version >/dev/null 2>&1; then
    apt-get update -q
    apt-get install -y -q python3-pip
  fi
  case "$("${PYTHON}" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" in
__BOTO3_VERSION_CASES__
  esac
  printf '%s\n' "${REQUIREMENTS}" >"${PITWALL_HOME}/requirements.txt"
  # --target: beside the image's packages, never over them (and allowed where PEP 668 applies);
  # every wheel checked against its pinned digest, nothing resolved beyond the list
  "${PYTHON}" -m pip install -q --require-hashes --no-deps --only-binary=:all: \
    --target "${PITWALL_HOME}/site" -r "${PITWALL_HOME}/requirements.txt"
fi

# 3. The host agent and the run spec, read with the instance role's credentials.
#    The archive must be the one the controller launched this instance with: its digest is in
#    this script (the run spec carries it too), whatever the bucket holds now.
export BUCKET REGION AGENT_ARCHIVE_KEY RUN_SPEC_KEY PITWALL_HOME AGENT_ARCHIVE_SHA256
"${PYTHON}" - <<'PYTHON'
import hashlib
import os
import sys

import boto3

s3 = boto3.session.Session().client("s3", region_name=os.environ["REGION"])
home = os.environ["PITWALL_HOME"]
s3.download_file(os.environ["BUCKET"], os.environ["AGENT_ARCHIVE_KEY"], f"{home}/pitwall-agent.zip")
s3.download_file(os.environ["BUCKET"], os.environ["RUN_SPEC_KEY"], f"{home}/run-spec.json")
with open(f"{home}/pitwall-agent.zip", "rb") as archive:
    digest = hashlib.sha256(archive.read()).hexdigest()
if digest != os.environ["AGENT_ARCHIVE_SHA256"]:
    sys.exit(f"pitwall: agent archive sha256 {digest}, expected {os.environ['AGENT_ARCHIVE_SHA256']}")
PYTHON

# 4. A baked image holds DRFC at the pinned version, installed and with its images: nothing to
#    do. Otherwise DeepRacer-for-Cloud at its pinned version, unless the image already has it;
#    a baked image of another version is set aside (the agent then installs as on a stock one).
#    A tag can be moved: a clone must be the commit it named when it was pinned.
if [ -f "${BAKED_IMAGE_MARKER}" ] && grep -qx "DRFC_VERSION=${DRFC_VERSION}" "${BAKED_IMAGE_MARKER}" \
  && [ -f "${DRFC_DIR}/bin/activate.sh" ]; then
  echo "pitwall: baked image with DRFC ${DRFC_VERSION}: nothing to install"
else
  if [ -f "${BAKED_IMAGE_MARKER}" ]; then
    echo "pitwall: image baked with $(cat "${BAKED_IMAGE_MARKER}"), this run pins ${DRFC_VERSION}: installing"
    if [ -d "${DRFC_DIR}" ]; then mv "${DRFC_DIR}" "${DRFC_DIR}.baked-$(date +%s)"; fi
  fi
  if [ ! -f "${DRFC_DIR}/bin/activate.sh" ]; then
    git clone --quiet --depth 1 --branch "${DRFC_VERSION}" "${DRFC_REPOSITORY}" "${DRFC_DIR}"
    cloned="$(git -C "${DRFC_DIR}" rev-parse HEAD)"
    if [ "${cloned}" != "${DRFC_COMMIT}" ]; then
      echo "pitwall: DRFC ${DRFC_VERSION} is commit ${cloned}, expected ${DRFC_COMMIT}"
      rm -rf "${DRFC_DIR}"
      false
    fi
  fi
fi

# 5. The agent runs as a service: it starts again after the reboot that DRFC's install needs.
#    Each start re-arms the deadline's power-off (a reboot cancels it); when the agent ends,
#    the instance powers off, unless it is already going down.
cat >"${PITWALL_HOME}/arm-deadline.sh" <<ARM
#!/bin/bash
left=\$(( (${DEADLINE_EPOCH} - \$(date +%s) + 59) / 60 ))
if [ "\${left}" -lt 1 ]; then shutdown -h now; else shutdown -h "+\${left}"; fi
ARM
cat >"${PITWALL_HOME}/after-agent.sh" <<'AFTER'
#!/bin/bash
if [ "$(systemctl is-system-running || true)" != stopping ]; then shutdown -h now; fi
AFTER
chmod 0755 "${PITWALL_HOME}/arm-deadline.sh" "${PITWALL_HOME}/after-agent.sh"
cat >/etc/systemd/system/pitwall-agent.service <<UNIT
[Unit]
Description=Pitwall host agent of run ${RUN_ID}
After=network-online.target docker.service
Wants=network-online.target

[Service]
Type=simple
Environment=PYTHONPATH=${PITWALL_HOME}/pitwall-agent.zip:${PITWALL_HOME}/site
ExecStartPre=${PITWALL_HOME}/arm-deadline.sh
ExecStart=${PYTHON} -m pitwall.host --run-id ${RUN_ID} --bucket ${BUCKET} \
  --region ${REGION} --drfc-dir ${DRFC_DIR} --instance-id ${INSTANCE_ID}
ExecStopPost=${PITWALL_HOME}/after-agent.sh
StandardOutput=append:__AGENT_LOG__
StandardError=append:__AGENT_LOG__
TimeoutStopSec=100

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable pitwall-agent.service
trap - ERR
systemctl start --no-block pitwall-agent.service
echo "pitwall: agent service started, $(date -u +%FT%TZ)"
"""


def render_user_data(
    *,
    run_id: str,
    bucket: str,
    region: str,
    agent_archive_key: str,
    agent_archive_sha256: str,
    fallback_shutdown_minutes: int,
    drfc_version: str = DEFAULT_DRFC_VERSION,
    drfc_dir: str = DEFAULT_DRFC_DIR,
) -> str:
    """The user data script of one segment's instance. `fallback_shutdown_minutes`: minutes
    from boot until the instance powers itself off regardless (the run's remaining budget)."""
    values = {
        "run_id": run_id,
        "bucket": bucket,
        "region": region,
        "agent_archive_key": agent_archive_key,
        "drfc_version": drfc_version,
        "drfc_dir": drfc_dir,
        "drfc_commit": DRFC_COMMITS.get(drfc_version, ""),
        "agent_archive_sha256": agent_archive_sha256,
    }
    for name, value in values.items():
        pattern, allowed = _RULES[name]
        if not isinstance(value, str) or not pattern.match(value):
            raise ValueError(f"render_user_data: {name} {value!r} is not allowed; allowed: {allowed}")
    if (
        not isinstance(fallback_shutdown_minutes, int)
        or not 1 <= fallback_shutdown_minutes <= MAX_FALLBACK_MINUTES
    ):
        raise ValueError(
            f"render_user_data: fallback_shutdown_minutes {fallback_shutdown_minutes!r} is not allowed; "
            f"allowed: an integer from 1 to {MAX_FALLBACK_MINUTES}"
        )
    replacements = {
        "__RUN_ID__": run_id,
        "__BUCKET__": bucket,
        "__REGION__": region,
        "__AGENT_ARCHIVE_KEY__": agent_archive_key,
        "__RUN_SPEC_KEY__": RunKeys(run_id).run_spec,
        "__DRFC_DIR__": drfc_dir,
        "__DRFC_REPOSITORY__": DRFC_REPOSITORY,
        "__DRFC_VERSION__": drfc_version,
        "__DRFC_COMMIT__": values["drfc_commit"],
        "__AGENT_ARCHIVE_SHA256__": agent_archive_sha256,
        "__MIN_PYTHON__": repr(MIN_PYTHON),
        "__MIN_PYTHON_TEXT__": ".".join(map(str, MIN_PYTHON)),
        "__MIN_IMAGE_BOTOCORE__": repr(MIN_IMAGE_BOTOCORE),
        "__BOTO3_VERSION_CASES__": _boto3_version_cases(),
        "__PITWALL_HOME__": PITWALL_HOME,
        "__FALLBACK_MINUTES__": str(fallback_shutdown_minutes),
        "__BAKED_IMAGE_MARKER__": BAKED_IMAGE_MARKER,
        "__BOOTSTRAP_LOG__": BOOTSTRAP_LOG,
        "__AGENT_LOG__": AGENT_LOG,
    }
    script = _TEMPLATE
    for placeholder, value in replacements.items():
        script = script.replace(placeholder, value)
    return script


def _boto3_version_cases() -> str:
    """The arms of the bootstrap's `case` on the instance's Python version: the hashed
    requirements of the boto3 for it."""
    arms = []
    for python, lines in BOTO3_REQUIREMENTS.items():
        requirements = "\n".join(lines)
        arms.append(f"    {python}) REQUIREMENTS='{requirements}' ;;")
    return "\n".join(arms)
