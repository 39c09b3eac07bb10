"""A fake DeepRacer-for-Cloud for the real backend's tests: a DRFC folder whose bin/activate.sh
defines the dr-* commands, bin/prepare.sh and bin/init.sh, and fake `docker` and `shutdown`
commands on PATH. Every call is recorded; containers live in a state file the test edits."""

from __future__ import annotations

import os
from pathlib import Path

ROBOMAKER = "deepracer-0_robomaker.1.k2v9"
TRAINER = "tmp8f3a_algo-1-x7q2"

_RECORD = 'echo "$*" >> "$FAKE_DRFC_STATE/calls"'
_FAIL = (
    'if [ -f "$FAKE_DRFC_STATE/fail-$1" ]; then cat "$FAKE_DRFC_STATE/fail-$1"; '
    'return "$(cat "$FAKE_DRFC_STATE/fail-$1.code")"; fi'
)

ACTIVATE = f"""# fake DRFC bin/activate.sh: the dr-* commands the host agent uses
_fake_call() {{
  {_RECORD}
  {_FAIL}
}}
_up() {{
  [ -f "$FAKE_DRFC_STATE/no-containers" ] && return 0
  printf '%s\\tUp 2 seconds\\n' "$@" > "$FAKE_DRFC_STATE/containers"
}}
dr-start-training() {{ _fake_call dr-start-training "$@" || return $?; _up {ROBOMAKER} {TRAINER}; }}
dr-stop-training() {{ _fake_call dr-stop-training "$@" || return $?; : > "$FAKE_DRFC_STATE/containers"; }}
dr-start-evaluation() {{ _fake_call dr-start-evaluation "$@" || return $?; _up {ROBOMAKER}; }}
dr-stop-evaluation() {{ _fake_call dr-stop-evaluation "$@" || return $?; : > "$FAKE_DRFC_STATE/containers"; }}
dr-upload-custom-files() {{ _fake_call dr-upload-custom-files "$@"; }}
"""

INIT = f"""#!/bin/bash
{_RECORD.replace('"$*"', '"bin/init.sh $*"')}
printf '# run.env from DRFC defaults\\nDR_RUN_ID=0\\nDR_WORLD_NAME=reInvent2019_track\\n' > run.env
printf 'DR_CLOUD=local\\nDR_WORKERS=1\\nDR_DOCKER_STYLE=swarm\\n' > system.env
"""

PREPARE = f"""#!/bin/bash
{_RECORD.replace('"$*"', '"bin/prepare.sh $*"')}
"""

DOCKER = """#!/bin/bash
case "$1" in
  ps) cat "$FAKE_DRFC_STATE/containers" 2>/dev/null; exit 0 ;;
esac
echo "docker $*" >> "$FAKE_DRFC_STATE/calls"
if [ "$1" = pull ] && [ -f "$FAKE_DRFC_STATE/fail-docker-pull" ]; then
  echo "Error response from daemon: manifest for $3 not found: manifest unknown"
  exit 1
fi
echo "sha256:0f3e"
"""

SHUTDOWN = """#!/bin/bash
echo "shutdown $*" >> "$FAKE_DRFC_STATE/calls"
"""


class FakeDrfc:
    def __init__(self, root: Path, *, installed: bool = True, initialised: bool = True) -> None:
        self.drfc_dir = root / "deepracer-for-cloud"
        self.path_dir = root / "fake-bin"
        self.state_dir = root / "state"
        for folder in (self.path_dir, self.state_dir):
            folder.mkdir(parents=True)
        if installed:
            (self.drfc_dir / "bin").mkdir(parents=True)
            (self.drfc_dir / "bin" / "activate.sh").write_text(ACTIVATE)
            _script(self.drfc_dir / "bin" / "init.sh", INIT)
            _script(self.drfc_dir / "bin" / "prepare.sh", PREPARE)
            if initialised:
                (self.drfc_dir / "run.env").write_text("DR_RUN_ID=0\nDR_WORLD_NAME=reInvent2019_track\n")
                (self.drfc_dir / "system.env").write_text("DR_CLOUD=aws\nDR_WORKERS=1\n")
        _script(self.path_dir / "docker", DOCKER)
        _script(self.path_dir / "shutdown", SHUTDOWN)

    @property
    def env(self) -> dict[str, str]:
        return {"FAKE_DRFC_STATE": str(self.state_dir), "PATH": f"{self.path_dir}:{os.environ['PATH']}"}

    def calls(self) -> list[str]:
        path = self.state_dir / "calls"
        return path.read_text().splitlines() if path.exists() else []

    def containers(self) -> str:
        path = self.state_dir / "containers"
        return path.read_text() if path.exists() else ""

    def end_container(self, name: str, exit_code: int) -> None:
        lines = []
        for line in self.containers().splitlines():
            if line.startswith(name + "\t"):
                line = f"{name}\tExited ({exit_code}) 1 second ago"
            lines.append(line)
        (self.state_dir / "containers").write_text("".join(f"{line}\n" for line in lines))

    def fail(self, command: str, exit_code: int, output: str) -> None:
        (self.state_dir / f"fail-{command}").write_text(output)
        (self.state_dir / f"fail-{command}.code").write_text(str(exit_code))

    def keep_containers_down(self) -> None:
        """dr-start-* succeed, but no container ever comes up."""
        (self.state_dir / "no-containers").write_text("")

    def fail_docker_pull(self) -> None:
        (self.state_dir / "fail-docker-pull").write_text("")


def _script(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)
