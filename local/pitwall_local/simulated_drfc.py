"""The local cloud's DRFC host: writes what DRFC writes, where DRFC writes it, on a clock.

No simulator runs. A seeded, deterministic timeline stands in for it: episodes (the car's
completion % rises with the checkpoint the policy comes from), a policy update, evaluation
episodes, a checkpoint upload, again. `poll()` plays the timeline up to the clock's "now", so
on an accelerated clock a training hour takes seconds, and on a `ManualClock` a test decides
exactly how far it goes. What lands in S3 follows the reference (section 2):

- at start: training_params.yaml, reward_function.py, ip/hyperparameters.json, ip/ip.json,
  ip/done, model/model_metadata.json (evaluation: evaluation_params.yaml);
- at every episode end: metrics/TrainingMetrics.json REWRITTEN with every entry so far (worker
  k > 0: TrainingMetrics_<k>.json);
- every iteration: model/.lock, then the checkpoint's files, model/.coach_checkpoint and
  model/deepracer_checkpoints.json, the last 4 checkpoints kept plus the best, .lock removed;
- at the training's end condition (hyperparameters' term_cond_max_episodes): model/.finished;
- evaluation: metrics/evaluation/evaluation-<YYYYmmddHHMMSS>.json rewritten after each trial.

An increment continues from its pretrained source's checkpoint: the numbering and the learning
curve go on from there, and the source's model/.coach_checkpoint is rewritten, as the simapp does.

Fault hooks for the fault suite: `SimulatedFaults` (or `crash()` / `freeze()` at any moment).
"""

from __future__ import annotations

import json
import math
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pitwall.clock import Clock
from pitwall.host import drfc_settings, s3objects
from pitwall.host.backend import WorkProgress, WorkState
from pitwall.host.errors import HostError, InvalidRunSpec
from pitwall.host.protocol import Mode, RunSpec
from pitwall.layout import (
    HYPERPARAMETERS_FILE,
    MODEL_METADATA_FILE,
    REWARD_FUNCTION_FILE,
    ModelKeys,
    checkpoint_number,
)

KEPT_CHECKPOINTS = 4  # DRFC keeps the last 4 checkpoints, plus the best
FAILED_EPISODE_STATUSES = ("Off track",) * 6 + ("Crashed", "Immobilized", "Reversed")

Event = tuple[float, Callable[[], None]]


@dataclass(frozen=True)
class SimulatedFaults:
    """Faults to inject (seconds of the backend's clock, counted from the start of the work)."""

    never_boots: bool = False  # setup hangs: DRFC never becomes ready
    crash_after_seconds: float | None = None  # a container dies: poll() reports DEAD
    freeze_after_seconds: float | None = None  # nothing more is written, yet poll() says RUNNING
    upload_seconds: float = 4.0  # how long each checkpoint upload takes (.lock present meanwhile)


@dataclass(frozen=True)
class SimulatedPace:
    """How long things take on the simulated host (seconds of its clock)."""

    boot_seconds: float = 45.0  # setup: images, containers
    reset_seconds: float = 2.0  # between two episodes
    policy_update_seconds: float = 60.0  # the trainer's work between two iterations
    steps_per_second: float = 15.0  # the simulator's step rate
    learning_iterations: float = 10.0  # iterations to reach 63% of the skill the curve allows


