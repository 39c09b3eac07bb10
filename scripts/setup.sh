#!/usr/bin/env bash
# Everything a fresh machine needs, from the registries only: the project venv (Python 3.12, the
# Lambda runtime), a separate tool venv for aws-sam-cli (it pins its own boto3 and pydantic), and
# the npm tools (asl-validator). Idempotent; `make` calls it when its inputs change.
set -euo pipefail
py_version="${1:-3.12.1}"
cd "$(dirname "$0")/.."

python_for() {  # the interpreter of a pyenv version, or pythonX.Y on PATH
  local version="$1" short="${1%.*}"
  if command -v pyenv >/dev/null && pyenv prefix "$version" >/dev/null 2>&1; then
    echo "$(pyenv prefix "$version")/bin/python${short}"
  elif command -v "python${short}" >/dev/null; then
    command -v "python${short}"
  else
    echo "Python ${short} not found: install it (pyenv install ${version})" >&2
    exit 1
  fi
}

python="$(python_for "$py_version")"
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/pip install --quiet --upgrade pip
.venv/bin/pip install --quiet -e ".[dev]"

[ -x .tools/sam/bin/sam ] || "$python" -m venv .tools/sam
.tools/sam/bin/pip install --quiet --upgrade pip
.tools/sam/bin/pip install --quiet "aws-sam-cli==1.170.0"

# The security scanners of `make static` in a venv of their own (checkov pins many packages):
# checkov (the expanded template), parliament (every IAM policy; it needs pkg_resources), bandit.
[ -x .tools/security/bin/python ] || "$python" -m venv .tools/security
.tools/security/bin/pip install --quiet --upgrade pip
.tools/security/bin/pip install --quiet "checkov==3.3.30" "parliament==1.6.4" "bandit==1.9.4" \
  "setuptools==75.8.0"

# The simulator's Python 3.8 (simapp 5.x) with the libraries a reward function may import, so the
# validator also runs reward functions under a real 3.8. Skipped where no 3.8 is installed.
if python38="$(python_for 3.8.18 2>/dev/null)" && [ -x "$python38" ]; then
  [ -x .tools/py38/bin/python ] || "$python38" -m venv .tools/py38
  .tools/py38/bin/pip install --quiet "numpy==1.24.4" "scipy==1.10.1" "shapely==2.0.6"
fi

npm ci --silent --no-audit --no-fund

# Debian's headless Chromium, which opens `pitwall report`'s page in the tests (they skip, saying
# why, without it): installed when missing and apt-get works (as root, or sudo without a password);
# otherwise said, with the reason. The names are those pitwall_local.browser looks for.
if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null \
  && ! command -v google-chrome >/dev/null; then
  apt_get=()
  why=""
  if ! command -v apt-get >/dev/null; then
    why="no apt-get"
  elif [ "$(id -u)" = 0 ]; then
    apt_get=(env DEBIAN_FRONTEND=noninteractive apt-get)
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    apt_get=(sudo -n env DEBIAN_FRONTEND=noninteractive apt-get)
  else
    why="neither root nor sudo without a password"
  fi
  if [ ${#apt_get[@]} -gt 0 ]; then
    "${apt_get[@]}" install -y -q --no-install-recommends chromium >/dev/null 2>&1 \
      || { "${apt_get[@]}" update -q >/dev/null 2>&1 \
        && "${apt_get[@]}" install -y -q --no-install-recommends chromium >/dev/null 2>&1; } \
      || why="apt-get install chromium failed"
  fi
  if [ -n "$why" ]; then
    echo "setup: chromium could not be installed ($why); the report's browser tests will be skipped" >&2
  fi
fi
