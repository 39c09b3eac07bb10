"""The real backend: DeepRacer-for-Cloud on the instance, driven through its own commands.

- setup: DRFC must be in `drfc_dir` (the user data clones it at a pinned version). When it is
  not yet initialised there: `bin/prepare.sh` (drivers, docker), which needs a reboot; the
  agent runs as a systemd service, so it starts again after the reboot and goes on with
  `bin/init.sh -c aws -a gpu|cpu`. Then
  run.env / system.env get the segment's settings (other lines kept), the pinned simapp image
  (DR_SIMAPP_SOURCE:DR_SIMAPP_VERSION) is pulled, and the custom files are fetched into
  custom_files/ (and `dr-upload-custom-files` copies them to DR_LOCAL_S3_CUSTOM_FILES_PREFIX
  when that is not where the controller left them).
- start: `dr-start-training -w -q` (an increment is training with the pretrained settings in
  run.env) or `dr-start-evaluation -q`, each after `source bin/activate.sh`.
- poll: `docker ps -a`: a DRFC container that was up and is not any more is a dead container,
  reported at once. Training is done when the trainer wrote model/.finished; an evaluation when
  its simulator has exited after writing its metrics.
- save: DRFC's trainer uploads every checkpoint itself; saving waits for an upload under way
  (model/.lock) to finish, then names the last checkpoint of deepracer_checkpoints.json.
- stop: `dr-stop-training` / `dr-stop-evaluation`; shutdown: `shutdown -h now`.

A command that fails raises `DrfcCommandFailed` naming the command, its exit code and the
last lines it printed.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pitwall.clock import Clock
from pitwall.host import drfc_settings, s3objects
from pitwall.host.backend import WorkProgress, WorkState
from pitwall.host.errors import DrfcCommandFailed, DrfcMissing, HostError
from pitwall.host.protocol import Mode, RunSpec
from pitwall.layout import ModelKeys

DEFAULT_DRFC_DIR = Path("/home/ubuntu/deepracer-for-cloud")
DEFAULT_SIMAPP_SOURCE = "awsdeepracercommunity/deepracer-simapp"
OUTPUT_TAIL_LINES = 20
PREPARED_MARKER = ".pitwall-prepared"  # bin/prepare.sh has run on this instance


@dataclass(frozen=True)
class Container:
    name: str
    status: str  # as `docker ps` prints it: "Up 5 minutes", "Exited (137) 3 seconds ago"

    @property
    def running(self) -> bool:
        return self.status.startswith("Up")

    @property
    def role(self) -> str | None:
        """Which DRFC part this container is: the simulator, the trainer, or none of them."""
        if "robomaker" in self.name:
            return "simulator"
        if "algo-1" in self.name or "sagemaker" in self.name:
            return "trainer"
        return None


class RealDrfc:
    def __init__(
        self,
        *,
        s3: Any,
        clock: Clock,
        drfc_dir: Path = DEFAULT_DRFC_DIR,
        shutdown_command: Sequence[str] = ("shutdown", "-h", "now"),
        reboot_command: Sequence[str] = ("shutdown", "-r", "now"),
        reboot_wait_seconds: float = 300.0,
        command_timeout_seconds: float = 3600.0,
        container_start_seconds: float = 600.0,
        upload_wait_seconds: float = 90.0,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.s3 = s3
        self.clock = clock
        self.drfc_dir = Path(drfc_dir)
        self.shutdown_command = tuple(shutdown_command)
        self.reboot_command = tuple(reboot_command)
        self.reboot_wait_seconds = reboot_wait_seconds
        self.command_timeout_seconds = command_timeout_seconds
        self.container_start_seconds = container_start_seconds
        self.upload_wait_seconds = upload_wait_seconds
        self.env = dict(env) if env is not None else None
        self._lock = threading.Lock()
        self._spec: RunSpec | None = None
        self._started_at: float | None = None
        self._seen_running: dict[str, str] = {}  # container name -> role, once seen up
        self._stopped = False

    # -- DrfcBackend ------------------------------------------------------------------------

    def setup(self, spec: RunSpec) -> None:
        self._spec = spec
        run_settings = drfc_settings.run_settings(spec)
        system_settings = drfc_settings.system_settings(spec)
        self._install_if_needed(system_settings)
        if self._stopped:  # rebooting to finish the install; the agent starts again after it
            return
        self._write_env("system.env", system_settings)
        self._write_env("run.env", run_settings)
        self._pull_simapp(system_settings)
        self._fetch_custom_files(spec)

    def start(self, spec: RunSpec) -> None:
        with self._lock:
            if self._stopped:
                return
            if spec.mode is Mode.TRAIN:
                model = ModelKeys(spec.model_prefix)
                if s3objects.exists(self.s3, spec.bucket, model.checkpoints_json):
                    raise HostError(
                        f"model prefix s3://{spec.bucket}/{spec.model_prefix} already holds checkpoints; "
                        "a segment trains into a new, empty prefix (refusing to wipe it)"
                    )
                self._dr("dr-start-training -w -q")
            else:
                # each evaluation leg (track, direction) brings its own run.env; the simulator of
                # the leg before has exited
                self._spec = spec
                self._seen_running = {}
                self._write_env("run.env", drfc_settings.run_settings(spec))
                self._dr("dr-start-evaluation -q")
            self._started_at = self.clock.now()

    def poll(self) -> WorkProgress:
        spec = self._require_spec()
        with self._lock:
            if self._stopped:
                return WorkProgress(WorkState.DONE, "stopped")
        containers = [c for c in self._containers() if c.role is not None]
        for container in containers:
            if container.running:
                self._seen_running[container.name] = container.role or ""
        running = {c.name for c in containers if c.running}
        gone = [name for name in self._seen_running if name not in running]
        if spec.mode is Mode.TRAIN:
            if s3objects.exists(self.s3, spec.bucket, ModelKeys(spec.model_prefix).finished_marker):
                return WorkProgress(WorkState.DONE, "training finished (model/.finished written)")
            if gone:
                return WorkProgress(WorkState.DEAD, self._describe_gone(gone, containers))
            wanted = {"simulator", "trainer"}
        else:
            if gone and self._evaluation_written(spec):
                return WorkProgress(
                    WorkState.DONE, "evaluation finished: the simulator exited after its trials"
                )
            if gone:
                return WorkProgress(WorkState.DEAD, self._describe_gone(gone, containers))
            wanted = {"simulator"}
        missing = wanted - {c.role for c in containers if c.running}
        started_at = self._started_at if self._started_at is not None else self.clock.now()
        if missing and self.clock.now() - started_at > self.container_start_seconds:
            limit = f"{self.container_start_seconds:.0f} s"
            return WorkProgress(
                WorkState.DEAD,
                f"the DRFC {', '.join(sorted(missing))} container did not start within {limit}",
            )
        return WorkProgress(WorkState.RUNNING)

    def save_latest_checkpoint(self) -> str | None:
        spec = self._require_spec()
        model = ModelKeys(spec.model_prefix)
        waited = 0.0
        while s3objects.exists(self.s3, spec.bucket, model.lock_marker) and waited < self.upload_wait_seconds:
            self.clock.sleep(1.0)
            waited += 1.0
        name = s3objects.checkpoint_named(self.s3, spec.bucket, model, "last")
        if name is not None and not s3objects.checkpoint_is_complete(self.s3, spec.bucket, model, name):
            raise HostError(f"checkpoint {name} under s3://{spec.bucket}/{spec.model_prefix} is incomplete")
        return name

    def stop(self) -> None:
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            if self._started_at is None or self._spec is None:
                return
            self._dr("dr-stop-training" if self._spec.mode is Mode.TRAIN else "dr-stop-evaluation")

    def shutdown(self) -> None:
        self._run(list(self.shutdown_command), " ".join(self.shutdown_command), in_drfc_dir=False)

    # -- setup steps ------------------------------------------------------------------------

    def _install_if_needed(self, system_settings: Mapping[str, str]) -> None:
        bin_dir = self.drfc_dir / "bin"
        if not (bin_dir / "activate.sh").is_file() or not (bin_dir / "init.sh").is_file():
            raise DrfcMissing(
                f"DeepRacer-for-Cloud not found in {self.drfc_dir}: no bin/activate.sh and bin/init.sh "
                "(the user data clones it at a pinned version; see /var/log/pitwall-bootstrap.log)"
            )
        if (self.drfc_dir / "run.env").is_file() and (self.drfc_dir / "system.env").is_file():
            return
        if not (self.drfc_dir / PREPARED_MARKER).is_file():
            self._run(["bash", "bin/prepare.sh"], "bin/prepare.sh")
            (self.drfc_dir / PREPARED_MARKER).write_text("bin/prepare.sh done; reboot requested\n")
            self._reboot()
            return
        architecture = (
            "cpu" if system_settings.get(drfc_settings.SIMAPP_VERSION, "").endswith("-cpu") else "gpu"
        )
        self._run(
            ["bash", "bin/init.sh", "-c", "aws", "-a", architecture], f"bin/init.sh -c aws -a {architecture}"
        )

    def _reboot(self) -> None:
        """Reboot to load the drivers bin/prepare.sh installed, and wait to be stopped by it."""
        label = " ".join(self.reboot_command)
        self._run(list(self.reboot_command), label, in_drfc_dir=False)
        waited = 0.0
        while not self._stopped and waited < self.reboot_wait_seconds:
            self.clock.sleep(1.0)
            waited += 1.0
        if not self._stopped:
            raise HostError(
                f"bin/prepare.sh needs a reboot; `{label}` was run but the instance did not reboot "
                f"within {self.reboot_wait_seconds:.0f} s"
            )

    def _write_env(self, name: str, settings: Mapping[str, str]) -> None:
        path = self.drfc_dir / name
        existing = path.read_text() if path.is_file() else ""
        path.write_text(drfc_settings.render_env(existing, settings))

    def _pull_simapp(self, system_settings: Mapping[str, str]) -> None:
        version = system_settings.get(drfc_settings.SIMAPP_VERSION)
        if not version:
            raise HostError(
                f"run spec: system_settings.{drfc_settings.SIMAPP_VERSION} is missing; "
                "allowed: a pinned simapp image tag, e.g. 5.3.3-gpu"
            )
        image = f"{system_settings.get(drfc_settings.SIMAPP_SOURCE, DEFAULT_SIMAPP_SOURCE)}:{version}"
        self._run(["docker", "pull", "-q", image], f"docker pull -q {image}")

    def _fetch_custom_files(self, spec: RunSpec) -> None:
        folder = self.drfc_dir / "custom_files"
        folder.mkdir(exist_ok=True)
        source_keys = drfc_settings.custom_file_keys(spec)
        for name, key in source_keys.items():
            body = s3objects.read_bytes(self.s3, spec.bucket, key)
            if body is None:
                raise HostError(f"custom file {name} missing at s3://{spec.bucket}/{key}")
            (folder / name).write_bytes(body)
        target_prefix = drfc_settings.custom_files_prefix(spec)
        if any(key != f"{target_prefix}/{name}" for name, key in source_keys.items()):
            self._dr("dr-upload-custom-files")

    # -- watching ---------------------------------------------------------------------------

    def _containers(self) -> list[Container]:
        output = self._run(
            ["docker", "ps", "-a", "--format", "{{.Names}}\t{{.Status}}"], "docker ps -a", in_drfc_dir=False
        )
        containers = []
        for line in output.splitlines():
            name, _, status = line.partition("\t")
            if name.strip():
                containers.append(Container(name.strip(), status.strip()))
        return containers

    def _describe_gone(self, gone: list[str], containers: list[Container]) -> str:
        status = {c.name: c.status for c in containers}
        parts = [
            f"{name} ({self._seen_running[name]}): {status.get(name, 'removed')}" for name in sorted(gone)
        ]
        return "DRFC container died: " + "; ".join(parts)

    def _evaluation_written(self, spec: RunSpec) -> bool:
        folder = ModelKeys(spec.model_prefix).evaluation_metrics_folder
        started = self._started_at or 0.0
        answer = self.s3.list_objects_v2(Bucket=spec.bucket, Prefix=folder)
        return any(item["LastModified"].timestamp() >= started - 1 for item in answer.get("Contents", []))

    # -- commands ---------------------------------------------------------------------------

    def _dr(self, command: str) -> str:
        """Run a DRFC command in a shell that has sourced bin/activate.sh."""
        return self._run(["bash", "-c", f"source bin/activate.sh >/dev/null && {command}"], command)

    def _run(self, argv: list[str], label: str, in_drfc_dir: bool = True) -> str:
        directory = self.drfc_dir if in_drfc_dir else None
        environment = {**os.environ, **self.env} if self.env is not None else None
        try:
            # bandit: DRFC's own scripts and docker, arguments from the checked run spec, no shell
            result = subprocess.run(  # nosec B603
                argv,
                cwd=directory,
                env=environment,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=self.command_timeout_seconds,
                check=False,
            )
        except FileNotFoundError as exc:
            raise DrfcCommandFailed(label, 127, f"{shlex.quote(argv[0])}: command not found") from exc
        except subprocess.TimeoutExpired as exc:
            output = exc.output if isinstance(exc.output, str) else ""
            raise DrfcCommandFailed(
                label, -1, _tail(output) + f"\n(timed out after {exc.timeout:.0f} s)"
            ) from exc
        if result.returncode != 0:
            raise DrfcCommandFailed(label, result.returncode, _tail(result.stdout))
        return result.stdout

    def _require_spec(self) -> RunSpec:
        if self._spec is None:
            raise HostError("the DRFC backend was used before setup()")
        return self._spec


def _tail(output: str) -> str:
    return "\n".join(output.strip().splitlines()[-OUTPUT_TAIL_LINES:])