class SimulatedDrfc:
    def __init__(
        self,
        *,
        s3: Any,
        clock: Clock,
        seed: int = 0,
        faults: SimulatedFaults | None = None,
        pace: SimulatedPace | None = None,
        on_shutdown: Callable[[], None] | None = None,
    ) -> None:
        self.s3 = s3
        self.clock = clock
        self.seed = seed
        self.faults = faults or SimulatedFaults()
        self.pace = pace or SimulatedPace()
        self._on_shutdown = on_shutdown
        self._lock = threading.RLock()
        self._halted = threading.Event()
        self._spec: RunSpec | None = None
        self._custom_files: dict[str, bytes] = {}
        self._started_at: float | None = None
        self._crash_at: float | None = None
        self._freeze_at: float | None = None
        self._timeline: Iterator[Event] = iter(())
        self._next: Event | None = None
        self._done_detail = ""
        self._upload_ends_at: float | None = None
        self.run_env = ""  # the run.env / system.env DRFC would read, rendered from the spec
        self.system_env = ""
        self.last_checkpoint: str | None = None
        self.shut_down = False

    # -- fault hooks ------------------------------------------------------------------------

    def crash(self) -> None:
        """A container dies now."""
        with self._lock:
            self._crash_at = self.clock.now()

    def freeze(self) -> None:
        """The simulator freezes now: nothing more is written; the containers still look up."""
        with self._lock:
            self._freeze_at = self.clock.now()

    # -- DrfcBackend ------------------------------------------------------------------------

    def setup(self, spec: RunSpec) -> None:
        self._spec = spec
        self.run_env = drfc_settings.render_env("", drfc_settings.run_settings(spec))
        self.system_env = drfc_settings.render_env("", drfc_settings.system_settings(spec))
        drfc_settings.worker_count(spec)
        if self.faults.never_boots:
            self._hang_until_halted_or(spec.deadline_epoch)
            if not self._halted.is_set():
                raise HostError("DRFC never became ready before the run's deadline")
            return
        self._sleep_unless_halted(self.pace.boot_seconds)
        with self._lock:
            if not self._halted.is_set():
                self._custom_files = self._upload_custom_files(spec)

    def start(self, spec: RunSpec) -> None:
        with self._lock:
            if self._halted.is_set():
                return
            self._started_at = self.clock.now()
            if spec.mode is Mode.TRAIN:
                self._timeline = self._start_training(spec, self._started_at)
            else:
                self._timeline = self._start_evaluation(spec, self._started_at)
            self._next = next(self._timeline, None)

    def poll(self) -> WorkProgress:
        with self._lock:
            if self._halted.is_set():
                return WorkProgress(WorkState.DONE, "stopped")
            now = self.clock.now()
            crash_at = self._fault_time(self._crash_at, self.faults.crash_after_seconds)
            freeze_at = self._fault_time(self._freeze_at, self.faults.freeze_after_seconds)
            self._play_until(min(now, crash_at, freeze_at))
            if crash_at <= now:
                return WorkProgress(WorkState.DEAD, "container deepracer-0_robomaker.1 exited with code 139")
            if self._next is None and freeze_at > now:
                return WorkProgress(WorkState.DONE, self._done_detail)
            return WorkProgress(WorkState.RUNNING)

    def save_latest_checkpoint(self) -> str | None:
        with self._lock:
            now = self.clock.now()
            crash_at = self._fault_time(self._crash_at, self.faults.crash_after_seconds)
            freeze_at = self._fault_time(self._freeze_at, self.faults.freeze_after_seconds)
            stuck = min(crash_at, freeze_at) <= now
            self._play_until(min(now, crash_at, freeze_at))
            upload_ends_at = None if stuck else self._upload_ends_at
        if upload_ends_at is not None:  # let the upload under way finish, as the trainer would
            self._sleep_unless_halted(upload_ends_at - self.clock.now())
            with self._lock:
                self._play_until(upload_ends_at)
        with self._lock:
            return self.last_checkpoint

    def stop(self) -> None:
        with self._lock:  # waits for a write under way; nothing is written after this returns
            self._halted.set()

    def shutdown(self) -> None:
        self.stop()
        self.shut_down = True
        if self._on_shutdown is not None:
            self._on_shutdown()

    # -- setup ------------------------------------------------------------------------------

    def _upload_custom_files(self, spec: RunSpec) -> dict[str, bytes]:
        """dr-upload-custom-files: the run's custom files, copied to DR_LOCAL_S3_CUSTOM_FILES_PREFIX
        when that is elsewhere."""
        target_prefix = drfc_settings.custom_files_prefix(spec)
        files = {}
        for name, key in drfc_settings.custom_file_keys(spec).items():
            body = s3objects.read_bytes(self.s3, spec.bucket, key)
            if body is None:
                raise HostError(f"dr-upload-custom-files: no {name} at s3://{spec.bucket}/{key}")
            target = f"{target_prefix}/{name}"
            if target != key:
                s3objects.write_bytes(self.s3, spec.bucket, target, body, _content_type(name))
            files[name] = body
        return files

    # -- training ---------------------------------------------------------------------------

    def _start_training(self, spec: RunSpec, t0: float) -> Iterator[Event]:
        settings = drfc_settings.run_settings(spec)
        model = ModelKeys(spec.model_prefix)
        hyper = self._hyperparameters()
        plan = _TrainingPlan(
            workers=drfc_settings.worker_count(spec),
            episodes_per_iteration=_int(hyper, "num_episodes_between_training", 20, HYPERPARAMETERS_FILE),
            max_episodes=_int(hyper, "term_cond_max_episodes", 0, HYPERPARAMETERS_FILE),
            eval_trials=_int(settings, "DR_TRAIN_MIN_EVAL_TRIALS", 5, "run_settings"),
            best_metric=settings.get("DR_TRAIN_BEST_MODEL_METRIC", "progress"),
        )
        if plan.best_metric not in ("progress", "reward"):
            raise InvalidRunSpec(
                f"run_settings.DR_TRAIN_BEST_MODEL_METRIC is {plan.best_metric!r}; allowed: progress, reward"
            )
        number, steps = self._continue_from_pretrained(spec, settings)
        self._write_training_files(spec, settings, model)
        return self._training_timeline(spec, model, plan, t0, number, steps)

    def _continue_from_pretrained(self, spec: RunSpec, settings: Mapping[str, str]) -> tuple[int, int]:
        """The checkpoint number and step count to continue from (0, 0 for a new model)."""
        if not spec.pretrained_prefix:
            return 0, 0
        which = settings.get(drfc_settings.PRETRAINED_CHECKPOINT) or "best"
        if which not in ("last", "best"):
            raise InvalidRunSpec(
                f"run_settings.{drfc_settings.PRETRAINED_CHECKPOINT} is {which!r}; allowed: last, best"
            )
        source = ModelKeys(spec.pretrained_prefix)
        name = s3objects.checkpoint_named(self.s3, spec.bucket, source, which)
        if name is None or not s3objects.checkpoint_is_complete(self.s3, spec.bucket, source, name):
            raise HostError(
                f"pretrained model s3://{spec.bucket}/{spec.pretrained_prefix}: "
                f"no complete {which} checkpoint (read {source.checkpoints_json})"
            )
        s3objects.write_text(self.s3, spec.bucket, source.coach_checkpoint, name)
        return checkpoint_number(name), int(name.split("_Step-")[1].split(".")[0])

    def _write_training_files(self, spec: RunSpec, settings: Mapping[str, str], model: ModelKeys) -> None:
        bucket = spec.bucket
        files = self._custom_files
        s3objects.write_bytes(
            self.s3, bucket, model.reward_function, files[REWARD_FUNCTION_FILE], "text/x-python"
        )
        s3objects.write_bytes(
            self.s3, bucket, model.ip_hyperparameters, files[HYPERPARAMETERS_FILE], "application/json"
        )
        s3objects.write_bytes(
            self.s3, bucket, model.model_metadata, files[MODEL_METADATA_FILE], "application/json"
        )
        s3objects.write_text(
            self.s3, bucket, model.training_params, _yaml(_params(spec, settings, "TRAINING"))
        )
        s3objects.write_json(self.s3, bucket, f"{spec.model_prefix}/ip/ip.json", {"IP": "10.0.1.17"})
        s3objects.write_text(self.s3, bucket, f"{spec.model_prefix}/ip/done", "")

    def _training_timeline(
        self, spec: RunSpec, model: ModelKeys, plan: _TrainingPlan, t0: float, number: int, steps: int
    ) -> Iterator[Event]:
        rng = random.Random(f"{self.seed}/{spec.run_id}/{spec.segment}")
        metrics: list[list[dict[str, Any]]] = [[] for _ in range(plan.workers)]
        episodes = [0] * plan.workers
        kept: list[str] = []
        best: dict[str, Any] | None = None
        trained = 0
        t = t0
        while True:
            skill = self._skill(number)
            # rollouts: the workers share the iteration's episodes and play them side by side
            ends: list[tuple[float, int, dict[str, Any]]] = []
            cursor = [t] * plan.workers
            for index in range(plan.episodes_per_iteration):
                worker = index % plan.workers
                episodes[worker] += 1
                entry, seconds = self._episode(
                    rng, skill, cursor[worker], episodes[worker], index // plan.workers + 1
                )
                cursor[worker] += seconds + self.pace.reset_seconds
                steps += int(seconds * self.pace.steps_per_second)
                ends.append((cursor[worker] - self.pace.reset_seconds, worker, entry))
            for end, worker, entry in sorted(ends, key=lambda item: item[0]):
                yield end, self._metrics_writer(spec, model, metrics, worker, entry, plan.best_metric)
            trained += plan.episodes_per_iteration
            t = max(cursor) + self.pace.policy_update_seconds
            number += 1
            # evaluation episodes of the new policy, on worker 0
            skill = self._skill(number)
            scores = []
            for trial in range(1, plan.eval_trials + 1):
                entry, seconds = self._episode(rng, skill, t, episodes[0], trial, phase="evaluation")
                t += seconds
                scores.append(
                    entry["completion_percentage" if plan.best_metric == "progress" else "reward_score"]
                )
                yield t, self._metrics_writer(spec, model, metrics, 0, entry, plan.best_metric)
                t += self.pace.reset_seconds
            # the checkpoint upload
            name = f"{number}_Step-{steps}.ckpt"
            record = {"name": name, "time_stamp": t, "avg_eval_metric": sum(scores) / max(len(scores), 1)}
            if best is None or record["avg_eval_metric"] > best["avg_eval_metric"]:
                best = record
            upload_ends = t + self.faults.upload_seconds
            yield t, self._upload_begins(spec, model, upload_ends)
            kept = [*kept, name]
            keep = set(kept[-KEPT_CHECKPOINTS:]) | {best["name"]}
            removed = [old for old in kept if old not in keep]
            kept = [old for old in kept if old in keep]
            yield upload_ends, self._upload_ends(spec, model, record, best, removed)
            t = upload_ends
            if plan.max_episodes and trained >= plan.max_episodes:
                self._done_detail = (
                    f"training reached {trained} episodes (term_cond_max_episodes); last {name}"
                )
                yield t, lambda: s3objects.write_text(self.s3, spec.bucket, model.finished_marker, "")
                return

    def _skill(self, checkpoint: int) -> float:
        """How well the policy of checkpoint N drives: 0 untrained, towards 1."""
        return 1.0 - math.exp(-checkpoint / self.pace.learning_iterations)

    def _episode(
        self,
        rng: random.Random,
        skill: float,
        start: float,
        episode: int,
        trial: int,
        phase: str = "training",
    ) -> tuple[dict[str, Any], float]:
        mean = 12.0 + 88.0 * skill
        completion = int(min(100.0, max(1.0, rng.gauss(mean, 14.0))))
        status = "Lap complete" if completion >= 100 else rng.choice(FAILED_EPISODE_STATUSES)
        lap_seconds = 19.0 - 7.0 * skill
        seconds = max(0.5, lap_seconds * completion / 100.0 * rng.uniform(0.95, 1.05))
        entry = {
            "reward_score": int(completion * (0.8 + skill) + rng.uniform(0.0, 5.0)),
            "metric_time": int((start + seconds) * 1000),
            "start_time": int(start * 1000),
            "elapsed_time_in_milliseconds": int(seconds * 1000),
            "episode": episode,
            "trial": trial,
            "phase": phase,
            "completion_percentage": completion,
            "episode_status": status,
        }
        return entry, seconds

    def _metrics_writer(
        self,
        spec: RunSpec,
        model: ModelKeys,
        metrics: list[list[dict[str, Any]]],
        worker: int,
        entry: dict[str, Any],
        best_metric: str,
    ) -> Callable[[], None]:
        def write() -> None:
            metrics[worker].append(entry)
            document = {"metrics": metrics[worker], "version": 2.0, "best_model_metric": best_metric}
            s3objects.write_json(self.s3, spec.bucket, model.training_metrics(worker), document)

        return write

    def _upload_begins(self, spec: RunSpec, model: ModelKeys, ends_at: float) -> Callable[[], None]:
        def begin() -> None:
            self._upload_ends_at = ends_at
            s3objects.write_text(self.s3, spec.bucket, model.lock_marker, "")

        return begin

    def _upload_ends(
        self,
        spec: RunSpec,
        model: ModelKeys,
        record: dict[str, Any],
        best: dict[str, Any],
        removed: list[str],
    ) -> Callable[[], None]:
        def end() -> None:
            bucket, name = spec.bucket, record["name"]
            for key in model.checkpoint_files(name):
                s3objects.write_bytes(
                    self.s3, bucket, key, f"simulated {key}\n".encode(), "application/octet-stream"
                )
            s3objects.write_text(self.s3, bucket, model.coach_checkpoint, name)
            s3objects.write_json(
                self.s3, bucket, model.checkpoints_json, {"best_checkpoint": best, "last_checkpoint": record}
            )
            for old in removed:
                for key in model.checkpoint_files(old):
                    s3objects.delete(self.s3, bucket, key)
            s3objects.delete(self.s3, bucket, model.lock_marker)
            self._upload_ends_at = None
            self.last_checkpoint = name

        return end

    # -- evaluation -------------------------------------------------------------------------

    def _start_evaluation(self, spec: RunSpec, t0: float) -> Iterator[Event]:
        settings = drfc_settings.run_settings(spec)
        model = ModelKeys(spec.model_prefix)
        which = settings.get("DR_EVAL_CHECKPOINT") or "last"
        if which not in ("last", "best"):
            raise InvalidRunSpec(f"run_settings.DR_EVAL_CHECKPOINT is {which!r}; allowed: last, best")
        name = s3objects.checkpoint_named(self.s3, spec.bucket, model, which)
        if name is None or not s3objects.checkpoint_is_complete(self.s3, spec.bucket, model, name):
            raise HostError(
                f"evaluation: model s3://{spec.bucket}/{spec.model_prefix} has no complete {which} checkpoint"
            )
        s3objects.write_text(
            self.s3, spec.bucket, model.evaluation_params, _yaml(_params(spec, settings, "EVALUATION"))
        )
        return self._evaluation_timeline(spec, settings, model, name, t0)

    def _evaluation_timeline(
        self, spec: RunSpec, settings: Mapping[str, str], model: ModelKeys, checkpoint: str, t0: float
    ) -> Iterator[Event]:
        rng = random.Random(f"{self.seed}/{spec.run_id}/{spec.segment}/evaluation")
        trials = _int(settings, "DR_EVAL_NUMBER_OF_TRIALS", 3, "run_settings", minimum=1)
        max_resets = _int(settings, "DR_EVAL_MAX_RESETS", 100, "run_settings")
        continuous = settings.get("DR_EVAL_IS_CONTINUOUS", "False").lower() == "true"
        penalty = _float(settings, "DR_EVAL_OFF_TRACK_PENALTY", 5.0, "run_settings")
        skill = self._skill(checkpoint_number(checkpoint))
        key = model.evaluation_metrics(time.strftime("%Y%m%d%H%M%S", time.gmtime(t0)))
        entries: list[dict[str, Any]] = []
        t = t0
        for trial in range(1, trials + 1):
            entry, seconds = self._trial(rng, skill, t, trial, continuous, max_resets, penalty)
            t += seconds
            entries = [*entries, entry]
            yield t, self._evaluation_writer(spec.bucket, key, entries)
            t += self.pace.reset_seconds
        self._done_detail = f"evaluation of {checkpoint}: {trials} trials written to {key}"

    def _trial(
        self,
        rng: random.Random,
        skill: float,
        start: float,
        trial: int,
        continuous: bool,
        max_resets: int,
        penalty: float,
    ) -> tuple[dict[str, Any], float]:
        lap_seconds = (19.0 - 7.0 * skill) * rng.uniform(0.97, 1.03)
        counts = {"off_track_count": 0, "crash_count": 0, "immobilized_count": 0, "reversed_count": 0}
        completion, seconds, status = 0.0, 0.0, "In progress"
        while True:
            reach = min(100.0, max(1.0, rng.gauss(15.0 + 100.0 * skill, 20.0)))
            gained = min(reach, 100.0 - completion)
            completion += gained
            seconds += lap_seconds * gained / 100.0
            if completion >= 100.0:
                status = "Lap complete"
                break
            status = rng.choice(FAILED_EPISODE_STATUSES)
            counts[_COUNT_OF_STATUS[status]] += 1
            resets = sum(counts.values())
            if not continuous or resets > max_resets:
                break
            seconds += penalty
        entry = {
            "completion_percentage": int(completion),
            "elapsed_time_in_milliseconds": int(seconds * 1000),
            "episode_status": status,
            "trial": trial,
            "reset_count": sum(counts.values()),
            **counts,
            "metric_time": int((start + seconds) * 1000),
            "start_time": int(start * 1000),
        }
        return entry, seconds

    def _evaluation_writer(self, bucket: str, key: str, entries: list[dict[str, Any]]) -> Callable[[], None]:
        return lambda: s3objects.write_json(self.s3, bucket, key, {"metrics": entries})

    # -- the clock --------------------------------------------------------------------------

    def _play_until(self, limit: float) -> None:
        while self._next is not None and self._next[0] <= limit and not self._halted.is_set():
            self._next[1]()
            self._next = next(self._timeline, None)

    def _fault_time(self, injected: float | None, after_start: float | None) -> float:
        times = [math.inf]
        if injected is not None:
            times.append(injected)
        if after_start is not None and self._started_at is not None:
            times.append(self._started_at + after_start)
        return min(times)

    def _sleep_unless_halted(self, seconds: float) -> None:
        remaining = seconds
        while remaining > 0 and not self._halted.is_set():
            chunk = min(remaining, 1.0)
            self.clock.sleep(chunk)
            remaining -= chunk

    def _hang_until_halted_or(self, deadline: float) -> None:
        """Wait (in real time, so a ManualClock does not spin) until stopped or the deadline."""
        while not self._halted.wait(0.02):
            if self.clock.now() >= deadline:
                return

    def _hyperparameters(self) -> dict[str, Any]:
        try:
            document = json.loads(self._custom_files[HYPERPARAMETERS_FILE])
        except (KeyError, ValueError) as exc:
            raise HostError(f"{HYPERPARAMETERS_FILE}: not readable JSON ({exc})") from exc
        if not isinstance(document, dict):
            raise HostError(f"{HYPERPARAMETERS_FILE}: expected a JSON object")
        return document


_COUNT_OF_STATUS = {
    "Off track": "off_track_count",
    "Crashed": "crash_count",
    "Immobilized": "immobilized_count",
    "Reversed": "reversed_count",
}


@dataclass(frozen=True)
class _TrainingPlan:
    workers: int
    episodes_per_iteration: int
    max_episodes: int  # 0: no end condition; the run's deadline or a stop ends it
    eval_trials: int
    best_metric: str


def _int(source: Mapping[str, Any], name: str, default: int, where: str, minimum: int = 0) -> int:
    raw = source.get(name, default)
    try:
        value = int(raw)
    except (TypeError, ValueError):
        value = minimum - 1
    if value < minimum:
        raise InvalidRunSpec(f"{where}.{name} is {raw!r}; allowed: an integer >= {minimum}")
    return value


def _float(source: Mapping[str, Any], name: str, default: float, where: str) -> float:
    raw = source.get(name, default)
    try:
        return float(raw)
    except (TypeError, ValueError) as exc:
        raise InvalidRunSpec(f"{where}.{name} is {raw!r}; allowed: a number") from exc


def _params(spec: RunSpec, settings: Mapping[str, str], job: str) -> dict[str, str]:
    """The parameters file DRFC writes for the simapp (training_params / evaluation_params)."""
    model = ModelKeys(spec.model_prefix)
    params = {
        "AWS_REGION": spec.region,
        "JOB_TYPE": job,
        "WORLD_NAME": settings.get("DR_WORLD_NAME", ""),
        "RACE_TYPE": settings.get("DR_RACE_TYPE", "TIME_TRIAL"),
        "CAR_NAME": settings.get("DR_CAR_NAME", "FastCar"),
        "MODEL_S3_BUCKET": spec.bucket,
        "MODEL_S3_PREFIX": spec.model_prefix,
        "SAGEMAKER_SHARED_S3_BUCKET": spec.bucket,
        "SAGEMAKER_SHARED_S3_PREFIX": spec.model_prefix,
        "METRICS_S3_BUCKET": spec.bucket,
        "METRICS_S3_OBJECT_KEY": model.training_metrics()
        if job == "TRAINING"
        else model.evaluation_metrics_folder,
        "MODEL_METADATA_FILE_S3_KEY": model.model_metadata,
        "REWARD_FILE_S3_KEY": model.reward_function,
        "REVERSE_DIR": settings.get(
            "DR_TRAIN_REVERSE_DIRECTION" if job == "TRAINING" else "DR_EVAL_REVERSE_DIRECTION", "False"
        ),
    }
    if job == "TRAINING":
        params["MIN_EVAL_TRIALS"] = settings.get("DR_TRAIN_MIN_EVAL_TRIALS", "5")
        params["BEST_MODEL_METRIC"] = settings.get("DR_TRAIN_BEST_MODEL_METRIC", "progress")
    else:
        params["NUMBER_OF_TRIALS"] = settings.get("DR_EVAL_NUMBER_OF_TRIALS", "3")
        params["EVAL_CHECKPOINT"] = settings.get("DR_EVAL_CHECKPOINT", "last")
    return params


def _yaml(params: Mapping[str, str]) -> str:
    """A flat YAML mapping; values as JSON strings, which YAML reads as strings."""
    return "".join(f"{name}: {json.dumps(str(value))}\n" for name, value in params.items())


def _content_type(name: str) -> str:
    return "application/json" if name.endswith(".json") else "text/x-python"
